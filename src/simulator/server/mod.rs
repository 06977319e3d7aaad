//! Serves the simulator's HTTP face: every request reaches one handler here, which checks
//! tokens, takes `$batch`es apart, injects faults, keeps the request log and serves the
//! inspection pages. [`routes`] maps a request to the tenant, [`identity`] issues tokens,
//! [`throttle`] plays Graph's throttling, and [`json`] writes its JSON.

mod applications;
mod arm;
mod collections;
mod directory;
pub(crate) mod entra;
mod identity;
mod json;
mod methods;
mod permissions;
mod readiness;
mod routes;
mod signing_key;
mod throttle;

pub use self::throttle::ThrottleState;

use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Response, Uri};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use self::json::{
    Reply, decode_path, error, fault_answer, header, malformed, ok, parse_query, percent_decode,
    phone_json, retry_after_of, to_http, too_many_requests,
};
use self::routes::dispatch;
use self::throttle::throttled;
use super::tenant::SimUser;
use super::{FaultAction, FaultRule, LoggedRequest, Shared, lock};

/// The most requests a `$batch` may carry.
const BATCH_LIMIT: usize = 20;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let shared = shared.clone();
            async move { handle(&shared, method, uri, headers, body).await }
        },
    )
}

/// Answers one request: the managed identity's token endpoint, Entra's sign-in pages, Azure
/// Resource Manager and the inspection pages each have their own face; everything else is Graph.
async fn handle(
    shared: &Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let started = Instant::now();
    let raw_path = uri.path().to_owned();
    let query = parse_query(uri.query().unwrap_or_default());
    if raw_path == "/msi/token" {
        return identity::identity(shared, &method, &raw_path, query, &headers, started).await;
    }
    if let Some(answer) = entra::answer(shared, &method, &raw_path, started) {
        return answer;
    }
    if raw_path.starts_with(&format!("{}/", arm::PREFIX)) {
        return arm::arm(shared, &method, &raw_path, query, &headers, started);
    }
    if let Some(rest) = raw_path.strip_prefix("/_sim/") {
        return inspect(shared, rest);
    }
    serve_graph(shared, method, raw_path, query, &headers, body, started).await
}

/// Answers a request to Graph after the configured latency: the caller's token is checked, a
/// `$batch` is taken apart, any other request served on its own, and the request is logged.
async fn serve_graph(
    shared: &Shared,
    method: Method,
    raw_path: String,
    query: Vec<(String, String)>,
    headers: &HeaderMap,
    body: Bytes,
    started: Instant,
) -> Response<Body> {
    let _in_flight = InFlight::enter(shared, method.as_str(), &decode_path(&raw_path));
    let latency = lock(&shared.options).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let client_request_id = header(headers, "client-request-id");
    let roles = roles_of(shared, headers);
    let Some(path) = logged_path(&raw_path) else {
        return to_http(error(
            404,
            "BadRequest",
            "Only the v1.0 and beta APIs are simulated.",
        ));
    };
    let body_json: Option<Value> = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(&body).ok()
    };
    let answer = match &roles {
        None => error(
            401,
            "InvalidAuthenticationToken",
            "Access token is empty or invalid.",
        ),
        Some(roles) if path == "/$batch" && method == Method::POST => {
            let client_request_id = client_request_id.as_deref();
            serve_batch(
                shared,
                body_json.as_ref(),
                roles,
                client_request_id,
                started,
            )
            .await
        }
        Some(roles) => {
            let body = body_json.as_ref();
            single(shared, method.as_str(), &path, &query, body, roles).await
        }
    };
    log(
        shared,
        LoggedRequest {
            method: method.to_string(),
            path: decode_path(&path),
            raw_path,
            query,
            client_request_id,
            authorized: roles.is_some(),
            in_batch: false,
            status: answer.status,
            retry_after: retry_after_of(&answer),
            body: body_json,
            started,
            at: Instant::now(),
        },
    );
    to_http(answer)
}

/// Looks up the roles of the caller's bearer token: only a token the simulator issued for
/// Graph's origin, and not yet expired, has any.
fn roles_of(shared: &Shared, headers: &HeaderMap) -> Option<HashSet<String>> {
    let token = header(headers, "authorization")
        .and_then(|value| value.strip_prefix("Bearer ").map(str::to_owned));
    token.as_deref().and_then(|token| {
        let tokens = lock(&shared.tokens);
        tokens
            .get(token)
            .filter(|issued| issued.expires > Instant::now() && issued.audience == shared.base_url)
            .map(|issued| issued.roles.clone())
    })
}

/// Gives the path as the request log shows it: v1.0 paths without their version, beta paths
/// with `/beta` in front. Other versions are not simulated and have none.
fn logged_path(raw_path: &str) -> Option<String> {
    match (
        raw_path.strip_prefix("/v1.0"),
        raw_path.strip_prefix("/beta/"),
    ) {
        (Some(path), _) => Some(path.to_owned()),
        (None, Some(_)) => Some(raw_path.to_owned()),
        (None, None) => None,
    }
}

/// Marks a request as being served until dropped (also when the client goes away).
struct InFlight<'a> {
    shared: &'a Shared,
    serial: u64,
}

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared, method: &str, path: &str) -> InFlight<'a> {
        let mut serial = 0;
        shared.arrivals.send_modify(|count| {
            *count += 1;
            serial = *count;
        });
        lock(&shared.in_flight).push((serial, method.to_owned(), path.to_owned()));
        lock(&shared.arrived).push((method.to_owned(), path.to_owned()));
        shared.arrivals.send_modify(|_| {});
        InFlight { shared, serial }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(&self.shared.in_flight).retain(|(serial, _, _)| *serial != self.serial);
    }
}

/// Serves one request, direct or inside a batch: faults first, then throttling, then the
/// tenant.
async fn single(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
    roles: &HashSet<String>,
) -> Reply {
    let mut replace_with = None;
    let mut delay_answer = None;
    match fault_for(shared, method, path) {
        Some(FaultAction::Respond {
            status,
            code,
            retry_after,
        }) => return fault_answer(status, code, retry_after),
        Some(FaultAction::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(FaultAction::DelayAnswer(delay)) => delay_answer = Some(delay),
        Some(FaultAction::ApplyThenRespond { status, code }) => replace_with = Some((status, code)),
        Some(FaultAction::Hold(gate)) => gate.pass().await,
        Some(FaultAction::Malformed) => return malformed(),
        Some(FaultAction::Answer { status, body }) => return ok(status, body),
        Some(FaultAction::Omit) | None => {}
    }
    if let Some(wait) = throttled(shared, method, path, query) {
        return too_many_requests(wait);
    }
    let answer = dispatch(shared, method, path, query, body, roles);
    if let Some(delay) = delay_answer {
        tokio::time::sleep(delay).await;
    }
    match replace_with {
        Some((status, code)) => fault_answer(status, code, None),
        None => answer,
    }
}

/// Serves a `$batch`: a fault aimed at the batch itself answers for it or delays it, then each
/// item is served.
async fn serve_batch(
    shared: &Shared,
    body: Option<&Value>,
    roles: &HashSet<String>,
    client_request_id: Option<&str>,
    started: Instant,
) -> Reply {
    match fault_for(shared, "POST", "/$batch") {
        Some(FaultAction::Respond {
            status,
            code,
            retry_after,
        }) => fault_answer(status, code, retry_after),
        delay => {
            if let Some(FaultAction::Delay(delay)) = delay {
                tokio::time::sleep(delay).await;
            }
            batch(shared, body, roles, client_request_id, started)
        }
    }
}

/// Serves each item of a `$batch` and logs it, then answers with the items' responses.
fn batch(
    shared: &Shared,
    body: Option<&Value>,
    roles: &HashSet<String>,
    client_request_id: Option<&str>,
    started: Instant,
) -> Reply {
    let requests = match batch_requests(body) {
        Ok(requests) => requests,
        Err(refusal) => return refusal,
    };
    let mut responses = Vec::with_capacity(requests.len());
    for request in requests {
        let item = BatchItem::of(request);
        let Some(answer) = serve_item(shared, &item, request.get("body"), roles) else {
            continue;
        };
        log(
            shared,
            LoggedRequest {
                method: item.method.clone(),
                path: decode_path(&item.path),
                raw_path: item.path.clone(),
                query: item.query.clone(),
                client_request_id: client_request_id.map(str::to_owned),
                authorized: true,
                in_batch: true,
                status: answer.status,
                retry_after: retry_after_of(&answer),
                body: request.get("body").cloned(),
                started,
                at: Instant::now(),
            },
        );
        let headers: Map<String, Value> = answer
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        responses.push(json!({
            "id": item.id,
            "status": answer.status,
            "headers": headers,
            "body": answer.body.unwrap_or(Value::Null),
        }));
    }
    // Graph answers batch items in any order.
    shuffle(&mut responses);
    Reply {
        status: 200,
        headers: Vec::new(),
        body: Some(json!({"responses": responses})),
    }
}

/// Reads a `$batch`'s requests, refusing what Graph refuses before serving any item: a payload
/// without a list of requests, more than [`BATCH_LIMIT`] of them, or an item without a unique
/// id, a method and a url.
fn batch_requests(body: Option<&Value>) -> Result<&Vec<Value>, Reply> {
    let Some(requests) = body
        .and_then(|body| body.get("requests"))
        .and_then(Value::as_array)
    else {
        return Err(error(400, "BadRequest", "Invalid batch payload format."));
    };
    if requests.len() > BATCH_LIMIT {
        return Err(error(
            400,
            "BadRequest",
            "The number of requests in a batch exceeds the limit of 20.",
        ));
    }
    let mut ids = HashSet::new();
    for request in requests {
        let id = request.get("id").and_then(Value::as_str);
        let url = request.get("url").and_then(Value::as_str);
        let method = request.get("method").and_then(Value::as_str);
        if id.is_none() || url.is_none() || method.is_none() || !ids.insert(id) {
            return Err(error(
                400,
                "BadRequest",
                "Each batch request needs a unique id, a method and a url.",
            ));
        }
    }
    Ok(requests)
}

/// One item of a `$batch`, its url taken apart as a direct request's would be.
struct BatchItem<'a> {
    id: &'a str,
    /// The method in capitals, whatever the caller wrote.
    method: String,
    /// The path with a leading `/`, which batch urls may leave out.
    path: String,
    query: Vec<(String, String)>,
}

impl<'a> BatchItem<'a> {
    /// Reads an item that [`batch_requests`] has checked.
    fn of(request: &'a Value) -> BatchItem<'a> {
        let id = request
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let method = request
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_uppercase();
        let url = request
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (path, query) = match url.split_once('?') {
            Some((path, query)) => (path.to_owned(), parse_query(query)),
            None => (url.to_owned(), Vec::new()),
        };
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        BatchItem {
            id,
            method,
            path,
            query,
        }
    }
}

/// Serves one item of a `$batch`. Items are served "in parallel": no latency of their own, but
/// faults and throttling each. An item a fault omits has no answer.
fn serve_item(
    shared: &Shared,
    item: &BatchItem<'_>,
    body: Option<&Value>,
    roles: &HashSet<String>,
) -> Option<Reply> {
    let BatchItem {
        method,
        path,
        query,
        ..
    } = item;
    Some(match fault_for(shared, method, path) {
        Some(FaultAction::Respond {
            status,
            code,
            retry_after,
        }) => fault_answer(status, code, retry_after),
        Some(FaultAction::Omit) => return None,
        Some(FaultAction::Malformed) => malformed(),
        Some(FaultAction::Answer { status, body }) => ok(status, body),
        _ => match throttled(shared, method, path, query) {
            Some(wait) => too_many_requests(wait),
            None => dispatch(shared, method, path, query, body, roles),
        },
    })
}

/// Serves the simulator's own inspection pages, for the demo: `/_sim/users`,
/// `/_sim/users/{key}` and `/_sim/mail` (the messages sent).
fn inspect(shared: &Shared, rest: &str) -> Response<Body> {
    let tenant = lock(&shared.tenant);
    let describe = |user: &SimUser| {
        json!({
            "id": user.id,
            "userPrincipalName": user.user_principal_name,
            "displayName": user.display_name,
            "userType": user.user_type,
            "phoneMethods": user.phones().iter().map(phone_json).collect::<Vec<_>>(),
        })
    };
    let answer = match rest.split_once('/') {
        None if rest == "users" => ok(200, Value::Array(tenant.users().map(describe).collect())),
        None if rest == "mail" => ok(
            200,
            Value::Array(
                tenant
                    .sent_mail()
                    .iter()
                    .map(|mail| {
                        json!({
                            "from": mail.from,
                            "to": mail.to,
                            "subject": mail.subject,
                            "contentType": mail.content_type,
                            "content": mail.content,
                        })
                    })
                    .collect(),
            ),
        ),
        Some(("users", key)) => match tenant.find(&percent_decode(key)) {
            Some(user) => ok(200, describe(user)),
            None => error(404, "Request_ResourceNotFound", "No such user."),
        },
        _ => error(
            404,
            "NotFound",
            "Try /_sim/users, /_sim/users/{id or UPN} or /_sim/mail.",
        ),
    };
    to_http(answer)
}

fn fault_for(shared: &Shared, method: &str, path: &str) -> Option<FaultAction> {
    let decoded = decode_path(path);
    let matches_path = |part: &str| match part.strip_suffix('$') {
        Some(suffix) => decoded.ends_with(suffix),
        None => decoded.contains(part),
    };
    let mut faults = lock(&shared.faults);
    let index = faults.iter().position(|rule: &FaultRule| {
        rule.times > 0
            && rule
                .method
                .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method))
            && rule.path_contains.as_deref().is_none_or(matches_path)
    })?;
    faults[index].times -= 1;
    let action = faults[index].action.clone();
    if faults[index].times == 0 {
        faults.remove(index);
    }
    Some(action)
}

fn log(shared: &Shared, entry: LoggedRequest) {
    lock(&shared.log).push(entry);
    shared.arrivals.send_modify(|count| *count += 1);
}

fn shuffle(items: &mut [Value]) {
    use rand::seq::SliceRandom;
    items.shuffle(&mut rand::rng());
}
