//! `mlinfra fmt`: rewrite manifests in the canonical format.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mlinfra_engine::config::load::{AUTO_VARS_SUFFIX, MANIFEST_SUFFIX};
use mlinfra_engine::format::{format_source, FormatError};
use mlinfra_engine::state::atomic_write;

use crate::style::Style;

/// Exit code of `fmt --check` when a file is not formatted (a gate for CI).
const EXIT_UNFORMATTED: u8 = 3;

fn is_manifest(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(MANIFEST_SUFFIX) || n.ends_with(AUTO_VARS_SUFFIX))
}

/// The manifests under `path`. Inside a directory, a symbolic link is followed only when
/// its target lies inside `root` (the directory named on the command line): formatting
/// never writes through a link to a file outside the tree.
fn collect(path: &Path, root: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        let linked = std::fs::symlink_metadata(&e).is_ok_and(|m| m.file_type().is_symlink());
        if linked {
            let inside = std::fs::canonicalize(&e).is_ok_and(|t| t.starts_with(root));
            if !inside {
                if is_manifest(&e) || (recursive && e.is_dir()) {
                    eprintln!(
                        "note: skipping {}: it is a link to a place outside {}",
                        e.display(),
                        root.display()
                    );
                }
                continue;
            }
            if e.is_dir() {
                // Its target is inside the tree, so the walk reaches it there.
                continue;
            }
        }
        if e.is_dir() {
            let hidden = e
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') || n == "target");
            if recursive && !hidden {
                collect(&e, root, recursive, out)?;
            }
        } else if is_manifest(&e) {
            out.push(e);
        }
    }
    Ok(())
}

pub fn run(
    dir: &Path,
    paths: &[PathBuf],
    check: bool,
    diff: bool,
    recursive: bool,
    nc: bool,
) -> Result<u8> {
    let mut files = Vec::new();
    let roots: Vec<PathBuf> = if paths.is_empty() {
        vec![dir.to_path_buf()]
    } else {
        paths.to_vec()
    };
    for r in &roots {
        let root = std::fs::canonicalize(r).with_context(|| format!("reading {}", r.display()))?;
        collect(r, &root, recursive, &mut files)?;
    }
    // A link inside the tree and its target are one file.
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    let st = Style::stdout(nc);
    let mut unformatted = 0;
    let mut errors = 0;
    for f in &files {
        let text = mlinfra_engine::files::read_capped(
            f,
            mlinfra_engine::budget::limits().file_bytes,
            "; raise the limit with --limit file-bytes=N",
        )
        .with_context(|| format!("reading {}", f.display()))?;
        let formatted = match format_source(&text) {
            Ok(t) => t,
            Err(e) => {
                match &e {
                    FormatError::Parse { line, column, .. } => eprintln!(
                        "{} {}:{line}:{column}: cannot format, the file does not parse:\n{e}\nhelp: fix the syntax at that position; fmt leaves the file as it is",
                        st.red("error:"),
                        f.display()
                    ),
                    FormatError::Unsafe(_) => eprintln!(
                        "{} {}: not formatted, to keep its meaning:\n{e}",
                        st.red("error:"),
                        f.display()
                    ),
                }
                errors += 1;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        unformatted += 1;
        println!("{}", f.display());
        if diff {
            let d = similar::TextDiff::from_lines(&text, &formatted);
            print!(
                "{}",
                d.unified_diff().context_radius(3).header(
                    &f.display().to_string(),
                    &format!("{} (formatted)", f.display())
                )
            );
        }
        if !check {
            // Write through symlinks and keep the file's mode.
            let target = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
            let perms = std::fs::metadata(&target).map(|m| m.permissions()).ok();
            atomic_write(&target, formatted.as_bytes())?;
            if let Some(p) = perms {
                std::fs::set_permissions(&target, p)
                    .with_context(|| format!("restoring the mode of {}", target.display()))?;
            }
        }
    }
    if errors > 0 {
        return Ok(crate::EXIT_ERROR);
    }
    Ok(if check && unformatted > 0 {
        EXIT_UNFORMATTED
    } else {
        0
    })
}
