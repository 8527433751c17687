//! The Azure provider: mlinfra kinds to Azure resources through Azure Resource Manager.
//!
//! No maintained Rust crates cover the ARM management plane, so this crate carries a small
//! ARM client ([`arm`]) on azure_core's HTTP pipeline, with credentials from
//! azure_identity: a client secret, workload identity, a managed identity, or the Azure
//! CLI's login. The api-versions are pinned to the ARM schemas the double validates against.

mod acr;
mod aks;
pub mod arm;
mod attrs;
mod blob;
mod clients;
mod errors;
mod feature_store;
mod ml_endpoint;
mod ml_registry;
mod plan;
mod storage;

use mlinfra_provider_api::{
    ApplyRequest, ApplyResponse, BoxFuture, ConfigureRequest, ConfigureResponse, ErrorKind,
    ImportRequest, ImportResponse, PlanRequest, PlanResponse, Provider, ProviderError, ReadRequest,
    ReadResponse, RecoverRequest,
};
use mlinfra_schema::Cloud;

pub use clients::{credentials_for, Clients};

/// The kinds this provider creates on Azure.
pub const KINDS: &[&str] = &[
    "bucket",
    "cluster",
    "container_registry",
    "endpoint",
    "feature_store",
    "gpu_pool",
    "model_registry",
];

/// The Azure provider; holds one ARM client per provider configuration.
#[derive(Default)]
pub struct AzureProvider {
    clients: clients::ClientCache,
}

impl AzureProvider {
    pub fn new() -> Self {
        Self::default()
    }
}

fn unsupported(kind: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Invalid,
        format!(
            "{kind} on azure cannot be applied by this build yet (it plans; apply supports: {})",
            KINDS.join(", ")
        ),
    )
}

impl Provider for AzureProvider {
    fn cloud(&self) -> Cloud {
        Cloud::Azure
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
                "bucket" => storage::read(&c, &req.id, &req.prior).await,
                "container_registry" => acr::read(&c, &req.id, &req.prior).await,
                "cluster" => aks::read_cluster(&c, &req.id, &req.prior).await,
                "gpu_pool" => aks::read_pool(&c, &req.id, &req.prior).await,
                "model_registry" => ml_registry::read(&c, &req.id, &req.prior).await,
                "endpoint" => ml_endpoint::read(&c, &req.id, &req.prior).await,
                "feature_store" => feature_store::read(&c, &req.id, &req.prior).await,
                other => Err(unsupported(other)),
            }
        })
    }

    fn apply(&self, req: ApplyRequest) -> BoxFuture<'_, Result<ApplyResponse, ProviderError>> {
        Box::pin(async move {
            let c = self.clients.get(&req.config).await?;
            match req.kind.as_str() {
                "bucket" => storage::apply(&c, &req).await,
                "container_registry" => acr::apply(&c, &req).await,
                "cluster" => aks::apply_cluster(&c, &req).await,
                "gpu_pool" => aks::apply_pool(&c, &req).await,
                "model_registry" => ml_registry::apply(&c, &req).await,
                "endpoint" => ml_endpoint::apply(&c, &req).await,
                "feature_store" => feature_store::apply(&c, &req).await,
                other => Err(unsupported(other)),
            }
        })
    }

    fn recover(&self, req: RecoverRequest) -> BoxFuture<'_, Result<ReadResponse, ProviderError>> {
        Box::pin(async move {
            let id = match (req.kind.as_str(), &req.handle) {
                (_, Some(h)) => h.clone(),
                ("gpu_pool", None) => {
                    let cluster = attrs::str_attr(&req.planned, "cluster").unwrap_or_default();
                    format!("{cluster}/{}", req.name)
                }
                ("bucket", None) => {
                    let account =
                        attrs::str_attr(&req.planned, "storage_account").unwrap_or_default();
                    format!("{account}/{}", req.name)
                }
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
                "bucket" => storage::read(&c, &req.id, &none).await?,
                "container_registry" => acr::read(&c, &req.id, &none).await?,
                "cluster" => aks::read_cluster(&c, &req.id, &none).await?,
                "gpu_pool" => aks::read_pool(&c, &req.id, &none).await?,
                "model_registry" => ml_registry::read(&c, &req.id, &none).await?,
                "endpoint" => ml_endpoint::read(&c, &req.id, &req.write_only).await?,
                "feature_store" => feature_store::read(&c, &req.id, &none).await?,
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
