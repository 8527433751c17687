//! Check objects against a CustomResourceDefinition's `openAPIV3Schema`: types, required
//! fields, unknown fields, enums, patterns, lengths and list limits, and each
//! `x-kubernetes-validations` CEL rule the Kueue CRDs declare, implemented here one by
//! one (a rule this file does not know is reported, never skipped). Transition rules
//! (those that read `oldSelf`) apply only to updates and are not checked.

use serde_json::{Map, Value as Json};

/// Parse YAML documents into JSON values (strings stay strings, plain numbers become
/// numbers, as Kubernetes reads them).
pub fn yaml_documents(text: &str) -> Result<Vec<Json>, String> {
    let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    Ok(docs.iter().map(to_json).collect())
}

fn to_json(y: &yaml_rust2::Yaml) -> Json {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .unwrap_or(Json::String(s.clone())),
        Yaml::Integer(i) => Json::from(*i),
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Boolean(b) => Json::Bool(*b),
        Yaml::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => format!("{other:?}"),
                };
                m.insert(key, to_json(v));
            }
            Json::Object(m)
        }
        _ => Json::Null,
    }
}

/// The kind and the `openAPIV3Schema` of `version` in a CRD file.
pub fn crd_schema(crd_yaml: &str, version: &str) -> Result<(String, Json), String> {
    let docs = yaml_documents(crd_yaml)?;
    let crd = docs.first().ok_or("empty CRD file")?;
    let kind = crd["spec"]["names"]["kind"]
        .as_str()
        .ok_or("the CRD has no spec.names.kind")?
        .to_string();
    let v = crd["spec"]["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["name"] == version))
        .ok_or_else(|| format!("the {kind} CRD has no version {version}"))?;
    Ok((kind, v["schema"]["openAPIV3Schema"].clone()))
}

/// The kind, version and `openAPIV3Schema` of the storage version of a CRD file.
pub fn crd_storage_schema(crd_yaml: &str) -> Result<(String, String, Json), String> {
    let docs = yaml_documents(crd_yaml)?;
    let crd = docs.first().ok_or("empty CRD file")?;
    let kind = crd["spec"]["names"]["kind"]
        .as_str()
        .ok_or("the CRD has no spec.names.kind")?
        .to_string();
    let v = crd["spec"]["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["storage"] == true))
        .ok_or_else(|| format!("the {kind} CRD has no storage version"))?;
    Ok((
        kind,
        v["name"].as_str().unwrap_or_default().to_string(),
        v["schema"]["openAPIV3Schema"].clone(),
    ))
}

/// Every way `obj` breaks `schema`, as "path: message".
pub fn check(schema: &Json, obj: &Json) -> Vec<String> {
    let mut errs = Vec::new();
    walk(schema, obj, "", true, &mut errs);
    errs
}

fn type_ok(ty: &str, v: &Json) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => true,
    }
}

fn walk(s: &Json, v: &Json, path: &str, root: bool, errs: &mut Vec<String>) {
    let at = if path.is_empty() { "." } else { path };
    if s["x-kubernetes-int-or-string"] == Json::Bool(true) {
        if !(v.is_i64() || v.is_u64() || v.is_string()) {
            errs.push(format!("{at}: expected an integer or a string"));
            return;
        }
    } else if let Some(ty) = s["type"].as_str() {
        if !type_ok(ty, v) {
            errs.push(format!("{at}: expected {ty}, found {v}"));
            return;
        }
    }
    if let Some(e) = s["enum"].as_array() {
        if !e.contains(v) {
            errs.push(format!(
                "{at}: {v} is not one of {}",
                Json::Array(e.clone())
            ));
        }
    }
    if let Some(st) = v.as_str() {
        if let Some(max) = s["maxLength"].as_u64() {
            if st.chars().count() as u64 > max {
                errs.push(format!("{at}: longer than {max} characters"));
            }
        }
        if let Some(p) = s["pattern"].as_str() {
            match regex_lite::Regex::new(p) {
                Ok(re) if !re.is_match(st) => {
                    errs.push(format!("{at}: \"{st}\" does not match {p}"))
                }
                Ok(_) => {}
                Err(e) => errs.push(format!(
                    "{at}: the schema's pattern {p} does not compile: {e}"
                )),
            }
        }
    }
    if let (Some(x), Some(min)) = (v.as_f64(), s["minimum"].as_f64()) {
        if x < min {
            errs.push(format!("{at}: {x} is below the minimum {min}"));
        }
    }
    if let (Some(x), Some(max)) = (v.as_f64(), s["maximum"].as_f64()) {
        if x > max {
            errs.push(format!("{at}: {x} is above the maximum {max}"));
        }
    }
    if let (Some(i), Some("int32")) = (v.as_i64(), s["format"].as_str()) {
        if i32::try_from(i).is_err() {
            errs.push(format!("{at}: {i} does not fit in 32 bits"));
        }
    }
    if let Some(m) = v.as_object() {
        let props = s["properties"].as_object();
        for r in s["required"].as_array().into_iter().flatten() {
            if let Some(k) = r.as_str() {
                if !m.contains_key(k) {
                    errs.push(format!("{at}: missing required field {k}"));
                }
            }
        }
        if let Some(max) = s["maxProperties"].as_u64() {
            if m.len() as u64 > max {
                errs.push(format!("{at}: more than {max} entries"));
            }
        }
        let preserve = s["x-kubernetes-preserve-unknown-fields"] == Json::Bool(true);
        for (k, x) in m {
            let child = format!("{path}.{k}");
            if let Some(ps) = props.and_then(|p| p.get(k)) {
                // metadata is checked by the API server itself, not by the CRD schema.
                if root && k == "metadata" {
                    continue;
                }
                walk(ps, x, &child, false, errs);
            } else if s["additionalProperties"].is_object() {
                walk(&s["additionalProperties"], x, &child, false, errs);
            } else if !preserve
                && (props.is_some() || s["type"] == "object")
                && !(root && k == "metadata")
            {
                errs.push(format!("{child}: unknown field"));
            }
        }
    }
    if let Some(a) = v.as_array() {
        if let Some(max) = s["maxItems"].as_u64() {
            if a.len() as u64 > max {
                errs.push(format!("{at}: more than {max} items"));
            }
        }
        if let Some(min) = s["minItems"].as_u64() {
            if (a.len() as u64) < min {
                errs.push(format!("{at}: fewer than {min} items"));
            }
        }
        match s["x-kubernetes-list-type"].as_str() {
            Some("set") => {
                for (i, x) in a.iter().enumerate() {
                    if a[..i].contains(x) {
                        errs.push(format!("{at}[{i}]: duplicate item {x} in a set"));
                    }
                }
            }
            Some("map") => {
                let keys: Vec<&str> = s["x-kubernetes-list-map-keys"]
                    .as_array()
                    .map(|k| k.iter().filter_map(Json::as_str).collect())
                    .unwrap_or_else(|| vec!["name"]);
                for (i, x) in a.iter().enumerate() {
                    let id: Vec<&Json> = keys.iter().map(|k| &x[*k]).collect();
                    if a[..i]
                        .iter()
                        .any(|y| keys.iter().map(|k| &y[*k]).collect::<Vec<_>>() == id)
                    {
                        errs.push(format!("{at}[{i}]: duplicate key {id:?} in a map list"));
                    }
                }
            }
            _ => {}
        }
        for (i, x) in a.iter().enumerate() {
            walk(&s["items"], x, &format!("{path}[{i}]"), false, errs);
        }
    }
    for rule in s["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let text = rule["rule"].as_str().unwrap_or_default();
        let message = rule["message"].as_str().unwrap_or(text);
        if text.contains("oldSelf") {
            continue;
        }
        match evaluate_rule(text, v) {
            Some(true) => {}
            Some(false) => errs.push(format!("{at}: {message}")),
            None => errs.push(format!("{at}: validation rule not implemented: {text}")),
        }
    }
}

fn has(v: &Json, k: &str) -> bool {
    v.get(k).is_some_and(|x| !x.is_null())
}

fn each(v: &Json) -> impl Iterator<Item = &Json> {
    v.as_array().into_iter().flatten()
}

const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// The keys of a map, or the strings of a list (CEL's `all` over either).
fn keys(v: &Json) -> Box<dyn Iterator<Item = &str> + '_> {
    match v {
        Json::Object(m) => Box::new(m.keys().map(String::as_str)),
        Json::Array(a) => Box::new(a.iter().filter_map(Json::as_str)),
        _ => Box::new(std::iter::empty()),
    }
}

/// Karpenter reserves the `karpenter.sh` label domain but for two keys.
fn karpenter_key_ok(k: &str) -> bool {
    ["karpenter.sh/capacity-type", "karpenter.sh/nodepool"].contains(&k)
        || !k.split('/').next().unwrap_or(k).ends_with("karpenter.sh")
}

fn is_in(v: &Json, allowed: &[&str]) -> bool {
    v.as_str().is_some_and(|s| allowed.contains(&s))
}

/// The CEL rules of the Kueue v1beta2 CRDs, by their text (whitespace-insensitive).
fn evaluate_rule(rule: &str, v: &Json) -> Option<bool> {
    let norm: String = rule.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(match norm.as_str() {
        // ResourceFlavor.spec
        "!has(self.topologyName) || self.nodeLabels.size() >= 1" => {
            !has(v, "topologyName") || v["nodeLabels"].as_object().is_some_and(|m| !m.is_empty())
        }
        // ResourceFlavor.spec.nodeTaints
        "self.all(x, x.effect in ['NoSchedule', 'PreferNoSchedule', 'NoExecute'])" => {
            each(v).all(|x| is_in(&x["effect"], &EFFECTS))
        }
        // ResourceFlavor.spec.tolerations
        "self.all(x, !has(x.key) ? x.operator == 'Exists' : true)" => {
            each(v).all(|x| has(x, "key") || x["operator"] == "Exists")
        }
        "self.all(x, has(x.tolerationSeconds) ? x.effect == 'NoExecute' : true)" => {
            each(v).all(|x| !has(x, "tolerationSeconds") || x["effect"] == "NoExecute")
        }
        "self.all(x, !has(x.operator) || x.operator in ['Equal', 'Exists'])" => {
            each(v).all(|x| !has(x, "operator") || is_in(&x["operator"], &["Equal", "Exists"]))
        }
        "self.all(x, has(x.operator) && x.operator == 'Exists' ? !has(x.value) : true)" => {
            each(v).all(|x| !(x["operator"] == "Exists") || !has(x, "value"))
        }
        "self.all(x, !has(x.effect) || x.effect in ['NoSchedule', 'PreferNoSchedule', 'NoExecute'])" => {
            each(v).all(|x| !has(x, "effect") || is_in(&x["effect"], &EFFECTS))
        }
        // ClusterQueue.spec (v1beta2 names the cohort cohortName; v1beta1 cohort)
        "!has(self.cohortName) && has(self.resourceGroups) ? self.resourceGroups.all(rg, rg.flavors.all(f, f.resources.all(r, !has(r.borrowingLimit)))) : true" => {
            has(v, "cohortName")
                || !has(v, "resourceGroups")
                || each(&v["resourceGroups"]).all(|rg| {
                    each(&rg["flavors"])
                        .all(|f| each(&f["resources"]).all(|r| !has(r, "borrowingLimit")))
                })
        }
        "!has(self.cohort) && has(self.resourceGroups) ? self.resourceGroups.all(rg, rg.flavors.all(f, f.resources.all(r, !has(r.borrowingLimit)))) : true" => {
            has(v, "cohort")
                || !has(v, "resourceGroups")
                || each(&v["resourceGroups"]).all(|rg| {
                    each(&rg["flavors"])
                        .all(|f| each(&f["resources"]).all(|r| !has(r, "borrowingLimit")))
                })
        }
        // ClusterQueue.spec.flavorFungibility
        "!has(self.preference) || (self.whenCanBorrow == 'TryNextFlavor' && self.whenCanPreempt == 'TryNextFlavor')" => {
            !has(v, "preference")
                || (v["whenCanBorrow"] == "TryNextFlavor" && v["whenCanPreempt"] == "TryNextFlavor")
        }
        // ClusterQueue.spec.preemption
        "!(self.reclaimWithinCohort == 'Never' && has(self.borrowWithinCohort) && self.borrowWithinCohort.policy != 'Never')" => {
            !(v["reclaimWithinCohort"] == "Never"
                && has(v, "borrowWithinCohort")
                && v["borrowWithinCohort"]["policy"] != "Never")
        }
        // Karpenter NodePool.spec
        "!has(self.replicas) || (!has(self.limits) || size(self.limits) == 0 || (size(self.limits) == 1 && 'nodes' in self.limits))" => {
            !has(v, "replicas")
                || v["limits"].as_object().is_none_or(|l| l.is_empty() || (l.len() == 1 && l.contains_key("nodes")))
        }
        "!has(self.replicas) || !has(self.weight)" => !has(v, "replicas") || !has(v, "weight"),
        "self.all(x, has(x.schedule) == has(x.duration))" => {
            each(v).all(|x| has(x, "schedule") == has(x, "duration"))
        }
        // Karpenter: label keys (a map iterates its keys) and requirement keys.
        "self.all(x, x in [\"karpenter.sh/capacity-type\", \"karpenter.sh/nodepool\"] || !x.find(\"^([^/]+)\").endsWith(\"karpenter.sh\"))" => {
            keys(v).all(karpenter_key_ok)
        }
        "self.all(x, x != \"karpenter.sh/nodepool\")" => keys(v).all(|k| k != "karpenter.sh/nodepool"),
        "self.all(x, x != \"kubernetes.io/hostname\")" => keys(v).all(|k| k != "kubernetes.io/hostname"),
        "self in [\"karpenter.sh/capacity-type\", \"karpenter.sh/nodepool\"] || !self.find(\"^([^/]+)\").endsWith(\"karpenter.sh\")" => {
            v.as_str().is_some_and(karpenter_key_ok)
        }
        "self != \"karpenter.sh/nodepool\"" => v != "karpenter.sh/nodepool",
        "self != \"kubernetes.io/hostname\"" => v != "kubernetes.io/hostname",
        "self != ''" => v != "",
        "self.all(x, x.operator == 'In' ? x.values.size() != 0 : true)" => {
            each(v).all(|x| x["operator"] != "In" || x["values"].as_array().is_some_and(|a| !a.is_empty()))
        }
        "self.all(x, (x.operator == 'Gt' || x.operator == 'Lt' || x.operator == 'Gte' || x.operator == 'Lte') ? (x.values.size() == 1 && int(x.values[0]) >= 0) : true)" => {
            each(v).all(|x| {
                !is_in(&x["operator"], &["Gt", "Lt", "Gte", "Lte"])
                    || x["values"].as_array().is_some_and(|a| {
                        a.len() == 1 && a[0].as_str().and_then(|s| s.parse::<i64>().ok()).is_some_and(|n| n >= 0)
                    })
            })
        }
        "self.all(x, (x.operator == 'In' && has(x.minValues)) ? x.values.size() >= x.minValues : true)" => {
            each(v).all(|x| {
                !(x["operator"] == "In" && has(x, "minValues"))
                    || x["values"].as_array().map(Vec::len).unwrap_or(0) as u64 >= x["minValues"].as_u64().unwrap_or(0)
            })
        }
        // ClusterQueue / Cohort .spec.resourceGroups[]
        "self.flavors.all(x, size(x.resources) == size(self.coveredResources))" => {
            let covered = v["coveredResources"].as_array().map(Vec::len).unwrap_or(0);
            each(&v["flavors"]).all(|f| f["resources"].as_array().map(Vec::len).unwrap_or(0) == covered)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(r: &str, v: Json) -> Option<bool> {
        evaluate_rule(r, &v)
    }

    #[test]
    fn each_kueue_rule_accepts_and_refuses() {
        let cq = "!has(self.cohortName) && has(self.resourceGroups) ? self.resourceGroups.all(rg,\n rg.flavors.all(f, f.resources.all(r, !has(r.borrowingLimit)))) : true";
        let rg = json!([{"flavors": [{"resources": [{"name": "nvidia.com/gpu", "borrowingLimit": 4}]}]}]);
        assert_eq!(rule(cq, json!({"resourceGroups": rg})), Some(false));
        assert_eq!(
            rule(cq, json!({"cohortName": "ml", "resourceGroups": rg})),
            Some(true)
        );
        let size = "self.flavors.all(x, size(x.resources) == size(self.coveredResources))";
        assert_eq!(
            rule(
                size,
                json!({"coveredResources": ["a"], "flavors": [{"resources": [1]}]})
            ),
            Some(true)
        );
        assert_eq!(
            rule(
                size,
                json!({"coveredResources": ["a", "b"], "flavors": [{"resources": [1]}]})
            ),
            Some(false)
        );
        let pre = "!(self.reclaimWithinCohort == 'Never' && has(self.borrowWithinCohort) &&  self.borrowWithinCohort.policy != 'Never')";
        assert_eq!(
            rule(
                pre,
                json!({"reclaimWithinCohort": "Never", "borrowWithinCohort": {"policy": "LowerPriority"}})
            ),
            Some(false)
        );
        assert_eq!(
            rule(
                pre,
                json!({"reclaimWithinCohort": "Any", "borrowWithinCohort": {"policy": "LowerPriority"}})
            ),
            Some(true)
        );
        let fung = "!has(self.preference) || (self.whenCanBorrow == 'TryNextFlavor'\n && self.whenCanPreempt == 'TryNextFlavor')";
        assert_eq!(
            rule(
                fung,
                json!({"preference": "BorrowingOverPreemption", "whenCanBorrow": "MayStopSearch"})
            ),
            Some(false)
        );
        assert_eq!(rule(fung, json!({})), Some(true));
        let taint = "self.all(x, x.effect in ['NoSchedule', 'PreferNoSchedule', 'NoExecute'])";
        assert_eq!(
            rule(taint, json!([{"key": "a", "effect": "NoSchedule"}])),
            Some(true)
        );
        assert_eq!(
            rule(taint, json!([{"key": "a", "effect": "Sometimes"}])),
            Some(false)
        );
        let tol_key = "self.all(x, !has(x.key) ? x.operator == 'Exists' : true)";
        assert_eq!(rule(tol_key, json!([{"operator": "Equal"}])), Some(false));
        assert_eq!(rule(tol_key, json!([{"operator": "Exists"}])), Some(true));
        let tol_secs = "self.all(x, has(x.tolerationSeconds) ? x.effect == 'NoExecute' : true)";
        assert_eq!(
            rule(
                tol_secs,
                json!([{"key": "a", "tolerationSeconds": 5, "effect": "NoSchedule"}])
            ),
            Some(false)
        );
        let tol_op = "self.all(x, !has(x.operator) || x.operator in ['Equal', 'Exists'])";
        assert_eq!(
            rule(tol_op, json!([{"key": "a", "operator": "Matches"}])),
            Some(false)
        );
        let tol_val =
            "self.all(x, has(x.operator) && x.operator == 'Exists' ? !has(x.value) : true)";
        assert_eq!(
            rule(
                tol_val,
                json!([{"key": "a", "operator": "Exists", "value": "x"}])
            ),
            Some(false)
        );
        assert_eq!(
            rule(
                tol_val,
                json!([{"key": "a", "operator": "Equal", "value": "x"}])
            ),
            Some(true)
        );
        let tol_eff = "self.all(x, !has(x.effect) || x.effect in ['NoSchedule', 'PreferNoSchedule', 'NoExecute'])";
        assert_eq!(
            rule(tol_eff, json!([{"key": "a", "effect": "Never"}])),
            Some(false)
        );
        let topo = "!has(self.topologyName) || self.nodeLabels.size() >= 1";
        assert_eq!(rule(topo, json!({"topologyName": "t"})), Some(false));
        assert_eq!(
            rule(topo, json!({"topologyName": "t", "nodeLabels": {"a": "b"}})),
            Some(true)
        );
        assert_eq!(
            rule("self.size() > 3", json!([])),
            None,
            "an unknown rule is reported"
        );
    }

    #[test]
    fn each_karpenter_rule_accepts_and_refuses() {
        let domain = "self.all(x, x in [\"karpenter.sh/capacity-type\", \"karpenter.sh/nodepool\"] || !x.find(\"^([^/]+)\").endsWith(\"karpenter.sh\"))";
        assert_eq!(rule(domain, json!({"mlinfra.dev/pool": "a"})), Some(true));
        assert_eq!(
            rule(domain, json!({"karpenter.sh/custom": "a"})),
            Some(false)
        );
        assert_eq!(
            rule(domain, json!({"karpenter.sh/capacity-type": "spot"})),
            Some(true)
        );
        let key = "self in [\"karpenter.sh/capacity-type\", \"karpenter.sh/nodepool\"] || !self.find(\"^([^/]+)\").endsWith(\"karpenter.sh\")";
        assert_eq!(
            rule(key, json!("node.kubernetes.io/instance-type")),
            Some(true)
        );
        assert_eq!(rule(key, json!("x.karpenter.sh/foo")), Some(false));
        assert_eq!(
            rule(
                "self != \"kubernetes.io/hostname\"",
                json!("kubernetes.io/hostname")
            ),
            Some(false)
        );
        assert_eq!(
            rule(
                "self.all(x, x != \"karpenter.sh/nodepool\")",
                json!({"karpenter.sh/nodepool": "x"})
            ),
            Some(false)
        );
        assert_eq!(rule("self != ''", json!("")), Some(false));
        let in_values = "self.all(x, x.operator == 'In' ? x.values.size() != 0 : true)";
        assert_eq!(
            rule(
                in_values,
                json!([{"key": "a", "operator": "In", "values": []}])
            ),
            Some(false)
        );
        assert_eq!(
            rule(
                in_values,
                json!([{"key": "a", "operator": "In", "values": ["b"]}])
            ),
            Some(true)
        );
        let gt = "self.all(x, (x.operator == 'Gt' || x.operator == 'Lt' || x.operator == 'Gte' || x.operator == 'Lte') ? (x.values.size() == 1 && int(x.values[0]) >= 0) : true)";
        assert_eq!(
            rule(gt, json!([{"key": "a", "operator": "Gt", "values": ["4"]}])),
            Some(true)
        );
        assert_eq!(
            rule(gt, json!([{"key": "a", "operator": "Gt", "values": ["x"]}])),
            Some(false)
        );
        let minv = "self.all(x, (x.operator == 'In' && has(x.minValues)) ? x.values.size() >= x.minValues : true)";
        assert_eq!(
            rule(
                minv,
                json!([{"key": "a", "operator": "In", "values": ["b"], "minValues": 2}])
            ),
            Some(false)
        );
        let limits = "!has(self.replicas) || (!has(self.limits) || size(self.limits) == 0 || (size(self.limits) == 1 && 'nodes' in self.limits))";
        assert_eq!(
            rule(
                limits,
                json!({"replicas": 2, "limits": {"nvidia.com/gpu": 8}})
            ),
            Some(false)
        );
        assert_eq!(
            rule(limits, json!({"limits": {"nvidia.com/gpu": 8}})),
            Some(true)
        );
        assert_eq!(
            rule(
                "!has(self.replicas) || !has(self.weight)",
                json!({"replicas": 1, "weight": 2})
            ),
            Some(false)
        );
        assert_eq!(
            rule(
                "self.all(x, has(x.schedule) == has(x.duration))",
                json!([{"schedule": "@daily"}])
            ),
            Some(false)
        );
    }

    #[test]
    fn structure_types_required_and_unknown_fields() {
        let schema = json!({
            "type": "object",
            "required": ["value"],
            "properties": {
                "value": {"type": "integer", "format": "int32"},
                "name": {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 1},
                "list": {"type": "array", "maxItems": 1, "x-kubernetes-list-type": "map", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                "q": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}
            }
        });
        assert!(check(
            &schema,
            &json!({"value": 1, "name": "ab", "labels": {"a": "b"}, "q": "4"})
        )
        .is_empty());
        let errs = check(
            &schema,
            &json!({"name": "ABCD", "extra": 1, "labels": {"a": "b", "c": "d"}, "value": 5_000_000_000i64, "q": true, "list": [{"name": "x"}, {"name": "x"}]}),
        );
        for want in [
            "longer than 3",
            "does not match",
            ".extra: unknown field",
            "more than 1 entries",
            "does not fit in 32 bits",
            "integer or a string",
            "more than 1 items",
            "duplicate key",
        ] {
            assert!(errs.iter().any(|e| e.contains(want)), "{want} in {errs:?}");
        }
        let errs = check(&schema, &json!({}));
        assert!(
            errs.iter()
                .any(|e| e.contains("missing required field value")),
            "{errs:?}"
        );
    }
}
