//! The state backends of mlinfra: each place state can live, behind the store's
//! [`Backend`] trait. The local backend lives in the engine; the remote ones here, each on
//! its cloud's SDK, with a runtime of their own so that the store can call them from
//! anywhere (an apply's runtime included).

use std::future::Future;
use std::path::Path;

use mlinfra_engine::backend_config::BackendSpec;
use mlinfra_engine::state::{LocalBackend, StateError};
use mlinfra_engine::store::{Backend, StateStore};

mod azure;
mod gcs;
mod objects;
mod pg;
mod s3;

pub use objects::{HEARTBEAT, STALE_AFTER};

/// The workspace a configuration directory has selected: `MLINFRA_WORKSPACE`, else the
/// one `mlinfra workspace select` recorded in `.mlinfra/environment`, else `default`.
pub fn current_workspace(dir: &Path) -> String {
    if let Ok(w) = std::env::var("MLINFRA_WORKSPACE") {
        if !w.is_empty() {
            return w;
        }
    }
    std::fs::read_to_string(dir.join(".mlinfra").join("environment"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// Whether `name` can name a workspace: letters, digits, `-` and `_`, at most 90.
pub fn check_workspace_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 90
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "\"{name}\" is not a workspace name: use letters, digits, `-` and `_` (at most 90)"
        ));
    }
    Ok(())
}

/// The backend `spec` describes, for workspace `workspace`.
pub fn open_backend(spec: &BackendSpec, workspace: &str) -> Result<Box<dyn Backend>, StateError> {
    check_workspace_name(workspace).map_err(|m| StateError::Conflict {
        location: spec.describe(),
        detail: m,
    })?;
    match spec.kind.as_str() {
        "local" => Ok(Box::new(LocalBackend::for_workspace(
            spec.local_path(),
            workspace,
        ))),
        "s3" => Ok(Box::new(s3::S3Backend::open(spec, workspace)?)),
        "gcs" => Ok(Box::new(gcs::GcsBackend::open(spec, workspace)?)),
        "azurerm" => Ok(Box::new(azure::AzureBackend::open(spec, workspace)?)),
        "pg" => Ok(Box::new(pg::PgBackend::open(spec, workspace)?)),
        other => Err(StateError::Conflict {
            location: other.to_string(),
            detail: format!("backend \"{other}\" is not available in this build"),
        }),
    }
}

/// A store over the backend `spec` describes, for workspace `workspace`.
pub fn open_store(spec: &BackendSpec, workspace: &str) -> Result<StateStore, StateError> {
    let store = StateStore::new(open_backend(spec, workspace)?, workspace);
    Ok(match codec(spec, &store.location())? {
        Some(c) => store.with_codec(c),
        None => store,
    })
}

/// The codec of the configuration's `encryption` block (none without one): the
/// passphrases from the variables it names. `location` is for the message when the
/// passphrase is missing.
pub fn codec(
    spec: &BackendSpec,
    location: &str,
) -> Result<Option<mlinfra_engine::crypto::Codec>, StateError> {
    let Some(e) = &spec.encryption else {
        return Ok(None);
    };
    let passphrase = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let missing = |detail: String| StateError::Conflict {
        location: location.to_string(),
        detail,
    };
    let primary = match (&e.passphrase_variable, &e.passphrase) {
        (Some(_), Some(p)) if !p.0.is_empty() => p.0.clone(),
        (Some(name), _) => {
            return Err(missing(format!(
                "the configuration encrypts its state with the passphrase in variable \"{name}\", which has no value: pass --var {name}=…, set MLINFRA_VAR_{name} (in CI, from the secret store), or put it in a *.auto.mlinfra.vars file"
            )))
        }
        (None, _) => passphrase(&e.passphrase_env).ok_or_else(|| {
            missing(format!(
                "the configuration encrypts its state, and {} is not set: export the passphrase in {} (in CI, from the secret store)",
                e.passphrase_env, e.passphrase_env
            ))
        })?,
    };
    let fallback = e.fallback_passphrase_env.as_deref().and_then(passphrase);
    Ok(Some(mlinfra_engine::crypto::Codec::new(
        primary, fallback, e.enforced,
    )))
}

/// How long one request to a remote backend may go unanswered before it is abandoned
/// and tried again: `MLINFRA_STATE_ATTEMPT_TIMEOUT` seconds, default 60.
pub(crate) fn attempt_timeout() -> std::time::Duration {
    let secs = std::env::var("MLINFRA_STATE_ATTEMPT_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(60);
    std::time::Duration::from_secs(secs)
}

/// How many times a remote backend's SDK sends a request that failed transiently (a
/// 500, a 503, a timeout) before the write fails.
pub(crate) const ATTEMPTS: u32 = 4;

/// An error with its causes, `: `-separated (an SDK's dispatch failure says little
/// without them).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut chain = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        chain.push(s.to_string());
        cur = s.source();
    }
    chain.join(": ")
}

/// A runtime for one backend's SDK calls. Calls are sent to it and waited for on the
/// calling thread, so they work from inside another runtime too.
pub(crate) struct Rt {
    rt: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl Rt {
    pub(crate) fn new() -> Result<Rt, StateError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mlinfra-state")
            .enable_all()
            .build()
            .map_err(|source| StateError::Io {
                action: "start the state backend's runtime",
                path: "".into(),
                source,
            })?;
        let handle = rt.handle().clone();
        Ok(Rt {
            rt: Some(rt),
            handle,
        })
    }

    /// Run `f` on this runtime and wait for its result.
    pub(crate) fn run<F, T>(&self, f: F) -> Result<T, StateError>
    where
        F: Future<Output = Result<T, StateError>> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        self.handle.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().unwrap_or_else(|_| {
            Err(StateError::Io {
                action: "call the state backend",
                path: "".into(),
                source: std::io::Error::other("the call ended without an answer"),
            })
        })
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        // Dropping a runtime inside another one is refused; this never blocks.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
