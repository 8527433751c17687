//! State: the in-memory form, its JSON file format, and the local backend with its lock.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use mlinfra_schema::Value;
use serde::{Deserialize, Serialize};

/// The state format version this build reads and writes.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid mlinfra state file: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("state is locked by {holder}")]
    Locked { holder: Box<LockInfo> },
    #[error(
        "state at {path} belongs to another configuration (lineage {found}, expected {expected})"
    )]
    ForeignLineage {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("state at {path} has serial {found}, newer than the {expected} this run started from; another run changed it")]
    StaleSerial {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error("refusing to replace state serial {current} with serial {new}: {reason}")]
    Refused {
        current: u64,
        new: u64,
        reason: String,
    },
    #[error("no lock with id {id} is held (current: {current})")]
    LockMismatch { id: String, current: String },
    #[error("resource {0} is not in the state")]
    NotFound(String),
    #[error("resource {0} is already in the state")]
    Exists(String),
}

/// One resource instance as recorded in state.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceState {
    pub kind: String,
    pub cloud: Option<String>,
    pub provider: Option<String>,
    pub id: Option<String>,
    pub attributes: BTreeMap<String, Value>,
    pub sensitive: BTreeSet<String>,
    pub dependencies: BTreeSet<String>,
}

/// A create that was started and may have reached the cloud: recorded before the call,
/// removed when its result is recorded. The next run adopts or forgets it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingCreate {
    pub address: String,
    pub kind: String,
    pub cloud: String,
    pub provider: String,
    /// The deterministic cloud name the create uses; reading it finds the object.
    pub name: String,
    /// Idempotency token sent with the create.
    pub client_token: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub dependencies: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutputState {
    pub value: Value,
    pub sensitive: bool,
}

/// The in-memory state.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub lineage: String,
    pub serial: u64,
    pub resources: BTreeMap<String, ResourceState>,
    pub outputs: BTreeMap<String, OutputState>,
    pub pending: Vec<PendingCreate>,
    /// The policy objects `policy emit` last wrote: "Kind namespace/name" → content hash.
    pub policies: BTreeMap<String, String>,
}

impl State {
    /// A new, empty state with a fresh lineage.
    pub fn new() -> State {
        State {
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            pending: Vec::new(),
            policies: BTreeMap::new(),
        }
    }

    /// Attributes per address, for evaluation.
    pub fn attributes(&self) -> BTreeMap<String, BTreeMap<String, Value>> {
        self.resources
            .iter()
            .map(|(k, r)| (k.clone(), r.attributes.clone()))
            .collect()
    }

    pub fn to_json(&self) -> String {
        let file = StateFile::from(self);
        let mut s = serde_json::to_string_pretty(&file).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn from_json(text: &str, path: &Path) -> Result<State, StateError> {
        let file: StateFile = serde_json::from_str(text).map_err(|e| StateError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if file.version > STATE_VERSION {
            return Err(StateError::Corrupt {
                path: path.to_path_buf(),
                message: format!(
                    "state version {} is newer than this mlinfra understands ({STATE_VERSION}); upgrade mlinfra",
                    file.version
                ),
            });
        }
        Ok(file.into())
    }

    /// Whether `new` may replace `self`: same lineage, and a newer serial (or the same
    /// serial with identical content).
    pub fn check_replace(&self, new: &State) -> Result<(), StateError> {
        if self.lineage != new.lineage {
            return Err(StateError::Refused {
                current: self.serial,
                new: new.serial,
                reason: format!("lineage {} differs from {}", new.lineage, self.lineage),
            });
        }
        if new.serial < self.serial {
            return Err(StateError::Refused {
                current: self.serial,
                new: new.serial,
                reason: "the new state is older".into(),
            });
        }
        if new.serial == self.serial && new != self {
            return Err(StateError::Refused {
                current: self.serial,
                new: new.serial,
                reason: "same serial with different content".into(),
            });
        }
        Ok(())
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

// ---- serialized form -------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    lineage: String,
    serial: u64,
    mlinfra_version: String,
    #[serde(default)]
    resources: Vec<StateResourceFile>,
    #[serde(default)]
    outputs: BTreeMap<String, StateOutputFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<PendingCreate>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    policies: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct StateResourceFile {
    address: String,
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    cloud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    id: Option<String>,
    attributes: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    sensitive_paths: Vec<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct StateOutputFile {
    value: serde_json::Value,
    #[serde(default)]
    sensitive: bool,
}

impl From<&State> for StateFile {
    fn from(s: &State) -> Self {
        StateFile {
            version: STATE_VERSION,
            lineage: s.lineage.clone(),
            serial: s.serial,
            mlinfra_version: env!("CARGO_PKG_VERSION").to_string(),
            resources: s
                .resources
                .iter()
                .map(|(addr, r)| StateResourceFile {
                    address: addr.clone(),
                    kind: r.kind.clone(),
                    cloud: r.cloud.clone(),
                    provider: r.provider.clone(),
                    id: r.id.clone(),
                    attributes: r
                        .attributes
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_json()))
                        .collect(),
                    sensitive_paths: r.sensitive.iter().cloned().collect(),
                    dependencies: r.dependencies.iter().cloned().collect(),
                })
                .collect(),
            outputs: s
                .outputs
                .iter()
                .map(|(k, o)| {
                    (
                        k.clone(),
                        StateOutputFile {
                            value: o.value.to_json(),
                            sensitive: o.sensitive,
                        },
                    )
                })
                .collect(),
            pending: s.pending.clone(),
            policies: s.policies.clone(),
        }
    }
}

impl From<StateFile> for State {
    fn from(f: StateFile) -> Self {
        State {
            lineage: f.lineage,
            serial: f.serial,
            resources: f
                .resources
                .into_iter()
                .map(|r| {
                    (
                        r.address,
                        ResourceState {
                            kind: r.kind,
                            cloud: r.cloud,
                            provider: r.provider,
                            id: r.id,
                            attributes: r
                                .attributes
                                .iter()
                                .map(|(k, v)| (k.clone(), Value::from_json(v)))
                                .collect(),
                            sensitive: r.sensitive_paths.into_iter().collect(),
                            dependencies: r.dependencies.into_iter().collect(),
                        },
                    )
                })
                .collect(),
            outputs: f
                .outputs
                .into_iter()
                .map(|(k, o)| {
                    (
                        k,
                        OutputState {
                            value: Value::from_json(&o.value),
                            sensitive: o.sensitive,
                        },
                    )
                })
                .collect(),
            pending: f.pending,
            policies: f.policies,
        }
    }
}

// ---- the lock ---------------------------------------------------------------------------

/// Who holds a state lock.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub user: String,
    pub operation: String,
    /// Seconds since the Unix epoch.
    pub created: u64,
    pub path: String,
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (pid {}) on {} running `{}` since {} (lock id {})",
            self.user,
            self.pid,
            self.host,
            self.operation,
            format_unix_time(self.created),
            self.id
        )
    }
}

/// Format seconds since the epoch as UTC `YYYY-MM-DD HH:MM:SS`.
pub fn format_unix_time(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil-from-days (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// A held state lock; released when dropped.
#[derive(Debug)]
pub struct StateLock {
    file: File,
    path: PathBuf,
    pub info: LockInfo,
    /// The holder recorded by a run that exited without releasing the lock (killed or
    /// crashed); the operating system released its lock when it died.
    pub abandoned_by: Option<LockInfo>,
}

impl LockInfo {
    /// Whether the holder is a process of this host that no longer runs.
    pub fn holder_is_dead(&self) -> bool {
        self.host == hostname() && self.pid != 0 && !pid_alive(self.pid)
    }
}

/// Whether a process with this pid runs on this host.
fn pid_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Remove the file while still holding the lock, so no one locks a stale inode.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

// ---- the local backend ------------------------------------------------------------------

/// State kept in a local JSON file, with a sibling `.lock` file and a `.backup`.
#[derive(Clone, Debug)]
pub struct LocalBackend {
    pub path: PathBuf,
}

impl LocalBackend {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalBackend { path: path.into() }
    }

    pub fn lock_path(&self) -> PathBuf {
        with_suffix(&self.path, ".lock")
    }

    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.path, ".backup")
    }

    /// Read the state, or `None` when there is no state file yet.
    pub fn read(&self) -> Result<Option<State>, StateError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => State::from_json(&text, &self.path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Io {
                action: "read",
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Take the exclusive lock for `operation`, waiting up to `timeout`.
    pub fn lock(&self, operation: &str, timeout: Duration) -> Result<StateLock, StateError> {
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86400 * 365));
        let lock_path = self.lock_path();
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
                action: "create the state directory",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&lock_path)
                .map_err(|source| StateError::Io {
                    action: "open the lock file",
                    path: lock_path.clone(),
                    source,
                })?;
            match file.try_lock() {
                Ok(()) => {
                    // The holder before us may have removed the file after we opened it.
                    let same = match (file.metadata(), std::fs::metadata(&lock_path)) {
                        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                        _ => false,
                    };
                    if !same {
                        continue;
                    }
                    // A released lock leaves no file behind: one with a holder in it was
                    // abandoned by a run that died.
                    let abandoned_by = read_lock_info(&file);
                    let info = LockInfo {
                        id: uuid::Uuid::new_v4().to_string(),
                        pid: std::process::id(),
                        host: hostname(),
                        user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
                        operation: operation.to_string(),
                        created: SystemTime::now()
                            .duration_since(SystemTime::UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or(0),
                        path: self.path.display().to_string(),
                    };
                    let mut f = &file;
                    let body = serde_json::to_string_pretty(&info).unwrap_or_default();
                    file.set_len(0).map_err(|source| StateError::Io {
                        action: "write the lock file",
                        path: lock_path.clone(),
                        source,
                    })?;
                    f.write_all(body.as_bytes())
                        .and_then(|_| f.sync_all())
                        .map_err(|source| StateError::Io {
                            action: "write the lock file",
                            path: lock_path.clone(),
                            source,
                        })?;
                    return Ok(StateLock {
                        file,
                        path: lock_path,
                        info,
                        abandoned_by,
                    });
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        let holder = read_lock_info(&file).unwrap_or_else(|| LockInfo {
                            id: "unknown".into(),
                            pid: 0,
                            host: "unknown".into(),
                            user: "unknown".into(),
                            operation: "unknown".into(),
                            created: 0,
                            path: self.path.display().to_string(),
                        });
                        return Err(StateError::Locked {
                            holder: Box::new(holder),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(StateError::Io {
                        action: "lock",
                        path: lock_path,
                        source,
                    })
                }
            }
        }
    }

    /// The recorded holder of the lock, if a lock file exists.
    pub fn lock_holder(&self) -> Option<LockInfo> {
        let file = File::open(self.lock_path()).ok()?;
        read_lock_info(&file)
    }

    /// Remove a lock left behind, if its id matches. Refuses when a live process holds it.
    pub fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        let lock_path = self.lock_path();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(|_| StateError::LockMismatch {
                id: id.to_string(),
                current: "none".into(),
            })?;
        let info = read_lock_info(&file).ok_or_else(|| StateError::LockMismatch {
            id: id.to_string(),
            current: "none".into(),
        })?;
        if info.id != id {
            return Err(StateError::LockMismatch {
                id: id.to_string(),
                current: info.id,
            });
        }
        match file.try_lock() {
            Ok(()) => {
                let _ = std::fs::remove_file(&lock_path);
                let _ = file.unlock();
                Ok(info)
            }
            Err(_) => Err(StateError::Locked {
                holder: Box::new(info),
            }),
        }
    }

    /// Write `state` as the next serial after `based_on` (the serial this run read; `None`
    /// for a new state). Refuses foreign lineage or a serial changed by someone else.
    pub fn write(&self, state: &mut State, based_on: Option<u64>) -> Result<(), StateError> {
        let current = self.read()?;
        if let Some(cur) = &current {
            if cur.lineage != state.lineage {
                return Err(StateError::ForeignLineage {
                    path: self.path.clone(),
                    found: cur.lineage.clone(),
                    expected: state.lineage.clone(),
                });
            }
            if Some(cur.serial) != based_on {
                return Err(StateError::StaleSerial {
                    path: self.path.clone(),
                    found: cur.serial,
                    expected: based_on.unwrap_or(0),
                });
            }
            state.serial = cur.serial + 1;
        } else {
            state.serial = based_on.map(|s| s + 1).unwrap_or(1);
        }
        if current.is_some() {
            self.backup()?;
        }
        atomic_write(&self.path, state.to_json().as_bytes())
    }

    /// Replace the state with `state` as given (state push), after `check_replace`.
    pub fn push(&self, state: &State) -> Result<(), StateError> {
        if let Some(cur) = self.read()? {
            cur.check_replace(state)?;
            self.backup()?;
        }
        atomic_write(&self.path, state.to_json().as_bytes())
    }

    fn backup(&self) -> Result<(), StateError> {
        let text = std::fs::read(&self.path).map_err(|source| StateError::Io {
            action: "read",
            path: self.path.clone(),
            source,
        })?;
        atomic_write(&self.backup_path(), &text)
    }
}

fn read_lock_info(file: &File) -> Option<LockInfo> {
    let mut s = String::new();
    let mut f = file;
    f.read_to_string(&mut s).ok()?;
    serde_json::from_str(&s).ok()
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Write a file atomically: temp file, fsync, rename, directory fsync; mode 0600.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let io = |action: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| StateError::Io {
            action,
            path: p,
            source,
        }
    };
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("create", &tmp))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io("set permissions of", &tmp))?;
    f.write_all(bytes).map_err(io("write", &tmp))?;
    f.sync_all().map_err(io("sync", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io("rename into", path))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        let mut s = State::new();
        let mut attrs = BTreeMap::new();
        attrs.insert("name".to_string(), Value::from("features"));
        s.resources.insert(
            "bucket.features".into(),
            ResourceState {
                kind: "bucket".into(),
                cloud: Some("aws".into()),
                provider: Some("aws".into()),
                id: Some("features".into()),
                attributes: attrs,
                sensitive: BTreeSet::new(),
                dependencies: BTreeSet::new(),
            },
        );
        s
    }

    #[test]
    fn json_round_trips() {
        let s = sample();
        let back = State::from_json(&s.to_json(), Path::new("x")).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn write_is_atomic_private_and_backs_up() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path().join("state.json"));
        let mut s = sample();
        b.write(&mut s, None).unwrap();
        assert_eq!(s.serial, 1);
        let mode = std::fs::metadata(&b.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        s.resources.clear();
        b.write(&mut s, Some(1)).unwrap();
        assert_eq!(s.serial, 2);
        let backup = State::from_json(
            &std::fs::read_to_string(b.backup_path()).unwrap(),
            Path::new("b"),
        )
        .unwrap();
        assert_eq!(backup.serial, 1);
        assert_eq!(backup.resources.len(), 1);
        let mode = std::fs::metadata(b.backup_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn write_refuses_foreign_lineage_and_stale_serial() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path().join("state.json"));
        let mut s = sample();
        b.write(&mut s, None).unwrap();
        let mut other = State::new();
        assert!(matches!(
            b.write(&mut other, Some(1)),
            Err(StateError::ForeignLineage { .. })
        ));
        let mut stale = s.clone();
        assert!(matches!(
            b.write(&mut stale, Some(0)),
            Err(StateError::StaleSerial { .. })
        ));
    }

    #[test]
    fn push_refuses_older_serial_and_same_serial_with_other_content() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path().join("state.json"));
        let mut s = sample();
        b.write(&mut s, None).unwrap();
        b.write(&mut s, Some(1)).unwrap();
        let mut older = s.clone();
        older.serial = 1;
        assert!(b.push(&older).is_err());
        let mut same = s.clone();
        same.resources.clear();
        assert!(b.push(&same).is_err());
        assert!(b.push(&s).is_ok());
    }

    #[test]
    fn a_second_lock_fails_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path().join("state.json"));
        let held = b.lock("apply", Duration::ZERO).unwrap();
        match b.lock("plan", Duration::from_millis(200)) {
            Err(StateError::Locked { holder }) => {
                assert_eq!(holder.operation, "apply");
                assert_eq!(holder.pid, std::process::id());
                assert_eq!(holder.id, held.info.id);
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(held);
        assert!(b.lock("plan", Duration::ZERO).is_ok());
    }

    #[test]
    fn a_lock_abandoned_by_a_dead_run_is_reported_and_taken() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path().join("state.json"));
        let mut info = b.lock("apply", Duration::ZERO).unwrap().info.clone();
        assert!(!b.lock_path().exists(), "a released lock leaves no file");
        assert!(b
            .lock("plan", Duration::ZERO)
            .unwrap()
            .abandoned_by
            .is_none());
        // A run killed while holding the lock leaves its holder in the file; the OS
        // released the lock itself.
        info.pid = u32::MAX - 1;
        std::fs::write(b.lock_path(), serde_json::to_string(&info).unwrap()).unwrap();
        assert!(info.holder_is_dead(), "no such pid runs here");
        let lock = b.lock("apply", Duration::ZERO).unwrap();
        assert_eq!(
            lock.abandoned_by.as_ref().map(|i| i.pid),
            Some(u32::MAX - 1)
        );
        assert!(!lock.info.holder_is_dead(), "this process is alive");
    }

    #[test]
    fn force_unlock_needs_the_right_id_and_refuses_a_live_lock() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path().join("state.json"));
        let held = b.lock("apply", Duration::ZERO).unwrap();
        assert!(matches!(
            b.force_unlock("nope"),
            Err(StateError::LockMismatch { .. })
        ));
        assert!(matches!(
            b.force_unlock(&held.info.id),
            Err(StateError::Locked { .. })
        ));
        // A lock file left by a dead process: recorded holder, no OS lock.
        let info = held.info.clone();
        std::mem::forget(held);
        let leftover = b.lock_path();
        // Simulate the crash: release the OS lock by reopening a fresh file with the info.
        std::fs::remove_file(&leftover).unwrap();
        std::fs::write(&leftover, serde_json::to_string(&info).unwrap()).unwrap();
        assert_eq!(b.force_unlock(&info.id).unwrap().id, info.id);
        assert!(!leftover.exists());
    }

    #[test]
    fn unix_time_formats_as_utc() {
        assert_eq!(format_unix_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_unix_time(1_795_000_000), "2026-11-18 11:06:40 UTC");
    }
}
