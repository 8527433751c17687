//! Bounded evaluation: hostile configurations stop with an error at the expression that
//! ran out, instead of exhausting memory or CPU; files are read up to a size cap.

use std::path::Path;

use crate::{mlinfra, Run};

fn validate(dir: &Path, manifest: &str, extra: &[&str]) -> Run {
    std::fs::write(dir.join("main.mlinfra.hcl"), manifest).unwrap();
    let mut args = extra.to_vec();
    args.push("validate");
    mlinfra(dir, &args)
}

fn assert_stopped(r: &Run, what: &str, at: &str) {
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(what),
        "expected {what:?} in\n{}",
        r.stderr
    );
    assert!(r.stderr.contains(at), "expected {at:?} in\n{}", r.stderr);
    assert!(
        r.stderr.contains("--limit "),
        "the fix is named:\n{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

/// Ten locals, each a list of ten copies of the one before: 10^10 strings.
fn billion_laughs() -> String {
    let mut s = String::from("locals {\n  l0 = \"lol\"\n");
    for i in 1..10 {
        let refs = vec![format!("local.l{}", i - 1); 10].join(", ");
        s.push_str(&format!("  l{i} = [{refs}]\n"));
    }
    s.push_str("}\n");
    s
}

#[test]
fn billion_laughs_locals_stop_at_the_element_budget() {
    let dir = tempfile::tempdir().unwrap();
    let r = validate(dir.path(), &billion_laughs(), &[]);
    assert_stopped(
        &r,
        "evaluation built more than 20000000 list and map elements, the limit for one evaluation",
        "main.mlinfra.hcl:",
    );
    assert!(!dir.path().join("mlinfra.state.json").exists());
}

#[test]
fn doubling_strings_stop_at_the_string_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = format!("locals {{\n  s0 = \"{}\"\n", "x".repeat(1024));
    for i in 1..40 {
        s.push_str(&format!(
            "  s{i} = \"${{local.s{p}}}${{local.s{p}}}\"\n",
            p = i - 1
        ));
    }
    s.push_str("}\n");
    let r = validate(dir.path(), &s, &[]);
    assert_stopped(
        &r,
        "evaluation built more than 268435456 bytes of strings",
        "main.mlinfra.hcl:",
    );
    // replace() with an empty search would build len² bytes: refused before building.
    let r = validate(
        dir.path(),
        "locals {\n  a = join(\"\", [for i in range(100000) : \"y\"])\n  x = replace(local.a, \"\", local.a)\n}\n",
        &[],
    );
    assert_stopped(
        &r,
        "this result's 10000200000 bytes would take the evaluation past 268435456 bytes of strings",
        "main.mlinfra.hcl:3:7",
    );
}

#[test]
fn nested_loops_stop_at_the_step_budget() {
    let dir = tempfile::tempdir().unwrap();
    // Lowered limits keep the test quick; the defaults stop the same inputs (measured in
    // docs/performance.md).
    let low = ["--limit", "steps=2M", "--limit", "elements=1M"];
    let r = validate(
        dir.path(),
        "locals {\n  x = [for a in range(1000) : [for b in range(1000) : [for c in range(1000) : c]]]\n}\n",
        &low,
    );
    assert_stopped(&r, "the limit for one evaluation", "main.mlinfra.hcl:2:");
    let r = validate(
        dir.path(),
        "locals {\n  x = \"%{for a in range(1000)}%{for b in range(1000)}%{for c in range(1000)}x%{endfor}%{endfor}%{endfor}\"\n}\n",
        &["--limit", "steps=2M", "--limit", "elements=100M"],
    );
    assert_stopped(
        &r,
        "evaluation took more than 2000000 steps",
        "main.mlinfra.hcl:2:",
    );
    // A template file's loops count against the same budget.
    std::fs::write(
        dir.path().join("t.tftpl"),
        "%{for a in range(10000)}%{for b in range(10000)}x%{endfor}%{endfor}",
    )
    .unwrap();
    let r = validate(
        dir.path(),
        "locals {\n  x = templatefile(\"t.tftpl\", {})\n}\n",
        &low,
    );
    assert_stopped(&r, "templatefile(): t.tftpl:1:", "main.mlinfra.hcl:2:7");
    // try() does not hide an exhausted budget.
    let r = validate(
        dir.path(),
        "locals {\n  x = try([for a in range(1000) : [for b in range(1000) : [for c in range(1000) : c]]], [])\n}\n",
        &low,
    );
    assert_stopped(&r, "the limit for one evaluation", "main.mlinfra.hcl:2:");
}

#[test]
fn a_raised_limit_lets_a_large_configuration_through_and_a_bad_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let m = "locals {\n  x = [for i in range(5000) : i]\n}\n";
    let r = validate(dir.path(), m, &["--limit", "elements=1000"]);
    assert_stopped(&r, "past 1000 list and map elements", "main.mlinfra.hcl:2:");
    let r = validate(
        dir.path(),
        m,
        &["--limit", "elements=1000", "--limit", "elements=1M"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = validate(dir.path(), m, &["--limit", "element=5"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "unknown limit \"element\"; limits are steps, elements, string-bytes, file-bytes"
        ),
        "{}",
        r.stderr
    );
    let r = validate(dir.path(), m, &["-limit=steps=lots"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is not an amount"), "{}", r.stderr);
}

#[test]
fn every_file_read_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.mlinfra.hcl"),
        "variable \"x\" {\n  default = 1\n}\nlocals {\n  f = file(\"/dev/zero\")\n}\n",
    )
    .unwrap();
    let r = mlinfra(dir.path(), &["validate", "--var-file", "/dev/zero"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "/dev/zero is larger than 33554432 bytes, the most mlinfra reads from one file"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--limit file-bytes=N"), "{}", r.stderr);
    let r = mlinfra(dir.path(), &["validate"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("main.mlinfra.hcl:5:7"),
        "file() is capped too:\n{}",
        r.stderr
    );
    // A manifest over the cap.
    std::fs::write(
        dir.path().join("big.mlinfra.hcl"),
        format!("# {}\n", "x".repeat(2000)),
    )
    .unwrap();
    let r = mlinfra(dir.path(), &["--limit", "file-bytes=1KiB", "validate"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("big.mlinfra.hcl is larger than 1024 bytes"),
        "{}",
        r.stderr
    );
}

#[test]
fn nesting_counts_real_brackets_only() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[".repeat(300);
    let m = format!(
        "# {text}\nlocals {{\n  a = \"{text}\"\n  b = <<EOT\n{text}\nEOT\n  /* {text} */\n  c = \"${{length([[[1]]])}} {text}\"\n}}\n"
    );
    let r = validate(dir.path(), &m, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let deep = format!(
        "locals {{\n  a = {}1{}\n}}\n",
        "[".repeat(300),
        "]".repeat(300)
    );
    let r = validate(dir.path(), &deep, &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("brackets nest deeper than 256 levels"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("main.mlinfra.hcl:2:"), "{}", r.stderr);
    // Brackets inside an interpolation are real.
    let interp = format!(
        "locals {{\n  a = \"${{{}1{}}}\"\n}}\n",
        "[".repeat(300),
        "]".repeat(300)
    );
    let r = validate(dir.path(), &interp, &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("brackets nest deeper than 256 levels"),
        "{}",
        r.stderr
    );
}
