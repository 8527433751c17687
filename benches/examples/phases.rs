//! Time each phase of an offline plan of a generated manifest: `cargo run --release -p mlinfra-benches --example phases -- 10000`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use mlinfra_engine::plan::PlanOptions;
use mlinfra_engine::run::plan_configuration;
use mlinfra_engine::state::State;
use mlinfra_engine::{collect_inputs, evaluate, load, EvalOptions, NoPrior};

fn main() {
    mlinfra_benches::keep_freed_memory();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("mlinfra-phases-{n}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    mlinfra_benches::write_manifest(&dir, n).expect("write manifest");
    let t = Instant::now();
    let (mut config, _) = load(&dir);
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let (inputs, _) = collect_inputs(&mut config, &[], Vec::new());
    let t = Instant::now();
    let (ev, _) = evaluate(
        &config,
        &EvalOptions {
            inputs: &inputs,
            prior: &NoPrior,
            replaced: &Default::default(),
        },
    );
    let eval_ms = t.elapsed().as_secs_f64() * 1e3;
    let (steps, elements, bytes) = mlinfra_engine::budget::used();
    let t = Instant::now();
    let (result, _) = plan_configuration(
        &config,
        &inputs,
        &State::new(),
        Vec::new(),
        &PlanOptions::default(),
        &mlinfra_benches::providers(),
    );
    let plan_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "{n} resources: load+parse {load_ms:.1} ms, evaluate {eval_ms:.1} ms, evaluate+diff {plan_ms:.1} ms ({} instances, {} changes)",
        ev.resources.len(),
        result.map(|(_, p)| p.changes.len()).unwrap_or(0)
    );
    let l = mlinfra_engine::budget::Limits::DEFAULT;
    println!(
        "evaluation budget used: {steps} steps ({:.1}% of the default), {elements} elements ({:.1}%), {bytes} string bytes ({:.1}%)",
        steps as f64 * 100.0 / l.steps as f64,
        elements as f64 * 100.0 / l.elements as f64,
        bytes as f64 * 100.0 / l.string_bytes as f64
    );
}
