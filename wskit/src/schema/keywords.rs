//! The JSON Schema keywords of `#[validate]` rules, applied by the `JsonSchema` impls that
//! `#[message]` and `#[payload]` generate. Not meant to be called by hand.

use schemars::Schema;
use serde::Serialize;
use serde_json::{Map, Value};

/// An object schema built one property at a time: `additionalProperties: false`, as the
/// server rejects unknown keys.
#[derive(Default)]
pub struct Object {
    properties: Map<String, Value>,
    required: Vec<Value>,
}

impl Object {
    /// Adds the property `name` with `schema`; `required` when it must be present.
    pub fn property(&mut self, name: &str, schema: Schema, required: bool) {
        self.properties.insert(name.to_owned(), schema.to_value());
        if required {
            self.required.push(Value::String(name.to_owned()));
        }
    }

    /// The schema of the object.
    pub fn into_schema(self) -> Schema {
        let mut object = Map::new();
        object.insert("type".into(), "object".into());
        object.insert("properties".into(), Value::Object(self.properties));
        if !self.required.is_empty() {
            object.insert("required".into(), Value::Array(self.required));
        }
        object.insert("additionalProperties".into(), false.into());
        Schema::from(object)
    }
}

/// `length(min, max)` (and `non_empty`): `minLength`/`maxLength` of a string (counted in
/// characters, as the rule counts them), `minItems`/`maxItems` of an array,
/// `minProperties`/`maxProperties` of a map.
pub fn length(schema: &mut Schema, min: Option<u64>, max: Option<u64>) {
    let (min_key, max_key) = match instance_type(schema) {
        Some("array") => ("minItems", "maxItems"),
        Some("object") => ("minProperties", "maxProperties"),
        _ => ("minLength", "maxLength"),
    };
    let target = target(schema);
    if let Some(min) = min {
        target.insert(min_key.into(), min.into());
    }
    if let Some(max) = max {
        target.insert(max_key.into(), max.into());
    }
}

/// `range(min, max)`: `minimum`/`maximum`, both inclusive as the rule is.
pub fn range<N: Serialize>(schema: &mut Schema, min: Option<N>, max: Option<N>) {
    let target = target(schema);
    for (key, bound) in [("minimum", min), ("maximum", max)] {
        if let Some(value) = bound.and_then(|bound| serde_json::to_value(bound).ok()) {
            target.insert(key.into(), value);
        }
    }
}

/// `email`, `url`, `uuid`: the `format` of a string.
pub fn format(schema: &mut Schema, format: &str) {
    target(schema).insert("format".into(), format.into());
}

/// `pattern = ".."`: the regular expression a string matches.
pub fn pattern(schema: &mut Schema, pattern: &str) {
    target(schema).insert("pattern".into(), pattern.into());
}

/// `each(..)`: the keywords of the rules apply to every item of an array.
pub fn each(schema: &mut Schema, rules: impl FnOnce(&mut Schema)) {
    let target = target(schema);
    let mut items = match target.remove("items") {
        Some(items) => Schema::try_from(items).unwrap_or_default(),
        None => Schema::default(),
    };
    rules(&mut items);
    target.insert("items".into(), items.to_value());
}

/// The `type` of `schema`, if it names one (the first one that is not `null`).
fn instance_type(schema: &Schema) -> Option<&str> {
    match schema.get("type")? {
        Value::String(ty) => Some(ty),
        Value::Array(types) => types.iter().filter_map(Value::as_str).find(|ty| *ty != "null"),
        _ => None,
    }
}

/// Where keywords go: into `schema` itself (next to a `$ref` too: draft 2020-12 applies
/// both).
fn target(schema: &mut Schema) -> &mut Map<String, Value> {
    schema.ensure_object()
}
