//! The Azure Functions host's custom handler envelopes, as the host really sends them.
//!
//! The host POSTs `{"Data": {<binding>: …}, "Metadata": {…}}` and reads back
//! `{"Outputs": {…}, "Logs": […], "ReturnValue": …}`. What arrives differs from the published
//! samples: string values are JSON-encoded a second time (a queue message `"hi"` arrives as
//! `"\"hi\""`), `DequeueCount` is a string or a number, property names may differ in case,
//! an HTTP request's `Body` is absent when it had no Content-Length. Everything here accepts
//! each of those forms and never panics on any input. This module knows nothing of Graph or of
//! the runbook.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::caller::Principal;
use crate::report::{ErrorCode, Failure};

/// A decoded invocation request: the host's envelope.
#[derive(Debug)]
pub struct Envelope {
    data: Map<String, Value>,
    metadata: Map<String, Value>,
}

/// The HTTP request of an HTTP-triggered invocation (non-forwarded).
#[derive(Debug, Default)]
pub struct HttpTriggerRequest {
    /// The request body as the caller sent it; `None` when the host sent none.
    pub body: Option<Value>,
    /// Query parameters (the host joins repeated ones with commas).
    pub query: Map<String, Value>,
    /// The URL the caller used (`scheme://host/path?query`), when the host gave it.
    pub url: Option<String>,
    /// The principal App Service authentication vouched for, from `Identities`: the first
    /// authenticated identity that is not the host's own function-key identity.
    pub principal: Option<Principal>,
    /// The HTTP method (upper case), when the host gave it.
    pub method: Option<String>,
    /// The `Accept` header's values, joined with commas.
    pub accept: Option<String>,
}

/// A timer invocation's `TimerInfo` (the host serialises the object as the .NET worker's
/// `TimerInfo`: `ScheduleStatus` with `Last`, `Next`, `LastUpdated`, null without the
/// schedule monitor; `IsPastDue`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TimerInfo {
    /// The run makes up for an occurrence missed (the app was down or busy).
    pub is_past_due: bool,
    /// The last and next occurrences, as the host wrote them.
    pub last: Option<String>,
    pub next: Option<String>,
}

/// A queue message, decoded down to its text or JSON value.
#[derive(Debug, PartialEq)]
pub enum QueueMessage {
    /// The message was (after unwrapping the host's encodings) JSON.
    Json(Value),
    /// The message text is not JSON.
    Text(String),
}

/// The query parameter that carries a function key; never a runbook parameter.
const FUNCTION_KEY_PARAMETER: &str = "code";
/// The parameter that must not come in a URL.
const NUMBER_PARAMETER: &str = "phoneNumber";

impl HttpTriggerRequest {
    /// The parameters of an HTTP request: the body's, plus query parameters the body does not
    /// name (except the function key).
    pub fn parameters(self) -> Result<Value, Failure> {
        let (body, query) = (self.body, self.query);
        let query: Map<String, Value> = query
            .into_iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case(FUNCTION_KEY_PARAMETER))
            .collect();
        if query
            .keys()
            .any(|name| name.eq_ignore_ascii_case(NUMBER_PARAMETER))
        {
            return Err(Failure::for_field(
                ErrorCode::InvalidRequest,
                NUMBER_PARAMETER,
                "phoneNumber is refused in the URL's query string: URLs reach request logs \
                 (the front end's, proxies', Application Insights') unmasked. Send it in the \
                 JSON body; nothing was read or changed",
            ));
        }
        let mut parameters = match body {
            None if query.is_empty() => {
                return Err(Failure::new(
                    ErrorCode::InvalidRequest,
                    "the request body is empty: send the parameters as a JSON object, e.g. \
                     {\"UserId\": \"…\", \"phoneNumber\": \"+49…\"}",
                ));
            }
            None => Map::new(),
            Some(Value::String(_)) => {
                return Err(Failure::new(
                    ErrorCode::InvalidRequest,
                    "the request body is not JSON: send the parameters as a JSON object with \
                     Content-Type application/json",
                ));
            }
            Some(body) => crate::request::parameters_object(&body)?,
        };
        for (name, value) in query {
            if !parameters.keys().any(|key| key.eq_ignore_ascii_case(&name)) {
                parameters.insert(name, value);
            }
        }
        Ok(Value::Object(parameters))
    }
}

impl Envelope {
    /// Parses the envelope's JSON.
    ///
    /// # Errors
    ///
    /// When the text is not JSON or not an object.
    pub fn parse(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        let value: Value = serde_json::from_slice(bytes).map_err(EnvelopeError::NotJson)?;
        let Value::Object(envelope) = value else {
            return Err(EnvelopeError::NotAnObject);
        };
        let object = |name: &str| match get(&envelope, name) {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        Ok(Envelope {
            data: object("Data"),
            metadata: object("Metadata"),
        })
    }

    /// Reads the HTTP request bound to `binding` (`req`).
    ///
    /// # Errors
    ///
    /// When there is no such binding, or it is not an HTTP request object.
    pub fn http_request(&self, binding: &str) -> Result<HttpTriggerRequest, EnvelopeError> {
        let not_a_request = || EnvelopeError::NotAnHttpRequest(binding.to_owned());
        let request = match get(&self.data, binding) {
            Some(Value::Object(request)) => request.clone(),
            // Some host versions hand the request over as JSON text; accept one layer.
            Some(Value::String(text)) => match serde_json::from_str(text) {
                Ok(Value::Object(request)) => request,
                _ => return Err(not_a_request()),
            },
            Some(_) => return Err(not_a_request()),
            None => return Err(EnvelopeError::MissingBinding(binding.to_owned())),
        };
        let body = match get(&request, "Body") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if text.trim().is_empty() => None,
            Some(Value::String(text)) => Some(
                serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.clone())),
            ),
            Some(other) => Some(other.clone()),
        };
        let query = match get(&request, "Query") {
            Some(Value::Object(query)) => query.clone(),
            // The docs' stale samples show the query as JSON text.
            Some(Value::String(text)) => match serde_json::from_str(text) {
                Ok(Value::Object(query)) => query,
                _ => Map::new(),
            },
            _ => Map::new(),
        };
        Ok(HttpTriggerRequest {
            url: match get(&request, "Url") {
                Some(Value::String(url)) => Some(url.clone()),
                _ => None,
            },
            body,
            query,
            principal: principal(get(&request, "Identities")),
            method: match get(&request, "Method") {
                Some(Value::String(method)) => Some(method.to_ascii_uppercase()),
                _ => None,
            },
            accept: match get(&request, "Headers").and_then(Value::as_object) {
                Some(headers) => match get(headers, "Accept") {
                    Some(Value::Array(values)) => Some(
                        values
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    Some(Value::String(value)) => Some(value.clone()),
                    _ => None,
                },
                None => None,
            },
        })
    }

    /// Reads the timer information bound to `binding`: an object, or (as the host encodes
    /// strings) JSON text holding one, once or twice.
    ///
    /// # Errors
    ///
    /// When there is no such binding, or it holds no object.
    pub fn timer(&self, binding: &str) -> Result<TimerInfo, EnvelopeError> {
        let mut value = get(&self.data, binding)
            .cloned()
            .ok_or_else(|| EnvelopeError::MissingBinding(binding.to_owned()))?;
        for _ in 0..2 {
            if let Value::String(text) = &value {
                value = serde_json::from_str(text)
                    .map_err(|_| EnvelopeError::NotATimer(binding.to_owned()))?;
            }
        }
        let Value::Object(timer) = value else {
            return Err(EnvelopeError::NotATimer(binding.to_owned()));
        };
        let status = get(&timer, "ScheduleStatus").and_then(Value::as_object);
        let time = |name: &str| {
            status
                .and_then(|status| get(status, name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Ok(TimerInfo {
            is_past_due: match get(&timer, "IsPastDue") {
                Some(Value::Bool(due)) => *due,
                Some(Value::String(due)) => due.eq_ignore_ascii_case("true"),
                _ => false,
            },
            last: time("Last"),
            next: time("Next"),
        })
    }

    /// Reads the queue message bound to `binding`, with the host's encodings undone: a JSON
    /// string holding the JSON-encoded message text (two layers), one layer, an object, or the
    /// base64 text of a `"dataType": "binary"` trigger.
    ///
    /// # Errors
    ///
    /// When there is no such binding, or the value is neither a string nor JSON.
    pub fn queue_message(&self, binding: &str) -> Result<QueueMessage, EnvelopeError> {
        match get(&self.data, binding) {
            None | Some(Value::Null) => Err(EnvelopeError::MissingBinding(binding.to_owned())),
            Some(Value::String(outer)) => Ok(decode_queue_text(outer)),
            Some(other) => Ok(QueueMessage::Json(other.clone())),
        }
    }

    /// Reads `Metadata.DequeueCount`, which comes as a string (`"1"`) or a number.
    pub fn dequeue_count(&self) -> Option<u64> {
        let whole = |number: f64| {
            (number.is_finite() && number >= 0.0 && number.fract() == 0.0).then_some(number as u64)
        };
        match get(&self.metadata, "DequeueCount")? {
            Value::Number(number) => number.as_u64().or_else(|| number.as_f64().and_then(whole)),
            Value::String(text) => {
                let text = unquote(text);
                let text = text.trim();
                text.parse()
                    .ok()
                    .or_else(|| text.parse().ok().and_then(whole))
            }
            _ => None,
        }
    }

    /// Reads `Metadata.InsertionTime`: when the storage service put the message on the queue,
    /// as the host writes a `DateTimeOffset` (`2026-11-22T10:00:00+00:00`) or as an HTTP date.
    pub fn insertion_time(&self) -> Option<std::time::SystemTime> {
        let text = self.metadata_string("InsertionTime")?;
        let text = text.trim();
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(std::time::SystemTime::from)
            .or_else(|| httpdate::parse_http_date(text).ok())
    }

    /// Reads a string from `Metadata` (`Id`, `PopReceipt`), with the host's extra quotes
    /// removed.
    pub fn metadata_string(&self, name: &str) -> Option<String> {
        match get(&self.metadata, name)? {
            Value::String(text) => Some(unquote(text)),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }
}

/// Why an envelope could not be read. The messages are the ones the result shows.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the invocation envelope is not valid JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("the invocation envelope is not a JSON object")]
    NotAnObject,
    #[error("the invocation has no Data.{0}")]
    MissingBinding(String),
    #[error("Data.{0} is not an HTTP request object")]
    NotAnHttpRequest(String),
    #[error("Data.{0} is not the timer's information")]
    NotATimer(String),
}

/// The response envelope for an HTTP-triggered invocation whose body is not JSON (a page, a
/// CSV file), with its own headers.
pub fn http_content_response(
    output_binding: &str,
    status: u16,
    headers: &[(&str, String)],
    body: String,
    logs: &[String],
) -> Value {
    let headers: Map<String, Value> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Value::String(value.clone())))
        .collect();
    let mut outputs = Map::new();
    outputs.insert(
        output_binding.to_owned(),
        json!({"statusCode": status, "headers": headers, "body": body}),
    );
    json!({"Outputs": outputs, "Logs": logs, "ReturnValue": null})
}

/// The response envelope for an HTTP-triggered invocation.
pub fn http_response(
    output_binding: &str,
    status: u16,
    body: String,
    retry_after_seconds: Option<u64>,
    logs: &[String],
) -> Value {
    let mut headers = Map::new();
    headers.insert("Content-Type".to_owned(), json!("application/json"));
    if let Some(seconds) = retry_after_seconds {
        headers.insert("Retry-After".to_owned(), json!(seconds.to_string()));
    }
    let mut outputs = Map::new();
    outputs.insert(
        output_binding.to_owned(),
        json!({"statusCode": status, "headers": headers, "body": body}),
    );
    json!({"Outputs": outputs, "Logs": logs, "ReturnValue": null})
}

/// The response envelope for a queue-triggered invocation that writes `message` (a JSON
/// object, so the host neither splits it nor mistakes it for base64) to `output_binding`.
pub fn queue_response(output_binding: &str, message: Value, logs: &[String]) -> Value {
    let mut outputs = Map::new();
    outputs.insert(output_binding.to_owned(), message);
    json!({"Outputs": outputs, "Logs": logs, "ReturnValue": null})
}

/// The host's own identity for a request that presented a function key.
const KEY_IDENTITY: &str = "WebJobsAuthLevel";

/// The first authenticated identity in `Identities` other than the function-key identity.
fn principal(identities: Option<&Value>) -> Option<Principal> {
    let Value::Array(identities) = identities? else {
        return None;
    };
    identities.iter().find_map(|identity| {
        let Value::Object(identity) = identity else {
            return None;
        };
        let text = |name: &str| match get(identity, name) {
            Some(Value::String(text)) => Some(text.as_str()),
            _ => None,
        };
        let authentication_type = text("AuthenticationType").unwrap_or_default();
        let authenticated = matches!(get(identity, "IsAuthenticated"), Some(Value::Bool(true)));
        if !authenticated || authentication_type.eq_ignore_ascii_case(KEY_IDENTITY) {
            return None;
        }
        let claims = match get(identity, "Claims") {
            // Every claim is read, whatever its place: a token's group claims may come first,
            // and the envelope's size (256 KiB) bounds them.
            Some(Value::Array(claims)) => claims
                .iter()
                .filter_map(|claim| {
                    let Value::Object(claim) = claim else {
                        return None;
                    };
                    match (get(claim, "Type"), get(claim, "Value")) {
                        (Some(Value::String(kind)), Some(Value::String(value))) => {
                            Some((kind.clone(), value.clone()))
                        }
                        _ => None,
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        Some(Principal {
            authentication_type: authentication_type.to_owned(),
            claims,
        })
    })
}

/// Finds a property by name, matched case-insensitively (the host's serialiser is not strict).
pub fn get<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// Undoes the host's encodings of a queue message delivered as a string.
fn decode_queue_text(outer: &str) -> QueueMessage {
    // The host sends two layers: a JSON string whose content is the JSON-encoded message text.
    match serde_json::from_str::<Value>(outer) {
        Ok(Value::String(inner)) => match serde_json::from_str::<Value>(&inner) {
            Ok(value) => QueueMessage::Json(value),
            Err(_) => decode_binary(&inner).unwrap_or(QueueMessage::Text(inner)),
        },
        Ok(value) => QueueMessage::Json(value),
        Err(_) => decode_binary(outer).unwrap_or_else(|| QueueMessage::Text(outer.to_owned())),
    }
}

/// Decodes a `"dataType": "binary"` message: base64 of the raw bytes, which hold JSON text.
fn decode_binary(text: &str) -> Option<QueueMessage> {
    let trimmed = text.trim();
    if trimmed.len() < 4 {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .ok()?;
    let value = serde_json::from_slice::<Value>(&bytes).ok()?;
    match value {
        // The base64 may hold text that is itself a JSON string, which is one more layer.
        Value::String(inner) => serde_json::from_str(&inner).ok().map(QueueMessage::Json),
        other => Some(QueueMessage::Json(other)),
    }
}

/// Strips one layer of JSON string quoting, if present.
fn unquote(text: &str) -> String {
    if text.len() >= 2
        && text.starts_with('"')
        && text.ends_with('"')
        && let Ok(Value::String(inner)) = serde_json::from_str::<Value>(text)
    {
        return inner;
    }
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(value: Value) -> Envelope {
        Envelope::parse(value.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn an_http_request_is_read_as_the_host_sends_it() {
        let invocation = invocation(json!({
            "Data": {"req": {
                "Url": "https://app.azurewebsites.net/api/SetOrRemoveMobilePhoneMfa?dryRun=true",
                "Method": "POST",
                "Query": {"dryRun": "true"},
                "Headers": {"Content-Type": ["application/json"]},
                "Params": {},
                "Identities": [],
                "Body": "{\"UserId\":\"a@b.com\"}"
            }},
            "Metadata": {"sys": {"MethodName": "SetOrRemoveMobilePhoneMfa"}}
        }));
        let request = invocation.http_request("req").unwrap();
        assert_eq!(request.body, Some(json!({"UserId": "a@b.com"})));
        assert_eq!(request.query.get("dryRun"), Some(&json!("true")));
    }

    #[test]
    fn the_entra_principal_is_read_from_identities_and_the_key_identity_is_not() {
        let invocation = invocation(json!({"Data": {"req": {
            "Identities": [
                {"AuthenticationType": "aad", "IsAuthenticated": true, "Claims": [
                    {"Type": "http://schemas.microsoft.com/identity/claims/objectidentifier", "Value": "oid-1"},
                    {"Type": "appid", "Value": "app-1"}
                ]},
                {"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": true, "Claims": [
                    {"Type": "http://schemas.microsoft.com/2017/07/functions/claims/authlevel", "Value": "Function"}
                ]}
            ],
            "Headers": {"X-MS-CLIENT-PRINCIPAL-ID": ["forged"]}
        }}}));
        let principal = invocation.http_request("req").unwrap().principal.unwrap();
        assert_eq!(principal.authentication_type, "aad");
        assert_eq!(principal.claims.len(), 2);
        let key_only = invocation_with_identities(json!([
            {"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": true, "Claims": []}
        ]));
        assert_eq!(key_only.http_request("req").unwrap().principal, None);
        let unauthenticated = invocation_with_identities(json!([
            {"AuthenticationType": "aad", "IsAuthenticated": false, "Claims": []}
        ]));
        assert_eq!(unauthenticated.http_request("req").unwrap().principal, None);
    }

    fn invocation_with_identities(identities: Value) -> Envelope {
        invocation(json!({"Data": {"req": {"Identities": identities}}}))
    }

    #[test]
    fn timer_information_is_read_as_an_object_or_as_encoded_text() {
        let timer = json!({
            "Schedule": {"AdjustForDST": true},
            "ScheduleStatus": {
                "Last": "2026-12-06T05:00:00+00:00",
                "Next": "2026-12-07T05:00:00+00:00",
                "LastUpdated": "2026-12-06T05:00:00+00:00"
            },
            "IsPastDue": true
        });
        let expected = TimerInfo {
            is_past_due: true,
            last: Some("2026-12-06T05:00:00+00:00".to_owned()),
            next: Some("2026-12-07T05:00:00+00:00".to_owned()),
        };
        let once = Value::String(timer.to_string());
        let twice = Value::String(once.to_string());
        for data in [timer, once, twice] {
            let invocation = invocation(json!({"Data": {"timer": data}}));
            assert_eq!(invocation.timer("timer").unwrap(), expected);
        }
        let unmonitored =
            invocation(json!({"Data": {"timer": {"ScheduleStatus": null, "IsPastDue": false}}}));
        assert_eq!(unmonitored.timer("timer").unwrap(), TimerInfo::default());
        assert!(
            invocation(json!({"Data": {"timer": "soon"}}))
                .timer("timer")
                .is_err()
        );
        assert!(invocation(json!({"Data": {}})).timer("timer").is_err());
    }

    #[test]
    fn property_names_match_in_any_case_and_body_may_be_absent() {
        let invocation = invocation(json!({"data": {"REQ": {"method": "POST"}}, "metadata": {}}));
        let request = invocation.http_request("req").unwrap();
        assert_eq!(request.body, None);
    }

    #[test]
    fn a_body_that_is_not_json_is_kept_as_text() {
        let invocation = invocation(json!({"Data": {"req": {"Body": "UserId=a"}}}));
        assert_eq!(
            invocation.http_request("req").unwrap().body,
            Some(json!("UserId=a"))
        );
    }

    #[test]
    fn queue_messages_are_decoded_from_every_form_the_host_uses() {
        let message = json!({"UserId": "a@b.com"});
        let text = message.to_string();
        let two_layers = Value::String(Value::String(text.clone()).to_string());
        let one_layer = Value::String(text.clone());
        let binary = Value::String(base64::engine::general_purpose::STANDARD.encode(&text));
        for data in [two_layers, one_layer, message.clone(), binary] {
            let invocation = invocation(json!({"Data": {"queueItem": data}}));
            assert_eq!(
                invocation.queue_message("queueItem").unwrap(),
                QueueMessage::Json(message.clone()),
                "{data}"
            );
        }
        let plain = invocation(json!({"Data": {"queueItem": "\"hello\""}}));
        assert_eq!(
            plain.queue_message("queueItem").unwrap(),
            QueueMessage::Text("hello".to_owned())
        );
    }

    #[test]
    fn metadata_is_read_with_or_without_the_extra_layer() {
        let quoted = invocation(json!({"Metadata": {
            "DequeueCount": "2",
            "Id": "\"800ae4b3-bdd2-4c08-badd-f08e5a34b865\"",
            "PopReceipt": "\"AgAAAAMAAAAAAAAAAgtnj8x+1QE=\""
        }}));
        assert_eq!(quoted.dequeue_count(), Some(2));
        assert_eq!(
            quoted.metadata_string("Id").as_deref(),
            Some("800ae4b3-bdd2-4c08-badd-f08e5a34b865")
        );
        assert_eq!(
            quoted.metadata_string("PopReceipt").as_deref(),
            Some("AgAAAAMAAAAAAAAAAgtnj8x+1QE=")
        );
        let plain = invocation(json!({"Metadata": {"DequeueCount": 3, "Id": "abc"}}));
        assert_eq!(plain.dequeue_count(), Some(3));
        let float = invocation(json!({"Metadata": {"DequeueCount": 5.0}}));
        assert_eq!(float.dequeue_count(), Some(5));
        let text = invocation(json!({"Metadata": {"DequeueCount": "\"4\""}}));
        assert_eq!(text.dequeue_count(), Some(4));
        let broken = invocation(json!({"Metadata": {"DequeueCount": "many"}}));
        assert_eq!(broken.dequeue_count(), None);
        assert_eq!(plain.metadata_string("Id").as_deref(), Some("abc"));
    }

    #[test]
    fn the_insertion_time_is_read_in_the_forms_the_host_and_storage_write() {
        let at = |text: &str| {
            invocation(json!({"Metadata": {"InsertionTime": text}}))
                .insertion_time()
                .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|since| since.as_secs())
        };
        assert_eq!(at("2026-11-22T10:00:00+00:00"), Some(1_795_341_600));
        assert_eq!(at("\"2026-11-22T10:00:00Z\""), Some(1_795_341_600));
        assert_eq!(at("2026-11-22T11:00:00.123+01:00"), Some(1_795_341_600));
        assert_eq!(at("Sun, 22 Nov 2026 10:00:00 GMT"), Some(1_795_341_600));
        assert_eq!(at("yesterday"), None);
    }

    #[test]
    fn the_http_response_envelope_has_the_shape_the_host_reads() {
        let envelope = http_response("res", 503, "{}".to_owned(), Some(30), &["line".to_owned()]);
        assert_eq!(
            envelope,
            json!({
                "Outputs": {"res": {
                    "statusCode": 503,
                    "headers": {"Content-Type": "application/json", "Retry-After": "30"},
                    "body": "{}"
                }},
                "Logs": ["line"],
                "ReturnValue": null
            })
        );
    }
}
