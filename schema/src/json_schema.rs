//! Export of the kinds as JSON Schema (draft 2020-12).

use serde_json::{json, Map, Value as Json};

use crate::kinds::{Attribute, BlockSchema, KindSchema, META_ARGUMENTS};
use crate::types::AttrType;

/// The JSON Schema of one kind's block body, as it appears in a JSON rendering of a manifest.
pub fn kind_json_schema(kind: &KindSchema) -> Json {
    let mut schema = block_schema(&kind.body);
    if let Json::Object(obj) = &mut schema {
        obj.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        obj.insert(
            "$id".into(),
            json!(format!("mlinfra/{}.schema.json", kind.name)),
        );
        obj.insert("title".into(), json!(kind.name));
        obj.insert("description".into(), json!(kind.description));
        if let Some(Json::Object(props)) = obj.get_mut("properties") {
            for meta in META_ARGUMENTS {
                props.insert(
                    (*meta).into(),
                    json!({ "description": format!("meta-argument `{meta}`") }),
                );
            }
        }
    }
    schema
}

fn block_schema(block: &BlockSchema) -> Json {
    let mut props = Map::new();
    let mut required = Vec::new();
    for a in block.attributes.iter().filter(|a| !a.read_only) {
        props.insert(a.name.into(), attribute_schema(a));
        if a.required && a.clouds.is_empty() {
            required.push(json!(a.name));
        }
    }
    for b in &block.blocks {
        let inner = block_schema(b);
        let s = if b.labeled {
            json!({ "type": "object", "additionalProperties": inner, "description": b.description })
        } else {
            inner
        };
        props.insert(b.name.into(), s);
        if b.required {
            required.push(json!(b.name));
        }
    }
    let mut obj = Map::new();
    obj.insert("type".into(), json!("object"));
    if !block.description.is_empty() {
        obj.insert("description".into(), json!(block.description));
    }
    obj.insert("properties".into(), Json::Object(props));
    if !required.is_empty() {
        obj.insert("required".into(), Json::Array(required));
    }
    obj.insert("additionalProperties".into(), json!(false));
    Json::Object(obj)
}

fn attribute_schema(a: &Attribute) -> Json {
    let mut s = type_schema(&a.ty);
    if let Json::Object(obj) = &mut s {
        let mut desc = a.description.to_string();
        if a.force_new {
            desc.push_str(" Changing it replaces the resource.");
        }
        if a.append_only {
            desc.push_str(
                " Adding keys is in place; removing or changing one replaces the resource.",
            );
        }
        if !a.clouds.is_empty() {
            let clouds: Vec<_> = a.clouds.iter().map(|c| c.as_str()).collect();
            desc.push_str(&format!(" Only on {}.", clouds.join(", ")));
        }
        obj.insert("description".into(), json!(desc));
        if let Some(d) = &a.default {
            obj.insert("default".into(), d.to_json());
        }
        if !a.allowed.is_empty() {
            obj.insert("enum".into(), json!(a.allowed));
        }
        if a.force_new {
            obj.insert("x-mlinfra-force-new".into(), json!(true));
        }
        if a.computed {
            obj.insert("x-mlinfra-computed".into(), json!(true));
        }
        if a.write_only {
            obj.insert("writeOnly".into(), json!(true));
        }
    }
    s
}

fn type_schema(ty: &AttrType) -> Json {
    match ty {
        AttrType::String | AttrType::Ref(_) => json!({ "type": "string" }),
        AttrType::Number => json!({ "type": "number" }),
        AttrType::Bool => json!({ "type": "boolean" }),
        AttrType::List(t) | AttrType::Set(t) => json!({ "type": "array", "items": type_schema(t) }),
        AttrType::Tuple(items) => {
            json!({ "type": "array", "prefixItems": items.iter().map(type_schema).collect::<Vec<_>>() })
        }
        AttrType::Map(t) => json!({ "type": "object", "additionalProperties": type_schema(t) }),
        AttrType::Object(fields) => {
            let props: Map<String, Json> = fields
                .iter()
                .map(|(n, t, _)| (n.clone(), type_schema(t)))
                .collect();
            let required: Vec<_> = fields
                .iter()
                .filter(|(_, _, o)| !o)
                .map(|(n, _, _)| json!(n))
                .collect();
            json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false })
        }
        AttrType::NumberOrMap => {
            json!({ "oneOf": [ { "type": "number" }, { "type": "object", "additionalProperties": { "type": "number" } } ] })
        }
        AttrType::StringOrMap => {
            json!({ "oneOf": [ { "type": "string" }, { "type": "object", "additionalProperties": { "type": "number" } } ] })
        }
        AttrType::Any => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::kind;

    #[test]
    fn gpu_pool_schema_lists_required_and_enums() {
        let s = kind_json_schema(kind("gpu_pool").unwrap());
        assert_eq!(
            s["required"],
            json!(["cluster", "accelerator", "gpus_per_node", "max_nodes"])
        );
        assert_eq!(
            s["properties"]["capacity"]["enum"],
            json!(["on_demand", "spot", "reserved"])
        );
        assert!(s["properties"].get("id").is_none());
    }
}
