//! Works out which Microsoft Graph application permissions (app roles) this deployment's
//! settings need, and how the identity's token compares: the ones it lacks (a handler started
//! before the grants holds a token without them for up to a day) and the broader
//! authentication-method rights an older deployment left (the app must hold phone-only write
//! rights). Pure: it reads a list of granted roles and the settings, never a token or Graph.

/// One permission the settings need, and for what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Needed {
    pub role: &'static str,
    pub why: &'static str,
    /// Granted outside the token when so configured (Mail.Send scoped in Exchange Online): its
    /// absence from the token is not a problem by itself.
    pub may_be_granted_elsewhere: bool,
}

/// Which features are on, as far as they need Graph permissions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    pub owner_search: bool,
    pub notifications: bool,
    /// Notifications without `MFA_NOTIFY_ORGANIZATION_NAME`: the name is read from Graph.
    pub organization_name_from_graph: bool,
    pub privileged_roles: bool,
    pub protected_groups: bool,
    pub method_policy: bool,
}

/// How the token's roles compare with what the settings need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Review {
    /// Needed and not in the token (and not possibly granted elsewhere).
    pub missing: Vec<Needed>,
    /// Needed, not in the token, but possibly granted elsewhere (said, not warned).
    pub maybe_elsewhere: Vec<Needed>,
    /// Broader authentication-method rights than the phone-only ones: to be removed.
    pub broader: Vec<String>,
}

/// The write permission the app must hold: phone methods only.
pub const PHONE_WRITE: &str = "UserAuthMethod-Phone.ReadWrite.All";
/// The broad write permission for every method (it can create a Temporary Access Pass).
pub const EVERY_METHOD_WRITE: &str = "UserAuthenticationMethod.ReadWrite.All";

/// Lists what the settings need.
pub fn needed(features: Features) -> Vec<Needed> {
    let need = |role, why| Needed {
        role,
        why,
        may_be_granted_elsewhere: false,
    };
    let mut needed = vec![
        need(PHONE_WRITE, "reading and writing phone methods"),
        need(
            "UserAuthenticationMethod.Read.All",
            "reading every method of a user (the whole MFA picture)",
        ),
        need("User.Read.All", "reading the user"),
    ];
    if features.owner_search {
        needed.push(need(
            "AuditLog.Read.All",
            "the owner search's registration report (MFA_OWNER_SEARCH)",
        ));
    }
    if features.notifications {
        needed.push(Needed {
            role: "Mail.Send",
            why: "notifying users (MFA_NOTIFY_SENDER)",
            may_be_granted_elsewhere: true,
        });
        if features.organization_name_from_graph {
            needed.push(need(
                "Organization.Read.All",
                "the organization's name in notifications (or set MFA_NOTIFY_ORGANIZATION_NAME)",
            ));
        }
    }
    if features.privileged_roles {
        needed.push(need(
            "RoleManagement.Read.Directory",
            "refusing privileged accounts (role holders, PIM)",
        ));
        needed.push(need(
            "Application.Read.All",
            "refusing owners of privileged applications",
        ));
    }
    if features.privileged_roles || features.protected_groups {
        needed.push(need(
            "PrivilegedEligibilitySchedule.Read.AzureADGroup",
            "who may activate membership of privileged or protected groups (PIM for Groups)",
        ));
    }
    if features.privileged_roles || features.protected_groups || features.method_policy {
        needed.push(need(
            "GroupMember.Read.All",
            "group memberships (protected and privileged groups, the policy's groups)",
        ));
    }
    if features.method_policy {
        needed.push(need(
            "Policy.Read.AuthenticationMethod",
            "the Authentication methods policy (MFA_METHOD_POLICY_CHECK)",
        ));
    }
    needed
}

/// Compares the roles a token grants with what the settings need. A write permission covers
/// its read permission, and the broad method permission covers the phone-only one.
pub fn review(granted: &[String], features: Features) -> Review {
    let holds = |role: &str| granted.iter().any(|held| covers(held, role));
    let mut review = Review::default();
    for needed in needed(features) {
        if holds(needed.role) {
            continue;
        }
        if needed.may_be_granted_elsewhere {
            review.maybe_elsewhere.push(needed);
        } else {
            review.missing.push(needed);
        }
    }
    review.broader = granted
        .iter()
        .filter(|role| is_broader_method_write(role))
        .cloned()
        .collect();
    review
}

/// Whether holding `held` grants what `needed` does.
fn covers(held: &str, needed: &str) -> bool {
    let held = held.to_ascii_lowercase();
    let needed = needed.to_ascii_lowercase();
    held == needed
        || held == needed.replace(".read.", ".readwrite.")
        || (held == EVERY_METHOD_WRITE.to_ascii_lowercase()
            && (needed == PHONE_WRITE.to_ascii_lowercase()
                || needed == "userauthenticationmethod.read.all"))
}

/// Whether `role` is a write right to authentication methods beyond phones: the broad
/// permission, or another method's slice of it (`UserAuthMethod-TAP.ReadWrite.All`,
/// `UserAuthMethod-Passkey…`).
fn is_broader_method_write(role: &str) -> bool {
    let lower = role.to_ascii_lowercase();
    lower == EVERY_METHOD_WRITE.to_ascii_lowercase()
        || (lower.starts_with("userauthmethod-")
            && lower.ends_with(".readwrite.all")
            && lower != PHONE_WRITE.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(names: &[&str]) -> Vec<String> {
        names.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_token_without_the_grants_misses_what_the_settings_need() {
        let features = Features {
            owner_search: true,
            privileged_roles: true,
            method_policy: true,
            ..Features::default()
        };
        let review = review(&[], features);
        let missing: Vec<&str> = review.missing.iter().map(|needed| needed.role).collect();
        assert_eq!(
            missing,
            [
                PHONE_WRITE,
                "UserAuthenticationMethod.Read.All",
                "User.Read.All",
                "AuditLog.Read.All",
                "RoleManagement.Read.Directory",
                "Application.Read.All",
                "PrivilegedEligibilitySchedule.Read.AzureADGroup",
                "GroupMember.Read.All",
                "Policy.Read.AuthenticationMethod",
            ]
        );
        assert!(review.broader.is_empty());
    }

    #[test]
    fn a_write_permission_covers_its_read_and_the_broad_one_covers_phones() {
        let review = review(
            &roles(&[
                "UserAuthenticationMethod.ReadWrite.All",
                "User.ReadWrite.All",
            ]),
            Features::default(),
        );
        assert!(review.missing.is_empty(), "{review:?}");
        assert_eq!(
            review.broader,
            roles(&["UserAuthenticationMethod.ReadWrite.All"])
        );
    }

    #[test]
    fn a_full_grant_misses_nothing_and_mail_send_may_be_scoped_in_exchange() {
        let features = Features {
            notifications: true,
            ..Features::default()
        };
        let review = review(
            &roles(&[
                "UserAuthMethod-Phone.ReadWrite.All",
                "userauthenticationmethod.read.all",
                "User.Read.All",
            ]),
            features,
        );
        assert!(review.missing.is_empty(), "{review:?}");
        assert_eq!(review.maybe_elsewhere.len(), 1);
        assert_eq!(review.maybe_elsewhere[0].role, "Mail.Send");
    }

    #[test]
    fn broader_method_rights_left_from_an_older_deployment_are_named() {
        let review = review(
            &roles(&[
                PHONE_WRITE,
                "UserAuthenticationMethod.ReadWrite.All",
                "UserAuthMethod-TAP.ReadWrite.All",
                "UserAuthMethod-Phone.Read.All",
                "UserAuthenticationMethod.Read.All",
            ]),
            Features::default(),
        );
        assert_eq!(
            review.broader,
            roles(&[
                "UserAuthenticationMethod.ReadWrite.All",
                "UserAuthMethod-TAP.ReadWrite.All"
            ])
        );
    }
}
