//! The GCP provider: mlinfra kinds to Google Cloud objects through the official
//! google-cloud-rust crates.
//!
//! GKE through `google-cloud-container-v1`, Artifact Registry through
//! `google-cloud-artifactregistry-v1`, Vertex AI through `google-cloud-aiplatform-v1` (only
//! the services used), buckets through `google-cloud-storage`'s `StorageControl`
//! (google.storage.v2 over gRPC). Credentials are Application Default Credentials, a key
//! file (`credentials_file`) or an impersonated service account; an `http://` endpoint
//! (the GCP double) is called without credentials.

mod attrs;
mod bucket;
mod clients;
mod cluster;
mod endpoint;
mod errors;
mod feature_store;
mod gke;
mod lro;
mod model_registry;
mod nodepool;
mod plan;
mod registry;

use mlinfra_provider_api::{
    ApplyRequest, ApplyResponse, BoxFuture, ConfigureRequest, ConfigureResponse, ErrorKind,
    ImportRequest, ImportResponse, PlanRequest, PlanResponse, Provider, ProviderError, ReadRequest,
    ReadResponse, RecoverRequest,
};
use mlinfra_schema::{Cloud, Value};

pub use clients::Clients;

/// The kinds this provider creates on GCP.
pub const KINDS: &[&str] = &[
    "bucket",
    "cluster",
    "container_registry",
    "endpoint",
    "feature_store",
    "gpu_pool",
    "model_registry",
];

/// The GCP provider; holds one set of clients per provider configuration.
#[derive(Default)]
pub struct GcpProvider {
    clients: clients::ClientCache,
}

impl GcpProvider {
    pub fn new() -> Self {
        Self::default()
    }
}

fn unsupported(kind: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Invalid,
        format!(
            "{kind} on gcp is not supported by this build yet (supported: {})",
            KINDS.join(", ")
        ),
    )
}

impl Provider for GcpProvider {
    fn cloud(&self) -> Cloud {
        Cloud::Gcp
    }

    fn supports(&self, kind: &str) -> bool {
        KINDS.contains(&kind)
    }

    fn configure(
        &self,
        req: ConfigureRequest,
    ) -> BoxFuture<'_, Result<ConfigureResponse, ProviderError>> {
        Box::pin(async move {
            clients::check_block(&req.config)?;
            let c = self.clients.get(&req.config).await?;
            c.resolve_credentials().await
        })
    }

    fn rules(&self, kind: &str) -> &'static [&'static str] {
        plan::rules(kind)
    }

    fn plan(&self, req: PlanRequest) -> Result<PlanResponse, ProviderError> {
        if !self.supports(&req.kind) {
            return Err(unsupported(&req.kind));
        }
        plan::plan(&req)
    }

    fn read(&self, req: ReadRequest) -> BoxFuture<'_, Result<ReadResponse, ProviderError>> {
        Box::pin(async move {
            let c = self.clients.get(&req.config).await?;
            match req.kind.as_str() {
                "bucket" => bucket::read(&c, &req.id, &req.prior).await,
                "container_registry" => registry::read(&c, &req.id, &req.prior).await,
                "feature_store" => feature_store::read(&c, &req.id, &req.prior).await,
                "cluster" => cluster::read(&c, &req.id, &req.prior).await,
                "endpoint" => endpoint::read(&c, &req.id, &req.prior).await,
                "gpu_pool" => nodepool::read(&c, &req.id, &req.prior).await,
                "model_registry" => model_registry::read(&c, &req.id, &req.prior).await,
                other => Err(unsupported(other)),
            }
        })
    }

    fn apply(&self, req: ApplyRequest) -> BoxFuture<'_, Result<ApplyResponse, ProviderError>> {
        Box::pin(async move {
            let c = self.clients.get(&req.config).await?;
            match req.kind.as_str() {
                "bucket" => bucket::apply(&c, &req).await,
                "container_registry" => registry::apply(&c, &req).await,
                "feature_store" => feature_store::apply(&c, &req).await,
                "cluster" => cluster::apply(&c, &req).await,
                "endpoint" => endpoint::apply(&c, &req).await,
                "gpu_pool" => nodepool::apply(&c, &req).await,
                "model_registry" => model_registry::apply(&c, &req).await,
                other => Err(unsupported(other)),
            }
        })
    }

    fn recover(&self, req: RecoverRequest) -> BoxFuture<'_, Result<ReadResponse, ProviderError>> {
        Box::pin(async move {
            let c = self.clients.get(&req.config).await?;
            let id = match (req.kind.as_str(), &req.handle) {
                // The plan's handle names the provider's region; the pool was made where its
                // cluster is.
                ("gpu_pool", _) => {
                    let cluster = req.planned.get("cluster").and_then(Value::as_str);
                    let name = req.planned.get("name").and_then(Value::as_str);
                    match (cluster, name) {
                        (Some(cluster), Some(name)) => {
                            let loc = nodepool::cluster_location(&c, cluster).await?;
                            nodepool::full_name(&c.project, &loc, cluster, name)
                        }
                        _ => req.handle.clone().unwrap_or(req.name.clone()),
                    }
                }
                (_, Some(h)) => h.clone(),
                _ => req.name.clone(),
            };
            self.read(ReadRequest::new(req.kind, id, req.planned, req.config))
                .await
        })
    }

    fn import(&self, req: ImportRequest) -> BoxFuture<'_, Result<ImportResponse, ProviderError>> {
        Box::pin(async move {
            let c = self.clients.get(&req.config).await?;
            let none = Default::default();
            let found = match req.kind.as_str() {
                "bucket" => bucket::read(&c, &req.id, &none).await?,
                "container_registry" => registry::read(&c, &req.id, &none).await?,
                "feature_store" => feature_store::read(&c, &req.id, &none).await?,
                "cluster" => cluster::read(&c, &req.id, &none).await?,
                "endpoint" => endpoint::read(&c, &req.id, &req.write_only).await?,
                "gpu_pool" => nodepool::read(&c, &req.id, &none).await?,
                "model_registry" => model_registry::read(&c, &req.id, &none).await?,
                other => return Err(unsupported(other)),
            };
            match found {
                ReadResponse::Found { attributes } => Ok(ImportResponse { attributes }),
                ReadResponse::Gone => Err(ProviderError::new(
                    ErrorKind::NotFound,
                    format!("no {} with id \"{}\" exists", req.kind, req.id),
                )),
            }
        })
    }
}
