//! The stable JSON form of a plan (`plan --json`, saved plan files); see docs/plan-json.md.

use std::collections::BTreeSet;

use mlinfra_schema::Value;
use serde_json::{json, Map, Value as Json};

use crate::plan::{redact, Action, Binding, OutputChange, Plan, Reason, ResourceChange};

/// Version of the JSON plan format.
pub const FORMAT_VERSION: &str = "1.0";

/// Render a plan as JSON with sensitive values removed.
pub fn to_json(plan: &Plan) -> Json {
    let s = plan.summary();
    json!({
        "format_version": FORMAT_VERSION,
        "mlinfra_version": env!("CARGO_PKG_VERSION"),
        "binding": {
            "lineage": plan.binding.lineage,
            "serial": plan.binding.serial,
            "config_hash": plan.binding.config_hash,
        },
        "refreshed": plan.refreshed,
        "destroy": plan.destroy,
        "targets": plan.targets,
        "excludes": plan.excludes,
        "resource_changes": plan.changes.iter().map(change_json).collect::<Vec<_>>(),
        "resource_drift": plan.drift.iter().map(change_json).collect::<Vec<_>>(),
        "output_changes": plan.outputs.iter().map(|o| (o.name.clone(), output_json(o))).collect::<Map<String, Json>>(),
        "summary": { "import": s.import, "add": s.add, "change": s.change, "destroy": s.destroy, "forget": s.forget, "move": s.move_, "no_op": s.no_op },
        "has_changes": plan.has_changes(),
        "notes": plan.notes,
    })
}

fn hidden(v: &Option<Value>, sensitive: &BTreeSet<String>) -> Json {
    match v {
        Some(v) => redact(v, sensitive, &Value::Null).to_json(),
        None => Json::Null,
    }
}

fn sensitive_mask(v: &Option<Value>, sensitive: &BTreeSet<String>) -> Json {
    let Some(v) = v else { return json!({}) };
    let marker = Value::String("\u{0}sensitive".into());
    let marked = redact(v, sensitive, &marker);
    fn mask(v: &Value, marker: &Value) -> Option<Json> {
        match v {
            x if x == marker => Some(Json::Bool(true)),
            Value::Map(m) => {
                let inner: Map<String, Json> = m
                    .iter()
                    .filter_map(|(k, v)| mask(v, marker).map(|j| (k.clone(), j)))
                    .collect();
                (!inner.is_empty()).then_some(Json::Object(inner))
            }
            _ => None,
        }
    }
    mask(&marked, &marker).unwrap_or_else(|| json!({}))
}

/// One resource change in its JSON form (sensitive values removed).
pub fn change_json(c: &ResourceChange) -> Json {
    json!({
        "address": c.address,
        "module_address": c.module,
        "kind": c.kind,
        "name": c.name,
        "cloud": c.cloud,
        "provider": c.provider,
        "actions": c.action.json(),
        "before": hidden(&c.before, &c.sensitive_paths),
        "after": hidden(&c.after, &c.sensitive_paths),
        "after_unknown": c.after.as_ref().map(Value::unknown_mask).unwrap_or(json!({})),
        "after_sensitive": sensitive_mask(&c.after, &c.sensitive_paths),
        "sensitive_paths": c.sensitive_paths,
        "replace_paths": c.replace_paths,
        "reason": c.reason.as_ref().map(Reason::code),
        "reason_message": c.reason_message,
        "depends_on": c.depends_on,
        "importing": c.importing.as_ref().map(|id| json!({ "id": id })),
        "previous_address": c.previous_address,
    })
}

fn output_json(o: &OutputChange) -> Json {
    let hide = |v: &Option<Value>| match v {
        Some(_) if o.sensitive => Json::Null,
        Some(v) => v.to_json(),
        None => Json::Null,
    };
    json!({
        "actions": o.action.json(),
        "before": hide(&o.before),
        "after": hide(&o.after),
        "after_unknown": o.after.as_ref().map(Value::unknown_mask).unwrap_or(json!(false)),
        "sensitive": o.sensitive,
    })
}

/// The field of a saved plan that holds the digest of the rest of it.
pub const DIGEST_FIELD: &str = "digest";

/// SHA-256 over the plan's compact JSON without its digest field.
fn digest_of(j: &Json) -> String {
    use sha2::{Digest, Sha256};
    let mut body = j.clone();
    if let Some(m) = body.as_object_mut() {
        m.remove(DIGEST_FIELD);
    }
    let text = serde_json::to_string(&body).unwrap_or_default();
    let d = Sha256::digest(text.as_bytes());
    format!(
        "sha256:{}",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Add the digest of the whole plan, for a saved plan file.
pub fn seal(j: &mut Json) {
    let d = digest_of(j);
    if let Some(m) = j.as_object_mut() {
        m.insert(DIGEST_FIELD.into(), Json::String(d));
    }
}

/// Check a saved plan's digest: any change to the file after `plan -out` wrote it, even
/// one space in a value, is refused.
pub fn verify(j: &Json) -> Result<(), String> {
    match j.get(DIGEST_FIELD).and_then(Json::as_str) {
        None => Err("it has no digest (it was not written by `mlinfra plan -out`, or by an older mlinfra)".into()),
        Some(d) if d == digest_of(j) => Ok(()),
        Some(_) => Err("its content does not match its digest: it was modified after `mlinfra plan -out` saved it".into()),
    }
}

/// Read a plan back from its JSON form (sensitive values stay redacted).
pub fn from_json(j: &Json) -> Result<Plan, String> {
    let version = j["format_version"]
        .as_str()
        .ok_or("missing format_version")?;
    if version.split('.').next() != FORMAT_VERSION.split('.').next() {
        return Err(format!(
            "plan format {version} is not supported by this mlinfra (expects {FORMAT_VERSION})"
        ));
    }
    let b = &j["binding"];
    let binding = Binding {
        lineage: b["lineage"]
            .as_str()
            .ok_or("missing binding.lineage")?
            .to_string(),
        serial: b["serial"].as_u64().ok_or("missing binding.serial")?,
        config_hash: b["config_hash"]
            .as_str()
            .ok_or("missing binding.config_hash")?
            .to_string(),
    };
    let changes = j["resource_changes"]
        .as_array()
        .ok_or("missing resource_changes")?
        .iter()
        .map(change_from_json)
        .collect::<Result<_, _>>()?;
    let drift = j["resource_drift"]
        .as_array()
        .map(|a| a.iter().map(change_from_json).collect::<Result<_, _>>())
        .transpose()?
        .unwrap_or_default();
    let mut outputs = Vec::new();
    if let Some(o) = j["output_changes"].as_object() {
        for (name, oc) in o {
            outputs.push(OutputChange {
                name: name.clone(),
                action: action_from_json(&oc["actions"])?,
                before: value_with_unknowns(&oc["before"], &Json::Null),
                after: value_with_unknowns(&oc["after"], &oc["after_unknown"]),
                sensitive: oc["sensitive"].as_bool().unwrap_or(false),
            });
        }
    }
    Ok(Plan {
        changes,
        drift,
        outputs,
        binding,
        excludes: strings(&j["excludes"]),
        targets: strings(&j["targets"]),
        refreshed: j["refreshed"].as_bool().unwrap_or(false),
        destroy: j["destroy"].as_bool().unwrap_or(false),
        notes: strings(&j["notes"]),
    })
}

/// The strings of a JSON array (none when it is absent).
fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn action_from_json(a: &Json) -> Result<Action, String> {
    let list: Vec<&str> = a
        .as_array()
        .ok_or("missing actions")?
        .iter()
        .filter_map(Json::as_str)
        .collect();
    Ok(match list.as_slice() {
        ["no-op"] => Action::NoOp,
        ["create"] => Action::Create,
        ["read"] => Action::Read,
        ["update"] => Action::Update,
        ["delete", "create"] => Action::DeleteThenCreate,
        ["create", "delete"] => Action::CreateThenDelete,
        ["delete"] => Action::Delete,
        ["forget"] => Action::Forget,
        other => return Err(format!("unknown actions {other:?}")),
    })
}

fn value_with_unknowns(v: &Json, unknown: &Json) -> Option<Value> {
    if v.is_null() && !unknown.as_bool().unwrap_or(false) && !unknown.is_object() {
        return None;
    }
    Some(merge_unknown(v, unknown))
}

fn merge_unknown(v: &Json, unknown: &Json) -> Value {
    match unknown {
        Json::Bool(true) => Value::Unknown,
        Json::Object(u) => match v {
            Json::Object(m) => {
                let mut out: std::collections::BTreeMap<String, Value> = m
                    .iter()
                    .map(|(k, x)| (k.clone(), merge_unknown(x, u.get(k).unwrap_or(&Json::Null))))
                    .collect();
                for (k, x) in u {
                    if !out.contains_key(k) {
                        out.insert(k.clone(), merge_unknown(&Json::Null, x));
                    }
                }
                Value::Map(out)
            }
            _ => Value::from_json(v),
        },
        Json::Array(u) => match v {
            Json::Array(items) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| merge_unknown(x, u.get(i).unwrap_or(&Json::Null)))
                    .collect(),
            ),
            _ => Value::from_json(v),
        },
        _ => Value::from_json(v),
    }
}

fn reason_from_code(code: &str) -> Option<Reason> {
    Some(match code {
        "not_in_state" => Reason::NotInState,
        "config_changed" => Reason::ConfigChanged,
        "replace_because_cannot_update" => Reason::CannotUpdate,
        "replace_by_request" => Reason::ReplaceRequested,
        "delete_because_no_resource_config" => Reason::NoConfig,
        "delete_because_count_index" => Reason::CountIndexRemoved,
        "delete_because_each_key" => Reason::EachKeyRemoved,
        "restore_drifted_attributes" => Reason::DriftRestore,
        _ => return None,
    })
}

fn change_from_json(c: &Json) -> Result<ResourceChange, String> {
    let s = |k: &str| c[k].as_str().map(str::to_string);
    let before = if c["before"].is_null() {
        None
    } else {
        Some(Value::from_json(&c["before"]))
    };
    let after = if c["after"].is_null() && !c["after_unknown"].is_object() {
        None
    } else {
        Some(merge_unknown(&c["after"], &c["after_unknown"]))
    };
    Ok(ResourceChange {
        address: s("address").ok_or("a resource change has no address")?,
        module: s("module_address").unwrap_or_default(),
        kind: s("kind").unwrap_or_default(),
        name: s("name").unwrap_or_default(),
        cloud: s("cloud"),
        provider: s("provider"),
        action: action_from_json(&c["actions"])?,
        before,
        after,
        replace_paths: c["replace_paths"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| {
                        p.as_array()
                            .map(|p| {
                                p.iter()
                                    .filter_map(|x| x.as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default(),
        reason: c["reason"].as_str().and_then(reason_from_code),
        reason_message: s("reason_message").unwrap_or_default(),
        sensitive_paths: c["sensitive_paths"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        depends_on: c["depends_on"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        importing: c["importing"]["id"].as_str().map(str::to_string),
        previous_address: c["previous_address"].as_str().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_plan_verifies_and_any_edit_is_refused() {
        let mut j = json!({ "format_version": "1.0", "resource_changes": [{ "after": { "max_nodes": 4 } }] });
        seal(&mut j);
        let text = serde_json::to_string_pretty(&j).unwrap();
        let back: Json = serde_json::from_str(&text).unwrap();
        assert!(verify(&back).is_ok());
        let edited: Json = serde_json::from_str(&text.replace("4", "40")).unwrap();
        assert!(verify(&edited).unwrap_err().contains("modified"));
        let mut unsealed = back.clone();
        unsealed.as_object_mut().unwrap().remove(DIGEST_FIELD);
        assert!(verify(&unsealed).unwrap_err().contains("no digest"));
    }
}
