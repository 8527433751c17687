//! Parse + evaluate + plan of generated manifests of 1,000 and 10,000 resources, offline.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mlinfra_engine::plan::PlanOptions;
use mlinfra_engine::run::plan_configuration;
use mlinfra_engine::state::State;
use mlinfra_engine::{collect_inputs, load};

fn plan_offline(dir: &std::path::Path) -> usize {
    let (mut config, diags) = load(dir);
    assert!(!diags.has_errors());
    let (inputs, _) = collect_inputs(&mut config, &[], Vec::new());
    let (result, diags) = plan_configuration(
        &config,
        &inputs,
        &State::new(),
        Vec::new(),
        &PlanOptions::default(),
        &mlinfra_benches::providers(),
    );
    assert!(!diags.has_errors());
    result.map(|(_, p)| p.changes.len()).unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    mlinfra_benches::keep_freed_memory();
    let mut g = c.benchmark_group("plan_offline");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for n in [1_000usize, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        mlinfra_benches::write_manifest(dir.path(), n).unwrap();
        assert_eq!(plan_offline(dir.path()), n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| plan_offline(dir.path()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
