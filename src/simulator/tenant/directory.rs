//! The directory around the users: groups and their members, directory roles (which are
//! privileged), who holds them actively and who is eligible through PIM. What the protection
//! of privileged accounts reads (reference graph.md §14).

use std::collections::HashSet;

/// A group.
#[derive(Clone, Debug)]
pub struct SimGroup {
    pub id: String,
    pub display_name: String,
    /// Members: user ids and group ids (nesting is allowed except for role-assignable groups).
    pub members: Vec<String>,
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
pub struct SimHolding {
    pub principal_id: String,
    pub role_id: String,
}

/// The directory's groups and roles.
#[derive(Debug)]
pub struct Directory {
    pub groups: Vec<SimGroup>,
    pub roles: Vec<SimRole>,
    pub assignments: Vec<SimHolding>,
    pub eligibilities: Vec<SimHolding>,
    /// PIM for Groups: who may activate membership of which group (`role_id` is the group).
    pub group_eligibilities: Vec<SimHolding>,
    /// Group owners (`role_id` is the group).
    pub group_owners: Vec<SimHolding>,
}

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

    pub fn group(&self, id: &str) -> Option<&SimGroup> {
        self.groups
            .iter()
            .find(|group| group.id.eq_ignore_ascii_case(id))
    }

    /// The groups `member` is in, directly or through nested groups.
    pub fn groups_of(&self, member: &str) -> HashSet<String> {
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
