//! CLI tests: run the `mlinfra` binary the way a user does.

mod aws;
mod azure;
mod conditions;
mod console;
mod contract;
mod cost;
mod diagnostics;
mod edges;
mod exclude;
mod files;
mod gcp;
mod identity;
mod limits;
mod plan;
mod policy;
mod refactor;
mod remote_state;
mod sagemaker;
mod saved_plan;
mod secrets;
mod state;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `mlinfra ARGS` in `dir` without colour and without inherited input variables.
pub fn mlinfra(dir: &Path, args: &[&str]) -> Run {
    mlinfra_env(dir, args, &[])
}

pub fn mlinfra_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlinfra"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    for (k, _) in std::env::vars() {
        if k.starts_with("MLINFRA_VAR_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        // An empty value removes the variable.
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().expect("run mlinfra");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// Copy a directory tree into a fresh temporary directory.
pub fn copy_to_temp(src: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(src, dir.path());
    dir
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else if !e.file_name().to_string_lossy().starts_with("mlinfra.state") {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}

/// Replace volatile parts (hashes, lineages, temp paths) for snapshots.
pub fn stable(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        let mut l = line.to_string();
        if let Some(i) = l.find("sha256:") {
            let end = l[i..].find('"').map(|e| i + e).unwrap_or(l.len());
            l.replace_range(i..end, "[HASH]");
        }
        if l.contains("\"lineage\"") {
            l = "    \"lineage\": \"[LINEAGE]\",".to_string();
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// How many resources the state file in `dir` records (0 when there is none yet).
pub fn recorded(dir: &Path) -> usize {
    stored_state(dir).map(|s| s.resources.len()).unwrap_or(0)
}

/// The local state in `dir` as the next run reads it: the snapshot with the journal of a
/// running (or killed) apply replayed.
pub fn stored_state(dir: &Path) -> Option<mlinfra_engine::state::State> {
    mlinfra_engine::store::StateStore::local(dir.join("mlinfra.state.json"))
        .read()
        .ok()
        .flatten()
}

/// Whether the state in `dir` holds the intent of a create that has not finished.
pub fn pending(dir: &Path) -> bool {
    stored_state(dir).is_some_and(|s| !s.pending.is_empty())
}

/// Start `mlinfra apply` in `dir` in the background (with `env`, where an empty value
/// removes the variable), and SIGKILL it once `ready` says so. Answers whether it was
/// killed while it ran (false: it had ended, or `ready` never held within 60 s).
pub fn kill_apply_when(dir: &Path, env: &[(&str, &str)], ready: impl Fn() -> bool) -> bool {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlinfra"));
    cmd.args(["apply", "--auto-approve", "--parallelism", "4"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().unwrap();
    let start = std::time::Instant::now();
    let mut held = false;
    while start.elapsed() < std::time::Duration::from_secs(60) {
        if ready() {
            held = true;
            break;
        }
        if child.try_wait().ok().flatten().is_some() {
            break; // it ended on its own
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let running = child.try_wait().ok().flatten().is_none();
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    held && running
}
