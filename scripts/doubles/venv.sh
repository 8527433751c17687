# Shared by the doubles' launchers (scripts/doubles/gcp, scripts/doubles/azure): sourced,
# with $DOUBLE set to the double's name for messages.

# ensure_venv VENV REQUIREMENTS...: (re)creates VENV unless its stamp matches the files.
ensure_venv() {
  local venv="$1"; shift
  local stamp
  stamp="$(cat "$@" | python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.mlinfra-stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  mkdir -p "$(dirname "$venv")"
  (
    if command -v flock >/dev/null 2>&1; then flock 9; fi
    if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.mlinfra-stamp" 2>/dev/null)" = "$stamp" ]; then
      exit 0
    fi
    echo "${DOUBLE:-double}: installing its Python packages into $venv (once)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    local args=()
    for r in "$@"; do args+=(-r "$r"); done
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "${args[@]}" >&2
    echo "$stamp" > "$venv/.mlinfra-stamp"
  ) 9>"$venv.lock"
}
