//! Apply: walk the plan's changes in dependency order through the providers, recording
//! every finished operation in state before anything that depends on it starts.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use mlinfra_provider_api::{
    ApplyAction, ApplyRequest, ApplyResponse, ErrorKind, PlanRequest, ProviderConfig,
    ProviderError, ProviderSet, ReadResponse, RecoverRequest,
};
use mlinfra_schema::{kind, Cloud, Value};
use sha2::{Digest, Sha256};

use crate::config::eval::{evaluate, EvalOptions, Evaluated, Inputs};
use crate::config::load::{parse_duration, Config};
use crate::plan::{Action, Plan, ResourceChange};
use crate::state::{OutputState, PendingCreate, ResourceState, State, StateError};
use crate::store::{StateStore, Touched};

/// What the apply reports as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    Start {
        address: &'a str,
        op: Op,
    },
    Done {
        address: &'a str,
        op: Op,
        elapsed: Duration,
        id: Option<&'a str>,
    },
    Failed {
        address: &'a str,
        op: Op,
        elapsed: Duration,
        error: &'a str,
    },
    Skipped {
        address: &'a str,
        reason: &'a str,
    },
    Retry {
        address: &'a str,
        op: Op,
        attempt: u32,
        wait: Duration,
        error: &'a str,
    },
    Adopted {
        address: &'a str,
        name: &'a str,
    },
    Forgot {
        address: &'a str,
        name: &'a str,
    },
}

/// A single cloud operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

impl Op {
    pub fn ing(self) -> &'static str {
        match self {
            Op::Create => "Creating",
            Op::Update => "Modifying",
            Op::Delete => "Destroying",
        }
    }
    pub fn done(self) -> &'static str {
        match self {
            Op::Create => "Creation complete",
            Op::Update => "Modifications complete",
            Op::Delete => "Destruction complete",
        }
    }
}

/// Receives progress events; the CLI renders them.
pub trait Progress {
    fn event(&self, e: Event);
}

#[derive(Clone, Debug, Default)]
pub struct ApplyOptions {
    /// Most operations in flight at once; `None` is unlimited.
    pub parallelism: Option<usize>,
    /// Creates an interrupted run had started whose objects recovery did not find:
    /// address → cloud name. Their create may still find the object (the killed run's
    /// call landed late), and adopts it; any other create that finds one fails.
    pub interrupted_creates: BTreeMap<String, String>,
}

/// The outcome of an apply.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub completed: Vec<(String, Op, Duration)>,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<(String, String)>,
    pub interrupted: bool,
    /// Most operations that were in flight at one time.
    pub max_in_flight: usize,
    pub state: State,
}

impl ApplyReport {
    pub fn count(&self, op: Op) -> usize {
        self.completed.iter().filter(|(_, o, _)| *o == op).count()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{0}")]
    Refused(String),
}

/// Everything an apply reads.
pub struct ApplyContext<'a> {
    pub config: &'a Config,
    pub inputs: &'a Inputs,
    pub evaluated: &'a Evaluated,
    pub providers: &'a ProviderSet,
    pub store: &'a StateStore,
    pub progress: &'a dyn Progress,
    /// Incremented on each Ctrl-C: once set, nothing new starts.
    pub interrupts: &'a AtomicUsize,
}

struct Item {
    address: String,
    op: Op,
    change: ResourceChange,
    deps: Vec<usize>,
}

type Running<'f> =
    Pin<Box<dyn Future<Output = (usize, Result<ApplyResponse, ProviderError>, Duration)> + 'f>>;

/// Per-cloud concurrency that halves on throttling and grows back on success.
struct AdaptiveLimit {
    limit: Cell<f64>,
    in_flight: Cell<usize>,
}

impl AdaptiveLimit {
    const START: f64 = 32.0;
    const MAX: f64 = 256.0;
    fn new() -> Self {
        AdaptiveLimit {
            limit: Cell::new(Self::START),
            in_flight: Cell::new(0),
        }
    }
    fn has_room(&self) -> bool {
        (self.in_flight.get() as f64) < self.limit.get().floor().max(1.0)
    }
    fn throttled(&self) {
        self.limit.set((self.limit.get() / 2.0).max(1.0));
    }
    fn succeeded(&self) {
        let l = self.limit.get();
        self.limit.set((l + 1.0 / l.max(1.0) * 4.0).min(Self::MAX));
    }
}

/// A deterministic idempotency token for a create.
fn client_token(lineage: &str, address: &str, hash: &str) -> String {
    let d = Sha256::digest(format!("{lineage}\0{address}\0{hash}").as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn provider_config(evaluated: &Evaluated, key: &str) -> ProviderConfig {
    ProviderConfig {
        key: key.to_string(),
        attributes: evaluated
            .providers
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.attrs.clone())
            .unwrap_or_default(),
    }
}

/// Adopt or forget creates that a killed run left in flight, in `state` (in memory: the
/// caller writes it once everything else is checked). Reads only. Returns the forgotten
/// ones (address → cloud name), which their next create may still adopt.
pub async fn recover(
    providers: &ProviderSet,
    evaluated: &Evaluated,
    progress: &dyn Progress,
    state: &mut State,
) -> Result<BTreeMap<String, String>, ApplyError> {
    let mut forgotten = BTreeMap::new();
    if state.pending.is_empty() {
        return Ok(forgotten);
    }
    let mut kept = Vec::new();
    let pending = std::mem::take(&mut state.pending);
    for p in pending {
        let Some(provider) = Cloud::parse(&p.cloud).and_then(|c| providers.get(c)) else {
            kept.push(p);
            continue;
        };
        let req = RecoverRequest::new(
            p.kind.clone(),
            p.name.clone(),
            p.handle.clone(),
            p.attributes
                .iter()
                .map(|(k, v)| (k.clone(), Value::from_json(v)))
                .collect(),
            provider_config(evaluated, &p.provider),
        );
        match provider.recover(req).await {
            Ok(ReadResponse::Found { attributes }) => {
                progress.event(Event::Adopted {
                    address: &p.address,
                    name: &p.name,
                });
                state.resources.insert(
                    p.address.clone(),
                    ResourceState {
                        kind: p.kind.clone(),
                        cloud: Some(p.cloud.clone()),
                        provider: Some(p.provider.clone()),
                        id: attributes
                            .get("id")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .or(p.handle.clone())
                            .or(Some(p.name.clone())),
                        attributes,
                        sensitive: BTreeSet::new(),
                        dependencies: p.dependencies.iter().cloned().collect(),
                    },
                );
            }
            Ok(ReadResponse::Gone) => {
                progress.event(Event::Forgot {
                    address: &p.address,
                    name: &p.name,
                });
                forgotten.insert(p.address.clone(), p.name.clone());
            }
            Err(e) => {
                state.pending = kept;
                state.pending.push(p.clone());
                return Err(ApplyError::Refused(format!(
                    "cannot tell whether the interrupted create of {} ({}) reached the cloud: {}",
                    p.address, p.name, e.message
                )));
            }
        }
    }
    state.pending = kept;
    Ok(forgotten)
}

/// Build the work items: one per operation, with the operations each waits for.
fn items(plan: &Plan, state: &State) -> Result<Vec<Item>, ApplyError> {
    let mut items: Vec<Item> = Vec::new();
    let mut create_of: HashMap<String, usize> = HashMap::new();
    let mut delete_of: HashMap<String, usize> = HashMap::new();
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let ops: &[Op] = match c.action {
            Action::Create => &[Op::Create],
            Action::Update => &[Op::Update],
            Action::Delete => &[Op::Delete],
            Action::DeleteThenCreate => &[Op::Delete, Op::Create],
            Action::CreateThenDelete => {
                return Err(ApplyError::Refused(format!(
                    "{} is planned as create-before-destroy, which this build cannot apply yet; remove lifecycle.create_before_destroy to replace it destroy-first",
                    c.address
                )))
            }
            // Moves and forgets are state-only: recorded before the apply starts.
            Action::NoOp | Action::Read | Action::Forget => &[],
        };
        for op in ops {
            let idx = items.len();
            items.push(Item {
                address: c.address.clone(),
                op: *op,
                change: c.clone(),
                deps: Vec::new(),
            });
            match op {
                Op::Delete => delete_of.insert(c.address.clone(), idx),
                _ => create_of.insert(c.address.clone(), idx),
            };
        }
    }
    for (i, item) in items.iter_mut().enumerate() {
        let mut deps = Vec::new();
        match item.op {
            Op::Create | Op::Update => {
                deps.extend(
                    item.change
                        .depends_on
                        .iter()
                        .filter_map(|d| create_of.get(d).copied()),
                );
                deps.extend(delete_of.get(&item.address).copied());
            }
            Op::Delete => {
                // A delete waits for the deletes of everything that depends on it.
                deps.extend(
                    state
                        .resources
                        .iter()
                        .filter(|(_, r)| r.dependencies.contains(&item.address))
                        .filter_map(|(addr, _)| delete_of.get(addr).copied()),
                );
            }
        }
        deps.retain(|j| *j != i);
        item.deps = deps;
    }
    Ok(items)
}

/// Apply `plan` to `state`, persisting after every operation.
pub async fn apply(
    ctx: &ApplyContext<'_>,
    plan: &Plan,
    mut state: State,
    opts: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    // Refuse kinds no provider supports before touching anything.
    for c in plan
        .changes
        .iter()
        .filter(|c| !matches!(c.action, Action::NoOp | Action::Forget))
    {
        let cloud = c.cloud.as_deref().and_then(Cloud::parse);
        let ok = cloud
            .and_then(|cl| ctx.providers.get(cl))
            .is_some_and(|p| p.supports(&c.kind));
        if !ok {
            return Err(ApplyError::Refused(format!(
                "{} is a {} on {}, which this build cannot create yet; nothing was changed",
                c.address,
                c.kind,
                c.cloud.as_deref().unwrap_or("no cloud")
            )));
        }
    }
    let items = items(plan, &state)?;
    let n = items.len();
    let mut waiting: Vec<usize> = items.iter().map(|i| i.deps.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, it) in items.iter().enumerate() {
        for d in &it.deps {
            dependents[*d].push(i);
        }
    }
    let mut status = vec![Status::Waiting; n];
    let mut ready: VecDeque<usize> = (0..n).filter(|i| waiting[*i] == 0).collect();
    let limits: RefCell<HashMap<String, AdaptiveLimit>> = RefCell::new(HashMap::new());
    let mut report = ApplyReport::default();
    let mut running: FuturesUnordered<Running<'_>> = FuturesUnordered::new();
    let mut serial = ctx.store.current_serial();
    let mut started: HashMap<usize, Instant> = HashMap::new();
    let mut fatal: Option<String> = None;
    let hash = plan.binding.config_hash.clone();

    loop {
        let interrupted = ctx.interrupts.load(Ordering::SeqCst) > 0;
        if !interrupted && fatal.is_none() {
            let mut deferred = VecDeque::new();
            while let Some(i) = ready.pop_front() {
                if opts.parallelism.is_some_and(|p| running.len() >= p) {
                    deferred.push_back(i);
                    break;
                }
                let cloud = items[i].change.cloud.clone().unwrap_or_default();
                let room = limits
                    .borrow_mut()
                    .entry(cloud.clone())
                    .or_insert_with(AdaptiveLimit::new)
                    .has_room();
                if !room {
                    deferred.push_back(i);
                    continue;
                }
                match prepare(ctx, &items[i], &mut state, &mut serial, &hash, opts) {
                    Ok(req) => {
                        status[i] = Status::Running;
                        started.insert(i, Instant::now());
                        ctx.progress.event(Event::Start {
                            address: &items[i].address,
                            op: items[i].op,
                        });
                        if let Some(l) = limits.borrow().get(&cloud) {
                            l.in_flight.set(l.in_flight.get() + 1);
                        }
                        running.push(Box::pin(execute(ctx, i, &items[i], req, &limits)));
                        report.max_in_flight = report.max_in_flight.max(running.len());
                    }
                    Err(PrepareError::Fatal(e)) => {
                        fatal = Some(e.clone());
                        status[i] = Status::Failed;
                        report.failed.push((items[i].address.clone(), e));
                    }
                    Err(PrepareError::Item(e)) => {
                        ctx.progress.event(Event::Failed {
                            address: &items[i].address,
                            op: items[i].op,
                            elapsed: Duration::ZERO,
                            error: &e,
                        });
                        status[i] = Status::Failed;
                        report.failed.push((items[i].address.clone(), e));
                        skip_dependents(
                            i,
                            &items,
                            &dependents,
                            &mut status,
                            &mut report,
                            ctx.progress,
                        );
                    }
                }
            }
            while let Some(i) = deferred.pop_back() {
                ready.push_front(i);
            }
        }
        let Some((i, result, elapsed)) = running.next().await else {
            break;
        };
        let cloud = items[i].change.cloud.clone().unwrap_or_default();
        if let Some(l) = limits.borrow().get(&cloud) {
            l.in_flight.set(l.in_flight.get().saturating_sub(1));
        }
        let _ = started.remove(&i);
        match result {
            Ok(resp) => {
                record(&items[i], resp.clone(), &mut state);
                let touched = Touched::Address(&items[i].address);
                if let Err(e) = persist(ctx, &mut state, &mut serial, touched) {
                    // Without a durable record nothing that depends on it may start.
                    let msg = format!("the result could not be recorded in state: {e}");
                    fatal = Some(msg.clone());
                    status[i] = Status::Failed;
                    report.failed.push((items[i].address.clone(), msg));
                    continue;
                }
                ctx.progress.event(Event::Done {
                    address: &items[i].address,
                    op: items[i].op,
                    elapsed,
                    id: resp.id.as_deref(),
                });
                status[i] = Status::Done;
                report
                    .completed
                    .push((items[i].address.clone(), items[i].op, elapsed));
                for d in &dependents[i] {
                    waiting[*d] -= 1;
                    if waiting[*d] == 0 && status[*d] == Status::Waiting {
                        ready.push_back(*d);
                    }
                }
            }
            Err(e) => {
                if items[i].op == Op::Create
                    && matches!(
                        e.kind,
                        ErrorKind::Invalid
                            | ErrorKind::Auth
                            | ErrorKind::AlreadyExists
                            | ErrorKind::NotFound
                            | ErrorKind::Quota
                    )
                {
                    // The cloud refused the create outright: nothing can be in flight, and
                    // an object that was already there is not ours to adopt next time.
                    state.pending.retain(|p| p.address != items[i].address);
                    let touched = Touched::Address(&items[i].address);
                    if let Err(err) = persist(ctx, &mut state, &mut serial, touched) {
                        fatal = Some(format!("the result could not be recorded in state: {err}"));
                    }
                }
                if e.kind == ErrorKind::Auth && fatal.is_none() {
                    // Every other call would be refused the same way: start nothing more.
                    fatal = Some(format!("the cloud refused the credentials: {}", e.message));
                }
                ctx.progress.event(Event::Failed {
                    address: &items[i].address,
                    op: items[i].op,
                    elapsed,
                    error: &e.message,
                });
                status[i] = Status::Failed;
                report
                    .failed
                    .push((items[i].address.clone(), e.message.clone()));
                skip_dependents(
                    i,
                    &items,
                    &dependents,
                    &mut status,
                    &mut report,
                    ctx.progress,
                );
            }
        }
    }
    report.interrupted = ctx.interrupts.load(Ordering::SeqCst) > 0;
    for (i, it) in items.iter().enumerate() {
        if status[i] == Status::Waiting {
            let reason = if report.interrupted {
                "not started: the apply was interrupted"
            } else if fatal
                .as_deref()
                .is_some_and(|f| f.starts_with("the cloud refused"))
            {
                "not started: the credentials were refused"
            } else if fatal.is_some() {
                "not started: state could not be written"
            } else {
                "not started"
            };
            report
                .skipped
                .push((it.address.clone(), reason.to_string()));
        }
    }
    // Outputs from the configuration as applied.
    if fatal.is_none() {
        let prior = state.attributes();
        let (ev, _) = evaluate(
            ctx.config,
            &EvalOptions {
                inputs: ctx.inputs,
                prior: &prior,
                replaced: &BTreeSet::new(),
            },
        );
        let outputs: BTreeMap<String, OutputState> = ev
            .outputs
            .into_iter()
            .filter(|(_, o)| !o.value.contains_unknown())
            .map(|(k, o)| {
                (
                    k,
                    OutputState {
                        value: o.value,
                        sensitive: o.sensitive,
                    },
                )
            })
            .collect();
        if outputs != state.outputs {
            state.outputs = outputs;
            persist(ctx, &mut state, &mut serial, Touched::Outputs)?;
        }
    }
    // The journal of this run folded into one snapshot.
    if fatal.is_none() {
        ctx.store.finish(&mut state)?;
    }
    report.state = state;
    Ok(report)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

fn skip_dependents(
    i: usize,
    items: &[Item],
    dependents: &[Vec<usize>],
    status: &mut [Status],
    report: &mut ApplyReport,
    progress: &dyn Progress,
) {
    let mut stack = dependents[i].clone();
    while let Some(d) = stack.pop() {
        if status[d] != Status::Waiting {
            continue;
        }
        status[d] = Status::Skipped;
        let reason = format!("skipped: {} failed", items[i].address);
        progress.event(Event::Skipped {
            address: &items[d].address,
            reason: &reason,
        });
        report.skipped.push((items[d].address.clone(), reason));
        stack.extend(dependents[d].iter().copied());
    }
}

enum PrepareError {
    /// This item cannot run; its dependents are skipped.
    Item(String),
    /// State could not be written: stop starting anything.
    Fatal(String),
}

fn persist(
    ctx: &ApplyContext<'_>,
    state: &mut State,
    serial: &mut Option<u64>,
    touched: Touched<'_>,
) -> Result<(), StateError> {
    ctx.store.record(state, *serial, touched)?;
    *serial = Some(state.serial);
    Ok(())
}

/// Resolve the item's final attributes and record a create's intent in state.
fn prepare(
    ctx: &ApplyContext<'_>,
    item: &Item,
    state: &mut State,
    serial: &mut Option<u64>,
    hash: &str,
    opts: &ApplyOptions,
) -> Result<ApplyRequest, PrepareError> {
    let c = &item.change;
    let key = c
        .provider
        .clone()
        .unwrap_or_else(|| c.cloud.clone().unwrap_or_default());
    let config = provider_config(ctx.evaluated, &key);
    let prior = state
        .resources
        .get(&item.address)
        .map(|r| r.attributes.clone());
    let timeout_key = match item.op {
        Op::Create => "create",
        Op::Update => "update",
        Op::Delete => "delete",
    };
    let timeout_seconds = ctx
        .evaluated
        .resources
        .iter()
        .find(|r| r.address.to_string() == item.address)
        .and_then(|r| r.timeouts.get(timeout_key))
        .and_then(|t| parse_duration(t));
    if item.op == Op::Delete {
        return Ok(ApplyRequest::new(
            c.kind.clone(),
            ApplyAction::Delete,
            prior.clone(),
            prior.unwrap_or_default(),
            config,
        )
        .with_timeout(timeout_seconds));
    }
    let mut planned = c
        .after
        .as_ref()
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default();
    let computed: BTreeSet<&str> = kind(&c.kind)
        .map(|k| {
            k.body
                .attributes
                .iter()
                .filter(|a| a.read_only)
                .map(|a| a.name)
                .collect()
        })
        .unwrap_or_default();
    let mut write_only = ctx
        .evaluated
        .resource(&item.address)
        .map(|r| r.write_only.clone())
        .unwrap_or_default();
    let needs_values = planned
        .iter()
        .any(|(k, v)| !computed.contains(k.as_str()) && v.contains_unknown())
        || write_only.values().any(Value::contains_unknown);
    if needs_values {
        // Values that were unknown at plan time are known now that dependencies are applied.
        let prior_attrs = state.attributes();
        let (ev, diags) = crate::config::functions::while_applying(|| {
            evaluate(
                ctx.config,
                &EvalOptions {
                    inputs: ctx.inputs,
                    prior: &prior_attrs,
                    replaced: &BTreeSet::new(),
                },
            )
        });
        if diags.has_errors() {
            return Err(PrepareError::Item(
                "the configuration no longer evaluates".into(),
            ));
        }
        let Some(inst) = ev.resource(&item.address) else {
            return Err(PrepareError::Item(
                "the resource is no longer in the configuration".into(),
            ));
        };
        for (k, v) in &inst.attrs {
            if computed.contains(k.as_str()) {
                continue;
            }
            let was = planned.get(k);
            if let Some(was) = was {
                if !was.contains_unknown() && was != v {
                    return Err(PrepareError::Item(format!(
                        "{k} evaluated to a different value than planned; re-plan"
                    )));
                }
            }
            planned.insert(k.clone(), v.clone());
        }
        write_only = inst.write_only.clone();
        if let Some((k, _)) = planned
            .iter()
            .find(|(k, v)| !computed.contains(k.as_str()) && v.contains_unknown())
        {
            return Err(PrepareError::Item(format!(
                "{k} is still unknown after its dependencies were applied"
            )));
        }
    }
    // The provider checks the final values (known now) and names its recovery handle.
    let checked = c
        .cloud
        .as_deref()
        .and_then(Cloud::parse)
        .and_then(|cl| ctx.providers.get(cl))
        .map(|p| {
            p.plan(
                PlanRequest::new(
                    c.kind.clone(),
                    // The create half of a replacement is checked as a create.
                    if item.op == Op::Update {
                        prior.clone()
                    } else {
                        None
                    },
                    planned.clone(),
                    Vec::new(),
                    config.clone(),
                )
                .with_write_only(write_only.clone()),
            )
        });
    let handle = match checked {
        Some(Ok(resp)) => resp.private,
        Some(Err(e)) => return Err(PrepareError::Item(e.message)),
        None => None,
    };
    let token = client_token(&state.lineage, &item.address, hash);
    let mut adopt_existing = false;
    if item.op == Op::Create {
        let name = planned
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        adopt_existing = opts.interrupted_creates.get(&item.address) == Some(&name);
        state.pending.retain(|p| p.address != item.address);
        state.pending.push(PendingCreate {
            address: item.address.clone(),
            kind: c.kind.clone(),
            cloud: c.cloud.clone().unwrap_or_default(),
            provider: key.clone(),
            name,
            client_token: token.clone(),
            handle,
            attributes: planned
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
            dependencies: c.depends_on.clone(),
        });
        persist(ctx, state, serial, Touched::Address(&item.address)).map_err(|e| {
            PrepareError::Fatal(format!("could not record the intent to create: {e}"))
        })?;
    }
    let action = if item.op == Op::Create {
        ApplyAction::Create
    } else {
        ApplyAction::Update
    };
    Ok(
        ApplyRequest::new(c.kind.clone(), action, prior, planned, config)
            .with_client_token(token)
            .adopting(adopt_existing)
            .with_timeout(timeout_seconds)
            .with_write_only(write_only),
    )
}

/// Run one operation with retries on throttling and transient faults, within its timeout.
async fn execute<'f>(
    ctx: &'f ApplyContext<'f>,
    i: usize,
    item: &'f Item,
    req: ApplyRequest,
    limits: &'f RefCell<HashMap<String, AdaptiveLimit>>,
) -> (usize, Result<ApplyResponse, ProviderError>, Duration) {
    let start = Instant::now();
    let cloud = item.change.cloud.as_deref().and_then(Cloud::parse);
    let Some(provider) = cloud.and_then(|c| ctx.providers.get(c)) else {
        return (
            i,
            Err(ProviderError::new(ErrorKind::Invalid, "no provider")),
            start.elapsed(),
        );
    };
    let cloud_key = item.change.cloud.clone().unwrap_or_default();
    let timeout = Duration::from_secs(req.timeout_seconds.unwrap_or(60 * 60));
    let deadline = start + timeout;
    let mut attempt = 0u32;
    let mut backoff = mlinfra_provider_api::wait::Backoff::retrying().salted(i as u64);
    let mut req = req;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let result = match tokio::time::timeout(left, provider.apply(req.clone())).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "timed out after {}s (timeouts.{:?})",
                    timeout.as_secs(),
                    item.op
                )
                .to_lowercase(),
            )),
        };
        match result {
            Ok(resp) => {
                if let Some(l) = limits.borrow().get(&cloud_key) {
                    l.succeeded();
                }
                return (i, Ok(resp), start.elapsed());
            }
            Err(e) if e.is_retryable() && attempt < 10 => {
                if e.kind == ErrorKind::Throttled {
                    if let Some(l) = limits.borrow().get(&cloud_key) {
                        l.throttled();
                    }
                }
                attempt += 1;
                let wait = backoff.wait(attempt, e.retry_after);
                if Instant::now() + wait >= deadline {
                    return (i, Err(e), start.elapsed());
                }
                // After an interrupt, an operation waiting to retry is not in flight: stop
                // (a create keeps its intent, so the next run looks it up).
                if ctx.interrupts.load(Ordering::SeqCst) > 0 {
                    return (i, Err(e), start.elapsed());
                }
                ctx.progress.event(Event::Retry {
                    address: &item.address,
                    op: item.op,
                    attempt,
                    wait,
                    error: &e.message,
                });
                let until = Instant::now() + wait;
                while Instant::now() < until && ctx.interrupts.load(Ordering::SeqCst) == 0 {
                    tokio::time::sleep(
                        until
                            .saturating_duration_since(Instant::now())
                            .min(Duration::from_millis(100)),
                    )
                    .await;
                }
                if ctx.interrupts.load(Ordering::SeqCst) > 0 {
                    return (i, Err(e), start.elapsed());
                }
                // The failed attempt may have reached the cloud before the fault: what it
                // created is this create's own.
                req.adopt_existing = true;
            }
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                let message = e
                    .message
                    .replace(mlinfra_provider_api::ADDRESS_PLACEHOLDER, &item.address);
                let mut e = e;
                e.message = message;
                return (i, Err(e), start.elapsed());
            }
            Err(e) => return (i, Err(e), start.elapsed()),
        }
    }
}

/// Put a finished operation into state.
fn record(item: &Item, resp: ApplyResponse, state: &mut State) {
    let c = &item.change;
    match item.op {
        Op::Delete => {
            state.resources.remove(&item.address);
        }
        Op::Create | Op::Update => {
            state.pending.retain(|p| p.address != item.address);
            let attributes = resp.attributes.unwrap_or_default();
            state.resources.insert(
                item.address.clone(),
                ResourceState {
                    kind: c.kind.clone(),
                    cloud: c.cloud.clone(),
                    provider: c.provider.clone(),
                    id: resp.id.or_else(|| {
                        attributes
                            .get("id")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    }),
                    attributes,
                    sensitive: c.sensitive_paths.clone(),
                    dependencies: c.depends_on.iter().cloned().collect(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_limit_halves_and_recovers() {
        let l = AdaptiveLimit::new();
        l.throttled();
        l.throttled();
        assert_eq!(l.limit.get(), 8.0);
        for _ in 0..100 {
            l.succeeded();
        }
        assert!(l.limit.get() > 8.0 && l.limit.get() <= AdaptiveLimit::MAX);
        for _ in 0..20 {
            l.throttled();
        }
        assert_eq!(l.limit.get(), 1.0);
        assert!(l.has_room());
    }

    #[test]
    fn client_tokens_are_deterministic_per_address() {
        assert_eq!(
            client_token("l", "bucket.a", "h"),
            client_token("l", "bucket.a", "h")
        );
        assert_ne!(
            client_token("l", "bucket.a", "h"),
            client_token("l", "bucket.b", "h")
        );
    }
}
