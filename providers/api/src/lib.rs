//! The contract between the engine and a cloud provider: request and response types.
//!
//! Each call takes a request struct and returns a response struct, so adding a field never
//! breaks a signature. Providers take endpoint overrides from their configuration so they
//! can run against emulators.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use mlinfra_schema::{Cloud, Value};

/// Attributes of one resource, by name.
pub type Attributes = BTreeMap<String, Value>;

/// A boxed future, so the trait stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What went wrong in a provider call; the engine decides on retries from the kind.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The cloud asked us to slow down (429, ThrottlingException).
    Throttled,
    /// A fault worth retrying (5xx, connection reset).
    Transient,
    /// The request was refused as invalid; retrying will not help.
    Invalid,
    /// Credentials missing or refused.
    Auth,
    /// A create found the object already there, and it was not this state's to adopt.
    AlreadyExists,
    Other,
}

/// Stands for the resource address in an [`already_exists`] message; the engine fills it in.
pub const ADDRESS_PLACEHOLDER: &str = "<address>";

/// The error of a create that found `object` already there: it belongs to no interrupted
/// create of this state, so it is someone else's (another address, configuration or person).
pub fn already_exists(object: &str, import_id: &str) -> ProviderError {
    ProviderError {
        kind: ErrorKind::AlreadyExists,
        message: format!(
            "{object} already exists, and this state did not create it; to manage it here, import it: mlinfra import '{ADDRESS_PLACEHOLDER}' {import_id}; to create a new one, choose another name"
        ),
    }
}

/// The evaluated provider block (`region`, `endpoint`, …).
#[derive(Clone, Debug, Default)]
pub struct ProviderConfig {
    pub key: String,
    pub attributes: Attributes,
}

#[derive(Clone, Debug)]
pub struct ReadRequest {
    pub kind: String,
    pub id: String,
    /// Attributes recorded in state, for fields the cloud does not return.
    pub prior: Attributes,
    pub config: ProviderConfig,
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
pub struct PlanRequest {
    pub kind: String,
    pub prior: Option<Attributes>,
    pub proposed: Attributes,
    pub config: ProviderConfig,
}

#[derive(Clone, Debug, Default)]
pub struct PlanResponse {
    pub planned: Attributes,
    /// Attribute paths whose change forces replacement.
    pub requires_replace: Vec<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyAction {
    Create,
    Update,
    Delete,
}

#[derive(Clone, Debug)]
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
}

#[derive(Clone, Debug, Default)]
pub struct ApplyResponse {
    pub id: Option<String>,
    /// The new attributes; `None` after a delete.
    pub attributes: Option<Attributes>,
}

#[derive(Clone, Debug)]
pub struct ImportRequest {
    pub kind: String,
    pub id: String,
    pub config: ProviderConfig,
}

#[derive(Clone, Debug)]
pub struct ImportResponse {
    pub attributes: Attributes,
}

/// A cloud provider.
pub trait Provider: Send + Sync {
    fn cloud(&self) -> Cloud;
    /// Whether this provider manages resources of `kind`.
    fn supports(&self, kind: &str) -> bool;
    fn read(&self, req: ReadRequest) -> BoxFuture<'_, Result<ReadResponse, ProviderError>>;
    fn plan(&self, req: PlanRequest) -> BoxFuture<'_, Result<PlanResponse, ProviderError>>;
    fn apply(&self, req: ApplyRequest) -> BoxFuture<'_, Result<ApplyResponse, ProviderError>>;
    fn import(&self, req: ImportRequest) -> BoxFuture<'_, Result<ImportResponse, ProviderError>>;
}

/// The providers available to a run, by cloud. Offline runs have none.
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
