//! The simulator's HTTP face: routing, token checks, Graph's JSON and error bodies, `$batch`,
//! paging, throttling, fault injection and the request log.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::tenant::{Refused, SentMail, SimPhone, SimUser};
use super::{FaultAction, FaultRule, LoggedRequest, Shared, lock};
use crate::phone::PhoneType;

/// The token-bucket and window state of Graph's throttling.
#[derive(Debug, Default)]
pub struct ThrottleState {
    /// Resource units left in the identity bucket, and when it was last refilled.
    bucket: Option<(f64, Instant)>,
    /// When the recent report requests were admitted.
    report_times: VecDeque<Instant>,
}

/// An answer, before it becomes HTTP or a `$batch` item.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

/// The most requests a `$batch` may carry.
const BATCH_LIMIT: usize = 20;
/// The default and largest `$top` of `/users`.
const USERS_DEFAULT_PAGE: usize = 100;
const USERS_MAX_PAGE: usize = 999;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let shared = shared.clone();
            async move { handle(&shared, method, uri, headers, body).await }
        },
    )
}

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
        return identity(shared, &method, &raw_path, query, &headers, started).await;
    }
    if let Some(rest) = raw_path.strip_prefix("/_sim/") {
        return inspect(shared, rest);
    }
    let _in_flight = InFlight::enter(shared, method.as_str(), &decode_path(&raw_path));
    let latency = lock(&shared.options).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let client_request_id = header(&headers, "client-request-id");
    let token = header(&headers, "authorization")
        .and_then(|value| value.strip_prefix("Bearer ").map(str::to_owned));
    let roles = token.as_deref().and_then(|token| {
        let tokens = lock(&shared.tokens);
        tokens
            .get(token)
            .filter(|issued| issued.expires > Instant::now())
            .map(|issued| issued.roles.clone())
    });
    let Some(path) = raw_path.strip_prefix("/v1.0") else {
        return to_http(error(404, "BadRequest", "Only the v1.0 API is simulated."));
    };
    let path = path.to_owned();
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
            match fault_for(shared, "POST", &path) {
                Some(FaultAction::Respond {
                    status,
                    code,
                    retry_after,
                }) => fault_answer(status, code, retry_after),
                delay => {
                    if let Some(FaultAction::Delay(delay)) = delay {
                        tokio::time::sleep(delay).await;
                    }
                    batch(
                        shared,
                        body_json.as_ref(),
                        roles,
                        client_request_id.as_deref(),
                        started,
                    )
                }
            }
        }
        Some(roles) => {
            single(
                shared,
                method.as_str(),
                &path,
                &query,
                body_json.as_ref(),
                roles,
            )
            .await
        }
    };
    log(
        shared,
        LoggedRequest {
            method: method.to_string(),
            path: decode_path(&path),
            raw_path: raw_path.clone(),
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
        shared.arrivals.send_modify(|_| {});
        InFlight { shared, serial }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(&self.shared.in_flight).retain(|(serial, _, _)| *serial != self.serial);
    }
}

/// One request, direct or inside a batch: faults, throttling, then the tenant.
async fn single(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
    roles: &HashSet<String>,
) -> Answer {
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
        None => {}
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

fn batch(
    shared: &Shared,
    body: Option<&Value>,
    roles: &HashSet<String>,
    client_request_id: Option<&str>,
    started: Instant,
) -> Answer {
    let Some(requests) = body
        .and_then(|body| body.get("requests"))
        .and_then(Value::as_array)
    else {
        return error(400, "BadRequest", "Invalid batch payload format.");
    };
    if requests.len() > BATCH_LIMIT {
        return error(
            400,
            "BadRequest",
            "The number of requests in a batch exceeds the limit of 20.",
        );
    }
    let mut ids = HashSet::new();
    for request in requests {
        let id = request.get("id").and_then(Value::as_str);
        let url = request.get("url").and_then(Value::as_str);
        let method = request.get("method").and_then(Value::as_str);
        if id.is_none() || url.is_none() || method.is_none() || !ids.insert(id) {
            return error(
                400,
                "BadRequest",
                "Each batch request needs a unique id, a method and a url.",
            );
        }
    }
    let mut responses = Vec::with_capacity(requests.len());
    for request in requests {
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
        // Items are served "in parallel": no latency of their own, faults and throttling each.
        let answer = match fault_for(shared, &method, &path) {
            Some(FaultAction::Respond {
                status,
                code,
                retry_after,
            }) => fault_answer(status, code, retry_after),
            _ => match throttled(shared, &method, &path, &query) {
                Some(wait) => too_many_requests(wait),
                None => dispatch(shared, &method, &path, &query, request.get("body"), roles),
            },
        };
        log(
            shared,
            LoggedRequest {
                method: method.clone(),
                path: decode_path(&path),
                raw_path: path.clone(),
                query: query.clone(),
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
            "id": id,
            "status": answer.status,
            "headers": headers,
            "body": answer.body.unwrap_or(Value::Null),
        }));
    }
    // Graph answers batch items in any order.
    shuffle(&mut responses);
    Answer {
        status: 200,
        headers: Vec::new(),
        body: Some(json!({"responses": responses})),
    }
}

/// Routes one Graph request to the tenant.
fn dispatch(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
    roles: &HashSet<String>,
) -> Answer {
    let mut segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    // `users('key')` is Graph's key syntax for `users/key`.
    if let Some(first) = segments.first().cloned()
        && let Some(key) = first
            .strip_prefix("users('")
            .and_then(|rest| rest.strip_suffix("')"))
    {
        segments.splice(0..1, ["users".to_owned(), key.replace("''", "'")]);
    }
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let base = &shared.base_url;
    match (method, segments.as_slice()) {
        ("GET", ["users"]) => {
            if let Some(denied) = require(roles, &DIRECTORY_READ, Backend::Directory) {
                return denied;
            }
            list_users(shared, query)
        }
        ("GET", ["users", key]) => {
            if let Some(denied) = require(roles, &DIRECTORY_READ, Backend::Directory) {
                return denied;
            }
            let tenant = lock(&shared.tenant);
            match tenant.find(key) {
                Some(user) => ok(200, user_json(user, select(query), base)),
                None => error(
                    404,
                    "Request_ResourceNotFound",
                    &format!(
                        "Resource '{key}' does not exist or one of its queried reference-property \
                         objects are not present."
                    ),
                ),
            }
        }
        ("GET", ["users", key, "authentication", "phoneMethods"]) => {
            if let Some(denied) = require(roles, &METHODS_READ, Backend::Methods) {
                return denied;
            }
            let tenant = lock(&shared.tenant);
            match tenant.read_phones(key, Instant::now()) {
                Ok(phones) => {
                    let wanted =
                        phone_filter(query).filter(|_| tenant.variants.honour_phone_filter);
                    let value: Vec<Value> = phones
                        .iter()
                        .filter(|phone| wanted.is_none_or(|wanted| phone.phone_type == wanted))
                        .map(phone_json)
                        .collect();
                    ok(
                        200,
                        json!({
                            "@odata.context": format!("{base}/v1.0/$metadata#users('{key}')/authentication/phoneMethods"),
                            "value": value,
                        }),
                    )
                }
                Err(refused) => refusal(&refused),
            }
        }
        ("GET", ["users", key, "authentication", "phoneMethods", id]) => {
            if let Some(denied) = require(roles, &METHODS_READ, Backend::Methods) {
                return denied;
            }
            let tenant = lock(&shared.tenant);
            let Some(phone_type) = type_of_method_id(id) else {
                return error(404, "itemNotFound", "The phone method was not found.");
            };
            match tenant.read_phones(key, Instant::now()) {
                Ok(phones) => match phones.iter().find(|phone| phone.phone_type == phone_type) {
                    Some(phone) => ok(200, phone_json(phone)),
                    None => error(404, "itemNotFound", "The phone method was not found."),
                },
                Err(refused) => refusal(&refused),
            }
        }
        ("POST", ["users", key, "authentication", "phoneMethods"]) => {
            if let Some(denied) = require(roles, &METHODS_WRITE, Backend::Methods) {
                return denied;
            }
            let Some((phone_type, number)) = write_body(body, true) else {
                return error(
                    400,
                    "badRequest",
                    "The request body must have phoneNumber and phoneType, and must not have \
                     smsSignInState.",
                );
            };
            let Some(phone_type) = phone_type else {
                return error(400, "badRequest", "phoneType is required.");
            };
            let mut tenant = lock(&shared.tenant);
            match tenant.add_phone(key, phone_type, &number, Instant::now()) {
                Ok(phone) => ok(201, phone_json(&phone)),
                Err(refused) => refusal(&refused),
            }
        }
        ("PATCH", ["users", key, "authentication", "phoneMethods", id]) => {
            if let Some(denied) = require(roles, &METHODS_WRITE, Backend::Methods) {
                return denied;
            }
            let Some(phone_type) = type_of_method_id(id) else {
                return error(404, "itemNotFound", "The phone method was not found.");
            };
            let Some((body_type, number)) = write_body(body, false) else {
                return error(400, "badRequest", "The request body must have phoneNumber.");
            };
            let mut tenant = lock(&shared.tenant);
            match tenant.update_phone(key, phone_type, body_type, &number, Instant::now()) {
                Ok(_) => no_content(),
                Err(refused) => refusal(&refused),
            }
        }
        ("DELETE", ["users", key, "authentication", "phoneMethods", id]) => {
            if let Some(denied) = require(roles, &METHODS_WRITE, Backend::Methods) {
                return denied;
            }
            let Some(phone_type) = type_of_method_id(id) else {
                return error(404, "itemNotFound", "The phone method was not found.");
            };
            let mut tenant = lock(&shared.tenant);
            match tenant.remove_phone(key, phone_type, Instant::now()) {
                Ok(()) => no_content(),
                Err(refused) => refusal(&refused),
            }
        }
        ("POST", ["users", key, "authentication", "phoneMethods", id, action])
            if matches!(*action, "enableSmsSignIn" | "disableSmsSignIn") =>
        {
            if let Some(denied) = require(roles, &METHODS_WRITE, Backend::Methods) {
                return denied;
            }
            if type_of_method_id(id) != Some(PhoneType::Mobile) {
                return error(
                    400,
                    "badRequest",
                    "SMS sign-in is available only on the mobile phone method.",
                );
            }
            let mut tenant = lock(&shared.tenant);
            match tenant.switch_sms_sign_in(key, *action == "enableSmsSignIn", Instant::now()) {
                Ok(()) => no_content(),
                Err(refused) => refusal(&refused),
            }
        }
        (
            "GET",
            [
                "reports",
                "authenticationMethods",
                "userRegistrationDetails",
            ],
        ) => registration_report(shared, query, roles),
        ("GET", ["organization"]) => {
            if let Some(denied) = require(roles, &ORGANIZATION_READ, Backend::Directory) {
                return denied;
            }
            let tenant = lock(&shared.tenant);
            ok(
                200,
                json!({
                    "@odata.context": format!("{base}/v1.0/$metadata#organization"),
                    "value": [{
                        "id": "a9a4a4c0-5d5c-4a5b-8f0e-6b7b7f0c0001",
                        "displayName": tenant.organization_name,
                    }],
                }),
            )
        }
        ("POST", ["users", key, "sendMail"]) => {
            if let Some(denied) = require(roles, &["Mail.Send"], Backend::Exchange) {
                return denied;
            }
            let Some(mail) = mail_body(key, body) else {
                return error(
                    400,
                    "ErrorInvalidRequest",
                    "The message must have a subject, a body and at least one recipient address.",
                );
            };
            let mut tenant = lock(&shared.tenant);
            match tenant.send_mail(mail) {
                Ok(()) => Answer {
                    status: 202,
                    headers: Vec::new(),
                    body: None,
                },
                Err(refused) => refusal(&refused),
            }
        }
        _ => error(
            400,
            "BadRequest",
            &format!(
                "Resource not found for the segment '{}'.",
                segments.last().unwrap_or(&"")
            ),
        ),
    }
}

const DIRECTORY_READ: [&str; 4] = [
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const METHODS_READ: [&str; 2] = [
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const METHODS_WRITE: [&str; 1] = ["UserAuthenticationMethod.ReadWrite.All"];
const ORGANIZATION_READ: [&str; 4] = [
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Which Graph backend answers, for the shape of its errors.
enum Backend {
    Directory,
    Methods,
    Reports,
    Exchange,
}

fn require(roles: &HashSet<String>, any_of: &[&str], backend: Backend) -> Option<Answer> {
    if any_of.iter().any(|role| roles.contains(*role)) {
        return None;
    }
    Some(match backend {
        Backend::Directory => error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        Backend::Methods => error(403, "accessDenied", "Request Authorization failed"),
        Backend::Reports => error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        Backend::Exchange => error(
            403,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
    })
}

fn list_users(shared: &Shared, query: &[(String, String)]) -> Answer {
    let top = query_value(query, "$top")
        .and_then(|top| top.parse::<usize>().ok())
        .unwrap_or(USERS_DEFAULT_PAGE)
        .clamp(1, USERS_MAX_PAGE);
    let skip = query_value(query, "$skiptoken")
        .and_then(|token| token.parse::<usize>().ok())
        .unwrap_or(0);
    let selected = select(query);
    let tenant = lock(&shared.tenant);
    let users: Vec<&SimUser> = tenant.users().collect();
    let page: Vec<Value> = users
        .iter()
        .skip(skip)
        .take(top)
        .map(|user| user_json(user, selected.clone(), &shared.base_url))
        .collect();
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users", shared.base_url),
        "value": page,
    });
    if skip + top < users.len() {
        let link = next_link(shared, "/users", skip + top, query, &["$top", "$select"]);
        body["@odata.nextLink"] = Value::String(link);
    }
    ok(200, body)
}

fn registration_report(
    shared: &Shared,
    query: &[(String, String)],
    roles: &HashSet<String>,
) -> Answer {
    if let Some(denied) = require(roles, &["AuditLog.Read.All"], Backend::Reports) {
        return denied;
    }
    let (licensed, page_size) = {
        let options = lock(&shared.options);
        (options.licensed, options.report_page_size.max(1))
    };
    if !licensed {
        return error(
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Tenant does not have a SKU required for this feature.",
        );
    }
    let filter = query_value(query, "$filter");
    let wanted = match filter {
        None => None,
        Some(filter) => match filter.split_once("t eq '") {
            Some((_, rest)) if filter.starts_with("methodsRegistered/any(") => {
                rest.split('\'').next().map(str::to_owned)
            }
            _ => {
                return error(400, "BadRequest", "Invalid filter clause.");
            }
        },
    };
    let skip = query_value(query, "$skiptoken")
        .and_then(|token| token.parse::<usize>().ok())
        .unwrap_or(0);
    let rows: Vec<_> = lock(&shared.tenant)
        .report_rows()
        .into_iter()
        .filter(|row| {
            wanted
                .as_deref()
                .is_none_or(|wanted| row.methods_registered.contains(&wanted))
        })
        .collect();
    let page: Vec<Value> = rows
        .iter()
        .skip(skip)
        .take(page_size)
        .map(|row| {
            json!({
                "id": row.id,
                "userPrincipalName": row.user_principal_name,
                "userDisplayName": row.display_name,
                "userType": row.user_type,
                "methodsRegistered": row.methods_registered,
            })
        })
        .collect();
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails", shared.base_url),
        "value": page,
    });
    if skip + page_size < rows.len() {
        let link = next_link(
            shared,
            "/reports/authenticationMethods/userRegistrationDetails",
            skip + page_size,
            query,
            &["$filter", "$select"],
        );
        body["@odata.nextLink"] = Value::String(link);
    }
    ok(200, body)
}

/// The managed identity endpoint (App Service protocol, api-version 2019-08-01).
async fn identity(
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
) -> Answer {
    match fault_for(shared, method.as_str(), "/msi/token") {
        Some(FaultAction::Respond { status, code, .. }) => {
            return ok(
                status,
                json!({"error": code, "error_description": "injected fault"}),
            );
        }
        Some(FaultAction::Delay(delay)) => tokio::time::sleep(delay).await,
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
    if resource.trim_end_matches('/') != shared.base_url {
        return bad(&format!(
            "Tokens are issued only for the resource {}.",
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
    let token = format!("sim-{}", uuid::Uuid::new_v4());
    let expires = Instant::now() + options.token_lifetime;
    lock(&shared.tokens).insert(
        token.clone(),
        super::IssuedToken {
            roles: options.granted_roles.clone(),
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

/// The simulator's own inspection pages, for the demo: `/_sim/users`, `/_sim/users/{key}` and
/// `/_sim/mail` (the messages sent).
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

/// Whether Graph's throttling refuses this request; the wait it asks for if so.
fn throttled(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &[(String, String)],
) -> Option<Duration> {
    let limits = lock(&shared.options).throttle.clone();
    let mut state = lock(&shared.throttle);
    let now = Instant::now();
    if path.ends_with("/sendMail") {
        // Outlook's limits (per mailbox, per 10 minutes) are not the identity bucket's.
        return None;
    }
    if path.starts_with("/reports/") {
        let (requests, window) = limits.reports_window?;
        while state
            .report_times
            .front()
            .is_some_and(|admitted| now.duration_since(*admitted) >= window)
        {
            state.report_times.pop_front();
        }
        if state.report_times.len() >= requests {
            let oldest = *state.report_times.front()?;
            return Some(window.saturating_sub(now.duration_since(oldest)));
        }
        state.report_times.push_back(now);
        return None;
    }
    let (capacity, per_second) = limits.identity_bucket?;
    let cost = resource_units(method, path, query);
    let (tokens, last) = state.bucket.unwrap_or((capacity, now));
    let tokens = (tokens + now.duration_since(last).as_secs_f64() * per_second).min(capacity);
    if tokens >= cost {
        state.bucket = Some((tokens - cost, now));
        None
    } else {
        state.bucket = Some((tokens, now));
        Some(Duration::from_secs_f64((cost - tokens) / per_second))
    }
}

/// Graph's documented resource-unit costs for identity-and-access requests.
fn resource_units(method: &str, path: &str, query: &[(String, String)]) -> f64 {
    if method != "GET" {
        return 1.0;
    }
    let base: f64 = if path.trim_end_matches('/') == "/users" {
        2.0
    } else {
        1.0
    };
    let select = if query_value(query, "$select").is_some() {
        1.0
    } else {
        0.0
    };
    (base - select).max(1.0)
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

/// The `@odata.nextLink` of a paged collection: the same path and query, skipping `skip`.
fn next_link(
    shared: &Shared,
    path: &str,
    skip: usize,
    query: &[(String, String)],
    kept: &[&str],
) -> String {
    let origin = lock(&shared.options)
        .next_link_origin
        .clone()
        .unwrap_or_else(|| shared.base_url.clone());
    let mut link = format!("{origin}/v1.0{path}?$skiptoken={skip}");
    for name in kept {
        if let Some(value) = query_value(query, name) {
            link.push_str(&format!("&{name}={}", encode_component(value)));
        }
    }
    link
}

fn retry_after_of(answer: &Answer) -> Option<String> {
    answer
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .map(|(_, value)| value.clone())
}

fn fault_answer(status: u16, code: &str, retry_after: Option<String>) -> Answer {
    let mut answer = error(status, code, "Injected fault.");
    if let Some(retry_after) = retry_after {
        answer.headers.push(("Retry-After".to_owned(), retry_after));
    }
    answer
}

fn too_many_requests(wait: Duration) -> Answer {
    let mut answer = error(429, "TooManyRequests", "Please retry again later.");
    answer.headers.push((
        "Retry-After".to_owned(),
        format!("{:.3}", wait.as_secs_f64().max(0.001)),
    ));
    answer.headers.push((
        "x-ms-throttle-information".to_owned(),
        "ResourceUnitLimitExceeded".to_owned(),
    ));
    answer
}

fn refusal(refused: &Refused) -> Answer {
    error(refused.status, &refused.code, &refused.message)
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    let request_id = uuid::Uuid::new_v4().to_string();
    Answer {
        status,
        headers: vec![("request-id".to_owned(), request_id.clone())],
        body: Some(json!({
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": httpdate::fmt_http_date(SystemTime::now()),
                    "request-id": request_id,
                    "client-request-id": request_id,
                }
            }
        })),
    }
}

fn ok(status: u16, body: Value) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body: Some(body),
    }
}

fn no_content() -> Answer {
    Answer {
        status: 204,
        headers: Vec::new(),
        body: None,
    }
}

fn to_http(answer: Answer) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (name, value) in &answer.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = match answer.body {
        Some(body) => {
            builder = builder.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn user_json(user: &SimUser, selected: Option<Vec<String>>, base: &str) -> Value {
    let all = json!({
        "id": user.id,
        "userPrincipalName": user.user_principal_name,
        "displayName": user.display_name,
        "userType": user.user_type,
        "accountEnabled": user.account_enabled,
        "mail": user.mail,
        "usageLocation": user.usage_location,
    });
    let mut body = Map::new();
    body.insert(
        "@odata.context".to_owned(),
        Value::String(format!("{base}/v1.0/$metadata#users/$entity")),
    );
    if let Value::Object(all) = all {
        for (name, value) in all {
            let wanted = match &selected {
                None => true,
                Some(selected) => {
                    name == "id"
                        || selected
                            .iter()
                            .any(|field| field.eq_ignore_ascii_case(&name))
                }
            };
            if wanted {
                body.insert(name, value);
            }
        }
    }
    Value::Object(body)
}

fn phone_json(phone: &SimPhone) -> Value {
    json!({
        "id": phone.phone_type.method_id(),
        "phoneNumber": phone.number,
        "phoneType": phone.phone_type.as_str(),
        "smsSignInState": phone.sms_sign_in_state,
    })
}

/// Reads a `sendMail` body; `None` when Exchange would refuse it.
fn mail_body(sender: &str, body: Option<&Value>) -> Option<SentMail> {
    let body = body?;
    let message = body.get("message")?;
    let to: Vec<String> = message
        .get("toRecipients")?
        .as_array()?
        .iter()
        .map(|recipient| {
            recipient
                .pointer("/emailAddress/address")
                .and_then(Value::as_str)
                .filter(|address| address.contains('@'))
                .map(str::to_owned)
        })
        .collect::<Option<_>>()?;
    if to.is_empty() {
        return None;
    }
    let content = message.get("body")?;
    Some(SentMail {
        from: sender.to_owned(),
        to,
        subject: message.get("subject")?.as_str()?.to_owned(),
        content_type: content
            .get("contentType")
            .and_then(Value::as_str)
            .unwrap_or("Text")
            .to_owned(),
        content: content.get("content")?.as_str()?.to_owned(),
        save_to_sent_items: body
            .get("saveToSentItems")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    })
}

/// Reads a POST/PATCH body; `None` when it is not acceptable.
fn write_body(body: Option<&Value>, type_required: bool) -> Option<(Option<PhoneType>, String)> {
    let body = body?.as_object()?;
    if body.contains_key("smsSignInState") {
        return None;
    }
    let number = body.get("phoneNumber")?.as_str()?.to_owned();
    let phone_type = match body.get("phoneType") {
        Some(Value::String(name)) => Some(PhoneType::parse(name).filter(|t| t.as_str() == name)?),
        None if !type_required => None,
        _ => None,
    };
    Some((phone_type, number))
}

fn type_of_method_id(id: &str) -> Option<PhoneType> {
    PhoneType::ALL
        .into_iter()
        .find(|phone_type| phone_type.method_id().eq_ignore_ascii_case(id))
}

fn phone_filter(query: &[(String, String)]) -> Option<PhoneType> {
    let filter = query_value(query, "$filter")?;
    let name = filter.strip_prefix("phoneType eq '")?.strip_suffix('\'')?;
    PhoneType::parse(name)
}

fn select(query: &[(String, String)]) -> Option<Vec<String>> {
    query_value(query, "$select").map(|fields| {
        fields
            .split(',')
            .map(|field| field.trim().to_owned())
            .collect()
    })
}

fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

fn encode_component(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn decode_path(path: &str) -> String {
    path.split('/')
        .map(percent_decode)
        .collect::<Vec<_>>()
        .join("/")
}

fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

fn log(shared: &Shared, entry: LoggedRequest) {
    lock(&shared.log).push(entry);
    shared.arrivals.send_modify(|count| *count += 1);
}

fn shuffle(items: &mut [Value]) {
    for index in (1..items.len()).rev() {
        let other = rand::random_range(0..=index);
        items.swap(index, other);
    }
}
