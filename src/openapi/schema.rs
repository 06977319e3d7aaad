//! Turns JSON Schema, as schemars derives it from the result's types, into what OpenAPI 2.0's
//! schema object allows: one inlined schema per type, `x-nullable` for what may be null (2.0
//! has no null type, `anyOf` or `oneOf`), enums as `enum`, and objects closed
//! (`additionalProperties: false`), so that a field the definition lacks fails validation.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// Makes the OpenAPI 2.0 schema of `T`.
pub fn of<T: JsonSchema>() -> Value {
    let mut settings = SchemaSettings::draft07();
    settings.inline_subschemas = true;
    settings.meta_schema = None;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = schema.to_value();
    if let Value::Object(object) = &mut value {
        object.remove("$schema");
        object.remove("title");
        object.remove("definitions");
    }
    to_openapi2(value)
}

/// Turns one JSON Schema, with its properties and items, into an OpenAPI 2.0 schema object.
fn to_openapi2(value: Value) -> Value {
    let Value::Object(mut object) = value else {
        return value;
    };
    let mut nullable = take_null_type(&mut object);
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(choices)) = object.remove(key) else {
            continue;
        };
        nullable |= fold_choices(&mut object, choices);
    }
    replace_unknown_keywords(&mut object);
    close_properties(&mut object);
    if let Some(items) = object.remove("items") {
        object.insert("items".to_owned(), to_openapi2(items));
    }
    if nullable {
        object.insert("x-nullable".to_owned(), Value::Bool(true));
    }
    if let Some(Value::String(description)) = object.get_mut("description") {
        *description = plain(description);
    }
    Value::Object(object)
}

/// Takes `null` out of a list of types (`"type": ["string", "null"]`) and keeps the first type
/// left, as 2.0 allows one type only. Returns whether exactly one type was left, the shape
/// schemars gives an `Option`.
fn take_null_type(object: &mut Map<String, Value>) -> bool {
    let mut nullable = false;
    if let Some(Value::Array(types)) = object.get("type").cloned() {
        let kinds: Vec<Value> = types.into_iter().filter(|kind| kind != "null").collect();
        nullable = kinds.len() == 1;
        if let Some(kind) = kinds.into_iter().next() {
            object.insert("type".to_owned(), kind);
        }
    }
    nullable
}

/// Folds an `anyOf` or `oneOf` into `object`, as 2.0 has neither: several string constants
/// become one string `enum`, and a single schema beside null is merged in (what `object`
/// already says wins). Returns whether null was one of the choices.
fn fold_choices(object: &mut Map<String, Value>, choices: Vec<Value>) -> bool {
    let (nulls, others): (Vec<Value>, Vec<Value>) = choices
        .into_iter()
        .partition(|choice| choice.get("type").is_some_and(|kind| kind == "null"));
    let constants: Option<Vec<Value>> = others
        .iter()
        .map(|choice| {
            choice
                .get("const")
                .cloned()
                .map(|constant| vec![constant])
                .or_else(|| choice.get("enum").and_then(Value::as_array).cloned())
        })
        .collect::<Option<Vec<Vec<Value>>>>()
        .map(|lists| lists.into_iter().flatten().collect());
    match (others.len(), constants) {
        (_, Some(constants)) if others.len() > 1 => {
            object.insert("type".to_owned(), Value::String("string".to_owned()));
            object.insert("enum".to_owned(), Value::Array(constants));
        }
        (1, _) => {
            if let Some(Value::Object(inner)) = others.into_iter().next().map(to_openapi2) {
                for (name, field) in inner {
                    object.entry(name).or_insert(field);
                }
            }
        }
        _ => {}
    }
    !nulls.is_empty()
}

/// Replaces what 2.0's schema object does not know: `const` becomes a one-value `enum`, and
/// schemars' unsigned integer formats (`uint32`, ...) are dropped.
fn replace_unknown_keywords(object: &mut Map<String, Value>) {
    if let Some(constant) = object.remove("const") {
        object.insert("enum".to_owned(), Value::Array(vec![constant]));
    }
    object
        .remove("format")
        .filter(|format| {
            !matches!(
                format.as_str(),
                Some("uint" | "uint8" | "uint16" | "uint32" | "uint64")
            )
        })
        .map(|format| object.insert("format".to_owned(), format));
}

/// Converts each property's schema and closes the object (`additionalProperties: false`), so
/// that a field the definition lacks fails validation.
fn close_properties(object: &mut Map<String, Value>) {
    if let Some(Value::Object(properties)) = object.remove("properties") {
        let properties: Map<String, Value> = properties
            .into_iter()
            .map(|(name, schema)| (name, to_openapi2(schema)))
            .collect();
        object.insert("properties".to_owned(), Value::Object(properties));
        object.insert("additionalProperties".to_owned(), Value::Bool(false));
        object
            .entry("type")
            .or_insert(Value::String("object".to_owned()));
    }
}

/// Turns a doc comment into what a connector shows: lines joined into paragraphs, and
/// rustdoc's links (`` [`Name`] ``) as the plain name.
fn plain(doc: &str) -> String {
    let paragraphs: Vec<String> = doc
        .split("\n\n")
        .map(|paragraph| paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    paragraphs.join("\n\n").replace("[`", "").replace("`]", "")
}
