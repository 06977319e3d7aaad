//! Routes Graph's endpoints: decides which request reaches which part of the tenant, with the
//! permission each needs and the answer Graph gives.
//!
//! A request is first read into a `Route` (the endpoint and the keys its path names), then
//! checked against the route's permissions (`Route::needs`, one row per endpoint), then served.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::applications::{
    graph_permission_grants, owners, service_principal, service_principals_by_id,
};
use super::collections::{list_users, registration_report};
use super::directory::{
    check_member_groups, group_eligibilities, group_owners, groups_by_id, role_definitions,
    role_holdings, service_principal_members,
};
use super::json::{Reply, error, mail_body, ok, percent_decode, refusal, select, user_json};
use super::methods::{
    add_phone, methods, phone_method, phone_methods, remove_phone, switch_sms_sign_in, update_phone,
};
use super::permissions::{
    APPLICATION_READ, Backend, DIRECTORY_READ, GROUP_ELIGIBILITY_READ, MEMBERSHIP_READ,
    METHODS_READ, ORGANIZATION_READ, PHONE_METHODS_READ, PHONE_METHODS_WRITE, POLICY_READ,
    ROLES_READ, require,
};
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
    let segments = path_segments(path);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let Some(route) = Route::of(method, &segments) else {
        return error(
            400,
            "BadRequest",
            &format!(
                "Resource not found for the segment '{}'.",
                segments.last().unwrap_or(&"")
            ),
        );
    };
    let needs = route.needs();
    // Every permission set a route needs must be held; the first one missing answers.
    for any_of in needs.all_of {
        if let Some(denied) = require(roles, any_of, needs.backend) {
            return denied;
        }
    }
    route.serve(&Request {
        shared,
        query,
        body,
        roles,
    })
}

/// Splits the path into its segments, percent-decoded, with Graph's key syntaxes read as plain
/// segments.
fn path_segments(path: &str) -> Vec<String> {
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
    // `servicePrincipals(appId='…')` and `applications(appId='…')` use the alternate key.
    for collection in ["servicePrincipals", "applications"] {
        if let Some(first) = segments.first().cloned()
            && let Some(app_id) = first
                .strip_prefix(&format!("{collection}(appId='"))
                .and_then(|rest| rest.strip_suffix("')"))
        {
            segments.splice(0..1, [collection.to_owned(), format!("appId={app_id}")]);
        }
    }
    segments
}

/// What serving a route may read besides the keys in its path.
struct Request<'a> {
    shared: &'a Shared,
    query: &'a [(String, String)],
    body: Option<&'a Value>,
    roles: &'a HashSet<String>,
}

/// The permissions a route needs: one of each listed set, and the backend whose 403 answers
/// when one is missing.
struct Needs {
    all_of: &'static [&'static [&'static str]],
    backend: Backend,
}

/// Every endpoint the simulator serves, with the keys its path names.
enum Route<'a> {
    ListUsers,
    User {
        key: &'a str,
    },
    PhoneMethods {
        key: &'a str,
    },
    Methods {
        key: &'a str,
    },
    MethodConfiguration {
        sms: bool,
    },
    OtherMethodConfiguration {
        id: &'a str,
    },
    GroupUsers {
        group: &'a str,
    },
    PhoneMethod {
        key: &'a str,
        id: &'a str,
    },
    AddPhone {
        key: &'a str,
    },
    UpdatePhone {
        key: &'a str,
        id: &'a str,
    },
    RemovePhone {
        key: &'a str,
        id: &'a str,
    },
    SwitchSmsSignIn {
        key: &'a str,
        id: &'a str,
        enable: bool,
    },
    RegistrationReport,
    Organization,
    SendMail {
        key: &'a str,
    },
    RoleDefinitions,
    RoleHoldings {
        collection: &'a str,
    },
    GroupEligibilities,
    ServicePrincipalMembers {
        group: &'a str,
    },
    GroupOwners {
        group: &'a str,
    },
    Groups,
    ServicePrincipals,
    ServicePrincipal {
        key: &'a str,
    },
    GraphPermissionGrants {
        key: &'a str,
    },
    Owners {
        key: &'a str,
        application: bool,
    },
    CheckMemberGroups {
        key: &'a str,
    },
}

impl<'a> Route<'a> {
    /// Finds the route a request's method and path segments name, if any.
    fn of(method: &str, segments: &[&'a str]) -> Option<Self> {
        Some(match (method, segments) {
            ("GET", ["users"]) => Self::ListUsers,
            ("GET", ["users", key]) => Self::User { key },
            ("GET", ["users", key, "authentication", "phoneMethods"]) => Self::PhoneMethods { key },
            ("GET", ["users", key, "authentication", "methods"]) => Self::Methods { key },
            (
                "GET",
                [
                    "policies",
                    "authenticationMethodsPolicy",
                    "authenticationMethodConfigurations",
                    id,
                ],
            ) if id.eq_ignore_ascii_case("sms") || id.eq_ignore_ascii_case("voice") => {
                Self::MethodConfiguration {
                    sms: id.eq_ignore_ascii_case("sms"),
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
            ) => Self::OtherMethodConfiguration { id },
            ("GET", ["users", key, "authentication", "phoneMethods", id]) => {
                Self::PhoneMethod { key, id }
            }
            ("POST", ["users", key, "authentication", "phoneMethods"]) => Self::AddPhone { key },
            ("PATCH", ["users", key, "authentication", "phoneMethods", id]) => {
                Self::UpdatePhone { key, id }
            }
            ("DELETE", ["users", key, "authentication", "phoneMethods", id]) => {
                Self::RemovePhone { key, id }
            }
            ("POST", ["users", key, "authentication", "phoneMethods", id, action])
                if matches!(*action, "enableSmsSignIn" | "disableSmsSignIn") =>
            {
                Self::SwitchSmsSignIn {
                    key,
                    id,
                    enable: *action == "enableSmsSignIn",
                }
            }
            ("POST", ["users", key, "sendMail"]) => Self::SendMail { key },
            ("POST", ["users", key, "checkMemberGroups"]) => Self::CheckMemberGroups { key },
            ("GET", segments) => return Self::of_directory(segments),
            _ => return None,
        })
    }

    /// Finds the read-only routes outside a user's own methods: reports, the organization,
    /// roles, groups and applications.
    fn of_directory(segments: &[&'a str]) -> Option<Self> {
        Some(match segments {
            [
                "reports",
                "authenticationMethods",
                "userRegistrationDetails",
            ] => Self::RegistrationReport,
            ["organization"] => Self::Organization,
            ["beta", "roleManagement", "directory", "roleDefinitions"] => Self::RoleDefinitions,
            ["roleManagement", "directory", collection]
                if matches!(
                    *collection,
                    "roleAssignments" | "roleEligibilityScheduleInstances"
                ) =>
            {
                Self::RoleHoldings { collection }
            }
            [
                "identityGovernance",
                "privilegedAccess",
                "group",
                "eligibilityScheduleInstances",
            ] => Self::GroupEligibilities,
            [
                "groups",
                group,
                "members",
                "microsoft.graph.servicePrincipal",
            ] => Self::ServicePrincipalMembers { group },
            ["groups", group, "owners"] => Self::GroupOwners { group },
            ["groups", group, "transitiveMembers", "microsoft.graph.user"] => {
                Self::GroupUsers { group }
            }
            ["groups"] => Self::Groups,
            ["servicePrincipals"] => Self::ServicePrincipals,
            ["servicePrincipals", key] => Self::ServicePrincipal { key },
            ["servicePrincipals", key, "appRoleAssignedTo"] => Self::GraphPermissionGrants { key },
            [
                collection @ ("servicePrincipals" | "applications"),
                key,
                "owners",
            ] => Self::Owners {
                key,
                application: *collection == "applications",
            },
            _ => return None,
        })
    }

    /// The permissions this route needs, as Graph's API reference lists them for the call.
    fn needs(&self) -> Needs {
        use Backend::{Directory, Exchange, Methods};
        let (all_of, backend): (&'static [&'static [&'static str]], Backend) = match self {
            Self::ListUsers | Self::User { .. } => (&[&DIRECTORY_READ], Directory),
            Self::PhoneMethods { .. } | Self::PhoneMethod { .. } => {
                (&[&PHONE_METHODS_READ], Methods)
            }
            Self::Methods { .. } => (&[&METHODS_READ], Methods),
            Self::MethodConfiguration { .. } | Self::OtherMethodConfiguration { .. } => {
                (&[&POLICY_READ], Directory)
            }
            Self::AddPhone { .. }
            | Self::UpdatePhone { .. }
            | Self::RemovePhone { .. }
            | Self::SwitchSmsSignIn { .. } => (&[&PHONE_METHODS_WRITE], Methods),
            // The report's handler checks its own permission, with the reports backend's 403.
            Self::RegistrationReport => (&[], Directory),
            Self::Organization => (&[&ORGANIZATION_READ], Directory),
            Self::SendMail { .. } => (&[&["Mail.Send"]], Exchange),
            Self::RoleDefinitions | Self::RoleHoldings { .. } => (&[&ROLES_READ], Directory),
            Self::GroupEligibilities => (&[&GROUP_ELIGIBILITY_READ], Directory),
            Self::ServicePrincipalMembers { .. }
            | Self::GroupOwners { .. }
            | Self::GroupUsers { .. }
            | Self::Groups => (&[&MEMBERSHIP_READ], Directory),
            Self::ServicePrincipals
            | Self::ServicePrincipal { .. }
            | Self::GraphPermissionGrants { .. }
            | Self::Owners { .. } => (&[&APPLICATION_READ], Directory),
            Self::CheckMemberGroups { .. } => (&[&DIRECTORY_READ, &MEMBERSHIP_READ], Directory),
        };
        Needs { all_of, backend }
    }

    /// Serves Graph's answer to this route, whose permissions are already checked.
    fn serve(&self, request: &Request<'_>) -> Reply {
        let Request {
            shared,
            query,
            body,
            roles,
        } = *request;
        match *self {
            Self::ListUsers => list_users(shared, query),
            Self::User { key } => user(shared, key, query),
            Self::PhoneMethods { key } => phone_methods(shared, key, query),
            Self::Methods { key } => methods(shared, key),
            Self::MethodConfiguration { sms } => method_configuration(shared, sms),
            Self::OtherMethodConfiguration { id } => {
                super::readiness::other_configuration(shared, id)
            }
            Self::GroupUsers { group } => super::readiness::transitive_users(shared, group, query),
            Self::PhoneMethod { key, id } => phone_method(shared, key, id),
            Self::AddPhone { key } => add_phone(shared, key, body),
            Self::UpdatePhone { key, id } => update_phone(shared, key, id, body),
            Self::RemovePhone { key, id } => remove_phone(shared, key, id),
            Self::SwitchSmsSignIn { key, id, enable } => {
                switch_sms_sign_in(shared, key, id, enable)
            }
            Self::RegistrationReport => registration_report(shared, query, roles),
            Self::Organization => organization(shared),
            Self::SendMail { key } => send_mail(shared, key, body),
            Self::RoleDefinitions => role_definitions(shared, query),
            Self::RoleHoldings { collection } => role_holdings(shared, collection, query),
            Self::GroupEligibilities => group_eligibilities(shared, query),
            Self::ServicePrincipalMembers { group } => service_principal_members(shared, group),
            Self::GroupOwners { group } => group_owners(shared, group),
            Self::Groups => groups_by_id(shared, query),
            Self::ServicePrincipals => service_principals_by_id(shared, query),
            Self::ServicePrincipal { key } => service_principal(shared, key),
            Self::GraphPermissionGrants { key } => graph_permission_grants(shared, key, query),
            Self::Owners { key, application } => owners(shared, key, application),
            Self::CheckMemberGroups { key } => check_member_groups(shared, key, body),
        }
    }
}

fn user(shared: &Shared, key: &str, query: &[(String, String)]) -> Reply {
    let tenant = lock(&shared.tenant);
    match tenant.find(key) {
        Some(user) => ok(200, user_json(user, select(query), &shared.base_url)),
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

/// Serves the SMS (`sms`) or Voice configuration of the Authentication methods policy.
fn method_configuration(shared: &Shared, sms: bool) -> Reply {
    let tenant = lock(&shared.tenant);
    let policy = &tenant.policy;
    let channel = if sms { &policy.sms } else { &policy.voice };
    let mut body =
        super::readiness::configuration_json(&tenant, if sms { "Sms" } else { "Voice" }, channel);
    if sms && let Some(Value::Array(include)) = body.get_mut("includeTargets") {
        for (entry, target) in include.iter_mut().zip(&channel.include) {
            entry["isUsableForSignIn"] = json!(target.usable_for_sign_in);
        }
    }
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

fn organization(shared: &Shared) -> Reply {
    let base = &shared.base_url;
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

fn send_mail(shared: &Shared, key: &str, body: Option<&Value>) -> Reply {
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
