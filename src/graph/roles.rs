//! Reads who holds which directory role, who is in which group, and the Authentication methods
//! policy: the tenant-wide reads that the protection of privileged accounts and the policy
//! checks are built from. Role definitions come from `/beta`, because only there do they say
//! `isPrivileged`; everything else comes from v1.0.

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use super::send::{Idempotence, decode, malformed};
use super::{GraphClient, GraphError, GraphOperation, name, wire};
use crate::method_policy::{ChannelPolicy, MethodPolicies, Target};
use crate::user::UserRef;

/// A directory role Graph marks as privileged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivilegedRole {
    /// The role definition's id (for built-in roles, the template id).
    pub id: String,
    pub name: String,
}

/// What kind of principal holds a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Group,
    ServicePrincipal,
    /// Graph did not say (it did not expand the principal).
    Unknown,
}

/// One principal holding one role, actively or as eligible (PIM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleHolder {
    pub principal_id: String,
    pub principal_kind: PrincipalKind,
    pub principal_name: Option<String>,
    pub role_definition_id: String,
}

/// The most pages one list is read to; tenants have few role holders.
const MAX_PAGES: usize = 50;

impl GraphClient {
    /// `GET /beta/roleManagement/directory/roleDefinitions?$filter=isPrivileged eq true`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn privileged_roles(&self) -> Result<Vec<PrivilegedRole>, GraphError> {
        let operation = GraphOperation::ReadRoleDefinitions;
        let mut url = self.beta_url(&["roleManagement", "directory", "roleDefinitions"]);
        url.query_pairs_mut()
            .append_pair("$filter", "isPrivileged eq true")
            .append_pair("$select", "id,displayName,templateId");
        let definitions: Vec<wire::RoleDefinition> = self.all_pages(operation, url).await?;
        Ok(definitions
            .into_iter()
            .map(|definition| PrivilegedRole {
                name: name(
                    &definition
                        .display_name
                        .unwrap_or_else(|| definition.template_id.clone().unwrap_or_default()),
                ),
                id: definition.id,
            })
            .collect())
    }

    /// Lists every active directory role assignment, with its principal.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn role_assignments(&self) -> Result<Vec<RoleHolder>, GraphError> {
        self.role_holders(GraphOperation::ReadRoleAssignments, "roleAssignments")
            .await
    }

    /// Lists every PIM eligibility for a directory role, with its principal. Without an Entra
    /// ID P2 licence Graph refuses it with a licence denial: the tenant has no PIM.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn role_eligibilities(&self) -> Result<Vec<RoleHolder>, GraphError> {
        self.role_holders(
            GraphOperation::ReadRoleEligibility,
            "roleEligibilityScheduleInstances",
        )
        .await
    }

    /// Checks which of `group_ids` (at most 20) the user is a member of, directly or through
    /// nested groups: `POST /users/{user}/checkMemberGroups`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn member_groups(
        &self,
        user: &UserRef,
        group_ids: &[String],
    ) -> Result<Vec<String>, GraphError> {
        let operation = GraphOperation::CheckMemberGroups;
        let url = self.user_url(user, &["checkMemberGroups"]);
        let body = serde_json::to_vec(&wire::CheckMemberGroups { group_ids })
            .map_err(|error| malformed(operation, error))?;
        // A check reads only, so repeating it is safe.
        let answer = self
            .send(operation, Method::POST, url, Some(body), Idempotence::Safe)
            .await?;
        let ids: wire::IdList = decode(operation, &answer.body)?;
        Ok(ids.value)
    }

    /// Lists who is eligible through PIM for Groups for membership or ownership of `group_id`
    /// (an owner can make themselves a member): `GET /identityGovernance/privilegedAccess/group/
    /// eligibilityScheduleInstances?$filter=groupId eq '…'` (the list requires the filter).
    /// Without an Entra ID P2 licence Graph refuses it with a licence denial.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn group_eligibilities(&self, group_id: &str) -> Result<Vec<String>, GraphError> {
        let mut url = self.user_free_url(&[
            "identityGovernance",
            "privilegedAccess",
            "group",
            "eligibilityScheduleInstances",
        ]);
        url.query_pairs_mut()
            .append_pair(
                "$filter",
                &format!("groupId eq '{}'", group_id.replace('\'', "''")),
            )
            .append_pair("$select", "principalId,groupId,accessId");
        let eligibilities: Vec<wire::GroupEligibility> = self
            .all_pages(GraphOperation::ReadGroupEligibility, url)
            .await?;
        Ok(eligibilities
            .into_iter()
            .map(|eligibility| eligibility.principal_id.to_ascii_lowercase())
            .collect())
    }

    /// Lists the owners of `group_id` (an owner can add members, themselves included): `GET
    /// /groups/{id}/owners`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn group_owners(&self, group_id: &str) -> Result<Vec<String>, GraphError> {
        let mut url = self.user_free_url(&["groups", group_id, "owners"]);
        url.query_pairs_mut().append_pair("$select", "id");
        self.ids(GraphOperation::ReadGroupOwners, url).await
    }

    /// Finds which of `ids` are groups with `GET /groups?$filter=id in (…)` for 15 ids at a
    /// time, concurrently. It serves role holders whose kind Graph did not say (no
    /// `$expand=principal`), because only groups may be asked of `checkMemberGroups`.
    ///
    /// # Errors
    ///
    /// The first [`GraphError`] of any of the reads.
    pub async fn groups_among(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashSet<String>, GraphError> {
        let groups: Vec<wire::IdOnly> = self
            .among(GraphOperation::ReadGroups, "groups", ids, "id")
            .await?;
        Ok(groups
            .into_iter()
            .map(|group| group.id.to_ascii_lowercase())
            .collect())
    }

    /// Finds the objects of `collection` among `ids` with `GET
    /// /{collection}?$filter=id in (…)&$select=…` for 15 ids at a time (the most Graph takes in
    /// one `in`), concurrently.
    ///
    /// # Errors
    ///
    /// The first [`GraphError`] of any of the reads.
    pub(super) async fn among<T: DeserializeOwned>(
        &self,
        operation: GraphOperation,
        collection: &str,
        ids: &[String],
        select: &str,
    ) -> Result<Vec<T>, GraphError> {
        let reads = ids.chunks(IDS_PER_FILTER).map(|chunk| {
            let mut url = self.user_free_url(&[collection]);
            let quoted: Vec<String> = chunk
                .iter()
                .map(|id| format!("'{}'", id.replace('\'', "''")))
                .collect();
            url.query_pairs_mut()
                .append_pair("$filter", &format!("id in ({})", quoted.join(",")))
                .append_pair("$select", select);
            self.all_pages::<T>(operation, url)
        });
        let mut found = Vec::new();
        for answer in futures_util::future::join_all(reads).await {
            found.extend(answer?);
        }
        Ok(found)
    }

    /// The ids of every object a list answers (a list read with `$select=id`), lowercase.
    pub(super) async fn ids(
        &self,
        operation: GraphOperation,
        url: Url,
    ) -> Result<Vec<String>, GraphError> {
        let objects: Vec<wire::IdOnly> = self.all_pages(operation, url).await?;
        Ok(objects
            .into_iter()
            .map(|object| object.id.to_ascii_lowercase())
            .collect())
    }

    async fn role_holders(
        &self,
        operation: GraphOperation,
        collection: &str,
    ) -> Result<Vec<RoleHolder>, GraphError> {
        let mut url = self.user_free_url(&["roleManagement", "directory", collection]);
        url.query_pairs_mut()
            .append_pair("$select", "principalId,roleDefinitionId")
            .append_pair("$expand", "principal");
        let holdings: Vec<wire::RoleHolding> = self.all_pages(operation, url).await?;
        Ok(holdings
            .into_iter()
            .map(|holding| {
                let principal_kind = match holding
                    .principal
                    .as_ref()
                    .and_then(|principal| principal.odata_type.as_deref())
                {
                    Some(kind) if kind.eq_ignore_ascii_case("#microsoft.graph.group") => {
                        PrincipalKind::Group
                    }
                    Some(kind) if kind.eq_ignore_ascii_case("#microsoft.graph.user") => {
                        PrincipalKind::User
                    }
                    Some(kind)
                        if kind.eq_ignore_ascii_case("#microsoft.graph.servicePrincipal") =>
                    {
                        PrincipalKind::ServicePrincipal
                    }
                    _ => PrincipalKind::Unknown,
                };
                RoleHolder {
                    principal_name: holding
                        .principal
                        .and_then(|principal| principal.display_name)
                        .map(|display| name(&display)),
                    principal_id: holding.principal_id,
                    principal_kind,
                    role_definition_id: holding.role_definition_id,
                }
            })
            .collect())
    }

    /// Reads every page of a collection, following `@odata.nextLink` on our endpoint only.
    pub(super) async fn all_pages<T: DeserializeOwned>(
        &self,
        operation: GraphOperation,
        first: Url,
    ) -> Result<Vec<T>, GraphError> {
        let mut items = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let answer = self
                .send(operation, Method::GET, url, None, Idempotence::Safe)
                .await?;
            let page: wire::Page<T> = decode(operation, &answer.body)?;
            items.extend(page.value);
            next = self.next_page(operation, page.next_link)?;
            if pages >= MAX_PAGES && next.is_some() {
                return Err(malformed(
                    operation,
                    format!("the list has more than {MAX_PAGES} pages"),
                ));
            }
        }
        Ok(items)
    }
}

impl GraphClient {
    /// Reads the SMS and voice configurations concurrently: `GET
    /// /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/sms` and
    /// `/voice`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn method_policies(&self) -> Result<MethodPolicies, GraphError> {
        let (sms, voice) = tokio::join!(
            self.method_configuration("sms"),
            self.method_configuration("voice")
        );
        let (sms, voice) = (sms?, voice?);
        let channel = |configuration: &wire::MethodConfiguration| {
            channel_of(
                configuration.state.as_deref(),
                &configuration.include_targets,
                &configuration.exclude_targets,
            )
        };
        Ok(MethodPolicies {
            sms: channel(&sms),
            voice: channel(&voice),
            office_phone_allowed: voice.is_office_phone_allowed.unwrap_or(false),
        })
    }

    /// Checks which of `group_ids` (any number) the user is in, with one `checkMemberGroups`
    /// per 20 groups, concurrently.
    ///
    /// # Errors
    ///
    /// The first [`GraphError`] of any of the checks.
    pub async fn member_of_any(
        &self,
        user: &UserRef,
        group_ids: &[String],
    ) -> Result<std::collections::HashSet<String>, GraphError> {
        let checks = group_ids
            .chunks(GROUPS_PER_CHECK)
            .map(|chunk| self.member_groups(user, chunk));
        let mut member_of = std::collections::HashSet::new();
        for answer in futures_util::future::join_all(checks).await {
            member_of.extend(answer?.into_iter().map(|id| id.to_ascii_lowercase()));
        }
        Ok(member_of)
    }

    async fn method_configuration(
        &self,
        id: &str,
    ) -> Result<wire::MethodConfiguration, GraphError> {
        let operation = GraphOperation::ReadMethodPolicy;
        let url = self.user_free_url(&[
            "policies",
            "authenticationMethodsPolicy",
            "authenticationMethodConfigurations",
            id,
        ]);
        let answer = self
            .send(operation, Method::GET, url, None, Idempotence::Safe)
            .await?;
        decode(operation, &answer.body)
    }
}

/// How many ids go in one `$filter=id in (…)`, within the limit Graph documents for `in` on
/// directory objects.
const IDS_PER_FILTER: usize = 15;

/// How many group ids go in one `checkMemberGroups` (Graph's limit).
const GROUPS_PER_CHECK: usize = 20;

/// Converts a configuration's state and targets into a [`ChannelPolicy`].
pub(super) fn channel_of(
    state: Option<&str>,
    include: &[wire::MethodTarget],
    exclude: &[wire::MethodTarget],
) -> ChannelPolicy {
    ChannelPolicy {
        enabled: state.is_some_and(|state| state.eq_ignore_ascii_case("enabled")),
        include: include.iter().map(target).collect(),
        exclude: exclude.iter().map(target).collect(),
    }
}

fn target(target: &wire::MethodTarget) -> Target {
    Target {
        id: target.id.to_ascii_lowercase(),
        usable_for_sign_in: target.is_usable_for_sign_in.unwrap_or(false),
        // A user target is matched by the user's id; only groups go to checkMemberGroups.
        group: !target
            .target_type
            .as_deref()
            .is_some_and(|kind| kind.eq_ignore_ascii_case("user")),
    }
}
