//! Asks Microsoft Entra, through `az ad … show` and `az rest` against Microsoft Graph, about
//! the API registration and its service principal, the objects the environment's lists name,
//! the notification sender, and you (your active and eligible roles, your groups, your
//! application permissions). It only reads: GET, and `POST /directoryObjects/getByIds`, which
//! reads.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::{Account, Asking, DirectoryObject, Fact, Gap, Me, Principal, Registration};
use super::{AppRole, Unanswered, az_json, parsed, stdout_of};
use crate::preflight::runner::Ran;
use crate::preflight::settings::{ID_LISTS, Kinds, is_guid};

/// How many pages of a Graph list are read.
const PAGES: usize = 20;
/// How many ids one `getByIds` takes.
const IDS_PER_REQUEST: usize = 1000;

/// The API registration facts.
pub(super) struct Api {
    pub registration: Fact<Option<Registration>>,
    pub principal: Fact<Option<String>>,
    pub owners: Fact<Vec<String>>,
}

impl Unanswered for Api {
    fn unanswered() -> Api {
        Api {
            registration: Fact::unanswered(),
            principal: Fact::unanswered(),
            owners: Fact::unanswered(),
        }
    }
}

/// Reads the application `MFA_API_CLIENT_ID` names, its service principal and that one's
/// owners.
pub(super) fn registration(asking: &Asking<'_>) -> Api {
    let client_id = asking.signed_in_id("MFA_API_CLIENT_ID", "client id");
    let client_id = match client_id {
        Ok(id) => id,
        Err(gap) => {
            return Api {
                registration: Err(gap.clone()),
                principal: Err(gap.clone()),
                owners: Err(gap),
            };
        }
    };
    let registration = shown(asking, &["ad", "app", "show", "--id", client_id])
        .and_then(|text| text.map(|text| application(&text)).transpose());
    let principal = shown(asking, &["ad", "sp", "show", "--id", client_id]).and_then(|text| {
        text.map(|text| {
            #[derive(serde::Deserialize)]
            struct Answer {
                id: String,
            }
            parsed::<Answer>(&text, "az ad sp show").map(|answer| answer.id)
        })
        .transpose()
    });
    let owners = match &principal {
        Ok(Some(id)) => list(
            asking,
            &format!("v1.0/servicePrincipals/{id}/owners?$select=id"),
        )
        .map(|owners| ids_of(&owners)),
        Ok(None) => Ok(Vec::new()),
        Err(gap) => Err(gap.clone()),
    };
    Api {
        registration,
        principal,
        owners,
    }
}

/// An application object as `az ad app show` prints it.
fn application(text: &str) -> Fact<Registration> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        #[serde(default)]
        identifier_uris: Vec<String>,
        #[serde(default)]
        app_roles: Vec<Role>,
        #[serde(default)]
        api: Option<ApiSection>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Role {
        id: String,
        #[serde(default)]
        value: Option<String>,
        #[serde(default)]
        is_enabled: bool,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ApiSection {
        requested_access_token_version: Option<i64>,
        #[serde(default)]
        pre_authorized_applications: Vec<PreAuthorized>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PreAuthorized {
        app_id: String,
    }
    let answer: Answer = parsed(text, "az ad app show")?;
    let api = answer.api;
    Ok(Registration {
        identifier_uris: answer.identifier_uris,
        app_roles: answer
            .app_roles
            .into_iter()
            .map(|role| AppRole {
                id: role.id,
                value: role.value.unwrap_or_default(),
                enabled: role.is_enabled,
            })
            .collect(),
        token_version: api
            .as_ref()
            .and_then(|api| api.requested_access_token_version),
        pre_authorized: api
            .map(|api| {
                api.pre_authorized_applications
                    .into_iter()
                    .map(|application| application.app_id)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Reads an object's JSON with `az ad … show`; `None` when the directory has no such object.
fn shown(asking: &Asking<'_>, args: &[&str]) -> Fact<Option<String>> {
    let mut all = args.to_vec();
    all.extend(["--output", "json", "--only-show-errors"]);
    match asking.runner.run("az", &all) {
        Ran::Exited { code, stderr, .. }
            if code == 3
                || stderr.contains("does not exist")
                || stderr.contains("Request_ResourceNotFound") =>
        {
            Ok(None)
        }
        ran => stdout_of(ran, "az", args).map(Some),
    }
}

/// Finds every object the environment's id lists name (client ids aside), as `getByIds` finds
/// them: an id it does not return is no object of the tenant.
pub(super) fn directory(asking: &Asking<'_>) -> Fact<Vec<DirectoryObject>> {
    asking.signed_in()?;
    let mut ids: Vec<String> = ID_LISTS
        .iter()
        .filter(|(_, kinds)| *kinds != Kinds::ClientIds)
        .filter_map(|(name, _)| asking.values.ids(name).ok())
        .flatten()
        .collect();
    ids.sort();
    ids.dedup();
    let (_, graph) = asking.roots();
    let mut found = Vec::new();
    for chunk in ids.chunks(IDS_PER_REQUEST) {
        let body = serde_json::json!({ "ids": chunk }).to_string();
        let url = format!("{graph}v1.0/directoryObjects/getByIds");
        let text = az_json(
            asking.runner,
            &[
                "rest",
                "--method",
                "post",
                "--url",
                &url,
                "--headers",
                "Content-Type=application/json",
                "--body",
                &body,
            ],
        )?;
        let answer: serde_json::Value = parsed(&text, "directoryObjects/getByIds")?;
        found.extend(values(&answer).iter().filter_map(|object| {
            let id = object.get("id")?.as_str()?.to_owned();
            let kind = object
                .get("@odata.type")?
                .as_str()?
                .trim_start_matches("#microsoft.graph.")
                .to_owned();
            Some(DirectoryObject { id, kind })
        }));
    }
    Ok(found)
}

/// Whether `MFA_NOTIFY_SENDER` names a user of the tenant (by object id, or by user principal
/// name or mail address), asked only when notifications are on.
pub(super) fn sender(asking: &Asking<'_>) -> Fact<bool> {
    asking.signed_in()?;
    let Some(sender) = asking
        .values
        .get("MFA_NOTIFY_SENDER")
        .filter(|_| asking.values.on("MFA_USER_NOTIFICATIONS"))
    else {
        return Err(Gap::Unknown(
            "not asked: notifications are off or no sender is set".to_owned(),
        ));
    };
    let quoted = sender.replace('\'', "''");
    let filter = if is_guid(sender) {
        format!("id eq '{quoted}'")
    } else {
        format!("userPrincipalName eq '{quoted}' or mail eq '{quoted}'")
    };
    let filter = utf8_percent_encode(&filter, NON_ALPHANUMERIC);
    let (_, graph) = asking.roots();
    let url = format!("{graph}v1.0/users?$filter={filter}&$select=id");
    let text = az_json(asking.runner, &["rest", "--method", "get", "--url", &url])?;
    let answer: serde_json::Value = parsed(&text, "the sender's user")?;
    Ok(!values(&answer).is_empty())
}

/// The facts about you.
pub(super) struct Mine {
    pub me: Fact<Me>,
    pub roles: Fact<Vec<String>>,
    pub eligible: Fact<Vec<String>>,
    pub groups: Fact<Vec<String>>,
    pub app_permissions: Fact<Vec<String>>,
}

impl Unanswered for Mine {
    fn unanswered() -> Mine {
        Mine {
            me: Fact::unanswered(),
            roles: Fact::unanswered(),
            eligible: Fact::unanswered(),
            groups: Fact::unanswered(),
            app_permissions: Fact::unanswered(),
        }
    }
}

/// Reads who you are in the directory, the roles you hold (active, and eligible in PIM), the
/// groups you are a direct member of, and, as a service principal, your Graph permissions.
pub(super) fn me(asking: &Asking<'_>) -> Mine {
    let me = asking
        .signed_in()
        .and_then(|account| whoami(asking, account));
    let me = match me {
        Ok(me) => me,
        Err(gap) => {
            return Mine {
                me: Err(gap.clone()),
                roles: Err(gap.clone()),
                eligible: Err(gap.clone()),
                groups: Err(gap.clone()),
                app_permissions: Err(gap),
            };
        }
    };
    let principal = match me.principal {
        Principal::User => "me".to_owned(),
        Principal::ServicePrincipal => format!("servicePrincipals/{}", me.id),
    };
    let roles = list(
        asking,
        &format!("v1.0/{principal}/transitiveMemberOf/microsoft.graph.directoryRole?$select=roleTemplateId"),
    )
    .map(|roles| texts(&roles, "roleTemplateId"));
    let groups = list(
        asking,
        &format!("v1.0/{principal}/memberOf/microsoft.graph.group?$select=id&$top=999"),
    )
    .map(|groups| ids_of(&groups));
    let (eligible, app_permissions) = match me.principal {
        Principal::User => (
            list(
                asking,
                "v1.0/roleManagement/directory/roleEligibilityScheduleInstances/\
                 filterByCurrentUser(on='principal')?$select=roleDefinitionId,directoryScopeId",
            )
            .map(|instances| {
                instances
                    .iter()
                    .filter(|instance| {
                        instance
                            .get("directoryScopeId")
                            .and_then(serde_json::Value::as_str)
                            == Some("/")
                    })
                    .filter_map(|instance| instance.get("roleDefinitionId")?.as_str())
                    .map(str::to_owned)
                    .collect()
            }),
            Ok(Vec::new()),
        ),
        Principal::ServicePrincipal => (
            Ok(Vec::new()),
            list(
                asking,
                &format!(
                    "v1.0/servicePrincipals/{}/appRoleAssignments?$select=appRoleId",
                    me.id
                ),
            )
            .map(|assignments| texts(&assignments, "appRoleId")),
        ),
    };
    Mine {
        me: Ok(me),
        roles,
        eligible,
        groups,
        app_permissions,
    }
}

/// Reads your object id: `/me` for a user, the service principal of the client id az signed in
/// as.
fn whoami(asking: &Asking<'_>, account: &Account) -> Fact<Me> {
    let path = match account.principal {
        Principal::User => "v1.0/me?$select=id".to_owned(),
        Principal::ServicePrincipal if is_guid(&account.user) => {
            format!(
                "v1.0/servicePrincipals(appId='{}')?$select=id",
                account.user
            )
        }
        Principal::ServicePrincipal => {
            return Err(Gap::Unknown(
                "az is signed in as a service principal whose client id is no GUID".to_owned(),
            ));
        }
    };
    let (_, graph) = asking.roots();
    let url = format!("{graph}{path}");
    let text = az_json(asking.runner, &["rest", "--method", "get", "--url", &url])?;
    let answer: serde_json::Value = parsed(&text, "who you are in the directory")?;
    let id = answer
        .get("id")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| Gap::Unknown("Graph did not say who you are".to_owned()))?;
    Ok(Me {
        id: id.to_owned(),
        principal: account.principal,
    })
}

/// Reads every item of a Graph list (`path` below the Graph root), following `@odata.nextLink`
/// within Graph.
fn list(asking: &Asking<'_>, path: &str) -> Fact<Vec<serde_json::Value>> {
    let (_, graph) = asking.roots();
    let mut url = Some(format!("{graph}{path}"));
    let mut found = Vec::new();
    for _ in 0..PAGES {
        let Some(next) = url.take() else { break };
        let text = az_json(asking.runner, &["rest", "--method", "get", "--url", &next])?;
        let page: serde_json::Value = parsed(&text, "Microsoft Graph")?;
        found.extend(values(&page));
        url = page
            .get("@odata.nextLink")
            .and_then(serde_json::Value::as_str)
            .filter(|link| link.starts_with(&graph))
            .map(str::to_owned);
    }
    Ok(found)
}

/// Takes a Graph answer's `value` items.
fn values(answer: &serde_json::Value) -> Vec<serde_json::Value> {
    answer
        .get("value")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn ids_of(items: &[serde_json::Value]) -> Vec<String> {
    texts(items, "id")
}

fn texts(items: &[serde_json::Value], key: &str) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| item.get(key)?.as_str())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_application_is_read_as_az_ad_app_show_prints_it() {
        let text = r#"{"appId": "x", "identifierUris": ["api://x"],
            "appRoles": [{"id": "b4ec6d3e-a5f0-477b-9565-f18510865278",
                          "value": "MfaPhone.ReadWrite", "isEnabled": true}],
            "api": {"requestedAccessTokenVersion": null,
                    "preAuthorizedApplications": [{"appId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
                                                   "delegatedPermissionIds": []}]}}"#;
        let registration = application(text).expect("an application");
        assert_eq!(registration.identifier_uris, ["api://x"]);
        assert_eq!(registration.app_roles[0].value, "MfaPhone.ReadWrite");
        assert!(registration.app_roles[0].enabled);
        assert_eq!(registration.token_version, None);
        assert_eq!(
            registration.pre_authorized,
            ["04b07795-8ddb-461a-bbee-02f9e1bf7b46"]
        );
        let bare = application(r#"{"appId": "x"}"#).expect("an application");
        assert_eq!(bare, Registration::default());
    }
}
