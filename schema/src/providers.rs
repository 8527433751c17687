//! Provider blocks: what each cloud's `provider "CLOUD" { … }` takes, and what a resource
//! takes from its context on that cloud. Data only: the engine reads it without naming a
//! cloud, and the provider crates check the values (`Provider::configure`).

use crate::Cloud;

/// One attribute of a provider block.
#[derive(Clone, Copy, Debug)]
pub struct ProviderAttr {
    pub name: &'static str,
    pub description: &'static str,
}

/// What one cloud's provider block takes.
#[derive(Clone, Copy, Debug)]
pub struct ProviderBlock {
    pub cloud: Cloud,
    pub attributes: &'static [ProviderAttr],
    /// Blocks whose attributes are evaluated as one map (`endpoints { s3 = "…" }`); each
    /// may also be written as an attribute holding a map or, for `assume_role`, a string.
    pub map_blocks: &'static [&'static str],
    /// Takes `default_tags` (an attribute, or Terraform's `default_tags { tags = … }`),
    /// merged into the tags of every resource of the provider.
    pub default_tags: bool,
    /// What a `gpu_pool` takes from its cluster when the manifest leaves it out.
    pub gpu_pool_from_cluster: &'static [&'static str],
}

impl ProviderBlock {
    /// The names a provider block may set as attributes, `alias` first.
    pub fn attribute_names(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = vec!["alias"];
        v.extend(self.attributes.iter().map(|a| a.name));
        v.extend(self.map_blocks.iter().copied());
        if self.default_tags {
            v.push("default_tags");
        }
        v
    }

    pub fn allows(&self, name: &str) -> bool {
        self.attribute_names().contains(&name)
    }
}

const fn a(name: &'static str, description: &'static str) -> ProviderAttr {
    ProviderAttr { name, description }
}

const AWS: ProviderBlock = ProviderBlock {
    cloud: Cloud::Aws,
    attributes: &[
        a("region", "the AWS region, like us-east-1"),
        a("profile", "a named profile of ~/.aws/config"),
        a("endpoint", "one URL for every service (an emulator)"),
    ],
    map_blocks: &["assume_role", "endpoints"],
    default_tags: true,
    gpu_pool_from_cluster: &["subnet_ids", "kubernetes_version"],
};

const AZURE: ProviderBlock = ProviderBlock {
    cloud: Cloud::Azure,
    attributes: &[
        a(
            "subscription_id",
            "the subscription resources are created in",
        ),
        a("tenant_id", "the Entra tenant of the credentials"),
        a("location", "the Azure region, like eastus"),
        a(
            "resource_group",
            "the resource group resources are created in",
        ),
        a(
            "client_id",
            "the application (client) id of a service principal or managed identity",
        ),
        a(
            "use_cli",
            "fall back to the Azure CLI's login (az login); default true",
        ),
        a("use_msi", "use the managed identity of the machine"),
        a(
            "ml_workspace",
            "the Azure ML workspace endpoints live in (created if absent); default mlinfra",
        ),
        a("endpoint", "the ARM base URL (the Azure double)"),
        a(
            "authority_host",
            "the Entra authority tokens come from (the Azure double)",
        ),
        a(
            "ca_file",
            "a PEM CA certificate to trust besides the system's (the Azure double's)",
        ),
    ],
    map_blocks: &[],
    default_tags: false,
    gpu_pool_from_cluster: &[],
};

const GCP: ProviderBlock = ProviderBlock {
    cloud: Cloud::Gcp,
    attributes: &[
        a("project", "the project id resources are created in"),
        a("region", "the region, like us-central1"),
        a("zone", "the zone for zonal resources, like us-central1-a"),
        a("zones", "the zones a regional node pool spreads over"),
        a(
            "credentials_file",
            "a service-account key file (else Application Default Credentials)",
        ),
        a(
            "impersonate_service_account",
            "a service account the credentials act as",
        ),
        a("endpoint", "one URL for every service (the double)"),
    ],
    map_blocks: &["endpoints"],
    default_tags: false,
    gpu_pool_from_cluster: &[],
};

/// The provider block of `cloud`.
pub fn provider_block(cloud: Cloud) -> &'static ProviderBlock {
    match cloud {
        Cloud::Aws => &AWS,
        Cloud::Azure => &AZURE,
        Cloud::Gcp => &GCP,
    }
}

/// The cloud names, for messages: `aws, azure, gcp`.
pub fn cloud_names() -> String {
    Cloud::ALL.map(Cloud::as_str).join(", ")
}

/// An aliased provider reference for examples in messages: `aws.west`.
pub fn alias_example() -> String {
    format!("{}.west", Cloud::ALL[0])
}

/// The cloud names quoted, for messages: `"aws", "azure", "gcp"`.
pub fn quoted_cloud_names() -> String {
    Cloud::ALL.map(|c| format!("\"{c}\"")).join(", ")
}

/// The cloud names as alternatives: `"aws" | "azure" | "gcp"`.
pub fn cloud_choice() -> String {
    Cloud::ALL.map(|c| format!("\"{c}\"")).join(" | ")
}
