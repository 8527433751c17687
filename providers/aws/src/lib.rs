//! The AWS provider: mlinfra kinds to AWS objects through aws-sdk-rust.
//!
//! Clients are built per provider configuration from the standard credential chain
//! (environment, profiles, web identity, instance metadata); `endpoint` and
//! `endpoints { s3 = … }` override service URLs so the provider runs against emulators.

mod attrs;
mod bucket;
mod clients;
mod cluster;
mod endpoint;
mod errors;
mod feature_store;
mod model_registry;
mod nodegroup;
mod plan;
mod registry;
mod sagemaker;

use mlinfra_provider_api::{
    ApplyRequest, ApplyResponse, BoxFuture, ConfigureRequest, ConfigureResponse, ErrorKind,
    ImportRequest, ImportResponse, PlanRequest, PlanResponse, Provider, ProviderError, ReadRequest,
    ReadResponse,
};
use mlinfra_schema::Cloud;

pub use clients::Clients;

/// The kinds this provider creates on AWS.
pub const KINDS: &[&str] = &[
    "bucket",
    "cluster",
    "container_registry",
    "endpoint",
    "feature_store",
    "gpu_pool",
    "model_registry",
];

/// The AWS provider; holds one set of clients per provider configuration.
#[derive(Default)]
pub struct AwsProvider {
    clients: clients::ClientCache,
}

impl AwsProvider {
    pub fn new() -> Self {
        Self::default()
    }
}

fn unsupported(kind: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Invalid,
        format!(
            "{kind} on aws is not supported by this build yet (supported: {})",
            KINDS.join(", ")
        ),
    )
}

impl Provider for AwsProvider {
    fn cloud(&self) -> Cloud {
        Cloud::Aws
    }

    fn supports(&self, kind: &str) -> bool {
        KINDS.contains(&kind)
    }

    fn read(&self, req: ReadRequest) -> BoxFuture<'_, Result<ReadResponse, ProviderError>> {
        Box::pin(async move {
            let c = self.clients.get(&req.config).await;
            match req.kind.as_str() {
                "bucket" => bucket::read(&c, &req.id, &req.prior).await,
                "container_registry" => registry::read(&c, &req.id, &req.prior).await,
                "cluster" => cluster::read(&c, &req.id, &req.prior).await,
                "gpu_pool" => nodegroup::read(&c, &req.id, &req.prior).await,
                "model_registry" => model_registry::read(&c, &req.id, &req.prior).await,
                "feature_store" => feature_store::read(&c, &req.id, &req.prior).await,
                "endpoint" => endpoint::read(&c, &req.id, &req.prior).await,
                other => Err(unsupported(other)),
            }
        })
    }

    fn configure(
        &self,
        req: ConfigureRequest,
    ) -> BoxFuture<'_, Result<ConfigureResponse, ProviderError>> {
        Box::pin(async move {
            clients::check_block(&req.config)?;
            let c = self.clients.get(&req.config).await;
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

    fn apply(&self, req: ApplyRequest) -> BoxFuture<'_, Result<ApplyResponse, ProviderError>> {
        Box::pin(async move {
            let c = self.clients.get(&req.config).await;
            match req.kind.as_str() {
                "bucket" => bucket::apply(&c, &req).await,
                "container_registry" => registry::apply(&c, &req).await,
                "cluster" => cluster::apply(&c, &req).await,
                "gpu_pool" => nodegroup::apply(&c, &req).await,
                "model_registry" => model_registry::apply(&c, &req).await,
                "feature_store" => feature_store::apply(&c, &req).await,
                "endpoint" => endpoint::apply(&c, &req).await,
                other => Err(unsupported(other)),
            }
        })
    }

    fn import(&self, req: ImportRequest) -> BoxFuture<'_, Result<ImportResponse, ProviderError>> {
        Box::pin(async move {
            let c = self.clients.get(&req.config).await;
            let found = match req.kind.as_str() {
                "bucket" => bucket::read(&c, &req.id, &Default::default()).await?,
                "container_registry" => registry::read(&c, &req.id, &Default::default()).await?,
                "cluster" => cluster::read(&c, &req.id, &Default::default()).await?,
                "gpu_pool" => nodegroup::read(&c, &req.id, &Default::default()).await?,
                "model_registry" => model_registry::read(&c, &req.id, &Default::default()).await?,
                "feature_store" => feature_store::read(&c, &req.id, &Default::default()).await?,
                "endpoint" => endpoint::read(&c, &req.id, &req.write_only).await?,
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
