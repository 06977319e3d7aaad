//! Writes and reads Graph's JSON for the simulator: answers and error bodies, users and phone
//! methods, request bodies, queries and paths.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{HeaderMap, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::phone::PhoneType;
use crate::simulator::tenant::{Refused, SentMail, SimPhone, SimUser};

/// An answer, before it becomes HTTP or a `$batch` item.
#[derive(Debug)]
pub(super) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

pub(super) fn retry_after_of(answer: &Reply) -> Option<String> {
    answer
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .map(|(_, value)| value.clone())
}

pub(super) fn fault_answer(status: u16, code: &str, retry_after: Option<String>) -> Reply {
    let mut answer = error(status, code, "Injected fault.");
    if let Some(retry_after) = retry_after {
        answer.headers.push(("Retry-After".to_owned(), retry_after));
    }
    answer
}

/// A 200 whose body is not what any request reads.
pub(super) fn malformed() -> Reply {
    ok(200, json!({"value": "not a collection"}))
}

pub(super) fn too_many_requests(wait: Duration) -> Reply {
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

pub(super) fn refusal(refused: &Refused) -> Reply {
    error(refused.status, &refused.code, &refused.message)
}

pub(super) fn error(status: u16, code: &str, message: &str) -> Reply {
    let request_id = uuid::Uuid::new_v4().to_string();
    Reply {
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

pub(super) fn ok(status: u16, body: Value) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: Some(body),
    }
}

pub(super) fn no_content() -> Reply {
    Reply {
        status: 204,
        headers: Vec::new(),
        body: None,
    }
}

pub(super) fn to_http(answer: Reply) -> Response<Body> {
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

pub(super) fn user_json(user: &SimUser, selected: Option<Vec<String>>, base: &str) -> Value {
    let all = json!({
        "id": user.id,
        "userPrincipalName": user.user_principal_name,
        "displayName": user.display_name,
        "userType": user.user_type,
        "accountEnabled": user.account_enabled,
        "mail": user.mail,
        "usageLocation": user.usage_location,
        // A B2B user has an invitation state; an internal guest or a member has none.
        "externalUserState": user.user_principal_name.contains("#EXT#").then_some("Accepted"),
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

pub(super) fn phone_json(phone: &SimPhone) -> Value {
    json!({
        "id": phone.phone_type.method_id(),
        "phoneNumber": phone.number,
        "phoneType": phone.phone_type.as_str(),
        "smsSignInState": phone.sms_sign_in_state,
    })
}

/// Reads a `sendMail` body; `None` when Exchange would refuse it.
pub(super) fn mail_body(sender: &str, body: Option<&Value>) -> Option<SentMail> {
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
pub(super) fn write_body(
    body: Option<&Value>,
    type_required: bool,
) -> Option<(Option<PhoneType>, String)> {
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

pub(super) fn type_of_method_id(id: &str) -> Option<PhoneType> {
    PhoneType::ALL
        .into_iter()
        .find(|phone_type| phone_type.method_id().eq_ignore_ascii_case(id))
}

pub(super) fn phone_filter(query: &[(String, String)]) -> Option<PhoneType> {
    let filter = query_value(query, "$filter")?;
    let name = filter.strip_prefix("phoneType eq '")?.strip_suffix('\'')?;
    PhoneType::parse(name)
}

pub(super) fn select(query: &[(String, String)]) -> Option<Vec<String>> {
    query_value(query, "$select").map(|fields| {
        fields
            .split(',')
            .map(|field| field.trim().to_owned())
            .collect()
    })
}

/// Reads the ids of a `$filter=id in ('…', …)`, lowercase, at most 15 as Graph allows;
/// otherwise returns the answer Graph gives.
pub(super) fn ids_in_filter(query: &[(String, String)]) -> Result<Vec<String>, Reply> {
    let Some(list) = query_value(query, "$filter")
        .and_then(|filter| filter.trim().strip_prefix("id in ("))
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return Err(error(
            400,
            "Request_UnsupportedQuery",
            "Only $filter=id in (…) is simulated.",
        ));
    };
    let ids: Vec<String> = list
        .split(',')
        .map(|id| id.trim().trim_matches('\'').to_ascii_lowercase())
        .collect();
    if ids.len() > 15 {
        return Err(error(
            400,
            "Request_UnsupportedQuery",
            "The number of values in an 'in' clause cannot exceed 15.",
        ));
    }
    Ok(ids)
}

pub(super) fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

pub(super) fn parse_query(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

pub(super) fn encode_component(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub(super) fn decode_path(path: &str) -> String {
    path.split('/')
        .map(percent_decode)
        .collect::<Vec<_>>()
        .join("/")
}

pub(super) fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

pub(super) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}
