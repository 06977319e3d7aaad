//! Serves Graph's paged collections: `/users` (`$top`, `$skiptoken`) and the
//! authentication-methods registration report (its filter, the licence it needs, its page
//! size), with `@odata.nextLink`s built as Graph builds them.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::json::{Reply, encode_component, error, ok, query_value, select, user_json};
use super::permissions::{Backend, require};
use crate::simulator::tenant::SimUser;
use crate::simulator::{Shared, lock};

/// The default and largest `$top` of `/users`.
const USERS_DEFAULT_PAGE: usize = 100;
const USERS_MAX_PAGE: usize = 999;

pub(super) fn list_users(shared: &Shared, query: &[(String, String)]) -> Reply {
    let top = query_value(query, "$top")
        .and_then(|top| top.parse::<usize>().ok())
        .unwrap_or(USERS_DEFAULT_PAGE)
        .clamp(1, USERS_MAX_PAGE);
    let skip = query_value(query, "$skiptoken")
        .and_then(|token| token.parse::<usize>().ok())
        .unwrap_or(0);
    let selected = select(query);
    let tenant = lock(&shared.tenant);
    let guests_only = match query_value(query, "$filter") {
        None => false,
        Some(filter)
            if filter
                .replace(' ', "")
                .eq_ignore_ascii_case("userTypeeq'Guest'") =>
        {
            true
        }
        Some(_) => return error(400, "BadRequest", "Invalid filter clause."),
    };
    let users: Vec<&SimUser> = tenant
        .users()
        .filter(|user| !guests_only || user.user_type.eq_ignore_ascii_case("guest"))
        .collect();
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
        let link = next_link(
            shared,
            "/users",
            skip + top,
            query,
            &["$top", "$select", "$filter"],
        );
        body["@odata.nextLink"] = Value::String(link);
    }
    ok(200, body)
}

pub(super) fn registration_report(
    shared: &Shared,
    query: &[(String, String)],
    roles: &HashSet<String>,
) -> Reply {
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
    let wanted = match query_value(query, "$filter") {
        None => None,
        Some(filter) => match crate::simulator::tenant::readiness::wanted_methods(filter) {
            Some(wanted) => Some(wanted),
            None => return error(400, "BadRequest", "Invalid filter clause."),
        },
    };
    // `$top` is honoured up to the report's page size [UNVERIFIED: Graph documents neither].
    let page_size = query_value(query, "$top")
        .and_then(|top| top.parse::<usize>().ok())
        .map_or(page_size, |top| top.clamp(1, page_size));
    let skip = query_value(query, "$skiptoken")
        .and_then(|token| token.parse::<usize>().ok())
        .unwrap_or(0);
    let rows: Vec<_> = lock(&shared.tenant)
        .report_rows()
        .into_iter()
        .filter(|row| {
            wanted.as_deref().is_none_or(|wanted| {
                wanted
                    .iter()
                    .any(|name| row.methods_registered.contains(name))
            })
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
                "lastUpdatedDateTime": row.last_updated,
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
            &["$filter", "$select", "$top"],
        );
        body["@odata.nextLink"] = Value::String(link);
    }
    ok(200, body)
}

/// Builds the `@odata.nextLink` of a paged collection: the same path and query, skipping
/// `skip`.
pub(super) fn next_link(
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
