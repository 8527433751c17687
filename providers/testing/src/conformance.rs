//! The provider conformance suite: what every provider does the same way, checked against
//! its emulator or double. One [`Case`] per kind; [`run`] walks its whole life: configure,
//! plan, create, read, a second create of the same name (refused, or adopted when the
//! create is this state's own), recovery by the plan's handle, an in-place update, import,
//! delete, and reads and recovery of what is gone.

use mlinfra_provider_api::{
    ApplyAction, ApplyRequest, Attributes, ConfigureRequest, ErrorKind, ImportRequest, PlanRequest,
    Provider, ProviderConfig, ReadRequest, ReadResponse, RecoverRequest,
};
use mlinfra_schema::Value;

/// One kind's life on one provider.
#[derive(Clone, Debug)]
pub struct Case {
    pub kind: String,
    /// The attributes of the create (with a `name` unique to this run).
    pub create: Attributes,
    /// Attributes to change in place; merged over `create` for the update.
    pub update: Attributes,
    pub config: ProviderConfig,
}

/// What one step found wrong.
#[derive(Debug)]
pub struct Failure {
    pub step: &'static str,
    pub problem: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.step, self.problem)
    }
}

fn fail(step: &'static str, problem: impl Into<String>) -> Failure {
    Failure {
        step,
        problem: problem.into(),
    }
}

fn request(
    case: &Case,
    action: ApplyAction,
    prior: Option<Attributes>,
    planned: Attributes,
) -> ApplyRequest {
    ApplyRequest::new(
        case.kind.clone(),
        action,
        prior,
        planned,
        case.config.clone(),
    )
    .with_client_token("conformance-token")
    .with_timeout(Some(600))
}

/// Whether `live` holds every value `want` sets (the cloud may add more).
fn holds(live: &Attributes, want: &Attributes) -> Option<String> {
    for (k, v) in want {
        if v.is_unknown() {
            continue;
        }
        if live.get(k) != Some(v) {
            return Some(format!("{k} is {:?}, expected {v:?}", live.get(k)));
        }
    }
    None
}

async fn read(p: &dyn Provider, case: &Case, id: &str) -> Result<ReadResponse, Failure> {
    p.read(ReadRequest::new(
        case.kind.clone(),
        id,
        case.create.clone(),
        case.config.clone(),
    ))
    .await
    .map_err(|e| fail("read", format!("{} ({:?})", e.message, e.kind)))
}

async fn import(
    p: &dyn Provider,
    case: &Case,
    id: &str,
) -> Result<mlinfra_provider_api::ImportResponse, mlinfra_provider_api::ProviderError> {
    p.import(ImportRequest::new(
        case.kind.clone(),
        id,
        case.config.clone(),
    ))
    .await
}

/// Run the whole suite for one case. Returns the steps it passed.
pub async fn run(p: &dyn Provider, case: &Case) -> Result<Vec<&'static str>, Failure> {
    let mut passed = Vec::new();
    if !p.supports(&case.kind) {
        return Err(fail(
            "supports",
            format!("the provider does not support {}", case.kind),
        ));
    }
    p.configure(ConfigureRequest::new(case.config.clone()))
        .await
        .map_err(|e| fail("configure", e.message))?;
    passed.push("configure");

    // Plan is pure and validates: a create plans, and a name no cloud accepts is refused.
    let planned = p
        .plan(PlanRequest::new(
            case.kind.clone(),
            None,
            case.create.clone(),
            Vec::new(),
            case.config.clone(),
        ))
        .map_err(|e| fail("plan", e.message))?;
    let mut bad = case.create.clone();
    bad.insert("name".into(), Value::from("-".repeat(300).as_str()));
    match p.plan(PlanRequest::new(
        case.kind.clone(),
        None,
        bad,
        Vec::new(),
        case.config.clone(),
    )) {
        Err(e) if e.kind == ErrorKind::Invalid => {}
        Err(e) => {
            return Err(fail(
                "plan",
                format!("a bad name failed as {:?}, not Invalid", e.kind),
            ))
        }
        Ok(_) => return Err(fail("plan", "a 300-character name of dashes was accepted")),
    }
    passed.push("plan");

    let created = p
        .apply(request(
            case,
            ApplyAction::Create,
            None,
            case.create.clone(),
        ))
        .await
        .map_err(|e| fail("create", format!("{} ({:?})", e.message, e.kind)))?;
    let id = created
        .id
        .clone()
        .ok_or_else(|| fail("create", "no id returned"))?;
    let attrs = created
        .attributes
        .ok_or_else(|| fail("create", "no attributes returned"))?;
    if let Some(why) = holds(&attrs, &case.create) {
        return Err(fail("create", why));
    }
    passed.push("create");

    match read(p, case, &id).await? {
        ReadResponse::Found { attributes } => {
            if let Some(why) = holds(&attributes, &case.create) {
                return Err(fail("read", why));
            }
        }
        ReadResponse::Gone => return Err(fail("read", format!("{id} not found after create"))),
    }
    passed.push("read");

    // A second create of the same object: someone else's unless this state made it.
    match p
        .apply(request(
            case,
            ApplyAction::Create,
            None,
            case.create.clone(),
        ))
        .await
    {
        Err(e) if e.kind == ErrorKind::AlreadyExists => {
            if !e
                .message
                .contains(mlinfra_provider_api::ADDRESS_PLACEHOLDER)
            {
                return Err(fail(
                    "already exists",
                    "the error does not say how to import it",
                ));
            }
        }
        Err(e) => {
            return Err(fail(
                "already exists",
                format!("failed as {:?}: {}", e.kind, e.message),
            ))
        }
        Ok(_) => {
            return Err(fail(
                "already exists",
                "a create took over an existing object",
            ))
        }
    }
    let mut adopt = request(case, ApplyAction::Create, None, case.create.clone());
    adopt.adopt_existing = true;
    let adopted = p
        .apply(adopt)
        .await
        .map_err(|e| fail("adopt", format!("{} ({:?})", e.message, e.kind)))?;
    if adopted.id.as_deref() != Some(id.as_str()) {
        return Err(fail(
            "adopt",
            format!("adopted {:?}, created {id}", adopted.id),
        ));
    }
    passed.push("already exists");

    // Recovery finds the object by the plan's handle (or its name), as a killed run left it.
    let name = case
        .create
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let recover = |handle: Option<String>| {
        p.recover(RecoverRequest::new(
            case.kind.clone(),
            name.clone(),
            handle,
            case.create.clone(),
            case.config.clone(),
        ))
    };
    match recover(planned.private.clone()).await {
        Ok(ReadResponse::Found { .. }) => {}
        Ok(ReadResponse::Gone) => {
            return Err(fail(
                "recover",
                "the created object was not found by its handle",
            ))
        }
        Err(e) => return Err(fail("recover", e.message)),
    }
    passed.push("recover");

    if !case.update.is_empty() {
        let mut want = attrs.clone();
        want.extend(case.update.clone());
        let changed: Vec<Vec<String>> = case.update.keys().map(|k| vec![k.clone()]).collect();
        let plan = p
            .plan(PlanRequest::new(
                case.kind.clone(),
                Some(attrs.clone()),
                want.clone(),
                changed,
                case.config.clone(),
            ))
            .map_err(|e| fail("update", e.message))?;
        if !plan.requires_replace.is_empty() {
            return Err(fail(
                "update",
                format!(
                    "the in-place change forces replacement: {:?}",
                    plan.requires_replace
                ),
            ));
        }
        p.apply(request(
            case,
            ApplyAction::Update,
            Some(attrs.clone()),
            want.clone(),
        ))
        .await
        .map_err(|e| fail("update", format!("{} ({:?})", e.message, e.kind)))?;
        match read(p, case, &id).await? {
            ReadResponse::Found { attributes } => {
                if let Some(why) = holds(&attributes, &case.update) {
                    return Err(fail("update", why));
                }
            }
            ReadResponse::Gone => return Err(fail("update", "gone after the update")),
        }
        passed.push("update");
    }

    let imported = import(p, case, &id)
        .await
        .map_err(|e| fail("import", e.message))?;
    if imported.attributes.get("name").and_then(Value::as_str) != Some(name.as_str()) {
        return Err(fail("import", "the imported object has another name"));
    }
    passed.push("import");

    p.apply(request(
        case,
        ApplyAction::Delete,
        Some(attrs.clone()),
        attrs.clone(),
    ))
    .await
    .map_err(|e| fail("delete", format!("{} ({:?})", e.message, e.kind)))?;
    if !matches!(read(p, case, &id).await?, ReadResponse::Gone) {
        return Err(fail("delete", "still found after delete"));
    }
    // Deleting what is gone succeeds: an interrupted delete is retried.
    p.apply(request(
        case,
        ApplyAction::Delete,
        Some(attrs.clone()),
        attrs.clone(),
    ))
    .await
    .map_err(|e| fail("delete", format!("a second delete failed: {}", e.message)))?;
    passed.push("delete");

    match recover(planned.private.clone()).await {
        Ok(ReadResponse::Gone) => {}
        Ok(ReadResponse::Found { .. }) => return Err(fail("recover gone", "found after delete")),
        Err(e) => return Err(fail("recover gone", e.message)),
    }
    match import(p, case, &id).await {
        Err(e) if e.kind == ErrorKind::NotFound => {}
        Err(e) => {
            return Err(fail(
                "import gone",
                format!("failed as {:?}, not NotFound", e.kind),
            ))
        }
        Ok(_) => return Err(fail("import gone", "imported an object that was deleted")),
    }
    passed.push("gone");
    Ok(passed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FakeProvider, Fault};
    use mlinfra_schema::Cloud;

    fn case() -> Case {
        let mut create = Attributes::new();
        create.insert("name".into(), Value::from("conformance-a"));
        create.insert("versioning".into(), Value::Bool(false));
        let mut update = Attributes::new();
        update.insert("versioning".into(), Value::Bool(true));
        Case {
            kind: "bucket".into(),
            create,
            update,
            config: ProviderConfig::default(),
        }
    }

    #[tokio::test]
    async fn the_fake_provider_conforms() {
        let p = FakeProvider::new(Cloud::Aws);
        let passed = run(&p, &case()).await.unwrap();
        assert!(
            passed.contains(&"update") && passed.contains(&"gone"),
            "{passed:?}"
        );
        assert!(p.objects().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn injected_faults_are_classified_and_retried() {
        let p = FakeProvider::new(Cloud::Gcp);
        p.inject(Fault {
            op: Some(ApplyAction::Create),
            kind: ErrorKind::Throttled,
            count: 2,
            retry_after: Some(std::time::Duration::from_secs(3)),
        });
        let c = case();
        let req = request(&c, ApplyAction::Create, None, c.create.clone());
        let first = p.apply(req.clone()).await.unwrap_err();
        assert_eq!(first.kind, ErrorKind::Throttled);
        assert_eq!(first.retry_after, Some(std::time::Duration::from_secs(3)));
        let deadline = tokio::time::Instant::now().into_std() + std::time::Duration::from_secs(600);
        let done = mlinfra_provider_api::wait::retry(deadline, 5, || {
            let mut r = req.clone();
            r.adopt_existing = true;
            p.apply(r)
        })
        .await
        .unwrap();
        assert!(done.id.is_some());
        p.inject(Fault {
            op: Some(ApplyAction::Create),
            kind: ErrorKind::Capacity,
            count: 1,
            retry_after: None,
        });
        let e = p.apply(req.clone()).await.unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_deref()),
            (ErrorKind::Capacity, Some("FAKE_CAPACITY_EXHAUSTED"))
        );
        assert!(!e.is_retryable());
    }
}
