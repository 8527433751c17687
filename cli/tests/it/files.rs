//! Files are never written through a link, and failed writes leave nothing behind.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use crate::mlinfra;

const MANIFEST: &str = "bucket \"b\" {\n  cloud = \"gcp\"\n  name  = \"acme-b\"\n}\n";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("project")).unwrap();
    std::fs::write(dir.path().join("project/main.mlinfra.hcl"), MANIFEST).unwrap();
    std::fs::write(dir.path().join("victim"), "precious\n").unwrap();
    dir
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

#[test]
fn a_linked_lock_file_is_refused_and_the_target_is_untouched() {
    let root = project();
    let p = root.path().join("project");
    symlink("../victim", p.join("mlinfra.state.json.lock")).unwrap();
    for cmd in [
        &["plan"][..],
        &["state", "rm", "bucket.b"],
        &["force-unlock", "x"],
    ] {
        let r = mlinfra(&p, cmd);
        assert_eq!(r.code, 1, "{cmd:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("is a symbolic link (to ../victim)"),
            "{cmd:?}: {}",
            r.stderr
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("victim")).unwrap(),
            "precious\n",
            "{cmd:?} wrote through the link"
        );
    }
}

#[test]
fn a_linked_state_file_is_refused_never_replaced_or_read_as_empty() {
    let root = project();
    let p = root.path().join("project");
    symlink("../victim", p.join("mlinfra.state.json")).unwrap();
    for cmd in [
        &["plan"][..],
        &["apply", "--auto-approve"],
        &["show"],
        &["state", "list"],
    ] {
        let r = mlinfra(&p, cmd);
        assert_eq!(r.code, 1, "{cmd:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("mlinfra.state.json is a symbolic link"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("backend \"local\""), "{}", r.stderr);
    }
    assert!(std::fs::symlink_metadata(p.join("mlinfra.state.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    // A dangling link does not plan everything as new.
    std::fs::remove_file(p.join("mlinfra.state.json")).unwrap();
    symlink("../gone.json", p.join("mlinfra.state.json")).unwrap();
    let r = mlinfra(&p, &["plan"]);
    assert_eq!(r.code, 1);
    assert!(!r.stdout.contains("to add"), "{}", r.stdout);
    assert!(!root.path().join("gone.json").exists());
}

#[test]
fn fmt_recursive_does_not_write_through_links_out_of_the_tree() {
    let root = tempfile::tempdir().unwrap();
    let tree = root.path().join("tree");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let ugly = "bucket \"x\" {\ncloud=\"gcp\"\n}\n";
    std::fs::write(outside.join("far.mlinfra.hcl"), ugly).unwrap();
    std::fs::write(tree.join("sub/near.mlinfra.hcl"), ugly).unwrap();
    symlink(
        outside.join("far.mlinfra.hcl"),
        tree.join("sub/far.mlinfra.hcl"),
    )
    .unwrap();
    symlink(&outside, tree.join("linked-dir")).unwrap();
    symlink(
        tree.join("sub/near.mlinfra.hcl"),
        tree.join("alias.mlinfra.hcl"),
    )
    .unwrap();
    let r = mlinfra(&tree, &["fmt", "--recursive"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        std::fs::read_to_string(outside.join("far.mlinfra.hcl")).unwrap(),
        ugly,
        "the file outside the tree is untouched"
    );
    assert!(r.stderr.contains("skipping"), "{}", r.stderr);
    let near = std::fs::read_to_string(tree.join("sub/near.mlinfra.hcl")).unwrap();
    assert!(near.contains("cloud = \"gcp\""), "{near}");
    assert_eq!(
        r.stdout.matches("near.mlinfra.hcl").count()
            + r.stdout.matches("alias.mlinfra.hcl").count(),
        1,
        "a link inside the tree and its target are formatted once: {}",
        r.stdout
    );
    assert!(std::fs::symlink_metadata(tree.join("alias.mlinfra.hcl"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn a_write_that_fails_midway_leaves_no_temporary_file() {
    let root = project();
    let p = root.path().join("project");
    // A file size limit makes the write of the saved plan fail after its temporary file
    // was created (EFBIG, as a full disk gives ENOSPC).
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 1; exec '{}' plan -out=plan.json",
            env!("CARGO_BIN_EXE_mlinfra")
        ))
        .current_dir(&p)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("saving the plan to plan.json"), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert!(temp_files(&p).is_empty(), "{:?}", temp_files(&p));
    assert!(!p.join("plan.json").exists());
    // A directory that does not exist is an error before any work, not created.
    let r = mlinfra(&p, &["plan", "-out=missing/plan.json"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("the directory missing does not exist; create it first"),
        "{}",
        r.stderr
    );
    assert!(!p.join("missing").exists());
}
