//! The engine names no cloud: every cloud's attributes, defaults and rules live in the
//! provider crates and in `schema/`. This scans engine/src, test modules aside.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("config/tests.rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_cloud_name_literal_in_engine_sources() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 10);
    let names = mlinfra_schema::Cloud::ALL.map(|c| c.as_str());
    let mut found = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        // Test modules sit at the end of a file.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            let l = line.trim_start();
            if l.starts_with("//") {
                continue;
            }
            for name in names {
                let quoted = [
                    format!("\"{name}\""),
                    format!("\\\"{name}\\\""),
                    format!("{name}."),
                ];
                let variant = format!("Cloud::{}{}", name[..1].to_uppercase(), &name[1..]);
                if quoted.iter().any(|q| l.contains(q.as_str())) || l.contains(&variant) {
                    found.push(format!("{}:{}: {l}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "cloud names in engine/src:\n{}",
        found.join("\n")
    );
}
