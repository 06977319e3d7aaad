//! Serves Graph's directory-role and membership endpoints: role definitions (beta, with
//! `isPrivileged`), role assignments and PIM eligibilities (with `$expand=principal`), and
//! `checkMemberGroups`.

use serde_json::{Value, json};

use super::json::{Reply, error, ids_in_filter, ok, query_value};
use crate::simulator::{Shared, lock};

/// `GET /beta/roleManagement/directory/roleDefinitions`, with `$filter=isPrivileged eq true`.
pub(super) fn role_definitions(shared: &Shared, query: &[(String, String)]) -> Reply {
    let tenant = lock(&shared.tenant);
    let only_privileged = match query_value(query, "$filter") {
        None => false,
        Some(filter) if filter.replace(' ', "") == "isPrivilegedeqtrue" => {
            if !tenant.variants.privileged_filter {
                return error(
                    400,
                    "Request_UnsupportedQuery",
                    "Unsupported or invalid query filter clause specified for property \
                     'isPrivileged'.",
                );
            }
            true
        }
        Some(_) => return error(400, "Request_UnsupportedQuery", "Invalid filter clause."),
    };
    let value: Vec<Value> = tenant
        .directory
        .roles
        .iter()
        .filter(|role| !only_privileged || role.privileged)
        .map(|role| {
            json!({
                "id": role.id,
                "displayName": role.display_name,
                "templateId": role.id,
                "isPrivileged": role.privileged,
                "isBuiltIn": true,
            })
        })
        .collect();
    ok(
        200,
        json!({
            "@odata.context": format!("{}/beta/$metadata#roleManagement/directory/roleDefinitions", shared.base_url),
            "value": value,
        }),
    )
}

/// Lists role assignments or PIM eligibility schedule instances, with `$expand=principal`.
pub(super) fn role_holdings(
    shared: &Shared,
    collection: &str,
    query: &[(String, String)],
) -> Reply {
    let tenant = lock(&shared.tenant);
    let eligible = collection == "roleEligibilityScheduleInstances";
    if eligible && !tenant.variants.pim_licensed {
        return error(
            403,
            "AadPremiumLicenseRequired",
            "The tenant needs a Microsoft Entra ID P2 or Microsoft Entra ID Governance licence.",
        );
    }
    let expand = tenant.variants.expand_principal
        && query_value(query, "$expand").is_some_and(|expand| expand.starts_with("principal"));
    let holdings = if eligible {
        &tenant.directory.eligibilities
    } else {
        &tenant.directory.assignments
    };
    let value: Vec<Value> = holdings
        .iter()
        .map(|holding| {
            let mut item = json!({
                "id": uuid::Uuid::new_v4().to_string(),
                "principalId": holding.principal_id,
                "roleDefinitionId": holding.role_id,
                "directoryScopeId": "/",
            });
            if expand {
                let principal = match tenant.find(&holding.principal_id) {
                    Some(user) => json!({"@odata.type": "#microsoft.graph.user", "id": user.id, "displayName": user.display_name}),
                    None => match tenant.directory.group(&holding.principal_id) {
                        Some(group) => json!({"@odata.type": "#microsoft.graph.group", "id": group.id, "displayName": group.display_name}),
                        None => json!({
                            "@odata.type": "#microsoft.graph.servicePrincipal",
                            "id": holding.principal_id,
                            "displayName": tenant.directory.app(&holding.principal_id).map(|app| app.display_name.clone()),
                        }),
                    },
                };
                item["principal"] = principal;
            }
            item
        })
        .collect();
    ok(
        200,
        json!({
            "@odata.context": format!("{}/v1.0/$metadata#roleManagement/directory/{collection}", shared.base_url),
            "value": value,
        }),
    )
}

/// `GET /identityGovernance/privilegedAccess/group/eligibilityScheduleInstances`, which
/// requires `$filter=groupId eq '…'` or `principalId eq '…'`; refused without Entra ID P2.
pub(super) fn group_eligibilities(shared: &Shared, query: &[(String, String)]) -> Reply {
    let tenant = lock(&shared.tenant);
    if !tenant.variants.pim_licensed {
        return error(
            403,
            "AadPremiumLicenseRequired",
            "The tenant needs a Microsoft Entra ID P2 or Microsoft Entra ID Governance licence.",
        );
    }
    let filter = query_value(query, "$filter").unwrap_or_default();
    let scope = |field: &str| {
        filter
            .trim()
            .strip_prefix(field)
            .and_then(|rest| rest.trim().strip_prefix("eq"))
            .map(|rest| rest.trim().trim_matches('\'').to_ascii_lowercase())
    };
    let (by_group, id) = match (scope("groupId"), scope("principalId")) {
        (Some(id), _) => (true, id),
        (None, Some(id)) => (false, id),
        (None, None) => {
            return error(
                400,
                "BadRequest",
                "The filter must scope the request to a groupId or a principalId.",
            );
        }
    };
    let value: Vec<Value> = tenant
        .directory
        .group_eligibilities
        .iter()
        .filter(|holding| {
            let field = if by_group {
                &holding.role_id
            } else {
                &holding.principal_id
            };
            field.eq_ignore_ascii_case(&id)
        })
        .map(|holding| {
            json!({
                "id": format!("{}_member_{}", holding.role_id, holding.principal_id),
                "accessId": "member",
                "principalId": holding.principal_id,
                "groupId": holding.role_id,
                "memberType": "direct",
            })
        })
        .collect();
    ok(
        200,
        json!({
            "@odata.context": format!("{}/v1.0/$metadata#identityGovernance/privilegedAccess/group/eligibilityScheduleInstances", shared.base_url),
            "value": value,
        }),
    )
}

/// `GET /groups/{id}/owners`: the group's owners (users here).
pub(super) fn group_owners(shared: &Shared, group: &str) -> Reply {
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
    let value: Vec<Value> = tenant
        .directory
        .group_owners
        .iter()
        .filter(|owner| owner.role_id.eq_ignore_ascii_case(group))
        .map(|owner| json!({"@odata.type": "#microsoft.graph.user", "id": owner.principal_id}))
        .collect();
    ok(
        200,
        json!({"@odata.context": format!("{}/v1.0/$metadata#directoryObjects", shared.base_url), "value": value}),
    )
}

/// `GET /groups/{id}/members/microsoft.graph.servicePrincipal`: the group's members that are
/// service principals (the type cast Graph offers on a group's members).
pub(super) fn service_principal_members(shared: &Shared, group: &str) -> Reply {
    let tenant = lock(&shared.tenant);
    let Some(found) = tenant.directory.group(group) else {
        return error(
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{group}' does not exist or one of its queried reference-property objects are not present."
            ),
        );
    };
    let value: Vec<Value> = found
        .members
        .iter()
        .filter_map(|member| tenant.directory.app(member))
        .map(|app| json!({"@odata.type": "#microsoft.graph.servicePrincipal", "id": app.service_principal_id}))
        .collect();
    ok(
        200,
        json!({"@odata.context": format!("{}/v1.0/$metadata#servicePrincipals", shared.base_url), "value": value}),
    )
}

/// `GET /groups?$filter=id in ('…', …)&$select=id`: the groups among the ids (at most 15),
/// as the product asks to tell group role holders from users when Graph did not expand them.
pub(super) fn groups_by_id(shared: &Shared, query: &[(String, String)]) -> Reply {
    let ids = match ids_in_filter(query) {
        Ok(ids) => ids,
        Err(refusal) => return refusal,
    };
    let tenant = lock(&shared.tenant);
    let value: Vec<Value> = ids
        .iter()
        .filter(|id| tenant.directory.group(id).is_some())
        .map(|id| json!({"id": id}))
        .collect();
    ok(
        200,
        json!({"@odata.context": format!("{}/v1.0/$metadata#groups(id)", shared.base_url), "value": value}),
    )
}

/// `POST /users/{key}/checkMemberGroups`: which of the given groups the user is in,
/// transitively; at most 20 ids, and every id must be a GUID.
pub(super) fn check_member_groups(shared: &Shared, key: &str, body: Option<&Value>) -> Reply {
    let Some(ids) = body
        .and_then(|body| body.get("groupIds"))
        .and_then(Value::as_array)
    else {
        return error(400, "Request_BadRequest", "groupIds is required.");
    };
    if ids.len() > 20 {
        return error(
            400,
            "Request_BadRequest",
            "The number of groupIds cannot exceed 20.",
        );
    }
    let mut wanted = Vec::new();
    for id in ids {
        match id.as_str().filter(|id| uuid::Uuid::parse_str(id).is_ok()) {
            Some(id) => wanted.push(id.to_owned()),
            None => return error(400, "Request_BadRequest", "Invalid GUID in groupIds."),
        }
    }
    let tenant = lock(&shared.tenant);
    let Some(user) = tenant.find(key) else {
        return error(
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
        );
    };
    if tenant.variants.member_groups_only_groups
        && wanted.iter().any(|id| tenant.find(id).is_some())
    {
        return error(
            400,
            "Request_BadRequest",
            "Invalid group id in groupIds: a user is not a group.",
        );
    }
    let member_of = tenant.directory.groups_of(&user.id);
    let value: Vec<String> = wanted
        .into_iter()
        .filter(|id| member_of.contains(&id.to_ascii_lowercase()))
        .collect();
    ok(200, json!({"value": value}))
}
