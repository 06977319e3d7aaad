//! Graph's endpoints: which request reaches which part of the tenant, with the permission
//! each needs and the answer Graph gives.

use std::collections::HashSet;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::applications::{
    graph_permission_grants, owners, service_principal, service_principals_by_id,
};
use super::collections::{list_users, registration_report};
use super::directory::{
    check_member_groups, group_eligibilities, group_owners, groups_by_id, role_definitions,
    role_holdings, service_principal_members,
};
use super::json::{
    Reply, error, mail_body, no_content, ok, percent_decode, phone_filter, phone_json, refusal,
    select, type_of_method_id, user_json, write_body,
};
use super::permissions::{
    APPLICATION_READ, Backend, DIRECTORY_READ, GROUP_ELIGIBILITY_READ, MEMBERSHIP_READ,
    METHODS_READ, ORGANIZATION_READ, PHONE_METHODS_READ, PHONE_METHODS_WRITE, POLICY_READ,
    ROLES_READ, require,
};
use crate::phone::PhoneType;
use crate::simulator::{Shared, lock};

/// Routes one Graph request to the tenant.
pub(super) fn dispatch(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
    roles: &HashSet<String>,
) -> Reply {
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
    // `servicePrincipals(appId='…')` and `applications(appId='…')`: the alternate key.
    for collection in ["servicePrincipals", "applications"] {
        if let Some(first) = segments.first().cloned()
            && let Some(app_id) = first
                .strip_prefix(&format!("{collection}(appId='"))
                .and_then(|rest| rest.strip_suffix("')"))
        {
            segments.splice(0..1, [collection.to_owned(), format!("appId={app_id}")]);
        }
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
            if let Some(denied) = require(roles, &PHONE_METHODS_READ, Backend::Methods) {
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
        ("GET", ["users", key, "authentication", "methods"]) => {
            if let Some(denied) = require(roles, &METHODS_READ, Backend::Methods) {
                return denied;
            }
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
        (
            "GET",
            [
                "policies",
                "authenticationMethodsPolicy",
                "authenticationMethodConfigurations",
                id,
            ],
        ) if id.eq_ignore_ascii_case("sms") || id.eq_ignore_ascii_case("voice") => {
            if let Some(denied) = require(roles, &POLICY_READ, Backend::Directory) {
                return denied;
            }
            let tenant = lock(&shared.tenant);
            let policy = &tenant.policy;
            let sms = id.eq_ignore_ascii_case("sms");
            let channel = if sms { &policy.sms } else { &policy.voice };
            let target_kind = |id: &str| {
                if tenant.find(id).is_some() {
                    "user"
                } else {
                    "group"
                }
            };
            let include: Vec<Value> = channel
                .include
                .iter()
                .map(|target| {
                    let mut entry = json!({"targetType": target_kind(&target.id), "id": target.id, "isRegistrationRequired": false});
                    if sms {
                        entry["isUsableForSignIn"] = json!(target.usable_for_sign_in);
                    }
                    entry
                })
                .collect();
            let exclude: Vec<Value> = channel
                .exclude
                .iter()
                .map(|id| json!({"targetType": target_kind(id), "id": id}))
                .collect();
            let mut body = json!({
                "@odata.type": if sms { "#microsoft.graph.smsAuthenticationMethodConfiguration" } else { "#microsoft.graph.voiceAuthenticationMethodConfiguration" },
                "id": if sms { "Sms" } else { "Voice" },
                "state": if channel.enabled { "enabled" } else { "disabled" },
                "includeTargets": include,
                "excludeTargets": exclude,
            });
            if !sms {
                body["isOfficePhoneAllowed"] = json!(policy.office_phone_allowed);
            }
            let provider = if sms {
                policy.sms_provider
            } else {
                policy.voice_provider
            };
            if let Some(settings) = super::readiness::provider_json(provider) {
                body["telecomProviderSettings"] = settings;
            }
            ok(200, body)
        }
        (
            "GET",
            [
                "policies",
                "authenticationMethodsPolicy",
                "authenticationMethodConfigurations",
                id,
            ],
        ) => {
            if let Some(denied) = require(roles, &POLICY_READ, Backend::Directory) {
                return denied;
            }
            super::readiness::other_configuration(shared, id)
        }
        ("GET", ["groups", group, "transitiveMembers", "microsoft.graph.user"]) => {
            if let Some(denied) = require(roles, &MEMBERSHIP_READ, Backend::Directory) {
                return denied;
            }
            super::readiness::transitive_users(shared, group, query)
        }
        ("GET", ["users", key, "authentication", "phoneMethods", id]) => {
            if let Some(denied) = require(roles, &PHONE_METHODS_READ, Backend::Methods) {
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
            if let Some(denied) = require(roles, &PHONE_METHODS_WRITE, Backend::Methods) {
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
            if let Some(denied) = require(roles, &PHONE_METHODS_WRITE, Backend::Methods) {
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
            if let Some(denied) = require(roles, &PHONE_METHODS_WRITE, Backend::Methods) {
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
            if let Some(denied) = require(roles, &PHONE_METHODS_WRITE, Backend::Methods) {
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
                Ok(()) => Reply {
                    status: 202,
                    headers: Vec::new(),
                    body: None,
                },
                Err(refused) => refusal(&refused),
            }
        }
        ("GET", ["beta", "roleManagement", "directory", "roleDefinitions"]) => {
            if let Some(denied) = require(roles, &ROLES_READ, Backend::Directory) {
                return denied;
            }
            role_definitions(shared, query)
        }
        ("GET", ["roleManagement", "directory", collection])
            if matches!(
                *collection,
                "roleAssignments" | "roleEligibilityScheduleInstances"
            ) =>
        {
            if let Some(denied) = require(roles, &ROLES_READ, Backend::Directory) {
                return denied;
            }
            role_holdings(shared, collection, query)
        }
        (
            "GET",
            [
                "identityGovernance",
                "privilegedAccess",
                "group",
                "eligibilityScheduleInstances",
            ],
        ) => {
            if let Some(denied) = require(roles, &GROUP_ELIGIBILITY_READ, Backend::Directory) {
                return denied;
            }
            group_eligibilities(shared, query)
        }
        (
            "GET",
            [
                "groups",
                group,
                "members",
                "microsoft.graph.servicePrincipal",
            ],
        ) => {
            if let Some(denied) = require(roles, &MEMBERSHIP_READ, Backend::Directory) {
                return denied;
            }
            service_principal_members(shared, group)
        }
        ("GET", ["groups", group, "owners"]) => {
            if let Some(denied) = require(roles, &MEMBERSHIP_READ, Backend::Directory) {
                return denied;
            }
            group_owners(shared, group)
        }
        ("GET", ["groups"]) => {
            if let Some(denied) = require(roles, &MEMBERSHIP_READ, Backend::Directory) {
                return denied;
            }
            groups_by_id(shared, query)
        }
        ("GET", ["servicePrincipals"]) => {
            if let Some(denied) = require(roles, &APPLICATION_READ, Backend::Directory) {
                return denied;
            }
            service_principals_by_id(shared, query)
        }
        ("GET", ["servicePrincipals", key]) => {
            if let Some(denied) = require(roles, &APPLICATION_READ, Backend::Directory) {
                return denied;
            }
            service_principal(shared, key)
        }
        ("GET", ["servicePrincipals", key, "appRoleAssignedTo"]) => {
            if let Some(denied) = require(roles, &APPLICATION_READ, Backend::Directory) {
                return denied;
            }
            graph_permission_grants(shared, key, query)
        }
        (
            "GET",
            [
                collection @ ("servicePrincipals" | "applications"),
                key,
                "owners",
            ],
        ) => {
            if let Some(denied) = require(roles, &APPLICATION_READ, Backend::Directory) {
                return denied;
            }
            owners(shared, key, *collection == "applications")
        }
        ("POST", ["users", key, "checkMemberGroups"]) => {
            if let Some(denied) = require(roles, &DIRECTORY_READ, Backend::Directory) {
                return denied;
            }
            if let Some(denied) = require(roles, &MEMBERSHIP_READ, Backend::Directory) {
                return denied;
            }
            check_member_groups(shared, key, body)
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
