//! Serves Graph's application endpoints, as far as the protection of privileged accounts reads
//! them: Graph's own service principal with its app roles, the Graph application permissions
//! granted to service principals (`appRoleAssignedTo`, paged), service principals by id, and
//! the owners of service principals and of app registrations (reference graph.md §15).

use serde_json::{Value, json};

use super::collections::Page;
use super::json::{Reply, error, ids_in_filter, ok};
use crate::simulator::tenant::directory::{GRAPH_APP_ID, GRAPH_SERVICE_PRINCIPAL_ID, SimApp};
use crate::simulator::{Shared, lock};

/// The managed identity's own service principal, which holds the roles the simulator grants.
pub const MANAGED_IDENTITY_SERVICE_PRINCIPAL_ID: &str = "5e7d1a10-0000-4000-8000-0000000000a1";

/// The default and largest page of `appRoleAssignedTo`.
const GRANTS_DEFAULT_PAGE: usize = 100;
const GRANTS_MAX_PAGE: usize = 999;

/// `GET /servicePrincipals/{id}` or `/servicePrincipals(appId='…')`: Graph's service principal
/// (with its app roles) or an application's.
pub(super) fn service_principal(shared: &Shared, key: &str) -> Reply {
    let identity_roles = identity_roles(shared);
    let mut tenant = lock(&shared.tenant);
    if is_graph(key) {
        for role in &identity_roles {
            tenant.directory.graph_app_role_id(role);
        }
        let roles: Vec<Value> = tenant
            .directory
            .graph_app_roles
            .iter()
            .map(|(value, id)| {
                json!({"id": id, "value": value, "allowedMemberTypes": ["Application"], "isEnabled": true})
            })
            .collect();
        return ok(
            200,
            json!({"id": GRAPH_SERVICE_PRINCIPAL_ID, "appId": GRAPH_APP_ID, "displayName": "Microsoft Graph", "appRoles": roles}),
        );
    }
    let key = app_id_key(key).unwrap_or(key);
    match tenant.directory.app(key) {
        Some(app) => ok(200, service_principal_json(app)),
        None => not_found(key),
    }
}

/// `GET /servicePrincipals?$filter=id in ('…', …)`: the service principals among the ids (at
/// most 15), with `id`, `appId` and `displayName`.
pub(super) fn service_principals_by_id(shared: &Shared, query: &[(String, String)]) -> Reply {
    let ids = match ids_in_filter(query) {
        Ok(ids) => ids,
        Err(refusal) => return refusal,
    };
    let tenant = lock(&shared.tenant);
    let mut value: Vec<Value> = ids
        .iter()
        .filter_map(|id| tenant.directory.app(id))
        .filter(|app| ids.contains(&app.service_principal_id.to_ascii_lowercase()))
        .map(service_principal_json)
        .collect();
    if ids
        .iter()
        .any(|id| id == MANAGED_IDENTITY_SERVICE_PRINCIPAL_ID)
    {
        value.push(json!({"id": MANAGED_IDENTITY_SERVICE_PRINCIPAL_ID, "appId": "5e7d1a10-0000-4000-8000-0000000000a2", "displayName": "mfa-phone-handler", "servicePrincipalType": "ManagedIdentity"}));
    }
    ok(
        200,
        json!({"@odata.context": format!("{}/v1.0/$metadata#servicePrincipals", shared.base_url), "value": value}),
    )
}

/// `GET /servicePrincipals(appId='00000003-…')/appRoleAssignedTo`: every grant of a Graph
/// application permission, the managed identity's own included, paged.
pub(super) fn graph_permission_grants(
    shared: &Shared,
    key: &str,
    query: &[(String, String)],
) -> Reply {
    if !is_graph(key) {
        return ok(200, json!({"value": []}));
    }
    let identity_roles = identity_roles(shared);
    let mut tenant = lock(&shared.tenant);
    let mut grants: Vec<(String, String, String)> = Vec::new();
    for role in identity_roles {
        grants.push((
            MANAGED_IDENTITY_SERVICE_PRINCIPAL_ID.to_owned(),
            "mfa-phone-handler".to_owned(),
            tenant.directory.graph_app_role_id(&role),
        ));
    }
    let apps: Vec<(String, String, Vec<String>)> = tenant
        .directory
        .apps
        .iter()
        .map(|app| {
            (
                app.service_principal_id.clone(),
                app.display_name.clone(),
                app.graph_permissions.clone(),
            )
        })
        .collect();
    for (id, name, permissions) in apps {
        for permission in permissions {
            grants.push((
                id.clone(),
                name.clone(),
                tenant.directory.graph_app_role_id(&permission),
            ));
        }
    }
    let asked = Page::asked(query, GRANTS_DEFAULT_PAGE, GRANTS_MAX_PAGE);
    let page: Vec<Value> = asked
        .of(&grants)
        .map(|(principal, name, role)| {
            json!({
                "id": uuid::Uuid::new_v4().to_string(),
                "principalId": principal,
                "principalType": "ServicePrincipal",
                "principalDisplayName": name,
                "resourceId": GRAPH_SERVICE_PRINCIPAL_ID,
                "resourceDisplayName": "Microsoft Graph",
                "appRoleId": role,
            })
        })
        .collect();
    drop(tenant);
    let path = format!("/servicePrincipals/{GRAPH_SERVICE_PRINCIPAL_ID}/appRoleAssignedTo");
    asked.answer(
        shared,
        format!(
            "{}/v1.0/$metadata#servicePrincipals('{GRAPH_SERVICE_PRINCIPAL_ID}')/appRoleAssignedTo",
            shared.base_url
        ),
        page,
        grants.len(),
        (&path, query, &["$top", "$select"]),
    )
}

/// `GET /servicePrincipals/{id}/owners` (`registration` false) or `GET
/// /applications(appId='…')/owners` (`registration` true): users and service principals.
pub(super) fn owners(shared: &Shared, key: &str, registration: bool) -> Reply {
    let tenant = lock(&shared.tenant);
    let key = app_id_key(key).unwrap_or(key);
    let app = match tenant.directory.app(key) {
        Some(app) if !registration || app.registered_here => app,
        _ => return not_found(key),
    };
    let owners = if registration {
        &app.owners
    } else {
        &app.service_principal_owners
    };
    let value: Vec<Value> = owners
        .iter()
        .map(|owner| {
            let kind = if tenant.directory.app(owner).is_some() {
                "#microsoft.graph.servicePrincipal"
            } else {
                "#microsoft.graph.user"
            };
            json!({"@odata.type": kind, "id": owner})
        })
        .collect();
    ok(
        200,
        json!({"@odata.context": format!("{}/v1.0/$metadata#directoryObjects", shared.base_url), "value": value}),
    )
}

/// Lists the Graph permissions granted to the managed identity, in a stable order.
fn identity_roles(shared: &Shared) -> Vec<String> {
    let mut roles: Vec<String> = lock(&shared.options)
        .granted_roles
        .iter()
        .cloned()
        .collect();
    roles.sort();
    roles
}

fn service_principal_json(app: &SimApp) -> Value {
    json!({
        "id": app.service_principal_id,
        "appId": app.app_id,
        "displayName": app.display_name,
        "servicePrincipalType": "Application",
    })
}

/// Reads the application id from the key syntax `appId=…` the router makes of `(appId='…')`.
fn app_id_key(key: &str) -> Option<&str> {
    key.strip_prefix("appId=")
}

fn is_graph(key: &str) -> bool {
    app_id_key(key).is_some_and(|app_id| app_id.eq_ignore_ascii_case(GRAPH_APP_ID))
        || key.eq_ignore_ascii_case(GRAPH_SERVICE_PRINCIPAL_ID)
}

fn not_found(key: &str) -> Reply {
    error(
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}
