//! The state store: the rules of state (lineage, serial, backups, the journal) kept once,
//! over a small backend trait that each place state can live in implements.
//!
//! A backend stores opaque bytes: one snapshot with a version it can compare-and-swap on,
//! a journal of entries appended after that snapshot, and a lock with a holder record.
//! The store decides what the bytes are and when each is written.
//!
//! Journal: while an apply runs, each finished operation appends one entry (the
//! resource and pending create of one address, or the outputs) instead of rewriting the
//! whole state, so an operation costs I/O proportional to itself. Entries name the serial
//! of the snapshot they follow (`base`) and their own serial; reading replays the entries
//! of the current snapshot in serial order and stops at the first gap or torn entry. The
//! journal is folded into a new snapshot (compaction) when it outgrows the snapshot and
//! at the end of the run. A run killed at any instant leaves a snapshot and a journal
//! that replay to the last finished operation.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::state::{
    hostname, next_serial, resource_from_file, resource_to_file, LockInfo, OutputState,
    PendingCreate, State, StateError, StateResourceFile,
};

/// A stored snapshot: its bytes and the backend's version of them (an ETag, a
/// generation, a hash), which a conditional write names.
#[derive(Clone, Debug)]
pub struct Stored {
    pub bytes: Vec<u8>,
    pub version: String,
}

/// A lock a backend holds for this process until released.
pub trait HeldLock: Send {
    /// Give the lock up. Called once; errors are reported, not retried.
    fn release(&mut self) -> Result<(), StateError>;
    /// Why the lock is no longer held (a lease that could not be renewed), if so.
    fn lost(&self) -> Option<String> {
        None
    }
    /// Where the lock says it was lost, for the store to check before each write.
    fn watch(&self) -> Option<LostWatch> {
        None
    }
}

/// Set (with the reason) when a held lock is lost: taken over or removed by another run.
pub type LostWatch = std::sync::Arc<Mutex<Option<String>>>;

/// The outcome of one attempt to lock.
pub enum TryLock {
    /// Locked; `abandoned_by` is a holder whose run ended without releasing its lock and
    /// whose lock this one replaced (it was killed, or its lease expired).
    Acquired {
        guard: Box<dyn HeldLock>,
        abandoned_by: Option<LockInfo>,
    },
    /// Someone else holds it.
    Held(LockInfo),
}

/// One place state can live: local files, an object store, a database.
pub trait Backend: Send + Sync {
    /// Where the state is, for messages: `mlinfra.state.json`, `s3://bucket/key`.
    fn location(&self) -> String;
    /// The snapshot, or `None` when this workspace has no state yet.
    fn read(&self) -> Result<Option<Stored>, StateError>;
    /// Write the snapshot when the stored version is still `expected` (`None`: when there
    /// is none). A mismatch is `StateError::Conflict`. Returns the new version.
    fn write(&self, bytes: &[u8], expected: Option<&str>) -> Result<String, StateError>;
    /// Keep a copy of the snapshot being replaced, where the backend has a place for it.
    fn backup(&self, _previous: &[u8]) -> Result<(), StateError> {
        Ok(())
    }
    /// Where `backup` keeps its copy, when it keeps one.
    fn backup_location(&self) -> Option<String> {
        None
    }
    /// One attempt to take the lock for `info`.
    fn try_lock(&self, info: &LockInfo) -> Result<TryLock, StateError>;
    /// The recorded holder of the lock, if any.
    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError>;
    /// Remove a lock left behind when its id is `id`.
    fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError>;
    /// Append a journal entry after the snapshot of serial `base`, with its own `serial`.
    /// An entry of that serial that exists already is `StateError::Conflict`.
    fn journal_append(&self, base: u64, serial: u64, bytes: &[u8]) -> Result<(), StateError>;
    /// The journal entries after the snapshot of serial `base`, in serial order.
    fn journal_read(&self, base: u64) -> Result<Vec<Vec<u8>>, StateError>;
    /// Remove every journal entry (after a compaction).
    fn journal_clear(&self) -> Result<(), StateError>;
    /// The workspaces that have state in this backend, `default` included when it has.
    fn workspaces(&self) -> Result<Vec<String>, StateError>;
    /// Remove a workspace's state, journal and lock record.
    fn delete_workspace(&self, name: &str) -> Result<(), StateError>;
}

/// Which part of the state one apply step changed: what its journal entry records.
#[derive(Clone, Copy, Debug)]
pub enum Touched<'a> {
    /// The resource and the pending create at this address.
    Address(&'a str),
    /// The outputs.
    Outputs,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    lineage: String,
    base: u64,
    serial: u64,
    #[serde(flatten)]
    change: Change,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Change {
    Address {
        address: String,
        resource: Option<Box<StateResourceFile>>,
        pending: Option<Box<PendingCreate>>,
    },
    Outputs {
        outputs: BTreeMap<String, serde_json::Value>,
        sensitive: Vec<String>,
    },
}

/// What the store knows of the stored state since it last read or wrote it.
#[derive(Clone, Debug, Default)]
struct Known {
    /// The snapshot's version, serial and size; `None` when there is no snapshot.
    snapshot: Option<(String, u64, usize)>,
    /// The serial of the last journal entry (the state's serial).
    serial: u64,
    /// Bytes of journal since the snapshot.
    journal_bytes: usize,
}

/// Counters of what a store wrote, for measurements.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteStats {
    pub snapshots: u64,
    pub snapshot_bytes: u64,
    pub entries: u64,
    pub entry_bytes: u64,
}

/// The journal is folded into a snapshot once it is larger than the snapshot, and at
/// least this large: each byte of state is rewritten a bounded number of times.
const COMPACT_AT_LEAST: usize = 256 * 1024;

/// State over a backend, with the rules every backend shares.
pub struct StateStore {
    backend: Box<dyn Backend>,
    workspace: String,
    known: Mutex<Known>,
    stats: Mutex<WriteStats>,
    journal: bool,
    codec: Option<crate::crypto::Codec>,
    /// The held lock's watch: once it says the lock is lost, nothing more is written.
    lost: Mutex<Option<LostWatch>>,
}

/// A held state lock; released when dropped.
pub struct StateLock {
    guard: Option<Box<dyn HeldLock>>,
    pub info: LockInfo,
    /// The holder recorded by a run that exited without releasing the lock.
    pub abandoned_by: Option<LockInfo>,
}

impl std::fmt::Debug for StateLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateLock")
            .field("info", &self.info)
            .finish()
    }
}

impl StateLock {
    /// Why the lock was lost while held, if it was.
    pub fn lost(&self) -> Option<String> {
        self.guard.as_ref().and_then(|g| g.lost())
    }

    /// Release now, reporting a failure (dropping releases too, silently).
    pub fn release(mut self) -> Result<(), StateError> {
        match self.guard.take() {
            Some(mut g) => g.release(),
            None => Ok(()),
        }
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if let Some(mut g) = self.guard.take() {
            let _ = g.release();
        }
    }
}

impl StateStore {
    pub fn new(backend: Box<dyn Backend>, workspace: impl Into<String>) -> StateStore {
        StateStore {
            backend,
            workspace: workspace.into(),
            known: Mutex::new(Known::default()),
            stats: Mutex::new(WriteStats::default()),
            journal: std::env::var_os("MLINFRA_STATE_NO_JOURNAL").is_none(),
            codec: None,
            lost: Mutex::new(None),
        }
    }

    /// Refuse to write once this run's lock was lost: another run may be writing.
    fn check_lock(&self) -> Result<(), StateError> {
        let watch = self.lost.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let reason = watch.and_then(|w| w.lock().unwrap_or_else(|e| e.into_inner()).clone());
        match reason {
            Some(r) => Err(StateError::Conflict {
                location: self.location(),
                detail: format!("this run's state lock was lost ({r}); it writes nothing more"),
            }),
            None => Ok(()),
        }
    }

    /// Encrypt everything this store writes, and decrypt what it reads.
    pub fn with_codec(mut self, codec: crate::crypto::Codec) -> StateStore {
        self.codec = Some(codec);
        self
    }

    /// The codec this store encrypts with (the configuration's `encryption` block), for
    /// the other files that hold state's contents (saved plans).
    pub fn codec(&self) -> Option<&crate::crypto::Codec> {
        self.codec.as_ref()
    }

    fn seal(&self, plain: Vec<u8>) -> Vec<u8> {
        match &self.codec {
            Some(c) => c.encrypt(&plain),
            None => plain,
        }
    }

    /// The plaintext of a stored snapshot.
    fn open_snapshot(&self, raw: &[u8]) -> Result<Vec<u8>, StateError> {
        match &self.codec {
            Some(c) => c.decrypt(raw).map_err(|e| self.corrupt(e.to_string())),
            None if crate::crypto::is_envelope(raw) => Err(self.corrupt(
                "it is encrypted, and this configuration has no `encryption` block to decrypt it; add one (docs/state.md#encryption)",
            )),
            None => Ok(raw.to_vec()),
        }
    }

    /// The plaintext of a journal entry; `None` for a torn one (skipped on replay).
    fn open_entry(&self, raw: Vec<u8>) -> Result<Option<Vec<u8>>, StateError> {
        use crate::crypto::{is_envelope, CryptoError};
        match &self.codec {
            None if is_envelope(&raw) => Err(self.corrupt(
                "its journal is encrypted, and this configuration has no `encryption` block to decrypt it",
            )),
            None => Ok(Some(raw)),
            Some(_) if !is_envelope(&raw) && serde_json::from_slice::<Entry>(&raw).is_err() => {
                Ok(None)
            }
            Some(c) => match c.decrypt(&raw) {
                Ok(p) => Ok(Some(p)),
                Err(CryptoError::Malformed(_)) => Ok(None),
                Err(e) => Err(self.corrupt(format!("a journal entry: {e}"))),
            },
        }
    }

    /// The local backend at `path`, in the default workspace.
    pub fn local(path: impl Into<std::path::PathBuf>) -> StateStore {
        StateStore::new(Box::new(crate::state::LocalBackend::new(path)), "default")
    }

    /// Journal each apply step (the default) or rewrite the whole state each time.
    pub fn with_journal(mut self, on: bool) -> StateStore {
        self.journal = on;
        self
    }

    pub fn location(&self) -> String {
        self.backend.location()
    }

    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    pub fn backup_location(&self) -> Option<String> {
        self.backend.backup_location()
    }

    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    pub fn stats(&self) -> WriteStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn corrupt(&self, message: impl Into<String>) -> StateError {
        StateError::Corrupt {
            path: self.location().into(),
            message: message.into(),
        }
    }

    /// The state: the snapshot with its journal replayed, or `None` when there is none.
    pub fn read(&self) -> Result<Option<State>, StateError> {
        let Some(stored) = self.backend.read()? else {
            *self.known() = Known::default();
            return Ok(None);
        };
        let plain = self.open_snapshot(&stored.bytes)?;
        let text = std::str::from_utf8(&plain).map_err(|_| self.corrupt("it is not UTF-8 text"))?;
        let mut state = State::from_json(text, std::path::Path::new(&self.location()))?;
        let base = state.serial;
        let mut journal_bytes = 0;
        for sealed in self.backend.journal_read(base)? {
            let size = sealed.len();
            let Some(raw) = self.open_entry(sealed)? else {
                continue;
            };
            // A torn entry (a crash mid-append), one of another snapshot, or one replayed
            // already is skipped; a gap in the serials ends the replay, since what
            // follows it cannot have been written after it.
            let Ok(entry) = serde_json::from_slice::<Entry>(&raw) else {
                continue;
            };
            if entry.lineage != state.lineage || entry.base != base || entry.serial <= state.serial
            {
                continue;
            }
            if Some(entry.serial) != state.serial.checked_add(1) {
                break;
            }
            journal_bytes += size;
            apply_entry(&mut state, entry);
        }
        *self.known() = Known {
            snapshot: Some((stored.version, base, stored.bytes.len())),
            serial: state.serial,
            journal_bytes,
        };
        Ok(Some(state))
    }

    /// The serial of the stored state as last read or written, `None` when there is none.
    pub fn current_serial(&self) -> Option<u64> {
        let k = self.known();
        k.snapshot.as_ref().map(|_| k.serial)
    }

    /// Take the lock for `operation`, trying again until `timeout` has passed.
    pub fn lock(&self, operation: &str, timeout: Duration) -> Result<StateLock, StateError> {
        let info = LockInfo::new(operation, &self.location());
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86400 * 365));
        loop {
            match self.backend.try_lock(&info)? {
                TryLock::Acquired {
                    guard,
                    abandoned_by,
                } => {
                    *self.lost.lock().unwrap_or_else(|e| e.into_inner()) = guard.watch();
                    return Ok(StateLock {
                        guard: Some(guard),
                        info,
                        abandoned_by,
                    });
                }
                TryLock::Held(holder) => {
                    if Instant::now() >= deadline {
                        return Err(StateError::Locked {
                            holder: Box::new(holder),
                        });
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    std::thread::sleep(left.min(Duration::from_millis(200)));
                }
            }
        }
    }

    pub fn lock_holder(&self) -> Option<LockInfo> {
        self.backend.lock_holder().ok().flatten()
    }

    pub fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        self.backend.force_unlock(id)
    }

    /// Write `state` whole as the next serial after `based_on` (the serial this run read;
    /// `None` for a new state). Refuses foreign lineage or a serial changed by someone
    /// else, and folds the journal in.
    pub fn write(&self, state: &mut State, based_on: Option<u64>) -> Result<(), StateError> {
        let expected = match self.backend.read()? {
            Some(stored) => {
                let known = self.known().clone();
                let up_to_date = matches!(&known.snapshot, Some((v, _, _)) if *v == stored.version);
                // The journal after this snapshot, as this store last saw it; read again
                // when someone else wrote since.
                let (lineage, serial) = if up_to_date {
                    let plain = self.open_snapshot(&stored.bytes)?;
                    let text = std::str::from_utf8(&plain)
                        .map_err(|_| self.corrupt("it is not UTF-8 text"))?;
                    let cur = State::from_json(text, std::path::Path::new(&self.location()))?;
                    (cur.lineage, known.serial)
                } else {
                    let cur = self.read()?.unwrap_or_default();
                    (cur.lineage, cur.serial)
                };
                if lineage != state.lineage {
                    return Err(StateError::ForeignLineage {
                        path: self.location().into(),
                        found: lineage,
                        expected: state.lineage.clone(),
                    });
                }
                if Some(serial) != based_on {
                    return Err(StateError::StaleSerial {
                        path: self.location().into(),
                        found: serial,
                        expected: based_on.unwrap_or(0),
                    });
                }
                state.serial = next_serial(serial)?;
                self.backend.backup(&stored.bytes)?;
                Some(stored.version.clone())
            }
            None => {
                state.serial = match based_on {
                    Some(s) => next_serial(s)?,
                    None => 1,
                };
                None
            }
        };
        self.put_snapshot(state, expected.as_deref(), false)
    }

    fn put_snapshot(
        &self,
        state: &State,
        expected: Option<&str>,
        clear_journal: bool,
    ) -> Result<(), StateError> {
        self.check_lock()?;
        let bytes = self.seal(state.to_json().into_bytes());
        let version = self.backend.write(&bytes, expected)?;
        {
            let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
            s.snapshots += 1;
            s.snapshot_bytes += bytes.len() as u64;
        }
        let had_journal = self.known().journal_bytes > 0;
        *self.known() = Known {
            snapshot: Some((version, state.serial, bytes.len())),
            serial: state.serial,
            journal_bytes: 0,
        };
        if had_journal || clear_journal {
            self.backend.journal_clear()?;
        }
        Ok(())
    }

    /// Record one apply step: a journal entry for what `touched` names, as serial
    /// `based_on + 1`; a whole snapshot when there is none yet, when the journal has
    /// outgrown the snapshot, or when the journal is off.
    pub fn record(
        &self,
        state: &mut State,
        based_on: Option<u64>,
        touched: Touched<'_>,
    ) -> Result<(), StateError> {
        let known = self.known().clone();
        let Some((version, base, size)) = known.snapshot.clone().filter(|_| self.journal) else {
            return self.write(state, based_on);
        };
        if Some(known.serial) != based_on {
            return Err(StateError::StaleSerial {
                path: self.location().into(),
                found: known.serial,
                expected: based_on.unwrap_or(0),
            });
        }
        let serial = next_serial(known.serial)?;
        if known.journal_bytes > size.max(COMPACT_AT_LEAST) {
            // This step as a whole snapshot, which folds the journal in.
            state.serial = serial;
            return self.put_snapshot(state, Some(&version), false);
        }
        let change = match touched {
            Touched::Address(a) => Change::Address {
                address: a.to_string(),
                resource: state
                    .resources
                    .get(a)
                    .map(|r| Box::new(resource_to_file(a, r))),
                pending: state
                    .pending
                    .iter()
                    .find(|p| p.address == a)
                    .cloned()
                    .map(Box::new),
            },
            Touched::Outputs => Change::Outputs {
                outputs: state
                    .outputs
                    .iter()
                    .map(|(k, o)| (k.clone(), o.value.to_json()))
                    .collect(),
                sensitive: state
                    .outputs
                    .iter()
                    .filter(|(_, o)| o.sensitive)
                    .map(|(k, _)| k.clone())
                    .collect(),
            },
        };
        let entry = Entry {
            lineage: state.lineage.clone(),
            base,
            serial,
            change,
        };
        let bytes = self.seal(serde_json::to_vec(&entry).unwrap_or_default());
        self.check_lock()?;
        self.backend.journal_append(base, serial, &bytes)?;
        state.serial = serial;
        {
            let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
            s.entries += 1;
            s.entry_bytes += bytes.len() as u64;
        }
        let mut k = self.known();
        k.serial = serial;
        k.journal_bytes += bytes.len();
        Ok(())
    }

    /// Fold the journal into a snapshot of `state`, if there is a journal. The snapshot
    /// keeps the serial of the last entry: it is the same state.
    pub fn finish(&self, state: &mut State) -> Result<(), StateError> {
        let known = self.known().clone();
        let Some((version, _, _)) = known.snapshot else {
            return Ok(());
        };
        if known.journal_bytes == 0 {
            return Ok(());
        }
        if state.serial != known.serial {
            return Err(StateError::StaleSerial {
                path: self.location().into(),
                found: known.serial,
                expected: state.serial,
            });
        }
        self.put_snapshot(state, Some(&version), false)
    }

    /// Replace the state with `state` as given (state push): after `check_replace`
    /// unless `force`; keeps the lineage and serial it has.
    pub fn push(&self, state: &State, force: bool) -> Result<(), StateError> {
        let expected = match self.backend.read()? {
            Some(stored) => {
                let cur = self.read()?.unwrap_or_default();
                if !force {
                    cur.check_replace(state)?;
                }
                self.backend.backup(&stored.bytes)?;
                Some(stored.version)
            }
            None => None,
        };
        // A pushed state is whole, and its serial may be any: every journal entry goes.
        self.put_snapshot(state, expected.as_deref(), true)
    }

    /// The workspaces with state in this backend; the default one is always listed.
    pub fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let mut names = self.backend.workspaces()?;
        if !names.iter().any(|n| n == "default") {
            names.push("default".into());
        }
        names.sort();
        names.dedup();
        Ok(names)
    }
}

fn apply_entry(state: &mut State, entry: Entry) {
    state.serial = entry.serial;
    match entry.change {
        Change::Address {
            address,
            resource,
            pending,
        } => {
            match resource {
                Some(r) => {
                    let (addr, r) = resource_from_file(*r);
                    state.resources.insert(addr, r);
                }
                None => {
                    state.resources.remove(&address);
                }
            }
            match (
                state.pending.iter().position(|p| p.address == address),
                pending,
            ) {
                (Some(i), Some(p)) => state.pending[i] = *p,
                (Some(i), None) => {
                    state.pending.remove(i);
                }
                (None, Some(p)) => state.pending.push(*p),
                (None, None) => {}
            }
        }
        Change::Outputs { outputs, sensitive } => {
            state.outputs = outputs
                .into_iter()
                .map(|(k, v)| {
                    let s = sensitive.contains(&k);
                    (
                        k,
                        OutputState {
                            value: mlinfra_schema::Value::from_json(&v),
                            sensitive: s,
                        },
                    )
                })
                .collect();
        }
    }
}

impl LockInfo {
    /// What `force-unlock ID` may remove: the recorded holder, when there is one and its
    /// lock id is `id` (else which lock there is, or none). Every backend checks this.
    pub fn to_unlock(holder: Option<LockInfo>, id: &str) -> Result<LockInfo, StateError> {
        match holder {
            None => Err(StateError::LockMismatch {
                id: id.to_string(),
                current: "none".into(),
            }),
            Some(h) if h.id != id => Err(StateError::LockMismatch {
                id: id.to_string(),
                current: h.id,
            }),
            Some(h) => Ok(h),
        }
    }

    /// A holder whose record cannot be read (`why`), of the state at `location`.
    pub fn unknown(why: &str, location: &str) -> LockInfo {
        LockInfo {
            id: "unknown".into(),
            pid: 0,
            host: "unknown".into(),
            user: "unknown".into(),
            operation: format!("unknown ({why})"),
            created: 0,
            path: location.to_string(),
            heartbeat: None,
        }
    }

    /// The record of a lock this process is about to take for `operation`.
    pub fn new(operation: &str, location: &str) -> LockInfo {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            pid: std::process::id(),
            host: hostname(),
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            operation: operation.to_string(),
            created: unix_now(),
            path: location.to_string(),
            heartbeat: None,
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ResourceState;
    use mlinfra_schema::Value;

    fn resource(i: usize) -> ResourceState {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "name".to_string(),
            Value::from("x".repeat(i % 7 + 1).as_str()),
        );
        ResourceState {
            kind: "bucket".into(),
            cloud: Some("aws".into()),
            provider: Some("aws".into()),
            id: Some(format!("b{i}")),
            attributes,
            sensitive: Default::default(),
            dependencies: Default::default(),
        }
    }

    fn step(store: &StateStore, s: &mut State, i: usize) {
        let addr = format!("bucket.b[{i}]");
        s.resources.insert(addr.clone(), resource(i));
        let based_on = Some(s.serial);
        store.record(s, based_on, Touched::Address(&addr)).unwrap();
    }

    #[test]
    fn each_step_appends_one_entry_and_reading_replays_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let store = StateStore::local(&path);
        let mut s = State::new();
        store.write(&mut s, None).unwrap();
        let snapshot = std::fs::read(&path).unwrap();
        for i in 0..50 {
            step(&store, &mut s, i);
        }
        assert_eq!(s.serial, 51);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            snapshot,
            "the snapshot is untouched"
        );
        let stats = store.stats();
        assert_eq!((stats.snapshots, stats.entries), (1, 50));
        // A new reader (the next run after a kill) sees every step.
        let back = StateStore::local(&path).read().unwrap().unwrap();
        assert_eq!(back, s);
        // Outputs and deletes are entries too.
        s.outputs.insert(
            "o".into(),
            OutputState {
                value: Value::from("v"),
                sensitive: true,
            },
        );
        let b = Some(s.serial);
        store.record(&mut s, b, Touched::Outputs).unwrap();
        s.resources.remove("bucket.b[3]");
        let b = Some(s.serial);
        store
            .record(&mut s, b, Touched::Address("bucket.b[3]"))
            .unwrap();
        assert_eq!(StateStore::local(&path).read().unwrap().unwrap(), s);
        // Finishing folds the journal into a snapshot of the same serial.
        let serial = s.serial;
        store.finish(&mut s).unwrap();
        assert_eq!(s.serial, serial);
        assert!(!dir.path().join("s.json.journal").exists());
        assert_eq!(StateStore::local(&path).read().unwrap().unwrap(), s);
    }

    #[test]
    fn a_torn_entry_is_skipped_and_the_next_run_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let store = StateStore::local(&path);
        let mut s = State::new();
        store.write(&mut s, None).unwrap();
        for i in 0..3 {
            step(&store, &mut s, i);
        }
        // A crash in the middle of the fourth append.
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("s.json.journal"))
            .unwrap();
        f.write_all(br#"{"lineage":"#).unwrap();
        drop(f);
        let next = StateStore::local(&path);
        let mut r = next.read().unwrap().unwrap();
        assert_eq!(r, s, "the three durable steps, nothing of the torn one");
        step(&next, &mut r, 3);
        let back = StateStore::local(&path).read().unwrap().unwrap();
        assert_eq!(back.resources.len(), 4);
        assert_eq!(back.serial, 5);
    }

    #[test]
    fn entries_of_an_older_snapshot_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let store = StateStore::local(&path);
        let mut s = State::new();
        store.write(&mut s, None).unwrap();
        step(&store, &mut s, 0);
        let journal = std::fs::read(dir.path().join("s.json.journal")).unwrap();
        store.finish(&mut s).unwrap();
        // A compaction whose journal removal was lost: the old entries are still there.
        std::fs::write(dir.path().join("s.json.journal"), &journal).unwrap();
        let mut r = StateStore::local(&path).read().unwrap().unwrap();
        assert_eq!(r, s);
        let next = StateStore::local(&path);
        next.read().unwrap();
        step(&next, &mut r, 1);
        assert_eq!(StateStore::local(&path).read().unwrap().unwrap(), r);
    }

    #[test]
    fn the_journal_is_compacted_when_it_outgrows_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let store = StateStore::local(&path);
        let mut s = State::new();
        store.write(&mut s, None).unwrap();
        for i in 0..3000 {
            step(&store, &mut s, i);
        }
        let stats = store.stats();
        assert!(stats.snapshots > 1, "{stats:?}");
        // Bounded rewriting: the snapshots written add up to a small multiple of the
        // entries, not one whole state per step.
        assert!(stats.snapshot_bytes < 4 * stats.entry_bytes, "{stats:?}");
        assert_eq!(StateStore::local(&path).read().unwrap().unwrap(), s);
    }

    #[test]
    fn without_the_journal_every_step_rewrites_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let store = StateStore::local(&path).with_journal(false);
        let mut s = State::new();
        store.write(&mut s, None).unwrap();
        for i in 0..10 {
            step(&store, &mut s, i);
        }
        assert_eq!(store.stats().snapshots, 11);
        assert!(!dir.path().join("s.json.journal").exists());
    }
}
