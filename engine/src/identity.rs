//! One cloud object, one address: the identity of the object an instance names, and the
//! plan-time check that no two addresses, in configuration or state, name the same one.
//!
//! Two addresses naming one object is how data is lost: a renamed block plans "create the
//! new address, destroy the old one", the create finds the object already there, and the
//! destroy deletes it. The check makes that plan an error before anything runs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mlinfra_schema::{
    kind, name_scope, provider_account, provider_region_attribute, Cloud, NameScope, Value,
};

use crate::config::eval::{Evaluated, ProviderInstance, ResourceInstance};
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{Action, Plan};
use crate::state::{ResourceState, State};

/// The cloud object an instance names: kind, cloud, name, and the namespace the name is
/// unique in. A scope part that cannot be known offline (an account the credentials
/// decide, a region known after apply) is `None` and matches any value, so the check errs
/// on the side of keeping data.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub kind: String,
    pub cloud: Cloud,
    pub name: String,
    pub scope: Vec<(NameScope, Option<String>)>,
    /// Whether the name came from a sensitive value (then it is never printed).
    pub sensitive: bool,
}

impl Identity {
    /// Whether `self` and `other` are the same cloud object.
    pub fn same(&self, other: &Identity) -> bool {
        self.kind == other.kind
            && self.cloud == other.cloud
            && self.name == other.name
            && self
                .scope
                .iter()
                .zip(&other.scope)
                .all(|((_, a), (_, b))| match (a, b) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                })
    }

    /// `S3 bucket "features"`, for messages.
    pub fn describe(&self) -> String {
        let object = kind(&self.kind)
            .and_then(|k| k.maps_to.iter().find(|(c, _)| *c == self.cloud))
            .map(|(_, o)| *o)
            .unwrap_or(&self.kind);
        // Strip the parenthesised detail ("EKS managed nodegroup (GPU AMI)").
        let object = object.split(" (").next().unwrap_or(object);
        let name = if self.sensitive {
            "(sensitive value)".to_string()
        } else {
            format!("\"{}\"", self.name)
        };
        let mut where_ = Vec::new();
        for (s, v) in &self.scope {
            if let (NameScope::Within(attr), Some(v)) = (s, v) {
                where_.push(format!("{attr} \"{v}\""));
            }
        }
        for (s, v) in &self.scope {
            if let (NameScope::Region, Some(v)) = (s, v) {
                where_.push(format!("in {v}"));
            }
        }
        if where_.is_empty() {
            format!("{object} {name}")
        } else {
            format!("{object} {name} ({})", where_.join(", "))
        }
    }
}

fn known_str(attrs: &BTreeMap<String, Value>, key: &str) -> Option<String> {
    match attrs.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The identity of an object of `kind` on `cloud` with these attributes, made through the
/// provider configuration `provider` (when it is known).
pub fn identity_of(
    kind_name: &str,
    cloud: Cloud,
    attrs: &BTreeMap<String, Value>,
    provider: Option<&ProviderInstance>,
    sensitive: &BTreeSet<String>,
) -> Option<Identity> {
    let scope = name_scope(kind_name, cloud)?;
    let name = known_str(attrs, "name")?;
    let empty = BTreeMap::new();
    let pattrs = provider.map(|p| &p.attrs).unwrap_or(&empty);
    let scope = scope
        .iter()
        .map(|s| {
            let v = match s {
                NameScope::Account => provider_account(cloud, pattrs),
                NameScope::Region => known_str(attrs, "region")
                    .or_else(|| known_str(attrs, "location"))
                    .or_else(|| known_str(pattrs, provider_region_attribute(cloud))),
                NameScope::Within(attr) => known_str(attrs, attr),
            };
            (*s, v)
        })
        .collect();
    Some(Identity {
        kind: kind_name.to_string(),
        cloud,
        name,
        scope,
        sensitive: sensitive.contains("name"),
    })
}

fn provider_for<'e>(
    evaluated: &'e Evaluated,
    key: Option<&str>,
    cloud: Cloud,
) -> Option<&'e ProviderInstance> {
    let key = key.unwrap_or(cloud.as_str());
    evaluated
        .providers
        .iter()
        .find(|p| p.key == key)
        .or_else(|| evaluated.providers.iter().find(|p| p.key == cloud.as_str()))
}

/// The identity of a configured instance.
pub fn of_instance(evaluated: &Evaluated, inst: &ResourceInstance) -> Option<Identity> {
    let cloud = inst.cloud?;
    let p = provider_for(evaluated, inst.provider.as_deref(), cloud);
    identity_of(inst.kind.name, cloud, &inst.attrs, p, &inst.sensitive)
}

/// The identity of an object recorded in state.
pub fn of_state(evaluated: &Evaluated, r: &ResourceState) -> Option<Identity> {
    let cloud = Cloud::parse(r.cloud.as_deref()?)?;
    let p = provider_for(evaluated, r.provider.as_deref(), cloud);
    identity_of(&r.kind, cloud, &r.attributes, p, &r.sensitive)
}

/// The address in `state`, other than `except`, that already manages `id`'s object.
pub fn held_in_state<'s>(
    evaluated: &Evaluated,
    state: &'s State,
    id: &Identity,
    except: &str,
) -> Option<&'s str> {
    state
        .resources
        .iter()
        .filter(|(addr, r)| addr.as_str() != except && r.kind == id.kind)
        .find(|(_, r)| of_state(evaluated, r).is_some_and(|o| o.same(id)))
        .map(|(a, _)| a.as_str())
}

/// Check `plan` for addresses that share a cloud object: two configured instances that
/// name one object (an error at each), and a create of an object that another address
/// in state manages (an error at the create, with the `state mv` that keeps the object).
pub fn check(evaluated: &Evaluated, prior: &State, plan: &Plan) -> Diagnostics {
    let mut diags = Diagnostics::default();
    // A destroy creates nothing; it must stay possible whatever the configuration says.
    if plan.destroy {
        return diags;
    }
    let key = |i: &Identity| (i.kind.clone(), i.cloud, i.name.clone());

    // Configured instances that name one object.
    let configured: Vec<(&ResourceInstance, Identity)> = evaluated
        .resources
        .iter()
        .filter_map(|r| of_instance(evaluated, r).map(|i| (r, i)))
        .collect();
    let mut groups: HashMap<_, Vec<usize>> = HashMap::new();
    for (n, (_, id)) in configured.iter().enumerate() {
        groups.entry(key(id)).or_default().push(n);
    }
    let mut clashing: BTreeSet<String> = BTreeSet::new();
    for members in groups.values().filter(|m| m.len() > 1) {
        for &a in members {
            let (inst, id) = &configured[a];
            let others: Vec<String> = members
                .iter()
                .filter(|&&b| b != a && configured[b].1.same(id))
                .map(|&b| configured[b].0.address.to_string())
                .collect();
            if others.is_empty() {
                continue;
            }
            let addr = inst.address.to_string();
            clashing.insert(addr.clone());
            diags.push(
                Diagnostic::error(format!(
                    "{addr} and {} name the same {}",
                    others.join(", "),
                    id.describe()
                ))
                .at(Some(inst.span))
                .note("one cloud object can have only one address: applying both would make them share it, and destroying either would delete it for both")
                .help("give each block its own `name` (with count or for_each, include count.index or each.key in it)"),
            );
        }
    }

    // Creates of an object another address in state manages.
    let mut held: HashMap<_, Vec<(&str, Identity)>> = HashMap::new();
    for (addr, r) in &prior.resources {
        if let Some(id) = of_state(evaluated, r) {
            held.entry(key(&id)).or_default().push((addr.as_str(), id));
        }
    }
    if held.is_empty() {
        return diags;
    }
    let by_address: HashMap<String, &ResourceInstance> = configured
        .iter()
        .map(|(r, _)| (r.address.to_string(), *r))
        .collect();
    let id_of: HashMap<String, &Identity> = configured
        .iter()
        .map(|(r, i)| (r.address.to_string(), i))
        .collect();
    let change_of: HashMap<&str, Action> = plan
        .changes
        .iter()
        .map(|c| (c.address.as_str(), c.action))
        .collect();
    for c in plan.changes.iter().filter(|c| {
        matches!(
            c.action,
            Action::Create | Action::DeleteThenCreate | Action::CreateThenDelete
        ) && c.importing.is_none()
    }) {
        if clashing.contains(&c.address) {
            continue;
        }
        let (Some(inst), Some(id)) = (by_address.get(&c.address), id_of.get(&c.address)) else {
            continue;
        };
        let Some(holders) = held.get(&key(id)) else {
            continue;
        };
        for (other, _) in holders
            .iter()
            .filter(|(a, h)| *a != c.address && h.same(id))
        {
            let mut d = Diagnostic::error(format!(
                "{} would create {}, which {other} already manages",
                c.address,
                id.describe()
            ))
            .at(Some(inst.span));
            d = match change_of.get(other) {
                Some(Action::Delete) => d.note(format!(
                    "this plan also destroys {other}: together they would delete the object, and everything in it, while {} still declares it",
                    c.address
                )),
                Some(a) if a.is_replace() => d.note(format!(
                    "this plan also replaces {other}, which destroys the object {} would adopt",
                    c.address
                )),
                _ => d.note(format!(
                    "{other} is recorded in state with that object; one cloud object can have only one address"
                )),
            };
            let same_kind =
                crate::address::Address::parse(other).is_ok_and(|a| a.kind == inst.address.kind);
            d = if same_kind && !by_address.contains_key(*other) {
                d.help(format!(
                    "if you renamed or re-keyed the block, record the move so the object is kept: add `moved {{ from = {other}  to = {} }}`, or run: mlinfra state mv '{other}' '{}'",
                    c.address, c.address
                ))
            } else {
                d.help(format!(
                    "give {} another `name`, or move the state of {other} to it: mlinfra state mv '{other}' '{}'",
                    c.address, c.address
                ))
            };
            diags.push(d);
        }
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, cloud: Cloud, name: &str, scope: &[(NameScope, Option<&str>)]) -> Identity {
        Identity {
            kind: kind.into(),
            cloud,
            name: name.into(),
            scope: scope
                .iter()
                .map(|(s, v)| (*s, v.map(str::to_string)))
                .collect(),
            sensitive: false,
        }
    }

    #[test]
    fn unknown_scope_parts_match_anything_and_known_ones_must_agree() {
        use NameScope::*;
        let a = id(
            "container_registry",
            Cloud::Aws,
            "r",
            &[(Account, None), (Region, Some("us-east-1"))],
        );
        let b = id(
            "container_registry",
            Cloud::Aws,
            "r",
            &[(Account, Some("1")), (Region, Some("us-east-1"))],
        );
        let c = id(
            "container_registry",
            Cloud::Aws,
            "r",
            &[(Account, None), (Region, Some("eu-west-1"))],
        );
        assert!(a.same(&b));
        assert!(!a.same(&c));
        assert!(!a.same(&id("bucket", Cloud::Aws, "r", &[])));
    }

    #[test]
    fn identity_follows_the_kind_scope_and_the_provider() {
        let mut attrs = BTreeMap::new();
        attrs.insert("name".to_string(), Value::from("pool"));
        attrs.insert("cluster".to_string(), Value::from("train"));
        let p = ProviderInstance {
            key: "aws".into(),
            cloud: Cloud::Aws,
            attrs: [("region".to_string(), Value::from("us-west-2"))].into(),
            sensitive: BTreeSet::new(),
            span: None,
            implicit: false,
        };
        let i = identity_of("gpu_pool", Cloud::Aws, &attrs, Some(&p), &BTreeSet::new()).unwrap();
        assert_eq!(
            i.describe(),
            "EKS managed nodegroup \"pool\" (cluster \"train\", in us-west-2)"
        );
        // A name known only after apply has no identity yet.
        attrs.insert("name".to_string(), Value::Unknown);
        assert!(identity_of("gpu_pool", Cloud::Aws, &attrs, Some(&p), &BTreeSet::new()).is_none());
        // S3 names are global: the region does not separate them.
        let mut b = BTreeMap::new();
        b.insert("name".to_string(), Value::from("data"));
        let east = identity_of("bucket", Cloud::Aws, &b, None, &BTreeSet::new()).unwrap();
        b.insert("location".to_string(), Value::from("eu-west-1"));
        let west = identity_of("bucket", Cloud::Aws, &b, None, &BTreeSet::new()).unwrap();
        assert!(east.same(&west));
        // A sensitive name is never shown.
        let secret =
            identity_of("bucket", Cloud::Aws, &b, None, &["name".to_string()].into()).unwrap();
        assert_eq!(secret.describe(), "S3 bucket (sensitive value)");
    }
}
