//! `feature_store` → an Azure ML workspace of kind FeatureStore, a feature store entity per
//! record id, and a feature set per `feature_group` (Microsoft.MachineLearningServices).
//!
//! The workspace keeps its files in the storage account of the offline container
//! (`offline.bucket`: a container's ARM id, as `bucket.NAME.id` gives it, or
//! `ACCOUNT/CONTAINER`). Group `G` is feature set `G`; its record id is entity `RECORD_ID`
//! (version 1, one index column). A feature set version is a specification,
//! `FeatureSetSpec.yaml`, that mlinfra writes to
//! `{offline}/{prefix}/featuresets/G/{version}/` through the Blob data plane (JSON, which
//! YAML readers take), and Azure ML reads it to list the version's features. Versions are
//! immutable: adding a feature writes version N+1 beside N, and the plan says so.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use mlinfra_provider_api::wait::deadline;
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;
use serde_json::{json, Value as Json};

use crate::attrs::{acted_on, get_named, last_segment, read_back, str_attr, tags_value};
use crate::clients::Clients;
use crate::ml_registry::API;

/// The workspace tag that records where the offline store is (`ACCOUNT/CONTAINER/PREFIX`).
pub const OFFLINE_TAG: &str = "mlinfra-offline";

/// An Azure ML workspace name: 3–33 letters, digits, '-' and '_', starting with a letter
/// or digit.
pub fn check_name(name: &str) -> Result<(), String> {
    crate::ml_registry::check_ml_name("feature store", name)
}

/// (account, container) of `offline.bucket`: a container's ARM id or `ACCOUNT/CONTAINER`.
pub fn offline_of(bucket: &str) -> Result<(String, String), String> {
    crate::storage::split_id(bucket).ok_or_else(|| {
        format!("offline.bucket = \"{bucket}\" does not say which storage account holds the container: on Azure give the container's id (bucket.NAME.id) or \"ACCOUNT/CONTAINER\"")
    })
}

/// A feature type as an Azure ML FeatureDataType.
pub fn data_type(t: &str) -> Option<&'static str> {
    Some(match t.to_ascii_lowercase().as_str() {
        "string" => "string",
        "int" | "integer" | "long" => "long",
        "float" | "double" => "double",
        "bool" | "boolean" => "boolean",
        "datetime" | "timestamp" => "datetime",
        "binary" | "bytes" => "binary",
        _ => return None,
    })
}

/// A FeatureDataType as the manifest's type, keeping the recorded spelling when it means
/// the same.
fn type_name(live: &str, recorded: Option<&str>) -> String {
    let live = live.to_ascii_lowercase();
    if let Some(r) = recorded {
        if data_type(r).is_some_and(|d| d == data_type(&live).unwrap_or("")) {
            return r.to_string();
        }
    }
    match live.as_str() {
        "long" | "integer" => "int",
        "double" | "float" => "float",
        "boolean" => "bool",
        other => return other.to_string(),
    }
    .to_string()
}

/// One `feature_group` as planned.
#[derive(Clone, Debug, PartialEq)]
struct Group {
    label: String,
    record_id: String,
    event_time: String,
    features: BTreeMap<String, String>,
    description: Option<String>,
}

fn groups(a: &Attributes) -> Vec<Group> {
    let Some(m) = a.get("feature_group").and_then(Value::as_map) else {
        return Vec::new();
    };
    m.iter()
        .filter_map(|(label, g)| {
            let g = g.as_map()?;
            let s = |k: &str| g.get(k).and_then(Value::as_str).map(str::to_string);
            Some(Group {
                label: label.clone(),
                record_id: s("record_id").unwrap_or_default(),
                event_time: s("event_time").unwrap_or_default(),
                features: g
                    .get("features")
                    .and_then(Value::as_map)
                    .map(|f| {
                        f.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("string").to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
                description: s("description"),
            })
        })
        .collect()
}

impl Group {
    /// The features of the feature set: every feature but the record id and event time
    /// (the index column and the timestamp column).
    fn feature_columns(&self) -> impl Iterator<Item = (&String, &String)> {
        self.features
            .iter()
            .filter(|(k, _)| **k != self.record_id && **k != self.event_time)
    }

    fn record_type(&self) -> &'static str {
        self.features
            .get(&self.record_id)
            .and_then(|t| data_type(t))
            .unwrap_or("string")
    }
}

/// Where the offline store and the specifications live.
struct Offline {
    account: String,
    container: String,
    prefix: String,
}

fn offline(a: &Attributes) -> Result<Offline, ProviderError> {
    let m = a.get("offline").and_then(Value::as_map);
    let bucket = m
        .and_then(|m| m.get("bucket"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ProviderError::invalid("an Azure feature store needs offline { bucket = … }")
        })?;
    let (account, container) = offline_of(bucket).map_err(ProviderError::invalid)?;
    let prefix = m
        .and_then(|m| m.get("prefix"))
        .and_then(Value::as_str)
        .unwrap_or("features")
        .trim_matches('/')
        .to_string();
    Ok(Offline {
        account,
        container,
        prefix,
    })
}

fn workspace_path(c: &Clients, name: &str) -> String {
    c.path(
        "Microsoft.MachineLearningServices",
        &format!("workspaces/{name}"),
    )
}

fn account_path(c: &Clients, account: &str) -> String {
    c.path("Microsoft.Storage", &format!("storageAccounts/{account}"))
}

/// The account's blob endpoint, as ARM gives it (`https://ACCOUNT.blob.core.windows.net/`).
async fn blob_endpoint(c: &Clients, account: &str) -> Result<String, ProviderError> {
    let a = c
        .arm
        .get(&account_path(c, account), crate::storage::API)
        .await?
        .ok_or_else(|| {
            ProviderError::invalid(format!(
                "the offline store's storage account {account} does not exist in resource group {}",
                c.resource_group
            ))
        })?;
    let ep = a
        .pointer("/properties/primaryEndpoints/blob")
        .and_then(Json::as_str)
        .unwrap_or_default();
    Ok(format!("{}/", ep.trim_end_matches('/')))
}

/// The folder URL of version `v` of group `label`'s specification.
fn spec_folder(blob: &str, o: &Offline, label: &str, v: u64) -> String {
    let prefix = if o.prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", o.prefix)
    };
    format!("{blob}{}/{prefix}featuresets/{label}/{v}", o.container)
}

/// `FeatureSetSpec.yaml` of group `g`: the source (the group's folder of the offline
/// store, parquet), its timestamp column, features and index column.
fn spec_document(blob: &str, o: &Offline, g: &Group) -> Json {
    let prefix = if o.prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", o.prefix)
    };
    let features: Vec<Json> = g
        .feature_columns()
        .map(|(n, t)| json!({ "name": n, "type": data_type(t).unwrap_or("string") }))
        .collect();
    json!({
        "$schema": "http://azureml/sdk-2-0/FeatureSetSpec.json",
        "source": {
            "type": "parquet",
            "path": format!("{blob}{}/{prefix}data/{}/", o.container, g.label),
            "timestamp_column": { "name": g.event_time },
        },
        "features": features,
        "index_columns": [{ "name": g.record_id, "type": g.record_type() }],
    })
}

fn entity_ref(g: &Group) -> String {
    format!("azureml:{}:1", g.record_id)
}

/// The version numbers of feature set `label`, lowest first.
async fn versions(c: &Clients, ws: &str, label: &str) -> Result<Vec<u64>, ProviderError> {
    let mut out: Vec<u64> = c
        .arm
        .names(&format!("{ws}/featuresets/{label}/versions"), API)
        .await?
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// The names of every feature set in the workspace.
async fn featuresets(c: &Clients, ws: &str) -> Result<Vec<String>, ProviderError> {
    c.arm.names(&format!("{ws}/featuresets"), API).await
}

/// Writes version `v` of group `g`: its entity (once), its specification, then the version.
async fn write_version(
    c: &Clients,
    ws: &str,
    (blob, o): (&str, &Offline),
    g: &Group,
    v: u64,
    limit: Instant,
) -> Result<(), ProviderError> {
    let entity = format!("{ws}/featurestoreEntities/{}/versions/1", g.record_id);
    if c.arm.get(&entity, API).await?.is_none() {
        let body = json!({ "properties": {
            "indexColumns": [{ "columnName": g.record_id, "dataType": capital(g.record_type()) }],
        }});
        c.arm.put(&entity, API, &body, limit).await?;
    }
    let folder = spec_folder(blob, o, &g.label, v);
    let spec = serde_json::to_vec_pretty(&spec_document(blob, o, g)).unwrap_or_default();
    c.put_blob(&format!("{folder}/FeatureSetSpec.yaml"), spec)
        .await?;
    let mut props = serde_json::Map::new();
    props.insert("entities".into(), json!([entity_ref(g)]));
    props.insert("specification".into(), json!({ "path": folder }));
    props.insert(
        "materializationSettings".into(),
        json!({ "storeType": "None" }),
    );
    if let Some(d) = &g.description {
        props.insert("description".into(), json!(d));
    }
    c.arm
        .put(
            &format!("{ws}/featuresets/{}/versions/{v}", g.label),
            API,
            &json!({ "properties": props }),
            limit,
        )
        .await?;
    Ok(())
}

fn capital(t: &str) -> String {
    let mut s = t.to_string();
    if let Some(f) = s.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    s
}

/// Deletes feature set `label` with its versions and their specifications.
async fn delete_group(
    c: &Clients,
    ws: &str,
    (blob, o): (&str, &Offline),
    label: &str,
    limit: Instant,
) -> Result<(), ProviderError> {
    for v in versions(c, ws, label).await? {
        c.arm
            .delete(
                &format!("{ws}/featuresets/{label}/versions/{v}"),
                API,
                limit,
            )
            .await?;
        let folder = spec_folder(blob, o, label, v);
        c.delete_blob(&format!("{folder}/FeatureSetSpec.yaml"))
            .await?;
    }
    c.arm
        .delete(&format!("{ws}/featuresets/{label}"), API, limit)
        .await
}

fn workspace_body(c: &Clients, name: &str, p: &Attributes, o: &Offline) -> Json {
    let mut tags = crate::attrs::tags_json(p);
    tags[OFFLINE_TAG] = json!(format!("{}/{}/{}", o.account, o.container, o.prefix));
    json!({
        "location": c.location,
        "kind": "FeatureStore",
        "identity": { "type": "SystemAssigned" },
        "tags": tags,
        "properties": {
            "friendlyName": name,
            "storageAccount": account_path(c, &o.account),
            "systemDatastoresAuthMode": "Identity",
            "publicNetworkAccess": "Enabled",
            "featureStoreSettings": { "computeRuntime": { "sparkRuntimeVersion": "3.4" } },
        },
    })
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let limit = deadline(req.timeout_seconds, Duration::from_secs(3600));
    let p = &req.planned;
    let prior = req.prior.as_ref().unwrap_or(p);
    let name = acted_on(req, "feature store")?.to_string();
    let ws = workspace_path(c, &name);
    match req.action {
        ApplyAction::Create => {
            let o = offline(p)?;
            c.ensure_group(limit).await?;
            let exists = c.arm.get(&ws, API).await?.is_some();
            if exists && !req.adopt_existing {
                return Err(already_exists(
                    &format!("Azure ML feature store {name}"),
                    &name,
                ));
            }
            c.arm
                .put(&ws, API, &workspace_body(c, &name, p, &o), limit)
                .await?;
            let blob = blob_endpoint(c, &o.account).await?;
            for g in groups(p) {
                // A retried create finds the versions a killed run wrote: the newest stays
                // when it says what is planned.
                let have = versions(c, &ws, &g.label).await?;
                let live = match have.last() {
                    Some(v) => live_features(c, &ws, &g.label, *v).await?,
                    None => None,
                };
                let wanted: BTreeMap<String, String> = g
                    .feature_columns()
                    .map(|(k, t)| (k.clone(), data_type(t).unwrap_or("string").to_string()))
                    .collect();
                if live.as_ref() != Some(&wanted) {
                    let v = have.last().map_or(1, |v| v + 1);
                    write_version(c, &ws, (&blob, &o), &g, v, limit).await?;
                }
            }
        }
        ApplyAction::Update => {
            let o = offline(p)?;
            c.arm
                .put(&ws, API, &workspace_body(c, &name, p, &o), limit)
                .await?;
            let blob = blob_endpoint(c, &o.account).await?;
            let was: BTreeMap<String, Group> = groups(prior)
                .into_iter()
                .map(|g| (g.label.clone(), g))
                .collect();
            let want = groups(p);
            for g in &want {
                if was.get(&g.label) == Some(g) {
                    continue;
                }
                let have = versions(c, &ws, &g.label).await?;
                let v = have.last().map_or(1, |v| v + 1);
                write_version(c, &ws, (&blob, &o), g, v, limit).await?;
            }
            let kept: BTreeSet<&str> = want.iter().map(|g| g.label.as_str()).collect();
            for label in was.keys().filter(|l| !kept.contains(l.as_str())) {
                delete_group(c, &ws, (&blob, &o), label, limit).await?;
            }
            // An entity no planned group keys on any more goes too.
            let keys: BTreeSet<&str> = want.iter().map(|g| g.record_id.as_str()).collect();
            for g in was
                .values()
                .filter(|g| !keys.contains(g.record_id.as_str()))
            {
                let e = format!("{ws}/featurestoreEntities/{}", g.record_id);
                c.arm.delete(&format!("{e}/versions/1"), API, limit).await?;
                c.arm.delete(&e, API, limit).await?;
            }
        }
        ApplyAction::Delete => {
            if c.arm.get(&ws, API).await?.is_some() {
                if let Ok(o) = offline(prior) {
                    if let Ok(blob) = blob_endpoint(c, &o.account).await {
                        for label in featuresets(c, &ws).await? {
                            delete_group(c, &ws, (&blob, &o), &label, limit).await?;
                        }
                    }
                }
                // Purged, not soft-deleted: the name is free for the next create at once.
                c.arm
                    .delete(&format!("{ws}?forceToPurge=true"), API, limit)
                    .await?;
            }
            return Ok(ApplyResponse::default());
        }
    }
    read_back(
        read(c, &name, p).await?,
        &format!("Azure ML feature store {name}"),
    )
}

/// The features Azure ML read from version `v` of `label`'s specification, as
/// FeatureDataType names in lower case; `None` when the version is not there.
async fn live_features(
    c: &Clients,
    ws: &str,
    label: &str,
    v: u64,
) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
    let Some(list) = c
        .arm
        .get(
            &format!("{ws}/featuresets/{label}/versions/{v}/features"),
            API,
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(
        list.get("value")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| {
                let p = f.get("properties")?;
                Some((
                    p.get("featureName")?.as_str()?.to_string(),
                    p.get("dataType")
                        .and_then(Json::as_str)
                        .unwrap_or("String")
                        .to_ascii_lowercase(),
                ))
            })
            .collect(),
    ))
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let name = last_segment(id);
    let ws = workspace_path(c, name);
    let Some((w, mut attrs)) = get_named(c, &ws, API, prior, name).await? else {
        return Ok(ReadResponse::Gone);
    };
    let mut tags = w.get("tags").cloned().unwrap_or_default();
    let offline_tag = tags
        .as_object_mut()
        .and_then(|t| t.remove(OFFLINE_TAG))
        .and_then(|v| v.as_str().map(str::to_string));
    attrs.insert("tags".into(), tags_value(Some(&tags)));
    // Where the offline store is: as recorded (either form), or (on import) as the
    // workspace's tag says, written as the container's ARM id.
    if prior.get("offline").and_then(Value::as_map).is_none() {
        if let Some(t) = &offline_tag {
            let mut parts = t.splitn(3, '/');
            let (a, ct, pre) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            let mut m = BTreeMap::new();
            // As `bucket.NAME.id` gives it: the container's ARM id.
            let bucket = format!(
                "{}/blobServices/default/containers/{ct}",
                account_path(c, a)
            );
            m.insert("bucket".to_string(), Value::from(bucket));
            m.insert("prefix".to_string(), Value::from(pre));
            attrs.insert("offline".into(), Value::Map(m));
        }
    }
    if prior.get("online").and_then(Value::as_map).is_none() {
        let mut m = BTreeMap::new();
        m.insert("enabled".to_string(), Value::Bool(false));
        m.insert("ttl".to_string(), Value::Null);
        attrs.insert("online".into(), Value::Map(m));
    }
    let recorded: BTreeMap<String, Group> = groups(prior)
        .into_iter()
        .map(|g| (g.label.clone(), g))
        .collect();
    let labels: Vec<String> = if recorded.is_empty() {
        featuresets(c, &ws).await?
    } else {
        recorded.keys().cloned().collect()
    };
    let prior_groups = prior
        .get("feature_group")
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default();
    let mut found = BTreeMap::new();
    for label in labels {
        let Some(v) = versions(c, &ws, &label).await?.last().copied() else {
            continue;
        };
        let Some(ver) = c
            .arm
            .get(&format!("{ws}/featuresets/{label}/versions/{v}"), API)
            .await?
        else {
            continue;
        };
        let props = ver.get("properties").cloned().unwrap_or_default();
        let was = recorded.get(&label);
        let was_map = prior_groups
            .get(&label)
            .and_then(Value::as_map)
            .cloned()
            .unwrap_or_default();
        // The record id: the index column of the version's entity.
        let entity = props
            .pointer("/entities/0")
            .and_then(Json::as_str)
            .and_then(|e| e.strip_prefix("azureml:"))
            .and_then(|e| e.rsplit_once(':'))
            .map(|(n, ver)| format!("{ws}/featurestoreEntities/{n}/versions/{ver}"));
        let column = match entity {
            Some(e) => c.arm.get(&e, API).await?.and_then(|e| {
                let col = e.pointer("/properties/indexColumns/0")?;
                Some((
                    col.get("columnName")?.as_str()?.to_string(),
                    col.get("dataType")
                        .and_then(Json::as_str)
                        .unwrap_or("String")
                        .to_string(),
                ))
            }),
            None => None,
        };
        let (record_id, record_type) = column.unwrap_or_default();
        // The event time: the specification's timestamp column, as mlinfra wrote it.
        let spec_url = props
            .pointer("/specification/path")
            .and_then(Json::as_str)
            .map(|f| format!("{}/FeatureSetSpec.yaml", f.trim_end_matches('/')));
        let spec: Option<Json> = match &spec_url {
            Some(u) => c
                .get_blob(u)
                .await?
                .and_then(|b| serde_json::from_slice(&b).ok()),
            None => None,
        };
        let event_time = spec
            .as_ref()
            .and_then(|s| s.pointer("/source/timestamp_column/name"))
            .and_then(Json::as_str)
            .map(str::to_string)
            .or_else(|| was.map(|g| g.event_time.clone()))
            .unwrap_or_default();
        let recorded_type = |f: &str| was.and_then(|g| g.features.get(f)).map(String::as_str);
        let mut features: BTreeMap<String, Value> = BTreeMap::new();
        for (f, t) in live_features(c, &ws, &label, v).await?.unwrap_or_default() {
            features.insert(f.clone(), Value::from(type_name(&t, recorded_type(&f))));
        }
        if !record_id.is_empty() {
            features.insert(
                record_id.clone(),
                Value::from(type_name(&record_type, recorded_type(&record_id))),
            );
        }
        // The event time is the timestamp column, not a feature: its type stays as recorded.
        if !event_time.is_empty() {
            let t = recorded_type(&event_time).unwrap_or("string");
            features.insert(event_time.clone(), Value::from(t));
        }
        let mut m = was_map;
        m.insert("record_id".into(), Value::from(record_id.as_str()));
        m.insert("event_time".into(), Value::from(event_time.as_str()));
        m.insert("features".into(), Value::Map(features));
        m.insert(
            "description".into(),
            props
                .get("description")
                .and_then(Json::as_str)
                .map_or(Value::Null, Value::from),
        );
        m.entry("bigquery_source".to_string())
            .or_insert(Value::Null);
        found.insert(label, Value::Map(m));
    }
    attrs.insert("feature_group".into(), Value::Map(found));
    if str_attr(&attrs, "cloud").is_none() {
        attrs.insert("cloud".into(), Value::from("azure"));
    }
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_offline_stores_and_types() {
        assert!(check_name("fraud-features").is_ok());
        assert!(check_name("ab").is_err());
        assert!(check_name("-fraud").is_err());
        assert_eq!(
            offline_of("acmefeatures/offline").unwrap(),
            ("acmefeatures".to_string(), "offline".to_string())
        );
        assert!(offline_of("offline")
            .unwrap_err()
            .contains("bucket.NAME.id"));
        assert_eq!(data_type("float"), Some("double"));
        assert_eq!(data_type("int"), Some("long"));
        assert_eq!(data_type("vector"), None);
        assert_eq!(type_name("long", Some("int")), "int");
        assert_eq!(type_name("double", None), "float");
        assert_eq!(type_name("string", Some("float")), "string");
    }

    #[test]
    fn a_specification_holds_the_features_but_the_keys() {
        let g = Group {
            label: "transactions".into(),
            record_id: "account_id".into(),
            event_time: "ts".into(),
            features: BTreeMap::from([
                ("account_id".to_string(), "string".to_string()),
                ("ts".to_string(), "string".to_string()),
                ("amount".to_string(), "float".to_string()),
                ("count_7d".to_string(), "int".to_string()),
            ]),
            description: None,
        };
        let o = Offline {
            account: "acme".into(),
            container: "offline".into(),
            prefix: "features".into(),
        };
        let blob = "https://acme.blob.core.windows.net/";
        let s = spec_document(blob, &o, &g);
        assert_eq!(
            s["features"],
            json!([{"name": "amount", "type": "double"}, {"name": "count_7d", "type": "long"}])
        );
        assert_eq!(
            s["index_columns"],
            json!([{"name": "account_id", "type": "string"}])
        );
        assert_eq!(s["source"]["timestamp_column"]["name"], "ts");
        assert_eq!(
            spec_folder(blob, &o, "transactions", 2),
            "https://acme.blob.core.windows.net/offline/features/featuresets/transactions/2"
        );
        assert_eq!(entity_ref(&g), "azureml:account_id:1");
        assert_eq!(capital("long"), "Long");
    }
}
