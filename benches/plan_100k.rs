//! The 100,000-resource offline plan: wall time of each phase and the process's peak
//! resident memory, for bucket blocks and for the mixed manifest of `plan.rs`.
//!
//! `cargo bench -p mlinfra-benches --bench plan_100k` (or `-- 10000` for another size).
//! Each size runs in a fresh child process, so the peak memory is that plan's alone.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use mlinfra_engine::plan::PlanOptions;
use mlinfra_engine::run::plan_configuration;
use mlinfra_engine::state::State;
use mlinfra_engine::{collect_inputs, load};

/// A memory figure of this process from /proc/self/status (VmHWM: peak, VmRSS: now), in MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

fn run_one(shape: &str, n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    match shape {
        "buckets" => mlinfra_benches::write_buckets(dir.path(), n),
        _ => mlinfra_benches::write_manifest(dir.path(), n),
    }
    .expect("write manifest");
    let bytes: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let base = peak_rss_mib();
    let t = Instant::now();
    let (mut config, diags) = load(dir.path());
    assert!(!diags.has_errors());
    let load_s = t.elapsed().as_secs_f64();
    let after_load = status_mib("VmRSS:");
    let (inputs, _) = collect_inputs(&mut config, &[], Vec::new());
    let t2 = Instant::now();
    let (result, diags) = plan_configuration(
        &config,
        &inputs,
        &State::new(),
        Vec::new(),
        &PlanOptions::default(),
        &mlinfra_benches::providers(),
    );
    assert!(
        !diags.has_errors(),
        "{:?}",
        diags.iter().map(|d| &d.summary).collect::<Vec<_>>()
    );
    let changes = result.map(|(_, p)| p.changes.len()).unwrap_or(0);
    let plan_s = t2.elapsed().as_secs_f64();
    let total = t.elapsed().as_secs_f64();
    println!(
        "{shape} {n}: {changes} changes, manifest {:.1} MB; load+parse {load_s:.2} s, evaluate+plan {plan_s:.2} s, total {total:.2} s; peak RSS {:.0} MiB (before loading {base:.0} MiB, after loading {after_load:.0} MiB)",
        bytes as f64 / 1e6,
        peak_rss_mib()
    );
}

fn main() {
    mlinfra_benches::keep_freed_memory();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let [shape, n] = &args[..] {
        if let Ok(n) = n.parse() {
            run_one(shape, n);
            return;
        }
    }
    let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    let me = std::env::current_exe().expect("own path");
    for shape in ["buckets", "mixed"] {
        for &n in &sizes {
            let status = std::process::Command::new(&me)
                .args([shape, &n.to_string()])
                .status()
                .expect("run one size");
            assert!(status.success());
        }
    }
}
