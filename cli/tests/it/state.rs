//! State commands: list, show, rm, mv, locking and force-unlock.

use std::time::Duration;

use mlinfra_engine::store::StateStore;
use serde_json::Value;

use crate::mlinfra;
use crate::plan::applied_lifecycle;

fn state(dir: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("mlinfra.state.json")).unwrap()).unwrap()
}

#[test]
fn list_and_show_read_the_state() {
    let dir = applied_lifecycle();
    let r = mlinfra(dir.path(), &["state", "list"]);
    assert_eq!(r.stdout, "bucket.logs[0]\ncluster.train\ngpu_pool.h100\n");
    let r = mlinfra(dir.path(), &["state", "list", "bucket.logs"]);
    assert_eq!(r.stdout, "bucket.logs[0]\n");
    let r = mlinfra(dir.path(), &["state", "show", "gpu_pool.h100"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("accelerator   = \"H100\""),
        "{}",
        r.stdout
    );
    let r = mlinfra(dir.path(), &["state", "show", "gpu_pool.nope"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("gpu_pool.nope is not in the state"));
    let r = mlinfra(dir.path(), &["output"]);
    assert_eq!(r.stdout, "pool = \"h100\"\n");
}

#[test]
fn rm_forgets_a_resource_bumps_the_serial_and_keeps_a_backup() {
    let dir = applied_lifecycle();
    let r = mlinfra(dir.path(), &["state", "rm", "bucket.logs"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Removed bucket.logs[0]"));
    let s = state(dir.path());
    assert_eq!(s["serial"], 8);
    assert_eq!(s["resources"].as_array().unwrap().len(), 2);
    let backup: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("mlinfra.state.json.backup")).unwrap(),
    )
    .unwrap();
    assert_eq!(backup["serial"], 7);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("mlinfra.state.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // The next plan wants to create it again.
    let r = mlinfra(dir.path(), &["plan", "--refresh=false"]);
    assert!(
        r.stdout.contains("# bucket.logs[0] will be created"),
        "{}",
        r.stdout
    );
}

#[test]
fn mv_renames_and_refuses_an_occupied_destination() {
    let dir = applied_lifecycle();
    let r = mlinfra(
        dir.path(),
        &["state", "mv", "gpu_pool.h100", "gpu_pool.h100-spot"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = mlinfra(dir.path(), &["state", "list"]);
    assert!(r.stdout.contains("gpu_pool.h100-spot\n"));
    let r = mlinfra(
        dir.path(),
        &["state", "mv", "gpu_pool.h100-spot", "cluster.train"],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("the kinds differ"), "{}", r.stderr);
    let r = mlinfra(
        dir.path(),
        &["state", "mv", "bucket.logs", "bucket.archive"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("Moved bucket.logs[0] to bucket.archive[0]"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_held_lock_blocks_state_changes_and_names_its_holder() {
    let dir = applied_lifecycle();
    let store = StateStore::local(dir.path().join("mlinfra.state.json"));
    let lock = store.lock("apply", Duration::ZERO).unwrap();
    let r = mlinfra(dir.path(), &["state", "rm", "bucket.logs"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is locked by"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("(pid {})", std::process::id())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("`apply`"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("mlinfra force-unlock {}", lock.info.id)),
        "{}",
        r.stderr
    );
    // A live holder cannot be force-unlocked.
    let r = mlinfra(dir.path(), &["force-unlock", &lock.info.id]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("held by a running process"),
        "{}",
        r.stderr
    );
    let s = state(dir.path());
    assert_eq!(s["serial"], 7, "a refused command changes nothing");
    drop(lock);
    let r = mlinfra(dir.path(), &["state", "rm", "bucket.logs"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn force_unlock_removes_a_lock_left_by_a_dead_process() {
    let dir = applied_lifecycle();
    let info = serde_json::json!({
        "id": "dead-lock-1", "pid": 999999, "host": "ci", "user": "ci",
        "operation": "apply", "created": 1795000000u64, "path": "mlinfra.state.json"
    });
    std::fs::write(dir.path().join("mlinfra.state.json.lock"), info.to_string()).unwrap();
    let r = mlinfra(dir.path(), &["force-unlock", "wrong-id"]);
    assert_eq!(r.code, 1);
    let r = mlinfra(dir.path(), &["force-unlock", "dead-lock-1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!dir.path().join("mlinfra.state.json.lock").exists());
}

#[test]
fn foreign_or_corrupt_state_is_refused() {
    let dir = applied_lifecycle();
    std::fs::write(dir.path().join("mlinfra.state.json"), "{ not json").unwrap();
    let r = mlinfra(dir.path(), &["plan", "--refresh=false"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("is not a valid mlinfra state file"),
        "{}",
        r.stderr
    );
}
