//! The checks against Microsoft Entra: the API registration, its token version and Azure
//! CLI's pre-authorization, the objects the lists name, you among the writers, the
//! notification sender, and your rights for the Graph grants and the service principal
//! update.

use super::{Check, selected, tenant};
use crate::preflight::facts::{Facts, Gap, Principal, Registration};
use crate::preflight::settings::{ID_LISTS, Kinds, Values, is_guid};

/// The API's app roles, by the ids the template assigns.
const APP_ROLES: [(&str, &str); 2] = [
    ("b4ec6d3e-a5f0-477b-9565-f18510865278", "MfaPhone.ReadWrite"),
    ("0344153f-992c-47ed-917f-00c8e8857bc6", "MfaPhone.Read"),
];
/// Azure CLI's client id.
const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const STEP_2: &str = "DEPLOY.md, step 2 (The API app registration)";
/// The API registration's display name, as step 2 creates it.
const API_NAME: &str = "mfa-phone-handler API";

/// Directory roles, by template id.
const GLOBAL_ADMINISTRATOR: (&str, &str) = (
    "62e90394-69f5-4237-9190-012177145e10",
    "Global Administrator",
);
const PRIVILEGED_ROLE_ADMINISTRATOR: (&str, &str) = (
    "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "Privileged Role Administrator",
);
const CLOUD_APPLICATION_ADMINISTRATOR: (&str, &str) = (
    "158c047a-c907-4556-b7ef-446551a6b5f7",
    "Cloud Application Administrator",
);
const APPLICATION_ADMINISTRATOR: (&str, &str) = (
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "Application Administrator",
);

/// Microsoft Graph application permissions, by app role id.
const APP_ROLE_ASSIGNMENT_READ_WRITE_ALL: &str = "06b708a9-e830-4db3-a914-8e69da51d44f";
const APPLICATION_READ_ALL: &str = "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30";
const APPLICATION_READ_WRITE_ALL: &str = "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9";

/// Returns the environment's values when Entra authentication is on; otherwise the check to
/// report.
fn with_entra<'a>(facts: &'a Facts, name: &'static str) -> Result<&'a Values, Check> {
    let (_, values) = selected(facts).map_err(|why| Check::unknown(name, why))?;
    if values.on("MFA_ENTRA_AUTHENTICATION") {
        Ok(values)
    } else {
        Err(Check::skip(
            name,
            "Entra authentication is off (MFA_ENTRA_AUTHENTICATION)",
        ))
    }
}

/// Returns the registration and its client id, or the check to report when there is none to
/// judge.
fn registered<'a>(
    facts: &'a Facts,
    name: &'static str,
) -> Result<(&'a str, &'a Registration), Check> {
    let values = with_entra(facts, name)?;
    let client_id = values
        .get("MFA_API_CLIENT_ID")
        .filter(|id| is_guid(id))
        .ok_or_else(|| {
            Check::unknown(
                name,
                "MFA_API_CLIENT_ID names no registration (see API registration)",
            )
        })?;
    match &facts.registration {
        Ok(Some(registration)) => Ok((client_id, registration)),
        Ok(None) => Err(Check::unknown(
            name,
            "there is no such registration (see API registration)",
        )),
        Err(gap) => Err(Check::gap(name, gap)),
    }
}

/// `MFA_API_CLIENT_ID` names an application with `api://<id>`, both app roles, and a
/// service principal.
pub(super) fn registration(facts: &Facts) -> Check {
    const NAME: &str = "API registration";
    let values = match with_entra(facts, NAME) {
        Ok(values) => values,
        Err(check) => return check,
    };
    // The registration step 2 made is found by its name; without one, step 2 makes it.
    let then_set = format!(
        "azd env set MFA_API_CLIENT_ID \"$(az ad app list --display-name '{API_NAME}' --query \
         '[0].appId' -o tsv)\" (no such registration yet: {STEP_2})"
    );
    let client_id = match values.get("MFA_API_CLIENT_ID") {
        None => return Check::fail(NAME, "MFA_API_CLIENT_ID is empty", then_set),
        Some(id) if !is_guid(id) => {
            return Check::fail(NAME, "MFA_API_CLIENT_ID is no GUID", then_set);
        }
        Some(id) => id,
    };
    let registration = match &facts.registration {
        Err(gap) => return Check::gap(NAME, gap),
        Ok(None) => {
            return Check::fail(
                NAME,
                format!(
                    "MFA_API_CLIENT_ID {client_id} names no application of tenant {}",
                    tenant(facts)
                ),
                then_set,
            );
        }
        Ok(Some(registration)) => registration,
    };
    let mut lacking = Vec::new();
    let uri = format!("api://{client_id}");
    let lacks_uri = !registration
        .identifier_uris
        .iter()
        .any(|known| known.eq_ignore_ascii_case(&uri));
    if lacks_uri {
        lacking.push(format!("the identifier URI {uri}"));
    }
    for (id, value) in APP_ROLES {
        let enabled = registration
            .app_roles
            .iter()
            .any(|role| role.id.eq_ignore_ascii_case(id) && role.value == value && role.enabled);
        if !enabled {
            lacking.push(format!("the enabled app role {value} ({id})"));
        }
    }
    // The identifier URI is one command; the app roles are a JSON document, which step 2's
    // block writes (it finds the registration and changes only what differs).
    let fix = match (lacks_uri, lacking.len()) {
        (true, 1) => format!("az ad app update --id {client_id} --identifier-uris {uri}"),
        _ => format!("run the block of {STEP_2} again"),
    };
    match (&facts.api_principal, lacking.is_empty()) {
        (_, false) => Check::fail(
            NAME,
            format!("application {client_id} lacks {}", lacking.join(", ")),
            fix,
        ),
        (Ok(None), true) => Check::fail(
            NAME,
            format!("application {client_id} has no service principal"),
            format!("az ad sp create --id {client_id}"),
        ),
        (Err(gap), true) => Check::gap(NAME, gap),
        (Ok(Some(_)), true) => Check::ok(
            NAME,
            format!("application {client_id}: {uri}, both app roles, a service principal"),
        ),
    }
}

/// The issuer the template trusts matches the tokens' version.
pub(super) fn token_version(facts: &Facts) -> Check {
    const NAME: &str = "token version";
    let (_, registration) = match registered(facts, NAME) {
        Ok(found) => found,
        Err(check) => return check,
    };
    let issuer = selected(facts)
        .ok()
        .and_then(|(_, values)| values.get("MFA_ENTRA_OPENID_ISSUER"));
    let issuer_v2 = issuer.is_some_and(|issuer| issuer.trim_end_matches('/').ends_with("/v2.0"));
    let tokens_v2 = registration.token_version == Some(2);
    let tenant = tenant(facts);
    match (tokens_v2, issuer_v2) {
        (true, false) => Check::fail(
            NAME,
            "the registration asks for v2 tokens, MFA_ENTRA_OPENID_ISSUER is not the v2 issuer",
            format!(
                "azd env set MFA_ENTRA_OPENID_ISSUER https://login.microsoftonline.com/{tenant}/v2.0"
            ),
        ),
        (false, true) => Check::fail(
            NAME,
            "the registration gives v1 tokens, MFA_ENTRA_OPENID_ISSUER is the v2 issuer",
            format!("azd env set MFA_ENTRA_OPENID_ISSUER https://sts.windows.net/{tenant}/"),
        ),
        (true, true) => Check::ok(NAME, "v2 tokens, the v2 issuer"),
        (false, false) => Check::ok(NAME, "v1 tokens, the v1 issuer"),
    }
}

/// Azure CLI may get tokens for the API without a consent prompt.
pub(super) fn pre_authorized(facts: &Facts) -> Check {
    const NAME: &str = "Azure CLI pre-authorized";
    let (client_id, registration) = match registered(facts, NAME) {
        Ok(found) => found,
        Err(check) => return check,
    };
    if registration
        .pre_authorized
        .iter()
        .any(|id| id.eq_ignore_ascii_case(AZURE_CLI))
    {
        Check::ok(NAME, format!("Azure CLI ({AZURE_CLI}) is pre-authorized"))
    } else {
        Check::warn(
            NAME,
            format!(
                "Azure CLI ({AZURE_CLI}) is not pre-authorized: its tokens for the API need consent (AADSTS65001)"
            ),
            // Graph updates the named parts of `api` and keeps the rest (the scope itself).
            format!(
                r#"scope=$(az ad app show --id {client_id} --query "api.oauth2PermissionScopes[?value=='user_impersonation'].id | [0]" -o tsv) && az rest --method PATCH --url "https://graph.microsoft.com/v1.0/applications(appId='{client_id}')" --headers Content-Type=application/json --body "{{\"api\": {{\"preAuthorizedApplications\": [{{\"appId\": \"{AZURE_CLI}\", \"delegatedPermissionIds\": [\"$scope\"]}}]}}}}" (without a user_impersonation scope: run the block of {STEP_2} again)"#
            ),
        )
    }
}

/// Every id in the lists is an object of the tenant of the kind its list needs.
pub(super) fn ids(facts: &Facts) -> Check {
    const NAME: &str = "ids";
    let values = match selected(facts) {
        Ok((_, values)) => values,
        Err(why) => return Check::unknown(NAME, why),
    };
    let listed: Vec<(&str, Kinds, Vec<String>)> = ID_LISTS
        .iter()
        .filter(|(_, kinds)| *kinds != Kinds::ClientIds)
        .filter_map(|(name, kinds)| Some((*name, *kinds, values.ids(name).ok()?)))
        .filter(|(_, _, ids)| !ids.is_empty())
        .collect();
    if listed.is_empty() {
        return Check::skip(NAME, "no list names an object id");
    }
    let found = match &facts.directory {
        Ok(found) => found,
        Err(gap) => return Check::gap(NAME, gap),
    };
    let mut wrong = Vec::new();
    let mut fix = None;
    for (name, kinds, ids) in &listed {
        for id in ids {
            let kind = found
                .iter()
                .find(|object| object.id.eq_ignore_ascii_case(id))
                .map(|object| object.kind.as_str());
            let (fits, wanted) = match kinds {
                Kinds::Assignable => (
                    matches!(kind, Some("user" | "group" | "servicePrincipal")),
                    "a user, group or service principal",
                ),
                Kinds::ServicePrincipal => {
                    (kind == Some("servicePrincipal"), "a service principal")
                }
                Kinds::Group => (kind == Some("group"), "a group"),
                Kinds::Any | Kinds::ClientIds => (kind.is_some(), "an object"),
            };
            if !fits {
                let is = kind.map_or_else(
                    || "nothing in the tenant".to_owned(),
                    |kind| format!("a {kind}"),
                );
                wrong.push(format!("{name}: {id} is {is}, not {wanted}"));
                fix.get_or_insert(format!("azd env set {name} '[…]' without {id}"));
            }
        }
    }
    let count: usize = listed.iter().map(|(_, _, ids)| ids.len()).sum();
    match fix {
        None => Check::ok(
            NAME,
            format!("each of the {count} ids names an object of the right kind"),
        ),
        Some(fix) => Check::fail(NAME, wrong.join("; "), fix),
    }
}

/// You are a writer, directly or as a direct member of a writer group: else the smoke test is
/// refused.
pub(super) fn among_writers(facts: &Facts) -> Check {
    const NAME: &str = "you among the writers";
    const LIST: &str = "MFA_API_WRITER_PRINCIPAL_IDS";
    let values = match with_entra(facts, NAME) {
        Ok(values) => values,
        Err(check) => return check,
    };
    if !values.on("MFA_MANAGE_API_ROLES") {
        return Check::skip(
            NAME,
            "the template does not assign the API's roles (MFA_MANAGE_API_ROLES)",
        );
    }
    let writers = match values.ids(LIST) {
        Ok(writers) if !writers.is_empty() => writers,
        _ => return Check::skip(NAME, format!("{LIST} is empty or unreadable (see writers)")),
    };
    let me = match &facts.me {
        Ok(me) => me,
        Err(gap) => return Check::gap(NAME, gap),
    };
    let listed = |id: &str| writers.iter().any(|writer| writer.eq_ignore_ascii_case(id));
    if listed(&me.id) {
        return Check::ok(NAME, format!("you ({}) are in {LIST}", me.id));
    }
    match &facts.my_groups {
        Err(gap) => Check::gap(NAME, gap),
        Ok(groups) => match groups.iter().find(|group| listed(group)) {
            Some(group) => Check::ok(NAME, format!("you are a member of {group}, in {LIST}")),
            None => {
                let mut with_me: Vec<String> =
                    writers.iter().map(|id| format!("\"{id}\"")).collect();
                with_me.push(format!("\"{}\"", me.id));
                Check::warn(
                    NAME,
                    format!(
                        "you ({}) are neither in {LIST} nor a direct member of a group in it: the \
                         smoke test will be refused (DEPLOY.md, step 3)",
                        me.id
                    ),
                    format!("azd env set {LIST} '[{}]'", with_me.join(", ")),
                )
            }
        },
    }
}

/// With notifications on, the sender is one the tenant knows.
pub(super) fn notifications(facts: &Facts) -> Check {
    const NAME: &str = "notifications";
    const FIX: &str = "azd env set MFA_NOTIFY_SENDER <mailbox>";
    let values = match selected(facts) {
        Ok((_, values)) => values,
        Err(why) => return Check::unknown(NAME, why),
    };
    if !values.on("MFA_USER_NOTIFICATIONS") {
        return Check::skip(NAME, "notifications are off (MFA_USER_NOTIFICATIONS)");
    }
    let Some(sender) = values.get("MFA_NOTIFY_SENDER") else {
        return Check::fail(
            NAME,
            "MFA_USER_NOTIFICATIONS is on and MFA_NOTIFY_SENDER is empty",
            FIX,
        );
    };
    match &facts.sender_exists {
        Ok(true) => Check::ok(NAME, format!("mail goes from {sender}")),
        Ok(false) => Check::fail(
            NAME,
            format!("MFA_NOTIFY_SENDER {sender} is no user or mailbox of the tenant"),
            FIX,
        ),
        Err(gap) => Check::gap(NAME, gap),
    }
}

/// Tells what you hold of `roles`: active, or else eligible only; `Err` when it cannot be
/// told.
struct Held {
    active: Option<&'static str>,
    eligible: Option<&'static str>,
}

fn held(facts: &Facts, roles: &[(&'static str, &'static str)]) -> Result<Held, Gap> {
    let find = |ids: &[String]| {
        roles
            .iter()
            .find(|(id, _)| ids.iter().any(|held| held.eq_ignore_ascii_case(id)))
            .map(|(_, name)| *name)
    };
    let active = find(facts.my_roles.as_ref().map_err(Clone::clone)?);
    let eligible = facts
        .my_eligible_roles
        .as_ref()
        .ok()
        .and_then(|ids| find(ids));
    Ok(Held { active, eligible })
}

/// The deployer may grant the Function App's identity its Graph permissions.
pub(super) fn graph_grants(facts: &Facts) -> Check {
    const NAME: &str = "Graph grants";
    const FIX: &str = "activate the role in PIM, or azd env set MFA_GRANT_GRAPH_PERMISSIONS false \
                       and have a Privileged Role Administrator grant them separately (DEPLOY.md, \
                       Granting the Graph roles separately) between azd provision and azd deploy";
    let values = match selected(facts) {
        Ok((_, values)) => values,
        Err(why) => return Check::unknown(NAME, why),
    };
    if !values.on("MFA_GRANT_GRAPH_PERMISSIONS") {
        return Check::skip(
            NAME,
            "the template grants no Graph roles (MFA_GRANT_GRAPH_PERMISSIONS)",
        );
    }
    let app_permissions = [
        &[APP_ROLE_ASSIGNMENT_READ_WRITE_ALL, APPLICATION_READ_ALL][..],
        &[
            APP_ROLE_ASSIGNMENT_READ_WRITE_ALL,
            APPLICATION_READ_WRITE_ALL,
        ][..],
    ];
    rights(
        facts,
        NAME,
        &[GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR],
        &app_permissions,
        "AppRoleAssignment.ReadWrite.All and Application.Read.All",
        FIX,
    )
}

/// The deployer may set assignment required on the API's service principal.
pub(super) fn principal_update(facts: &Facts) -> Check {
    const NAME: &str = "service principal update";
    const FIX: &str = "activate the role in PIM, or azd env set MFA_MANAGE_API_ROLES false and \
                       have an application administrator follow DEPLOY.md, App roles and \
                       assignment required";
    let values = match with_entra(facts, NAME) {
        Ok(values) => values,
        Err(check) => return check,
    };
    if !values.on("MFA_MANAGE_API_ROLES") {
        return Check::skip(
            NAME,
            "the template does not manage the API's roles (MFA_MANAGE_API_ROLES)",
        );
    }
    if let (Ok(me), Ok(owners)) = (&facts.me, &facts.api_owners)
        && owners
            .iter()
            .any(|owner| owner.eq_ignore_ascii_case(&me.id))
    {
        return Check::ok(NAME, "you own the API's service principal");
    }
    rights(
        facts,
        NAME,
        &[
            GLOBAL_ADMINISTRATOR,
            CLOUD_APPLICATION_ADMINISTRATOR,
            APPLICATION_ADMINISTRATOR,
        ],
        &[&[
            APPLICATION_READ_WRITE_ALL,
            APP_ROLE_ASSIGNMENT_READ_WRITE_ALL,
        ][..]],
        "Application.ReadWrite.All and AppRoleAssignment.ReadWrite.All",
        FIX,
    )
}

/// Whether you hold one of `roles` actively or, as a service principal, one of the sets of
/// Graph application permissions `permissions` (named `permission_names` for the admin).
fn rights(
    facts: &Facts,
    name: &'static str,
    roles: &[(&'static str, &'static str)],
    permissions: &[&[&str]],
    permission_names: &str,
    fix: &str,
) -> Check {
    let me = match &facts.me {
        Ok(me) => me,
        Err(gap) => return Check::gap(name, gap),
    };
    let held = match held(facts, roles) {
        Ok(held) => held,
        Err(gap) => return Check::gap(name, &gap),
    };
    if let Some(role) = held.active {
        return Check::ok(name, format!("you hold {role}, active"));
    }
    let role_names: Vec<&str> = roles.iter().map(|(_, name)| *name).collect();
    if me.principal == Principal::ServicePrincipal {
        let granted = match &facts.my_app_permissions {
            Ok(granted) => granted,
            Err(gap) => return Check::gap(name, gap),
        };
        let holds = |id: &&str| granted.iter().any(|held| held.eq_ignore_ascii_case(id));
        if permissions.iter().any(|set| set.iter().all(holds)) {
            return Check::ok(
                name,
                format!("the service principal holds {permission_names}"),
            );
        }
        return Check::fail(
            name,
            format!(
                "the service principal you deploy as holds neither {permission_names} (Microsoft \
                 Graph application permissions) nor {}",
                role_names.join(" nor ")
            ),
            fix,
        );
    }
    let why = match held.eligible {
        Some(role) => format!(
            "you are eligible for {role} in PIM, but it is not active: activate it, then run preflight again"
        ),
        None => format!(
            "you hold none of {} as an active role",
            role_names.join(", ")
        ),
    };
    Check::fail(name, why, fix)
}
