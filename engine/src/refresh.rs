//! Refresh: read live attributes through the providers and report drift from state.

use std::collections::BTreeSet;

use futures_util::stream::StreamExt;
use mlinfra_provider_api::{ProviderConfig, ProviderSet, ReadRequest, ReadResponse};
use mlinfra_schema::{Cloud, Value};

use crate::config::eval::Evaluated;
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{Action, Reason, ResourceChange};
use crate::state::State;

/// What a refresh did.
pub struct Refreshed {
    /// The prior state with live attributes in place of recorded ones.
    pub state: State,
    /// Resources that changed or disappeared outside mlinfra.
    pub drift: Vec<ResourceChange>,
    /// Resources that could not be read because no provider supports their kind and cloud,
    /// as (cloud, kind) pairs.
    pub skipped: BTreeSet<(Cloud, String)>,
}

/// Read, retrying throttling and transient faults with the shared backoff.
async fn read_with_retries(
    provider: &dyn mlinfra_provider_api::Provider,
    req: ReadRequest,
) -> Result<ReadResponse, mlinfra_provider_api::ProviderError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10 * 60);
    mlinfra_provider_api::wait::retry(deadline, 8, || provider.read(req.clone())).await
}

/// Most provider reads in flight at once during a refresh.
const READ_CONCURRENCY: usize = 32;

/// Read every resource in `prior` whose cloud has a provider in `providers`.
pub async fn refresh(
    prior: &State,
    config: &Evaluated,
    providers: &ProviderSet,
) -> (Refreshed, Diagnostics) {
    let mut state = prior.clone();
    let mut drift = Vec::new();
    let mut skipped = BTreeSet::new();
    let mut diags = Diagnostics::default();
    let mut reads = Vec::new();
    for (addr, r) in &prior.resources {
        let Some(cloud) = r.cloud.as_deref().and_then(Cloud::parse) else {
            continue;
        };
        let Some(provider) = providers.get(cloud).filter(|p| p.supports(&r.kind)) else {
            skipped.insert((cloud, r.kind.clone()));
            continue;
        };
        let Some(id) = r.id.clone() else { continue };
        let key = r
            .provider
            .clone()
            .unwrap_or_else(|| cloud.as_str().to_string());
        let attributes = config
            .providers
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.attrs.clone())
            .unwrap_or_default();
        let req = ReadRequest::new(
            r.kind.clone(),
            id,
            r.attributes.clone(),
            ProviderConfig { key, attributes },
        );
        reads.push(async move { (addr, r, read_with_retries(provider, req).await) });
    }
    // Reads are independent: run many at once, report in address order.
    let mut results: Vec<_> = futures_util::stream::iter(reads)
        .buffer_unordered(READ_CONCURRENCY)
        .collect()
        .await;
    results.sort_by(|a, b| a.0.cmp(b.0));
    for (addr, r, result) in results {
        match result {
            Ok(ReadResponse::Found { attributes }) => {
                if attributes != r.attributes {
                    drift.push(drift_change(
                        addr,
                        r,
                        Action::Update,
                        Some(Value::Map(attributes.clone())),
                    ));
                    if let Some(entry) = state.resources.get_mut(addr) {
                        entry.attributes = attributes;
                    }
                }
            }
            Ok(ReadResponse::Gone) => {
                drift.push(drift_change(addr, r, Action::Delete, None));
                state.resources.remove(addr);
            }
            Err(e) => diags.push(
                Diagnostic::error(format!("refreshing {addr}: {}", e.message))
                    .help("check credentials and network access, or plan with --refresh=false"),
            ),
        }
    }
    (
        Refreshed {
            state,
            drift,
            skipped,
        },
        diags,
    )
}

fn drift_change(
    addr: &str,
    r: &crate::state::ResourceState,
    action: Action,
    after: Option<Value>,
) -> ResourceChange {
    let parsed = crate::Address::parse(addr).ok();
    ResourceChange {
        address: addr.to_string(),
        module: parsed
            .as_ref()
            .map(|a| crate::address::module_path_string(&a.module))
            .unwrap_or_default(),
        kind: r.kind.clone(),
        name: parsed.map(|a| a.name).unwrap_or_default(),
        cloud: r.cloud.clone(),
        provider: r.provider.clone(),
        action,
        before: Some(Value::Map(r.attributes.clone())),
        after,
        replace_paths: Vec::new(),
        reason: Some(Reason::DriftRestore),
        reason_message: if action == Action::Delete {
            "it was deleted outside mlinfra".into()
        } else {
            "it was changed outside mlinfra".into()
        },
        sensitive_paths: r.sensitive.clone(),
        depends_on: r.dependencies.iter().cloned().collect(),
        importing: None,
        previous_address: None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use mlinfra_provider_api::*;

    use super::*;
    use crate::state::ResourceState;

    /// A provider double holding live objects by id.
    struct LiveObjects {
        objects: Mutex<BTreeMap<String, Attributes>>,
    }

    impl Provider for LiveObjects {
        fn cloud(&self) -> Cloud {
            Cloud::Aws
        }
        fn supports(&self, _: &str) -> bool {
            true
        }
        fn read(&self, req: ReadRequest) -> BoxFuture<'_, Result<ReadResponse, ProviderError>> {
            let found = self.objects.lock().unwrap().get(&req.id).cloned();
            Box::pin(async move {
                Ok(match found {
                    Some(attributes) => ReadResponse::Found { attributes },
                    None => ReadResponse::Gone,
                })
            })
        }
        fn configure(
            &self,
            _: ConfigureRequest,
        ) -> BoxFuture<'_, Result<ConfigureResponse, ProviderError>> {
            Box::pin(async { Ok(ConfigureResponse::default()) })
        }
        fn plan(&self, _: PlanRequest) -> Result<PlanResponse, ProviderError> {
            Err(ProviderError::invalid("not used"))
        }
        fn apply(&self, _: ApplyRequest) -> BoxFuture<'_, Result<ApplyResponse, ProviderError>> {
            Box::pin(async { Err(ProviderError::new(ErrorKind::Invalid, "not used")) })
        }
        fn import(&self, _: ImportRequest) -> BoxFuture<'_, Result<ImportResponse, ProviderError>> {
            Box::pin(async { Err(ProviderError::new(ErrorKind::Invalid, "not used")) })
        }
    }

    fn resource(id: &str, cloud: &str, max: f64) -> ResourceState {
        ResourceState {
            kind: "gpu_pool".into(),
            cloud: Some(cloud.into()),
            provider: Some(cloud.into()),
            id: Some(id.into()),
            attributes: [("max_nodes".to_string(), Value::from(max))]
                .into_iter()
                .collect(),
            sensitive: Default::default(),
            dependencies: Default::default(),
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        // The double's futures are ready at once; poll them to completion.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn drift_and_deletions_are_reported_and_other_clouds_skipped() {
        let mut prior = State::new();
        prior
            .resources
            .insert("gpu_pool.same".into(), resource("p1", "aws", 4.0));
        prior
            .resources
            .insert("gpu_pool.scaled".into(), resource("p2", "aws", 4.0));
        prior
            .resources
            .insert("gpu_pool.gone".into(), resource("p3", "aws", 4.0));
        prior
            .resources
            .insert("gpu_pool.gke".into(), resource("p4", "gcp", 4.0));
        let live = LiveObjects {
            objects: Mutex::new(
                [
                    ("p1".to_string(), resource("p1", "aws", 4.0).attributes),
                    ("p2".to_string(), resource("p2", "aws", 9.0).attributes),
                ]
                .into_iter()
                .collect(),
            ),
        };
        let mut set = ProviderSet::default();
        set.add(Box::new(live));
        let (r, diags) = block_on(refresh(&prior, &Evaluated::default(), &set));
        assert!(diags.is_empty());
        let drift: Vec<(&str, Action)> = r
            .drift
            .iter()
            .map(|c| (c.address.as_str(), c.action))
            .collect();
        assert_eq!(
            drift,
            vec![
                ("gpu_pool.gone", Action::Delete),
                ("gpu_pool.scaled", Action::Update)
            ]
        );
        assert!(!r.state.resources.contains_key("gpu_pool.gone"));
        assert_eq!(
            r.state.resources["gpu_pool.scaled"].attributes["max_nodes"],
            Value::from(9.0)
        );
        assert_eq!(
            r.skipped.into_iter().collect::<Vec<_>>(),
            vec![(Cloud::Gcp, "gpu_pool".to_string())]
        );
    }
}
