//! Reads applications as the protection of privileged accounts needs them: which Graph
//! application permissions service principals hold, service principals by id, and the owners of
//! service principals and of app registrations (an owner can add a credential and act as the
//! application). Every call here only reads: `Application.Read.All` covers the applications
//! and their owners, and the service principals in a group need `GroupMember.Read.All`.

use super::send::decode;
use super::{GraphClient, GraphError, GraphOperation, wire};
use reqwest::Method;

/// Microsoft Graph's application id, the same in every tenant and cloud.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// A service principal: an application's (or a managed identity's) identity in the tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePrincipal {
    /// The object id, lowercase.
    pub id: String,
    /// The application (client) id, when it is a GUID.
    pub app_id: Option<String>,
    pub display_name: Option<String>,
}

/// A Graph application permission held by a service principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionGrant {
    /// The service principal's object id, lowercase.
    pub principal_id: String,
    /// The permission's name (`Application.ReadWrite.All`).
    pub permission: String,
}

/// An owner of an application or a service principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The owner's object id, lowercase.
    pub id: String,
    /// Whether the owner is a service principal (else a user, or a kind Graph adds later).
    pub service_principal: bool,
}

impl GraphClient {
    /// Lists every Graph application permission granted to a service principal in the tenant:
    /// it reads Graph's service principal with its app roles, then its `appRoleAssignedTo`,
    /// page by page.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn graph_permission_grants(&self) -> Result<Vec<PermissionGrant>, GraphError> {
        let operation = GraphOperation::ReadGraphPermissionGrants;
        let graph = format!("servicePrincipals(appId='{GRAPH_APP_ID}')");
        let mut url = self.user_free_url(&[&graph]);
        url.query_pairs_mut().append_pair("$select", "id,appRoles");
        let answer = self
            .send(
                operation,
                Method::GET,
                url,
                None,
                super::send::Idempotence::Safe,
            )
            .await?;
        let resource: wire::ResourceServicePrincipal = decode(operation, &answer.body)?;
        let mut url = self.user_free_url(&["servicePrincipals", &resource.id, "appRoleAssignedTo"]);
        url.query_pairs_mut()
            .append_pair("$select", "principalId,principalType,appRoleId")
            .append_pair("$top", "999");
        let grants: Vec<wire::AppRoleGrant> = self.all_pages(operation, url).await?;
        Ok(grants
            .into_iter()
            .filter(|grant| {
                grant
                    .principal_type
                    .as_deref()
                    .is_none_or(|kind| kind.eq_ignore_ascii_case("ServicePrincipal"))
            })
            .filter_map(|grant| {
                let permission = resource
                    .app_roles
                    .iter()
                    .find(|role| role.id.eq_ignore_ascii_case(&grant.app_role_id))?
                    .value
                    .clone()?;
                Some(PermissionGrant {
                    principal_id: grant.principal_id.to_ascii_lowercase(),
                    permission,
                })
            })
            .collect())
    }

    /// Finds the service principals among `ids` (the others are not service principals) with
    /// `GET /servicePrincipals?$filter=id in (…)` for 15 ids at a time, concurrently.
    ///
    /// # Errors
    ///
    /// The first [`GraphError`] of any of the reads.
    pub async fn service_principals_among(
        &self,
        ids: &[String],
    ) -> Result<Vec<ServicePrincipal>, GraphError> {
        let principals: Vec<wire::ServicePrincipal> = self
            .among(
                GraphOperation::ReadServicePrincipals,
                "servicePrincipals",
                ids,
                "id,appId,displayName",
            )
            .await?;
        let found = principals
            .into_iter()
            .map(|principal| ServicePrincipal {
                id: principal.id.to_ascii_lowercase(),
                app_id: principal
                    .app_id
                    .filter(|app_id| uuid::Uuid::parse_str(app_id).is_ok())
                    .map(|app_id| app_id.to_ascii_lowercase()),
                display_name: principal.display_name.map(|display| super::name(&display)),
            })
            .collect();
        Ok(found)
    }

    /// Lists the service principals among the members of `group_id`, because a role-assignable
    /// group's service principals hold its roles: `GET
    /// /groups/{id}/members/microsoft.graph.servicePrincipal`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn service_principal_members(
        &self,
        group_id: &str,
    ) -> Result<Vec<String>, GraphError> {
        let mut url = self.user_free_url(&[
            "groups",
            group_id,
            "members",
            "microsoft.graph.servicePrincipal",
        ]);
        url.query_pairs_mut().append_pair("$select", "id");
        self.ids(GraphOperation::ReadGroupMembers, url).await
    }

    /// Lists the owners of the service principal `id` (the enterprise application).
    ///
    /// # Errors
    ///
    /// A [`GraphError`]; `NotFound` when there is no such service principal.
    pub async fn service_principal_owners(&self, id: &str) -> Result<Vec<Owner>, GraphError> {
        let mut url = self.user_free_url(&["servicePrincipals", id, "owners"]);
        url.query_pairs_mut().append_pair("$select", "id");
        self.owners(url).await
    }

    /// Lists the owners of the app registration of `app_id`: `GET
    /// /applications(appId='…')/owners`.
    ///
    /// # Errors
    ///
    /// A [`GraphError`]; `NotFound` when the application is not registered in this tenant (a
    /// multi-tenant application from elsewhere, a managed identity).
    pub async fn application_owners(&self, app_id: &str) -> Result<Vec<Owner>, GraphError> {
        let application = format!("applications(appId='{}')", app_id.replace('\'', "''"));
        let mut url = self.user_free_url(&[&application, "owners"]);
        url.query_pairs_mut().append_pair("$select", "id");
        self.owners(url).await
    }

    async fn owners(&self, url: reqwest::Url) -> Result<Vec<Owner>, GraphError> {
        let owners: Vec<wire::DirectoryObject> = self
            .all_pages(GraphOperation::ReadApplicationOwners, url)
            .await?;
        Ok(owners
            .into_iter()
            .filter_map(|owner| {
                Some(Owner {
                    service_principal: owner.odata_type.as_deref().is_some_and(|kind| {
                        kind.eq_ignore_ascii_case("#microsoft.graph.servicePrincipal")
                    }),
                    id: owner.id?.to_ascii_lowercase(),
                })
            })
            .collect())
    }
}
