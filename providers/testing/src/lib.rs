//! A fake provider that keeps objects in memory, with configurable latency, faults and
//! capacity errors, and the conformance suite every provider passes against its emulator
//! or double ([`conformance`]).

pub mod conformance;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, BoxFuture,
    ConfigureRequest, ConfigureResponse, ErrorKind, ImportRequest, ImportResponse, PlanRequest,
    PlanResponse, Provider, ProviderError, ReadRequest, ReadResponse,
};
use mlinfra_schema::{Cloud, Value};

/// A fault the fake answers with, on the next `count` calls of `op` (any op when `None`).
#[derive(Clone, Debug)]
pub struct Fault {
    pub op: Option<ApplyAction>,
    pub kind: ErrorKind,
    pub count: usize,
    pub retry_after: Option<Duration>,
}

/// An in-process provider for one cloud: every cloud kind, objects in memory.
pub struct FakeProvider {
    cloud: Cloud,
    latency: Duration,
    objects: Mutex<BTreeMap<String, Attributes>>,
    faults: Mutex<Vec<Fault>>,
    calls: AtomicUsize,
    refuse_credentials: bool,
}

impl FakeProvider {
    pub fn new(cloud: Cloud) -> Self {
        FakeProvider {
            cloud,
            latency: Duration::ZERO,
            objects: Mutex::new(BTreeMap::new()),
            faults: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
            refuse_credentials: false,
        }
    }

    /// Each call takes this long (a cloud round trip).
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// `configure` fails as a cloud refusing the credentials would.
    pub fn refusing_credentials(mut self) -> Self {
        self.refuse_credentials = true;
        self
    }

    pub fn inject(&self, fault: Fault) {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(fault);
    }

    /// How many cloud calls (read, apply, import, recover) were made.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn objects(&self) -> BTreeMap<String, Attributes> {
        self.objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn fault(&self, op: Option<ApplyAction>) -> Option<ProviderError> {
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let i = faults
            .iter()
            .position(|f| f.count > 0 && (f.op.is_none() || f.op == op))?;
        faults[i].count -= 1;
        let f = faults[i].clone();
        let code = match f.kind {
            ErrorKind::Capacity => "FAKE_CAPACITY_EXHAUSTED",
            ErrorKind::Throttled => "FAKE_THROTTLED",
            _ => "FAKE_FAULT",
        };
        Some(
            ProviderError::new(f.kind, format!("injected {} fault", f.kind))
                .with_code(code)
                .with_retry_after(f.retry_after),
        )
    }

    async fn round_trip(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    fn id_of(kind: &str, name: &str) -> String {
        format!("{kind}/{name}")
    }
}

fn name_of(a: &Attributes) -> Option<&str> {
    a.get("name").and_then(Value::as_str)
}

impl Provider for FakeProvider {
    fn cloud(&self) -> Cloud {
        self.cloud
    }

    fn supports(&self, kind: &str) -> bool {
        mlinfra_schema::kind(kind).is_some_and(|k| k.class == mlinfra_schema::KindClass::Cloud)
    }

    fn configure(
        &self,
        _: ConfigureRequest,
    ) -> BoxFuture<'_, Result<ConfigureResponse, ProviderError>> {
        Box::pin(async move {
            if self.refuse_credentials {
                return Err(ProviderError::new(
                    ErrorKind::Auth,
                    "the fake cloud refused the credentials",
                ));
            }
            Ok(ConfigureResponse::from_source("the fake cloud"))
        })
    }

    fn read(&self, req: ReadRequest) -> BoxFuture<'_, Result<ReadResponse, ProviderError>> {
        Box::pin(async move {
            self.round_trip().await;
            if let Some(e) = self.fault(None) {
                return Err(e);
            }
            let found = self
                .objects
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&req.id)
                .cloned();
            Ok(match found {
                Some(attributes) => ReadResponse::Found { attributes },
                None => ReadResponse::Gone,
            })
        })
    }

    fn plan(&self, req: PlanRequest) -> Result<PlanResponse, ProviderError> {
        if let Some(n) = name_of(&req.proposed) {
            if n.is_empty() || n.len() > 63 {
                return Err(ProviderError::invalid(format!(
                    "\"{n}\" is not a valid name on the fake cloud: use 1 to 63 characters"
                )));
            }
        }
        let mut resp = PlanResponse::new(req.proposed.clone()).computed(&["id"]);
        if let Some(n) = name_of(&req.proposed) {
            resp = resp.private(Self::id_of(&req.kind, n));
        }
        if req
            .changed
            .iter()
            .any(|p| p.first().is_some_and(|f| f == "name"))
        {
            resp = resp.replace(&["name"], "the fake cloud cannot rename an object");
        }
        Ok(resp)
    }

    fn apply(&self, req: ApplyRequest) -> BoxFuture<'_, Result<ApplyResponse, ProviderError>> {
        Box::pin(async move {
            self.round_trip().await;
            if let Some(e) = self.fault(Some(req.action)) {
                return Err(e);
            }
            let source = match req.action {
                ApplyAction::Delete => req.prior.as_ref().unwrap_or(&req.planned),
                _ => &req.planned,
            };
            let name = name_of(source)
                .ok_or_else(|| ProviderError::invalid(format!("{} has no name", req.kind)))?
                .to_string();
            let id = Self::id_of(&req.kind, &name);
            let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
            match req.action {
                ApplyAction::Create if objects.contains_key(&id) && !req.adopt_existing => {
                    Err(already_exists(&format!("fake {} {name}", req.kind), &id))
                }
                ApplyAction::Update if !objects.contains_key(&id) => Err(ProviderError::new(
                    ErrorKind::NotFound,
                    format!("fake {} {name} does not exist", req.kind),
                )),
                ApplyAction::Create | ApplyAction::Update => {
                    let mut attrs = req.planned.clone();
                    attrs.insert("id".into(), Value::from(id.as_str()));
                    objects.insert(id.clone(), attrs.clone());
                    Ok(ApplyResponse {
                        id: Some(id),
                        attributes: Some(attrs),
                    })
                }
                ApplyAction::Delete => {
                    objects.remove(&id);
                    Ok(ApplyResponse::default())
                }
            }
        })
    }

    fn import(&self, req: ImportRequest) -> BoxFuture<'_, Result<ImportResponse, ProviderError>> {
        Box::pin(async move {
            self.round_trip().await;
            let found = self
                .objects
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&req.id)
                .cloned();
            match found {
                Some(attributes) => Ok(ImportResponse { attributes }),
                None => Err(ProviderError::new(
                    ErrorKind::NotFound,
                    format!("no {} with id \"{}\" exists", req.kind, req.id),
                )),
            }
        })
    }
}
