//! Monthly estimates of an evaluated configuration: every resource, every component, every
//! purchase tier; volume tiers split into their buckets.

use std::collections::BTreeMap;

use mlinfra_engine::config::eval::ResourceInstance;
use mlinfra_engine::Evaluated;
use mlinfra_schema::{Cloud, Value};

use crate::catalog::{Catalog, ServiceRow};

/// Hours in a month: 365 × 24 / 12.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// A purchase option of compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    OnDemand,
    Spot,
    Commit1y,
    Commit3y,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::OnDemand, Tier::Spot, Tier::Commit1y, Tier::Commit3y];

    pub fn key(self) -> &'static str {
        match self {
            Tier::OnDemand => "on_demand",
            Tier::Spot => "spot",
            Tier::Commit1y => "commit_1y",
            Tier::Commit3y => "commit_3y",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Tier::OnDemand => "on-demand",
            Tier::Spot => "spot",
            Tier::Commit1y => "1-year",
            Tier::Commit3y => "3-year",
        }
    }
}

/// The price of a compute line under one purchase tier.
#[derive(Clone, Debug, PartialEq)]
pub struct TierPrice {
    /// USD per hour for the whole line (all nodes); `None` when the tier is not offered.
    pub hourly: Option<f64>,
    pub monthly: Option<f64>,
    /// Derived from a documented discount ratio rather than a catalog price.
    pub estimated: bool,
    /// Which zone (spot), which ratio (commitments), or why the tier is absent.
    pub note: String,
}

/// A volume-tier bucket: the part of the quantity priced at one rate.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    pub label: String,
    pub quantity: f64,
    pub usd_per_unit: f64,
    pub monthly: f64,
}

/// One priced component of a resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub component: String,
    pub unit: String,
    /// Units per month (node-hours, GB-months, requests).
    pub quantity: f64,
    /// Purchase tiers (compute lines only), keyed by tier.
    pub tiers: BTreeMap<Tier, TierPrice>,
    /// The tier the primary figure uses.
    pub primary: Tier,
    /// Volume-tier buckets (storage, requests).
    pub buckets: Vec<Bucket>,
    /// The primary monthly figure.
    pub monthly: f64,
    pub hourly: Option<f64>,
    pub source: String,
}

impl Line {
    /// Monthly cost under `tier`: the tier's price for compute lines (on-demand when the
    /// tier is not offered), the one price otherwise.
    pub fn monthly_at(&self, tier: Tier) -> f64 {
        if self.tiers.is_empty() {
            return self.monthly;
        }
        self.tiers
            .get(&tier)
            .and_then(|t| t.monthly)
            .or_else(|| self.tiers.get(&Tier::OnDemand).and_then(|t| t.monthly))
            .unwrap_or(0.0)
    }
}

/// What could not be priced, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Unpriced {
    pub component: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResourceCost {
    pub address: String,
    pub kind: String,
    pub cloud: Option<Cloud>,
    pub region: Option<String>,
    pub lines: Vec<Line>,
    pub unpriced: Vec<Unpriced>,
    /// Usage defaults applied, and other things the reader should know.
    pub notes: Vec<String>,
}

impl ResourceCost {
    pub fn monthly(&self) -> f64 {
        self.lines.iter().map(|l| l.monthly).sum()
    }

    pub fn monthly_at(&self, tier: Tier) -> f64 {
        self.lines.iter().map(|l| l.monthly_at(tier)).sum()
    }

    pub fn hourly(&self) -> f64 {
        self.monthly() / HOURS_PER_MONTH
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estimate {
    pub resources: Vec<ResourceCost>,
}

impl Estimate {
    pub fn monthly(&self) -> f64 {
        self.resources.iter().map(ResourceCost::monthly).sum()
    }

    pub fn monthly_at(&self, tier: Tier) -> f64 {
        self.resources.iter().map(|r| r.monthly_at(tier)).sum()
    }

    pub fn unpriced_count(&self) -> usize {
        self.resources.iter().map(|r| r.unpriced.len()).sum()
    }

    pub fn resource(&self, address: &str) -> Option<&ResourceCost> {
        self.resources.iter().find(|r| r.address == address)
    }
}

/// Usage figures by resource address (`usage` blocks, or a usage file, which wins).
pub type UsageByAddress = BTreeMap<String, BTreeMap<String, f64>>;

/// The default region of each cloud, used when neither the resource nor its provider says.
pub fn default_region(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Aws => "us-east-1",
        Cloud::Azure => "eastus",
        Cloud::Gcp => "us-central1",
    }
}

/// One resource to price: its attributes (from the configuration, the state or a plan),
/// and where it runs.
#[derive(Clone, Debug)]
pub struct Item<'a> {
    pub address: String,
    pub kind: &'a str,
    pub cloud: Option<Cloud>,
    pub attrs: &'a BTreeMap<String, Value>,
    /// The region of its provider configuration, if it says.
    pub provider_region: Option<String>,
    pub usage: BTreeMap<String, f64>,
}

/// What pricing needs beyond one item: the regions of the clusters by name (a pool runs
/// where its cluster runs).
#[derive(Clone, Debug, Default)]
pub struct Context {
    pub cluster_regions: BTreeMap<String, String>,
}

/// The items of an evaluated configuration, with usage from `usage` blocks and `usage`
/// (a usage file, which wins), and the context to price them.
pub fn items<'a>(config: &'a Evaluated, usage: &UsageByAddress) -> (Vec<Item<'a>>, Context) {
    let mut ctx = Context::default();
    let mut out = Vec::new();
    for inst in &config.resources {
        if inst.kind.class != mlinfra_schema::KindClass::Cloud {
            continue;
        }
        let provider_region = provider_region(config, inst);
        if inst.kind.name == "cluster" {
            if let Some(name) = inst.attrs.get("name").and_then(Value::as_str) {
                if let Some(r) = own_region(&inst.attrs).or_else(|| provider_region.clone()) {
                    ctx.cluster_regions.insert(name.to_string(), r);
                }
            }
        }
        out.push(Item {
            address: inst.address.to_string(),
            kind: inst.kind.name,
            cloud: inst.cloud,
            attrs: &inst.attrs,
            provider_region,
            usage: usage_for(inst, usage),
        });
    }
    out.sort_by(|a, b| a.address.cmp(&b.address));
    (out, ctx)
}

/// Estimate every resource of `config`.
pub fn estimate(config: &Evaluated, usage: &UsageByAddress, catalog: &Catalog) -> Estimate {
    let (items, ctx) = items(config, usage);
    Estimate {
        resources: items.iter().map(|i| price(i, &ctx, catalog)).collect(),
    }
}

/// Split `quantity` into the tier buckets of `rows` (sorted by `from`) and price each.
pub fn bucketize(quantity: f64, rows: &[&ServiceRow]) -> Vec<Bucket> {
    let mut out = Vec::new();
    for r in rows {
        let hi = r.to.unwrap_or(f64::INFINITY);
        let part = (quantity.min(hi) - r.from).max(0.0);
        if part <= 0.0 && !out.is_empty() {
            continue;
        }
        let label = match r.to {
            Some(to) if r.from == 0.0 => format!("first {}", amount(to, &r.unit)),
            Some(to) => format!("next {}", amount(to - r.from, &r.unit)),
            None if r.from == 0.0 => "all".to_string(),
            None => format!("over {}", amount(r.from, &r.unit)),
        };
        out.push(Bucket {
            label,
            quantity: part,
            usd_per_unit: r.usd_per_unit,
            monthly: part * r.usd_per_unit,
        });
    }
    out
}

/// `51200` GB → `50 TB` (1 TB = 1,024 GB).
fn amount(q: f64, unit: &str) -> String {
    if unit.starts_with("GB") && q >= 1024.0 && (q / 1024.0).fract() == 0.0 {
        format!("{} TB", q / 1024.0)
    } else if unit.starts_with("GB") {
        format!("{} GB", mlinfra_schema::format_f64(q))
    } else {
        mlinfra_schema::format_f64(q)
    }
}

/// What a compute line prices: `count` machines running `hours` a month.
struct Machines<'a> {
    cloud: Cloud,
    region: &'a str,
    instance_type: &'a str,
    what: &'a str,
    count: f64,
    hours: f64,
    /// `capacity = "spot"`: spot is the primary figure.
    spot_primary: bool,
    /// Whether the service sells spot capacity at all.
    spot_offered: bool,
}

struct Ctx<'a> {
    item: &'a Item<'a>,
    usage: BTreeMap<String, f64>,
    catalog: &'a Catalog,
    cost: ResourceCost,
}

impl Ctx<'_> {
    fn attr(&self, name: &str) -> Option<&Value> {
        self.item.attrs.get(name)
    }

    fn attr_str(&self, name: &str) -> Option<&str> {
        self.attr(name).and_then(Value::as_str)
    }

    fn attr_num(&self, name: &str) -> Option<f64> {
        self.attr(name).and_then(Value::as_f64)
    }

    /// A usage figure, or its default with a note saying so.
    fn usage_or(&mut self, key: &str, default: f64, why: &str) -> f64 {
        match self.usage.get(key) {
            Some(v) => *v,
            None => {
                self.cost.notes.push(format!(
                    "{key} = {} ({why}; set usage {{ {key} = … }} or --usage)",
                    mlinfra_schema::format_f64(default)
                ));
                default
            }
        }
    }

    fn unpriced(&mut self, component: impl Into<String>, reason: impl Into<String>) {
        self.cost.unpriced.push(Unpriced {
            component: component.into(),
            reason: reason.into(),
        });
    }

    /// Hours a month the resource runs: usage, else always on (730, documented).
    fn hours(&self) -> f64 {
        self.usage
            .get("hours_per_month")
            .copied()
            .unwrap_or(HOURS_PER_MONTH)
    }

    /// Price `count` machines of `instance_type` running `hours` a month.
    fn compute_line(&mut self, m: Machines<'_>) {
        let Machines {
            cloud,
            region,
            instance_type,
            what,
            count,
            hours,
            spot_primary,
            spot_offered,
        } = m;
        let rows = self.catalog.machine_rows(cloud, instance_type, region);
        let component = format!("{what} ({instance_type})");
        if rows.is_empty() {
            let elsewhere = self.catalog.machine_regions(cloud, instance_type);
            let reason = if elsewhere.is_empty() {
                format!("{instance_type} has no price in the catalog; add it with --catalog FILE (SkyPilot vms.csv format)")
            } else {
                format!(
                    "{instance_type} has no price in {region} in the catalog (priced in {}); add it with --catalog FILE",
                    elsewhere.join(", ")
                )
            };
            self.unpriced(component, reason);
            return;
        }
        let od = rows
            .iter()
            .map(|r| r.on_demand)
            .fold(f64::INFINITY, f64::min);
        let source = rows[0].source.clone();
        let as_of = rows[0].as_of.clone();
        let spot = rows
            .iter()
            .filter_map(|r| r.spot.map(|s| (s, r.zone.as_str())))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let per_month = |hourly: f64| hourly * count * hours;
        let mut tiers = BTreeMap::new();
        tiers.insert(
            Tier::OnDemand,
            TierPrice {
                hourly: Some(od * count),
                monthly: Some(per_month(od)),
                estimated: false,
                note: String::new(),
            },
        );
        tiers.insert(
            Tier::Spot,
            match spot {
                _ if !spot_offered => TierPrice {
                    hourly: None,
                    monthly: None,
                    estimated: false,
                    note: format!("{what} has no spot option"),
                },
                Some((s, zone)) => TierPrice {
                    hourly: Some(s * count),
                    monthly: Some(per_month(s)),
                    estimated: false,
                    note: if zone.is_empty() {
                        format!("cheapest spot price in {region}")
                    } else {
                        format!("cheapest zone of {region}: {zone}")
                    },
                },
                None => TierPrice {
                    hourly: None,
                    monthly: None,
                    estimated: false,
                    note: format!("no spot price for {instance_type} in {region} in the catalog"),
                },
            },
        );
        for (tier, term) in [(Tier::Commit1y, "1y"), (Tier::Commit3y, "3y")] {
            let price = match self.catalog.commitment(cloud, term) {
                Some(c) => {
                    let h = od * (1.0 - c.discount);
                    TierPrice {
                        hourly: Some(h * count),
                        monthly: Some(per_month(h)),
                        estimated: true,
                        note: format!(
                            "estimated: on-demand less {:.0}% ({})",
                            c.discount * 100.0,
                            c.source
                        ),
                    }
                }
                None => TierPrice {
                    hourly: None,
                    monthly: None,
                    estimated: true,
                    note: format!(
                        "no documented {term} commitment discount for {cloud} in the catalog"
                    ),
                },
            };
            tiers.insert(tier, price);
        }
        let primary = if spot_primary && tiers[&Tier::Spot].monthly.is_some() {
            Tier::Spot
        } else {
            if spot_primary {
                self.cost.notes.push(format!(
                    "capacity = \"spot\", but the catalog has no spot price for {instance_type} in {region}: the primary figure is on-demand"
                ));
            }
            Tier::OnDemand
        };
        let monthly = tiers[&primary].monthly.unwrap_or(0.0);
        let hourly = tiers[&primary].hourly;
        self.cost.lines.push(Line {
            component,
            unit: "node-hour".into(),
            quantity: count * hours,
            tiers,
            primary,
            buckets: Vec::new(),
            monthly,
            hourly,
            source: format!("{source}, {as_of}"),
        });
    }

    /// Price `quantity` units of a service component through its volume tiers.
    fn service_line(
        &mut self,
        cloud: Cloud,
        region: &str,
        component: &str,
        quantity: f64,
        label: &str,
    ) {
        let kind = self.item.kind;
        let rows = self.catalog.service(cloud, region, kind, component);
        if rows.is_empty() {
            let elsewhere = self.catalog.service_regions(cloud, kind, component);
            let reason = if elsewhere.is_empty() {
                format!("{component} has no price in the catalog")
            } else {
                format!(
                    "{component} has no price for {region} in the catalog (priced in {})",
                    elsewhere.join(", ")
                )
            };
            self.unpriced(label, reason);
            return;
        }
        let buckets = bucketize(quantity, &rows);
        let monthly = buckets.iter().map(|b| b.monthly).sum();
        let unit = rows[0].unit.clone();
        let source = format!("{}, {}", rows[0].source, rows[0].as_of);
        self.cost.lines.push(Line {
            component: label.to_string(),
            unit,
            quantity,
            tiers: BTreeMap::new(),
            primary: Tier::OnDemand,
            buckets,
            monthly,
            hourly: None,
            source,
        });
    }
}

fn own_region(attrs: &BTreeMap<String, Value>) -> Option<String> {
    ["region", "location"]
        .iter()
        .find_map(|k| attrs.get(*k).and_then(Value::as_str).map(str::to_string))
}

/// Where a resource runs: its own region or location, its cluster's (a pool), its
/// provider's, or the cloud's default (said in the notes).
fn region_of(item: &Item<'_>, ctx: &Context, cloud: Cloud, notes: &mut Vec<String>) -> String {
    if let Some(r) = own_region(item.attrs) {
        return r;
    }
    if item.kind == "gpu_pool" {
        if let Some(r) = item
            .attrs
            .get("cluster")
            .and_then(Value::as_str)
            .and_then(|c| ctx.cluster_regions.get(c))
        {
            return r.clone();
        }
    }
    if let Some(r) = &item.provider_region {
        return r.clone();
    }
    let r = default_region(cloud);
    notes.push(format!(
        "region {r} (no region set on the resource or its provider)"
    ));
    r.to_string()
}

fn provider_region(config: &Evaluated, inst: &ResourceInstance) -> Option<String> {
    let key = inst.provider.as_deref()?;
    let p = config.providers.iter().find(|p| p.key == key)?;
    own_region(&p.attrs)
}

fn usage_for(inst: &ResourceInstance, usage: &UsageByAddress) -> BTreeMap<String, f64> {
    let mut u: BTreeMap<String, f64> = inst
        .usage
        .iter()
        .filter_map(|(k, v)| v.as_f64().map(|n| (k.clone(), n)))
        .collect();
    if let Some(file) = usage.get(&inst.address.to_string()) {
        u.extend(file.iter().map(|(k, v)| (k.clone(), *v)));
    }
    u
}

/// Price one resource.
pub fn price(item: &Item<'_>, ctx: &Context, catalog: &Catalog) -> ResourceCost {
    let mut cx = Ctx {
        item,
        usage: item.usage.clone(),
        catalog,
        cost: ResourceCost {
            address: item.address.clone(),
            kind: item.kind.to_string(),
            cloud: item.cloud,
            region: None,
            lines: Vec::new(),
            unpriced: Vec::new(),
            notes: Vec::new(),
        },
    };
    let Some(cloud) = item.cloud else {
        cx.unpriced(item.kind, "the resource has no cloud");
        return cx.cost;
    };
    let region = region_of(item, ctx, cloud, &mut cx.cost.notes);
    cx.cost.region = Some(region.clone());
    match item.kind {
        "gpu_pool" => price_gpu_pool(&mut cx, cloud, &region),
        "cluster" => {
            let hours = cx.hours();
            let component = match cloud {
                Cloud::Aws => "EKS control plane (standard support)",
                Cloud::Gcp => "GKE cluster management fee (Standard)",
                Cloud::Azure => "AKS cluster management (Free tier)",
            };
            cx.service_line(cloud, &region, component, hours, component);
        }
        "bucket" => price_bucket(&mut cx, cloud, &region),
        "container_registry" => price_registry(&mut cx, cloud, &region),
        "endpoint" => price_endpoint(&mut cx, cloud, &region),
        "feature_store" => price_feature_store(&mut cx, cloud),
        "model_registry" => {
            let what = match cloud {
                Cloud::Aws => "SageMaker model package group",
                Cloud::Azure => "Azure ML registry",
                Cloud::Gcp => "Vertex AI Model Registry",
            };
            cx.unpriced(
                what,
                "the catalog has no sourced price for the registry itself; the model artifacts are billed as the bucket that holds them",
            );
        }
        other => cx.unpriced(other, format!("{other} is not a priced kind")),
    }
    cx.cost
}

fn price_gpu_pool(cx: &mut Ctx<'_>, cloud: Cloud, region: &str) {
    let Some(instance_type) = cx.attr_str("instance_type").map(str::to_string) else {
        cx.unpriced(
            "GPU nodes",
            "the pool's instance type is not known at plan time",
        );
        return;
    };
    let min = cx.attr_num("min_nodes").unwrap_or(0.0);
    let nodes = match cx.usage.get("average_nodes") {
        Some(n) => *n,
        None if min > 0.0 => {
            cx.cost.notes.push(format!(
                "average_nodes = {} (min_nodes; set usage {{ average_nodes = … }} or --usage)",
                mlinfra_schema::format_f64(min)
            ));
            min
        }
        None => {
            cx.cost.notes.push(
                "average_nodes = 1 (min_nodes is 0, so one node is assumed; set usage { average_nodes = … } or --usage)"
                    .into(),
            );
            1.0
        }
    };
    let hours = cx.hours();
    let spot = cx.attr_str("capacity") == Some("spot");
    if cx.attr_str("capacity") == Some("reserved") {
        cx.cost.notes.push(
            "capacity = \"reserved\": the primary figure is on-demand; the 1- and 3-year columns show commitment prices"
                .into(),
        );
    }
    cx.compute_line(Machines {
        cloud,
        region,
        instance_type: &instance_type,
        what: "GPU nodes",
        count: nodes,
        hours,
        spot_primary: spot,
        spot_offered: true,
    });
}

fn price_bucket(cx: &mut Ctx<'_>, cloud: Cloud, region: &str) {
    let class = cx
        .attr_str("storage_class")
        .unwrap_or("standard")
        .to_string();
    let storage = cx.usage_or("storage_gb", 0.0, "no usage given");
    let (component, reads, writes) = match cloud {
        Cloud::Aws => (
            "S3 Standard storage",
            Some("S3 Standard GET/SELECT requests"),
            Some("S3 Standard PUT/COPY/POST/LIST requests"),
        ),
        Cloud::Gcp => (
            "Cloud Storage Standard storage",
            Some("Cloud Storage Class B operations"),
            Some("Cloud Storage Class A operations"),
        ),
        Cloud::Azure => (
            "Blob Storage Hot LRS storage",
            Some("Blob Storage Hot read operations"),
            Some("Blob Storage Hot write operations"),
        ),
    };
    if class != "standard" {
        cx.unpriced(
            format!("{class} storage"),
            format!("only the standard storage class is in the catalog, not \"{class}\""),
        );
    } else {
        cx.service_line(cloud, region, component, storage, component);
    }
    let read_requests = cx.usage_or("requests_per_month", 0.0, "no usage given");
    let write_requests = cx
        .usage
        .get("write_requests_per_month")
        .copied()
        .unwrap_or(0.0);
    for (n, component, what) in [
        (read_requests, reads, "read requests"),
        (write_requests, writes, "write requests"),
    ] {
        if n <= 0.0 {
            continue;
        }
        match component {
            Some(c) => {
                let per = cx
                    .catalog
                    .service(cloud, region, cx.item.kind, c)
                    .first()
                    .map(|r| {
                        r.unit
                            .split_whitespace()
                            .next()
                            .unwrap_or("1")
                            .parse::<f64>()
                            .unwrap_or(1.0)
                    })
                    .unwrap_or(1.0);
                cx.service_line(cloud, region, c, n / per, c);
            }
            None => cx.unpriced(
                what.to_string(),
                format!("{cloud} object storage request prices are not in the catalog"),
            ),
        }
    }
}

fn price_registry(cx: &mut Ctx<'_>, cloud: Cloud, region: &str) {
    match cloud {
        Cloud::Azure => {
            let sku = cx.attr_str("sku").unwrap_or("Standard").to_string();
            let component = match sku.as_str() {
                "Basic" => "ACR Basic (10 GB included)",
                "Premium" => "ACR Premium (500 GB included)",
                _ => "ACR Standard (100 GB included)",
            };
            let hours = cx.hours();
            cx.service_line(cloud, region, component, hours / 24.0, component);
        }
        Cloud::Aws | Cloud::Gcp => {
            let storage = cx.usage_or("storage_gb", 0.0, "no usage given");
            let component = if cloud == Cloud::Aws {
                "ECR private storage"
            } else {
                "Artifact Registry storage"
            };
            cx.service_line(cloud, region, component, storage, component);
        }
    }
}

fn price_endpoint(cx: &mut Ctx<'_>, cloud: Cloud, region: &str) {
    let instance = cx
        .attr("instance")
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default();
    let Some(instance_type) = instance
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        cx.unpriced(
            "serving instances",
            "the instance type is not known at plan time",
        );
        return;
    };
    let autoscaling_min = cx
        .attr("autoscaling")
        .and_then(Value::as_map)
        .and_then(|a| a.get("min"))
        .and_then(Value::as_f64);
    let count = instance.get("count").and_then(Value::as_f64);
    let instances = match cx.usage.get("average_instances") {
        Some(n) => *n,
        None => {
            let (n, why) = match (autoscaling_min, count) {
                (Some(m), _) => (m, "autoscaling.min"),
                (None, Some(c)) => (c, "instance.count"),
                (None, None) => (1.0, "one instance"),
            };
            cx.cost.notes.push(format!(
                "average_instances = {} ({why}; set usage {{ average_instances = … }} or --usage)",
                mlinfra_schema::format_f64(n)
            ));
            n
        }
    };
    let hours = cx.hours();
    let service = match cloud {
        Cloud::Aws => "SageMaker real-time inference",
        Cloud::Azure => "Azure ML managed online endpoint",
        Cloud::Gcp => "Vertex AI online prediction",
    };
    // SageMaker hosting prices per instance type (services.csv), unless --catalog has one.
    let component = format!("{service} ({instance_type})");
    let hosted = cx.catalog.service(cloud, region, "endpoint", &component);
    if cloud == Cloud::Aws
        && !hosted.is_empty()
        && cx
            .catalog
            .machine_rows(cloud, &instance_type, region)
            .is_empty()
    {
        let row = hosted[0];
        let hourly = row.usd_per_unit * instances;
        let monthly = hourly * hours;
        let mut tiers = BTreeMap::new();
        tiers.insert(
            Tier::OnDemand,
            TierPrice {
                hourly: Some(hourly),
                monthly: Some(monthly),
                estimated: false,
                note: String::new(),
            },
        );
        tiers.insert(
            Tier::Spot,
            TierPrice {
                hourly: None,
                monthly: None,
                estimated: false,
                note: format!("{service} has no spot option"),
            },
        );
        for t in [Tier::Commit1y, Tier::Commit3y] {
            tiers.insert(
                t,
                TierPrice {
                    hourly: None,
                    monthly: None,
                    estimated: true,
                    note: "no documented SageMaker commitment discount in the catalog".into(),
                },
            );
        }
        cx.cost.lines.push(Line {
            component,
            unit: "instance-hour".into(),
            quantity: instances * hours,
            tiers,
            primary: Tier::OnDemand,
            buckets: Vec::new(),
            monthly,
            hourly: Some(hourly),
            source: format!("{}, {}", row.source, row.as_of),
        });
        return;
    }
    if cx.catalog.machine_regions(cloud, &instance_type).is_empty() {
        cx.unpriced(
            format!("{service} ({instance_type})"),
            format!("{instance_type} has no {service} price in the catalog; add it with --catalog FILE (SkyPilot vms.csv format)"),
        );
        return;
    }
    if cloud == Cloud::Azure {
        cx.cost.notes.push(
            "priced as the VM size's list price: assumes Azure ML adds no charge of its own (not verified against Azure's price list)"
                .into(),
        );
    }
    cx.compute_line(Machines {
        cloud,
        region,
        instance_type: &instance_type,
        what: service,
        count: instances,
        hours,
        spot_primary: false,
        spot_offered: false,
    });
}

fn price_feature_store(cx: &mut Ctx<'_>, cloud: Cloud) {
    let what = match cloud {
        Cloud::Aws => "SageMaker Feature Store online reads, writes and storage",
        Cloud::Azure => "Azure ML managed feature store materialization and online store",
        Cloud::Gcp => "Vertex AI Feature Store online serving nodes and storage",
    };
    cx.unpriced(
        what,
        "the catalog has no sourced price for it yet; the offline store is billed as the bucket that holds it",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(c: &Catalog) -> Vec<&ServiceRow> {
        c.service(Cloud::Aws, "us-east-1", "bucket", "S3 Standard storage")
    }

    #[test]
    fn s3_tiers_split_exactly_at_50_and_500_tb() {
        let c = Catalog::builtin().unwrap();
        let tb = 1024.0;
        let b = bucketize(50.0 * tb, &s3(&c));
        assert_eq!(b[0].quantity, 51200.0);
        assert_eq!(b[0].label, "first 50 TB");
        assert_eq!(b.len(), 1, "nothing reaches the next bucket: {b:?}");
        let total: f64 = b.iter().map(|x| x.monthly).sum();
        assert!((total - 51200.0 * 0.023).abs() < 1e-6);

        let b = bucketize(500.0 * tb, &s3(&c));
        assert_eq!(b[1].quantity, 450.0 * tb);
        assert_eq!(b[1].label, "next 450 TB");
        assert_eq!(
            b.len(),
            2,
            "exactly 500 TB stops at the second bucket: {b:?}"
        );
        let total: f64 = b.iter().map(|x| x.monthly).sum();
        assert!((total - (51200.0 * 0.023 + 460800.0 * 0.022)).abs() < 1e-6);

        let b = bucketize(500.0 * tb + 1.0, &s3(&c));
        assert_eq!(b[2].quantity, 1.0);
        assert_eq!(b[2].label, "over 500 TB");
        assert!((b[2].monthly - 0.021).abs() < 1e-9);
    }

    #[test]
    fn the_shipped_catalog_parses_and_every_row_has_a_source() {
        let c = Catalog::builtin().unwrap();
        assert!(c.compute.len() > 500, "{}", c.compute.len());
        assert!(c
            .compute
            .iter()
            .all(|r| !r.source.is_empty() && !r.as_of.is_empty()));
        assert!(c.services.iter().all(|r| r.source.starts_with("https://")));
        assert!(c
            .commitments
            .iter()
            .all(|r| r.source.starts_with("https://")));
        for cloud in [Cloud::Aws, Cloud::Azure, Cloud::Gcp] {
            assert!(c.compute.iter().any(|r| r.cloud == cloud), "{cloud}");
        }
    }

    #[test]
    fn the_gpu_catalog_machines_have_prices_in_the_default_regions() {
        let c = Catalog::builtin().unwrap();
        for m in mlinfra_schema::gpu::MACHINES {
            let rows = c.machine_rows(m.cloud, m.instance_type, default_region(m.cloud));
            let anywhere = c.machine_regions(m.cloud, m.instance_type);
            if rows.is_empty() {
                // Documented gaps of the source extract (see cost/data/README.md).
                assert!(
                    [
                        "p3.2xlarge",
                        "p3.8xlarge",
                        "p5e.48xlarge",
                        "a4-highgpu-8g",
                        "a3-ultragpu-8g"
                    ]
                    .contains(&m.instance_type)
                        || !anywhere.is_empty(),
                    "{} has no price anywhere",
                    m.instance_type
                );
            }
        }
    }

    #[test]
    fn spot_is_the_cheapest_zone_and_commitments_are_estimated() {
        let c = Catalog::builtin().unwrap();
        let rows = c.machine_rows(Cloud::Aws, "p5.48xlarge", "us-east-1");
        let cheapest = rows
            .iter()
            .filter_map(|r| r.spot)
            .fold(f64::INFINITY, f64::min);
        assert!(cheapest < rows[0].on_demand);
        assert!(c.commitment(Cloud::Aws, "3y").is_some());
        assert!(
            c.commitment(Cloud::Gcp, "1y").is_none(),
            "no documented ratio: n/a, not guessed"
        );
    }

    #[test]
    fn a_skypilot_catalog_overrides_the_shipped_prices() {
        let mut c = Catalog::builtin().unwrap();
        let text = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone\n\
                    p5.48xlarge,H100,8,192,2048,\"{'Gpus': [{'Name': 'H100'}]}\",50.0,20.0,us-east-1,use1-az9\n\
                    ml.g5.xlarge,A10G,1,4,16,,1.41,,us-east-1,\n";
        assert_eq!(c.override_with("vms.csv", text).unwrap(), 2);
        let rows = c.machine_rows(Cloud::Aws, "p5.48xlarge", "us-east-1");
        assert!(rows
            .iter()
            .any(|r| r.on_demand == 50.0 && r.source == "vms.csv:2"));
        assert_eq!(
            c.machine_rows(Cloud::Aws, "ml.g5.xlarge", "us-east-1")
                .len(),
            1
        );
        let bad = "InstanceType,Price\nx,abc\n";
        let e = c.override_with("bad.csv", bad).unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        let bad = "InstanceType,Price,Region\nx,abc,us-east-1\n";
        let e = c.override_with("bad.csv", bad).unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (2, "bad.csv"));
    }

    #[test]
    fn a_free_allowance_is_its_own_bucket() {
        let c = Catalog::builtin().unwrap();
        let rows = c.service(
            Cloud::Gcp,
            "us-central1",
            "container_registry",
            "Artifact Registry storage",
        );
        let b = bucketize(10.5, &rows);
        assert_eq!(b[0].quantity, 0.5);
        assert_eq!(b[0].monthly, 0.0);
        assert!((b[1].monthly - 1.0).abs() < 1e-9);
    }
}
