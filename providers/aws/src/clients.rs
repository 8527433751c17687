//! SDK clients per provider configuration, with endpoint overrides for emulators.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use mlinfra_provider_api::{ConfigureResponse, ErrorKind, ProviderConfig, ProviderError};
use mlinfra_schema::Value;
use tokio::sync::Mutex;

/// The service clients of one provider configuration.
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub eks: aws_sdk_eks::Client,
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub region: String,
    credentials: Option<SharedCredentialsProvider>,
}

impl Clients {
    /// Resolve the credentials once: a missing or malformed chain fails here, before any
    /// resource call. Names where they came from, never what they are.
    pub async fn resolve_credentials(&self) -> Result<ConfigureResponse, ProviderError> {
        let Some(p) = &self.credentials else {
            return Err(no_credentials("no credentials provider is configured"));
        };
        match p.provide_credentials().await {
            Ok(_) => Ok(ConfigureResponse::from_source("the AWS credential chain")),
            Err(e) => {
                let mut chain = vec![e.to_string()];
                let mut cur = std::error::Error::source(&e);
                while let Some(s) = cur {
                    chain.push(s.to_string());
                    cur = s.source();
                }
                Err(no_credentials(&chain.join(": ")))
            }
        }
    }
}

fn no_credentials(detail: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Auth,
        format!("no AWS credentials were found, or they could not be loaded (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where a role is available; a malformed ~/.aws/credentials or ~/.aws/config must be fixed): {detail}"),
    )
}

/// The provider block's own rules, before anything is built from it.
pub fn check_block(cfg: &ProviderConfig) -> Result<(), ProviderError> {
    if let Some(r) = attr(cfg, "region") {
        let parts: Vec<&str> = r.split('-').collect();
        let ok = parts.len() >= 3
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
            && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
            && !parts[parts.len() - 1].is_empty();
        if !ok {
            return Err(ProviderError::invalid(format!(
                "region \"{r}\" is not an AWS region name; use one like us-east-1 or eu-west-2"
            )));
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
                "{name} = \"{u}\" is not a URL; use one like http://127.0.0.1:5000"
            )));
        }
    }
    Ok(())
}

/// The services `endpoints { … }` may name.
pub const SERVICES: &[&str] = &["s3", "ecr", "eks", "sagemaker", "sts"];

#[derive(Default)]
pub struct ClientCache {
    by_key: Mutex<HashMap<String, Arc<Clients>>>,
}

fn attr<'a>(cfg: &'a ProviderConfig, name: &str) -> Option<&'a str> {
    cfg.attributes.get(name).and_then(Value::as_str)
}

/// The endpoint for `service`: `endpoints { service = … }`, else `endpoint`.
fn endpoint(cfg: &ProviderConfig, service: &str) -> Option<String> {
    cfg.attributes
        .get("endpoints")
        .and_then(Value::as_map)
        .and_then(|m| m.get(service))
        .and_then(Value::as_str)
        .or_else(|| attr(cfg, "endpoint"))
        .map(str::to_string)
}

impl ClientCache {
    pub async fn get(&self, cfg: &ProviderConfig) -> Arc<Clients> {
        let mut map = self.by_key.lock().await;
        if let Some(c) = map.get(&cfg.key) {
            return c.clone();
        }
        let c = Arc::new(build(cfg).await);
        map.insert(cfg.key.clone(), c.clone());
        c
    }
}

/// `assume_role { role_arn, session_name, external_id }`, or `assume_role = "ARN"`.
fn assume_role(cfg: &ProviderConfig) -> Option<(String, Option<String>, Option<String>)> {
    match cfg.attributes.get("assume_role")? {
        Value::String(arn) => Some((arn.clone(), None, None)),
        Value::Map(m) => {
            let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
            Some((s("role_arn")?, s("session_name"), s("external_id")))
        }
        _ => None,
    }
}

async fn build(cfg: &ProviderConfig) -> Clients {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        // Client-side rate limiting on throttling, on top of mlinfra's own retries.
        .retry_config(aws_config::retry::RetryConfig::adaptive());
    if let Some(r) = attr(cfg, "region") {
        loader = loader.region(Region::new(r.to_string()));
    }
    if let Some(p) = attr(cfg, "profile") {
        loader = loader.profile_name(p);
    }
    let mut sdk = loader.load().await;
    if let Some((role, session, external_id)) = assume_role(cfg) {
        // The role is assumed with the chain's credentials; STS follows `endpoint` too.
        let mut base = sdk.clone();
        if let Some(url) = endpoint(cfg, "sts") {
            base = base.into_builder().endpoint_url(url).build();
        }
        let mut b = aws_config::sts::AssumeRoleProvider::builder(role)
            .session_name(session.unwrap_or_else(|| "mlinfra".into()))
            .configure(&base);
        if let Some(id) = external_id {
            b = b.external_id(id);
        }
        let provider = b.build().await;
        sdk = sdk
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let mut s3 = aws_sdk_s3::config::Builder::from(&sdk);
    if let Some(url) = endpoint(cfg, "s3") {
        // Emulators serve buckets by path, not by virtual host.
        s3 = s3.endpoint_url(url).force_path_style(true);
    }
    let mut ecr = aws_sdk_ecr::config::Builder::from(&sdk);
    if let Some(url) = endpoint(cfg, "ecr") {
        ecr = ecr.endpoint_url(url);
    }
    let mut eks = aws_sdk_eks::config::Builder::from(&sdk);
    if let Some(url) = endpoint(cfg, "eks") {
        eks = eks.endpoint_url(url);
    }
    let mut sagemaker = aws_sdk_sagemaker::config::Builder::from(&sdk);
    if let Some(url) = endpoint(cfg, "sagemaker") {
        sagemaker = sagemaker.endpoint_url(url);
    }
    Clients {
        sagemaker: aws_sdk_sagemaker::Client::from_conf(sagemaker.build()),
        eks: aws_sdk_eks::Client::from_conf(eks.build()),
        s3: aws_sdk_s3::Client::from_conf(s3.build()),
        ecr: aws_sdk_ecr::Client::from_conf(ecr.build()),
        region,
        credentials: sdk.credentials_provider(),
    }
}
