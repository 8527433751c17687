//! The contract between the engine and a cloud provider: request and response types.
//!
//! Each call takes a request struct and returns a response struct, so adding a field never
//! breaks a signature. The calls, in the order a run makes them:
//! - [`Provider::configure`] validates a provider block and resolves its credentials, once,
//!   before any resource call;
//! - [`Provider::plan`] checks the cloud's own rules for a create or update and says which
//!   paths force replacement and why; it is pure (no cloud call, no credentials), so an
//!   offline plan runs it too;
//! - [`Provider::read`], [`Provider::apply`], [`Provider::import`] and
//!   [`Provider::recover`] talk to the cloud.
//!
//! Providers take endpoint overrides from their configuration so they can run against
//! emulators. Waiting and retrying inside a provider goes through [`wait`].

pub mod rollout;
pub mod secret_env;
pub mod versions;
pub mod wait;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use mlinfra_schema::{Cloud, Value};

/// Attributes of one resource, by name.
pub type Attributes = BTreeMap<String, Value>;

/// A boxed future, so the trait stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What went wrong in a provider call. The engine decides on retries from the kind; the
/// cloud's own code and message are kept for the user.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub message: String,
    /// The cloud's own error code (`ThrottlingException`, `ZONE_RESOURCE_POOL_EXHAUSTED`,
    /// `AllocationFailed`), when it gave one.
    pub code: Option<String>,
    /// How long the cloud asked us to wait before trying again (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            message: message.into(),
            code: None,
            retry_after: None,
        }
    }

    /// A refusal that retrying cannot fix.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    /// Whether another attempt may succeed: throttling and transient faults.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

/// The kinds of failure every provider maps its cloud's errors to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The object does not exist (404, ResourceNotFoundException).
    NotFound,
    /// A create found the object already there, and it was not this state's to adopt; or
    /// the object is in a state that conflicts with the call (409).
    AlreadyExists,
    /// The cloud asked us to slow down (429, ThrottlingException); see `retry_after`.
    Throttled,
    /// A fault worth retrying (5xx, connection reset).
    Transient,
    /// The cloud has no capacity for the request right now (AWS
    /// InsufficientInstanceCapacity, GCP ZONE_RESOURCE_POOL_EXHAUSTED, Azure
    /// AllocationFailed/SkuNotAvailable): another zone, size or time may work.
    Capacity,
    /// A quota or limit of the account was reached; it must be raised.
    Quota,
    /// Credentials missing or refused.
    Auth,
    /// The request was refused as invalid; retrying will not help.
    Invalid,
    /// The cloud did not finish within the resource's `timeouts`.
    Timeout,
    Other,
}

impl ErrorKind {
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::Transient)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Transient => "transient fault",
            ErrorKind::Capacity => "no capacity",
            ErrorKind::Quota => "quota exceeded",
            ErrorKind::Auth => "credentials",
            ErrorKind::Invalid => "invalid request",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Other => "error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stands for the resource address in an [`already_exists`] message; the engine fills it in.
pub const ADDRESS_PLACEHOLDER: &str = "<address>";

/// The error of a create that found `object` already there: it belongs to no interrupted
/// create of this state, so it is someone else's (another address, configuration or person).
pub fn already_exists(object: &str, import_id: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::AlreadyExists,
        format!(
            "{object} already exists, and this state did not create it; to manage it here, import it: mlinfra import '{ADDRESS_PLACEHOLDER}' {import_id}; to create a new one, choose another name"
        ),
    )
}

/// What the plan and the state keep of a write-only value: a map's keys with null values,
/// unknown while it is unknown, and null otherwise.
pub fn write_only_shape(v: &Value) -> Value {
    match v {
        Value::Map(m) => Value::Map(m.keys().map(|k| (k.clone(), Value::Null)).collect()),
        Value::Unknown => Value::Unknown,
        _ => Value::Null,
    }
}

/// The keys of a write-only map as the plan or state holds it (its shape).
pub fn write_only_keys(attrs: &Attributes, name: &str) -> Vec<String> {
    attrs
        .get(name)
        .and_then(Value::as_map)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The evaluated provider block (`region`, `endpoint`, …).
#[derive(Clone, Debug, Default)]
pub struct ProviderConfig {
    pub key: String,
    pub attributes: Attributes,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConfigureRequest {
    pub config: ProviderConfig,
}

impl ConfigureRequest {
    pub fn new(config: ProviderConfig) -> Self {
        ConfigureRequest { config }
    }
}

#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ConfigureResponse {
    /// Where the credentials came from, for the log (never the credentials themselves).
    pub credentials_source: Option<String>,
}

impl ConfigureResponse {
    pub fn from_source(source: impl Into<String>) -> Self {
        ConfigureResponse {
            credentials_source: Some(source.into()),
        }
    }
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReadRequest {
    pub kind: String,
    pub id: String,
    /// Attributes recorded in state, for fields the cloud does not return.
    pub prior: Attributes,
    pub config: ProviderConfig,
}

impl ReadRequest {
    pub fn new(
        kind: impl Into<String>,
        id: impl Into<String>,
        prior: Attributes,
        config: ProviderConfig,
    ) -> Self {
        ReadRequest {
            kind: kind.into(),
            id: id.into(),
            prior,
            config,
        }
    }
}

#[derive(Clone, Debug)]
pub enum ReadResponse {
    Found {
        attributes: Attributes,
    },
    /// Deleted outside mlinfra.
    Gone,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PlanRequest {
    pub kind: String,
    pub prior: Option<Attributes>,
    pub proposed: Attributes,
    /// The paths where `proposed` differs from `prior` (empty for a create).
    pub changed: Vec<Vec<String>>,
    pub config: ProviderConfig,
    /// The configuration's values of write-only attributes (`environment_wo`), for checks:
    /// `proposed` holds only their shape. Empty when the configuration sets none.
    pub write_only: Attributes,
}

impl PlanRequest {
    pub fn new(
        kind: impl Into<String>,
        prior: Option<Attributes>,
        proposed: Attributes,
        changed: Vec<Vec<String>>,
        config: ProviderConfig,
    ) -> Self {
        PlanRequest {
            kind: kind.into(),
            prior,
            proposed,
            changed,
            config,
            write_only: Attributes::new(),
        }
    }

    pub fn with_write_only(mut self, values: Attributes) -> Self {
        self.write_only = values;
        self
    }
}

/// A path whose change cannot be made in place, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplacePath {
    pub path: Vec<String>,
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct PlanResponse {
    pub planned: Attributes,
    /// Paths known only after apply (the engine shows them as "(known after apply)").
    pub computed: Vec<Vec<String>>,
    /// Paths whose change forces replacement on this cloud, each with the reason.
    pub requires_replace: Vec<ReplacePath>,
    /// An opaque value the engine keeps with a pending create and hands to
    /// [`Provider::recover`], so recovery never assumes the cloud id is the name.
    pub private: Option<String>,
    /// Paths the schema marks as forcing replacement that this provider changes in place by
    /// rotation, each with how: the update makes a new object beside the old one and
    /// removes the old one only once the new one serves (an AKS agent pool's VM size).
    /// When every forced path of a replacement is one of these, the engine plans an update.
    pub rotates: Vec<ReplacePath>,
}

impl PlanResponse {
    pub fn new(planned: Attributes) -> Self {
        PlanResponse {
            planned,
            ..Default::default()
        }
    }

    pub fn replace(mut self, path: &[&str], reason: impl Into<String>) -> Self {
        self.requires_replace.push(ReplacePath {
            path: path.iter().map(|s| s.to_string()).collect(),
            reason: reason.into(),
        });
        self
    }

    pub fn rotate(mut self, path: &[&str], how: impl Into<String>) -> Self {
        self.rotates.push(ReplacePath {
            path: path.iter().map(|s| s.to_string()).collect(),
            reason: how.into(),
        });
        self
    }

    pub fn computed(mut self, path: &[&str]) -> Self {
        self.computed
            .push(path.iter().map(|s| s.to_string()).collect());
        self
    }

    pub fn private(mut self, value: impl Into<String>) -> Self {
        self.private = Some(value.into());
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyAction {
    Create,
    Update,
    Delete,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ApplyRequest {
    pub kind: String,
    pub action: ApplyAction,
    pub prior: Option<Attributes>,
    pub planned: Attributes,
    /// Deterministic idempotency token recorded in state before the call.
    pub client_token: String,
    /// A create may adopt an object that is already there: an interrupted create of this
    /// state, or an earlier attempt of this one, may have made it. Otherwise an existing
    /// object is an [`ErrorKind::AlreadyExists`] error, never silently taken over.
    pub adopt_existing: bool,
    pub timeout_seconds: Option<u64>,
    pub config: ProviderConfig,
    /// The values of write-only attributes, which `planned` holds only the shape of (see
    /// [`write_only_shape`]); sent to the cloud, never returned in the response.
    pub write_only: Attributes,
}

impl ApplyRequest {
    /// A request with no idempotency token, no adoption and the provider's default timeout.
    pub fn new(
        kind: impl Into<String>,
        action: ApplyAction,
        prior: Option<Attributes>,
        planned: Attributes,
        config: ProviderConfig,
    ) -> Self {
        ApplyRequest {
            kind: kind.into(),
            action,
            prior,
            planned,
            client_token: String::new(),
            adopt_existing: false,
            timeout_seconds: None,
            config,
            write_only: Attributes::new(),
        }
    }

    pub fn with_write_only(mut self, values: Attributes) -> Self {
        self.write_only = values;
        self
    }

    pub fn with_client_token(mut self, token: impl Into<String>) -> Self {
        self.client_token = token.into();
        self
    }

    pub fn adopting(mut self, adopt_existing: bool) -> Self {
        self.adopt_existing = adopt_existing;
        self
    }

    pub fn with_timeout(mut self, seconds: Option<u64>) -> Self {
        self.timeout_seconds = seconds;
        self
    }
}

#[derive(Clone, Debug, Default)]
pub struct ApplyResponse {
    pub id: Option<String>,
    /// The new attributes; `None` after a delete.
    pub attributes: Option<Attributes>,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ImportRequest {
    pub kind: String,
    pub id: String,
    pub config: ProviderConfig,
    /// The shapes of the write-only attributes the configuration sets (see
    /// [`write_only_shape`]), so the values they stand for are not imported as plain ones.
    pub write_only: Attributes,
}

impl ImportRequest {
    pub fn new(kind: impl Into<String>, id: impl Into<String>, config: ProviderConfig) -> Self {
        ImportRequest {
            kind: kind.into(),
            id: id.into(),
            config,
            write_only: Attributes::new(),
        }
    }

    pub fn with_write_only(mut self, shapes: Attributes) -> Self {
        self.write_only = shapes;
        self
    }
}

#[derive(Clone, Debug)]
pub struct ImportResponse {
    pub attributes: Attributes,
}

/// What an interrupted create left behind: the intent the engine recorded before the call.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RecoverRequest {
    pub kind: String,
    /// The cloud name the create used.
    pub name: String,
    /// The provider's private value from [`PlanResponse::private`], if it gave one.
    pub handle: Option<String>,
    /// The attributes the create was sent with.
    pub planned: Attributes,
    pub config: ProviderConfig,
}

impl RecoverRequest {
    pub fn new(
        kind: impl Into<String>,
        name: impl Into<String>,
        handle: Option<String>,
        planned: Attributes,
        config: ProviderConfig,
    ) -> Self {
        RecoverRequest {
            kind: kind.into(),
            name: name.into(),
            handle,
            planned,
            config,
        }
    }
}

/// A cloud provider.
pub trait Provider: Send + Sync {
    fn cloud(&self) -> Cloud;
    /// Whether this provider manages resources of `kind`.
    fn supports(&self, kind: &str) -> bool;
    /// Validate the provider block and resolve its credentials, before any resource call.
    /// Missing or refused credentials are an [`ErrorKind::Auth`] error.
    fn configure(
        &self,
        req: ConfigureRequest,
    ) -> BoxFuture<'_, Result<ConfigureResponse, ProviderError>>;
    fn read(&self, req: ReadRequest) -> BoxFuture<'_, Result<ReadResponse, ProviderError>>;
    /// The cloud's own rules for a create or update. Pure: no cloud call, no credentials.
    fn plan(&self, req: PlanRequest) -> Result<PlanResponse, ProviderError>;
    /// What [`Provider::plan`] checks for `kind`, one line each, for `mlinfra schema KIND`.
    fn rules(&self, kind: &str) -> &'static [&'static str] {
        let _ = kind;
        &[]
    }
    fn apply(&self, req: ApplyRequest) -> BoxFuture<'_, Result<ApplyResponse, ProviderError>>;
    fn import(&self, req: ImportRequest) -> BoxFuture<'_, Result<ImportResponse, ProviderError>>;
    /// Find what an interrupted create made. The default reads the object by its handle,
    /// or by its name when the provider gave no handle.
    fn recover(&self, req: RecoverRequest) -> BoxFuture<'_, Result<ReadResponse, ProviderError>> {
        let read = ReadRequest::new(
            req.kind,
            req.handle.unwrap_or(req.name),
            req.planned,
            req.config,
        );
        self.read(read)
    }
}

/// The providers available to a run, by cloud.
#[derive(Default)]
pub struct ProviderSet {
    providers: Vec<Box<dyn Provider>>,
}

impl ProviderSet {
    pub fn add(&mut self, p: Box<dyn Provider>) {
        self.providers.push(p);
    }

    pub fn get(&self, cloud: Cloud) -> Option<&dyn Provider> {
        self.providers
            .iter()
            .find(|p| p.cloud() == cloud)
            .map(|p| p.as_ref())
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }
}
