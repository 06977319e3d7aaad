//! Serves Graph's paged collections: `/users` (`$top`, `$skiptoken`) and the
//! authentication-methods registration report (its filter, the licence it needs, its page
//! size). Its [`Page`] pages every collection the simulator serves as Graph pages (also
//! `transitiveMembers` and `appRoleAssignedTo`), with `@odata.nextLink`s built as Graph builds
//! them.

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
    let asked = Page::asked(query, USERS_DEFAULT_PAGE, USERS_MAX_PAGE);
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
    let page: Vec<Value> = asked
        .of(&users)
        .map(|user| user_json(user, selected.clone(), &shared.base_url))
        .collect();
    asked.answer(
        shared,
        format!("{}/v1.0/$metadata#users", shared.base_url),
        page,
        users.len(),
        ("/users", query, &["$top", "$select", "$filter"]),
    )
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
    let asked = Page::asked(query, page_size, page_size);
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
    let page: Vec<Value> = asked
        .of(&rows)
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
    asked.answer(
        shared,
        format!(
            "{}/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails",
            shared.base_url
        ),
        page,
        rows.len(),
        (
            "/reports/authenticationMethods/userRegistrationDetails",
            query,
            &["$filter", "$select", "$top"],
        ),
    )
}

/// Which page of a collection a request asks for, as Graph pages: `$top` items (a default,
/// at most a largest) from the `$skiptoken`, which this simulator makes the count skipped.
pub(super) struct Page {
    top: usize,
    skip: usize,
}

impl Page {
    /// The page `query` asks for, `default` items when it names no `$top`.
    pub(super) fn asked(query: &[(String, String)], default: usize, largest: usize) -> Page {
        let top = query_value(query, "$top")
            .and_then(|top| top.parse::<usize>().ok())
            .unwrap_or(default)
            .clamp(1, largest.max(1));
        let skip = query_value(query, "$skiptoken")
            .and_then(|token| token.parse::<usize>().ok())
            .unwrap_or(0);
        Page { top, skip }
    }

    /// The items of `all` on this page.
    pub(super) fn of<'a, T>(&self, all: &'a [T]) -> impl Iterator<Item = &'a T> {
        all.iter().skip(self.skip).take(self.top)
    }

    /// The answer holding `value` (this page of `total` items) under `context`, with an
    /// `@odata.nextLink` to `path` when more follow; the link keeps the query's `kept`
    /// parameters.
    pub(super) fn answer(
        &self,
        shared: &Shared,
        context: String,
        value: Vec<Value>,
        total: usize,
        (path, query, kept): (&str, &[(String, String)], &[&str]),
    ) -> Reply {
        let mut body = json!({ "@odata.context": context, "value": value });
        if self.skip + self.top < total {
            let link = next_link(shared, path, self.skip + self.top, query, kept);
            body["@odata.nextLink"] = Value::String(link);
        }
        ok(200, body)
    }
}

/// Builds the `@odata.nextLink` of a paged collection: the same path and query, skipping
/// `skip`.
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
