//! Keeps the Azure side of the simulated tenant, as Azure Resource Manager keeps it: the app's
//! resources, the role assignments made on them, above or below them, the PIM eligibilities
//! for roles there (who may activate one), and the role definitions (Azure's built-in ones that
//! matter here, and custom ones a test defines). The ARM face that serves it is `server::arm`.

use serde_json::{Value, json};

/// The simulated subscription, resource group and resources of the app.
pub const SUBSCRIPTION: &str = "/subscriptions/5e1f0c1e-7a2b-4c3d-8e9f-00000000a2b1";
pub const RESOURCE_GROUP: &str =
    "/subscriptions/5e1f0c1e-7a2b-4c3d-8e9f-00000000a2b1/resourceGroups/rg-mfa";
pub const FUNCTION_APP: &str = "/subscriptions/5e1f0c1e-7a2b-4c3d-8e9f-00000000a2b1/resourceGroups\
                                /rg-mfa/providers/Microsoft.Web/sites/func-mfa";
pub const STORAGE_ACCOUNT: &str = "/subscriptions/5e1f0c1e-7a2b-4c3d-8e9f-00000000a2b1\
                                   /resourceGroups/rg-mfa/providers/Microsoft.Storage\
                                   /storageAccounts/stmfa";
/// A resource of the same group the app does not depend on.
pub const OTHER_RESOURCE: &str = "/subscriptions/5e1f0c1e-7a2b-4c3d-8e9f-00000000a2b1\
                                  /resourceGroups/rg-mfa/providers/Microsoft.Web/sites/other";

/// Built-in role definition ids (the same in every tenant and cloud).
pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
pub const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
pub const WEBSITE_CONTRIBUTOR: &str = "de139f84-1756-47ae-9be6-808fbbe84772";
pub(crate) const USER_ACCESS_ADMINISTRATOR: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
pub const STORAGE_BLOB_DATA_CONTRIBUTOR: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
pub(crate) const STORAGE_BLOB_DATA_OWNER: &str = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
pub const STORAGE_BLOB_DATA_READER: &str = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1";

/// The Azure side: resources, role assignments and definitions.
#[derive(Debug)]
pub struct AzureRbac {
    resources: Vec<String>,
    assignments: Vec<SimRoleAssignment>,
    /// PIM eligibilities: who may activate the role at the scope.
    eligibilities: Vec<SimRoleEligibility>,
    definitions: Vec<SimRoleDefinition>,
}

/// One PIM eligibility for an Azure role: the same facts as an assignment, not yet active.
pub(crate) type SimRoleEligibility = SimRoleAssignment;

/// One role assignment.
#[derive(Clone, Debug)]
pub(crate) struct SimRoleAssignment {
    pub(crate) id: String,
    pub(crate) scope: String,
    /// The role definition's GUID.
    pub(crate) role: String,
    pub(crate) principal_id: String,
    /// `User`, `Group` or `ServicePrincipal`, as ARM says.
    pub(crate) principal_type: String,
}

impl SimRoleAssignment {
    /// Makes a new holding of `role` at `scope` by the principal, with an id of its own.
    fn new(scope: &str, role: &str, principal_id: &str, principal_type: &str) -> Self {
        SimRoleAssignment {
            id: uuid::Uuid::new_v4().to_string(),
            scope: scope.to_owned(),
            role: role.to_owned(),
            principal_id: principal_id.to_owned(),
            principal_type: principal_type.to_owned(),
        }
    }
}

/// One role definition.
#[derive(Clone, Debug)]
pub(crate) struct SimRoleDefinition {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) custom: bool,
    /// `properties.permissions` as ARM answers it.
    pub(crate) permissions: Value,
}

impl Default for AzureRbac {
    fn default() -> AzureRbac {
        let sites = "Microsoft.Web/sites/*";
        let blobs = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs";
        let containers = "Microsoft.Storage/storageAccounts/blobServices/containers";
        let delegation =
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action";
        let built_in = [
            (OWNER, "Owner", json!([{"actions": ["*"]}])),
            (
                CONTRIBUTOR,
                "Contributor",
                json!([{"actions": ["*"], "notActions": [
                    "Microsoft.Authorization/*/Delete",
                    "Microsoft.Authorization/*/Write",
                    "Microsoft.Authorization/elevateAccess/Action"
                ]}]),
            ),
            (READER, "Reader", json!([{"actions": ["*/read"]}])),
            (
                WEBSITE_CONTRIBUTOR,
                "Website Contributor",
                json!([{"actions": [
                    "Microsoft.Authorization/*/read",
                    "Microsoft.Resources/subscriptions/resourceGroups/read",
                    "Microsoft.Web/serverFarms/read",
                    sites
                ]}]),
            ),
            (
                USER_ACCESS_ADMINISTRATOR,
                "User Access Administrator",
                json!([{"actions": ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"]}]),
            ),
            (
                STORAGE_BLOB_DATA_CONTRIBUTOR,
                "Storage Blob Data Contributor",
                json!([{
                    "actions": [format!("{containers}/read"), format!("{containers}/write"), delegation],
                    "dataActions": [
                        format!("{blobs}/read"), format!("{blobs}/write"),
                        format!("{blobs}/delete"), format!("{blobs}/add/action")
                    ]
                }]),
            ),
            (
                STORAGE_BLOB_DATA_OWNER,
                "Storage Blob Data Owner",
                json!([{"actions": [format!("{containers}/*"), delegation],
                        "dataActions": [format!("{blobs}/*")]}]),
            ),
            (
                STORAGE_BLOB_DATA_READER,
                "Storage Blob Data Reader",
                json!([{"actions": [format!("{containers}/read"), delegation],
                        "dataActions": [format!("{blobs}/read")]}]),
            ),
        ];
        AzureRbac {
            resources: vec![
                FUNCTION_APP.to_owned(),
                STORAGE_ACCOUNT.to_owned(),
                OTHER_RESOURCE.to_owned(),
            ],
            assignments: Vec::new(),
            eligibilities: Vec::new(),
            definitions: built_in
                .into_iter()
                .map(|(id, name, permissions)| SimRoleDefinition {
                    id: id.to_owned(),
                    name: name.to_owned(),
                    custom: false,
                    permissions,
                })
                .collect(),
        }
    }
}

impl AzureRbac {
    /// Assigns the role (a definition's GUID) to the principal at `scope`, and returns the
    /// assignment's id.
    pub fn assign(
        &mut self,
        scope: &str,
        role: &str,
        principal_id: &str,
        principal_type: &str,
    ) -> String {
        let holding = SimRoleAssignment::new(scope, role, principal_id, principal_type);
        let id = holding.id.clone();
        self.assignments.push(holding);
        id
    }

    /// Makes the principal eligible (PIM) for the role at `scope`, and returns the
    /// eligibility's id.
    pub fn make_eligible(
        &mut self,
        scope: &str,
        role: &str,
        principal_id: &str,
        principal_type: &str,
    ) -> String {
        let holding = SimRoleEligibility::new(scope, role, principal_id, principal_type);
        let id = holding.id.clone();
        self.eligibilities.push(holding);
        id
    }

    /// Defines a custom role with these actions and data actions, and returns its GUID.
    pub fn define(&mut self, name: &str, actions: &[&str], data_actions: &[&str]) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.definitions.push(SimRoleDefinition {
            id: id.clone(),
            name: name.to_owned(),
            custom: true,
            permissions: json!([{"actions": actions, "dataActions": data_actions}]),
        });
        id
    }

    /// Whether ARM knows `scope`: a resource, or a resource group or subscription holding one.
    pub(crate) fn exists(&self, scope: &str) -> bool {
        self.resources
            .iter()
            .any(|resource| within(resource, scope))
    }

    /// Lists the assignments made at `scope` or above it (ARM's `$filter=atScope()`), and with
    /// `below` also those made below it (ARM's answer without a filter).
    pub(crate) fn listed_at(&self, scope: &str, below: bool) -> Vec<&SimRoleAssignment> {
        listed(&self.assignments, scope, below)
    }

    /// Lists the eligibilities for `scope`, as [`AzureRbac::listed_at`] lists assignments.
    pub(crate) fn eligible_at(&self, scope: &str, below: bool) -> Vec<&SimRoleEligibility> {
        listed(&self.eligibilities, scope, below)
    }

    pub(crate) fn definition(&self, id: &str) -> Option<&SimRoleDefinition> {
        self.definitions
            .iter()
            .find(|definition| definition.id.eq_ignore_ascii_case(id))
    }
}

fn listed<'a>(
    assignments: &'a [SimRoleAssignment],
    scope: &str,
    below: bool,
) -> Vec<&'a SimRoleAssignment> {
    assignments
        .iter()
        .filter(|assignment| {
            within(scope, &assignment.scope) || (below && within(&assignment.scope, scope))
        })
        .collect()
}

/// Whether `inner` is `outer` or lies below it, as ARM compares ids (without case).
pub(crate) fn within(inner: &str, outer: &str) -> bool {
    let inner = inner.trim_end_matches('/').to_ascii_lowercase();
    let outer = outer.trim_end_matches('/').to_ascii_lowercase();
    outer.is_empty() || inner == outer || inner.starts_with(&format!("{outer}/"))
}
