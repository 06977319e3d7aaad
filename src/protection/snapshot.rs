//! Records who holds a privileged directory role in the tenant at one moment, built from the
//! role definitions, the active assignments and the PIM eligibilities, the Azure roles that
//! control the app, the ways into privileged or protected groups, and the owners of privileged
//! applications, and looks them up per user. Pure.

use std::collections::HashMap;

use super::azure::AzureHolder;
use crate::graph::{PrincipalKind, PrivilegedRole, RoleHolder};

/// The tenant's privileged role holders.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Principal id (lowercase) → the privileged roles it holds.
    holders: HashMap<String, Vec<Hold>>,
    /// Principal id (lowercase) → the groups (privileged or protected) it is eligible for
    /// through PIM for Groups, as member or owner.
    group_eligible: HashMap<String, Vec<String>>,
    /// Principal id (lowercase) → the groups (privileged or protected) it owns: an owner can
    /// add members, itself included.
    group_owned: HashMap<String, Vec<String>>,
    /// The principals eligible through PIM for Groups that are groups themselves: their
    /// members are asked of the membership check.
    eligible_groups: std::collections::HashSet<String>,
    /// Principal id (lowercase) → why it can act as a privileged application: it owns the
    /// application or its service principal (an owner can add a credential and sign in as it).
    app_owned: HashMap<String, Vec<String>>,
    /// Whether Graph's own list of privileged roles was used (else the built-in one).
    pub from_graph: bool,
}

/// One privileged role a principal holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub role: String,
    /// Whether the role is eligible through PIM rather than active.
    pub eligible: bool,
    pub principal_kind: PrincipalKind,
    pub principal_name: Option<String>,
    /// For an Azure role: where it is assigned and what it lets its holder do to the app.
    pub azure: Option<String>,
}

impl Hold {
    /// Puts the role into words: "the privileged role X", or the Azure role and why it counts.
    pub fn in_words(&self) -> String {
        match &self.azure {
            Some(why) => format!("the Azure role {} {why}", self.role),
            None => format!("the privileged role {}", self.role),
        }
    }
}

impl Snapshot {
    /// Keeps the holdings of privileged roles only.
    pub fn build(
        roles: &[PrivilegedRole],
        active: Vec<RoleHolder>,
        eligible: Vec<RoleHolder>,
        from_graph: bool,
    ) -> Snapshot {
        let names: HashMap<String, &str> = roles
            .iter()
            .map(|role| (role.id.to_ascii_lowercase(), role.name.as_str()))
            .collect();
        let mut holders: HashMap<String, Vec<Hold>> = HashMap::new();
        let all = active
            .into_iter()
            .map(|holder| (holder, false))
            .chain(eligible.into_iter().map(|holder| (holder, true)));
        for (holder, eligible) in all {
            let Some(role) = names.get(&holder.role_definition_id.to_ascii_lowercase()) else {
                continue;
            };
            let hold = Hold {
                role: (*role).to_owned(),
                eligible,
                principal_kind: holder.principal_kind,
                principal_name: holder.principal_name,
                azure: None,
            };
            let holds = holders
                .entry(holder.principal_id.to_ascii_lowercase())
                .or_default();
            if !holds.contains(&hold) {
                holds.push(hold);
            }
        }
        Snapshot {
            holders,
            group_eligible: HashMap::new(),
            group_owned: HashMap::new(),
            eligible_groups: std::collections::HashSet::new(),
            app_owned: HashMap::new(),
            from_graph,
        }
    }

    /// Adds who is eligible through PIM for Groups for each of the groups (group id →
    /// principal ids).
    pub fn with_group_eligibilities(
        mut self,
        eligible: Vec<(String, Vec<String>)>,
        groups_among_them: std::collections::HashSet<String>,
    ) -> Snapshot {
        self.eligible_groups = groups_among_them
            .into_iter()
            .map(|id| id.to_ascii_lowercase())
            .collect();
        by_principal(&mut self.group_eligible, eligible);
        self
    }

    /// Adds the owners of each of the groups (group id → owner ids).
    pub fn with_group_owners(mut self, owners: Vec<(String, Vec<String>)>) -> Snapshot {
        by_principal(&mut self.group_owned, owners);
        self
    }

    /// Adds the principals whose Azure role controls the app: they are held like privileged
    /// role holders (a group's members, a service principal's owners, whoever can join the
    /// group are protected in turn).
    pub fn with_azure_holders(mut self, azure: Vec<AzureHolder>) -> Snapshot {
        for holder in azure {
            let hold = Hold {
                role: holder.role,
                eligible: holder.eligible,
                principal_kind: holder.kind,
                principal_name: None,
                azure: Some(format!(
                    "at {}, which lets its holder {}: whoever controls the app can set anyone's \
                     phone",
                    holder.scope,
                    holder.what.join(", ")
                )),
            };
            let holds = self
                .holders
                .entry(holder.principal_id.to_ascii_lowercase())
                .or_default();
            if !holds.contains(&hold) {
                holds.push(hold);
            }
        }
        self
    }

    /// Adds who owns privileged applications (owner id → each reason, in words).
    pub fn with_application_owners(mut self, owned: Vec<(String, String)>) -> Snapshot {
        for (owner, reason) in owned {
            let reasons = self
                .app_owned
                .entry(owner.to_ascii_lowercase())
                .or_default();
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
        self
    }

    /// Why `principal` can act as a privileged application, each reason in words.
    pub fn owned_applications(&self, principal: &str) -> &[String] {
        self.app_owned
            .get(&principal.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// The principals holding a privileged role that are not groups (users and service
    /// principals, and those whose kind Graph did not say), with the roles they hold.
    pub fn individual_holders(&self) -> impl Iterator<Item = (&str, &[Hold])> {
        self.holders
            .iter()
            .filter(|(_, holds)| {
                holds
                    .iter()
                    .all(|hold| hold.principal_kind != PrincipalKind::Group)
            })
            .map(|(id, holds)| (id.as_str(), holds.as_slice()))
    }

    /// The groups that hold a privileged role themselves, with the roles.
    pub fn group_holders(&self) -> impl Iterator<Item = (&str, &[Hold])> {
        self.holders
            .iter()
            .filter(|(_, holds)| {
                holds
                    .iter()
                    .any(|hold| hold.principal_kind == PrincipalKind::Group)
            })
            .map(|(id, holds)| (id.as_str(), holds.as_slice()))
    }

    /// The groups (privileged or protected) `principal` owns.
    pub fn owned_groups(&self, principal: &str) -> &[String] {
        self.group_owned
            .get(&principal.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// The groups `principal` is eligible for through PIM for Groups.
    pub fn eligible_groups(&self, principal: &str) -> &[String] {
        self.group_eligible
            .get(&principal.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// How many principals hold a privileged role.
    pub fn principals(&self) -> usize {
        self.holders.len()
    }

    /// The privileged roles `principal` holds itself.
    pub fn holds(&self, principal: &str) -> &[Hold] {
        self.holders
            .get(&principal.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// The principals holding a privileged role that may be groups (a user holds the role
    /// through membership): groups, and those whose kind Graph did not say.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self
            .holders
            .iter()
            .filter(|(_, holds)| {
                holds.iter().any(|hold| {
                    matches!(
                        hold.principal_kind,
                        PrincipalKind::Group | PrincipalKind::Unknown
                    )
                })
            })
            .map(|(id, _)| id.clone())
            .chain(self.eligible_groups.iter().cloned())
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }
}

/// Adds (group → principals) to a map of principal → groups, lowercase, each group once.
fn by_principal(map: &mut HashMap<String, Vec<String>>, by_group: Vec<(String, Vec<String>)>) {
    for (group, principals) in by_group {
        let group = group.to_ascii_lowercase();
        for principal in principals {
            let groups = map.entry(principal.to_ascii_lowercase()).or_default();
            if !groups.contains(&group) {
                groups.push(group.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(principal: &str, kind: PrincipalKind, role: &str) -> RoleHolder {
        RoleHolder {
            principal_id: principal.to_owned(),
            principal_kind: kind,
            principal_name: Some(format!("{principal} name")),
            role_definition_id: role.to_owned(),
        }
    }

    #[test]
    fn only_privileged_roles_count_and_groups_are_told_apart() {
        let roles = [PrivilegedRole {
            id: "GA".to_owned(),
            name: "Global Administrator".to_owned(),
        }];
        let snapshot = Snapshot::build(
            &roles,
            vec![
                holder("U1", PrincipalKind::User, "ga"),
                holder("G1", PrincipalKind::Group, "GA"),
                holder("U2", PrincipalKind::User, "reader"),
            ],
            vec![holder("u3", PrincipalKind::Unknown, "GA")],
            true,
        );
        assert_eq!(snapshot.holds("u1")[0].role, "Global Administrator");
        assert!(!snapshot.holds("u1")[0].eligible);
        assert!(snapshot.holds("u2").is_empty(), "not a privileged role");
        assert!(snapshot.holds("U3")[0].eligible);
        assert_eq!(snapshot.groups(), ["g1", "u3"]);
    }

    #[test]
    fn azure_holders_are_held_like_role_holders_and_their_groups_checked() {
        let holder = |id: &str, kind| AzureHolder {
            principal_id: id.to_owned(),
            kind,
            role: "Owner".to_owned(),
            scope: "/subscriptions/s/resourceGroups/rg".to_owned(),
            what: vec!["assign roles on the app's resources"],
            eligible: false,
        };
        let snapshot = Snapshot::default().with_azure_holders(vec![
            holder("U1", PrincipalKind::User),
            holder("G1", PrincipalKind::Group),
            holder("S1", PrincipalKind::ServicePrincipal),
        ]);
        let words = snapshot.holds("u1")[0].in_words();
        assert!(
            words.starts_with("the Azure role Owner at /subscriptions/s/resourceGroups/rg"),
            "{words}"
        );
        assert!(words.contains("assign roles"), "{words}");
        assert_eq!(snapshot.groups(), ["g1"]);
        let individuals: Vec<&str> = {
            let mut ids: Vec<&str> = snapshot.individual_holders().map(|(id, _)| id).collect();
            ids.sort_unstable();
            ids
        };
        assert_eq!(
            individuals,
            ["s1", "u1"],
            "a service principal's owners are read"
        );
    }
}
