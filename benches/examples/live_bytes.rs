//! Heap bytes live after each phase of an offline plan, counted by the allocator, and
//! what the parser's syntax tree and the compact one take of the same files:
//! `cargo run --release -p mlinfra-benches --example live_bytes -- buckets 100000`
//! (or `mixed`). Resident memory is larger: the allocator rounds each block up.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

/// The system allocator, counting the bytes asked for and not yet freed.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

fn grew(by: isize) {
    let now = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(now, Relaxed);
    CALLS.fetch_add(1, Relaxed);
}

// SAFETY: every call goes to the system allocator with the caller's own arguments.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        grew(l.size() as isize);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        grew(new as isize - l.size() as isize);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn report(what: &str) {
    let mib = |x: isize| x as f64 / (1 << 20) as f64;
    println!(
        "{what}: live {:.1} MiB, peak {:.1} MiB, {} allocations so far",
        mib(LIVE.load(Relaxed)),
        mib(PEAK.load(Relaxed)),
        CALLS.load(Relaxed)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let shape = args.first().map_or("buckets", String::as_str);
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    match shape {
        "buckets" => mlinfra_benches::write_buckets(dir.path(), n),
        _ => mlinfra_benches::write_manifest(dir.path(), n),
    }
    .expect("write manifest");
    let texts: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("read"))
        .collect();
    report(&format!("{shape} {n}: files read"));

    let t = Instant::now();
    let parsed: Vec<_> = texts
        .iter()
        .map(|t| hcl_edit::parser::parse_body(t).expect("parses"))
        .collect();
    report(&format!(
        "parser's trees ({:.2} s)",
        t.elapsed().as_secs_f64()
    ));
    drop(parsed);
    let t = Instant::now();
    let compact: Vec<_> = texts
        .iter()
        .map(|t| {
            mlinfra_engine::config::syntax::convert::body(
                hcl_edit::parser::parse_body(t).expect("parses"),
            )
        })
        .collect();
    report(&format!(
        "compact trees, each file converted as it is parsed ({:.2} s)",
        t.elapsed().as_secs_f64()
    ));
    drop(compact);
    report("trees dropped");

    let (mut config, _) = mlinfra_engine::load(dir.path());
    report("load");
    let (inputs, _) = mlinfra_engine::collect_inputs(&mut config, &[], Vec::new());
    let evaluated = mlinfra_engine::evaluate(
        &config,
        &mlinfra_engine::EvalOptions {
            inputs: &inputs,
            prior: &mlinfra_engine::NoPrior,
            replaced: &Default::default(),
        },
    );
    report("evaluate");
    drop(evaluated);
    let planned = mlinfra_engine::run::plan_configuration(
        &config,
        &inputs,
        &mlinfra_engine::state::State::new(),
        Vec::new(),
        &mlinfra_engine::plan::PlanOptions::default(),
        &mlinfra_benches::providers(),
    );
    report("evaluate + plan");
    drop(planned);
}
