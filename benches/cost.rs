//! Pricing a generated manifest of 10,000 resources with the shipped catalog (the
//! configuration is evaluated once, outside the measurement).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mlinfra_cost::{estimate, Catalog, UsageByAddress};
use mlinfra_engine::{collect_inputs, evaluate, load, EvalOptions, NoPrior};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    mlinfra_benches::write_manifest(dir.path(), 10_000).unwrap();
    let (mut config, diags) = load(dir.path());
    assert!(!diags.has_errors());
    let (inputs, _) = collect_inputs(&mut config, &[], Vec::new());
    let (evaluated, diags) = evaluate(
        &config,
        &EvalOptions {
            inputs: &inputs,
            prior: &NoPrior,
            replaced: &Default::default(),
        },
    );
    assert!(!diags.has_errors());
    let catalog = Catalog::builtin().unwrap();
    let usage = UsageByAddress::new();
    let est = estimate(&evaluated, &usage, &catalog);
    assert_eq!(est.resources.len(), 10_000);
    assert!(est.monthly() > 0.0);
    let mut g = c.benchmark_group("cost");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("estimate_10000", |b| {
        b.iter(|| estimate(&evaluated, &usage, &catalog).resources.len())
    });
    g.bench_function("catalog_load", |b| {
        b.iter(|| Catalog::builtin().unwrap().compute.len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
