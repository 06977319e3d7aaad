//! What a failed Graph call means. Graph's statuses and error codes are read once, in
//! [`classify`](super::send), into these types; the rest of the product branches on them and never
//! on a status number or a code string.

use std::time::Duration;

/// A Graph call that failed, and what kind of failure it was.
#[derive(Debug, thiserror::Error)]
#[error("failed to {}: {kind}", operation.describe())]
pub struct GraphError {
    pub operation: GraphOperation,
    pub kind: GraphErrorKind,
}

/// Failures grouped by what the caller does about them. `status` and `code` are Graph's, kept
/// for messages ([`GraphErrorKind::answer`]); decisions use the variant and its reason.
#[derive(Debug, thiserror::Error)]
pub enum GraphErrorKind {
    /// 404: the user, or the method, does not exist.
    #[error("Graph answered {status} {code}")]
    NotFound { status: u16, code: String },
    /// 401 or 403: our identity lacks a permission (or the tenant a licence).
    #[error("Graph refused our identity ({status} {code})")]
    Forbidden {
        status: u16,
        code: String,
        denial: Denial,
    },
    /// Any other 4xx: Graph will not do this as asked. `message` is Graph's text, kept for the
    /// caller's result and never matched on.
    #[error("Graph rejected the request ({status} {code})")]
    Rejected {
        status: u16,
        code: String,
        message: String,
        rejection: Rejection,
    },
    /// Graph throttled us or was unavailable after our retries, or its answer never came. A
    /// write may or may not have happened, unless `throttled`: Graph did not carry out a
    /// throttled request.
    #[error("Graph is throttling or unavailable ({detail})")]
    Unavailable {
        retry_after: Option<Duration>,
        detail: String,
        throttled: bool,
    },
    /// No token could be obtained.
    #[error("no token could be obtained for Graph ({detail})")]
    Credential { detail: String },
    /// Graph answered, but not with anything we can read.
    #[error("Graph's answer could not be read ({detail})")]
    Malformed { detail: String },
}

/// Why Graph refused our identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// A permission (app role) is missing.
    Permission,
    /// The tenant lacks the licence the call needs (Entra ID P1 or P2 for the reports).
    Licence,
}

/// What Graph's rejection of a request says, as far as we act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Another user holds the number for SMS sign-in (409 `phoneNumberNotUnique`); Graph
    /// usually wrote the MFA method anyway.
    PhoneNumberNotUnique,
    /// Graph does not accept the number (400 `invalidPhoneNumber`).
    InvalidPhoneNumber,
    /// Any other 400: one of Graph's rules refuses the request as made.
    BadRequest,
    /// Any other rejection.
    Other,
}

impl GraphErrorKind {
    /// Graph's status and code as text (`409 phoneNumberNotUnique`), for messages; `None` for
    /// failures that carry no answer of Graph's.
    pub fn answer(&self) -> Option<String> {
        match self {
            GraphErrorKind::NotFound { status, code }
            | GraphErrorKind::Forbidden { status, code, .. }
            | GraphErrorKind::Rejected { status, code, .. } => Some(format!("{status} {code}")),
            GraphErrorKind::Unavailable { .. }
            | GraphErrorKind::Credential { .. }
            | GraphErrorKind::Malformed { .. } => None,
        }
    }

    /// Whether Graph throttled the request, so it surely was not carried out.
    pub fn is_throttled(&self) -> bool {
        matches!(
            self,
            GraphErrorKind::Unavailable {
                throttled: true,
                ..
            }
        )
    }
}

/// The Graph calls we make, for messages and for naming the permission a 403 points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphOperation {
    ReadUser,
    ListUsers,
    ReadPhoneMethods,
    ReadMethods,
    AddPhoneMethod,
    UpdatePhoneMethod,
    RemovePhoneMethod,
    EnableSmsSignIn,
    DisableSmsSignIn,
    ReadRegistrationReport,
    Batch,
    ReadOrganization,
    SendMail,
    ReadRoleDefinitions,
    ReadRoleAssignments,
    ReadRoleEligibility,
    ReadGroupEligibility,
    ReadGroupOwners,
    CheckMemberGroups,
    ReadGroups,
    ReadMethodPolicy,
    ReadGraphPermissionGrants,
    ReadServicePrincipals,
    ReadApplicationOwners,
    ReadGroupMembers,
    ReadGroupUsers,
    /// This call goes to ARM, not Graph: it reads who controls the app's Azure resources.
    ReadAzureRoleAssignments,
    ReadAzureRoleEligibilities,
    ReadAzureRoleDefinitions,
}

impl GraphOperation {
    pub fn describe(self) -> &'static str {
        match self {
            GraphOperation::ReadUser => "read the user",
            GraphOperation::ListUsers => "list users",
            GraphOperation::ReadPhoneMethods => "read the user's phone methods",
            GraphOperation::ReadMethods => "read the user's authentication methods",
            GraphOperation::AddPhoneMethod => "add the phone method",
            GraphOperation::UpdatePhoneMethod => "update the phone method",
            GraphOperation::RemovePhoneMethod => "remove the phone method",
            GraphOperation::EnableSmsSignIn => "enable SMS sign-in",
            GraphOperation::DisableSmsSignIn => "disable SMS sign-in",
            GraphOperation::ReadRegistrationReport => "read the registration details report",
            GraphOperation::Batch => "send a batch",
            GraphOperation::ReadOrganization => "read the organization's name",
            GraphOperation::SendMail => "send the notification e-mail",
            GraphOperation::ReadRoleDefinitions => "read which directory roles are privileged",
            GraphOperation::ReadRoleAssignments => "read the directory role assignments",
            GraphOperation::ReadRoleEligibility => "read the PIM role eligibilities",
            GraphOperation::ReadGroupEligibility => {
                "read the PIM for Groups eligibilities of privileged and protected groups"
            }
            GraphOperation::ReadGroupOwners => {
                "read the owners of groups holding privileged roles and of protected groups"
            }
            GraphOperation::CheckMemberGroups => "check the user's group memberships",
            GraphOperation::ReadGroups => "tell which role holders are groups",
            GraphOperation::ReadMethodPolicy => "read the Authentication methods policy",
            GraphOperation::ReadGraphPermissionGrants => {
                "read which Graph application permissions service principals hold"
            }
            GraphOperation::ReadServicePrincipals => {
                "read the service principals holding privileged roles or permissions"
            }
            GraphOperation::ReadApplicationOwners => {
                "read the owners of privileged applications and service principals"
            }
            GraphOperation::ReadGroupMembers => {
                "read the service principals in groups holding privileged roles"
            }
            GraphOperation::ReadGroupUsers => {
                "read the users of the groups the methods policy targets, or that hold roles"
            }
            GraphOperation::ReadAzureRoleAssignments => {
                "read who holds Azure roles on the app's resources (ARM, MFA_AZURE_CONTROL_SCOPES)"
            }
            GraphOperation::ReadAzureRoleEligibilities => {
                "read who is eligible (PIM) for Azure roles on the app's resources (ARM, \
                 MFA_AZURE_CONTROL_SCOPES)"
            }
            GraphOperation::ReadAzureRoleDefinitions => {
                "read what the Azure roles on the app's resources allow (ARM)"
            }
        }
    }

    /// The least-privileged application permission the call needs.
    pub fn permission(self) -> &'static str {
        match self {
            GraphOperation::ReadUser | GraphOperation::ListUsers => "User.Read.All",
            // The phone-only permission is enough; the broader one for every method would also
            // let the app create a Temporary Access Pass or delete any user's Authenticator.
            GraphOperation::ReadPhoneMethods
            | GraphOperation::Batch
            | GraphOperation::AddPhoneMethod
            | GraphOperation::UpdatePhoneMethod
            | GraphOperation::RemovePhoneMethod
            | GraphOperation::EnableSmsSignIn
            | GraphOperation::DisableSmsSignIn => "UserAuthMethod-Phone.ReadWrite.All",
            // Reading every method shows the whole MFA picture, and reading is all we need.
            GraphOperation::ReadMethods => "UserAuthenticationMethod.Read.All",
            GraphOperation::ReadRegistrationReport => {
                "AuditLog.Read.All (and an Entra ID P1 or P2 licence)"
            }
            GraphOperation::ReadOrganization => "Organization.Read.All",
            GraphOperation::SendMail => {
                "Mail.Send (the Entra app role, or an Exchange Online RBAC for Applications grant \
                 scoped to the sender mailbox)"
            }
            GraphOperation::ReadRoleDefinitions | GraphOperation::ReadRoleAssignments => {
                "RoleManagement.Read.Directory"
            }
            GraphOperation::ReadRoleEligibility => {
                "RoleManagement.Read.Directory (or the narrower RoleEligibilitySchedule.Read.Directory)"
            }
            GraphOperation::ReadGroupEligibility => {
                "PrivilegedEligibilitySchedule.Read.AzureADGroup"
            }
            GraphOperation::CheckMemberGroups => "GroupMember.Read.All (with User.Read.All)",
            GraphOperation::ReadGroups
            | GraphOperation::ReadGroupOwners
            | GraphOperation::ReadGroupMembers
            | GraphOperation::ReadGroupUsers => "GroupMember.Read.All",
            GraphOperation::ReadAzureRoleAssignments
            | GraphOperation::ReadAzureRoleEligibilities
            | GraphOperation::ReadAzureRoleDefinitions => {
                "the Azure role that reads role assignments, PIM eligibilities and definitions \
                 (Microsoft.Authorization/roleAssignments/read, \
                 roleEligibilityScheduleInstances/read and roleDefinitions/read) on each scope of \
                 MFA_AZURE_CONTROL_SCOPES"
            }
            GraphOperation::ReadMethodPolicy => "Policy.Read.AuthenticationMethod",
            GraphOperation::ReadGraphPermissionGrants
            | GraphOperation::ReadServicePrincipals
            | GraphOperation::ReadApplicationOwners => "Application.Read.All",
        }
    }
}

/// Why the Graph client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the Graph endpoint {endpoint} cannot be a base URL")]
pub struct EndpointError {
    pub endpoint: url::Url,
}
