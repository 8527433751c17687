//! Clients per provider configuration: credentials, endpoints, project and region.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use google_cloud_aiplatform_v1::client::{
    EndpointService, FeatureOnlineStoreAdminService, FeatureRegistryService, ModelService,
};
use google_cloud_artifactregistry_v1::client::ArtifactRegistry;
use google_cloud_auth::credentials::{self, Credentials};
use google_cloud_container_v1::client::ClusterManager;
use google_cloud_storage::client::StorageControl;
use mlinfra_provider_api::{ConfigureResponse, ErrorKind, ProviderConfig, ProviderError};
use mlinfra_schema::Value;
use tokio::sync::Mutex;

/// The services `endpoints { … }` may name, as the API hosts name them.
pub const SERVICES: &[&str] = &["container", "artifactregistry", "aiplatform", "storage"];

/// The service clients of one provider configuration.
pub struct Clients {
    pub storage: StorageControl,
    pub registry: ArtifactRegistry,
    pub gke: ClusterManager,
    /// Vertex AI, at its regional host.
    pub online_stores: FeatureOnlineStoreAdminService,
    pub feature_registry: FeatureRegistryService,
    pub models: ModelService,
    pub endpoints: EndpointService,
    pub project: String,
    pub region: String,
    /// `zones` (or `zone`): where clusters and node pools put their nodes; empty: GKE's
    /// default (every zone of the region).
    pub zones: Vec<String>,
    /// `None` when every service is called over plain http without credentials.
    credentials: Option<Credentials>,
    source: String,
}

impl Clients {
    /// Ask the credentials for a token once, so that missing or refused credentials fail
    /// here, before any resource call. Names where they came from, never what they are.
    pub async fn resolve_credentials(&self) -> Result<ConfigureResponse, ProviderError> {
        let Some(c) = &self.credentials else {
            return Ok(ConfigureResponse::from_source(self.source.clone()));
        };
        match tokio::time::timeout(Duration::from_secs(30), c.headers(http::Extensions::new()))
            .await
        {
            Ok(Ok(_)) => Ok(ConfigureResponse::from_source(self.source.clone())),
            Ok(Err(e)) => Err(no_credentials(&self.source, &e.to_string())),
            Err(_) => Err(no_credentials(
                &self.source,
                "no token within 30 s (no metadata server answered)",
            )),
        }
    }

    /// `projects/{project}/locations/{location}`.
    pub fn location(&self, location: &str) -> String {
        format!("projects/{}/locations/{location}", self.project)
    }
}

fn no_credentials(source: &str, detail: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Auth,
        format!("no usable GCP credentials from {source} (run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS to a key file, or set credentials_file in the provider block): {detail}"),
    )
}

fn attr<'a>(cfg: &'a ProviderConfig, name: &str) -> Option<&'a str> {
    cfg.attributes.get(name).and_then(Value::as_str)
}

/// The URL for `service`: `endpoints { service = … }`, else `endpoint`.
fn endpoint(cfg: &ProviderConfig, service: &str) -> Option<String> {
    cfg.attributes
        .get("endpoints")
        .and_then(Value::as_map)
        .and_then(|m| m.get(service))
        .and_then(Value::as_str)
        .or_else(|| attr(cfg, "endpoint"))
        .map(|u| u.trim_end_matches('/').to_string())
}

/// The provider block's own rules, before anything is built from it.
pub fn check_block(cfg: &ProviderConfig) -> Result<(), ProviderError> {
    match attr(cfg, "project") {
        None => {
            return Err(ProviderError::invalid(
                "project is required: every GCP call names a project; set project = \"my-project\"",
            ))
        }
        Some(p) if !is_project_id(p) => {
            return Err(ProviderError::invalid(format!(
                "project \"{p}\" is not a GCP project id: 6 to 30 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen"
            )))
        }
        Some(_) => {}
    }
    if let Some(r) = attr(cfg, "region") {
        if !is_region(r) {
            return Err(ProviderError::invalid(format!(
                "region \"{r}\" is not a GCP region name; use one like us-central1 or europe-west4"
            )));
        }
    }
    let mut zones: Vec<&str> = attr(cfg, "zone").into_iter().collect();
    if let Some(list) = cfg.attributes.get("zones").and_then(Value::as_list) {
        zones.extend(list.iter().filter_map(Value::as_str));
    }
    for z in zones {
        let ok = z.rsplit_once('-').is_some_and(|(r, s)| {
            is_region(r) && s.len() == 1 && s.chars().all(|c| c.is_ascii_lowercase())
        });
        if !ok {
            return Err(ProviderError::invalid(format!(
                "zone \"{z}\" is not a GCP zone name; use one like us-central1-a"
            )));
        }
        if let Some(r) = attr(cfg, "region") {
            if !z.starts_with(&format!("{r}-")) {
                return Err(ProviderError::invalid(format!(
                    "zone \"{z}\" is not in region {r}; use a zone like {r}-a"
                )));
            }
        }
    }
    let mut urls: Vec<(String, &str)> = Vec::new();
    if let Some(u) = attr(cfg, "endpoint") {
        urls.push(("endpoint".into(), u));
    }
    if let Some(m) = cfg.attributes.get("endpoints").and_then(Value::as_map) {
        for (k, v) in m {
            if !SERVICES.contains(&k.as_str()) {
                return Err(ProviderError::invalid(format!(
                    "endpoints.{k} is not a service this provider calls; use {}",
                    SERVICES.join(", ")
                )));
            }
            if let Some(u) = v.as_str() {
                urls.push((format!("endpoints.{k}"), u));
            }
        }
    }
    for (name, u) in urls {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(ProviderError::invalid(format!(
                "{name} = \"{u}\" is not a URL; use one like http://127.0.0.1:8480"
            )));
        }
    }
    Ok(())
}

/// `us-central1`, `europe-west4`, `northamerica-northeast2`.
pub fn is_region(r: &str) -> bool {
    let Some((area, place)) = r.split_once('-') else {
        return false;
    };
    let digits = place.trim_start_matches(|c: char| c.is_ascii_lowercase());
    !area.is_empty()
        && area.chars().all(|c| c.is_ascii_lowercase())
        && digits.len() < place.len()
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
}

fn is_project_id(p: &str) -> bool {
    (6..=30).contains(&p.len())
        && p.starts_with(|c: char| c.is_ascii_lowercase())
        && !p.ends_with('-')
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
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
        let c = Arc::new(build(cfg).await?);
        map.insert(cfg.key.clone(), c.clone());
        Ok(c)
    }
}

/// The credentials of the block: a key file, impersonation, or Application Default
/// Credentials; with the text that says where they came from.
fn credentials(cfg: &ProviderConfig) -> Result<(Credentials, String), ProviderError> {
    let auth = |source: &str, e: &dyn std::fmt::Display| no_credentials(source, &e.to_string());
    let (base, mut source) = match attr(cfg, "credentials_file") {
        Some(path) => {
            let source = format!("credentials_file {path}");
            let text = std::fs::read_to_string(path).map_err(|e| auth(&source, &e))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| auth(&source, &format!("not a JSON key file: {e}")))?;
            let kind = json
                .get("type")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string();
            let built = match kind.as_str() {
                "service_account" => credentials::service_account::Builder::new(json).build(),
                "authorized_user" => credentials::user_account::Builder::new(json).build(),
                "impersonated_service_account" => {
                    credentials::impersonated::Builder::new(json).build()
                }
                "external_account" => credentials::external_account::Builder::new(json).build(),
                other => {
                    return Err(auth(
                        &source,
                        &format!("key type \"{other}\" is not one of service_account, authorized_user, impersonated_service_account, external_account"),
                    ))
                }
            };
            (built.map_err(|e| auth(&source, &e))?, source)
        }
        None => {
            let source = "Application Default Credentials".to_string();
            let built = credentials::Builder::default()
                .build()
                .map_err(|e| auth(&source, &e))?;
            (built, source)
        }
    };
    let creds = match attr(cfg, "impersonate_service_account") {
        Some(sa) => {
            source = format!("{source}, impersonating {sa}");
            credentials::impersonated::Builder::from_source_credentials(base)
                .with_target_principal(sa)
                .build()
                .map_err(|e| auth(&source, &e))?
        }
        None => base,
    };
    Ok((creds, source))
}

/// Build a client of one service: its endpoint, and credentials unless it is plain http.
macro_rules! client {
    ($ty:ty, $cfg:expr, $service:expr, $default:expr, $creds:expr) => {{
        let url = endpoint($cfg, $service).unwrap_or_else(|| $default);
        let creds = if url.starts_with("http://") {
            credentials::anonymous::Builder::new().build()
        } else {
            $creds()?
        };
        <$ty>::builder()
            .with_endpoint(url)
            .with_credentials(creds)
            .build()
            .await
            .map_err(|e| ProviderError::invalid(format!("building the {} client: {e}", $service)))?
    }};
}

async fn build(cfg: &ProviderConfig) -> Result<Clients, ProviderError> {
    let project = attr(cfg, "project").unwrap_or_default().to_string();
    let region = attr(cfg, "region").unwrap_or("us-central1").to_string();
    let mut zones: Vec<String> = cfg
        .attributes
        .get("zones")
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if zones.is_empty() {
        zones.extend(attr(cfg, "zone").map(str::to_string));
    }
    let mut cached: Option<(Credentials, String)> = None;
    let mut creds = || -> Result<Credentials, ProviderError> {
        if cached.is_none() {
            cached = Some(credentials(cfg)?);
        }
        Ok(cached
            .as_ref()
            .map(|c| c.0.clone())
            .unwrap_or_else(|| credentials::anonymous::Builder::new().build()))
    };
    let storage = client!(
        StorageControl,
        cfg,
        "storage",
        "https://storage.googleapis.com".to_string(),
        creds
    );
    let registry = client!(
        ArtifactRegistry,
        cfg,
        "artifactregistry",
        "https://artifactregistry.googleapis.com".to_string(),
        creds
    );
    let gke = client!(
        ClusterManager,
        cfg,
        "container",
        "https://container.googleapis.com".to_string(),
        creds
    );
    let vertex = format!("https://{region}-aiplatform.googleapis.com");
    let online_stores = client!(
        FeatureOnlineStoreAdminService,
        cfg,
        "aiplatform",
        vertex.clone(),
        creds
    );
    let feature_registry = client!(
        FeatureRegistryService,
        cfg,
        "aiplatform",
        vertex.clone(),
        creds
    );
    let models = client!(ModelService, cfg, "aiplatform", vertex.clone(), creds);
    let endpoints = client!(EndpointService, cfg, "aiplatform", vertex.clone(), creds);
    let (credentials, source) = match cached {
        Some((c, s)) => (Some(c), s),
        None => (
            None,
            "no credentials: every endpoint is plain http (a local double)".to_string(),
        ),
    };
    Ok(Clients {
        storage,
        registry,
        gke,
        online_stores,
        feature_registry,
        models,
        endpoints,
        project,
        region,
        zones,
        credentials,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_and_project_names() {
        assert!(is_region("us-central1"));
        assert!(is_region("northamerica-northeast2"));
        assert!(is_region("europe-west4"));
        assert!(!is_region("us-east-1"));
        assert!(!is_region("uscentral1"));
        assert!(!is_region("us-central"));
        assert!(is_project_id("acme-ml"));
        assert!(!is_project_id("Acme-ml"));
        assert!(!is_project_id("acme"));
        assert!(!is_project_id("acme-ml-"));
    }
}
