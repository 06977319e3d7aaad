//! Plays Azure Resource Manager under `/arm` of the simulator. It serves the three reads the
//! protection check makes (role assignments and PIM eligibility schedule instances for a scope;
//! a role definition by id) as strictly as ARM: a bearer token for ARM's audience, an
//! `api-version` and scopes that exist are required. Both lists are listed as ARM lists them:
//! without a filter those made at the scope, above and below it; with `$filter=atScope()` only
//! at the scope and above; any other filter is refused. Without Entra ID P2
//! (`variants.pim_licensed` off) the eligibilities answer 400 `AadPremiumLicenseRequired`, as
//! ARM does. `SimOptions::arm_unavailable` makes ARM answer 503 to everything; a
//! [`crate::simulator::FaultRule`] answering `Respond` or `Answer` applies to ARM's paths
//! (`/arm/...`) too.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::json::{Reply, error, fault_answer, header, ok, query_value, retry_after_of, to_http};
use super::{fault_for, log};
use crate::simulator::{FaultAction, LoggedRequest, Shared, lock};

/// The path under the simulator's origin where ARM's root is.
pub(super) const PREFIX: &str = "/arm";

const ASSIGNMENTS: &str = "/providers/microsoft.authorization/roleassignments";
const ELIGIBILITIES: &str = "/providers/microsoft.authorization/roleeligibilityscheduleinstances";
const DEFINITIONS: &str = "/providers/microsoft.authorization/roledefinitions/";

/// Answers and logs one request to ARM.
pub(super) fn arm(
    shared: &Shared,
    method: &Method,
    raw_path: &str,
    query: Vec<(String, String)>,
    headers: &HeaderMap,
    started: Instant,
) -> Response<Body> {
    let token = header(headers, "authorization")
        .and_then(|value| value.strip_prefix("Bearer ").map(str::to_owned));
    let audience = format!("{}{PREFIX}", shared.base_url);
    let authorized = token.as_deref().is_some_and(|token| {
        lock(&shared.tokens).get(token).is_some_and(|issued| {
            issued.expires > Instant::now() && issued.audience.trim_end_matches('/') == audience
        })
    });
    let path = super::json::decode_path(raw_path.strip_prefix(PREFIX).unwrap_or_default());
    let answer = if lock(&shared.options).arm_unavailable {
        error(
            503,
            "ServiceUnavailable",
            "The service is unavailable, please retry later.",
        )
    } else if !authorized {
        error(
            401,
            "InvalidAuthenticationToken",
            "The access token is missing, expired, or not issued for https://management.azure.com/.",
        )
    } else if *method != Method::GET {
        error(405, "MethodNotAllowed", "Only reads are simulated on ARM.")
    } else if query_value(&query, "api-version").is_none() {
        error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    } else {
        match fault_for(shared, method.as_str(), raw_path) {
            Some(FaultAction::Respond {
                status,
                code,
                retry_after,
            }) => fault_answer(status, code, retry_after),
            Some(FaultAction::Answer { status, body }) => ok(status, body),
            // Other faults are Graph's (batches, writes); ARM reads as usual.
            _ => read(shared, &path, &query),
        }
    };
    log(
        shared,
        LoggedRequest {
            method: method.to_string(),
            path: format!("{PREFIX}{path}"),
            raw_path: raw_path.to_owned(),
            query,
            client_request_id: None,
            authorized,
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

fn read(shared: &Shared, path: &str, query: &[(String, String)]) -> Reply {
    let lower = path.to_ascii_lowercase();
    let tenant = lock(&shared.tenant);
    let azure = &tenant.azure;
    if let Some(scope) = lower.strip_suffix(ASSIGNMENTS) {
        return listed(azure, &path[..scope.len()], query, Listing::Active);
    }
    if let Some(scope) = lower.strip_suffix(ELIGIBILITIES) {
        if !tenant.variants.pim_licensed {
            // This is how ARM answers PIM's lists without Entra ID P2 (reported by AzGovViz
            // issue 114 and mondoohq/mql PR 8955; Microsoft documents no code).
            return error(
                400,
                "AadPremiumLicenseRequired",
                "The tenant needs an AAD Premium 2 license.",
            );
        }
        return listed(azure, &path[..scope.len()], query, Listing::Eligible);
    }
    if let Some(at) = lower.find(DEFINITIONS) {
        return definition(azure, &path[..at], &path[at + DEFINITIONS.len()..]);
    }
    error(
        404,
        "InvalidResourceType",
        "Only role assignments, role eligibility schedule instances and role definitions are \
         simulated on ARM.",
    )
}

/// Which list is read.
#[derive(Clone, Copy)]
enum Listing {
    Active,
    Eligible,
}

/// Lists the role assignments (or eligibility schedule instances) for `scope`: at, above and
/// below it, or with `$filter=atScope()` at and above it only.
fn listed(
    azure: &crate::simulator::tenant::azure::AzureRbac,
    scope: &str,
    query: &[(String, String)],
    listing: Listing,
) -> Reply {
    if !azure.exists(scope) {
        return error(
            404,
            "ResourceNotFound",
            &format!("The resource '{scope}' could not be found."),
        );
    }
    let below = match query_value(query, "$filter") {
        None => true,
        Some("atScope()") => false,
        Some(_) => {
            return error(
                400,
                "UnsupportedQuery",
                "Only $filter=atScope() or no filter is simulated.",
            );
        }
    };
    let subscription = subscription_of(scope);
    let (found, kind) = match listing {
        Listing::Active => (azure.listed_at(scope, below), "roleAssignments"),
        Listing::Eligible => (
            azure.eligible_at(scope, below),
            "roleEligibilityScheduleInstances",
        ),
    };
    let value: Vec<Value> = found
        .into_iter()
        .map(|assignment| {
            let mut properties = json!({
                "roleDefinitionId": format!(
                    "{subscription}/providers/Microsoft.Authorization/roleDefinitions/{}",
                    assignment.role
                ),
                "principalId": assignment.principal_id,
                "principalType": assignment.principal_type,
                "scope": assignment.scope,
            });
            if let (Listing::Eligible, Some(fields)) = (listing, properties.as_object_mut()) {
                // An instance carries facts of its own: its schedule, its state, and whether it
                // was made at the scope read or inherited from one above.
                let inherited = !crate::simulator::tenant::azure::within(&assignment.scope, scope);
                fields.insert(
                    "roleEligibilityScheduleId".to_owned(),
                    json!(format!(
                        "{}/providers/Microsoft.Authorization/roleEligibilitySchedules/{}",
                        assignment.scope, assignment.id
                    )),
                );
                fields.insert("status".to_owned(), json!("Provisioned"));
                fields.insert("startDateTime".to_owned(), json!("2026-01-01T00:00:00Z"));
                fields.insert("endDateTime".to_owned(), Value::Null);
                fields.insert(
                    "memberType".to_owned(),
                    json!(if inherited { "Inherited" } else { "Direct" }),
                );
            }
            json!({
                "id": format!("{}/providers/Microsoft.Authorization/{kind}/{}",
                    assignment.scope, assignment.id),
                "name": assignment.id,
                "type": format!("Microsoft.Authorization/{kind}"),
                "properties": properties,
            })
        })
        .collect();
    ok(200, json!({"value": value}))
}

/// Reads one role definition at the scope `above` (empty for the root).
fn definition(azure: &crate::simulator::tenant::azure::AzureRbac, above: &str, id: &str) -> Reply {
    if !above.is_empty() && !azure.exists(above) {
        return error(
            404,
            "ResourceNotFound",
            &format!("The resource '{above}' could not be found."),
        );
    }
    match azure.definition(id) {
        Some(definition) => ok(
            200,
            json!({
                "id": format!("{above}/providers/Microsoft.Authorization/roleDefinitions/{}", definition.id),
                "name": definition.id,
                "type": "Microsoft.Authorization/roleDefinitions",
                "properties": {
                    "roleName": definition.name,
                    "type": if definition.custom { "CustomRole" } else { "BuiltInRole" },
                    "permissions": definition.permissions,
                    "assignableScopes": ["/"],
                }
            }),
        ),
        None => error(
            404,
            "RoleDefinitionDoesNotExist",
            "The specified role definition does not exist.",
        ),
    }
}

/// Returns the `/subscriptions/{id}` of a scope below a subscription (empty above one).
fn subscription_of(scope: &str) -> String {
    let mut segments = scope.trim_start_matches('/').splitn(3, '/');
    match (segments.next(), segments.next()) {
        (Some(first), Some(id)) if first.eq_ignore_ascii_case("subscriptions") => {
            format!("/subscriptions/{id}")
        }
        _ => String::new(),
    }
}
