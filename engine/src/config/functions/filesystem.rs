//! Filesystem functions: abspath, basename, dirname, pathexpand, fileexists, fileset,
//! filebase64, filemd5, filesha1, filesha256. Relative paths start at the module's
//! directory, as `file` does.

use std::path::{Component, Path, PathBuf};

use mlinfra_schema::Value;

use super::*;

/// The most files `fileset` lists, and the deepest it looks.
const FILESET_LIMIT: usize = 10_000;
const FILESET_DEPTH: usize = 32;

pub(super) const FUNCTIONS: &[(&str, &str, Func)] = &[
    ("abspath", "abspath(path)", |a, _| {
        arity(a, 1)?;
        let p = PathBuf::from(string(a, 0)?);
        let abs = if p.is_absolute() {
            p
        } else {
            std::env::current_dir()
                .map_err(|e| format!("the current directory: {e}"))?
                .join(p)
        };
        Ok(Value::String(slash(&clean(&abs))))
    }),
    ("basename", "basename(path)", |a, _| {
        arity(a, 1)?;
        let p = string(a, 0)?;
        let trimmed = p.trim_end_matches('/');
        Ok(Value::String(if p.is_empty() {
            ".".into()
        } else if trimmed.is_empty() {
            "/".into()
        } else {
            trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
        }))
    }),
    ("dirname", "dirname(path)", |a, _| {
        arity(a, 1)?;
        let p = string(a, 0)?;
        Ok(Value::String(dirname(&p)))
    }),
    ("file", "file(path)", |a, ctx| {
        let p = resolve_path(&string(a, 0)?, ctx);
        read_file(&p).map(Value::String)
    }),
    ("filebase64", "filebase64(path)", |a, ctx| {
        Ok(Value::String(base64_encode(&bytes(a, ctx)?)))
    }),
    ("fileexists", "fileexists(path)", |a, ctx| {
        arity(a, 1)?;
        let p = resolve_path(&string(a, 0)?, ctx);
        match std::fs::metadata(&p) {
            Ok(m) if m.is_file() => Ok(Value::Bool(true)),
            Ok(_) => Err(format!("{} is not a regular file", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Bool(false)),
            Err(e) => Err(format!("{}: {e}", p.display())),
        }
    }),
    ("filemd5", "filemd5(path)", |a, ctx| {
        use md5::Digest;
        Ok(Value::String(super::hashing::hex(&md5::Md5::digest(
            bytes(a, ctx)?,
        ))))
    }),
    ("fileset", "fileset(path, pattern)", |a, ctx| {
        arity(a, 2)?;
        let root = resolve_path(&string(a, 0)?, ctx);
        let pattern = glob(&string(a, 1)?)?;
        let mut out = Vec::new();
        walk(&root, &root, 0, &pattern, &mut out)?;
        out.sort();
        Ok(Value::List(out.into_iter().map(Value::String).collect()))
    }),
    ("filesha1", "filesha1(path)", |a, ctx| {
        use sha1::Digest;
        Ok(Value::String(super::hashing::hex(&sha1::Sha1::digest(
            bytes(a, ctx)?,
        ))))
    }),
    ("filesha256", "filesha256(path)", |a, ctx| {
        use sha2::Digest;
        Ok(Value::String(super::hashing::hex(&sha2::Sha256::digest(
            bytes(a, ctx)?,
        ))))
    }),
    ("pathexpand", "pathexpand(path)", |a, _| {
        arity(a, 1)?;
        let p = string(a, 0)?;
        let home = || std::env::var("HOME").map_err(|_| "HOME is not set".to_string());
        Ok(Value::String(if p == "~" {
            home()?
        } else if let Some(rest) = p.strip_prefix("~/") {
            format!("{}/{rest}", home()?.trim_end_matches('/'))
        } else {
            p
        }))
    }),
];

/// The file's bytes, within the evaluation's file budget.
fn bytes(a: &[Value], ctx: &CallContext) -> Result<Vec<u8>, String> {
    arity(a, 1)?;
    let p = resolve_path(&string(a, 0)?, ctx);
    crate::files::read_bytes_capped(&p, crate::budget::limits().file_bytes)
        .map_err(|e| e.to_string())
}

fn slash(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// `.` and `..` resolved lexically, as Go's `filepath.Clean`.
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// As Go's `filepath.Dir`: everything before the last `/`, cleaned; `.` when there is none.
fn dirname(p: &str) -> String {
    match p.rfind('/') {
        None => ".".into(),
        Some(0) => "/".into(),
        Some(i) => {
            let d = slash(&clean(Path::new(&p[..i])));
            if d.is_empty() {
                ".".into()
            } else {
                d
            }
        }
    }
}

/// A `fileset` pattern as a regex: `*` and `?` within one path part, `**` across parts,
/// `{a,b}` alternatives and `[…]` classes.
fn glob(pattern: &str) -> Result<regex::Regex, String> {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut depth = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                if chars.get(i + 2) == Some(&'/') {
                    re.push_str("(?:.*/)?");
                    i += 3;
                } else {
                    re.push_str(".*");
                    i += 2;
                }
                continue;
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '{' => {
                depth += 1;
                re.push_str("(?:");
            }
            '}' if depth > 0 => {
                depth -= 1;
                re.push(')');
            }
            ',' if depth > 0 => re.push('|'),
            '[' => {
                let end = chars[i..]
                    .iter()
                    .position(|&x| x == ']')
                    .ok_or_else(|| format!("pattern \"{pattern}\" has a [ with no ]"))?;
                let class: String = chars[i + 1..i + end].iter().collect();
                re.push('[');
                re.push_str(&class.replacen('!', "^", 1));
                re.push(']');
                i += end + 1;
                continue;
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    if depth != 0 {
        return Err(format!("pattern \"{pattern}\" has a {{ with no }}"));
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| format!("pattern \"{pattern}\": {e}"))
}

/// Regular files under `dir` (not following links) whose path from `root` matches.
fn walk(
    root: &Path,
    dir: &Path,
    depth: usize,
    pattern: &regex::Regex,
    out: &mut Vec<String>,
) -> Result<(), String> {
    if depth > FILESET_DEPTH {
        return Ok(());
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if depth == 0 && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            walk(root, &path, depth + 1, pattern, out)?;
        } else if kind.is_file() {
            let rel = slash(path.strip_prefix(root).unwrap_or(&path));
            if pattern.is_match(&rel) {
                if out.len() == FILESET_LIMIT {
                    return Err(format!(
                        "more than {FILESET_LIMIT} files match; narrow the pattern"
                    ));
                }
                out.push(rel);
            }
        }
    }
    Ok(())
}
