//! Serves a user's authentication-methods endpoints: reading their phone methods and every
//! method, adding, updating and removing a phone method, and switching SMS sign-in, with the
//! answers Graph gives. Permissions are checked before these are called (`routes`).

use serde_json::{Value, json};
use tokio::time::Instant;

use super::json::{
    Reply, error, no_content, ok, phone_filter, phone_json, refusal, type_of_method_id, write_body,
};
use crate::phone::PhoneType;
use crate::simulator::{Shared, lock};

pub(super) fn phone_methods(shared: &Shared, key: &str, query: &[(String, String)]) -> Reply {
    let base = &shared.base_url;
    let tenant = lock(&shared.tenant);
    match tenant.read_phones(key, Instant::now()) {
        Ok(phones) => {
            let wanted = phone_filter(query).filter(|_| tenant.variants.honour_phone_filter);
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

pub(super) fn methods(shared: &Shared, key: &str) -> Reply {
    let base = &shared.base_url;
    let tenant = lock(&shared.tenant);
    match tenant.read_phones(key, Instant::now()) {
        Ok(phones) => {
            let with_state = tenant.variants.methods_list_sms_state;
            let mut value = vec![json!({
                "@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
                "id": "28c10230-6103-485e-b985-444c60001490",
            })];
            value.extend(phones.iter().map(|phone| {
                let mut entry = phone_json(phone);
                entry["@odata.type"] = json!("#microsoft.graph.phoneAuthenticationMethod");
                if !with_state && let Some(entry) = entry.as_object_mut() {
                    entry.remove("smsSignInState");
                }
                entry
            }));
            let others = tenant
                .find(key)
                .map(|user| user.other_methods.clone())
                .unwrap_or_default();
            value.extend(others.iter().map(|kind| {
                json!({"@odata.type": format!("#microsoft.graph.{kind}"), "id": uuid::Uuid::new_v4().to_string()})
            }));
            ok(
                200,
                json!({
                    "@odata.context": format!("{base}/v1.0/$metadata#users('{key}')/authentication/methods"),
                    "value": value,
                }),
            )
        }
        Err(refused) => refusal(&refused),
    }
}

pub(super) fn phone_method(shared: &Shared, key: &str, id: &str) -> Reply {
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

pub(super) fn add_phone(shared: &Shared, key: &str, body: Option<&Value>) -> Reply {
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

pub(super) fn update_phone(shared: &Shared, key: &str, id: &str, body: Option<&Value>) -> Reply {
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

pub(super) fn remove_phone(shared: &Shared, key: &str, id: &str) -> Reply {
    let Some(phone_type) = type_of_method_id(id) else {
        return error(404, "itemNotFound", "The phone method was not found.");
    };
    let mut tenant = lock(&shared.tenant);
    match tenant.remove_phone(key, phone_type, Instant::now()) {
        Ok(()) => no_content(),
        Err(refused) => refusal(&refused),
    }
}

pub(super) fn switch_sms_sign_in(shared: &Shared, key: &str, id: &str, enable: bool) -> Reply {
    if type_of_method_id(id) != Some(PhoneType::Mobile) {
        return error(
            400,
            "badRequest",
            "SMS sign-in is available only on the mobile phone method.",
        );
    }
    let mut tenant = lock(&shared.tenant);
    match tenant.switch_sms_sign_in(key, enable, Instant::now()) {
        Ok(()) => no_content(),
        Err(refused) => refusal(&refused),
    }
}
