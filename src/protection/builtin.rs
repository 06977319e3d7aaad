//! Built-in lists: the directory roles Microsoft marks as privileged, by template id (the
//! fallback when Graph's own list, role definitions with `isPrivileged`, a beta property, cannot
//! be read), and the Graph application permissions rated most privileged.
//! Source: entra-docs `docs/identity/role-based-access-control/permissions-reference.md`
//! (January 2026), roles marked "Privileged", cross-checked against the list maester
//! (`powershell/internal/Get-MtRoleInfo.ps1`) generates from that page. For built-in roles the
//! role definition id is the template id. Custom roles are not here: only Graph's list knows
//! whether one is privileged.

/// (template id, display name).
pub const PRIVILEGED_ROLES: [(&str, &str); 31] = [
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
    ),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
    ),
    (
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Privileged Authentication Administrator",
    ),
    (
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        "Authentication Administrator",
    ),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
    ),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
    ),
    (
        "966707d0-3269-4727-9be2-8c3a10f19b9d",
        "Password Administrator",
    ),
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
    ),
    (
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        "Cloud Application Administrator",
    ),
    (
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        "Conditional Access Administrator",
    ),
    (
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
        "Intune Administrator",
    ),
    (
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
        "Hybrid Identity Administrator",
    ),
    (
        "e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8",
        "Partner Tier2 Support",
    ),
    (
        "4ba39ca4-527c-499a-b93d-d9b492c50246",
        "Partner Tier1 Support",
    ),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader"),
    ("5f2222b1-57c3-48ba-8ad5-d4759f1fde6f", "Security Operator"),
    ("5d6b6bb7-de71-4623-b4af-96380a352509", "Security Reader"),
    ("9360feb5-f418-4baa-8175-e2a00bac4301", "Directory Writers"),
    (
        "7698a772-787b-4ac8-901f-60d6b08affd2",
        "Cloud Device Administrator",
    ),
    (
        "8329153b-31d0-4727-b945-745eb3bc5f31",
        "Domain Name Administrator",
    ),
    (
        "be2f45a1-457d-42af-a067-6ec1fa63bc45",
        "External Identity Provider Administrator",
    ),
    (
        "cf1c38e5-3621-4004-a7cb-879624dced7c",
        "Application Developer",
    ),
    (
        "25a516ed-2fa0-40ea-a2d0-12923a21473a",
        "Authentication Extensibility Administrator",
    ),
    (
        "0b00bede-4072-4d22-b441-e7df02a1ef63",
        "Authentication Extensibility Password Administrator",
    ),
    (
        "aaf43236-0c0d-4d5f-883a-6955382ac081",
        "B2C IEF Keyset Administrator",
    ),
    (
        "59d46f88-662b-457b-bceb-5c3809e5908f",
        "Lifecycle Workflows Administrator",
    ),
    (
        "ecb2c6bf-0ab6-418e-bd87-7986f8d63bbe",
        "Attribute Provisioning Administrator",
    ),
    (
        "422218e4-db15-4ef9-bbe0-8afb41546d79",
        "Attribute Provisioning Reader",
    ),
    ("d2562ede-74db-457e-a7b6-544e236ebb61", "AI Administrator"),
    (
        "db506228-d27e-4b7d-95e5-295956d6615f",
        "Agent ID Administrator",
    ),
];

/// The Microsoft Graph application permissions that can take the tenant over, so that whoever
/// can act as their holder (an owner of its application or service principal) is protected like
/// an administrator. Microsoft marks no Graph permission "privileged" the way it marks directory
/// roles; its permissions reference cautions that permissions that grant authorization, such as
/// `RoleManagement.ReadWrite.Directory`, "allow an application to grant additional privileges to
/// itself, other applications, or any user". The list is:
/// - every Graph application permission classified Tier 0, each with a known path to Global
///   Administrator, in emiliensocchi/azure-tiering
///   (`Microsoft Graph application permissions/tiered-msgraph-app-permissions.json`, commit
///   0f5fed1), `UserAuthenticationMethod.ReadWrite.All` among them ("can generate a Temporary
///   Access Pass" for any account);
/// - its per-method slices, `UserAuthMethod-*.ReadWrite.All` (Graph's permission data,
///   microsoft-graph-devx-content `permissions.json`, commit 6cbd6bb): each registers a way to
///   sign in (a pass, a passkey, a password, a phone for SMS sign-in) on any account, which Graph
///   does not refuse for administrators.
///
/// Permissions that only read or change users' data (mail, files, chats) are not here: their
/// holders can harm, but not become an administrator. Compared by name, without case.
pub const PRIVILEGED_GRAPH_PERMISSIONS: [&str; 39] = [
    "AdministrativeUnit.ReadWrite.All",
    "Application.ReadWrite.All",
    "Application.ReadWrite.OwnedBy",
    "AppRoleAssignment.ReadWrite.All",
    "DelegatedAdminRelationship.ReadWrite.All",
    "Directory.ReadWrite.All",
    "Domain.ReadWrite.All",
    "EntitlementManagement.ReadWrite.All",
    "Group.ReadWrite.All",
    "GroupMember.ReadWrite.All",
    "OnPremDirectorySynchronization.ReadWrite.All",
    "Policy.ReadWrite.AuthenticationMethod",
    "Policy.ReadWrite.PermissionGrant",
    "PrivilegedAccess.ReadWrite.AzureAD",
    "PrivilegedAccess.ReadWrite.AzureADGroup",
    "PrivilegedAccess.ReadWrite.AzureResources",
    "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
    "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup",
    "RoleAssignmentSchedule.ReadWrite.Directory",
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
    "RoleManagementPolicy.ReadWrite.AzureADGroup",
    "RoleManagementPolicy.ReadWrite.Directory",
    "Synchronization.ReadWrite.All",
    "User.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "UserAuthMethod-Email.ReadWrite.All",
    "UserAuthMethod-External.ReadWrite.All",
    "UserAuthMethod-HardwareOATH.ReadWrite.All",
    "UserAuthMethod-MicrosoftAuthApp.ReadWrite.All",
    "UserAuthMethod-Passkey.ReadWrite.All",
    "UserAuthMethod-Password.ReadWrite.All",
    "UserAuthMethod-Phone.ReadWrite.All",
    "UserAuthMethod-PlatformCred.ReadWrite.All",
    "UserAuthMethod-QR.ReadWrite.All",
    "UserAuthMethod-ResourceKey.ReadWrite.All",
    "UserAuthMethod-SoftwareOATH.ReadWrite.All",
    "UserAuthMethod-TAP.ReadWrite.All",
    "UserAuthMethod-WindowsHello.ReadWrite.All",
];
