//! Serves the managed identity endpoint (App Service protocol, api-version 2019-08-01), whose
//! tokens carry the app roles granted when they were issued.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Response};
use serde_json::json;
use tokio::time::Instant;

use super::json::{Reply, header, ok, query_value, retry_after_of, to_http};
use super::{fault_for, log};
use crate::simulator::{FaultAction, LoggedRequest, Shared, lock};

/// The managed identity endpoint (App Service protocol, api-version 2019-08-01).
pub(super) async fn identity(
    shared: &Shared,
    method: &Method,
    raw_path: &str,
    query: Vec<(String, String)>,
    headers: &HeaderMap,
    started: Instant,
) -> Response<Body> {
    let answer = identity_answer(shared, method, &query, headers).await;
    log(
        shared,
        LoggedRequest {
            method: method.to_string(),
            path: raw_path.to_owned(),
            raw_path: raw_path.to_owned(),
            query: query
                .into_iter()
                .filter(|(name, _)| name != "client_id")
                .collect(),
            client_request_id: None,
            authorized: false,
            in_batch: false,
            status: answer.status,
            retry_after: retry_after_of(&answer),
            body: None,
            started,
            at: Instant::now(),
        },
    );
    to_http(answer)
}

async fn identity_answer(
    shared: &Shared,
    method: &Method,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Reply {
    match fault_for(shared, method.as_str(), "/msi/token") {
        Some(FaultAction::Respond { status, code, .. }) => {
            return ok(
                status,
                json!({"error": code, "error_description": "injected fault"}),
            );
        }
        Some(FaultAction::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(FaultAction::Hold(gate)) => gate.pass().await,
        _ => {}
    }
    let options = lock(&shared.options).clone();
    let bad = |description: &str| {
        ok(
            400,
            json!({"error": "invalid_request", "error_description": description}),
        )
    };
    if *method != Method::GET {
        return bad("Only GET is supported.");
    }
    if header(headers, "x-identity-header").as_deref() != Some(options.identity_header.as_str()) {
        return ok(
            401,
            json!({"error": "unauthorized", "error_description": "The X-IDENTITY-HEADER is missing or wrong."}),
        );
    }
    if query_value(query, "api-version") != Some("2019-08-01") {
        return bad("api-version must be 2019-08-01.");
    }
    let resource = query_value(query, "resource").unwrap_or_default();
    let audience = resource.trim_end_matches('/').to_owned();
    let arm = format!("{}{}", shared.base_url, super::arm::PREFIX);
    if audience != shared.base_url && audience != arm {
        return bad(&format!(
            "Tokens are issued only for the resources {} (Graph) and {arm} (ARM).",
            shared.base_url
        ));
    }
    let asked_for = query_value(query, "client_id")
        .or_else(|| query_value(query, "principal_id"))
        .or_else(|| query_value(query, "object_id"));
    if asked_for != options.managed_identity_client_id.as_deref() {
        return bad(
            "No managed identity with the requested identifier is assigned to this resource.",
        );
    }
    let token = managed_identity_token(resource, &options.granted_roles);
    let expires = Instant::now() + options.token_lifetime;
    lock(&shared.tokens).insert(
        token.clone(),
        crate::simulator::IssuedToken {
            roles: options.granted_roles.clone(),
            audience,
            expires,
        },
    );
    let expires_on = SystemTime::now()
        .checked_add(options.token_lifetime)
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_secs());
    ok(
        200,
        json!({
            "access_token": token,
            "expires_on": expires_on.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": options.managed_identity_client_id.unwrap_or_else(|| "system-assigned".to_owned()),
        }),
    )
}

/// Makes a token shaped as Entra's are (`header.payload.signature`, base64url), its payload
/// carrying the audience and the app roles granted, so that the handler reads its roles as it
/// does on Azure. The signature is not a real one: the simulator knows its tokens by their
/// text.
fn managed_identity_token(resource: &str, roles: &std::collections::HashSet<String>) -> String {
    use base64::Engine;
    let encode = |value: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let mut roles: Vec<&String> = roles.iter().collect();
    roles.sort();
    format!(
        "{}.{}.sim-{}",
        encode(json!({"alg": "none", "typ": "JWT"})),
        encode(json!({"aud": resource, "roles": roles, "jti": uuid::Uuid::new_v4().to_string()})),
        uuid::Uuid::new_v4()
    )
}
