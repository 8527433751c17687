//! One cloud object, one address: renames, moves and swaps never delete an object a
//! declaration still names (against moto, started by ./scripts/test).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::aws::{endpoint, run, state, unique, write, S3};

/// A force-destroyable S3 bucket block.
pub(crate) fn bucket(label: &str, name: &str) -> String {
    format!("bucket \"{label}\" {{\n  cloud         = \"aws\"\n  name          = \"{name}\"\n  force_destroy = true\n}}\n")
}

/// The addresses recorded in the state file of `dir`.
pub(crate) fn addresses(dir: &Path) -> Vec<String> {
    state(dir)["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn renaming_a_block_is_refused_and_state_mv_keeps_the_bucket_and_its_data() {
    let s3 = S3::new();
    let name = unique("rename");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    write(dir.path(), &ep, &bucket("old", &name));
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    s3.put_object(&name, "model.bin");

    write(dir.path(), &ep, &bucket("new", &name));
    let before = std::fs::read_to_string(dir.path().join("mlinfra.state.json")).unwrap();
    for cmd in [&["plan"][..], &["apply", "--auto-approve"]] {
        let r = run(dir.path(), cmd);
        assert_eq!(r.code, 1, "{cmd:?} must refuse: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "bucket.new would create S3 bucket \"{name}\", which bucket.old already manages"
            )),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("main.mlinfra.hcl:6:1"), "{}", r.stderr);
        assert!(
            r.stderr.contains("this plan also destroys bucket.old"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr
                .contains("mlinfra state mv 'bucket.old' 'bucket.new'"),
            "{}",
            r.stderr
        );
    }
    assert!(
        s3.has_object(&name, "model.bin"),
        "the bucket and its data are kept"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mlinfra.state.json")).unwrap(),
        before,
        "a refused plan writes nothing"
    );

    // The fix the error gives: the object keeps its data under the new address.
    let r = run(dir.path(), &["state", "mv", "bucket.old", "bucket.new"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    assert!(s3.has_object(&name, "model.bin"));
}

#[test]
fn two_blocks_with_one_name_are_an_error_at_both_and_nothing_is_created() {
    let s3 = S3::new();
    let name = unique("twins");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &endpoint(),
        &format!("{}\n{}", bucket("a", &name), bucket("b", &name)),
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "bucket.a and bucket.b name the same S3 bucket \"{name}\""
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!(
            "bucket.b and bucket.a name the same S3 bucket \"{name}\""
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("main.mlinfra.hcl:6:1") && r.stderr.contains("main.mlinfra.hcl:12:1")
    );
    assert!(r.stderr.contains("2 errors found; nothing was changed."));
    assert!(s3.buckets(&name).is_empty(), "nothing was created");
    assert!(!dir.path().join("mlinfra.state.json").exists());

    // One block with count and a name without count.index is the same mistake.
    write(
        dir.path(),
        &endpoint(),
        &format!("bucket \"many\" {{\n  count = 2\n  cloud = \"aws\"\n  name  = \"{name}\"\n}}\n"),
    );
    let r = run(dir.path(), &["plan"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("bucket.many[0] and bucket.many[1] name the same"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("include count.index or each.key"),
        "{}",
        r.stderr
    );
}

#[test]
fn count_to_for_each_and_name_swaps_are_refused_before_anything_runs() {
    let s3 = S3::new();
    let p = unique("moves");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    write(
        dir.path(),
        &ep,
        &format!("bucket \"data\" {{\n  count         = 2\n  cloud         = \"aws\"\n  name          = \"{p}-${{count.index}}\"\n  force_destroy = true\n}}\n"),
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for i in 0..2 {
        s3.put_object(&format!("{p}-{i}"), "part");
    }
    // count → for_each with the same names.
    write(
        dir.path(),
        &ep,
        &format!("bucket \"data\" {{\n  for_each      = toset([\"0\", \"1\"])\n  cloud         = \"aws\"\n  name          = \"{p}-${{each.key}}\"\n  force_destroy = true\n}}\n"),
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "bucket.data[\"0\"] would create S3 bucket \"{p}-0\", which bucket.data[0] already manages"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("mlinfra state mv 'bucket.data[0]' 'bucket.data[\"0\"]'"),
        "{}",
        r.stderr
    );
    // Swapping the names of two count instances replaces both: refused too.
    write(
        dir.path(),
        &ep,
        &format!("bucket \"data\" {{\n  count         = 2\n  cloud         = \"aws\"\n  name          = [\"{p}-1\", \"{p}-0\"][count.index]\n  force_destroy = true\n}}\n"),
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("this plan also replaces bucket.data[1]"),
        "{}",
        r.stderr
    );
    for i in 0..2 {
        assert!(s3.has_object(&format!("{p}-{i}"), "part"), "{p}-{i} kept");
    }
}

/// ECR through its own client, to push an image the way a CI job does.
fn ecr() -> (tokio::runtime::Runtime, aws_sdk_ecr::Client) {
    let (rt, sdk) = crate::aws::sdk();
    let conf = aws_sdk_ecr::config::Builder::from(&sdk)
        .endpoint_url(endpoint())
        .build();
    (rt, aws_sdk_ecr::Client::from_conf(conf))
}

#[test]
fn renaming_a_registry_block_keeps_its_images() {
    let p = unique("ecrmv");
    let repo = format!("{p}/scorer");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let manifest = |label: &str| {
        format!("container_registry \"{label}\" {{\n  cloud = \"aws\"\n  name  = \"{repo}\"\n}}\n")
    };
    write(dir.path(), &ep, &manifest("images"));
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (rt, ecr) = ecr();
    let manifest_json = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#;
    rt.block_on(
        ecr.put_image()
            .repository_name(&repo)
            .image_manifest(manifest_json)
            .image_tag("v1")
            .send(),
    )
    .unwrap();
    let images = |rt: &tokio::runtime::Runtime| {
        rt.block_on(ecr.list_images().repository_name(&repo).send())
            .map(|o| o.image_ids().len())
            .unwrap_or(0)
    };
    assert_eq!(images(&rt), 1);
    write(dir.path(), &ep, &manifest("serving"));
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "container_registry.serving would create ECR repository \"{repo}\" (in us-east-1), which container_registry.images already manages"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(images(&rt), 1, "the image is still there");
}

#[test]
fn import_refuses_an_object_another_address_manages() {
    let name = unique("imp2");
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let both = format!(
        "{}\n{}",
        bucket("a", &name),
        bucket("b", &format!("{name}-b"))
    );
    write(dir.path(), &ep, &bucket("a", &name));
    assert_eq!(run(dir.path(), &["apply", "--auto-approve"]).code, 0);
    write(dir.path(), &ep, &both);
    let before = std::fs::read_to_string(dir.path().join("mlinfra.state.json")).unwrap();
    let r = run(dir.path(), &["import", "bucket.b", &name]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "S3 bucket \"{name}\" is already managed by bucket.a, and one cloud object can have only one address"
        )),
        "{}",
        r.stderr
    );
    // An import block is refused the same way, at the block.
    std::fs::write(
        dir.path().join("import.mlinfra.hcl"),
        format!("import {{\n  to = bucket.b\n  id = \"{name}\"\n}}\n"),
    )
    .unwrap();
    let r = run(dir.path(), &["plan"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("cannot import bucket.b"), "{}", r.stderr);
    assert!(r.stderr.contains("import.mlinfra.hcl:2:8"), "{}", r.stderr);
    assert!(
        r.stderr.contains("already managed by bucket.a"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mlinfra.state.json")).unwrap(),
        before
    );
}

#[test]
fn a_create_that_finds_an_unmanaged_object_fails_instead_of_adopting_it() {
    let s3 = S3::new();
    let name = unique("foreign");
    s3.create(&name);
    s3.put_object(&name, "theirs");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &endpoint(), &bucket("mine", &name));
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains(&format!(
            "S3 bucket {name} already exists, and this state did not create it; to manage it here, import it: mlinfra import 'bucket.mine' {name}"
        )),
        "{all}"
    );
    let st = state(dir.path());
    assert_eq!(st["resources"], serde_json::json!([]), "not adopted");
    assert!(
        st.get("pending").is_none(),
        "no intent is left to adopt it next time"
    );
    // Destroying this configuration leaves the other owner's bucket alone.
    let r = run(dir.path(), &["destroy", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(s3.has_object(&name, "theirs"));
}

/// A small deterministic generator (xorshift), so a failing sequence can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Where a declaration lives: its own block, an instance of the count block, or a key of
/// the for_each block.
#[derive(Clone, Debug, PartialEq)]
enum Form {
    Block(String),
    Count,
    Each(String),
}

#[derive(Clone, Debug)]
struct Decl {
    form: Form,
    name: String,
}

fn render(decls: &[Decl]) -> String {
    let mut out = String::new();
    for d in decls {
        if let Form::Block(label) = &d.form {
            out.push_str(&bucket(label, &d.name));
            out.push('\n');
        }
    }
    let counted: Vec<String> = decls
        .iter()
        .filter(|d| d.form == Form::Count)
        .map(|d| format!("\"{}\"", d.name))
        .collect();
    if !counted.is_empty() {
        out.push_str(&format!(
            "bucket \"counted\" {{\n  count         = {}\n  cloud         = \"aws\"\n  name          = [{}][count.index]\n  force_destroy = true\n}}\n\n",
            counted.len(),
            counted.join(", ")
        ));
    }
    let keyed: Vec<String> = decls
        .iter()
        .filter_map(|d| match &d.form {
            Form::Each(k) => Some(format!("    {k} = \"{}\"", d.name)),
            _ => None,
        })
        .collect();
    if !keyed.is_empty() {
        out.push_str(&format!(
            "bucket \"keyed\" {{\n  for_each      = {{\n{}\n  }}\n  cloud         = \"aws\"\n  name          = each.value\n  force_destroy = true\n}}\n",
            keyed.join("\n")
        ));
    }
    out
}

/// The `mlinfra state mv 'A' 'B'` commands a refusal suggests.
fn suggested_moves(stderr: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in stderr.lines() {
        if let Some(i) = line.find("mlinfra state mv '") {
            let parts: Vec<&str> = line[i + "mlinfra state mv ".len()..].split('\'').collect();
            if parts.len() >= 4 {
                out.push((parts[1].to_string(), parts[3].to_string()));
            }
        }
    }
    out.dedup();
    out
}

#[test]
fn random_renames_moves_and_swaps_never_delete_a_declared_object() {
    let s3 = S3::new();
    let p = unique("rnd");
    let seed = std::env::var("MLINFRA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1d3a_u64 ^ std::process::id() as u64);
    let mut rng = Rng(seed | 1);
    let pool: Vec<String> = (0..8).map(|i| format!("{p}-n{i}")).collect();
    let mut labels = 0usize;
    let mut fresh = |prefix: &str| {
        labels += 1;
        format!("{prefix}{labels}")
    };
    let mut decls = vec![
        Decl {
            form: Form::Block(fresh("b")),
            name: pool[0].clone(),
        },
        Decl {
            form: Form::Count,
            name: pool[1].clone(),
        },
        Decl {
            form: Form::Each(fresh("k")),
            name: pool[2].clone(),
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let mut applied = decls.clone();
    let mut log = Vec::new();
    let mut refused = 0;

    // Apply `decls` and check the invariant: every object that existed before and that a
    // declaration still names still exists, with its data. Returns the exit code.
    let step = |decls: &[Decl], log: &mut Vec<String>| -> (i32, String) {
        let live: BTreeSet<String> = pool
            .iter()
            .filter(|n| s3.has_object(n, "data"))
            .cloned()
            .collect();
        write(dir.path(), &ep, &render(decls));
        let r = run(dir.path(), &["apply", "--auto-approve"]);
        log.push(format!("apply → {}", r.code));
        for d in decls {
            if live.contains(&d.name) {
                assert!(
                    s3.has_object(&d.name, "data"),
                    "seed {seed}: {} is still declared but was deleted\nsteps: {log:#?}\n{}\n{}\n{}",
                    d.name,
                    render(decls),
                    r.stdout,
                    r.stderr
                );
            }
        }
        if r.code != 0 {
            assert!(
                r.stderr.contains("already manages") || r.stderr.contains("name the same"),
                "seed {seed}: an apply failed for another reason\n{}\n{}",
                r.stdout,
                r.stderr
            );
        }
        // Every bucket in state gets data, so its loss would show.
        if dir.path().join("mlinfra.state.json").exists() {
            for r in state(dir.path())["resources"].as_array().unwrap() {
                let name = r["attributes"]["name"].as_str().unwrap();
                if !s3.has_object(name, "data") {
                    s3.put_object(name, "data");
                }
            }
        }
        (r.code, r.stderr)
    };

    let (code, _) = step(&decls, &mut log);
    assert_eq!(code, 0, "the first apply creates everything");
    for _ in 0..14 {
        let mut next = decls.clone();
        match rng.below(5) {
            0 => {
                // Rename a block or re-key a for_each instance.
                let i = rng.below(next.len());
                next[i].form = match &next[i].form {
                    Form::Block(_) => Form::Block(fresh("b")),
                    Form::Each(_) => Form::Each(fresh("k")),
                    Form::Count => Form::Count,
                };
            }
            1 if next.len() > 1 => {
                let (i, j) = (rng.below(next.len()), rng.below(next.len()));
                let n = next[i].name.clone();
                next[i].name = next[j].name.clone();
                next[j].name = n;
            }
            2 => {
                // Move a declaration into another form (count ↔ for_each ↔ block).
                let i = rng.below(next.len());
                next[i].form = match rng.below(3) {
                    0 => Form::Block(fresh("b")),
                    1 => Form::Count,
                    _ => Form::Each(fresh("k")),
                };
            }
            3 => {
                let used: BTreeSet<&String> = next.iter().map(|d| &d.name).collect();
                if let Some(n) = pool.iter().find(|n| !used.contains(n)).cloned() {
                    next.push(Decl {
                        form: Form::Block(fresh("b")),
                        name: n,
                    });
                }
            }
            _ if next.len() > 1 => {
                let i = rng.below(next.len());
                next.remove(i);
            }
            _ => {}
        }
        log.push(format!("{next:?}"));
        let (code, stderr) = step(&next, &mut log);
        if code == 0 {
            decls = next;
            applied = decls.clone();
            continue;
        }
        refused += 1;
        // A user follows the suggested `state mv`s, then applies again; when that is
        // refused too, they go back to what was applied.
        let moves: BTreeMap<String, String> = suggested_moves(&stderr).into_iter().collect();
        for (from, to) in &moves {
            let r = run(dir.path(), &["state", "mv", from, to]);
            log.push(format!("state mv {from} {to} → {}", r.code));
        }
        let (code, _) = step(&next, &mut log);
        if code == 0 {
            decls = next;
            applied = decls.clone();
        } else {
            let (code, stderr) = step(&applied, &mut log);
            if code != 0 {
                // The moves left the state between the two: move back what the
                // refusal names, once more.
                for (from, to) in suggested_moves(&stderr) {
                    run(dir.path(), &["state", "mv", &from, &to]);
                }
                let (code, stderr) = step(&applied, &mut log);
                assert_eq!(
                    code, 0,
                    "seed {seed}: cannot get back to the applied configuration\n{stderr}\n{log:#?}"
                );
            }
            decls = applied.clone();
        }
    }
    // The state is a plain map of the declarations left: nothing orphaned, nothing shared.
    let st_names: BTreeSet<String> = state(dir.path())["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["attributes"]["name"].as_str().unwrap().to_string())
        .collect();
    let declared: BTreeSet<String> = decls.iter().map(|d| d.name.clone()).collect();
    assert_eq!(st_names, declared, "seed {seed}: {log:#?}");
    assert_eq!(addresses(dir.path()).len(), declared.len());
    eprintln!("seed {seed}: {refused} of 14 steps refused at first");
}

#[test]
fn an_ecr_repository_made_elsewhere_is_not_adopted_by_a_create() {
    let repo = format!("{}/foreign", unique("ecrown"));
    let (rt, ecr) = ecr();
    rt.block_on(ecr.create_repository().repository_name(&repo).send())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &endpoint(),
        &format!("container_registry \"images\" {{\n  cloud = \"aws\"\n  name  = \"{repo}\"\n}}\n"),
    );
    let r = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains(&format!(
            "ECR repository {repo} already exists, and this state did not create it; to manage it here, import it: mlinfra import 'container_registry.images' {repo}"
        )),
        "{all}"
    );
    assert_eq!(state(dir.path())["resources"], serde_json::json!([]));
    // Importing it, as the error says, brings it under management.
    let r = run(dir.path(), &["import", "container_registry.images", &repo]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(run(dir.path(), &["apply", "--auto-approve"]).code, 0);
    assert_eq!(run(dir.path(), &["destroy", "--auto-approve"]).code, 0);
}
