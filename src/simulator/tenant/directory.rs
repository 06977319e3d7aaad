//! Keeps the directory around the users: groups and their members, directory roles (which are
//! privileged), who holds them actively and who is eligible through PIM, and applications:
//! their service principals, owners, and the Graph application permissions granted to them.
//! This is what the protection of privileged accounts reads (reference graph.md §14, §15).

use std::collections::HashSet;

/// A group.
#[derive(Clone, Debug)]
pub struct SimGroup {
    pub(crate) id: String,
    pub(crate) display_name: String,
    /// Members: user ids and group ids (nesting is allowed except for role-assignable groups).
    pub(crate) members: Vec<String>,
    pub role_assignable: bool,
}

/// A directory role definition.
#[derive(Clone, Debug)]
pub struct SimRole {
    /// For built-in roles the id is the template id.
    pub id: String,
    pub display_name: String,
    pub privileged: bool,
}

/// Who holds which role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SimHolding {
    pub(crate) principal_id: String,
    pub(crate) role_id: String,
}

/// The directory's groups and roles.
#[derive(Debug)]
pub struct Directory {
    pub(crate) groups: Vec<SimGroup>,
    pub roles: Vec<SimRole>,
    pub(crate) assignments: Vec<SimHolding>,
    pub(crate) eligibilities: Vec<SimHolding>,
    /// PIM for Groups: who may activate membership of which group (`role_id` is the group).
    pub(crate) group_eligibilities: Vec<SimHolding>,
    /// Group owners (`role_id` is the group).
    pub(crate) group_owners: Vec<SimHolding>,
    /// Applications with a service principal in this tenant.
    pub(crate) apps: Vec<SimApp>,
    /// Microsoft Graph's app roles (application permissions) by name, with their ids; grown
    /// as permissions are granted.
    pub(crate) graph_app_roles: Vec<(String, String)>,
}

/// An application: its service principal in this tenant and, when it is registered here, its
/// app registration.
#[derive(Clone, Debug)]
pub struct SimApp {
    /// The application (client) id.
    pub(crate) app_id: String,
    /// The service principal's object id.
    pub(crate) service_principal_id: String,
    pub(crate) display_name: String,
    /// Whether the app registration is in this tenant (a multi-tenant application from
    /// elsewhere, Microsoft's own and managed identities have none here).
    pub(crate) registered_here: bool,
    /// Owners of the app registration: user or service principal ids.
    pub owners: Vec<String>,
    /// Owners of the service principal (the enterprise application).
    pub service_principal_owners: Vec<String>,
    /// Graph application permissions granted to the service principal, by name.
    pub(crate) graph_permissions: Vec<String>,
}

/// Microsoft Graph's application id, the same in every tenant.
pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The object id of Graph's service principal in the simulated tenant.
pub(crate) const GRAPH_SERVICE_PRINCIPAL_ID: &str = "8a1c3d2e-0000-4000-8000-00000000a11c";

/// Graph's app role ids for the permissions the simulator grants most, as Graph's permission
/// data has them (microsoft-graph-devx-content `provisioningInfo.json`).
const KNOWN_GRAPH_APP_ROLES: [(&str, &str); 10] = [
    (
        "UserAuthMethod-Phone.ReadWrite.All",
        "6e85d483-7092-4375-babe-0a94a8213a58",
    ),
    (
        "UserAuthenticationMethod.Read.All",
        "38d9df27-64da-44fd-b7c5-a6fbac20248f",
    ),
    (
        "UserAuthenticationMethod.ReadWrite.All",
        "50483e42-d915-4231-9639-7fdb7fd190e5",
    ),
    ("User.Read.All", "df021288-bdef-4463-88db-98f22de89214"),
    (
        "Application.Read.All",
        "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    ),
    (
        "Application.ReadWrite.All",
        "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    ),
    (
        "AppRoleAssignment.ReadWrite.All",
        "06b708a9-e830-4db3-a914-8e69da51d44f",
    ),
    (
        "RoleManagement.ReadWrite.Directory",
        "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
    ),
    (
        "Directory.ReadWrite.All",
        "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
    ),
    ("Mail.Send", "b633e1c5-b582-4048-a93e-9f11b44c7e96"),
];

/// Global Administrator's template id.
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
/// Authentication Administrator's template id.
pub const AUTHENTICATION_ADMINISTRATOR: &str = "c4e39bd9-1100-46d3-8c65-fb160da0071f";
/// Reports Reader's template id: a role that is not privileged.
pub const REPORTS_READER: &str = "4a5d8f65-41da-4de4-8968-e035b65339cf";

impl Default for Directory {
    fn default() -> Directory {
        let role = |id: &str, name: &str, privileged| SimRole {
            id: id.to_owned(),
            display_name: name.to_owned(),
            privileged,
        };
        Directory {
            groups: Vec::new(),
            roles: vec![
                role(GLOBAL_ADMINISTRATOR, "Global Administrator", true),
                role(
                    AUTHENTICATION_ADMINISTRATOR,
                    "Authentication Administrator",
                    true,
                ),
                role(
                    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
                    "Privileged Authentication Administrator",
                    true,
                ),
                role(REPORTS_READER, "Reports Reader", false),
            ],
            assignments: Vec::new(),
            eligibilities: Vec::new(),
            group_eligibilities: Vec::new(),
            group_owners: Vec::new(),
            apps: Vec::new(),
            graph_app_roles: KNOWN_GRAPH_APP_ROLES
                .iter()
                .map(|(name, id)| ((*name).to_owned(), (*id).to_owned()))
                .collect(),
        }
    }
}

impl Directory {
    /// Adds a group; returns its id.
    pub fn add_group(
        &mut self,
        display_name: &str,
        members: &[&str],
        role_assignable: bool,
    ) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.add_group_with_id(&id, display_name, members, role_assignable);
        id
    }

    /// Adds a group with a known id.
    pub fn add_group_with_id(
        &mut self,
        id: &str,
        display_name: &str,
        members: &[&str],
        role_assignable: bool,
    ) {
        self.groups.push(SimGroup {
            id: id.to_owned(),
            display_name: display_name.to_owned(),
            members: members.iter().map(|member| (*member).to_owned()).collect(),
            role_assignable,
        });
    }

    /// Adds `member` to the group `group_id`; false when there is no such group.
    pub fn add_group_member(&mut self, group_id: &str, member: &str) -> bool {
        match self
            .groups
            .iter_mut()
            .find(|group| group.id.eq_ignore_ascii_case(group_id))
        {
            Some(group) => {
                group.members.push(member.to_owned());
                true
            }
            None => false,
        }
    }

    /// Assigns `role_id` to `principal_id`, active.
    pub fn assign(&mut self, principal_id: &str, role_id: &str) {
        self.assignments.push(SimHolding {
            principal_id: principal_id.to_owned(),
            role_id: role_id.to_owned(),
        });
    }

    /// Makes `principal_id` eligible for `role_id` through PIM.
    pub fn make_eligible(&mut self, principal_id: &str, role_id: &str) {
        self.eligibilities.push(SimHolding {
            principal_id: principal_id.to_owned(),
            role_id: role_id.to_owned(),
        });
    }

    /// Makes `owner` an owner of `group_id`.
    pub fn add_group_owner(&mut self, group_id: &str, owner: &str) {
        self.group_owners.push(SimHolding {
            principal_id: owner.to_owned(),
            role_id: group_id.to_owned(),
        });
    }

    /// Makes `principal_id` eligible through PIM for Groups for membership of `group_id`.
    pub fn make_group_eligible(&mut self, principal_id: &str, group_id: &str) {
        self.group_eligibilities.push(SimHolding {
            principal_id: principal_id.to_owned(),
            role_id: group_id.to_owned(),
        });
    }

    /// Adds an application registered in this tenant, with its service principal; returns the
    /// service principal's object id.
    pub fn add_app(&mut self, display_name: &str) -> String {
        let service_principal_id = uuid::Uuid::new_v4().to_string();
        self.apps.push(SimApp {
            app_id: uuid::Uuid::new_v4().to_string(),
            service_principal_id: service_principal_id.clone(),
            display_name: display_name.to_owned(),
            registered_here: true,
            owners: Vec::new(),
            service_principal_owners: Vec::new(),
            graph_permissions: Vec::new(),
        });
        service_principal_id
    }

    /// Finds the application whose service principal is `service_principal_id`, to change it.
    pub fn app_mut(&mut self, service_principal_id: &str) -> Option<&mut SimApp> {
        self.apps.iter_mut().find(|app| {
            app.service_principal_id
                .eq_ignore_ascii_case(service_principal_id)
        })
    }

    /// Grants the Graph application permission `name` to the service principal.
    pub fn grant_graph_permission(&mut self, service_principal_id: &str, name: &str) {
        self.graph_app_role_id(name);
        if let Some(app) = self.app_mut(service_principal_id) {
            app.graph_permissions.push(name.to_owned());
        }
    }

    /// Returns Graph's app role id for the permission `name`, making a new one for a name not
    /// yet seen.
    pub(crate) fn graph_app_role_id(&mut self, name: &str) -> String {
        if let Some((_, id)) = self.graph_app_roles.iter().find(|(known, _)| known == name) {
            return id.clone();
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.graph_app_roles.push((name.to_owned(), id.clone()));
        id
    }

    /// Finds the application with the service principal id, or the application id, `key`.
    pub(crate) fn app(&self, key: &str) -> Option<&SimApp> {
        self.apps.iter().find(|app| {
            app.service_principal_id.eq_ignore_ascii_case(key)
                || app.app_id.eq_ignore_ascii_case(key)
        })
    }

    pub(crate) fn group(&self, id: &str) -> Option<&SimGroup> {
        self.groups
            .iter()
            .find(|group| group.id.eq_ignore_ascii_case(id))
    }

    /// Lists the groups `member` is in, directly or through nested groups.
    pub(crate) fn groups_of(&self, member: &str) -> HashSet<String> {
        let mut found = HashSet::new();
        let mut pending = vec![member.to_ascii_lowercase()];
        while let Some(current) = pending.pop() {
            for group in &self.groups {
                let id = group.id.to_ascii_lowercase();
                if !found.contains(&id)
                    && group
                        .members
                        .iter()
                        .any(|candidate| candidate.eq_ignore_ascii_case(&current))
                {
                    found.insert(id.clone());
                    pending.push(id);
                }
            }
        }
        found
    }
}
