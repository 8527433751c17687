//! One ARM client per provider configuration: credentials, endpoint, subscription,
//! resource group and location.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, Transport, Url};
use azure_identity::{
    AzureCliCredential, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use mlinfra_provider_api::{ConfigureResponse, ErrorKind, ProviderConfig, ProviderError};
use mlinfra_schema::Value;
use serde_json::json;
use tokio::sync::Mutex;

use crate::arm::{Arm, ARM_SCOPE};

/// Microsoft.Resources, for resource groups.
pub const RESOURCES_API: &str = "2024-03-01";

pub struct Clients {
    pub arm: Arm,
    pub subscription: String,
    pub resource_group: String,
    pub location: String,
    /// The Azure ML workspace endpoints live in (`ml_workspace`, default `mlinfra`).
    pub ml_workspace: String,
    pub(crate) credential: Arc<dyn TokenCredential>,
    /// The transport and cloud settings every client of this configuration uses.
    pub(crate) options: ClientOptions,
    source: String,
    group_ready: Mutex<bool>,
    workspace_ready: Mutex<bool>,
}

impl Clients {
    /// Ask for a token once, so missing or refused credentials fail here, before any
    /// resource call. Names where they came from, never what they are.
    pub async fn resolve_credentials(&self) -> Result<ConfigureResponse, ProviderError> {
        let got = tokio::time::timeout(
            Duration::from_secs(60),
            self.credential.get_token(&[ARM_SCOPE], None),
        )
        .await;
        match got {
            Ok(Ok(_)) => Ok(ConfigureResponse::from_source(self.source.clone())),
            Ok(Err(e)) => Err(no_credentials(&self.source, &e.to_string())),
            Err(_) => Err(no_credentials(&self.source, "no token within 60 s")),
        }
    }

    /// `/subscriptions/{s}/resourceGroups/{g}`.
    pub fn group_path(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.subscription, self.resource_group
        )
    }

    /// `{group}/providers/{namespace}/{rest}`.
    pub fn path(&self, namespace: &str, rest: &str) -> String {
        format!("{}/providers/{namespace}/{rest}", self.group_path())
    }

    /// The resource group, created in `location` when it is not there; an existing one is
    /// used as it is. Once per run.
    pub async fn ensure_group(&self, deadline: Instant) -> Result<(), ProviderError> {
        let mut ready = self.group_ready.lock().await;
        if *ready {
            return Ok(());
        }
        let path = self.group_path();
        if self.arm.get(&path, RESOURCES_API).await?.is_none() {
            self.arm
                .put(
                    &path,
                    RESOURCES_API,
                    &json!({ "location": self.location, "tags": { "created-by": "mlinfra" } }),
                    deadline,
                )
                .await?;
        }
        *ready = true;
        Ok(())
    }
}

impl Clients {
    /// `{group}/providers/Microsoft.MachineLearningServices/workspaces/{ml_workspace}`.
    pub fn workspace_path(&self) -> String {
        self.path(
            "Microsoft.MachineLearningServices",
            &format!("workspaces/{}", self.ml_workspace),
        )
    }

    /// The Azure ML workspace, created when it is not there: a system-assigned identity and
    /// a storage account of its own, reached with that identity (no keys). An existing one
    /// is used as it is. Once per run.
    pub async fn ensure_workspace(&self, deadline: Instant) -> Result<(), ProviderError> {
        let mut ready = self.workspace_ready.lock().await;
        if *ready {
            return Ok(());
        }
        self.ensure_group(deadline).await?;
        let path = self.workspace_path();
        if self
            .arm
            .get(&path, crate::ml_registry::API)
            .await?
            .is_none()
        {
            let account = format!(
                "mlws{:012x}",
                crate::attrs::fnv(&format!(
                    "{}/{}/{}",
                    self.subscription, self.resource_group, self.ml_workspace
                )) & 0xffff_ffff_ffff
            );
            let apath = self.path("Microsoft.Storage", &format!("storageAccounts/{account}"));
            if self.arm.get(&apath, crate::storage::API).await?.is_none() {
                let body = json!({
                    "location": self.location,
                    "sku": { "name": "Standard_LRS" },
                    "kind": "StorageV2",
                    "tags": { "created-by": "mlinfra", "mlinfra-workspace": self.ml_workspace },
                    "properties": {
                        "minimumTlsVersion": "TLS1_2",
                        "allowBlobPublicAccess": false,
                        "supportsHttpsTrafficOnly": true,
                    },
                });
                self.arm
                    .create(&apath, crate::storage::API, &body, deadline)
                    .await?;
            }
            let body = json!({
                "location": self.location,
                "kind": "Default",
                "identity": { "type": "SystemAssigned" },
                "tags": { "created-by": "mlinfra" },
                "properties": {
                    "friendlyName": self.ml_workspace,
                    "storageAccount": apath,
                    "systemDatastoresAuthMode": "Identity",
                    "publicNetworkAccess": "Enabled",
                },
            });
            self.arm
                .create(&path, crate::ml_registry::API, &body, deadline)
                .await?;
        }
        *ready = true;
        Ok(())
    }
}

fn no_credentials(source: &str, detail: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Auth,
        format!("no usable Azure credentials from {source} (set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID, or ARM_CLIENT_ID/ARM_CLIENT_SECRET/ARM_TENANT_ID; or run `az login` and set use_cli = true): {detail}"),
    )
}

fn attr<'a>(cfg: &'a ProviderConfig, name: &str) -> Option<&'a str> {
    cfg.attributes.get(name).and_then(Value::as_str)
}

fn flag(cfg: &ProviderConfig, name: &str) -> Option<bool> {
    cfg.attributes.get(name).and_then(Value::as_bool)
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// An Azure location name as ARM spells it: `eastus`, `westeurope`, `swedencentral`.
pub fn is_location(l: &str) -> bool {
    (2..=40).contains(&l.len())
        && l.starts_with(|c: char| c.is_ascii_lowercase())
        && l.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// ARM's resource group name rule.
pub fn is_resource_group(g: &str) -> bool {
    (1..=90).contains(&g.chars().count())
        && !g.ends_with('.')
        && g.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
}

/// The provider block's own rules, before anything is built from it.
pub fn check_block(cfg: &ProviderConfig) -> Result<(), ProviderError> {
    match attr(cfg, "subscription_id") {
        None => {
            return Err(ProviderError::invalid(
                "subscription_id is required: every ARM call names a subscription; set subscription_id = \"00000000-0000-0000-0000-000000000000\" (az account show --query id)",
            ))
        }
        Some(s) if !is_guid(s) => {
            return Err(ProviderError::invalid(format!(
                "subscription_id \"{s}\" is not a subscription id: a GUID like 00000000-0000-0000-0000-000000000000"
            )))
        }
        Some(_) => {}
    }
    if let Some(t) = attr(cfg, "tenant_id") {
        if !is_guid(t) && !t.contains('.') {
            return Err(ProviderError::invalid(format!(
                "tenant_id \"{t}\" is not a tenant: a GUID, or a domain like contoso.onmicrosoft.com"
            )));
        }
    }
    match attr(cfg, "resource_group") {
        None => {
            return Err(ProviderError::invalid(
                "resource_group is required: Azure resources live in a resource group; set resource_group = \"ml-platform\" (created if it does not exist)",
            ))
        }
        Some(g) if !is_resource_group(g) => {
            return Err(ProviderError::invalid(format!(
                "resource_group \"{g}\" is not a valid resource group name: 1 to 90 letters, digits, '-', '_', '.', '(' and ')', not ending with '.'"
            )))
        }
        Some(_) => {}
    }
    match attr(cfg, "location") {
        None => {
            return Err(ProviderError::invalid(
                "location is required: set location = \"eastus\" (az account list-locations -o table)",
            ))
        }
        Some(l) if !is_location(l) => {
            return Err(ProviderError::invalid(format!(
                "location \"{l}\" is not an Azure location name; use one like eastus or westeurope (lowercase, no spaces)"
            )))
        }
        Some(_) => {}
    }
    if let Some(w) = attr(cfg, "ml_workspace") {
        let ok = (3..=33).contains(&w.len())
            && w.starts_with(|c: char| c.is_ascii_alphanumeric())
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(ProviderError::invalid(format!(
                "ml_workspace \"{w}\" is not a valid Azure ML workspace name: 3 to 33 letters, digits, '-' and '_', starting with a letter or digit"
            )));
        }
    }
    for name in ["endpoint", "authority_host"] {
        if let Some(u) = attr(cfg, name) {
            if !u.starts_with("https://") {
                return Err(ProviderError::invalid(format!(
                    "{name} = \"{u}\" must be an https:// URL (Azure's credentials are never sent over plain http; the Azure double serves TLS, see ca_file)"
                )));
            }
        }
    }
    if let Some(f) = attr(cfg, "ca_file") {
        if std::fs::metadata(f).is_err() {
            return Err(ProviderError::invalid(format!(
                "ca_file \"{f}\" cannot be read; it should hold the PEM certificate of a CA to trust (scripts/doubles/azure --ca-out writes one)"
            )));
        }
    }
    Ok(())
}

#[derive(Default)]
pub struct ClientCache {
    by_key: Mutex<HashMap<String, Arc<Clients>>>,
}

impl ClientCache {
    pub async fn get(&self, cfg: &ProviderConfig) -> Result<Arc<Clients>, ProviderError> {
        let mut map = self.by_key.lock().await;
        if let Some(c) = map.get(&cfg.key) {
            return Ok(c.clone());
        }
        check_block(cfg)?;
        let c = Arc::new(build(cfg)?);
        map.insert(cfg.key.clone(), c.clone());
        Ok(c)
    }
}

/// The first of the variables that is set and not empty.
fn env_any(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

fn options(cfg: &ProviderConfig) -> Result<ClientOptions, ProviderError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = attr(cfg, "ca_file") {
        let pem = std::fs::read(path).map_err(|e| {
            ProviderError::invalid(format!("ca_file \"{path}\" cannot be read: {e}"))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            ProviderError::invalid(format!("ca_file \"{path}\" is not a PEM certificate: {e}"))
        })?;
        builder = builder.tls_certs_merge(certs);
    }
    let http = builder
        .build()
        .map_err(|e| ProviderError::invalid(format!("building the HTTPS client: {e}")))?;
    let mut options = ClientOptions {
        transport: Some(Transport::new(Arc::new(http))),
        ..Default::default()
    };
    if let Some(host) = attr(cfg, "authority_host") {
        let mut custom = CustomConfiguration::default();
        custom.authority_host = host.trim_end_matches('/').to_string();
        options.cloud = Some(Arc::new(CloudConfiguration::from(custom)));
    }
    Ok(options)
}

/// The credentials, in the usual order: a client secret (`AZURE_*`, or Terraform's
/// `ARM_*` names); workload identity (a federated token file); a managed identity when
/// `use_msi = true`; the Azure CLI's login unless `use_cli = false`.
fn credential(
    cfg: &ProviderConfig,
    options: &ClientOptions,
) -> Result<(Arc<dyn TokenCredential>, String), ProviderError> {
    let tenant = attr(cfg, "tenant_id")
        .map(str::to_string)
        .or_else(|| env_any(&["AZURE_TENANT_ID", "ARM_TENANT_ID"]));
    let client_id = attr(cfg, "client_id")
        .map(str::to_string)
        .or_else(|| env_any(&["AZURE_CLIENT_ID", "ARM_CLIENT_ID"]));
    let fail = |source: &str, e: &dyn std::fmt::Display| no_credentials(source, &e.to_string());
    if let Some(secret) = env_any(&["AZURE_CLIENT_SECRET", "ARM_CLIENT_SECRET"]) {
        let source = "a client secret (AZURE_CLIENT_SECRET / ARM_CLIENT_SECRET)";
        let (Some(tenant), Some(client_id)) = (tenant.clone(), client_id.clone()) else {
            return Err(fail(
                source,
                &"a client secret needs a tenant and a client id: set AZURE_TENANT_ID and AZURE_CLIENT_ID (or tenant_id and client_id in the provider block)",
            ));
        };
        let cred = ClientSecretCredential::new(
            &tenant,
            client_id,
            Secret::new(secret),
            Some(ClientSecretCredentialOptions {
                client_options: options.clone(),
            }),
        )
        .map_err(|e| fail(source, &e))?;
        return Ok((cred, source.to_string()));
    }
    if let Some(file) = env_any(&["AZURE_FEDERATED_TOKEN_FILE", "ARM_OIDC_TOKEN_FILE_PATH"]) {
        let source = "workload identity (AZURE_FEDERATED_TOKEN_FILE)";
        let mut o = WorkloadIdentityCredentialOptions {
            client_id,
            tenant_id: tenant,
            token_file_path: Some(file.into()),
            ..Default::default()
        };
        o.credential_options.client_options = options.clone();
        let cred = WorkloadIdentityCredential::new(Some(o)).map_err(|e| fail(source, &e))?;
        return Ok((cred, source.to_string()));
    }
    if flag(cfg, "use_msi").unwrap_or(false) || env_any(&["ARM_USE_MSI"]).as_deref() == Some("true")
    {
        let source = "the managed identity (use_msi)";
        let o = ManagedIdentityCredentialOptions {
            client_options: options.clone(),
            ..Default::default()
        };
        let cred = ManagedIdentityCredential::new(Some(o)).map_err(|e| fail(source, &e))?;
        return Ok((cred, source.to_string()));
    }
    if flag(cfg, "use_cli").unwrap_or(true) {
        let source = "the Azure CLI's login (az login)";
        let o = azure_identity::AzureCliCredentialOptions {
            tenant_id: tenant,
            ..Default::default()
        };
        let cred = AzureCliCredential::new(Some(o)).map_err(|e| fail(source, &e))?;
        return Ok((cred, source.to_string()));
    }
    Err(fail(
        "the provider block",
        &"no client secret or federated token in the environment, and use_msi and use_cli are off",
    ))
}

/// The credentials and transport a provider block with `attributes` would use
/// (`tenant_id`, `client_id`, `use_msi`, `use_cli`, `authority_host`, `ca_file`), with the
/// text that says where the credentials came from: for callers beside the provider, such
/// as the azurerm state backend.
pub fn credentials_for(
    attributes: &mlinfra_provider_api::Attributes,
) -> Result<(Arc<dyn TokenCredential>, ClientOptions, String), ProviderError> {
    let cfg = ProviderConfig {
        key: String::new(),
        attributes: attributes.clone(),
    };
    let options = options(&cfg)?;
    let (credential, source) = credential(&cfg, &options)?;
    Ok((credential, options, source))
}

fn build(cfg: &ProviderConfig) -> Result<Clients, ProviderError> {
    let options = options(cfg)?;
    let (credential, source) = credential(cfg, &options)?;
    let base = attr(cfg, "endpoint").unwrap_or("https://management.azure.com");
    let base = Url::parse(&format!("{}/", base.trim_end_matches('/')))
        .map_err(|e| ProviderError::invalid(format!("endpoint \"{base}\" is not a URL: {e}")))?;
    Ok(Clients {
        arm: Arm::new(base, credential.clone(), options.clone()),
        subscription: attr(cfg, "subscription_id").unwrap_or_default().to_string(),
        resource_group: attr(cfg, "resource_group").unwrap_or_default().to_string(),
        location: attr(cfg, "location").unwrap_or("eastus").to_string(),
        ml_workspace: attr(cfg, "ml_workspace").unwrap_or("mlinfra").to_string(),
        credential,
        options,
        source,
        group_ready: Mutex::new(false),
        workspace_ready: Mutex::new(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> ProviderConfig {
        ProviderConfig {
            key: "azure".into(),
            attributes: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v)))
                .collect(),
        }
    }

    #[test]
    fn the_block_needs_a_subscription_group_and_location() {
        let ok = [
            ("subscription_id", "00000000-0000-0000-0000-000000000000"),
            ("resource_group", "ml-serving"),
            ("location", "eastus"),
        ];
        assert!(check_block(&cfg(&ok)).is_ok());
        let err = |pairs: &[(&str, &str)]| check_block(&cfg(pairs)).unwrap_err().message;
        assert!(err(&ok[1..]).contains("subscription_id is required"));
        assert!(
            err(&[("subscription_id", "abc"), ok[1], ok[2]]).contains("is not a subscription id")
        );
        assert!(err(&[ok[0], ok[2]]).contains("resource_group is required"));
        assert!(err(&[ok[0], ("resource_group", "bad/name"), ok[2]])
            .contains("not a valid resource group"));
        assert!(err(&[ok[0], ok[1], ("location", "East US")]).contains("not an Azure location"));
        assert!(
            err(&[ok[0], ok[1], ok[2], ("endpoint", "http://127.0.0.1:1")]).contains("https://")
        );
    }
}
