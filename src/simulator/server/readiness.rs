//! Serves what the readiness scan reads that nothing else does: the methods policy's other
//! configurations, the telecom provider settings of SMS and voice, and a group's users
//! through nested groups (`transitiveMembers/microsoft.graph.user`).

use serde_json::{Value, json};

use super::collections::Page;
use super::json::{Reply, error, ok};
use crate::simulator::tenant::Tenant;
use crate::simulator::tenant::policy::{SimChannel, SimProvider};
use crate::simulator::{Shared, lock};

/// Writes a configuration's JSON, as the SMS and voice arms and the others answer it.
pub(super) fn configuration_json(tenant: &Tenant, id: &str, channel: &SimChannel) -> Value {
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
        .map(|target| json!({"targetType": target_kind(&target.id), "id": target.id, "isRegistrationRequired": false}))
        .collect();
    let exclude: Vec<Value> = channel
        .exclude
        .iter()
        .map(|id| json!({"targetType": target_kind(id), "id": id}))
        .collect();
    json!({
        "@odata.type": format!("#microsoft.graph.{}AuthenticationMethodConfiguration", lower_first(id)),
        "id": id,
        "state": if channel.enabled { "enabled" } else { "disabled" },
        "includeTargets": include,
        "excludeTargets": exclude,
    })
}

/// `GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}` for a
/// configuration other than SMS and voice; 404 for one the tenant does not have.
pub(super) fn other_configuration(shared: &Shared, id: &str) -> Reply {
    let tenant = lock(&shared.tenant);
    let found = tenant
        .policy
        .others
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(id));
    match found {
        Some((name, channel)) => ok(200, configuration_json(&tenant, name, channel)),
        None => error(
            404,
            "itemNotFound",
            &format!("The authentication method configuration '{id}' was not found."),
        ),
    }
}

/// Writes `telecomProviderSettings`, when the tenant has its own provider for the channel.
pub(super) fn provider_json(provider: Option<SimProvider>) -> Option<Value> {
    provider.map(|provider| {
        json!({
            "@odata.type": "#microsoft.graph.telecomProviderSettings",
            "url": "https://telephony.contoso.example/mfa",
            "appId": "3b2c9a4e-0000-4000-8000-00000000c0de",
            "isEvaluationModeEnabled": provider.evaluation_mode,
            "migrationPercentage": provider.migration_percentage,
        })
    })
}

/// The page size of `transitiveMembers` (Graph's default is 100; `$top` up to 999).
const MEMBERS_MAX_PAGE: usize = 999;

/// `GET /groups/{id}/transitiveMembers/microsoft.graph.user`: the users in the group directly
/// or through nested groups.
pub(super) fn transitive_users(shared: &Shared, group: &str, query: &[(String, String)]) -> Reply {
    let tenant = lock(&shared.tenant);
    if tenant.directory.group(group).is_none() {
        return error(
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{group}' does not exist or one of its queried reference-property objects are not present."
            ),
        );
    }
    let asked = Page::asked(query, 100, MEMBERS_MAX_PAGE);
    let group = group.to_ascii_lowercase();
    let members: Vec<&str> = tenant
        .users()
        .filter(|user| tenant.directory.groups_of(&user.id).contains(&group))
        .map(|user| user.id.as_str())
        .collect();
    let page: Vec<Value> = asked
        .of(&members)
        .map(|id| json!({"@odata.type": "#microsoft.graph.user", "id": id}))
        .collect();
    let path = format!("/groups/{group}/transitiveMembers/microsoft.graph.user");
    asked.answer(
        shared,
        format!("{}/v1.0/$metadata#users", shared.base_url),
        page,
        members.len(),
        (&path, query, &["$top", "$select"]),
    )
}

fn lower_first(id: &str) -> String {
    let mut chars = id.chars();
    chars
        .next()
        .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}
