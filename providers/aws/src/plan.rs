//! AWS's own rules for a create or update, checked at plan time with no call and no
//! credentials: name formats and lengths per service, version steps, and why a change
//! cannot be made in place.

use mlinfra_provider_api::versions::{self, Step};
use mlinfra_provider_api::{Attributes, PlanRequest, PlanResponse, ProviderError};
use mlinfra_schema::Value;

use crate::attrs::{invalid, str_attr};

/// A name rule of one service: length, allowed characters, first and last character.
struct NameRule {
    what: &'static str,
    min: usize,
    max: usize,
    /// Characters allowed besides ASCII letters and digits.
    extra: &'static str,
    lowercase_only: bool,
}

impl NameRule {
    fn check(&self, name: &str) -> Result<(), String> {
        let n = name.chars().count();
        let chars_ok = name.chars().all(|c| {
            (c.is_ascii_digit()
                || (c.is_ascii_alphabetic() && (!self.lowercase_only || c.is_ascii_lowercase())))
                || self.extra.contains(c)
        });
        let first_ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if (self.min..=self.max).contains(&n) && chars_ok && first_ok {
            return Ok(());
        }
        let letters = if self.lowercase_only {
            "lowercase letters"
        } else {
            "letters"
        };
        let extra: Vec<String> = self.extra.chars().map(|c| format!("'{c}'")).collect();
        Err(format!(
            "\"{name}\" is not a valid {}: use {} to {} {letters}, digits{}, starting with a letter or digit",
            self.what,
            self.min,
            self.max,
            if extra.is_empty() {
                String::new()
            } else {
                format!(" and {}", extra.join(" "))
            }
        ))
    }
}

const EKS_CLUSTER: NameRule = NameRule {
    what: "EKS cluster name",
    min: 1,
    max: 100,
    extra: "-_",
    lowercase_only: false,
};
const EKS_NODEGROUP: NameRule = NameRule {
    what: "EKS nodegroup name",
    min: 1,
    max: 63,
    extra: "-_",
    lowercase_only: false,
};
const SAGEMAKER: NameRule = NameRule {
    what: "SageMaker name",
    min: 1,
    max: 63,
    extra: "-",
    lowercase_only: false,
};
const FEATURE_GROUP: NameRule = NameRule {
    what: "SageMaker feature group name",
    min: 1,
    max: 64,
    extra: "-_",
    lowercase_only: false,
};

/// A known string attribute of `a` (an unknown one is checked at apply).
fn known<'a>(a: &'a Attributes, name: &str) -> Option<&'a str> {
    str_attr(a, name)
}

fn changed(req: &PlanRequest, name: &str) -> bool {
    req.changed
        .iter()
        .any(|p| p.first().is_some_and(|f| f == name))
}

/// What [`plan`] checks, per kind (shown by `mlinfra schema KIND`).
pub fn rules(kind: &str) -> &'static [&'static str] {
    match kind {
        "bucket" => &[
            "name: 3–63 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, no '..'",
            "name and location replace the bucket (S3 cannot rename or move one)",
        ],
        "container_registry" => &[
            "name: an ECR repository name (2–256 lowercase letters, digits and . _ - /, starting and ending with a letter or digit)",
            "name replaces the repository",
        ],
        "cluster" => &[
            "name: an EKS cluster name (1–100 letters, digits, '-' and '_', starting with a letter or digit)",
            "kubernetes_version upgrades one minor version at a time and never downgrades",
        ],
        "gpu_pool" => &[
            "name: an EKS nodegroup name (1–63 letters, digits, '-' and '_', starting with a letter or digit)",
            "instance_type, capacity, subnet_ids and name replace the nodegroup",
        ],
        "model_registry" => &[
            "name: a SageMaker name (1–63 letters, digits and '-', starting with a letter or digit)",
            "name and description replace the model package group",
        ],
        "endpoint" => &[
            "name: a SageMaker name (1–63 letters, digits and '-')",
            "instance.type: a SageMaker instance type (ml.*)",
            "environment_wo: secret variables of the model container, sent at create and update and never stored; a new environment_wo_version, or a name added or removed, rolls the model out again",
        ],
        "feature_store" => &["each STORE-GROUP is a SageMaker feature group name (1–64 characters)"],
        _ => &[],
    }
}

pub fn plan(req: &PlanRequest) -> Result<PlanResponse, ProviderError> {
    let p = &req.proposed;
    let mut resp = PlanResponse::new(p.clone());
    match req.kind.as_str() {
        "bucket" => {
            if let Some(name) = known(p, "name") {
                crate::bucket::check_name(name).map_err(invalid)?;
            }
            for attr in ["name", "location"] {
                if changed(req, attr) {
                    resp = resp.replace(
                        &[attr],
                        format!("S3 cannot rename or move a bucket: {attr} is fixed at creation"),
                    );
                }
            }
        }
        "container_registry" => {
            if let Some(name) = known(p, "name") {
                crate::registry::check_name(name).map_err(invalid)?;
            }
            if changed(req, "name") {
                resp = resp.replace(&["name"], "ECR cannot rename a repository");
            }
        }
        "cluster" => {
            if let Some(name) = known(p, "name") {
                EKS_CLUSTER.check(name).map_err(invalid)?;
            }
            if changed(req, "name") {
                // A renamed cluster is a new cluster: any version it starts at is fine.
                resp = resp.replace(&["name"], "EKS cannot rename a cluster");
            } else {
                version_step(req)?;
            }
        }
        "gpu_pool" => {
            if let Some(name) = known(p, "name") {
                EKS_NODEGROUP.check(name).map_err(invalid)?;
                // A nodegroup is found by its cluster and name, not by its name alone.
                if let Some(cluster) = known(p, "cluster") {
                    resp = resp.private(format!("{cluster}:{name}"));
                }
            }
            for (attr, why) in [
                ("name", "EKS cannot rename a nodegroup"),
                (
                    "instance_type",
                    "an EKS nodegroup's instance types are fixed at creation",
                ),
                (
                    "capacity",
                    "an EKS nodegroup's capacity type (on-demand or spot) is fixed at creation",
                ),
                (
                    "subnet_ids",
                    "an EKS nodegroup's subnets are fixed at creation",
                ),
            ] {
                if changed(req, attr) {
                    resp = resp.replace(&[attr], why);
                }
            }
        }
        "model_registry" | "endpoint" => {
            if let Some(name) = known(p, "name") {
                SAGEMAKER.check(name).map_err(invalid)?;
            }
            if changed(req, "name") {
                resp = resp.replace(&["name"], "SageMaker cannot rename it");
            }
            if req.kind == "model_registry" && changed(req, "description") {
                resp = resp.replace(
                    &["description"],
                    "a SageMaker model package group's description is fixed at creation",
                );
            }
            if req.kind == "endpoint" {
                mlinfra_provider_api::secret_env::check(p, &req.write_only)?;
                if let Some(t) = p
                    .get("instance")
                    .and_then(Value::as_map)
                    .and_then(|m| m.get("type"))
                    .and_then(Value::as_str)
                {
                    if !t.starts_with("ml.") {
                        return Err(invalid(format!(
                            "\"{t}\" is not a SageMaker instance type: they start with \"ml.\", like ml.g5.xlarge"
                        )));
                    }
                }
            }
        }
        "feature_store" => {
            if let Some(name) = known(p, "name") {
                let groups: Vec<String> = p
                    .get("feature_group")
                    .and_then(Value::as_map)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                // Each feature group is the SageMaker feature group STORE-LABEL.
                for g in groups {
                    FEATURE_GROUP
                        .check(&format!("{name}-{g}"))
                        .map_err(|e| invalid(format!("feature_group \"{g}\": {e}")))?;
                }
            }
        }
        _ => {}
    }
    Ok(resp)
}

/// EKS upgrades one minor version at a time and never downgrades.
fn version_step(req: &PlanRequest) -> Result<(), ProviderError> {
    let Some((from, to)) = versions::change(req) else {
        return Ok(());
    };
    match versions::step(from, to) {
        Step::Downgrade => Err(invalid(format!(
            "Unsupported Kubernetes minor version update from {from} to {to}: EKS cannot downgrade a cluster; keep {from}, or replace the cluster with mlinfra plan --replace"
        ))),
        Step::Skips { next } => Err(invalid(format!(
            "Unsupported Kubernetes minor version update from {from} to {to}: EKS upgrades a cluster one minor version at a time, so the next is {next}; apply {next} first"
        ))),
        Step::Allowed => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlinfra_provider_api::ProviderConfig;

    fn req(kind: &str, prior: Option<&[(&str, &str)]>, proposed: &[(&str, &str)]) -> PlanRequest {
        let map = |kv: &[(&str, &str)]| -> Attributes {
            kv.iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v)))
                .collect()
        };
        let prior = prior.map(map);
        let proposed = map(proposed);
        let changed = match &prior {
            Some(p) => proposed
                .keys()
                .filter(|k| p.get(*k) != proposed.get(*k))
                .map(|k| vec![k.clone()])
                .collect(),
            None => Vec::new(),
        };
        PlanRequest::new(kind, prior, proposed, changed, ProviderConfig::default())
    }

    #[test]
    fn names_follow_each_service() {
        assert!(plan(&req("bucket", None, &[("name", "Bad_Name")])).is_err());
        assert!(plan(&req("bucket", None, &[("name", "good-name")])).is_ok());
        let e = plan(&req("gpu_pool", None, &[("name", &"x".repeat(64))])).unwrap_err();
        assert!(e.message.contains("1 to 63"), "{}", e.message);
        assert!(plan(&req("cluster", None, &[("name", "-train")])).is_err());
        assert!(plan(&req("endpoint", None, &[("name", "fraud_scorer")])).is_err());
    }

    #[test]
    fn versions_step_one_minor_at_a_time() {
        let from = [("kubernetes_version", "1.29")];
        assert!(plan(&req(
            "cluster",
            Some(&from),
            &[("kubernetes_version", "1.30")]
        ))
        .is_ok());
        let e = plan(&req(
            "cluster",
            Some(&from),
            &[("kubernetes_version", "1.31")],
        ))
        .unwrap_err();
        assert!(e.message.contains("the next is 1.30"), "{}", e.message);
        assert!(plan(&req(
            "cluster",
            Some(&from),
            &[("kubernetes_version", "1.28")]
        ))
        .is_err());
    }

    #[test]
    fn replacements_carry_reasons() {
        let r = plan(&req(
            "gpu_pool",
            Some(&[("instance_type", "p4d.24xlarge")]),
            &[("instance_type", "p5.48xlarge")],
        ))
        .unwrap();
        assert_eq!(r.requires_replace.len(), 1);
        assert!(r.requires_replace[0].reason.contains("fixed at creation"));
    }
}
