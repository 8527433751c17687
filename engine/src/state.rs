//! State: the in-memory form, its JSON file format, and the local backend with its lock.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::files::atomic_write;
use crate::files::{no_follow, open_error, refuse_link, FileError};

use crate::store::{Backend, HeldLock, Stored, TryLock};
pub use crate::store::{StateLock, StateStore};
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
    #[error("the state at {location} changed under this run: {detail}")]
    Conflict { location: String, detail: String },
    #[error("no lock with id {id} is held (current: {current})")]
    LockMismatch { id: String, current: String },
    #[error("resource {0} is not in the state")]
    NotFound(String),
    #[error("resource {0} is already in the state")]
    Exists(String),
    #[error(transparent)]
    File(#[from] FileError),
}

/// How to keep state elsewhere, for the error about a linked state file.
const LINK_HINT: &str = "; to keep state in another place, set `mlinfra { backend \"local\" { path = \"…\" } }` to the real file";

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
    /// The provider's own handle for finding what the create made (its plan's private
    /// value, such as `CLUSTER:NODEGROUP` or an operation name); the name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
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
pub(crate) struct StateResourceFile {
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
                .map(|(addr, r)| resource_to_file(addr, r))
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
            resources: f.resources.into_iter().map(resource_from_file).collect(),
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

/// One resource as the state file writes it.
pub(crate) fn resource_to_file(addr: &str, r: &ResourceState) -> StateResourceFile {
    StateResourceFile {
        address: addr.to_string(),
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
    }
}

/// One resource read back from the state file, with its address.
pub(crate) fn resource_from_file(r: StateResourceFile) -> (String, ResourceState) {
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
    /// When a remote holder last showed it was alive (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<u64>,
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
    let rem = secs % 86400;
    let (y, m, d) = crate::config::functions::civil_from_days((secs / 86400) as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// This host's name, as lock records give it.
pub fn this_host() -> String {
    hostname()
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
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

// ---- the local backend ------------------------------------------------------------------

/// State kept in a local JSON file, with a sibling `.lock` file, a `.backup` and a
/// `.journal` of the steps of a running apply. Workspaces other than `default` live in
/// `mlinfra.state.d/NAME/` beside the default state file.
#[derive(Clone, Debug)]
pub struct LocalBackend {
    pub path: PathBuf,
    /// The default workspace's state file: workspaces are found beside it.
    default_path: PathBuf,
}

/// The directory beside the default state file that holds the other workspaces.
pub const LOCAL_WORKSPACES_DIR: &str = "mlinfra.state.d";

/// A lock held through the OS lock on the lock file.
struct LocalLock {
    file: Option<File>,
    path: PathBuf,
}

impl HeldLock for LocalLock {
    fn release(&mut self) -> Result<(), StateError> {
        if let Some(file) = self.file.take() {
            // Remove the file while still holding the lock, so no one locks a stale inode.
            let _ = std::fs::remove_file(&self.path);
            let _ = file.unlock();
        }
        Ok(())
    }
}

impl LocalBackend {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        LocalBackend {
            default_path: path.clone(),
            path,
        }
    }

    /// The state of workspace `name`, whose default state file is `default_path`.
    pub fn for_workspace(default_path: impl Into<PathBuf>, name: &str) -> Self {
        let default_path = default_path.into();
        let path = if name == "default" {
            default_path.clone()
        } else {
            let file = default_path
                .file_name()
                .map(|f| f.to_os_string())
                .unwrap_or_else(|| "mlinfra.state.json".into());
            default_path
                .parent()
                .unwrap_or(Path::new(""))
                .join(LOCAL_WORKSPACES_DIR)
                .join(name)
                .join(file)
        };
        LocalBackend { path, default_path }
    }

    pub fn lock_path(&self) -> PathBuf {
        with_suffix(&self.path, ".lock")
    }

    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.path, ".backup")
    }

    pub fn journal_path(&self) -> PathBuf {
        with_suffix(&self.path, ".journal")
    }

    /// Open the lock file without following a link; refuse anything but a plain file.
    fn open_lock_file(&self, create: bool) -> Result<File, StateError> {
        let lock_path = self.lock_path();
        let file = no_follow()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(open_error(
                &lock_path,
                "open the lock file",
                "the state lock",
                "",
            ))?;
        let meta = file.metadata().map_err(|source| StateError::Io {
            action: "inspect the lock file",
            path: lock_path.clone(),
            source,
        })?;
        if !meta.is_file() || meta.nlink() > 1 {
            return Err(StateError::Io {
                action: "use the lock file",
                path: lock_path,
                source: std::io::Error::other(
                    "it is not a plain file of its own (a directory, device or hard link); remove it",
                ),
            });
        }
        Ok(file)
    }

    /// The record of a process that holds the lock. It writes its record right after
    /// locking, so an empty or partial one is read again for a moment before giving up.
    fn live_holder(&self, file: &File) -> LockInfo {
        for _ in 0..20 {
            if let Some(info) = read_lock_info(file) {
                return info;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        LockInfo::unknown(
            "it has not written its record",
            &self.path.display().to_string(),
        )
    }

    fn read_file(&self) -> Result<Option<Vec<u8>>, StateError> {
        refuse_link(&self.path, "state", LINK_HINT)?;
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Io {
                action: "read",
                path: self.path.clone(),
                source,
            }),
        }
    }
}

/// The version of a local snapshot: the hash of its bytes.
fn content_version(bytes: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl Backend for LocalBackend {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    /// A state file that is a symbolic link is refused, dangling or not: it is never read
    /// as "no state".
    fn read(&self) -> Result<Option<Stored>, StateError> {
        Ok(self.read_file()?.map(|bytes| Stored {
            version: content_version(&bytes),
            bytes,
        }))
    }

    fn write(&self, bytes: &[u8], expected: Option<&str>) -> Result<String, StateError> {
        let current = self.read_file()?.map(|b| content_version(&b));
        if current.as_deref() != expected {
            return Err(StateError::Conflict {
                location: self.location(),
                detail: "the state file changed since it was read".into(),
            });
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
                action: "create the state directory",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        atomic_write(&self.path, bytes)?;
        Ok(content_version(bytes))
    }

    fn backup_location(&self) -> Option<String> {
        Some(self.backup_path().display().to_string())
    }

    fn backup(&self, previous: &[u8]) -> Result<(), StateError> {
        refuse_link(&self.backup_path(), "state backups", LINK_HINT)?;
        Ok(atomic_write(&self.backup_path(), previous)?)
    }

    fn try_lock(&self, info: &LockInfo) -> Result<TryLock, StateError> {
        let lock_path = self.lock_path();
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
                action: "create the state directory",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        loop {
            let file = self.open_lock_file(true)?;
            match file.try_lock() {
                Ok(()) => {
                    // The holder before us may have removed the file after we opened it.
                    let same = match (file.metadata(), std::fs::symlink_metadata(&lock_path)) {
                        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                        _ => false,
                    };
                    if !same {
                        continue;
                    }
                    // A released lock leaves no file behind: one with a holder in it was
                    // abandoned by a run that died.
                    let abandoned_by = read_lock_info(&file);
                    write_lock_info(&file, info).map_err(|source| StateError::Io {
                        action: "write the lock file",
                        path: lock_path.clone(),
                        source,
                    })?;
                    return Ok(TryLock::Acquired {
                        guard: Box::new(LocalLock {
                            file: Some(file),
                            path: lock_path,
                        }),
                        abandoned_by,
                    });
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Ok(TryLock::Held(self.live_holder(&file)))
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
    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(self
            .open_lock_file(false)
            .ok()
            .and_then(|f| read_lock_info(&f)))
    }

    /// Remove a lock left behind, if its id matches. Refuses when a live process holds
    /// it, whatever id was given, and names that process.
    fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        let lock_path = self.lock_path();
        let file = match self.open_lock_file(false) {
            Ok(f) => f,
            Err(StateError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::LockMismatch {
                    id: id.to_string(),
                    current: "none".into(),
                })
            }
            Err(e) => return Err(e),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StateError::Locked {
                    holder: Box::new(self.live_holder(&file)),
                })
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StateError::Io {
                    action: "lock",
                    path: lock_path,
                    source,
                })
            }
        }
        // No live process holds it: this is a leftover record, or no lock at all.
        let info = LockInfo::to_unlock(read_lock_info(&file), id)?;
        let _ = std::fs::remove_file(&lock_path);
        let _ = file.unlock();
        Ok(info)
    }

    /// One line per entry, appended and made durable; a line left torn by a crash is
    /// ended first, so it stays a line of its own that replay skips.
    fn journal_append(&self, _base: u64, _serial: u64, bytes: &[u8]) -> Result<(), StateError> {
        let path = self.journal_path();
        let io = |action: &'static str| {
            let path = path.clone();
            move |source| StateError::Io {
                action,
                path,
                source,
            }
        };
        let mut file = no_follow()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(open_error(
                &path,
                "open the journal",
                "the state journal",
                "",
            ))?;
        let len = file.metadata().map_err(io("inspect the journal"))?.len();
        let mut line = Vec::with_capacity(bytes.len() + 2);
        if len > 0 {
            let mut last = [0u8; 1];
            file.read_exact_at(&mut last, len - 1)
                .map_err(io("read the journal"))?;
            if last[0] != b'\n' {
                line.push(b'\n');
            }
        }
        line.extend_from_slice(bytes);
        line.push(b'\n');
        use std::io::Write;
        file.write_all(&line).map_err(io("append to the journal"))?;
        file.sync_data().map_err(io("sync the journal"))?;
        if len == 0 {
            crate::files::sync_parent(&path);
        }
        Ok(())
    }

    fn journal_read(&self, _base: u64) -> Result<Vec<Vec<u8>>, StateError> {
        let path = self.journal_path();
        refuse_link(&path, "the state journal", LINK_HINT)?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(StateError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    fn journal_clear(&self) -> Result<(), StateError> {
        let path = self.journal_path();
        match std::fs::remove_file(&path) {
            Ok(()) => {
                crate::files::sync_parent(&path);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Io {
                action: "remove",
                path,
                source,
            }),
        }
    }

    fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let mut names = Vec::new();
        if self.default_path.exists() {
            names.push("default".to_string());
        }
        let dir = self
            .default_path
            .parent()
            .unwrap_or(Path::new(""))
            .join(LOCAL_WORKSPACES_DIR);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    names.push(e.file_name().to_string_lossy().into_owned());
                }
            }
        }
        Ok(names)
    }

    fn delete_workspace(&self, name: &str) -> Result<(), StateError> {
        let ws = LocalBackend::for_workspace(&self.default_path, name);
        for p in [
            ws.path.clone(),
            ws.journal_path(),
            ws.backup_path(),
            ws.lock_path(),
        ] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StateError::Io {
                        action: "remove",
                        path: p,
                        source,
                    })
                }
            }
        }
        if name != "default" {
            if let Some(dir) = ws.path.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
        Ok(())
    }
}

/// The serial after `s`; a state at the largest serial cannot be written again.
pub(crate) fn next_serial(s: u64) -> Result<u64, StateError> {
    s.checked_add(1).ok_or(StateError::Refused {
        current: s,
        new: s,
        reason: "the serial is at its largest value; start a new state (state pull, edit the serial, state push) or ask for help".into(),
    })
}

/// Write the whole record at offset 0 and make it durable: never a record behind a run
/// of NUL bytes, however long the previous one was.
fn write_lock_info(file: &File, info: &LockInfo) -> std::io::Result<()> {
    let body = serde_json::to_string_pretty(info).unwrap_or_default();
    file.set_len(0)?;
    file.write_all_at(body.as_bytes(), 0)?;
    file.sync_all()
}

/// The record in a lock file, read from its start; `None` when empty or partial.
fn read_lock_info(file: &File) -> Option<LockInfo> {
    let len = file.metadata().ok()?.len().min(64 * 1024) as usize;
    let mut buf = vec![0u8; len];
    let mut read = 0;
    while read < len {
        match file.read_at(&mut buf[read..], read as u64) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(_) => return None,
        }
    }
    buf.truncate(read);
    serde_json::from_slice(&buf).ok()
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A local backend (for its paths) and a store over it.
    fn store(path: PathBuf) -> (LocalBackend, StateStore) {
        (LocalBackend::new(&path), StateStore::local(path))
    }

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
        let (b, b_st) = store(dir.path().join("state.json"));
        let mut s = sample();
        b_st.write(&mut s, None).unwrap();
        assert_eq!(s.serial, 1);
        let mode = std::fs::metadata(&b.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        s.resources.clear();
        b_st.write(&mut s, Some(1)).unwrap();
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
        let (_, b_st) = store(dir.path().join("state.json"));
        let mut s = sample();
        b_st.write(&mut s, None).unwrap();
        let mut other = State::new();
        assert!(matches!(
            b_st.write(&mut other, Some(1)),
            Err(StateError::ForeignLineage { .. })
        ));
        let mut stale = s.clone();
        assert!(matches!(
            b_st.write(&mut stale, Some(0)),
            Err(StateError::StaleSerial { .. })
        ));
    }

    #[test]
    fn push_refuses_older_serial_and_same_serial_with_other_content() {
        let dir = tempfile::tempdir().unwrap();
        let (_, b_st) = store(dir.path().join("state.json"));
        let mut s = sample();
        b_st.write(&mut s, None).unwrap();
        b_st.write(&mut s, Some(1)).unwrap();
        let mut older = s.clone();
        older.serial = 1;
        assert!(b_st.push(&older, false).is_err());
        let mut same = s.clone();
        same.resources.clear();
        assert!(b_st.push(&same, false).is_err());
        assert!(b_st.push(&s, false).is_ok());
    }

    #[test]
    fn a_second_lock_fails_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let (_, b_st) = store(dir.path().join("state.json"));
        let held = b_st.lock("apply", Duration::ZERO).unwrap();
        match b_st.lock("plan", Duration::from_millis(200)) {
            Err(StateError::Locked { holder }) => {
                assert_eq!(holder.operation, "apply");
                assert_eq!(holder.pid, std::process::id());
                assert_eq!(holder.id, held.info.id);
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(held);
        assert!(b_st.lock("plan", Duration::ZERO).is_ok());
    }

    #[test]
    fn a_lock_abandoned_by_a_dead_run_is_reported_and_taken() {
        let dir = tempfile::tempdir().unwrap();
        let (b, b_st) = store(dir.path().join("state.json"));
        let mut info = b_st.lock("apply", Duration::ZERO).unwrap().info.clone();
        assert!(!b.lock_path().exists(), "a released lock leaves no file");
        assert!(b_st
            .lock("plan", Duration::ZERO)
            .unwrap()
            .abandoned_by
            .is_none());
        // A run killed while holding the lock leaves its holder in the file; the OS
        // released the lock itself.
        info.pid = u32::MAX - 1;
        std::fs::write(b.lock_path(), serde_json::to_string(&info).unwrap()).unwrap();
        assert!(info.holder_is_dead(), "no such pid runs here");
        let lock = b_st.lock("apply", Duration::ZERO).unwrap();
        assert_eq!(
            lock.abandoned_by.as_ref().map(|i| i.pid),
            Some(u32::MAX - 1)
        );
        assert!(!lock.info.holder_is_dead(), "this process is alive");
    }

    #[test]
    fn force_unlock_needs_the_right_id_and_refuses_a_live_lock() {
        let dir = tempfile::tempdir().unwrap();
        let (b, b_st) = store(dir.path().join("state.json"));
        let held = b_st.lock("apply", Duration::ZERO).unwrap();
        // A live holder is named whatever id was given.
        assert!(matches!(
            b_st.force_unlock("nope"),
            Err(StateError::Locked { .. })
        ));
        assert!(matches!(
            b_st.force_unlock(&held.info.id),
            Err(StateError::Locked { .. })
        ));
        // A lock file left by a dead process: recorded holder, no OS lock.
        let info = held.info.clone();
        std::mem::forget(held);
        let leftover = b.lock_path();
        // Simulate the crash: release the OS lock by reopening a fresh file with the info.
        std::fs::remove_file(&leftover).unwrap();
        std::fs::write(&leftover, serde_json::to_string(&info).unwrap()).unwrap();
        assert!(matches!(
            b_st.force_unlock("nope"),
            Err(StateError::LockMismatch { .. })
        ));
        assert_eq!(b_st.force_unlock(&info.id).unwrap().id, info.id);
        assert!(!leftover.exists());
    }

    #[test]
    fn a_linked_lock_file_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let (b, b_st) = store(dir.path().join("state.json"));
        std::os::unix::fs::symlink(&victim, b.lock_path()).unwrap();
        let e = b_st.lock("plan", Duration::ZERO).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert!(b_st.force_unlock("x").is_err());
        assert!(b_st.lock_holder().is_none());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        // A hard link is refused too: writing the record would change the other name.
        std::fs::remove_file(b.lock_path()).unwrap();
        std::fs::hard_link(&victim, b.lock_path()).unwrap();
        assert!(b_st.lock("plan", Duration::ZERO).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn a_linked_state_file_is_refused_dangling_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let (real, real_st) = store(dir.path().join("real.json"));
        let mut s = sample();
        real_st.write(&mut s, None).unwrap();
        let before = std::fs::read_to_string(&real.path).unwrap();
        let (b, b_st) = store(dir.path().join("state.json"));
        std::os::unix::fs::symlink(&real.path, &b.path).unwrap();
        let e = b_st.read().unwrap_err();
        assert!(e.to_string().contains("backend \"local\""), "{e}");
        assert!(b_st.write(&mut s, Some(1)).is_err());
        assert_eq!(std::fs::read_to_string(&real.path).unwrap(), before);
        assert!(std::fs::symlink_metadata(&b.path)
            .unwrap()
            .file_type()
            .is_symlink());
        // A dangling link is not "no state": everything would plan as new.
        std::fs::remove_file(&b.path).unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone.json"), &b.path).unwrap();
        assert!(b_st.read().is_err());
        // A linked backup is refused before the state is written.
        let (c, c_st) = store(dir.path().join("c.json"));
        let mut t = sample();
        c_st.write(&mut t, None).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, c.backup_path()).unwrap();
        assert!(c_st.write(&mut t, Some(1)).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(c_st.read().unwrap().unwrap().serial, 1);
    }

    #[test]
    fn the_lock_record_is_written_whole_after_a_longer_abandoned_one() {
        let dir = tempfile::tempdir().unwrap();
        let (b, b_st) = store(dir.path().join("state.json"));
        let mut old = b_st.lock("apply", Duration::ZERO).unwrap().info.clone();
        old.pid = u32::MAX - 1;
        old.operation = "x".repeat(4000);
        std::fs::write(b.lock_path(), serde_json::to_string(&old).unwrap()).unwrap();
        let lock = b_st.lock("plan", Duration::ZERO).unwrap();
        assert_eq!(lock.abandoned_by.as_ref().unwrap().pid, u32::MAX - 1);
        let bytes = std::fs::read(b.lock_path()).unwrap();
        assert_eq!(bytes.first(), Some(&b'{'), "no NUL bytes before the record");
        assert!(!bytes.contains(&0));
        assert_eq!(b_st.lock_holder().unwrap().id, lock.info.id);
    }

    #[test]
    fn a_holder_that_has_not_written_its_record_yet_is_still_named() {
        let dir = tempfile::tempdir().unwrap();
        let (b, b_st) = store(dir.path().join("state.json"));
        // A holder that locked but writes its record only after a moment.
        let file = b.open_lock_file(true).unwrap();
        file.try_lock().unwrap();
        let info = LockInfo {
            id: "late-writer".into(),
            pid: std::process::id(),
            host: hostname(),
            user: "ci".into(),
            operation: "apply".into(),
            created: 0,
            path: String::new(),
            heartbeat: None,
        };
        let writer = {
            let file = file.try_clone().unwrap();
            let info = info.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                write_lock_info(&file, &info).unwrap();
            })
        };
        match b_st.lock("plan", Duration::ZERO) {
            Err(StateError::Locked { holder }) => assert_eq!(holder.id, "late-writer"),
            other => panic!("expected Locked, got {other:?}"),
        }
        writer.join().unwrap();
        // force-unlock of a live holder refuses and names it, whatever the id.
        match b_st.force_unlock("something-else") {
            Err(StateError::Locked { holder }) => assert_eq!(holder.id, "late-writer"),
            other => panic!("expected Locked, got {other:?}"),
        }
        // Even before its record exists, a live holder is reported as holding the lock.
        file.set_len(0).unwrap();
        match b_st.force_unlock("late-writer") {
            Err(StateError::Locked { holder }) => assert_eq!(holder.id, "unknown"),
            other => panic!("expected Locked, got {other:?}"),
        }
    }

    #[test]
    fn the_serial_cannot_wrap() {
        let dir = tempfile::tempdir().unwrap();
        let (_, b_st) = store(dir.path().join("state.json"));
        let mut s = sample();
        s.serial = u64::MAX;
        b_st.push(&s, false).unwrap();
        let e = b_st.write(&mut s, Some(u64::MAX)).unwrap_err();
        assert!(e.to_string().contains("largest value"), "{e}");
        assert_eq!(b_st.read().unwrap().unwrap().serial, u64::MAX);
    }

    #[test]
    fn unix_time_formats_as_utc() {
        assert_eq!(format_unix_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_unix_time(1_795_000_000), "2026-11-18 11:06:40 UTC");
    }
}
