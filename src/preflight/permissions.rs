//! Whether Azure lets a principal do an action, from its effective permissions on a scope
//! (`Microsoft.Authorization/permissions`: one entry per role it holds there, each with
//! `actions` and `notActions`). Pure: it is handed the entries, it asks nobody.
//!
//! It does not know deny assignments or conditions on role assignments: what it allows, Azure
//! may still refuse. It never allows more than the entries do.

/// One entry of the permissions answer: what one role allows, less what it excludes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permission {
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
}

/// Whether `action` is allowed: some entry names it among its `actions` and not among its
/// own `notActions` (an entry's `notActions` take nothing from another's `actions`).
/// Patterns hold `*` wildcards; names compare without regard to case.
pub fn allows(permissions: &[Permission], action: &str) -> bool {
    permissions.iter().any(|permission| {
        permission
            .actions
            .iter()
            .any(|pattern| matches(pattern, action))
            && !permission
                .not_actions
                .iter()
                .any(|pattern| matches(pattern, action))
    })
}

/// Whether `pattern` (with `*` matching any run of characters, `/` included) names `action`,
/// ignoring case.
pub fn matches(pattern: &str, action: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let action = action.to_ascii_lowercase();
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = action.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        // No `*`: the whole action must have been the first piece.
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permission(actions: &[&str], not_actions: &[&str]) -> Permission {
        Permission {
            actions: actions.iter().map(|action| (*action).to_owned()).collect(),
            not_actions: not_actions
                .iter()
                .map(|action| (*action).to_owned())
                .collect(),
        }
    }

    const GROUPS: &str = "Microsoft.Resources/subscriptions/resourceGroups/write";
    const ASSIGN: &str = "Microsoft.Authorization/roleAssignments/write";

    #[test]
    fn wildcards_match_any_run_of_characters_and_case_does_not_matter() {
        assert!(matches("*", GROUPS));
        assert!(matches("Microsoft.Resources/*", GROUPS));
        assert!(matches(
            "microsoft.resources/subscriptions/resourcegroups/WRITE",
            GROUPS
        ));
        assert!(matches("*/write", GROUPS));
        assert!(matches("Microsoft.*/resourceGroups/*", GROUPS));
        assert!(!matches("*/read", GROUPS));
        assert!(!matches("Microsoft.Resources/deployments/*", GROUPS));
        assert!(!matches(
            "Microsoft.Resources/subscriptions/resourceGroups/writ",
            GROUPS
        ));
        assert!(!matches("*/resourceGroups", GROUPS));
    }

    #[test]
    fn owner_contributor_and_reader_as_azure_answers_them() {
        let owner = [permission(&["*"], &[])];
        let contributor = [permission(
            &["*"],
            &[
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
            ],
        )];
        let reader = [permission(&["*/read"], &[])];
        assert!(allows(&owner, ASSIGN) && allows(&owner, GROUPS));
        assert!(allows(&contributor, GROUPS));
        assert!(!allows(&contributor, ASSIGN), "notActions take it away");
        assert!(!allows(&reader, GROUPS));
        assert!(!allows(&[], GROUPS));
    }

    #[test]
    fn one_roles_not_actions_take_nothing_from_anothers_actions() {
        let contributor_and_rbac_administrator = [
            permission(&["*"], &["Microsoft.Authorization/*/Write"]),
            permission(
                &["Microsoft.Authorization/roleAssignments/*", "*/read"],
                &[],
            ),
        ];
        assert!(allows(&contributor_and_rbac_administrator, ASSIGN));
        assert!(allows(&contributor_and_rbac_administrator, GROUPS));
    }
}
