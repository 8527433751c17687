//! The monthly cost of a plan's changes (before → after), and budget gates.

use std::collections::BTreeMap;

use mlinfra_engine::plan::{Action, Plan};
use mlinfra_engine::Evaluated;
use mlinfra_schema::{Cloud, Value};

use crate::catalog::Catalog;
use crate::estimate::{items, price, Context, Estimate, Item, ResourceCost, UsageByAddress};

/// The estimate before and after a plan, per resource.
#[derive(Clone, Debug, Default)]
pub struct Delta {
    pub before: Estimate,
    pub after: Estimate,
}

impl Delta {
    pub fn change(&self) -> f64 {
        self.after.monthly() - self.before.monthly()
    }

    /// Resources whose monthly figure changes, largest change first.
    pub fn changed(&self) -> Vec<(String, f64, f64)> {
        let mut by: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for r in &self.before.resources {
            by.entry(&r.address).or_default().0 = r.monthly();
        }
        for r in &self.after.resources {
            by.entry(&r.address).or_default().1 = r.monthly();
        }
        let mut v: Vec<(String, f64, f64)> = by
            .into_iter()
            .filter(|(_, (b, a))| (a - b).abs() >= 0.005)
            .map(|(k, (b, a))| (k.to_string(), b, a))
            .collect();
        v.sort_by(|x, y| (y.2 - y.1).abs().total_cmp(&(x.2 - x.1).abs()));
        v
    }
}

fn attrs_of(v: &Option<Value>) -> Option<&BTreeMap<String, Value>> {
    v.as_ref().and_then(Value::as_map)
}

/// Price every resource of the plan before and after it.
pub fn plan_delta(
    plan: &Plan,
    config: &Evaluated,
    usage: &UsageByAddress,
    catalog: &Catalog,
) -> Delta {
    let (configured, ctx) = items(config, usage);
    let by_address: BTreeMap<&str, &Item<'_>> =
        configured.iter().map(|i| (i.address.as_str(), i)).collect();
    let mut delta = Delta::default();
    for c in &plan.changes {
        let Some(kind) = mlinfra_schema::kind(&c.kind) else {
            continue;
        };
        if kind.class != mlinfra_schema::KindClass::Cloud {
            continue;
        }
        let from_config = by_address.get(c.address.as_str());
        let priced = |attrs: &BTreeMap<String, Value>, ctx: &Context| -> ResourceCost {
            let item = Item {
                address: c.address.clone(),
                kind: kind.name,
                cloud: c.cloud.as_deref().and_then(Cloud::parse),
                attrs,
                provider_region: from_config.and_then(|i| i.provider_region.clone()),
                usage: from_config.map(|i| i.usage.clone()).unwrap_or_default(),
            };
            price(&item, ctx, catalog)
        };
        if c.action != Action::Create {
            if let Some(a) = attrs_of(&c.before) {
                delta.before.resources.push(priced(a, &ctx));
            }
        }
        if c.action != Action::Delete {
            if let Some(a) = attrs_of(&c.after) {
                delta.after.resources.push(priced(a, &ctx));
            }
        }
    }
    delta
}

/// A `budget` block, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetResult {
    pub name: String,
    pub limit: f64,
    pub fail_on: String,
    /// The monthly figure in scope after the change.
    pub figure: f64,
    /// The figure before the change, when there is one (plans).
    pub before: Option<f64>,
    pub broken: bool,
    /// Why it is broken (or holds), in words.
    pub message: String,
    /// The largest contributors in scope: address and monthly cost.
    pub top: Vec<(String, f64)>,
}

fn in_scope(scope: &[String], address: &str, kind: &str) -> bool {
    scope.is_empty()
        || scope.iter().any(|s| {
            s == kind
                || s == address
                || address
                    .strip_prefix(s.as_str())
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
}

fn scoped(est: &Estimate, scope: &[String]) -> (f64, Vec<(String, f64)>) {
    let mut top: Vec<(String, f64)> = est
        .resources
        .iter()
        .filter(|r| in_scope(scope, &r.address, &r.kind))
        .map(|r| (r.address.clone(), r.monthly()))
        .collect();
    let total = top.iter().map(|(_, m)| m).sum();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    top.truncate(3);
    (total, top)
}

/// Check every `budget` of the configuration against `after` (and `before`, for plans).
pub fn check_budgets(
    config: &Evaluated,
    after: &Estimate,
    before: Option<&Estimate>,
) -> Vec<BudgetResult> {
    let mut out = Vec::new();
    for b in config.resources.iter().filter(|r| r.kind.name == "budget") {
        let a = &b.attrs;
        let limit = a
            .get("monthly_limit_usd")
            .and_then(Value::as_f64)
            .unwrap_or(f64::INFINITY);
        let fail_on = a
            .get("fail_on")
            .and_then(Value::as_str)
            .unwrap_or("exceed")
            .to_string();
        let scope: Vec<String> = a
            .get("scope")
            .and_then(Value::as_list)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let (figure, top) = scoped(after, &scope);
        let prior = before.map(|e| scoped(e, &scope).0);
        let usd = crate::format_usd;
        let (broken, message) = if figure > limit {
            (
                true,
                format!(
                    "{} per month is over the limit of {}",
                    usd(figure),
                    usd(limit)
                ),
            )
        } else if fail_on == "increase_over_percent" {
            let allowed = a
                .get("increase_percent")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            match prior {
                Some(p) if p > 0.0 && (figure - p) / p * 100.0 > allowed => (
                    true,
                    format!(
                        "{} → {} per month is an increase of {:.1}%, over the allowed {}%",
                        usd(p),
                        usd(figure),
                        (figure - p) / p * 100.0,
                        mlinfra_schema::format_f64(allowed)
                    ),
                ),
                Some(p) if p == 0.0 && figure > 0.0 => (
                    true,
                    format!(
                        "$0.00 → {} per month is an increase from nothing, over the allowed {}%",
                        usd(figure),
                        mlinfra_schema::format_f64(allowed)
                    ),
                ),
                _ => (
                    false,
                    format!(
                        "{} per month, within {} and the allowed increase",
                        usd(figure),
                        usd(limit)
                    ),
                ),
            }
        } else {
            (
                false,
                format!("{} per month, within {}", usd(figure), usd(limit)),
            )
        };
        out.push(BudgetResult {
            name: b.address.name.clone(),
            limit,
            fail_on,
            figure,
            before: prior,
            broken,
            message,
            top,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_matches_kinds_addresses_and_prefixes() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(in_scope(&[], "bucket.a", "bucket"));
        assert!(in_scope(
            &s(&["gpu_pool"]),
            "gpu_pool.training[\"h100\"]",
            "gpu_pool"
        ));
        assert!(in_scope(
            &s(&["gpu_pool.training"]),
            "gpu_pool.training[\"h100\"]",
            "gpu_pool"
        ));
        assert!(in_scope(
            &s(&["module.serving"]),
            "module.serving.endpoint.this",
            "endpoint"
        ));
        assert!(!in_scope(
            &s(&["module.serv"]),
            "module.serving.endpoint.this",
            "endpoint"
        ));
        assert!(!in_scope(&s(&["bucket"]), "gpu_pool.x", "gpu_pool"));
    }
}
