//! State in an object store with conditional writes (S3's `If-Match`/`If-None-Match`):
//! the snapshot, a lock object and journal entries as objects of their own.
//!
//! - The snapshot is written only over the version (ETag) it was read at, or only when
//!   absent, so a stale writer is refused by the store itself, lock or no lock.
//! - The lock is an object created only when absent, holding the holder's record. The
//!   holder rewrites it (over its own version) every [`HEARTBEAT`] to show it is alive.
//!   A lock whose holder ran on this host and no longer runs is taken over (over the
//!   version read, so two runs cannot both take it); any other lock is reported with its
//!   holder and heartbeat age, and `force-unlock` removes it.
//! - Journal entries are `KEY.journal/BASE/SERIAL`, each created only when absent.
//! - A conditional write whose answer was lost and was retried comes back as a failed
//!   precondition even though it succeeded: the object is read back, and when it is what
//!   this run wrote (its bytes, or its lock id) the write counts as done.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mlinfra_engine::state::{LockInfo, StateError};
use mlinfra_engine::store::{unix_now, Backend, HeldLock, Stored, TryLock};

/// How often a lock holder shows it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// A heartbeat older than this marks a holder that is probably gone.
pub const STALE_AFTER: u64 = 120;

/// When a write may happen.
#[derive(Clone, Copy, Debug)]
pub enum Cond<'a> {
    /// Only when no object is there.
    Absent,
    /// Only when the object is at this version.
    Version(&'a str),
}

/// A write refused because its condition did not hold.
#[derive(Debug)]
pub struct Precondition;

/// The few object operations the state needs, with conditions.
pub trait Objects: Send + Sync + 'static {
    /// `bucket/container` for messages.
    fn describe(&self, key: &str) -> String;
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StateError>;
    fn put(
        &self,
        key: &str,
        bytes: &[u8],
        cond: Cond<'_>,
    ) -> Result<Result<String, Precondition>, StateError>;
    fn delete(&self, key: &str) -> Result<(), StateError>;
    /// Every key under `prefix`, sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StateError>;
}

/// Where each workspace's objects are.
#[derive(Clone, Debug)]
pub enum Layout {
    /// Terraform's S3 layout: `KEY` for default, `PREFIX/NAME/KEY` for the others.
    KeyPrefix { key: String, prefix: String },
    /// Terraform's GCS and Azure layout: `PREFIXNAME SUFFIX` for every workspace
    /// (`prefix` empty or ending in `/`).
    Named { prefix: String, suffix: String },
    /// Terraform's azurerm layout: `KEY` for default, `KEYINFIXNAME` for the others.
    KeyInfix { key: String, infix: String },
}

impl Layout {
    fn state_key(&self, workspace: &str) -> String {
        match self {
            Layout::KeyPrefix { key, prefix } => {
                if workspace == "default" {
                    key.clone()
                } else {
                    format!("{prefix}/{workspace}/{key}")
                }
            }
            Layout::Named { prefix, suffix } => format!("{prefix}{workspace}{suffix}"),
            Layout::KeyInfix { key, infix } => {
                if workspace == "default" {
                    key.clone()
                } else {
                    format!("{key}{infix}{workspace}")
                }
            }
        }
    }
}

/// A backend over any [`Objects`].
pub struct ObjectBackend<O: Objects> {
    objects: Arc<O>,
    layout: Layout,
    key: String,
}

impl<O: Objects> ObjectBackend<O> {
    pub fn new(objects: O, layout: Layout, workspace: &str) -> Self {
        let key = layout.state_key(workspace);
        ObjectBackend {
            objects: Arc::new(objects),
            layout,
            key,
        }
    }

    pub(crate) fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }

    pub(crate) fn objects(&self) -> &Arc<O> {
        &self.objects
    }

    fn journal_prefix(&self) -> String {
        format!("{}.journal/", self.key)
    }

    fn entry_key(&self, base: u64, serial: u64) -> String {
        format!("{}{base:020}/{serial:020}", self.journal_prefix())
    }

    fn conflict(&self, detail: impl Into<String>) -> StateError {
        StateError::Conflict {
            location: self.objects.describe(&self.key),
            detail: detail.into(),
        }
    }

    /// Create `key` only when absent; an own write retried after a lost answer counts.
    fn create(&self, key: &str, bytes: &[u8]) -> Result<(), StateError> {
        match self.objects.put(key, bytes, Cond::Absent)? {
            Ok(_) => Ok(()),
            Err(Precondition) => match self.objects.get(key)? {
                Some((b, _)) if b == bytes => Ok(()),
                _ => Err(self.conflict(format!("{key} exists already: another run wrote it"))),
            },
        }
    }

    fn read_lock(&self) -> Result<Option<(LockInfo, String)>, StateError> {
        match self.objects.get(&self.lock_key())? {
            None => Ok(None),
            Some((bytes, version)) => {
                let info = serde_json::from_slice::<LockInfo>(&bytes).unwrap_or_else(|_| {
                    LockInfo::unknown(
                        "its lock record does not parse",
                        &self.objects.describe(&self.key),
                    )
                });
                Ok(Some((info, version)))
            }
        }
    }
}

/// A holder that runs on this host is never unlocked from under it.
pub(crate) fn refuse_live_here(holder: LockInfo) -> Result<(), StateError> {
    if holder.host == mlinfra_engine::state::this_host() && !holder.holder_is_dead() {
        return Err(StateError::Locked {
            holder: Box::new(holder),
        });
    }
    Ok(())
}

/// The holder's record as the lock object (or blob) keeps it, with the time of this
/// heartbeat.
pub(crate) fn record(info: &LockInfo) -> Vec<u8> {
    let mut i = info.clone();
    i.heartbeat = Some(unix_now());
    serde_json::to_vec_pretty(&i).unwrap_or_default()
}

impl<O: Objects> Backend for ObjectBackend<O> {
    fn location(&self) -> String {
        self.objects.describe(&self.key)
    }

    fn read(&self) -> Result<Option<Stored>, StateError> {
        Ok(self
            .objects
            .get(&self.key)?
            .map(|(bytes, version)| Stored { bytes, version }))
    }

    fn write(&self, bytes: &[u8], expected: Option<&str>) -> Result<String, StateError> {
        let cond = match expected {
            Some(v) => Cond::Version(v),
            None => Cond::Absent,
        };
        match self.objects.put(&self.key, bytes, cond)? {
            Ok(v) => Ok(v),
            // The answer to a write that landed was lost and the write retried.
            Err(Precondition) => match self.objects.get(&self.key)? {
                Some((b, v)) if b == bytes => Ok(v),
                _ => Err(self.conflict("another run wrote the state since this run read it")),
            },
        }
    }

    fn try_lock(&self, info: &LockInfo) -> Result<TryLock, StateError> {
        let body = record(info);
        let key = self.lock_key();
        let (taken, abandoned_by) = match self.objects.put(&key, &body, Cond::Absent)? {
            Ok(v) => (v, None),
            Err(Precondition) => {
                let Some((holder, version)) = self.read_lock()? else {
                    // Released in between: try again.
                    return self.try_lock(info);
                };
                if holder.id == info.id {
                    // Our own create, retried after its answer was lost.
                    (version, None)
                } else if holder.holder_is_dead() {
                    // Its run was killed on this host: take the lock over, over the
                    // version read, so only one run can.
                    match self.objects.put(&key, &body, Cond::Version(&version))? {
                        Ok(v) => (v, Some(holder)),
                        Err(Precondition) => match self.read_lock()? {
                            Some((h, v)) if h.id == info.id => (v, Some(holder)),
                            Some((h, _)) => return Ok(TryLock::Held(h)),
                            None => return self.try_lock(info),
                        },
                    }
                } else {
                    return Ok(TryLock::Held(holder));
                }
            }
        };
        Ok(TryLock::Acquired {
            guard: Box::new(ObjectLock::start(
                Arc::clone(&self.objects),
                key,
                info.clone(),
                taken,
            )),
            abandoned_by,
        })
    }

    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(self.read_lock()?.map(|(i, _)| i))
    }

    fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        let holder = LockInfo::to_unlock(self.read_lock()?.map(|(h, _)| h), id)?;
        refuse_live_here(holder.clone())?;
        self.objects.delete(&self.lock_key())?;
        Ok(holder)
    }

    fn journal_append(&self, base: u64, serial: u64, bytes: &[u8]) -> Result<(), StateError> {
        self.create(&self.entry_key(base, serial), bytes)
    }

    fn journal_read(&self, base: u64) -> Result<Vec<Vec<u8>>, StateError> {
        let prefix = format!("{}{base:020}/", self.journal_prefix());
        let mut out = Vec::new();
        for k in self.objects.list(&prefix)? {
            if let Some((b, _)) = self.objects.get(&k)? {
                out.push(b);
            }
        }
        Ok(out)
    }

    fn journal_clear(&self) -> Result<(), StateError> {
        for k in self.objects.list(&self.journal_prefix())? {
            self.objects.delete(&k)?;
        }
        Ok(())
    }

    fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let mut names = Vec::new();
        match &self.layout {
            Layout::KeyPrefix { key, prefix } => {
                if self.objects.get(key)?.is_some() {
                    names.push("default".to_string());
                }
                let start = format!("{prefix}/");
                for k in self.objects.list(&start)? {
                    if let Some(name) = k
                        .strip_prefix(&start)
                        .and_then(|rest| rest.strip_suffix(&format!("/{key}")))
                        .filter(|n| !n.contains('/'))
                    {
                        names.push(name.to_string());
                    }
                }
            }
            Layout::KeyInfix { key, infix } => {
                let others = format!("{key}{infix}");
                for k in self.objects.list(key)? {
                    if k == *key {
                        names.push("default".to_string());
                    } else if let Some(name) = k
                        .strip_prefix(others.as_str())
                        .filter(|n| crate::check_workspace_name(n).is_ok())
                    {
                        names.push(name.to_string());
                    }
                }
            }
            Layout::Named { prefix, suffix } => {
                for k in self.objects.list(prefix)? {
                    if let Some(name) = k
                        .strip_prefix(prefix.as_str())
                        .and_then(|rest| rest.strip_suffix(suffix.as_str()))
                        .filter(|n| crate::check_workspace_name(n).is_ok())
                    {
                        names.push(name.to_string());
                    }
                }
            }
        }
        Ok(names)
    }

    fn delete_workspace(&self, name: &str) -> Result<(), StateError> {
        let other = ObjectBackend {
            objects: Arc::clone(&self.objects),
            layout: self.layout.clone(),
            key: self.layout.state_key(name),
        };
        other.journal_clear()?;
        other.objects.delete(&other.key)?;
        other.objects.delete(&other.lock_key())?;
        Ok(())
    }
}

/// What one beat of a held lock found.
pub(crate) enum Beat {
    /// Still ours.
    Alive,
    /// Taken over or removed: from now on the run writes nothing.
    Lost(&'static str),
    /// A transient fault: the next beat tries again.
    Retry,
}

/// A thread that calls `beat` every [`HEARTBEAT`] while a lock is held, and records when
/// the lock is lost.
pub(crate) struct Heartbeat {
    stop: Arc<AtomicBool>,
    lost: Arc<Mutex<Option<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    pub(crate) fn start(name: &str, mut beat: impl FnMut() -> Beat + Send + 'static) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(Mutex::new(None));
        let thread = {
            let (stop, lost) = (Arc::clone(&stop), Arc::clone(&lost));
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    let step = Duration::from_millis(100);
                    let mut waited = Duration::ZERO;
                    while !stop.load(Ordering::SeqCst) {
                        std::thread::sleep(step);
                        waited += step;
                        if waited < HEARTBEAT {
                            continue;
                        }
                        waited = Duration::ZERO;
                        match beat() {
                            Beat::Alive | Beat::Retry => {}
                            Beat::Lost(why) => {
                                if let Ok(mut g) = lost.lock() {
                                    *g = Some(why.into());
                                }
                                return;
                            }
                        }
                    }
                })
                .ok()
        };
        Heartbeat { stop, lost, thread }
    }

    /// Stop beating (waits for a beat in flight).
    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    pub(crate) fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|g| g.clone())
    }

    pub(crate) fn watch(&self) -> mlinfra_engine::store::LostWatch {
        Arc::clone(&self.lost)
    }
}

/// A held lock object, rewritten every [`HEARTBEAT`] (over its own version) to show the
/// run is alive.
struct ObjectLock<O: Objects> {
    objects: Arc<O>,
    key: String,
    id: String,
    heartbeat: Heartbeat,
}

impl<O: Objects> ObjectLock<O> {
    fn start(objects: Arc<O>, key: String, info: LockInfo, version: String) -> Self {
        let id = info.id.clone();
        let heartbeat = {
            let (objects, key) = (Arc::clone(&objects), key.clone());
            let mut version = version;
            Heartbeat::start("mlinfra-lock-heartbeat", move || {
                match objects.put(&key, &record(&info), Cond::Version(&version)) {
                    Ok(Ok(v)) => {
                        version = v;
                        Beat::Alive
                    }
                    Ok(Err(Precondition)) => Beat::Lost(
                        "the lock was taken over or removed (force-unlock) while this run held it",
                    ),
                    Err(_) => Beat::Retry,
                }
            })
        };
        ObjectLock {
            objects,
            key,
            id,
            heartbeat,
        }
    }
}

impl<O: Objects> HeldLock for ObjectLock<O> {
    fn release(&mut self) -> Result<(), StateError> {
        self.heartbeat.stop();
        // Remove the lock only while it is still ours.
        match self.objects.get(&self.key)? {
            Some((bytes, _)) => {
                let holder: Option<LockInfo> = serde_json::from_slice(&bytes).ok();
                if holder.is_some_and(|h| h.id == self.id) {
                    self.objects.delete(&self.key)?;
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn lost(&self) -> Option<String> {
        self.heartbeat.lost()
    }

    fn watch(&self) -> Option<mlinfra_engine::store::LostWatch> {
        Some(self.heartbeat.watch())
    }
}
