//! `policy emit`: Kueue objects for the GPU pools, queues and priority classes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::ArgMatches;

use crate::session::Session;
use crate::workspace::print_diagnostics;
use crate::{VarArgs, EXIT_ERROR};

#[derive(clap::Subcommand, Debug)]
pub enum PolicyCommand {
    /// Write the Kubernetes objects: one YAML file per kind into DIR, or one
    /// multi-document stream on standard output (`--out -`, the default).
    #[command(
        after_help = "Examples:\n  mlinfra policy emit                 # one YAML stream on stdout\n  mlinfra policy emit --out policies  # policies/clusterqueues.yaml, …\n  mlinfra policy emit --karpenter --volcano\n  mlinfra policy emit | kubectl apply -f -"
    )]
    Emit {
        /// Directory for the files, or `-` for standard output.
        #[arg(long, value_name = "DIR", default_value = "-")]
        out: PathBuf,
        /// Also a Karpenter NodePool (karpenter.sh/v1) per AWS GPU pool.
        #[arg(long)]
        karpenter: bool,
        /// The EC2NodeClass the Karpenter NodePools use.
        #[arg(long = "node-class", value_name = "NAME", default_value = "default")]
        node_class: String,
        /// Also a Volcano Queue (scheduling.volcano.sh/v1beta1) per queue.
        #[arg(long)]
        volcano: bool,
        #[command(flatten)]
        vars: VarArgs,
    },
}

pub fn policy(dir: &Path, m: &ArgMatches, cmd: &PolicyCommand, nc: bool) -> Result<u8> {
    let PolicyCommand::Emit {
        out,
        karpenter,
        node_class,
        volcano,
        ..
    } = cmd;
    let opts = mlinfra_gpu_policy::Options {
        karpenter: *karpenter,
        node_class: node_class.clone(),
        volcano: *volcano,
    };
    // The inputs (--var, --var-file) belong to the `emit` subcommand.
    let m = m.subcommand().map(|(_, sub)| sub).unwrap_or(m);
    let Some(session) = Session::open(dir, m, "policy emit", Duration::ZERO, nc)? else {
        return Ok(EXIT_ERROR);
    };
    let ws = &session.ws;
    let mut diags = mlinfra_engine::Diagnostics::default();
    let (evaluated, d) = ws.evaluate_stateless();
    diags.extend(d);
    if !diags.has_errors() {
        let (_, d) = mlinfra_gpu_policy::emit_with(&evaluated, &opts);
        diags.extend(d);
    }
    diags.sort();
    if print_diagnostics(&ws.config, &diags, nc) {
        return Ok(EXIT_ERROR);
    }
    let (objects, _) = mlinfra_gpu_policy::emit_with(&evaluated, &opts);
    if out.as_os_str() == "-" {
        print!(
            "{}",
            mlinfra_engine::secrets::scrub(&mlinfra_gpu_policy::stream(&objects))
        );
        record(&session, &objects)?;
        return Ok(0);
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let files = mlinfra_gpu_policy::files(&objects);
    for (name, text) in &files {
        let path = out.join(name);
        mlinfra_engine::files::atomic_write_mode(&path, text.as_bytes(), 0o644)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    record(&session, &objects)?;
    eprintln!(
        "Wrote {} objects in {} files to {}: {}",
        objects.len(),
        files.len(),
        out.display(),
        files.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    );
    Ok(0)
}

/// Remember what was emitted, so `plan` can list the policy objects that would change.
fn record(session: &Session, objects: &[mlinfra_gpu_policy::Object]) -> Result<()> {
    let prints = mlinfra_gpu_policy::fingerprints(objects);
    if prints == session.state.policies {
        return Ok(());
    }
    let mut state = session.state.clone();
    state.policies = prints;
    let based_on = session.state_exists.then_some(state.serial);
    session.store.write(&mut state, based_on)?;
    Ok(())
}

/// The policy objects that differ from what `policy emit` last wrote, for `plan`.
pub fn plan_changes(
    evaluated: &mlinfra_engine::Evaluated,
    state: &mlinfra_engine::state::State,
) -> (Vec<(char, String)>, mlinfra_engine::Diagnostics) {
    let had = |kind: &str| {
        state
            .policies
            .keys()
            .any(|k| k.starts_with(&format!("{kind} ")))
    };
    let opts = mlinfra_gpu_policy::Options {
        karpenter: had("NodePool"),
        volcano: had("Queue"),
        ..Default::default()
    };
    let (objects, diags) = mlinfra_gpu_policy::emit_with(evaluated, &opts);
    let now = mlinfra_gpu_policy::fingerprints(&objects);
    (mlinfra_gpu_policy::changes(&state.policies, &now), diags)
}
