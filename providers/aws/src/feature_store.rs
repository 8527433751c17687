//! `feature_store` → one SageMaker feature group per `feature_group` block, named
//! `STORE-GROUP`, with the offline store on the bucket and the online store flag and TTL.
//!
//! In place: feature groups added or removed, features added (UpdateFeatureGroup
//! FeatureAdditions), the online TTL (UpdateFeatureGroup OnlineStoreConfig) and tags.
//! Removing or retyping a feature forces replacement (the plan decides that from the
//! schema's append-only rule). The id is the store name.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mlinfra_provider_api::wait::{self, Poll};

use aws_sdk_sagemaker::types::{
    FeatureDefinition, FeatureGroupStatus, FeatureType, OfflineStoreConfig, OnlineStoreConfig,
    OnlineStoreConfigUpdate, S3StorageConfig, TtlDuration, TtlDurationUnit,
};
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;

use crate::attrs::{invalid, str_attr};
use crate::clients::Clients;
use crate::errors::classify;
use crate::sagemaker::{check_name, is_existing, is_missing, read_tags, sdk_tags, update_tags};

/// One `feature_group` block.
#[derive(Clone, Debug, PartialEq)]
struct Group {
    record_id: String,
    event_time: String,
    /// Feature name → manifest type (`string`, `float`, `int`).
    features: BTreeMap<String, String>,
    description: Option<String>,
}

fn groups(a: &Attributes) -> BTreeMap<String, Group> {
    let Some(Value::Map(m)) = a.get("feature_group") else {
        return BTreeMap::new();
    };
    m.iter()
        .filter_map(|(label, g)| {
            let g = g.as_map()?;
            let s = |k: &str| g.get(k).and_then(Value::as_str).map(str::to_string);
            Some((
                label.clone(),
                Group {
                    record_id: s("record_id")?,
                    event_time: s("event_time")?,
                    features: g
                        .get("features")
                        .and_then(Value::as_map)
                        .map(|f| {
                            f.iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.as_str().unwrap_or_default().to_string())
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    description: s("description"),
                },
            ))
        })
        .collect()
}

fn block<'a>(a: &'a Attributes, name: &str) -> Option<&'a BTreeMap<String, Value>> {
    a.get(name).and_then(Value::as_map)
}

fn online_enabled(a: &Attributes) -> bool {
    block(a, "online")
        .map(|o| o.get("enabled").and_then(Value::as_bool).unwrap_or(true))
        .unwrap_or(false)
}

fn ttl_of(a: &Attributes) -> Option<String> {
    block(a, "online")
        .and_then(|o| o.get("ttl"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// `7d` → (Days, 7). Units: s, m, h, d, w.
fn parse_ttl(ttl: &str) -> Result<TtlDuration, ProviderError> {
    let bad = || {
        invalid(format!(
            "online.ttl \"{ttl}\" is not a duration: use a whole number and a unit, e.g. \"12h\", \"7d\" (s, m, h, d, w)"
        ))
    };
    let (num, unit) = ttl.split_at(ttl.len().saturating_sub(1));
    let value: i32 = num.parse().map_err(|_| bad())?;
    if value < 1 {
        return Err(bad());
    }
    let unit = match unit {
        "s" => TtlDurationUnit::Seconds,
        "m" => TtlDurationUnit::Minutes,
        "h" => TtlDurationUnit::Hours,
        "d" => TtlDurationUnit::Days,
        "w" => TtlDurationUnit::Weeks,
        _ => return Err(bad()),
    };
    Ok(TtlDuration::builder().unit(unit).value(value).build())
}

fn format_ttl(t: &TtlDuration) -> Option<String> {
    let unit = match t.unit()? {
        TtlDurationUnit::Seconds => "s",
        TtlDurationUnit::Minutes => "m",
        TtlDurationUnit::Hours => "h",
        TtlDurationUnit::Days => "d",
        TtlDurationUnit::Weeks => "w",
        _ => return None,
    };
    Some(format!("{}{unit}", t.value()?))
}

fn feature_type(group: &str, name: &str, ty: &str) -> Result<FeatureType, ProviderError> {
    match ty {
        "string" => Ok(FeatureType::String),
        "float" => Ok(FeatureType::Fractional),
        "int" => Ok(FeatureType::Integral),
        other => Err(invalid(format!(
            "feature {name} of feature_group \"{group}\" has type \"{other}\"; SageMaker feature types are string, float and int"
        ))),
    }
}

fn type_name(t: &FeatureType) -> &'static str {
    match t {
        FeatureType::Fractional => "float",
        FeatureType::Integral => "int",
        _ => "string",
    }
}

fn definitions<'a>(
    label: &str,
    features: impl Iterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<FeatureDefinition>, ProviderError> {
    features
        .map(|(name, ty)| {
            Ok(FeatureDefinition::builder()
                .feature_name(name)
                .feature_type(feature_type(label, name, ty)?)
                .build())
        })
        .collect()
}

fn group_name(store: &str, label: &str) -> String {
    format!("{store}-{label}")
}

fn store_name(req: &ApplyRequest) -> Result<String, ProviderError> {
    str_attr(&req.planned, "name")
        .or_else(|| req.prior.as_ref().and_then(|p| str_attr(p, "name")))
        .map(str::to_string)
        .ok_or_else(|| invalid("feature_store has no name".into()))
}

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let store = store_name(req)?;
    let deadline = wait::deadline(req.timeout_seconds, Duration::from_secs(30 * 60));
    let prior = req.prior.clone().unwrap_or_default();
    let had = if req.action == ApplyAction::Create {
        BTreeMap::new()
    } else {
        groups(&prior)
    };
    let want = if req.action == ApplyAction::Delete {
        BTreeMap::new()
    } else {
        groups(&req.planned)
    };
    // Removed groups first, then new and changed ones.
    for label in had.keys().filter(|l| !want.contains_key(*l)) {
        delete_group(c, &group_name(&store, label), deadline).await?;
    }
    if req.action == ApplyAction::Delete {
        return Ok(ApplyResponse::default());
    }
    for (label, g) in &want {
        let name = group_name(&store, label);
        match had.get(label) {
            None => create_group(c, req, &name, label, g).await?,
            Some(old) => {
                let added: Vec<(&String, &String)> = g
                    .features
                    .iter()
                    .filter(|(k, _)| !old.features.contains_key(*k))
                    .collect();
                let ttl_changed = ttl_of(&prior) != ttl_of(&req.planned);
                if !added.is_empty() || ttl_changed {
                    let online = if ttl_changed && online_enabled(&req.planned) {
                        Some(
                            OnlineStoreConfigUpdate::builder()
                                .set_ttl_duration(
                                    ttl_of(&req.planned).as_deref().map(parse_ttl).transpose()?,
                                )
                                .build(),
                        )
                    } else {
                        None
                    };
                    c.sagemaker
                        .update_feature_group()
                        .feature_group_name(&name)
                        .set_feature_additions(
                            Some(definitions(label, added.into_iter())?).filter(|d| !d.is_empty()),
                        )
                        .set_online_store_config(online)
                        .send()
                        .await
                        .map_err(|e| classify(&format!("updating feature group {name}"), e))?;
                }
                if let Some(arn) = describe(c, &name)
                    .await?
                    .and_then(|d| d.feature_group_arn().map(str::to_string))
                {
                    update_tags(c, &arn, &prior, &req.planned).await?;
                }
            }
        }
        wait_created(c, &name, deadline).await?;
    }
    match read(c, &store, &req.planned).await? {
        ReadResponse::Found { attributes } => Ok(ApplyResponse {
            id: Some(store),
            attributes: Some(attributes),
        }),
        ReadResponse::Gone => Err(ProviderError::new(
            ErrorKind::Transient,
            format!("the feature groups of {store} are not visible yet"),
        )),
    }
}

async fn create_group(
    c: &Clients,
    req: &ApplyRequest,
    name: &str,
    label: &str,
    g: &Group,
) -> Result<(), ProviderError> {
    check_name("feature group", name)?;
    let p = &req.planned;
    for f in [&g.record_id, &g.event_time] {
        if !g.features.contains_key(f) {
            return Err(invalid(format!(
                "feature_group \"{label}\": {f} must also be one of its features"
            )));
        }
    }
    let offline = block(p, "offline").and_then(|o| {
        let bucket = o.get("bucket").and_then(Value::as_str)?;
        let prefix = o
            .get("prefix")
            .and_then(Value::as_str)
            .unwrap_or("features")
            .trim_matches('/');
        Some(
            OfflineStoreConfig::builder()
                .s3_storage_config(
                    S3StorageConfig::builder()
                        .s3_uri(format!("s3://{bucket}/{prefix}"))
                        .build(),
                )
                .build(),
        )
    });
    let role = str_attr(p, "role_arn").map(str::to_string);
    if offline.is_some() && role.is_none() {
        return Err(invalid(
            "a feature store with an offline store needs role_arn (the IAM role SageMaker writes the bucket as)".into(),
        ));
    }
    let online = online_enabled(p).then(|| -> Result<OnlineStoreConfig, ProviderError> {
        Ok(OnlineStoreConfig::builder()
            .enable_online_store(true)
            .set_ttl_duration(ttl_of(p).as_deref().map(parse_ttl).transpose()?)
            .build())
    });
    let call = c
        .sagemaker
        .create_feature_group()
        .feature_group_name(name)
        .record_identifier_feature_name(&g.record_id)
        .event_time_feature_name(&g.event_time)
        .set_feature_definitions(Some(definitions(label, g.features.iter())?))
        .set_online_store_config(online.transpose()?)
        .set_offline_store_config(offline)
        .set_role_arn(role)
        .set_description(g.description.clone())
        .set_tags(sdk_tags(p));
    if let Err(e) = call.send().await {
        let exists = e.as_service_error().is_some_and(is_existing);
        if !exists {
            return Err(classify(&format!("creating feature group {name}"), e));
        }
        // A group added by an update is named after a store this state manages, so a
        // failed update's retry may find it; a new store adopts only its own interrupted
        // create.
        if req.action == ApplyAction::Create && !req.adopt_existing {
            return Err(already_exists(
                &format!("SageMaker feature group {name}"),
                req.planned
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(name),
            ));
        }
    }
    Ok(())
}

async fn delete_group(c: &Clients, name: &str, deadline: Instant) -> Result<(), ProviderError> {
    match c
        .sagemaker
        .delete_feature_group()
        .feature_group_name(name)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(is_missing) => return Ok(()),
        Err(e) => return Err(classify(&format!("deleting feature group {name}"), e)),
    }
    wait::until_gone(&format!("feature group {name}"), deadline, || {
        describe(c, name)
    })
    .await?;
    Ok(())
}

async fn wait_created(c: &Clients, name: &str, deadline: Instant) -> Result<(), ProviderError> {
    wait::until(
        &format!("feature group {name} to be Created"),
        deadline,
        || async {
            let d = describe(c, name).await?;
            match d.as_ref().and_then(|d| d.feature_group_status().cloned()) {
                Some(FeatureGroupStatus::Created) => Ok(Poll::Ready(())),
                Some(FeatureGroupStatus::CreateFailed) => Err(invalid(format!(
                    "feature group {name} failed to create: {}",
                    d.as_ref()
                        .and_then(|d| d.failure_reason())
                        .unwrap_or("no reason given")
                ))),
                status => Ok(Poll::Pending(format!("{status:?}"))),
            }
        },
    )
    .await
}

type Described = aws_sdk_sagemaker::operation::describe_feature_group::DescribeFeatureGroupOutput;

async fn describe(c: &Clients, name: &str) -> Result<Option<Described>, ProviderError> {
    match c
        .sagemaker
        .describe_feature_group()
        .feature_group_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(is_missing) => Ok(None),
        Err(e) => Err(classify(&format!("reading feature group {name}"), e)),
    }
}

/// The labels of the store's groups: recorded ones, or (import) every `STORE-*` group.
async fn labels(
    c: &Clients,
    store: &str,
    prior: &Attributes,
) -> Result<Vec<String>, ProviderError> {
    let recorded: Vec<String> = groups(prior).into_keys().collect();
    if !recorded.is_empty() {
        return Ok(recorded);
    }
    let prefix = format!("{store}-");
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .sagemaker
            .list_feature_groups()
            .name_contains(&prefix)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(&format!("listing the feature groups of {store}"), e))?;
        for s in page.feature_group_summaries() {
            if let Some(label) = s.feature_group_name().and_then(|n| n.strip_prefix(&prefix)) {
                out.push(label.to_string());
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let mut attrs = prior.clone();
    attrs.insert("cloud".into(), Value::from("aws"));
    attrs.insert("name".into(), Value::from(id));
    attrs.insert("id".into(), Value::from(id));
    let mut found = BTreeMap::new();
    let mut first: Option<Described> = None;
    for label in labels(c, id, prior).await? {
        let Some(d) = describe(c, &group_name(id, &label)).await? else {
            continue;
        };
        let mut g = BTreeMap::new();
        g.insert(
            "record_id".into(),
            Value::from(d.record_identifier_feature_name().unwrap_or_default()),
        );
        g.insert(
            "event_time".into(),
            Value::from(d.event_time_feature_name().unwrap_or_default()),
        );
        g.insert(
            "features".into(),
            Value::Map(
                d.feature_definitions()
                    .iter()
                    .filter_map(|f| {
                        Some((
                            f.feature_name()?.to_string(),
                            Value::from(type_name(f.feature_type()?)),
                        ))
                    })
                    .collect(),
            ),
        );
        g.insert(
            "description".into(),
            d.description().map(Value::from).unwrap_or(Value::Null),
        );
        found.insert(label, Value::Map(g));
        if first.is_none() {
            first = Some(d);
        }
    }
    // Nothing left of the store: deleted outside mlinfra.
    let Some(d) = first else {
        return Ok(ReadResponse::Gone);
    };
    attrs.insert("feature_group".into(), Value::Map(found));
    attrs.insert(
        "role_arn".into(),
        d.role_arn().map(Value::from).unwrap_or(Value::Null),
    );
    let offline = d
        .offline_store_config()
        .and_then(|o| o.s3_storage_config())
        .and_then(|s| s.s3_uri())
        .and_then(|uri| uri.strip_prefix("s3://"))
        .map(|rest| {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let mut m = BTreeMap::new();
            m.insert("bucket".into(), Value::from(bucket));
            m.insert("prefix".into(), Value::from(prefix));
            Value::Map(m)
        })
        .unwrap_or(Value::Null);
    attrs.insert("offline".into(), offline);
    let online = match d.online_store_config() {
        Some(o) if o.enable_online_store().unwrap_or(false) => {
            // Keep what the cloud does not hold (nodes is a Vertex AI setting).
            let mut m = block(prior, "online").cloned().unwrap_or_default();
            m.insert("enabled".into(), Value::Bool(true));
            m.insert(
                "ttl".into(),
                o.ttl_duration()
                    .and_then(format_ttl)
                    .map(Value::from)
                    .unwrap_or(Value::Null),
            );
            Value::Map(m)
        }
        // A manifest that says `enabled = false` and one without the block mean the same.
        _ => match block(prior, "online") {
            Some(m) if m.get("enabled") == Some(&Value::Bool(false)) => Value::Map(m.clone()),
            _ => Value::Null,
        },
    };
    attrs.insert("online".into(), online);
    if let Some(arn) = d.feature_group_arn() {
        attrs.insert("tags".into(), read_tags(c, arn).await?);
    }
    Ok(ReadResponse::Found { attributes: attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_round_trips() {
        for s in ["30s", "15m", "12h", "7d", "2w"] {
            assert_eq!(format_ttl(&parse_ttl(s).unwrap()).as_deref(), Some(s));
        }
        assert!(parse_ttl("7").is_err());
        assert!(parse_ttl("0d").is_err());
        assert!(parse_ttl("d").is_err());
        assert!(parse_ttl("7y").is_err());
    }
}
