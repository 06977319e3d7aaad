//! Plays the miniature host's HTTP side: it wraps the HTTP trigger into the envelope the real
//! host sends (App Service authentication's principal among the identities), serves the
//! anonymous API definition, and passes the simulator's inspection pages through for the demo.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{HostShared, invoke};

/// `GET /api/openapi.json`: the anonymous function that serves the API definition.
pub(super) async fn openapi(State(shared): State<Arc<HostShared>>, headers: HeaderMap) -> Response {
    let host = headers
        .get("host")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("localhost");
    let envelope = json!({
        "Data": {"req": {
            "Url": format!("http://{host}/api/openapi.json"),
            "Method": "GET",
            "Query": {},
            "Headers": {},
            "Params": {},
            "Identities": [],
        }},
        "Metadata": {"sys": {"MethodName": "OpenApi"}},
    });
    let answer = shared
        .client
        .post(format!("{}/OpenApi", shared.handler))
        .json(&envelope)
        .send()
        .await;
    let body = match answer {
        Ok(answer) if answer.status().is_success() => answer.json::<Value>().await.ok(),
        _ => None,
    };
    match body
        .as_ref()
        .and_then(|body| body["Outputs"]["res"]["body"].as_str())
    {
        Some(document) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            document.to_owned(),
        )
            .into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Builds the identity the host builds from App Service authentication's principal header,
/// which is `{auth_typ, claims: [{typ, val}]}` in base64.
fn entra_identity(header: &str) -> Option<Value> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .ok()?;
    let principal: Value = serde_json::from_slice(&bytes).ok()?;
    let claims: Vec<Value> = principal["claims"]
        .as_array()?
        .iter()
        .map(|claim| json!({"Type": claim["typ"], "Value": claim["val"], "Issuer": "LOCAL AUTHORITY"}))
        .collect();
    Some(json!({
        "AuthenticationType": principal["auth_typ"].as_str().unwrap_or("aad"),
        "IsAuthenticated": true,
        "Claims": claims,
    }))
}

/// `POST /api/SetOrRemoveMobilePhoneMfa`.
pub(super) async fn http_function(
    State(shared): State<Arc<HostShared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    forward(
        &shared,
        "SetOrRemoveMobilePhoneMfa",
        "POST",
        &uri,
        &headers,
        body,
    )
    .await
}

/// `GET` and `POST /api/readiness`: the readiness scans' HTTP function.
pub(super) async fn readiness_function(
    State(shared): State<Arc<HostShared>>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    forward(
        &shared,
        crate::app::readiness::HTTP_FUNCTION,
        method.as_str(),
        &uri,
        &headers,
        body,
    )
    .await
}

/// Makes one HTTP-triggered invocation of `function`, as the host makes it.
async fn forward(
    shared: &HostShared,
    function: &str,
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let mut header_map = Map::new();
    for (name, value) in headers {
        if let Ok(value) = value.to_str() {
            header_map.insert(name.as_str().to_owned(), json!([value]));
        }
    }
    let query: Map<String, Value> = uri
        .query()
        .map(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(name, value)| (name.into_owned(), Value::String(value.into_owned())))
                .collect()
        })
        .unwrap_or_default();
    // The host checks the function key (header or `code`) before the handler sees anything.
    if let Some(key) = &shared.options.function_key {
        let given = headers
            .get("x-functions-key")
            .and_then(|value| value.to_str().ok())
            .or_else(|| query.get("code").and_then(Value::as_str));
        if given != Some(key.as_str()) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    // The miniature host plays App Service authentication as switched on: an
    // `X-MS-CLIENT-PRINCIPAL` (base64 JSON, as App Service writes it) becomes the Entra
    // identity ahead of the function-key identity, as the real host builds `Identities`.
    let mut identities = Vec::new();
    if let Some(principal) = headers
        .get("x-ms-client-principal")
        .and_then(|value| value.to_str().ok())
        .and_then(entra_identity)
    {
        identities.push(principal);
    }
    identities.push(json!({"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": true}));
    let mut request = json!({
        "Url": format!("http://localhost{uri}"),
        "Method": method,
        "Query": query,
        "Headers": header_map,
        "Params": {},
        "Identities": identities,
    });
    // The host leaves Body out when the request had no content.
    if !body.is_empty() {
        request["Body"] = Value::String(String::from_utf8_lossy(&body).into_owned());
    }
    let envelope = json!({
        "Data": {"req": request},
        "Metadata": {"sys": {"MethodName": function, "UtcNow": httpdate::fmt_http_date(std::time::SystemTime::now())}},
    });
    let answer = invoke(
        shared,
        function,
        &envelope,
        shared.options.trigger.invocation_timeout,
    )
    .await;
    let Some((200..=299, Some(envelope))) = answer else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the function failed").into_response();
    };
    response_of(&envelope)
}

/// Turns the function's `res` output back into the HTTP response, as the host does; a missing
/// status code means 200.
fn response_of(envelope: &Value) -> Response {
    let output = envelope
        .get("Outputs")
        .and_then(|outputs| outputs.get("res"))
        .cloned()
        .unwrap_or(Value::Null);
    let status = output
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|status| u16::try_from(status).ok())
        .and_then(|status| StatusCode::from_u16(status).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = Response::builder().status(status);
    if let Some(Value::Object(headers)) = output.get("headers") {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                response = response.header(name.as_str(), value);
            }
        }
    }
    let body = output
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    response
        .body(axum::body::Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

pub(super) async fn inspect(State(shared): State<Arc<HostShared>>, uri: Uri) -> Response {
    let Some(simulator) = &shared.options.simulator else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let answer = shared
        .client
        .get(format!("{simulator}{}", uri.path()))
        .send()
        .await;
    match answer {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::OK);
            let body = answer.bytes().await.unwrap_or_default();
            (status, [("content-type", "application/json")], body).into_response()
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}
