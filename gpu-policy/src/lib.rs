//! GPU scheduling policies from the same manifests: Kueue objects for the GPU pools,
//! queues and priority classes. Pure computation: evaluated configuration in, YAML out.
//!
//! Emitted (`kueue.x-k8s.io/v1beta2`): a `ResourceFlavor` per GPU pool, a `ClusterQueue`
//! per queue, a `Cohort` per cohort, a `LocalQueue` per (queue, namespace) and a
//! `WorkloadPriorityClass` per priority class. Each kind has its template in
//! `gpu-policy/templates/`; objects come out sorted by kind, then name.

pub mod sharing;
pub mod validate;

use std::collections::{BTreeMap, BTreeSet};

use mlinfra_engine::config::eval::ResourceInstance;
use mlinfra_engine::{Diagnostic, Diagnostics, Evaluated};
use mlinfra_schema::{Cloud, Value};
use serde::Serialize;

/// One emitted Kubernetes object.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub kind: &'static str,
    pub name: String,
    pub namespace: Option<String>,
    pub yaml: String,
}

/// The kinds in the order they are written; files are named after them.
pub const KINDS: &[(&str, &str)] = &[
    ("WorkloadPriorityClass", "workloadpriorityclasses.yaml"),
    ("ResourceFlavor", "resourceflavors.yaml"),
    ("Cohort", "cohorts.yaml"),
    ("ClusterQueue", "clusterqueues.yaml"),
    ("LocalQueue", "localqueues.yaml"),
    ("ConfigMap", "nvidia-configs.yaml"),
    ("NodePool", "karpenter-nodepools.yaml"),
    ("Queue", "volcano-queues.yaml"),
];

/// Which optional emitters run.
#[derive(Clone, Debug)]
pub struct Options {
    /// A Karpenter `NodePool` per AWS GPU pool.
    pub karpenter: bool,
    /// The `EC2NodeClass` the NodePools use.
    pub node_class: String,
    /// A Volcano `Queue` per queue.
    pub volcano: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            karpenter: false,
            node_class: "default".into(),
            volcano: false,
        }
    }
}

/// Where the NVIDIA GPU operator runs; its MIG manager and device plugin read the
/// ConfigMaps emitted here.
pub const GPU_OPERATOR_NAMESPACE: &str = "gpu-operator";
/// The ConfigMap holding the mig-parted configuration (`config.yaml`).
pub const MIG_CONFIGMAP: &str = "mlinfra-mig-parted-config";
/// The ConfigMap holding the device plugin configurations, one key per pool.
pub const DEVICE_PLUGIN_CONFIGMAP: &str = "mlinfra-device-plugin-config";

const TEMPLATES: &[(&str, &str)] = &[
    (
        "ResourceFlavor",
        include_str!("../templates/resource_flavor.yaml.j2"),
    ),
    (
        "ClusterQueue",
        include_str!("../templates/cluster_queue.yaml.j2"),
    ),
    (
        "LocalQueue",
        include_str!("../templates/local_queue.yaml.j2"),
    ),
    ("Cohort", include_str!("../templates/cohort.yaml.j2")),
    (
        "WorkloadPriorityClass",
        include_str!("../templates/workload_priority_class.yaml.j2"),
    ),
    (
        "MigPartedConfig",
        include_str!("../templates/mig_parted_config.yaml.j2"),
    ),
    (
        "DevicePluginConfig",
        include_str!("../templates/device_plugin_config.yaml.j2"),
    ),
    (
        "NodePool",
        include_str!("../templates/karpenter_nodepool.yaml.j2"),
    ),
    ("Queue", include_str!("../templates/volcano_queue.yaml.j2")),
];

/// How a pool's GPUs are shared.
#[derive(Clone, Debug, PartialEq)]
pub enum Sharing {
    None,
    /// MIG: profile → instances per GPU.
    Mig(Vec<(String, u32)>),
    /// Time slicing: pods per GPU.
    TimeSlicing(u32),
    /// CUDA MPS, set up by GKE on the node pool (`gpuSharingConfig`): clients per GPU.
    Mps(u32),
}

impl Sharing {
    /// The resources a workload requests on the pool, and how many of each one GPU gives.
    fn resources(&self) -> Vec<(String, u64)> {
        match self {
            Sharing::Mig(mix) => {
                let mut v: Vec<(String, u64)> = mix
                    .iter()
                    .map(|(p, n)| (format!("nvidia.com/mig-{p}"), u64::from(*n)))
                    .collect();
                v.sort();
                v
            }
            Sharing::TimeSlicing(r) | Sharing::Mps(r) => {
                vec![(GPU_RESOURCE.to_string(), u64::from(*r))]
            }
            Sharing::None => vec![(GPU_RESOURCE.to_string(), 1)],
        }
    }
}

/// The name of a pool's MIG or device-plugin configuration, and its node label value.
pub fn config_name(pool: &str) -> String {
    format!("mlinfra-{pool}")
}

/// The GPU resource Kueue quotas count.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// Kueue's limits on a ResourceFlavor (its CRD's maxProperties / maxItems).
const MAX_NODE_LABELS: usize = 8;
const MAX_TAINTS: usize = 8;

#[derive(Clone, Debug)]
struct Pool<'a> {
    inst: &'a ResourceInstance,
    name: String,
    cluster: String,
    instance_type: Option<String>,
    accelerator: String,
    capacity: u64,
    gpus_per_node: u64,
    max_nodes: u64,
    purchase: String,
    labels: BTreeMap<String, String>,
    taints: Vec<Taint>,
    sharing: Sharing,
}

#[derive(Clone, Debug, Serialize)]
struct Taint {
    key: String,
    value: Option<String>,
    effect: String,
}

#[derive(Serialize)]
struct Pair {
    key: String,
    value: String,
}

#[derive(Serialize)]
struct QuotaCtx {
    name: String,
    nominal: u64,
    borrowing: Option<u64>,
    lending: Option<u64>,
}

#[derive(Serialize)]
struct FlavorCtx {
    name: String,
    resources: Vec<QuotaCtx>,
}

#[derive(Serialize)]
struct GroupCtx {
    covered: Vec<String>,
    flavors: Vec<FlavorCtx>,
}

fn s(i: &ResourceInstance, k: &str) -> Option<String> {
    i.attrs.get(k).and_then(Value::as_str).map(str::to_string)
}

fn n(i: &ResourceInstance, k: &str) -> Option<f64> {
    i.attrs.get(k).and_then(Value::as_f64)
}

/// The names a queue's `nominal_gpus` map may use for a pool: its `name`, its address,
/// its block label (single instance) or its `for_each`/`count` key.
fn pool_keys(p: &Pool<'_>) -> Vec<String> {
    let mut v = vec![p.name.clone(), p.inst.address.to_string()];
    match &p.inst.address.key {
        None => v.push(p.inst.address.name.clone()),
        Some(k) => v.push(k.to_string().trim_matches('"').to_string()),
    }
    v
}

/// GKE's accelerator label value for a GPU.
fn gke_accelerator(acc: &str) -> Option<&'static str> {
    Some(match acc {
        "H100" => "nvidia-h100-80gb",
        "H200" => "nvidia-h200-141gb",
        "B200" => "nvidia-b200",
        "A100-80GB" => "nvidia-a100-80gb",
        "A100" => "nvidia-tesla-a100",
        "L4" => "nvidia-l4",
        "T4" => "nvidia-tesla-t4",
        "V100" => "nvidia-tesla-v100",
        _ => return None,
    })
}

/// Whether `s` is a DNS-1123 subdomain, the form Kubernetes object names take.
pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

fn pools<'a>(config: &'a Evaluated, diags: &mut Diagnostics) -> Vec<Pool<'a>> {
    let mut out = Vec::new();
    for i in config
        .resources
        .iter()
        .filter(|r| r.kind.name == "gpu_pool")
    {
        let name = s(i, "name").unwrap_or_else(|| i.address.name.clone());
        let gpus = n(i, "gpus_per_node").unwrap_or(0.0);
        let max = n(i, "max_nodes").unwrap_or(0.0);
        let block = i.attrs.get("sharing").and_then(Value::as_map);
        let mode = block
            .and_then(|m| m.get("mode"))
            .and_then(Value::as_str)
            .unwrap_or("none")
            .to_string();
        let accelerator = s(i, "accelerator").unwrap_or_default();
        let sharing = match mode.as_str() {
            "mig" => {
                let per_gpu = |p: &str| {
                    sharing::profiles(&accelerator)
                        .and_then(|ps| ps.iter().find(|x| x.name == p))
                        .map(|x| x.max)
                        .unwrap_or(1)
                };
                let mix: Vec<(String, u32)> = match block.and_then(|m| m.get("profile")) {
                    Some(Value::String(p)) => vec![(p.clone(), per_gpu(p))],
                    Some(Value::Map(m)) => m
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0).max(0.0) as u32))
                        .collect(),
                    _ => Vec::new(),
                };
                match sharing::check_mix(&accelerator, &mix) {
                    Ok(()) => Sharing::Mig(mix),
                    Err(e) => {
                        diags.push(
                            Diagnostic::error(format!("{}: invalid MIG setup: {e}", i.address))
                                .at(Some(i.span))
                                .expected("sharing { mode = \"mig\"  profile = \"1g.10gb\" } or profile = { \"3g.40gb\" = 1, \"1g.10gb\" = 4 }"),
                        );
                        Sharing::None
                    }
                }
            }
            "time_slicing" => {
                let r = block
                    .and_then(|m| m.get("replicas"))
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                if r < 2.0 || r.fract() != 0.0 || r > 1024.0 {
                    diags.push(
                        Diagnostic::error(format!(
                            "{}: time slicing needs replicas, a whole number from 2 to 1024 (pods per GPU)",
                            i.address
                        ))
                        .at(Some(i.span))
                        .expected("sharing { mode = \"time_slicing\"  replicas = 4 }"),
                    );
                    Sharing::None
                } else {
                    Sharing::TimeSlicing(r as u32)
                }
            }
            "mps" if i.cloud == Some(Cloud::Gcp) => {
                let r = block
                    .and_then(|m| m.get("replicas"))
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                if !(2.0..=48.0).contains(&r) || r.fract() != 0.0 {
                    diags.push(
                        Diagnostic::error(format!(
                            "{}: MPS on GKE needs replicas, a whole number from 2 to 48 (clients per GPU)",
                            i.address
                        ))
                        .at(Some(i.span))
                        .expected("sharing { mode = \"mps\"  replicas = 4 }"),
                    );
                    Sharing::None
                } else {
                    Sharing::Mps(r as u32)
                }
            }
            "mps" => {
                diags.push(
                    Diagnostic::error(format!(
                        "{}: sharing mode \"mps\" is set up by GKE's node pools only in this build",
                        i.address
                    ))
                    .at(Some(i.span))
                    .help("on this cloud use mode = \"time_slicing\", \"mig\" or \"none\""),
                );
                Sharing::None
            }
            "none" => Sharing::None,
            other => {
                diags.push(
                    Diagnostic::error(format!(
                        "{}: sharing mode \"{other}\" is not supported by policy emit yet",
                        i.address
                    ))
                    .at(Some(i.span))
                    .help("use mode = \"mig\", \"time_slicing\" or \"none\""),
                );
                Sharing::None
            }
        };
        let labels: BTreeMap<String, String> = i
            .attrs
            .get("labels")
            .and_then(Value::as_map)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let taints: Vec<Taint> = i
            .attrs
            .get("taints")
            .and_then(Value::as_list)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_map)
                    .map(|t| Taint {
                        key: t
                            .get("key")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        value: t.get("value").and_then(Value::as_str).map(str::to_string),
                        effect: t
                            .get("effect")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Pool {
            inst: i,
            name,
            cluster: s(i, "cluster").unwrap_or_default(),
            instance_type: s(i, "instance_type"),
            accelerator: s(i, "accelerator").unwrap_or_default(),
            capacity: (gpus.max(0.0) * max.max(0.0)) as u64,
            gpus_per_node: gpus.max(0.0) as u64,
            max_nodes: max.max(0.0) as u64,
            purchase: s(i, "capacity").unwrap_or_else(|| "on_demand".into()),
            labels,
            taints,
            sharing,
        });
    }
    out
}

/// Split `total` over pools in proportion to their capacity, largest remainders first
/// (ties in pool order); whatever cannot fit the pools' capacity goes to the first pool.
pub fn split(total: u64, capacities: &[u64]) -> Vec<u64> {
    let sum: u128 = capacities.iter().map(|c| u128::from(*c)).sum();
    if capacities.is_empty() {
        return Vec::new();
    }
    if sum == 0 {
        let mut v = vec![0; capacities.len()];
        v[0] = total;
        return v;
    }
    let exact: Vec<(u64, u128)> = capacities
        .iter()
        .map(|c| {
            let num = u128::from(total) * u128::from(*c);
            ((num / sum) as u64, num % sum)
        })
        .collect();
    let mut v: Vec<u64> = exact.iter().map(|(q, _)| *q).collect();
    let mut left = total - v.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..capacities.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    for i in order {
        if left == 0 {
            break;
        }
        v[i] += 1;
        left -= 1;
    }
    v[0] += left;
    v
}

fn render(kind: &str, ctx: minijinja::Value) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.add_filter(
        "q",
        |v: minijinja::Value| -> Result<String, minijinja::Error> {
            let s = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            serde_json::to_string(&s).map_err(|e| {
                minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
            })
        },
    );
    let src = TEMPLATES
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, t)| *t)
        .ok_or_else(|| format!("no template for {kind}"))?;
    env.add_template(kind, src).map_err(|e| e.to_string())?;
    let t = env.get_template(kind).map_err(|e| e.to_string())?;
    let mut out = t.render(ctx).map_err(|e| e.to_string())?;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// The Kueue and NVIDIA objects of `config`, or the problems that stop them.
pub fn emit(config: &Evaluated) -> (Vec<Object>, Diagnostics) {
    emit_with(config, &Options::default())
}

/// The objects of `config` with the optional emitters of `opts`; problems at their blocks.
pub fn emit_with(config: &Evaluated, opts: &Options) -> (Vec<Object>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut objects = Vec::new();
    let pools = pools(config, &mut diags);
    let by_name: BTreeMap<&str, &Pool<'_>> = pools.iter().map(|p| (p.name.as_str(), p)).collect();
    let fail = |d: Diagnostic, diags: &mut Diagnostics| diags.push(d);

    // Priority classes.
    let mut seen = BTreeMap::new();
    for p in config
        .resources
        .iter()
        .filter(|r| r.kind.name == "priority_class")
    {
        let name = s(p, "name").unwrap_or_else(|| p.address.name.clone());
        if !check_name(&mut diags, p, "priority_class", &name, &mut seen) {
            continue;
        }
        let value = n(p, "value").unwrap_or(0.0);
        if value.fract() != 0.0 || value < f64::from(i32::MIN) || value > f64::from(i32::MAX) {
            fail(
                Diagnostic::error(format!(
                    "{}: value {value} is not a 32-bit integer",
                    p.address
                ))
                .at(Some(p.span))
                .expected("a whole number between -2147483648 and 2147483647"),
                &mut diags,
            );
            continue;
        }
        let ctx = minijinja::context! { name => name, value => value as i64, description => s(p, "description") };
        push(
            &mut objects,
            &mut diags,
            p,
            "WorkloadPriorityClass",
            name,
            None,
            ctx,
        );
    }

    // One ResourceFlavor per pool.
    let mut seen = BTreeMap::new();
    for pool in &pools {
        let i = pool.inst;
        if !check_name(&mut diags, i, "gpu_pool", &pool.name, &mut seen) {
            continue;
        }
        let mut labels = pool.labels.clone();
        if let Some(t) = &pool.instance_type {
            labels.insert("node.kubernetes.io/instance-type".into(), t.clone());
        }
        if i.cloud == Some(Cloud::Gcp) {
            if let Some(a) = gke_accelerator(&pool.accelerator) {
                labels.insert("cloud.google.com/gke-accelerator".into(), a.into());
            }
        }
        match &pool.sharing {
            Sharing::Mig(_) => {
                labels.insert("nvidia.com/mig.config".into(), config_name(&pool.name));
            }
            Sharing::TimeSlicing(_) => {
                labels.insert(
                    "nvidia.com/device-plugin.config".into(),
                    config_name(&pool.name),
                );
            }
            // GKE labels the nodes of an MPS pool itself.
            Sharing::Mps(_) => {
                labels.insert(
                    "cloud.google.com/gke-gpu-sharing-strategy".into(),
                    "mps".into(),
                );
            }
            Sharing::None => {}
        }
        if labels.len() > MAX_NODE_LABELS {
            fail(
                Diagnostic::error(format!(
                    "{}: a Kueue ResourceFlavor takes at most {MAX_NODE_LABELS} node labels, and this pool has {} with its accelerator label",
                    i.address,
                    labels.len()
                ))
                .at(Some(i.span))
                .help("keep the pool's labels to the ones that select its nodes"),
                &mut diags,
            );
            continue;
        }
        if pool.taints.len() > MAX_TAINTS {
            fail(
                Diagnostic::error(format!(
                    "{}: a Kueue ResourceFlavor takes at most {MAX_TAINTS} taints, and this pool has {}",
                    i.address,
                    pool.taints.len()
                ))
                .at(Some(i.span)),
                &mut diags,
            );
            continue;
        }
        let ctx = minijinja::context! {
            name => pool.name.clone(),
            node_labels => labels.into_iter().map(|(key, value)| Pair { key, value }).collect::<Vec<_>>(),
            taints => pool.taints.clone(),
        };
        push(
            &mut objects,
            &mut diags,
            i,
            "ResourceFlavor",
            pool.name.clone(),
            None,
            ctx,
        );
    }

    // Karpenter: a NodePool per AWS pool, limited to the pool's GPUs.
    if opts.karpenter {
        for pool in pools.iter().filter(|p| p.inst.cloud == Some(Cloud::Aws)) {
            let Some(instance_type) = &pool.instance_type else {
                continue;
            };
            let capacity_type = match pool.purchase.as_str() {
                "spot" => "spot",
                "reserved" => "reserved",
                _ => "on-demand",
            };
            let ctx = minijinja::context! {
                name => pool.name.clone(),
                labels => pool.labels.iter().map(|(k, v)| Pair { key: k.clone(), value: v.clone() }).collect::<Vec<_>>(),
                node_class => opts.node_class.clone(),
                instance_type => instance_type.clone(),
                capacity_type => capacity_type,
                taints => pool.taints.clone(),
                gpu_limit => pool.gpus_per_node * pool.max_nodes,
            };
            push(
                &mut objects,
                &mut diags,
                pool.inst,
                "NodePool",
                pool.name.clone(),
                None,
                ctx,
            );
        }
    }

    // Queues, their cohorts and local queues.
    let mut seen = BTreeMap::new();
    let mut cohorts: BTreeMap<String, (u64, u64, &ResourceInstance)> = BTreeMap::new();
    let mut cohort_pools: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut local: BTreeSet<(String, String)> = BTreeSet::new();
    for q in config.resources.iter().filter(|r| r.kind.name == "queue") {
        let name = s(q, "name").unwrap_or_else(|| q.address.name.clone());
        if !check_name(&mut diags, q, "queue", &name, &mut seen) {
            continue;
        }
        let names: Vec<String> = q
            .attrs
            .get("pools")
            .and_then(Value::as_list)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let mut qpools = Vec::new();
        for pn in &names {
            match by_name.get(pn.as_str()) {
                Some(p) => qpools.push(*p),
                None => fail(
                    Diagnostic::error(format!(
                        "{}: pool {pn} is not a gpu_pool of this configuration",
                        q.address
                    ))
                    .at(Some(q.span)),
                    &mut diags,
                ),
            }
        }
        if qpools.is_empty() {
            fail(
                Diagnostic::error(format!("{}: the queue has no pools", q.address))
                    .at(Some(q.span))
                    .expected("pools = [gpu_pool.NAME, …]"),
                &mut diags,
            );
            continue;
        }
        let clusters: BTreeSet<&str> = qpools.iter().map(|p| p.cluster.as_str()).collect();
        if clusters.len() > 1 {
            fail(
                Diagnostic::error(format!(
                    "{}: the queue names pools of different clusters ({}); a ClusterQueue lives in one cluster",
                    q.address,
                    clusters.into_iter().collect::<Vec<_>>().join(", ")
                ))
                .at(Some(q.span))
                .help("declare one queue per cluster"),
                &mut diags,
            );
            continue;
        }
        let capacities: Vec<u64> = qpools.iter().map(|p| p.capacity).collect();
        let capacity: u64 = capacities.iter().sum();
        let overcommit = q
            .attrs
            .get("overcommit")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let whole = |v: f64| v >= 0.0 && v.fract() == 0.0;
        // nominal_gpus: a total, split by capacity, or a map pool name → GPUs.
        let nominal: Vec<u64> = match q.attrs.get("nominal_gpus") {
            Some(Value::Number(t)) if whole(t.to_f64()) => split(t.to_f64() as u64, &capacities),
            Some(Value::Map(m)) => {
                let mut v = Vec::new();
                for p in &qpools {
                    let key = pool_keys(p)
                        .iter()
                        .find_map(|k| m.get(k.as_str()).and_then(Value::as_f64));
                    v.push(key.filter(|x| whole(*x)).unwrap_or(0.0) as u64);
                }
                for k in m.keys() {
                    let known = qpools.iter().any(|p| pool_keys(p).contains(k));
                    if !known {
                        fail(
                            Diagnostic::error(format!(
                                "{}: nominal_gpus names {k}, which is not one of the queue's pools",
                                q.address
                            ))
                            .at(Some(q.span))
                            .expected(format!(
                                "one of {}",
                                qpools
                                    .iter()
                                    .map(|p| p.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )),
                            &mut diags,
                        );
                    }
                }
                v
            }
            other => {
                fail(
                    Diagnostic::error(format!(
                        "{}: nominal_gpus must be a whole number of GPUs or a map of pool → GPUs, found {}",
                        q.address,
                        other.map(Value::type_name).unwrap_or("nothing")
                    ))
                    .at(Some(q.span)),
                    &mut diags,
                );
                continue;
            }
        };
        let total: u64 = nominal.iter().sum();
        if !overcommit {
            for (p, want) in qpools.iter().zip(&nominal) {
                if *want > p.capacity {
                    fail(
                        Diagnostic::error(format!(
                            "{}: {want} GPUs of {} is more than the pool holds ({} = gpus_per_node × max_nodes)",
                            q.address, p.name, p.capacity
                        ))
                        .at(Some(q.span))
                        .help("lower nominal_gpus, raise the pool's max_nodes, or set overcommit = true"),
                        &mut diags,
                    );
                }
            }
            if total > capacity {
                fail(
                    Diagnostic::error(format!(
                        "{}: nominal_gpus {total} is more than its pools hold ({capacity} GPUs = gpus_per_node × max_nodes, summed)",
                        q.address
                    ))
                    .at(Some(q.span))
                    .help("lower nominal_gpus, raise max_nodes, or set overcommit = true"),
                    &mut diags,
                );
            }
        }
        let cohort = s(q, "cohort");
        let limit = |k: &str| n(q, k).filter(|v| whole(*v)).map(|v| v as u64);
        let borrowing = limit("borrowing_limit");
        let lending = limit("lending_limit");
        if borrowing.is_some() && cohort.is_none() {
            // Kueue's own rule: "borrowingLimit must be nil when cohort is empty".
            fail(
                Diagnostic::error(format!(
                    "{}: borrowing_limit needs a cohort: a queue borrows only from the queues of its cohort",
                    q.address
                ))
                .at(Some(q.span))
                .help("set cohort = \"NAME\", or remove borrowing_limit"),
                &mut diags,
            );
            continue;
        }
        if let Some(c) = &cohort {
            if !is_dns_name(c) {
                fail(
                    Diagnostic::error(format!(
                        "{}: cohort \"{c}\" is not a valid Kubernetes name",
                        q.address
                    ))
                    .at(Some(q.span))
                    .expected("lowercase letters, digits and '-', e.g. \"ml-research\""),
                    &mut diags,
                );
                continue;
            }
            let e = cohorts.entry(c.clone()).or_insert((0, 0, q));
            e.0 += total;
            if overcommit {
                e.1 = u64::MAX;
            }
            let cp = cohort_pools.entry(c.clone()).or_default();
            cp.extend(qpools.iter().map(|p| p.name.clone()));
        }
        let b = borrowing.map(|b| split(b, &capacities));
        let l = lending.map(|l| split(l, &capacities));
        // Pools sharing the same resources form one resource group; quotas are in the
        // pool's units: GPUs, time slices (× replicas) or MIG instances (× per GPU).
        let mut groups: Vec<GroupCtx> = Vec::new();
        for (k, p) in qpools.iter().enumerate() {
            let res = p.sharing.resources();
            let covered: Vec<String> = res.iter().map(|(r, _)| r.clone()).collect();
            let flavor = FlavorCtx {
                name: p.name.clone(),
                resources: res
                    .iter()
                    .map(|(r, per)| QuotaCtx {
                        name: r.clone(),
                        nominal: nominal[k] * per,
                        borrowing: b.as_ref().map(|v| v[k] * per),
                        lending: l.as_ref().map(|v| v[k] * per),
                    })
                    .collect(),
            };
            match groups.iter_mut().find(|g| g.covered == covered) {
                Some(g) => g.flavors.push(flavor),
                None => groups.push(GroupCtx {
                    covered,
                    flavors: vec![flavor],
                }),
            }
        }
        let namespaces: Vec<String> = q
            .attrs
            .get("namespaces")
            .and_then(Value::as_list)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let preemption = q.attrs.get("preemption").and_then(Value::as_map);
        let pre = |k: &str| {
            preemption
                .and_then(|p| p.get(k))
                .and_then(Value::as_str)
                .unwrap_or("Never")
                .to_string()
        };
        let ctx = minijinja::context! {
            name => name.clone(),
            cohort => cohort,
            namespaces => namespaces.clone(),
            queueing => if s(q, "queueing").as_deref() == Some("strict_fifo") { "StrictFIFO" } else { "BestEffortFIFO" },
            within_queue => pre("within_queue"),
            reclaim_within_cohort => pre("reclaim_within_cohort"),
            priority => s(q, "priority"),
            groups => groups,
        };
        push(
            &mut objects,
            &mut diags,
            q,
            "ClusterQueue",
            name.clone(),
            None,
            ctx,
        );
        if opts.volcano {
            // capability: what the queue may use (its quota plus what it may borrow, or
            // its pools when it may borrow without a limit); guarantee: its nominal quota.
            let mut cap: BTreeMap<String, u64> = BTreeMap::new();
            let mut guarantee: BTreeMap<String, u64> = BTreeMap::new();
            for (k, p) in qpools.iter().enumerate() {
                for (r, per) in p.sharing.resources() {
                    let most = match &b {
                        Some(bv) => nominal[k] + bv[k],
                        None if cohort.is_some() => p.capacity.max(nominal[k]),
                        None => nominal[k],
                    };
                    *cap.entry(r.clone()).or_default() += most * per;
                    *guarantee.entry(r).or_default() += nominal[k] * per;
                }
            }
            let pairs = |m: BTreeMap<String, u64>| {
                m.into_iter()
                    .map(|(key, v)| Pair {
                        key,
                        value: v.to_string(),
                    })
                    .collect::<Vec<_>>()
            };
            let ctx = minijinja::context! {
                name => name.clone(),
                reclaimable => cohort.is_some(),
                capability => pairs(cap),
                guarantee => pairs(guarantee),
            };
            push(
                &mut objects,
                &mut diags,
                q,
                "Queue",
                name.clone(),
                None,
                ctx,
            );
        }
        for ns in namespaces {
            if !local.insert((ns.clone(), name.clone())) {
                continue;
            }
            let ctx = minijinja::context! { name => name.clone(), namespace => ns.clone(), cluster_queue => name.clone() };
            push(
                &mut objects,
                &mut diags,
                q,
                "LocalQueue",
                name.clone(),
                Some(ns),
                ctx,
            );
        }
    }
    for (c, (total, flag, q)) in &cohorts {
        let capacity: u64 = cohort_pools
            .get(c)
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| by_name.get(n.as_str()))
                    .map(|p| p.capacity)
                    .sum()
            })
            .unwrap_or(0);
        if *flag != u64::MAX && *total > capacity {
            fail(
                Diagnostic::error(format!(
                    "cohort \"{c}\": its queues' nominal quotas add up to {total} GPUs, more than its pools hold ({capacity})"
                ))
                .at(Some(q.span))
                .help("lower the queues' nominal_gpus, or set overcommit = true on the queues that overcommit"),
                &mut diags,
            );
        }
        let ctx = minijinja::context! { name => c.clone() };
        push(&mut objects, &mut diags, q, "Cohort", c.clone(), None, ctx);
    }
    // NVIDIA: one mig-parted configuration per MIG pool, one device plugin configuration
    // per time-sliced pool, each selected by the node label on the pool's flavor.
    #[derive(Serialize)]
    struct MigCtx {
        name: String,
        devices: Vec<Pair>,
    }
    #[derive(Serialize)]
    struct SliceCtx {
        name: String,
        replicas: u32,
    }
    let mut mig = Vec::new();
    let mut slices = Vec::new();
    for pool in &pools {
        match &pool.sharing {
            Sharing::Mig(mix) => mig.push(MigCtx {
                name: config_name(&pool.name),
                devices: mix
                    .iter()
                    .map(|(k, v)| Pair {
                        key: k.clone(),
                        value: v.to_string(),
                    })
                    .collect(),
            }),
            Sharing::TimeSlicing(r) => slices.push(SliceCtx {
                name: config_name(&pool.name),
                replicas: *r,
            }),
            // GKE runs the MPS control daemon and its device plugin: nothing to emit.
            Sharing::Mps(_) | Sharing::None => {}
        }
    }
    if let Some(first) = pools.first() {
        if !mig.is_empty() {
            let ctx = minijinja::context! { name => MIG_CONFIGMAP, namespace => GPU_OPERATOR_NAMESPACE, configs => mig };
            push_as(
                &mut objects,
                &mut diags,
                first.inst,
                "MigPartedConfig",
                "ConfigMap",
                MIG_CONFIGMAP.into(),
                Some(GPU_OPERATOR_NAMESPACE.into()),
                ctx,
            );
        }
        if !slices.is_empty() {
            let ctx = minijinja::context! { name => DEVICE_PLUGIN_CONFIGMAP, namespace => GPU_OPERATOR_NAMESPACE, configs => slices };
            push_as(
                &mut objects,
                &mut diags,
                first.inst,
                "DevicePluginConfig",
                "ConfigMap",
                DEVICE_PLUGIN_CONFIGMAP.into(),
                Some(GPU_OPERATOR_NAMESPACE.into()),
                ctx,
            );
        }
    }
    objects.sort_by(|a, b| {
        let rank = |k: &str| {
            KINDS
                .iter()
                .position(|(x, _)| *x == k)
                .unwrap_or(usize::MAX)
        };
        rank(a.kind)
            .cmp(&rank(b.kind))
            .then(a.namespace.cmp(&b.namespace))
            .then(a.name.cmp(&b.name))
    });
    diags.sort();
    (objects, diags)
}

fn check_name(
    diags: &mut Diagnostics,
    i: &ResourceInstance,
    what: &str,
    name: &str,
    seen: &mut BTreeMap<String, String>,
) -> bool {
    if !is_dns_name(name) {
        diags.push(
            Diagnostic::error(format!(
                "{}: \"{name}\" is not a valid Kubernetes object name",
                i.address
            ))
            .at(Some(i.span))
            .expected("lowercase letters, digits, '-' and '.', at most 253 characters")
            .help(format!("set name = \"…\" on the {what}")),
        );
        return false;
    }
    if let Some(first) = seen.insert(name.to_string(), i.address.to_string()) {
        diags.push(
            Diagnostic::error(format!(
                "{}: the {what} name \"{name}\" is already used by {first}",
                i.address
            ))
            .at(Some(i.span))
            .help("give each one its own name"),
        );
        return false;
    }
    true
}

#[allow(clippy::too_many_arguments)]
fn push_as(
    objects: &mut Vec<Object>,
    diags: &mut Diagnostics,
    i: &ResourceInstance,
    template: &str,
    kind: &'static str,
    name: String,
    namespace: Option<String>,
    ctx: minijinja::Value,
) {
    match render(template, ctx) {
        Ok(yaml) => objects.push(Object {
            kind,
            name,
            namespace,
            yaml,
        }),
        Err(e) => diags.push(
            Diagnostic::error(format!("{}: rendering the {template}: {e}", i.address))
                .at(Some(i.span)),
        ),
    }
}

/// Render the template named after `kind` and add the object.
#[allow(clippy::too_many_arguments)]
fn push(
    objects: &mut Vec<Object>,
    diags: &mut Diagnostics,
    i: &ResourceInstance,
    kind: &'static str,
    name: String,
    namespace: Option<String>,
    ctx: minijinja::Value,
) {
    push_as(objects, diags, i, kind, kind, name, namespace, ctx);
}

/// The key of an object in state: `Kind name` or `Kind namespace/name`.
pub fn key(o: &Object) -> String {
    match &o.namespace {
        Some(ns) => format!("{} {ns}/{}", o.kind, o.name),
        None => format!("{} {}", o.kind, o.name),
    }
}

/// Each object's key and a hash of its YAML (FNV-1a, stable across builds).
pub fn fingerprints(objects: &[Object]) -> BTreeMap<String, String> {
    objects
        .iter()
        .map(|o| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in o.yaml.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            (key(o), format!("{h:016x}"))
        })
        .collect()
}

/// What changed since `before`: (`+` added, `~` changed, `-` removed, key), by key.
pub fn changes(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<(char, String)> {
    let mut out = Vec::new();
    for (k, h) in after {
        match before.get(k) {
            None => out.push(('+', k.clone())),
            Some(old) if old != h => out.push(('~', k.clone())),
            Some(_) => {}
        }
    }
    for k in before.keys().filter(|k| !after.contains_key(*k)) {
        out.push(('-', k.clone()));
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// Every object as one multi-document YAML stream.
pub fn stream(objects: &[Object]) -> String {
    objects.iter().map(|o| format!("---\n{}", o.yaml)).collect()
}

/// One file per kind: (file name, multi-document YAML).
pub fn files(objects: &[Object]) -> Vec<(&'static str, String)> {
    KINDS
        .iter()
        .filter_map(|(kind, file)| {
            let of: Vec<Object> = objects
                .iter()
                .filter(|o| o.kind == *kind)
                .cloned()
                .collect();
            (!of.is_empty()).then(|| (*file, stream(&of)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_split_by_capacity_and_stay_within_each_pool() {
        assert_eq!(split(64, &[128, 32]), vec![51, 13]);
        assert_eq!(split(160, &[128, 32]), vec![128, 32]);
        assert_eq!(split(3, &[1, 1, 1]), vec![1, 1, 1]);
        assert_eq!(split(10, &[0, 0]), vec![10, 0]);
        assert_eq!(split(200, &[128, 32]).iter().sum::<u64>(), 200);
    }

    #[test]
    fn kubernetes_names() {
        assert!(is_dns_name("acme-prod-h100"));
        assert!(is_dns_name("a.b"));
        assert!(!is_dns_name("Research"));
        assert!(!is_dns_name("-x"));
        assert!(!is_dns_name("a_b"));
    }
}
