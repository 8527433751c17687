//! Apply N resources on the in-process fake provider with a fixed latency per call, and
//! compare the wall time with the critical path's latency (depth × latency):
//! `cargo run --release -p mlinfra-provider-testing --example apply_fake -- 1000 flat 50`.
//!
//! `flat`: N independent buckets (depth 1). `layered`: ten layers of N/10 buckets, each
//! named after one of the layer before it (depth 10). Parallelism is unlimited, so the
//! critical path is the bound. It prints what the state store wrote: snapshots and journal
//! entries, in bytes; `MLINFRA_STATE_NO_JOURNAL=1` rewrites the whole state at every step,
//! as mlinfra did before the journal.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::fmt::Write as _;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use mlinfra_engine::apply::{apply, ApplyContext, ApplyOptions, Event, Progress};
use mlinfra_engine::plan::PlanOptions;
use mlinfra_engine::run::plan_configuration;
use mlinfra_engine::state::State;
use mlinfra_engine::store::StateStore;
use mlinfra_engine::{collect_inputs, load};
use mlinfra_provider_api::ProviderSet;
use mlinfra_provider_testing::FakeProvider;
use mlinfra_schema::Cloud;

struct Quiet;
impl Progress for Quiet {
    fn event(&self, _: Event) {}
}

fn manifest(n: usize, layered: bool) -> String {
    let mut t = String::from("provider \"aws\" {\n  region = \"us-east-1\"\n}\n\n");
    if !layered {
        let _ = write!(t, "bucket \"b\" {{\n  count = {n}\n  cloud = \"aws\"\n  name  = \"flat-${{count.index}}\"\n}}\n");
        return t;
    }
    let per = n / 10;
    for l in 0..10 {
        let name = if l == 0 {
            "l0-${count.index}".to_string()
        } else {
            format!("${{bucket.l{}[count.index].name}}-l{l}", l - 1)
        };
        let _ = write!(
            t,
            "bucket \"l{l}\" {{\n  count = {per}\n  cloud = \"aws\"\n  name  = \"{name}\"\n}}\n\n"
        );
    }
    t
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let layered = args.next().as_deref() == Some("layered");
    let latency_ms: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("main.mlinfra.hcl"), manifest(n, layered))
        .expect("write the manifest into the temporary directory");
    let (mut config, diags) = load(dir.path());
    assert!(!diags.has_errors(), "{diags:?}");
    let (inputs, _) = collect_inputs(&mut config, &[], Vec::new());
    let mut providers = ProviderSet::default();
    providers.add(Box::new(
        FakeProvider::new(Cloud::Aws).with_latency(Duration::from_millis(latency_ms)),
    ));
    let (result, diags) = plan_configuration(
        &config,
        &inputs,
        &State::new(),
        Vec::new(),
        &PlanOptions::default(),
        &providers,
    );
    let (evaluated, plan) = result.unwrap_or_else(|| panic!("{diags:?}"));
    let store = StateStore::local(dir.path().join("mlinfra.state.json"));
    let interrupts = AtomicUsize::new(0);
    let ctx = ApplyContext {
        config: &config,
        inputs: &inputs,
        evaluated: &evaluated,
        providers: &providers,
        store: &store,
        progress: &Quiet,
        interrupts: &interrupts,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    let report = rt
        .block_on(apply(&ctx, &plan, State::new(), &ApplyOptions::default()))
        .expect("apply");
    let wall = started.elapsed();
    assert_eq!(report.completed.len(), n, "{:?}", report.failed);
    let depth = if layered { 10 } else { 1 };
    let critical = Duration::from_millis(latency_ms * depth);
    let bytes = std::fs::metadata(dir.path().join("mlinfra.state.json"))
        .map(|m| m.len())
        .unwrap_or(0);
    let w = store.stats();
    println!(
        "{n} resources ({}), {latency_ms} ms per call, journal {}: wall {:.2} s, critical path {:.2} s, ratio {:.2}×, final state {bytes} bytes, written {} bytes ({} snapshots, {} bytes; {} journal entries, {} bytes)",
        if layered { "layered, depth 10" } else { "flat" },
        if std::env::var_os("MLINFRA_STATE_NO_JOURNAL").is_some() { "off" } else { "on" },
        wall.as_secs_f64(),
        critical.as_secs_f64(),
        wall.as_secs_f64() / critical.as_secs_f64(),
        w.snapshot_bytes + w.entry_bytes,
        w.snapshots,
        w.snapshot_bytes,
        w.entries,
        w.entry_bytes,
    );
}
