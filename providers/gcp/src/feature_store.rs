//! `feature_store` → Vertex AI Feature Store: a FeatureOnlineStore (Bigtable serving, a
//! fixed node count), and per `feature_group` a FeatureGroup over a BigQuery table with a
//! Feature per column and, when online, a FeatureView that serves them.
//!
//! Object ids: the online store is the store's name; feature group `G` is `STORE__G`
//! (feature groups share one namespace per project and region); its view is `G` inside
//! the online store. The record id is the group's entity id column and the event time its
//! timestamp column, so neither is a Feature of its own. Adding a feature is in place: a
//! new Feature, and the view's source widened.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use google_cloud_aiplatform_v1::model::feature::ValueType;
use google_cloud_aiplatform_v1::model::feature_group::big_query::TimeSeries;
use google_cloud_aiplatform_v1::model::feature_group::BigQuery;
use google_cloud_aiplatform_v1::model::feature_online_store::bigtable::AutoScaling;
use google_cloud_aiplatform_v1::model::feature_online_store::Bigtable;
use google_cloud_aiplatform_v1::model::feature_view::feature_registry_source::FeatureGroup as ViewGroup;
use google_cloud_aiplatform_v1::model::feature_view::FeatureRegistrySource;
use google_cloud_aiplatform_v1::model::{
    BigQuerySource, Feature, FeatureGroup, FeatureOnlineStore, FeatureView,
};
use google_cloud_longrunning::model::Operation;
use google_cloud_wkt::FieldMask;
use mlinfra_provider_api::wait::deadline;
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;

use crate::attrs::{labels_of, name_of, named, read_back, str_attr, tags_value};
use crate::clients::Clients;
use crate::errors::{classify, is_not_found};
use crate::lro;

/// Vertex AI's id rule for online stores, feature groups, views and features.
pub fn check_id(what: &str, id: &str) -> Result<(), String> {
    let ok = (1..=60).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{id}\" is not a valid Vertex AI {what} id: use up to 60 lowercase letters, digits and '_', starting with a letter or '_' (no '-': write acme_prod_features)"
        ))
    }
}

/// The feature group id of group `label` in store `store`.
pub fn group_id(store: &str, label: &str) -> String {
    format!("{store}__{label}")
}

fn value_type(t: &str) -> ValueType {
    match t {
        "float" | "double" => ValueType::Double,
        "int" | "integer" => ValueType::Int64,
        "bool" => ValueType::Bool,
        _ => ValueType::String,
    }
}

fn type_name(v: &ValueType) -> &'static str {
    match v {
        ValueType::Double => "float",
        ValueType::Int64 => "int",
        ValueType::Bool => "bool",
        _ => "string",
    }
}

/// One `feature_group` block as planned.
struct Group {
    label: String,
    record_id: String,
    event_time: String,
    features: BTreeMap<String, String>,
    description: String,
    source: Option<String>,
}

fn groups(a: &Attributes) -> Vec<Group> {
    let Some(m) = a.get("feature_group").and_then(Value::as_map) else {
        return Vec::new();
    };
    m.iter()
        .filter_map(|(label, g)| {
            let g = g.as_map()?;
            let s = |k: &str| {
                g.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            Some(Group {
                label: label.clone(),
                record_id: s("record_id"),
                event_time: s("event_time"),
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
                source: g
                    .get("bigquery_source")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect()
}

impl Group {
    /// The columns that are Features: every feature but the record id and event time.
    fn feature_columns(&self) -> impl Iterator<Item = (&String, &String)> {
        self.features
            .iter()
            .filter(|(k, _)| **k != self.record_id && **k != self.event_time)
    }
}

fn online(a: &Attributes) -> Option<u32> {
    let m = a.get("online").and_then(Value::as_map)?;
    if m.get("enabled").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    Some(
        m.get("nodes")
            .and_then(Value::as_f64)
            .unwrap_or(1.0)
            .max(1.0) as u32,
    )
}

fn default_source(c: &Clients, store: &str, label: &str) -> String {
    format!("bq://{}.{store}.{label}", c.project)
}

fn store_name(c: &Clients, store: &str) -> String {
    format!("{}/featureOnlineStores/{store}", c.location(&c.region))
}

fn group_name(c: &Clients, id: &str) -> String {
    format!("{}/featureGroups/{id}", c.location(&c.region))
}

fn online_store(
    c: &Clients,
    store: &str,
    nodes: u32,
    labels: &BTreeMap<String, String>,
) -> FeatureOnlineStore {
    FeatureOnlineStore::new()
        .set_name(store_name(c, store))
        .set_labels(labels.clone())
        .set_bigtable(
            Bigtable::new().set_auto_scaling(
                AutoScaling::new()
                    .set_min_node_count(nodes as i32)
                    .set_max_node_count(nodes as i32),
            ),
        )
}

fn view(c: &Clients, store: &str, g: &Group, labels: &BTreeMap<String, String>) -> FeatureView {
    FeatureView::new()
        .set_name(format!("{}/featureViews/{}", store_name(c, store), g.label))
        .set_labels(labels.clone())
        .set_feature_registry_source(
            FeatureRegistrySource::new().set_feature_groups([ViewGroup::new()
                .set_feature_group_id(group_id(store, &g.label))
                .set_feature_ids(g.feature_columns().map(|(k, _)| k.clone()))]),
        )
}

async fn op_online(c: &Clients, name: String) -> Result<Operation, ProviderError> {
    c.online_stores
        .get_operation()
        .set_name(&name)
        .send()
        .await
        .map_err(|e| classify(&format!("reading operation {name}"), e))
}

async fn op_registry(c: &Clients, name: String) -> Result<Operation, ProviderError> {
    c.feature_registry
        .get_operation()
        .set_name(&name)
        .send()
        .await
        .map_err(|e| classify(&format!("reading operation {name}"), e))
}

/// What a create call answered: an operation to wait for, or an object already there.
enum Made {
    Started(Operation),
    Exists,
}

fn made(doing: &str, r: google_cloud_gax::Result<Operation>) -> Result<Made, ProviderError> {
    match r {
        Ok(op) => Ok(Made::Started(op)),
        Err(e) => {
            let err = classify(doing, e);
            if err.kind == ErrorKind::AlreadyExists {
                Ok(Made::Exists)
            } else {
                Err(err)
            }
        }
    }
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let limit = deadline(req.timeout_seconds, Duration::from_secs(3600));
    let store = name_of(&req.planned, "feature_store")?.to_string();
    match req.action {
        ApplyAction::Create | ApplyAction::Update => {
            let prior = req.prior.as_ref();
            converge(
                c,
                &store,
                &req.planned,
                prior,
                req.action == ApplyAction::Create && !req.adopt_existing,
                limit,
            )
            .await?;
            read_back(
                read(c, &store, &req.planned).await?,
                Some(store.as_ref()),
                &format!("Vertex AI feature store {store}"),
            )
        }
        ApplyAction::Delete => {
            let prior = req.prior.as_ref().unwrap_or(&req.planned);
            delete(c, &store, prior, limit).await?;
            Ok(ApplyResponse::default())
        }
    }
}

/// Create what is missing and bring the rest to what is planned. With `fresh`, an
/// object already there is someone else's and the create stops.
async fn converge(
    c: &Clients,
    store: &str,
    planned: &Attributes,
    prior: Option<&Attributes>,
    fresh: bool,
    limit: Instant,
) -> Result<(), ProviderError> {
    let labels = labels_of(planned);
    let taken = |what: &str, name: &str| already_exists(&format!("Vertex AI {what} {name}"), store);
    // Groups the manifest no longer has: their view, then the group with its features.
    let keep: BTreeSet<String> = groups(planned).into_iter().map(|g| g.label).collect();
    let gone: Vec<String> = prior
        .and_then(|p| p.get("feature_group"))
        .and_then(Value::as_map)
        .map(|m| m.keys().filter(|k| !keep.contains(*k)).cloned().collect())
        .unwrap_or_default();
    for label in gone {
        let vname = format!("{}/featureViews/{label}", store_name(c, store));
        match c
            .online_stores
            .delete_feature_view()
            .set_name(&vname)
            .send()
            .await
        {
            Ok(op) => {
                lro::done(
                    &format!("Vertex AI feature view {vname} to be deleted"),
                    limit,
                    op,
                    |n| op_online(c, n),
                )
                .await?;
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(classify(
                    &format!("deleting Vertex AI feature view {vname}"),
                    e,
                ))
            }
        }
        let name = group_name(c, &group_id(store, &label));
        match c
            .feature_registry
            .delete_feature_group()
            .set_name(&name)
            .set_force(true)
            .send()
            .await
        {
            Ok(op) => {
                lro::done(
                    &format!("Vertex AI feature group {name} to be deleted"),
                    limit,
                    op,
                    |n| op_registry(c, n),
                )
                .await?;
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(classify(
                    &format!("deleting Vertex AI feature group {name}"),
                    e,
                ))
            }
        }
    }
    // Feature groups and their features first: a feature view must name existing ones.
    for g in groups(planned) {
        let id = group_id(store, &g.label);
        let name = group_name(c, &id);
        let source = g
            .source
            .clone()
            .unwrap_or_else(|| default_source(c, store, &g.label));
        let group = FeatureGroup::new()
            .set_labels(labels.clone())
            .set_description(g.description.clone())
            .set_big_query(
                BigQuery::new()
                    .set_big_query_source(BigQuerySource::new().set_input_uri(source))
                    .set_entity_id_columns([g.record_id.clone()])
                    .set_time_series(TimeSeries::new().set_timestamp_column(g.event_time.clone())),
            );
        let doing = format!("creating Vertex AI feature group {name}");
        match made(
            &doing,
            c.feature_registry
                .create_feature_group()
                .set_parent(c.location(&c.region))
                .set_feature_group_id(&id)
                .set_feature_group(group.clone())
                .send()
                .await,
        )? {
            Made::Started(op) => {
                lro::done(
                    &format!("Vertex AI feature group {name} to be created"),
                    limit,
                    op,
                    |n| op_registry(c, n),
                )
                .await?;
            }
            Made::Exists if fresh => return Err(taken("feature group", &name)),
            Made::Exists => {
                let op = c
                    .feature_registry
                    .update_feature_group()
                    .set_feature_group(group.set_name(&name))
                    .set_update_mask(FieldMask::default().set_paths(["labels", "description"]))
                    .send()
                    .await
                    .map_err(|e| {
                        classify(&format!("updating Vertex AI feature group {name}"), e)
                    })?;
                lro::done(
                    &format!("Vertex AI feature group {name} to be updated"),
                    limit,
                    op,
                    |n| op_registry(c, n),
                )
                .await?;
            }
        }
        let have: BTreeSet<String> = list_features(c, &name)
            .await?
            .into_iter()
            .map(|f| short(&f.name).to_string())
            .collect();
        for (f, t) in g.feature_columns() {
            if have.contains(f) {
                continue;
            }
            let doing = format!("creating feature {f} of Vertex AI feature group {name}");
            if let Made::Started(op) = made(
                &doing,
                c.feature_registry
                    .create_feature()
                    .set_parent(&name)
                    .set_feature_id(f)
                    .set_feature(Feature::new().set_value_type(value_type(t)))
                    .send()
                    .await,
            )? {
                lro::done(
                    &format!("feature {f} of {name} to be created"),
                    limit,
                    op,
                    |n| op_registry(c, n),
                )
                .await?;
            }
        }
    }
    // The online store and a view per group.
    let Some(nodes) = online(planned) else {
        return Ok(());
    };
    let sname = store_name(c, store);
    let doing = format!("creating Vertex AI feature online store {sname}");
    match made(
        &doing,
        c.online_stores
            .create_feature_online_store()
            .set_parent(c.location(&c.region))
            .set_feature_online_store_id(store)
            .set_feature_online_store(online_store(c, store, nodes, &labels))
            .send()
            .await,
    )? {
        Made::Started(op) => {
            lro::done(
                &format!("Vertex AI feature online store {sname} to be created"),
                limit,
                op,
                |n| op_online(c, n),
            )
            .await?;
        }
        Made::Exists if fresh => return Err(taken("feature online store", &sname)),
        Made::Exists => {
            let was = prior.and_then(online);
            if was != Some(nodes) || prior.map(labels_of) != Some(labels.clone()) {
                let op = c
                    .online_stores
                    .update_feature_online_store()
                    .set_feature_online_store(online_store(c, store, nodes, &labels))
                    .set_update_mask(
                        FieldMask::default().set_paths(["labels", "bigtable.auto_scaling"]),
                    )
                    .send()
                    .await
                    .map_err(|e| {
                        classify(
                            &format!("updating Vertex AI feature online store {sname}"),
                            e,
                        )
                    })?;
                lro::done(
                    &format!("Vertex AI feature online store {sname} to be updated"),
                    limit,
                    op,
                    |n| op_online(c, n),
                )
                .await?;
            }
        }
    }
    for g in groups(planned) {
        let v = view(c, store, &g, &labels);
        let vname = v.name.clone();
        let doing = format!("creating Vertex AI feature view {vname}");
        match made(
            &doing,
            c.online_stores
                .create_feature_view()
                .set_parent(&sname)
                .set_feature_view_id(&g.label)
                .set_feature_view(v.clone())
                .send()
                .await,
        )? {
            Made::Started(op) => {
                lro::done(
                    &format!("Vertex AI feature view {vname} to be created"),
                    limit,
                    op,
                    |n| op_online(c, n),
                )
                .await?;
            }
            Made::Exists => {
                let op = c
                    .online_stores
                    .update_feature_view()
                    .set_feature_view(v)
                    .set_update_mask(
                        FieldMask::default().set_paths(["labels", "feature_registry_source"]),
                    )
                    .send()
                    .await
                    .map_err(|e| {
                        classify(&format!("updating Vertex AI feature view {vname}"), e)
                    })?;
                lro::done(
                    &format!("Vertex AI feature view {vname} to be updated"),
                    limit,
                    op,
                    |n| op_online(c, n),
                )
                .await?;
            }
        }
    }
    Ok(())
}

fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

async fn list_features(c: &Clients, group: &str) -> Result<Vec<Feature>, ProviderError> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .feature_registry
            .list_features()
            .set_parent(group)
            .set_page_token(&token)
            .send()
            .await
            .map_err(|e| classify(&format!("listing features of {group}"), e))?;
        out.extend(page.features);
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        token = page.next_page_token;
    }
}

/// The feature group labels of this store: the recorded ones, else (on import) every
/// group named `STORE__…`.
async fn labels_in(
    c: &Clients,
    store: &str,
    prior: &Attributes,
) -> Result<Vec<String>, ProviderError> {
    let recorded: Vec<String> = prior
        .get("feature_group")
        .and_then(Value::as_map)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    if !recorded.is_empty() {
        return Ok(recorded);
    }
    let prefix = format!("{store}__");
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .feature_registry
            .list_feature_groups()
            .set_parent(c.location(&c.region))
            .set_page_token(&token)
            .send()
            .await
            .map_err(|e| classify("listing Vertex AI feature groups", e))?;
        for g in page.feature_groups {
            if let Some(label) = short(&g.name).strip_prefix(&prefix) {
                out.push(label.to_string());
            }
        }
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        token = page.next_page_token;
    }
}

async fn delete(
    c: &Clients,
    store: &str,
    prior: &Attributes,
    limit: Instant,
) -> Result<(), ProviderError> {
    let sname = store_name(c, store);
    // The online store with its views (force), then the groups with their features.
    match c
        .online_stores
        .delete_feature_online_store()
        .set_name(&sname)
        .set_force(true)
        .send()
        .await
    {
        Ok(op) => {
            lro::done(
                &format!("Vertex AI feature online store {sname} to be deleted"),
                limit,
                op,
                |n| op_online(c, n),
            )
            .await?;
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => {
            return Err(classify(
                &format!("deleting Vertex AI feature online store {sname}"),
                e,
            ))
        }
    }
    for label in labels_in(c, store, prior).await? {
        let name = group_name(c, &group_id(store, &label));
        match c
            .feature_registry
            .delete_feature_group()
            .set_name(&name)
            .set_force(true)
            .send()
            .await
        {
            Ok(op) => {
                lro::done(
                    &format!("Vertex AI feature group {name} to be deleted"),
                    limit,
                    op,
                    |n| op_registry(c, n),
                )
                .await?;
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(classify(
                    &format!("deleting Vertex AI feature group {name}"),
                    e,
                ))
            }
        }
    }
    Ok(())
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let store = short(id).to_string();
    let mut attrs = named(prior, &store, &store);
    let prior_groups = prior
        .get("feature_group")
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default();
    let mut found = BTreeMap::new();
    let mut labels = None;
    for label in labels_in(c, &store, prior).await? {
        let name = group_name(c, &group_id(&store, &label));
        let g = match c
            .feature_registry
            .get_feature_group()
            .set_name(&name)
            .send()
            .await
        {
            Ok(g) => g,
            Err(e) if is_not_found(&e) => continue,
            Err(e) => {
                return Err(classify(
                    &format!("reading Vertex AI feature group {name}"),
                    e,
                ))
            }
        };
        let was = prior_groups
            .get(&label)
            .and_then(Value::as_map)
            .cloned()
            .unwrap_or_default();
        let bq = g.big_query();
        let record_id = bq
            .and_then(|b| b.entity_id_columns.first().cloned())
            .unwrap_or_default();
        let event_time = bq
            .and_then(|b| b.time_series.as_ref())
            .map(|t| t.timestamp_column.clone())
            .unwrap_or_default();
        let source = bq
            .and_then(|b| b.big_query_source.as_ref())
            .map(|s| s.input_uri.clone())
            .unwrap_or_default();
        let was_features = was
            .get("features")
            .and_then(Value::as_map)
            .cloned()
            .unwrap_or_default();
        let mut features: BTreeMap<String, Value> = BTreeMap::new();
        for f in list_features(c, &name).await? {
            features.insert(
                short(&f.name).to_string(),
                Value::from(type_name(&f.value_type)),
            );
        }
        // The id and time columns are no Features on Vertex AI; their types stay as recorded.
        for col in [&record_id, &event_time] {
            if !col.is_empty() {
                let t = was_features
                    .get(col.as_str())
                    .cloned()
                    .unwrap_or_else(|| Value::from("string"));
                features.insert(col.clone(), t);
            }
        }
        let mut m = BTreeMap::new();
        m.insert("record_id".into(), Value::from(record_id.as_str()));
        m.insert("event_time".into(), Value::from(event_time.as_str()));
        m.insert("features".into(), Value::Map(features));
        m.insert(
            "description".into(),
            if g.description.is_empty() {
                Value::Null
            } else {
                Value::from(g.description.as_str())
            },
        );
        // A source left to its default reads back as unset, as it was written.
        m.insert(
            "bigquery_source".into(),
            if source == default_source(c, &store, &label)
                && !matches!(was.get("bigquery_source"), Some(Value::String(_)))
            {
                Value::Null
            } else {
                Value::from(source.as_str())
            },
        );
        found.insert(label, Value::Map(m));
        if labels.is_none() {
            labels = Some(g.labels.clone());
        }
    }
    let sname = store_name(c, &store);
    let online_store = match c
        .online_stores
        .get_feature_online_store()
        .set_name(&sname)
        .send()
        .await
    {
        Ok(s) => Some(s),
        Err(e) if is_not_found(&e) => None,
        Err(e) => {
            return Err(classify(
                &format!("reading Vertex AI feature online store {sname}"),
                e,
            ))
        }
    };
    if found.is_empty() && online_store.is_none() {
        return Ok(ReadResponse::Gone);
    }
    attrs.insert("feature_group".into(), Value::Map(found));
    let prior_online = prior.get("online").and_then(Value::as_map).cloned();
    let online_value = match &online_store {
        Some(s) => {
            let mut m = prior_online.clone().unwrap_or_default();
            m.insert("enabled".into(), Value::Bool(true));
            let nodes = s
                .bigtable()
                .and_then(|b| b.auto_scaling.as_ref())
                .map(|a| a.min_node_count as f64);
            if let Some(n) = nodes {
                m.insert("nodes".into(), Value::from(n));
            }
            m.entry("ttl".to_string()).or_insert(Value::Null);
            if labels.is_none() {
                labels = Some(s.labels.clone());
            }
            Value::Map(m)
        }
        None => match prior_online {
            Some(m) if m.get("enabled") == Some(&Value::Bool(false)) => Value::Map(m),
            _ => Value::Null,
        },
    };
    attrs.insert("online".into(), online_value);
    if let Some(l) = labels {
        attrs.insert("tags".into(), tags_value(&l));
    }
    // Vertex AI reads offline data from each group's BigQuery table: the offline block
    // stays as recorded.
    if str_attr(&attrs, "cloud").is_none() {
        attrs.insert("cloud".into(), Value::from("gcp"));
    }
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vertex_ids() {
        assert!(check_id("feature online store", "fraud").is_ok());
        assert!(check_id("feature online store", "acme_prod_features").is_ok());
        assert!(check_id("feature online store", "acme-prod").is_err());
        assert!(check_id("feature", "1amount").is_err());
        assert!(check_id("feature", &"a".repeat(61)).is_err());
        assert_eq!(type_name(&value_type("float")), "float");
        assert_eq!(type_name(&value_type("int")), "int");
        assert_eq!(type_name(&value_type("string")), "string");
    }
}
