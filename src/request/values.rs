//! Reads a parameter's value. Its name is matched without case (a name given twice in two
//! spellings is an error); a string must not be empty; free text is bounded and has no control
//! characters; a boolean comes as JSON or as the text `true`/`false`. Pure; every error names
//! the field.

use serde_json::{Map, Value};

use super::MAX_TEXT_LENGTH;
use crate::report::{ErrorCode, Failure};

/// The value of a parameter whose name matches case-insensitively; `Err` names the field
/// when it is given twice in different spellings.
pub(super) fn lookup<'a>(
    parameters: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a Value>, Failure> {
    let mut matches = parameters
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(field));
    let first = matches.next();
    if matches.next().is_some() {
        return Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            field,
            format!("{field} is given more than once (names are case-insensitive)"),
        ));
    }
    Ok(first
        .map(|(_, value)| value)
        .filter(|value| !value.is_null()))
}

pub(super) fn string(
    parameters: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, Failure> {
    match lookup(parameters, field)? {
        None => Ok(None),
        Some(Value::String(value)) if value.trim().is_empty() => Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            field,
            format!("{field} is empty"),
        )),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(other) => Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            field,
            format!("{field} must be a string, not {}", json_kind(other)),
        )),
    }
}

/// Reads a free-text value that is echoed into logs: it is bounded, and may not have control
/// characters that could forge log lines.
pub(super) fn text(
    parameters: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, Failure> {
    let value = match lookup(parameters, field)? {
        Some(Value::String(value)) if value.trim().is_empty() => return Ok(None),
        _ => string(parameters, field)?,
    };
    match value {
        Some(value) if value.chars().count() > MAX_TEXT_LENGTH => Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            field,
            format!("{field} is longer than {MAX_TEXT_LENGTH} characters"),
        )),
        Some(value) if value.chars().any(char::is_control) => Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            field,
            format!("{field} contains a control character"),
        )),
        other => Ok(other.map(|value| value.trim().to_owned())),
    }
}

pub(super) fn boolean(
    parameters: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<bool>, Failure> {
    match lookup(parameters, field)? {
        None => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(Value::String(value)) if value.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(value)) if value.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            field,
            format!(
                "{field} must be true or false (a JSON boolean or the string \"true\" or \
                 \"false\"), not {}",
                json_kind(other)
            ),
        )),
    }
}

/// The value of `name` if it is the object's only key.
pub(super) fn single_wrapper<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    match object.iter().next() {
        Some((key, value)) if object.len() == 1 && key.eq_ignore_ascii_case(name) => Some(value),
        _ => None,
    }
}

pub(super) fn find<'a>(
    object: &'a Map<String, Value>,
    name: &str,
) -> Option<(&'a String, &'a Value)> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
}

pub(super) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Makes a parameter name fit to appear in a message: bounded, with control characters escaped.
pub(super) fn printable(name: &str) -> String {
    let shown: String = name
        .chars()
        .take(64)
        .flat_map(char::escape_default)
        .collect();
    if name.chars().count() > 64 {
        format!("{shown}…")
    } else {
        shown
    }
}
