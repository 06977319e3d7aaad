//! Models Graph's permissions for the endpoints the simulator serves: which application
//! permissions (app roles in the token) each call accepts, and the 403 each backend answers
//! without them. They are taken from each call's permissions table in Graph's API reference and
//! from Graph's permission data (microsoft-graph-devx-content `permissions.json`): the least
//! privileged permission and the higher ones that also work.

use std::collections::HashSet;

use super::json::{Reply, error};

pub(super) const POLICY_READ: [&str; 3] = [
    "Policy.Read.AuthenticationMethod",
    "Policy.ReadWrite.AuthenticationMethod",
    "Policy.Read.All",
];

pub(super) const ROLES_READ: [&str; 4] = [
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
pub(super) const MEMBERSHIP_READ: [&str; 4] = [
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Who may read PIM for Groups eligibilities.
pub(super) const GROUP_ELIGIBILITY_READ: [&str; 2] = [
    "PrivilegedEligibilitySchedule.Read.AzureADGroup",
    "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup",
];

pub(super) const DIRECTORY_READ: [&str; 4] = [
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// Reading phone methods: the phone-only permissions, or the broader ones for every method
/// (Graph's permission data marks `UserAuthMethod-Phone.Read.All` least privileged).
pub(super) const PHONE_METHODS_READ: [&str; 4] = [
    "UserAuthMethod-Phone.Read.All",
    "UserAuthMethod-Phone.ReadWrite.All",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
/// Adding, updating and removing phone methods, and switching SMS sign-in: a read permission
/// is not enough.
pub(super) const PHONE_METHODS_WRITE: [&str; 2] = [
    "UserAuthMethod-Phone.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
/// Listing every method of a user: the phone-only permissions do not reach it.
pub(super) const METHODS_READ: [&str; 2] = [
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
pub(super) const ORGANIZATION_READ: [&str; 4] = [
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Reading service principals, app registrations, their owners and the app roles granted to
/// them (`Application.Read.All` is the least privileged).
pub(super) const APPLICATION_READ: [&str; 4] = [
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Which Graph backend answers, for the shape of its errors.
#[derive(Clone, Copy)]
pub(super) enum Backend {
    Directory,
    Methods,
    Reports,
    Exchange,
}

pub(super) fn require(roles: &HashSet<String>, any_of: &[&str], backend: Backend) -> Option<Reply> {
    if any_of.iter().any(|role| roles.contains(*role)) {
        return None;
    }
    Some(match backend {
        Backend::Directory => error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        Backend::Methods => error(403, "accessDenied", "Request Authorization failed"),
        Backend::Reports => error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        Backend::Exchange => error(
            403,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
    })
}
