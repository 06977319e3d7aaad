//! The Azure side of the protection: who can take control of the app through Azure RBAC.
//!
//! The app's identity may set any user's phone, so whoever can run code as the app, change
//! its settings, write its package or hand out roles where it lives is as privileged as a
//! Global Administrator. For each scope of `MFA_AZURE_CONTROL_SCOPES` (the Function App, its
//! storage account, a user-assigned identity) this reads the role assignments made at the scope,
//! above it and below it (ARM's List For Scope without a filter; `atScope()` would leave out
//! those below, such as a blob writer on the package's container or a role on a slot), the
//! PIM eligibilities there (`roleEligibilityScheduleInstances`, listed the same way: an eligible
//! Owner can activate the role at any moment, so is held like an active one) and the role
//! definitions they name, and keeps the principals whose role controls the app
//! ([`crate::azure_rbac::control`]). A tenant without Entra ID P2 has no PIM: ARM refuses the
//! eligibilities with `AadPremiumLicenseRequired`, which counts as none (said once in the log).
//! It runs in the background with the rest of the snapshot: no invocation waits for ARM.
//!
//! ARM's URLs and JSON live here and nowhere else. The token is for ARM's audience, from the
//! process's one credential, and goes only to `ARM_ENDPOINT`'s origin: a `nextLink` elsewhere
//! is refused. Any failure fails the snapshot, and with it every change (closed).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use futures_util::StreamExt;
use serde::Deserialize;
use url::Url;

use crate::azure_rbac::{Permission, Scope, control};
use crate::backoff::Backoff;
use crate::graph::{
    Denial, GraphError, GraphErrorKind, GraphOperation, PrincipalKind, Rejection, RetrySettings,
    TokenSource,
};

/// Where the Azure side is read: ARM's root and the app's scopes.
#[derive(Clone, Debug)]
pub struct AzureSettings {
    /// `ARM_ENDPOINT` (default `https://management.azure.com`).
    pub endpoint: Url,
    /// `MFA_AZURE_CONTROL_SCOPES`.
    pub scopes: Vec<Scope>,
}

/// The default ARM root, the global cloud.
pub const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";

/// A principal whose Azure role controls the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureHolder {
    pub principal_id: String,
    pub kind: PrincipalKind,
    /// The role's name (`Owner`, or a custom role's).
    pub role: String,
    /// Where the role is assigned (the scope, one above it or a resource below it).
    pub scope: String,
    /// What the role lets its holder do to the app, in words.
    pub what: Vec<&'static str>,
    /// Whether the role is eligible through PIM (the holder may activate it) rather than
    /// active.
    pub eligible: bool,
}

/// Reads the Azure side.
pub struct AzureReader {
    http: reqwest::Client,
    root: Url,
    origin: url::Origin,
    tokens: TokenSource,
    scopes: Vec<Scope>,
    retry: RetrySettings,
    /// Whether the log has said that the tenant has no PIM for Azure resources.
    said_unlicensed: AtomicBool,
}

const API_VERSION: &str = "2022-04-01";
/// The eligibility schedule instances' version (Role Eligibility Schedule Instances - List For
/// Scope, learn.microsoft.com/rest/api/authorization).
const PIM_API_VERSION: &str = "2020-10-01";
/// ARM's code (400) for PIM's lists in a tenant without Entra ID P2 or Governance.
const NO_PIM_LICENCE: &str = "AadPremiumLicenseRequired";
/// The most pages of assignments read per scope.
const PAGES: usize = 50;
/// How many role definitions are read at once.
const DEFINITION_READS_AT_ONCE: usize = 8;
/// The most of one answer that is read.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// Attempts per request when ARM is unavailable.
const ATTEMPTS: u32 = 3;

/// Which of ARM's lists of who holds a role.
#[derive(Clone, Copy)]
enum Listing {
    /// `roleAssignments`: the active ones.
    Active,
    /// `roleEligibilityScheduleInstances`: PIM eligibilities (the same properties).
    Eligible,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentPage {
    #[serde(default)]
    value: Vec<Assignment>,
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct Assignment {
    properties: AssignmentProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentProperties {
    role_definition_id: String,
    principal_id: String,
    #[serde(default)]
    principal_type: String,
    #[serde(default)]
    scope: String,
}

#[derive(Deserialize)]
struct Definition {
    properties: DefinitionProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DefinitionProperties {
    #[serde(default)]
    role_name: String,
    #[serde(default)]
    permissions: Vec<Permission>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl AzureReader {
    /// Makes a reader for `settings`, which gets its token for ARM's audience from
    /// `credential`.
    pub fn new(
        http: reqwest::Client,
        settings: &AzureSettings,
        credential: Arc<dyn TokenCredential>,
        retry: RetrySettings,
    ) -> AzureReader {
        let scope = format!(
            "{}/.default",
            settings.endpoint.as_str().trim_end_matches('/')
        );
        AzureReader {
            http,
            origin: settings.endpoint.origin(),
            root: settings.endpoint.clone(),
            tokens: TokenSource::new(credential, scope, retry.token_wait),
            scopes: settings.scopes.clone(),
            retry,
            said_unlicensed: AtomicBool::new(false),
        }
    }

    /// Every principal whose role, at one of the scopes, above or below it, controls the app.
    ///
    /// # Errors
    ///
    /// When ARM could not be read, or answered what cannot be read (a role definition id that
    /// is not one, a link away from ARM).
    pub async fn holders(&self) -> Result<Vec<AzureHolder>, GraphError> {
        let mut assignments = Vec::new();
        // This maps each role definition's GUID to the scope it is read at: one of ours, where
        // the identity may read (a definition read by its subscription-level id would need
        // rights there).
        let mut ids: HashMap<String, Scope> = HashMap::new();
        for scope in &self.scopes {
            let (active, eligible) = tokio::join!(
                self.listed(scope, Listing::Active),
                self.listed(scope, Listing::Eligible)
            );
            let active = active?.into_iter().map(|assignment| (false, assignment));
            let eligible = self.unless_unlicensed(eligible)?.into_iter();
            for (is_eligible, assignment) in active.chain(eligible.map(|one| (true, one))) {
                let guid = definition_guid(&assignment.role_definition_id).ok_or_else(|| {
                    let operation = if is_eligible {
                        GraphOperation::ReadAzureRoleEligibilities
                    } else {
                        GraphOperation::ReadAzureRoleAssignments
                    };
                    malformed(operation, "a role assignment names no role definition id")
                })?;
                ids.entry(guid.clone()).or_insert_with(|| scope.clone());
                assignments.push((guid, is_eligible, assignment));
            }
        }
        let read: Vec<(String, Result<Definition, GraphError>)> = futures_util::stream::iter(ids)
            .map(|(id, scope)| async move {
                let definition = self.definition(&scope, &id).await;
                (id, definition)
            })
            .buffer_unordered(DEFINITION_READS_AT_ONCE)
            .collect()
            .await;
        let mut definitions: HashMap<String, Definition> = HashMap::new();
        for (id, definition) in read {
            definitions.insert(id, definition?);
        }
        let mut holders: Vec<AzureHolder> = Vec::new();
        for (guid, eligible, assignment) in assignments {
            let Some(definition) = definitions.get(&guid) else {
                continue;
            };
            let what = control(&definition.properties.permissions);
            if what.is_empty() {
                continue;
            }
            let kind = match assignment.principal_type.to_ascii_lowercase().as_str() {
                "user" => PrincipalKind::User,
                "group" => PrincipalKind::Group,
                "serviceprincipal" => PrincipalKind::ServicePrincipal,
                // Another tenant's group has no members here; a device has no phone.
                "foreigngroup" | "device" => continue,
                // When ARM did not say the type, the principal is asked of the membership check
                // like a group, which fails closed if it is not one Graph knows.
                _ => PrincipalKind::Unknown,
            };
            let holder = AzureHolder {
                principal_id: assignment.principal_id.to_ascii_lowercase(),
                kind,
                role: printable(&definition.properties.role_name),
                scope: printable(&assignment.scope),
                what,
                eligible,
            };
            if !holders.contains(&holder) {
                holders.push(holder);
            }
        }
        Ok(holders)
    }

    /// Takes the eligibilities as read, or none when the read failed because the tenant has no
    /// PIM for Azure resources (said once in the log).
    fn unless_unlicensed(
        &self,
        read: Result<Vec<AssignmentProperties>, GraphError>,
    ) -> Result<Vec<AssignmentProperties>, GraphError> {
        match read {
            // Without Entra ID P2 nobody can activate an eligibility; anything else fails closed.
            // ARM is reported to answer 400; the code alone is as clear should it come as 403.
            Err(GraphError {
                kind: GraphErrorKind::Rejected { code, .. } | GraphErrorKind::Forbidden { code, .. },
                ..
            }) if code.eq_ignore_ascii_case(NO_PIM_LICENCE) => {
                if !self.said_unlicensed.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        "ARM answered {NO_PIM_LICENCE}: the tenant has no Entra ID P2, so no PIM \
                         for Azure resources; eligible Azure role assignments could not be read \
                         and the Azure side is protected by active assignments only"
                    );
                }
                Ok(Vec::new())
            }
            read => read,
        }
    }

    /// Reads the role assignments (or PIM eligibilities) made at `scope`, above it or below
    /// it, every page.
    async fn listed(
        &self,
        scope: &Scope,
        listing: Listing,
    ) -> Result<Vec<AssignmentProperties>, GraphError> {
        let (operation, kind, version) = match listing {
            Listing::Active => (
                GraphOperation::ReadAzureRoleAssignments,
                "roleAssignments",
                API_VERSION,
            ),
            Listing::Eligible => (
                GraphOperation::ReadAzureRoleEligibilities,
                "roleEligibilityScheduleInstances",
                PIM_API_VERSION,
            ),
        };
        let mut url = self.root.clone();
        url.path_segments_mut()
            .map_err(|()| malformed(operation, "ARM_ENDPOINT cannot be a base URL"))?
            .pop_if_empty()
            .extend(scope.segments())
            .extend(["providers", "Microsoft.Authorization", kind]);
        // The list is read without a `$filter`: `atScope()` answers only at and above the
        // scope, and a role on a child (the package's container, a slot) controls the app as
        // much as one on the resource.
        url.set_query(Some(&format!("api-version={version}")));
        let mut next = Some(url);
        let mut found = Vec::new();
        for _ in 0..PAGES {
            let Some(url) = next.take() else { break };
            let page: AssignmentPage = self.get(url, operation).await?;
            found.extend(
                page.value
                    .into_iter()
                    .map(|assignment| assignment.properties),
            );
            next = match page.next_link {
                Some(link) => Some(
                    Url::parse(&link)
                        .map_err(|_| malformed(operation, "ARM's nextLink is not a URL"))?,
                ),
                None => None,
            };
        }
        if next.is_some() {
            return Err(malformed(
                operation,
                &format!("more than {PAGES} pages of {kind}"),
            ));
        }
        Ok(found)
    }

    /// Reads one role definition by its GUID at `scope` (`RoleDefinitions_Get`).
    async fn definition(&self, scope: &Scope, guid: &str) -> Result<Definition, GraphError> {
        let operation = GraphOperation::ReadAzureRoleDefinitions;
        let mut url = self.root.clone();
        url.path_segments_mut()
            .map_err(|()| malformed(operation, "ARM_ENDPOINT cannot be a base URL"))?
            .pop_if_empty()
            .extend(scope.segments())
            .extend([
                "providers",
                "Microsoft.Authorization",
                "roleDefinitions",
                guid,
            ]);
        url.set_query(Some(&format!("api-version={API_VERSION}")));
        self.get(url, operation).await
    }

    /// Sends one GET to ARM with the ARM token, repeated while ARM is unavailable (within
    /// [`ATTEMPTS`]); each attempt is bounded by `MFA_GRAPH_TIMEOUT_SECONDS`.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        operation: GraphOperation,
    ) -> Result<T, GraphError> {
        if url.origin() != self.origin {
            return Err(malformed(
                operation,
                "a link away from ARM_ENDPOINT was refused",
            ));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let kind = match self.attempt(&url).await {
                Ok(body) => {
                    return serde_json::from_slice(&body).map_err(|error| {
                        malformed(
                            operation,
                            &format!("ARM's answer is not as expected: {error}"),
                        )
                    });
                }
                Err(kind) => kind,
            };
            let again = matches!(kind, GraphErrorKind::Unavailable { .. }) && attempt < ATTEMPTS;
            if !again {
                return Err(GraphError { operation, kind });
            }
            let backoff = Backoff::new(self.retry.backoff_base, self.retry.backoff_cap);
            tokio::time::sleep(backoff.after(attempt - 1)).await;
        }
    }

    async fn attempt(&self, url: &Url) -> Result<bytes::Bytes, GraphErrorKind> {
        let token = self
            .tokens
            .get()
            .await
            .map_err(|detail| GraphErrorKind::Credential { detail })?;
        let response = self
            .http
            .get(url.clone())
            .bearer_auth(token.token.secret())
            .timeout(self.retry.attempt_timeout)
            .send()
            .await
            .map_err(|error| unavailable(format!("ARM could not be reached: {}", cause(&error))))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = read_answer(response).await?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let detail = serde_json::from_slice::<ErrorBody>(&body)
            .map(|body| body.error)
            .unwrap_or(ErrorDetail {
                code: String::new(),
                message: String::new(),
            });
        let code = printable(&detail.code);
        Err(match status {
            401 | 403 => GraphErrorKind::Forbidden {
                status,
                code,
                denial: Denial::Permission,
            },
            408 | 429 | 500..=599 => GraphErrorKind::Unavailable {
                retry_after,
                detail: format!("ARM answered {status} {code}"),
                throttled: status == 429,
            },
            _ => GraphErrorKind::Rejected {
                status,
                code,
                message: printable(&detail.message),
                rejection: Rejection::Other,
            },
        })
    }
}

/// Checks a role definition id and returns its GUID (lowercase). The id is an optional
/// subscription, then `providers/Microsoft.Authorization/roleDefinitions/{guid}`.
fn definition_guid(id: &str) -> Option<String> {
    let segments: Vec<&str> = id.trim_start_matches('/').split('/').collect();
    let (tail, head) = segments.split_at(segments.len().checked_sub(4)?);
    let [providers, namespace, kind, guid] = head else {
        return None;
    };
    let shape = providers.eq_ignore_ascii_case("providers")
        && namespace.eq_ignore_ascii_case("Microsoft.Authorization")
        && kind.eq_ignore_ascii_case("roleDefinitions")
        && uuid::Uuid::parse_str(guid).is_ok();
    let above = match tail {
        [] => true,
        [subscriptions, subscription] => {
            subscriptions.eq_ignore_ascii_case("subscriptions")
                && uuid::Uuid::parse_str(subscription).is_ok()
        }
        _ => false,
    };
    (shape && above).then(|| guid.to_ascii_lowercase())
}

fn malformed(operation: GraphOperation, detail: &str) -> GraphError {
    GraphError {
        operation,
        kind: GraphErrorKind::Malformed {
            detail: detail.to_owned(),
        },
    }
}

fn unavailable(detail: String) -> GraphErrorKind {
    GraphErrorKind::Unavailable {
        retry_after: None,
        detail,
        throttled: false,
    }
}

/// Finds the innermost cause of a transport error, in one line.
fn cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    printable(&source.to_string())
}

/// Makes ARM's text fit for a message: one printable line, bounded.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

async fn read_answer(mut response: reqwest::Response) -> Result<bytes::Bytes, GraphErrorKind> {
    let too_large = || GraphErrorKind::Malformed {
        detail: format!("ARM's answer is larger than {} MiB", MAX_ANSWER_BYTES >> 20),
    };
    if response
        .content_length()
        .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| unavailable(format!("ARM's answer broke off: {}", cause(&error))))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::definition_guid;

    #[test]
    fn only_role_definition_ids_become_paths() {
        let guid = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
        let sub = "/subscriptions/5e1f0c1e-7a2b-4c3d-8e9f-00000000a2b1";
        assert!(
            definition_guid(&format!(
                "{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
            ))
            .is_some()
        );
        assert!(
            definition_guid(&format!(
                "/providers/Microsoft.Authorization/roleDefinitions/{guid}"
            ))
            .is_some()
        );
        for bad in [
            String::new(),
            format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/../{guid}"),
            format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/x"),
            format!("/x/y/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
            format!("{sub}/providers/Microsoft.Web/roleDefinitions/{guid}"),
            format!(
                "https://evil.example/providers/Microsoft.Authorization/roleDefinitions/{guid}"
            ),
        ] {
            assert!(definition_guid(&bad).is_none(), "{bad}");
        }
    }
}
