//! SDK clients per provider configuration, with endpoint overrides for emulators.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use mlinfra_provider_api::ProviderConfig;
use mlinfra_schema::Value;
use tokio::sync::Mutex;

/// The service clients of one provider configuration.
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub eks: aws_sdk_eks::Client,
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub region: String,
}

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
    }
}
