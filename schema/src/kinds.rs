//! The resource kinds of the manifest language and their attributes.

use std::fmt;
use std::sync::OnceLock;

use crate::types::AttrType;
use crate::value::Value;

/// A cloud that resources are created in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cloud {
    Aws,
    Azure,
    Gcp,
}

impl Cloud {
    pub const ALL: [Cloud; 3] = [Cloud::Aws, Cloud::Azure, Cloud::Gcp];

    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Azure => "azure",
            Cloud::Gcp => "gcp",
        }
    }

    pub fn parse(s: &str) -> Option<Cloud> {
        Cloud::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a kind becomes: a cloud object, a Kubernetes policy object, or a plan gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindClass {
    /// Created through a cloud API; planned, applied and kept in state.
    Cloud,
    /// Emitted as Kubernetes scheduling policy (`mlinfra policy emit`); no cloud call.
    Policy,
    /// Checked against cost estimates; never created anywhere.
    Gate,
}

/// One attribute of a kind or nested block.
#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: AttrType,
    /// Required on every cloud in `clouds` (all clouds when `clouds` is empty).
    pub required: bool,
    pub default: Option<Value>,
    /// Set by the cloud after apply; optional to set in the manifest only if not `read_only`.
    pub computed: bool,
    /// Computed and never set in a manifest (`id`, `url`).
    pub read_only: bool,
    /// Changing it replaces the resource.
    pub force_new: bool,
    /// A map where adding keys is in place; removing or changing one replaces the resource.
    pub append_only: bool,
    pub sensitive: bool,
    /// Sent to the cloud at create and update, never written to the plan or the state:
    /// they keep only its shape (null, or a map's keys with null values). The value may be
    /// ephemeral; a change of it alone is no change, so a `*_wo_version` attribute beside it
    /// says when to send it again.
    pub write_only: bool,
    pub allowed: &'static [&'static str],
    /// The clouds the attribute applies to; empty means all.
    pub clouds: &'static [Cloud],
    pub description: &'static str,
}

impl Attribute {
    fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Attribute {
            name,
            ty,
            required: false,
            default: None,
            computed: false,
            read_only: false,
            force_new: false,
            append_only: false,
            sensitive: false,
            write_only: false,
            allowed: &[],
            clouds: &[],
            description,
        }
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn default(mut self, v: impl Into<Value>) -> Self {
        self.default = Some(v.into());
        self
    }
    fn default_value(mut self, v: Value) -> Self {
        self.default = Some(v);
        self
    }
    fn computed(mut self) -> Self {
        self.computed = true;
        self
    }
    fn read_only(mut self) -> Self {
        self.computed = true;
        self.read_only = true;
        self
    }
    fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }
    fn append_only(mut self) -> Self {
        self.append_only = true;
        self
    }
    fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }
    fn allowed(mut self, values: &'static [&'static str]) -> Self {
        self.allowed = values;
        self
    }
    fn on(mut self, clouds: &'static [Cloud]) -> Self {
        self.clouds = clouds;
        self
    }

    /// Whether the attribute exists on `cloud`.
    pub fn applies_to(&self, cloud: Option<Cloud>) -> bool {
        match cloud {
            Some(c) => self.clouds.is_empty() || self.clouds.contains(&c),
            None => true,
        }
    }
}

/// A nested block (`sharing { … }`, `feature_group "name" { … }`).
#[derive(Clone, Debug)]
pub struct BlockSchema {
    pub name: &'static str,
    /// Takes one label and may repeat; evaluated as a map from label to attributes.
    pub labeled: bool,
    pub required: bool,
    pub force_new: bool,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<BlockSchema>,
    pub clouds: &'static [Cloud],
    pub description: &'static str,
}

impl BlockSchema {
    fn new(name: &'static str, description: &'static str, attributes: Vec<Attribute>) -> Self {
        BlockSchema {
            name,
            labeled: false,
            required: false,
            force_new: false,
            attributes,
            blocks: Vec::new(),
            clouds: &[],
            description,
        }
    }
    fn labeled(mut self) -> Self {
        self.labeled = true;
        self
    }
    fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn block(&self, name: &str) -> Option<&BlockSchema> {
        self.blocks.iter().find(|b| b.name == name)
    }
}

/// A resource kind: its class, what it maps to on each cloud, and its body.
#[derive(Clone, Debug)]
pub struct KindSchema {
    pub name: &'static str,
    pub class: KindClass,
    pub description: &'static str,
    /// The cloud object the kind maps to, per cloud.
    pub maps_to: Vec<(Cloud, &'static str)>,
    pub body: BlockSchema,
}

impl KindSchema {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.body.attribute(name)
    }

    /// Whether resources of this kind name a cloud.
    pub fn has_cloud(&self) -> bool {
        self.class == KindClass::Cloud
    }
}

/// The meta-arguments every resource block accepts, handled by the engine.
pub const META_ARGUMENTS: &[&str] = &["count", "for_each", "depends_on", "provider"];
/// The meta-blocks every resource block accepts, handled by the engine.
pub const META_BLOCKS: &[&str] = &["lifecycle", "timeouts", "usage"];

/// GPU names a pool's `accelerator` accepts.
pub const ACCELERATORS: &[&str] = &[
    "B200",
    "H200",
    "H100",
    "A100-80GB",
    "A100",
    "L40S",
    "L4",
    "A10G",
    "A10",
    "T4",
    "V100",
];

const AWS: &[Cloud] = &[Cloud::Aws];
const AZURE: &[Cloud] = &[Cloud::Azure];
const GCP: &[Cloud] = &[Cloud::Gcp];

fn string_map() -> AttrType {
    AttrType::Map(Box::new(AttrType::String))
}

fn common(kind_cloud: bool) -> Vec<Attribute> {
    let mut attrs = vec![Attribute::new(
        "name",
        AttrType::String,
        "Name of the object in the cloud; defaults to the block label.",
    )
    .force_new()];
    if kind_cloud {
        attrs.push(
            Attribute::new(
                "cloud",
                AttrType::String,
                "Cloud to create the resource in; or set `provider` to an aliased provider.",
            )
            .allowed(&["aws", "azure", "gcp"])
            .force_new(),
        );
        attrs.push(
            Attribute::new(
                "id",
                AttrType::String,
                "Cloud identifier, known after apply.",
            )
            .read_only(),
        );
    }
    attrs
}

fn tags() -> Attribute {
    Attribute::new(
        "tags",
        string_map(),
        "Tags (AWS), tags (Azure) or labels (GCP) on the object.",
    )
    .default_value(Value::Map(Default::default()))
}

fn cluster() -> KindSchema {
    let mut attrs = common(true);
    attrs.extend([
        Attribute::new(
            "region",
            AttrType::String,
            "Region or location; defaults to the provider's.",
        )
        .computed()
        .force_new(),
        Attribute::new(
            "kubernetes_version",
            AttrType::String,
            "Kubernetes minor version.",
        )
        .default("1.31"),
        Attribute::new(
            "subnet_ids",
            AttrType::List(Box::new(AttrType::String)),
            "VPC subnets of the control plane.",
        )
        .required()
        .force_new()
        .on(AWS),
        Attribute::new(
            "role_arn",
            AttrType::String,
            "IAM role the EKS control plane assumes.",
        )
        .required()
        .force_new()
        .on(AWS),
        Attribute::new(
            "dns_prefix",
            AttrType::String,
            "DNS prefix of the AKS API server.",
        )
        .computed()
        .force_new()
        .on(AZURE),
        Attribute::new(
            "network",
            AttrType::String,
            "VPC network of the GKE cluster.",
        )
        .default("default")
        .force_new()
        .on(GCP),
        Attribute::new(
            "subnetwork",
            AttrType::String,
            "Subnetwork of the GKE cluster.",
        )
        .computed()
        .force_new()
        .on(GCP),
        Attribute::new(
            "public_endpoint",
            AttrType::Bool,
            "Whether the API server has a public endpoint.",
        )
        .default(true),
        tags(),
        Attribute::new("endpoint", AttrType::String, "API server URL.").read_only(),
    ]);
    KindSchema {
        name: "cluster",
        class: KindClass::Cloud,
        description: "A managed Kubernetes cluster that GPU pools join.",
        maps_to: vec![
            (Cloud::Aws, "EKS cluster"),
            (Cloud::Azure, "AKS managed cluster"),
            (Cloud::Gcp, "GKE cluster"),
        ],
        body: BlockSchema::new("cluster", "", attrs),
    }
}

fn gpu_pool() -> KindSchema {
    let mut attrs = common(true);
    attrs.extend([
        Attribute::new(
            "cluster",
            AttrType::Ref("cluster"),
            "The cluster the pool joins (`cluster.train`).",
        )
        .required()
        .force_new(),
        Attribute::new(
            "accelerator",
            AttrType::String,
            "GPU name as SkyPilot's catalogs spell it (`A100` is the 40 GB part, `A100-80GB`, `H100`, `L4`, `T4`, …); the provider maps it to an instance type.",
        )
        .required()
        .force_new()
        .allowed(ACCELERATORS),
        Attribute::new("gpus_per_node", AttrType::Number, "GPUs on each node.")
            .required()
            .force_new(),
        Attribute::new(
            "instance_type",
            AttrType::String,
            "Instance type or VM size; chosen from accelerator × gpus_per_node unless set.",
        )
        .computed()
        .force_new(),
        Attribute::new(
            "min_nodes",
            AttrType::Number,
            "Fewest nodes the autoscaler keeps.",
        )
        .default(0.0),
        Attribute::new(
            "max_nodes",
            AttrType::Number,
            "Most nodes the autoscaler adds.",
        )
        .required(),
        Attribute::new(
            "capacity",
            AttrType::String,
            "Purchase option of the nodes.",
        )
        .default("on_demand")
        .allowed(&["on_demand", "spot", "reserved"])
        .force_new(),
        Attribute::new(
            "disk_size_gb",
            AttrType::Number,
            "Root disk of each node, GiB.",
        )
        .default(200.0)
        .force_new(),
        Attribute::new("labels", string_map(), "Kubernetes node labels.")
            .default_value(Value::Map(Default::default())),
        Attribute::new(
            "node_role_arn",
            AttrType::String,
            "IAM role the nodes run as (EKS node role).",
        )
        .required()
        .force_new()
        .on(AWS),
        Attribute::new(
            "subnet_ids",
            AttrType::List(Box::new(AttrType::String)),
            "Subnets of the nodes; defaults to the cluster's.",
        )
        .computed()
        .force_new()
        .on(AWS),
        Attribute::new(
            "kubernetes_version",
            AttrType::String,
            "Kubernetes version of the nodes; follows the cluster's unless set.",
        )
        .computed()
        .on(AWS),
        tags(),
        Attribute::new(
            "taints",
            AttrType::List(Box::new(AttrType::Object(vec![
                ("key".into(), AttrType::String, false),
                ("value".into(), AttrType::String, true),
                ("effect".into(), AttrType::String, false),
            ]))),
            "Kubernetes node taints (`effect`: NoSchedule, PreferNoSchedule, NoExecute).",
        )
        .default_value(Value::List(Vec::new())),
    ]);
    let mut body = BlockSchema::new("gpu_pool", "", attrs);
    body.blocks.push(BlockSchema::new(
        "sharing",
        "How pods share the pool's GPUs.",
        vec![
            Attribute::new("mode", AttrType::String, "GPU sharing mode.")
                .default("none")
                .allowed(&["none", "mig", "time_slicing", "mps"]),
            Attribute::new(
                "profile",
                AttrType::StringOrMap,
                "MIG profile (`1g.10gb`) or a map of profile → count per GPU.",
            ),
            Attribute::new(
                "replicas",
                AttrType::Number,
                "Pods per GPU for time slicing and MPS.",
            ),
        ],
    ));
    KindSchema {
        name: "gpu_pool",
        class: KindClass::Cloud,
        description: "An autoscaling pool of GPU nodes in a cluster; inherits the cluster's cloud.",
        maps_to: vec![
            (Cloud::Aws, "EKS managed nodegroup (GPU AMI)"),
            (Cloud::Azure, "AKS agent pool (GPU VM size)"),
            (Cloud::Gcp, "GKE node pool with accelerators"),
        ],
        body,
    }
}

fn bucket() -> KindSchema {
    let mut attrs = common(true);
    attrs.extend([
        Attribute::new(
            "location",
            AttrType::String,
            "Region of the bucket; defaults to the provider's.",
        )
        .computed()
        .force_new(),
        Attribute::new(
            "storage_class",
            AttrType::String,
            "Default storage class of new objects.",
        )
        .default("standard")
        .allowed(&["standard", "infrequent", "archive"]),
        Attribute::new(
            "versioning",
            AttrType::Bool,
            "Keep every version of every object.",
        )
        .default(false),
        Attribute::new(
            "force_destroy",
            AttrType::Bool,
            "Delete the objects too when the bucket is destroyed.",
        )
        .default(false),
        Attribute::new(
            "storage_account",
            AttrType::String,
            "Storage account holding the container.",
        )
        .required()
        .force_new()
        .on(AZURE),
        tags(),
        Attribute::new("url", AttrType::String, "URL of the bucket.").read_only(),
    ]);
    KindSchema {
        name: "bucket",
        class: KindClass::Cloud,
        description: "Object storage for datasets, features and model artifacts.",
        maps_to: vec![
            (Cloud::Aws, "S3 bucket"),
            (Cloud::Azure, "Storage account blob container"),
            (Cloud::Gcp, "GCS bucket"),
        ],
        body: BlockSchema::new("bucket", "", attrs),
    }
}

fn container_registry() -> KindSchema {
    let mut attrs = common(true);
    attrs.extend([
        Attribute::new(
            "immutable_tags",
            AttrType::Bool,
            "Refuse to overwrite an existing image tag.",
        )
        .default(false),
        Attribute::new(
            "scan_on_push",
            AttrType::Bool,
            "Scan images for vulnerabilities when pushed.",
        )
        .default(true),
        Attribute::new("sku", AttrType::String, "ACR tier.")
            .default("Standard")
            .allowed(&["Basic", "Standard", "Premium"])
            .on(AZURE),
        tags(),
        Attribute::new("url", AttrType::String, "Registry URL to push to.").read_only(),
    ]);
    KindSchema {
        name: "container_registry",
        class: KindClass::Cloud,
        description: "A registry for training and serving images.",
        maps_to: vec![
            (Cloud::Aws, "ECR repository"),
            (Cloud::Azure, "ACR registry"),
            (Cloud::Gcp, "Artifact Registry repository (Docker format)"),
        ],
        body: BlockSchema::new("container_registry", "", attrs),
    }
}

fn feature_store() -> KindSchema {
    let mut attrs = common(true);
    attrs.extend([
        Attribute::new(
            "role_arn",
            AttrType::String,
            "IAM role SageMaker uses to write the offline store.",
        )
        .force_new()
        .on(AWS),
        tags(),
    ]);
    let mut body = BlockSchema::new("feature_store", "", attrs);
    body.blocks.push(
        BlockSchema::new(
            "offline",
            "The offline (historical) store.",
            vec![
                Attribute::new(
                    "bucket",
                    AttrType::Ref("bucket"),
                    "Bucket holding the offline store: `bucket.NAME`, or a bucket name.",
                )
                .required(),
                Attribute::new("prefix", AttrType::String, "Key prefix inside the bucket.")
                    .default("features"),
            ],
        )
        .force_new(),
    );
    body.blocks.push(BlockSchema::new(
        "online",
        "The low-latency online store.",
        vec![
            Attribute::new("enabled", AttrType::Bool, "Serve features online.")
                .default(true)
                .force_new(),
            Attribute::new(
                "ttl",
                AttrType::String,
                "How long an online record lives (`7d`, `12h`).",
            ),
            Attribute::new(
                "nodes",
                AttrType::Number,
                "Online serving nodes (Vertex AI).",
            )
            .on(GCP),
        ],
    ));
    body.blocks.push(
        BlockSchema::new(
            "feature_group",
            "A group of features keyed by a record id; features can be added in place.",
            vec![
                Attribute::new(
                    "record_id",
                    AttrType::String,
                    "Feature that identifies a record.",
                )
                .required()
                .force_new(),
                Attribute::new(
                    "event_time",
                    AttrType::String,
                    "Feature holding the event time.",
                )
                .required()
                .force_new(),
                Attribute::new(
                    "features",
                    string_map(),
                    "Feature name → type (`string`, `float`, `int`).",
                )
                .required()
                .append_only(),
                Attribute::new("description", AttrType::String, "What the group holds.")
                    .force_new(),
                Attribute::new(
                    "bigquery_source",
                    AttrType::String,
                    "BigQuery table Vertex AI reads the group's features from (`bq://PROJECT.DATASET.TABLE`, with a column per feature); defaults to `bq://PROJECT.STORE.GROUP`.",
                )
                .force_new()
                .on(GCP),
            ],
        )
        .labeled(),
    );
    KindSchema {
        name: "feature_store",
        class: KindClass::Cloud,
        description: "A feature store with offline and online storage and its feature groups.",
        maps_to: vec![
            (Cloud::Aws, "SageMaker Feature Store feature groups"),
            (Cloud::Azure, "Azure ML managed feature store"),
            (Cloud::Gcp, "Vertex AI Feature Online Store + feature views"),
        ],
        body,
    }
}

fn model_registry() -> KindSchema {
    let mut attrs = common(true);
    attrs.extend([
        // SageMaker fixes it at creation, Vertex AI changes it in place: the providers say.
        Attribute::new("description", AttrType::String, "What the registry holds."),
        Attribute::new(
            "serving_image",
            AttrType::String,
            "Serving container of the parent model's first version (Vertex AI registers a model with its container, e.g. a prebuilt `us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest`); a change uploads a new default version.",
        )
        .required()
        .on(GCP),
        Attribute::new(
            "regions",
            AttrType::List(Box::new(AttrType::String)),
            "Regions an Azure ML registry replicates its models to; the provider's location first, by default.",
        )
        .computed()
        .on(AZURE),
        tags(),
    ]);
    KindSchema {
        name: "model_registry",
        class: KindClass::Cloud,
        description: "A registry of versioned models.",
        maps_to: vec![
            (Cloud::Aws, "SageMaker model package group"),
            (Cloud::Azure, "Azure ML registry"),
            (Cloud::Gcp, "Vertex AI Model Registry (parent model)"),
        ],
        body: BlockSchema::new("model_registry", "", attrs),
    }
}

fn endpoint() -> KindSchema {
    let mut attrs = common(true);
    attrs.extend([
        Attribute::new(
            "model",
            AttrType::Object(vec![
                ("image".into(), AttrType::String, false),
                ("artifact".into(), AttrType::String, true),
                ("environment".into(), string_map(), true),
            ]),
            "The model served: container image, artifact URI, environment.",
        )
        .required(),
        Attribute::new(
            "instance",
            AttrType::Object(vec![
                ("type".into(), AttrType::String, false),
                ("count".into(), AttrType::Number, true),
            ]),
            "Serving instance type and initial count.",
        )
        .required(),
        Attribute::new(
            "role_arn",
            AttrType::String,
            "IAM role SageMaker runs the model as (execution role).",
        )
        .required()
        .force_new()
        .on(AWS),
        Attribute::new(
            "environment_wo",
            string_map(),
            "Environment variables of the model container whose values are secrets (a model hub token, a registry password). Write-only: sent to the cloud at create and update, never written to the plan or the state, which keep only the names; the values may be ephemeral. A name may not also be in `model.environment`.",
        )
        .write_only(),
        Attribute::new(
            "environment_wo_version",
            AttrType::Number,
            "Change it to send new values of `environment_wo`: a changed secret alone is not a change. The model rolls out again, as for a change of `model`.",
        ),
        tags(),
        Attribute::new("url", AttrType::String, "Invocation URL.").read_only(),
    ]);
    let mut body = BlockSchema::new("endpoint", "", attrs);
    body.blocks.push(BlockSchema::new(
        "autoscaling",
        "Instance autoscaling.",
        vec![
            Attribute::new("min", AttrType::Number, "Fewest instances.").required(),
            Attribute::new("max", AttrType::Number, "Most instances.").required(),
            Attribute::new(
                "target_invocations_per_instance",
                AttrType::Number,
                "Invocations per instance per minute to scale at.",
            ),
        ],
    ));
    body.blocks.push(BlockSchema::new(
        "rollout",
        "How a new model or configuration reaches the live endpoint.",
        vec![
            Attribute::new("strategy", AttrType::String, "Traffic shifting strategy.")
                .default("all_at_once")
                .allowed(&["all_at_once", "canary", "linear"]),
            Attribute::new(
                "canary_percent",
                AttrType::Number,
                "Traffic on the new configuration during the canary.",
            ),
            Attribute::new(
                "linear_step_percent",
                AttrType::Number,
                "Traffic shifted per linear step.",
            ),
            Attribute::new(
                "bake_minutes",
                AttrType::Number,
                "Minutes to watch each step before the next.",
            )
            .default(10.0),
        ],
    ));
    KindSchema {
        name: "endpoint",
        class: KindClass::Cloud,
        description:
            "A real-time model serving endpoint; model or instance changes roll out in place.",
        maps_to: vec![
            (Cloud::Aws, "SageMaker model + endpoint config + endpoint"),
            (Cloud::Azure, "Azure ML online endpoint + deployment"),
            (Cloud::Gcp, "Vertex AI endpoint + deployed model"),
        ],
        body,
    }
}

fn queue() -> KindSchema {
    let mut body = BlockSchema::new(
        "queue",
        "",
        vec![
            Attribute::new(
                "name",
                AttrType::String,
                "Name of the ClusterQueue; defaults to the block label.",
            ),
            Attribute::new(
                "pools",
                AttrType::List(Box::new(AttrType::Ref("gpu_pool"))),
                "GPU pools the queue draws on.",
            )
            .required(),
            Attribute::new(
                "nominal_gpus",
                AttrType::NumberOrMap,
                "GPUs guaranteed: a total, or a map pool → GPUs.",
            )
            .required(),
            Attribute::new(
                "borrowing_limit",
                AttrType::Number,
                "GPUs the queue may borrow from its cohort.",
            ),
            Attribute::new(
                "lending_limit",
                AttrType::Number,
                "GPUs the queue may lend to its cohort.",
            ),
            Attribute::new(
                "cohort",
                AttrType::String,
                "Cohort of queues that lend and borrow.",
            ),
            Attribute::new(
                "priority",
                AttrType::Ref("priority_class"),
                "Default priority class: `priority_class.NAME`, or the name of one.",
            ),
            Attribute::new(
                "namespaces",
                AttrType::List(Box::new(AttrType::String)),
                "Namespaces that get a LocalQueue.",
            )
            .default_value(Value::List(Vec::new())),
            Attribute::new("queueing", AttrType::String, "Queueing strategy.")
                .default("best_effort_fifo")
                .allowed(&["strict_fifo", "best_effort_fifo"]),
            Attribute::new(
                "overcommit",
                AttrType::Bool,
                "Allow quotas beyond the pools' capacity.",
            )
            .default(false),
        ],
    );
    body.blocks.push(BlockSchema::new(
        "preemption",
        "When workloads of this queue preempt others.",
        vec![
            Attribute::new(
                "within_queue",
                AttrType::String,
                "Preemption inside the queue.",
            )
            .default("Never")
            .allowed(&["Never", "LowerPriority", "LowerOrNewerEqualPriority"]),
            Attribute::new(
                "reclaim_within_cohort",
                AttrType::String,
                "Reclaiming lent quota in the cohort.",
            )
            .default("Never")
            .allowed(&["Never", "LowerPriority", "Any"]),
        ],
    ));
    KindSchema {
        name: "queue",
        class: KindClass::Policy,
        description: "A team's share of GPU pools, emitted as Kueue objects.",
        maps_to: Vec::new(),
        body,
    }
}

fn priority_class() -> KindSchema {
    KindSchema {
        name: "priority_class",
        class: KindClass::Policy,
        description: "A workload priority, emitted as a Kueue WorkloadPriorityClass.",
        maps_to: Vec::new(),
        body: BlockSchema::new(
            "priority_class",
            "",
            vec![
                Attribute::new(
                    "name",
                    AttrType::String,
                    "Name of the class; defaults to the block label.",
                ),
                Attribute::new("value", AttrType::Number, "Priority; higher runs first.")
                    .required(),
                Attribute::new("description", AttrType::String, "What the class is for."),
            ],
        ),
    }
}

fn budget() -> KindSchema {
    KindSchema {
        name: "budget",
        class: KindClass::Gate,
        description: "A monthly cost limit that `plan` and `cost` check (exit 3 when broken).",
        maps_to: Vec::new(),
        body: BlockSchema::new(
            "budget",
            "",
            vec![
                Attribute::new(
                    "monthly_limit_usd",
                    AttrType::Number,
                    "Monthly limit in US dollars.",
                )
                .required(),
                Attribute::new("fail_on", AttrType::String, "What breaks the budget.")
                    .default("exceed")
                    .allowed(&["exceed", "increase_over_percent"]),
                Attribute::new(
                    "increase_percent",
                    AttrType::Number,
                    "Allowed increase for `increase_over_percent`.",
                ),
                Attribute::new(
                    "scope",
                    AttrType::List(Box::new(AttrType::String)),
                    "Addresses or kinds counted; all when empty.",
                )
                .default_value(Value::List(Vec::new())),
            ],
        ),
    }
}

/// Every kind, in the order `mlinfra schema` lists them.
pub fn kinds() -> &'static [KindSchema] {
    static KINDS: OnceLock<Vec<KindSchema>> = OnceLock::new();
    KINDS.get_or_init(|| {
        vec![
            cluster(),
            gpu_pool(),
            bucket(),
            container_registry(),
            feature_store(),
            model_registry(),
            endpoint(),
            queue(),
            priority_class(),
            budget(),
        ]
    })
}

/// The kind named `name`, if there is one.
pub fn kind(name: &str) -> Option<&'static KindSchema> {
    kinds().iter().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_fits_its_type_and_allowed_values() {
        fn check(block: &BlockSchema) {
            for a in &block.attributes {
                if let Some(d) = &a.default {
                    assert_eq!(a.ty.convert(d).as_ref(), Ok(d), "{}.{}", block.name, a.name);
                    if let Some(s) = d.as_str() {
                        assert!(a.allowed.is_empty() || a.allowed.contains(&s), "{}", a.name);
                    }
                }
                assert!(!(a.required && a.default.is_some()), "{}", a.name);
            }
            block.blocks.iter().for_each(check);
        }
        for k in kinds() {
            check(&k.body);
        }
    }

    #[test]
    fn cloud_kinds_map_to_an_object_on_every_cloud() {
        for k in kinds().iter().filter(|k| k.class == KindClass::Cloud) {
            assert_eq!(k.maps_to.len(), 3, "{}", k.name);
            assert!(k.attribute("cloud").is_some());
            assert!(k.attribute("id").is_some_and(|a| a.read_only));
        }
    }
}
