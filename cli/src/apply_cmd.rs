//! `apply` and `destroy`: plan, confirm, then make the changes through the providers.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::ArgMatches;
use mlinfra_engine::apply::{self, ApplyContext, ApplyOptions, Event, Op, Progress};
use mlinfra_engine::plan::{Plan, PlanOptions};
use mlinfra_engine::{plan_json, Address};

use crate::render;
use crate::session::{Planned, Session};
use crate::style::Style;
use crate::{VarArgs, EXIT_ERROR};
use mlinfra_engine::secrets::scrub;

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    /// A plan saved with `plan -out`; applied exactly, or refused if the state or
    /// configuration changed since.
    pub planfile: Option<PathBuf>,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Do not ask for confirmation.
    #[arg(long = "auto-approve")]
    pub auto_approve: bool,
    /// Most operations in flight at once (default: unlimited, within each cloud's adaptive limit).
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
    /// How long to wait for the state lock (e.g. 30s, 5m).
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s")]
    pub lock_timeout: String,
    /// Apply only this address and what it depends on (repeatable).
    #[arg(long, value_name = "ADDR", action = clap::ArgAction::Append)]
    pub target: Vec<String>,
    /// Apply everything except this address and what depends on it (repeatable).
    #[arg(long, value_name = "ADDR", action = clap::ArgAction::Append, conflicts_with = "target")]
    pub exclude: Vec<String>,
    /// Replace this address even if it has not changed (repeatable).
    #[arg(long, value_name = "ADDR", action = clap::ArgAction::Append)]
    pub replace: Vec<String>,
    /// Read live state through the providers first.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
}

/// Prints progress: on a terminal, one live line per operation with its elapsed time;
/// otherwise one timestamped line per event (CI logs).
struct Printer {
    st: Style,
    timestamps: bool,
    live: Option<Live>,
}

/// The live lines of the operations in flight.
struct Live {
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl Live {
    fn new() -> Live {
        Live {
            multi: indicatif::MultiProgress::new(),
            bars: Default::default(),
        }
    }

    fn start(&self, address: &str, text: String) {
        let text = scrub(&text).into_owned();
        let style = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        let bar = self
            .multi
            .add(indicatif::ProgressBar::new_spinner().with_style(style));
        bar.set_message(text);
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(address.to_string(), bar);
        }
    }

    /// Turn the operation's live line into its final line.
    fn finish(&self, address: &str, text: String) {
        let text = scrub(&text).into_owned();
        let bar = self.bars.lock().ok().and_then(|mut b| b.remove(address));
        match bar {
            Some(bar) => {
                if let Ok(style) = indicatif::ProgressStyle::with_template("{msg}") {
                    bar.set_style(style);
                }
                bar.finish_with_message(text);
            }
            None => self.println(text),
        }
    }

    fn println(&self, text: String) {
        let _ = self.multi.println(text);
    }
}

impl Printer {
    fn new(st: Style) -> Printer {
        let tty = std::io::stdout().is_terminal();
        Printer {
            st,
            timestamps: !tty,
            live: tty.then(Live::new),
        }
    }

    fn line(&self, text: String) {
        let text = scrub(&text).into_owned();
        if let Some(live) = &self.live {
            live.println(text);
            return;
        }
        if self.timestamps {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let stamp = mlinfra_engine::state::format_unix_time(now);
            println!("[{}] {text}", &stamp[11..19]);
        } else {
            println!("{text}");
        }
        let _ = std::io::stdout().flush();
    }
}

fn secs(d: Duration) -> String {
    if d.as_secs() >= 60 {
        format!("{}m{}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

impl Progress for Printer {
    fn event(&self, e: Event) {
        let st = self.st;
        match e {
            Event::Start { address, op } => {
                let text = format!("{}: {}...", st.bold(address), op.ing());
                match &self.live {
                    Some(live) => live.start(address, text),
                    None => self.line(text),
                }
            }
            Event::Done {
                address,
                op,
                elapsed,
                id,
            } => {
                let text = format!(
                    "{}: {} after {}{}",
                    st.bold(address),
                    st.green(op.done()),
                    secs(elapsed),
                    id.map(|i| format!(" [id={i}]")).unwrap_or_default()
                );
                match &self.live {
                    Some(live) => live.finish(address, text),
                    None => self.line(text),
                }
            }
            Event::Failed {
                address,
                op,
                elapsed,
                error,
            } => {
                let text = format!(
                    "{}: {} failed after {}: {error}",
                    st.bold(address),
                    op.ing(),
                    secs(elapsed)
                );
                match &self.live {
                    Some(live) => live.finish(address, text),
                    None => self.line(text),
                }
            }
            Event::Skipped { address, reason } => {
                self.line(format!("{}: {}", st.bold(address), st.yellow(reason)))
            }
            Event::Retry {
                address,
                attempt,
                wait,
                error,
                ..
            } => self.line(format!(
                "{}: retry {attempt} in {} ({error})",
                st.bold(address),
                secs(wait)
            )),
            Event::Adopted { address, name } => self.line(format!(
                "{}: adopted {name}, created by an interrupted run",
                st.bold(address)
            )),
            Event::Forgot { address, name } => self.line(format!(
                "{}: the interrupted create of {name} never reached the cloud; it will be created",
                st.bold(address)
            )),
        }
    }
}

fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("standard input is not a terminal, so the plan cannot be confirmed; pass --auto-approve to apply without asking");
    }
    print!("\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Read a saved plan and check its digest: a file changed after `plan -out` is refused.
/// An encrypted plan is decrypted with the codec of the configuration in `dir`.
pub fn read_saved(
    saved_path: &Path,
    dir: &Path,
    cli: &[mlinfra_engine::CliInput],
    nc: bool,
) -> Result<Plan> {
    let raw = crate::workspace::read_capped(saved_path, crate::workspace::MAX_PLAN_FILE_BYTES)?;
    let encrypted = mlinfra_engine::crypto::is_envelope(raw.as_bytes());
    let spec = if encrypted {
        Some(crate::backend_cmd::spec_of(dir, cli, nc)?)
    } else {
        // Plaintext: the codec matters only when the configuration enforces encryption.
        crate::backend_cmd::spec_of(dir, cli, nc).ok()
    };
    let codec = match &spec {
        Some(spec) => mlinfra_state_backends::codec(spec, &saved_path.display().to_string())?,
        None => None,
    };
    let text = match (&codec, encrypted) {
        (Some(c), _) => {
            let plain = c.decrypt(raw.as_bytes()).map_err(|e| {
                anyhow::anyhow!("refusing the saved plan {}: {e}", saved_path.display())
            })?;
            String::from_utf8(plain)
                .with_context(|| format!("{} is not a saved mlinfra plan", saved_path.display()))?
        }
        (None, true) => bail!(
            "the saved plan {} is encrypted, and this configuration has no `encryption` block to decrypt it; apply it from the configuration that made it (docs/state.md#encryption)",
            saved_path.display()
        ),
        (None, false) => raw,
    };
    let j: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a saved mlinfra plan", saved_path.display()))?;
    plan_json::verify(&j).map_err(|e| {
        anyhow::anyhow!(
            "refusing the saved plan {}: {e}; run `mlinfra plan -out={}` again",
            saved_path.display(),
            saved_path.display()
        )
    })?;
    plan_json::from_json(&j)
        .map_err(|e| anyhow::anyhow!("{} is not a saved mlinfra plan: {e}", saved_path.display()))
}

/// A saved plan applies only to the state and configuration it was made from.
fn check_saved(saved_path: &Path, saved: &Plan, current: &Plan) -> Result<()> {
    let (a, b) = (&saved.binding, &current.binding);
    let why = if a.lineage != b.lineage {
        Some(format!(
            "it was made for state lineage {}, but the state is {}",
            a.lineage, b.lineage
        ))
    } else if a.serial != b.serial {
        Some(format!(
            "the state changed since it was made (serial {} then, {} now)",
            a.serial, b.serial
        ))
    } else if a.config_hash != b.config_hash {
        Some("the configuration or its inputs changed since it was made".to_string())
    } else {
        let actions = |p: &Plan| {
            p.changes
                .iter()
                .map(|c| (c.address.clone(), c.action))
                .collect::<Vec<_>>()
        };
        if actions(saved) != actions(current) {
            Some(
                "live state changed since it was made, so it would no longer do the same"
                    .to_string(),
            )
        } else {
            // The same actions must make the same values: what apply makes is what the
            // saved plan shows (sensitive values compared as redacted, on both sides).
            let values = |p: &Plan| {
                let j = plan_json::to_json(p);
                scrub(
                    &serde_json::to_string(&serde_json::json!([
                        j["resource_changes"],
                        j["output_changes"]
                    ]))
                    .unwrap_or_default(),
                )
                .into_owned()
            };
            let first = saved
                .changes
                .iter()
                .zip(&current.changes)
                .find(|(a, b)| plan_json::change_json(a) != plan_json::change_json(b))
                .map(|(a, _)| a.address.clone());
            (values(saved) != values(current)).then(|| match first {
                Some(addr) => format!("the values planned for {addr} are not what the configuration and live state give now"),
                None => "the planned values are not what the configuration and live state give now".to_string(),
            })
        }
    };
    match why {
        Some(why) => bail!(
            "the saved plan {} is stale: {why}; run `mlinfra plan -out={}` again",
            saved_path.display(),
            saved_path.display()
        ),
        None => Ok(()),
    }
}

fn interrupts() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

pub fn apply(dir: &Path, m: &ArgMatches, args: &ApplyArgs, destroy: bool, nc: bool) -> Result<u8> {
    let parse = |list: &[String], flag: &str| -> Result<Vec<Address>> {
        list.iter()
            .map(|s| {
                Address::parse_target(s)
                    .map_err(|e| anyhow::anyhow!("invalid {flag} address \"{s}\": {e}"))
            })
            .collect()
    };
    let targets = parse(&args.target, "--target")?;
    let excludes = parse(&args.exclude, "--exclude")?;
    let replace = parse(&args.replace, "--replace")?;
    let lock_timeout = mlinfra_engine::config::load::parse_duration(&args.lock_timeout)
        .map(Duration::from_secs)
        .with_context(|| format!("invalid --lock-timeout \"{}\"", args.lock_timeout))?;
    if args.parallelism == Some(0) {
        bail!("--parallelism must be at least 1");
    }
    let operation = if destroy { "destroy" } else { "apply" };
    // A saved plan is checked before anything is locked, read or written.
    let saved = args
        .planfile
        .as_deref()
        .map(|p| read_saved(p, dir, &crate::workspace::cli_inputs(m), nc))
        .transpose()?;
    let Some(mut session) = Session::open(dir, m, operation, lock_timeout, nc)? else {
        return Ok(EXIT_ERROR);
    };
    let st = Style::stdout(nc);
    let printer = Printer::new(st);
    let counter = interrupts();

    // A saved plan is re-made with the options it was made with, then compared.
    let opts = match &saved {
        Some(p) => {
            if !args.target.is_empty() || !args.replace.is_empty() || !args.exclude.is_empty() {
                bail!("--target, --exclude and --replace cannot be combined with a saved plan; they were fixed when it was made");
            }
            PlanOptions {
                targets: p
                    .targets
                    .iter()
                    .map(|t| Address::parse_target(t))
                    .collect::<Result<_, _>>()
                    .map_err(|e| anyhow::anyhow!(e))?,
                excludes: p
                    .excludes
                    .iter()
                    .map(|t| Address::parse_target(t))
                    .collect::<Result<_, _>>()
                    .map_err(|e| anyhow::anyhow!(e))?,
                replace: p
                    .changes
                    .iter()
                    .filter(|c| c.reason == Some(mlinfra_engine::plan::Reason::ReplaceRequested))
                    .filter_map(|c| Address::parse(&c.address).ok())
                    .collect(),
                refresh_only: false,
                destroy: p.destroy,
            }
        }
        None => PlanOptions {
            targets,
            excludes,
            replace,
            refresh_only: false,
            destroy,
        },
    };
    if let Some(p) = &saved {
        // A plan made before any state existed starts the state with the plan's lineage.
        if !session.state_exists && p.binding.serial == 0 {
            session.state.lineage = p.binding.lineage.clone();
        }
    }
    // Recovery of an interrupted run's creates happens in memory here, like refresh; it is
    // written only once the plan (and a saved plan's match) is checked.
    let Some(Planned {
        evaluated,
        plan,
        prior,
        interrupted_creates,
        refactored,
    }) = session.plan(&opts, args.refresh, true)
    else {
        return Ok(EXIT_ERROR);
    };
    if let (Some(path), Some(saved)) = (&args.planfile, &saved) {
        check_saved(path, saved, &plan)?;
    }
    print!("{}", scrub(&render::plan(&plan, st)));
    let mut prior = prior;
    if !session.state.pending.is_empty() {
        // Record what recovery found (the adopted objects; only the intents it could not
        // look up stay pending), whatever is applied next.
        let mut recorded = session.state.clone();
        recorded.pending = prior.pending.clone();
        // `prior` has the addresses of `moved` blocks; this record keeps the old ones
        // until the moves are written below.
        for (addr, r) in &prior.resources {
            let at = refactored.moved.get(addr).unwrap_or(addr);
            if !session.state.resources.contains_key(at)
                && !plan
                    .changes
                    .iter()
                    .any(|c| &c.address == addr && c.importing.is_some())
            {
                recorded.resources.insert(at.clone(), r.clone());
            }
        }
        let based_on = session.state_exists.then_some(session.state.serial);
        session.store.write(&mut recorded, based_on)?;
        session.state_exists = true;
        session.state = recorded;
        prior.serial = session.state.serial;
    }
    if !plan.has_changes() {
        return Ok(0);
    }
    if args.planfile.is_none() && !args.auto_approve {
        let q = if destroy {
            "Do you really want to destroy all resources in this plan? There is no undo."
        } else {
            "Do you want to perform these actions?"
        };
        if !confirm(q)? {
            println!("\nApply cancelled.");
            return Ok(EXIT_ERROR);
        }
    }
    println!();

    // Ctrl-C and SIGTERM (how CI systems cancel a job): the first stops new operations
    // and lets those in flight finish and be recorded; the second exits at once (state is
    // already durable, and the next apply recovers what was in flight).
    {
        let counter = counter.clone();
        session.rt.spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            loop {
                let what = match term.as_mut() {
                    Some(t) => tokio::select! {
                        r = tokio::signal::ctrl_c() => r.ok().map(|_| "Interrupt"),
                        s = t.recv() => s.map(|_| "SIGTERM"),
                    },
                    None => tokio::signal::ctrl_c().await.ok().map(|_| "Interrupt"),
                };
                let Some(what) = what else { return };
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                if n == 1 {
                    eprintln!("\n{what} received: finishing the operations in flight and starting nothing new. Send it again to exit at once.");
                } else {
                    eprintln!("\nSecond {what}: exiting now. Every finished operation is in state; the next apply adopts what was in flight.");
                    std::process::exit(i32::from(EXIT_ERROR));
                }
            }
        });
    }
    // Credentials are resolved once, before the first call: a refusal changes nothing.
    let keys: std::collections::BTreeSet<String> = plan
        .changes
        .iter()
        .filter(|c| {
            !matches!(
                c.action,
                mlinfra_engine::plan::Action::NoOp | mlinfra_engine::plan::Action::Forget
            )
        })
        .filter_map(|c| c.provider.clone())
        .collect();
    let configured = session.rt.block_on(mlinfra_engine::configure::configure(
        &session.providers,
        &evaluated,
        &keys,
    ));
    if crate::workspace::print_diagnostics(&session.ws.config, &configured, nc) {
        return Ok(EXIT_ERROR);
    }
    let ctx = ApplyContext {
        config: &session.ws.config,
        inputs: &session.ws.inputs,
        evaluated: &evaluated,
        providers: &session.providers,
        store: &session.store,
        progress: &printer,
        interrupts: &counter,
    };
    let started = std::time::Instant::now();
    // Imported objects are recorded first, as they were read at plan time, with the
    // addresses `moved` blocks gave and without what `removed` blocks forget: one write.
    let mut refreshed = prior;
    let imported: Vec<String> = plan
        .changes
        .iter()
        .filter_map(|c| {
            c.importing
                .as_ref()
                .map(|id| format!("{} (id {id})", c.address))
        })
        .collect();
    if !imported.is_empty() || !refactored.is_empty() {
        let based_on = session.state_exists.then_some(session.state.serial);
        session.store.write(&mut refreshed, based_on)?;
        for (to, from) in &refactored.moved {
            printer.line(format!("{from}: Moved to {to}"));
        }
        for addr in refactored.forgotten.keys() {
            printer.line(format!(
                "{addr}: Removed from state; the cloud object is kept"
            ));
        }
        for i in &imported {
            printer.line(format!("{i}: Import complete"));
        }
    }
    // Apply against the refreshed state the plan was made from.

    let report = session.rt.block_on(apply::apply(
        &ctx,
        &plan,
        refreshed,
        &ApplyOptions {
            parallelism: args.parallelism,
            interrupted_creates,
        },
    ))?;
    let (added, changed, destroyed) = (
        report.count(Op::Create),
        report.count(Op::Update),
        report.count(Op::Delete),
    );
    println!();
    // Postconditions and checks that waited for the cloud's values are checked now.
    let mut condition_failed = false;
    let succeeded = report.failed.is_empty() && report.skipped.is_empty() && !report.interrupted;
    if succeeded && !evaluated.conditions.is_empty() && !destroy {
        let attrs = report.state.attributes();
        let (after, _) = mlinfra_engine::evaluate(
            &session.ws.config,
            &mlinfra_engine::EvalOptions {
                inputs: &session.ws.inputs,
                prior: &attrs,
                replaced: &Default::default(),
            },
        );
        let d = mlinfra_engine::config::conditions::after_apply(&after.conditions);
        crate::workspace::print_each(&session.ws.config, &d, nc);
        condition_failed = d.has_errors();
    }
    if condition_failed {
        println!(
            "{} Resources: {added} added, {changed} changed, {destroyed} destroyed; a postcondition or output precondition is false for what was made (above).",
            st.bold(&st.red("Apply complete, but a condition failed."))
        );
        return Ok(EXIT_ERROR);
    }
    if succeeded {
        println!(
            "{} Resources: {}{added} added, {changed} changed, {destroyed} destroyed.",
            st.bold(&st.green(if destroy {
                "Destroy complete!"
            } else {
                "Apply complete!"
            })),
            if imported.is_empty() {
                String::new()
            } else {
                format!("{} imported, ", imported.len())
            }
        );
        if !report.completed.is_empty() {
            println!(
                "{}",
                st.dim(&format!(
                    "{} operations in {}, up to {} at once.",
                    report.completed.len(),
                    secs(started.elapsed()),
                    report.max_in_flight
                ))
            );
        }

        if !report.state.outputs.is_empty() && !destroy {
            println!("\nOutputs:\n");
            for (k, o) in &report.state.outputs {
                let v = if o.sensitive {
                    "(sensitive value)".to_string()
                } else {
                    render::inline(&o.value)
                };
                println!("{k} = {v}");
            }
        }
        return Ok(0);
    }
    println!(
        "{} Resources: {added} added, {changed} changed, {destroyed} destroyed; {} failed, {} not started.",
        st.bold(&st.red(if report.interrupted { "Apply interrupted." } else { "Apply failed." })),
        report.failed.len(),
        report.skipped.len()
    );
    for (a, e) in &report.failed {
        eprintln!("{} {a}: {}", st.red("failed:"), scrub(e));
    }
    for (a, r) in &report.skipped {
        eprintln!("{} {a}: {r}", st.yellow("not started:"));
    }
    Ok(EXIT_ERROR)
}
