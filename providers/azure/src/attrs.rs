//! Reading planned attributes, shared by every Azure kind.

use mlinfra_provider_api::{
    ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError, ReadResponse,
};
use mlinfra_schema::Value;
use serde_json::{Map, Value as Json};

pub fn str_attr<'a>(a: &'a Attributes, name: &str) -> Option<&'a str> {
    a.get(name).and_then(Value::as_str)
}

pub fn flag(a: &Attributes, name: &str, default: bool) -> bool {
    a.get(name).and_then(Value::as_bool).unwrap_or(default)
}

pub fn name_of<'a>(a: &'a Attributes, what: &str) -> Result<&'a str, ProviderError> {
    str_attr(a, "name").ok_or_else(|| ProviderError::invalid(format!("{what} has no name")))
}

/// The name an apply acts on: the planned `name` of a create, else the last segment of
/// the recorded id (what ARM calls the object, whatever the manifest says now).
pub fn acted_on<'a>(req: &'a ApplyRequest, what: &str) -> Result<&'a str, ProviderError> {
    let prior = req.prior.as_ref().unwrap_or(&req.planned);
    match (req.action, str_attr(prior, "id")) {
        (ApplyAction::Create, _) | (_, None) => name_of(&req.planned, what),
        (_, Some(id)) => Ok(last_segment(id)),
    }
}

/// The `tags` map as ARM's `tags` object.
pub fn tags_json(a: &Attributes) -> Json {
    let mut m = Map::new();
    for (k, v) in a.get("tags").and_then(Value::as_map).into_iter().flatten() {
        m.insert(
            k.clone(),
            Json::String(v.as_str().unwrap_or_default().to_string()),
        );
    }
    Json::Object(m)
}

/// ARM's `tags` (or a container's `metadata`) as the `tags` value.
pub fn tags_value(tags: Option<&Json>) -> Value {
    Value::Map(
        tags.and_then(Json::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str().unwrap_or_default())))
            .collect(),
    )
}

/// What was recorded, with the identity a read establishes: cloud, name and id.
pub fn named(prior: &Attributes, name: &str, id: &str) -> Attributes {
    let mut attrs = prior.clone();
    attrs.insert("cloud".into(), Value::from("azure"));
    attrs.insert("name".into(), Value::from(name));
    attrs.insert("id".into(), Value::from(id));
    attrs
}

/// A create's or update's response, from reading the object back.
pub fn read_back(found: ReadResponse, what: &str) -> Result<ApplyResponse, ProviderError> {
    match found {
        ReadResponse::Found { attributes } => Ok(ApplyResponse {
            id: str_attr(&attributes, "id").map(str::to_string),
            attributes: Some(attributes),
        }),
        ReadResponse::Gone => Err(ProviderError::new(
            ErrorKind::Transient,
            format!("{what} was created but cannot be read back yet"),
        )),
    }
}

/// `/subscriptions/…/providers/NS/TYPE/NAME` → NAME; a bare name stays as it is.
pub fn last_segment(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

/// FNV-1a, for short stable names derived from what they stand for.
pub fn fnv(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The resource at `path` and the identity attributes a read establishes (cloud, name as
/// ARM spells it, and its ARM id), or `None` when ARM answers 404.
pub async fn get_named(
    c: &crate::clients::Clients,
    path: &str,
    api: &str,
    prior: &Attributes,
    name: &str,
) -> Result<Option<(Json, Attributes)>, ProviderError> {
    let Some(r) = c.arm.get(path, api).await? else {
        return Ok(None);
    };
    let id = r
        .get("id")
        .and_then(Json::as_str)
        .unwrap_or(path)
        .to_string();
    let attrs = named(
        prior,
        r.get("name").and_then(Json::as_str).unwrap_or(name),
        &id,
    );
    Ok(Some((r, attrs)))
}
