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

/// The Microsoft Graph application permissions whose holder is as privileged as an
/// administrator, so that whoever can act as the holder (an owner of its application or service
/// principal) is protected like one. Microsoft marks no Graph permission "privileged" the way it
/// marks directory roles; its own permission data rates each permission's risk from 1 to 5
/// (`privilegeLevel`), and no application permission is rated above 4. These are all the
/// application permissions rated 4 in microsoftgraph/microsoft-graph-devx-content
/// `permissions/new/permissions.json` (commit 6cbd6bb, 2026-08-07): among them the ones that can
/// take the tenant over (`RoleManagement.ReadWrite.Directory`, `AppRoleAssignment.ReadWrite.All`,
/// `Application.ReadWrite.All`, `Directory.ReadWrite.All`, `UserAuthenticationMethod.ReadWrite.All`,
/// `Policy.ReadWrite.ConditionalAccess`, `Domain.ReadWrite.All`, …) and the ones that read or
/// change any user's data. Compared by name, without case.
pub const PRIVILEGED_GRAPH_PERMISSIONS: [&str; 67] = [
    "AgentIdentity.Create.All",
    "AgentIdentity.CreateAsManager",
    "AgentIdentityBlueprint.Create",
    "AgentIdentityBlueprintPrincipal.Create",
    "AppRoleAssignment.ReadWrite.All",
    "Application.ReadWrite.All",
    "BackupRestore-Configuration.Read.All",
    "BackupRestore-Configuration.ReadWrite.All",
    "BackupRestore-Control.Read.All",
    "BackupRestore-Control.ReadWrite.All",
    "BackupRestore-Restore.Read.All",
    "BackupRestore-Restore.ReadWrite.All",
    "BackupRestore-Search.Read.All",
    "Calendars.Read",
    "ChannelMessage.Read.All",
    "ChannelMessage.Read.Group",
    "Chat.Read.All",
    "Chat.ReadWrite.All",
    "ConsentRequest.ReadWrite.All",
    "CustomSecAttributeAssignment.ReadWrite.All",
    "CustomSecAttributeDefinition.ReadWrite.All",
    "CustomSecAttributeProvisioning.Read.All",
    "CustomSecAttributeProvisioning.ReadWrite.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "Device.ReadWrite.All",
    "DeviceManagementConfiguration.Read.All",
    "Directory.ReadWrite.All",
    "Domain-InternalFederation.ReadWrite.All",
    "Domain.ReadWrite.All",
    "EduRoster.ReadWrite.All",
    "EngagementConversation.Migration.All",
    "EngagementRole.ReadWrite.All",
    "EntitlementManagement.ReadWrite.All",
    "Files.Read.All",
    "Files.ReadWrite.All",
    "Group-Conversation.Read.All",
    "Group-Conversation.ReadWrite.All",
    "Group.ReadWrite.All",
    "GroupMember.ReadWrite.All",
    "IdentityProvider.ReadWrite.All",
    "IdentityRiskyUser.ReadWrite.All",
    "LicenseAssignment.ReadWrite.All",
    "MutualTlsOauthConfiguration.Read.All",
    "MutualTlsOauthConfiguration.ReadWrite.All",
    "NetworkAccess.ReadWrite.All",
    "Organization.ReadWrite.All",
    "Policy.ReadWrite.AuthenticationMethod",
    "Policy.ReadWrite.ConditionalAccess",
    "Policy.ReadWrite.ConsentRequest",
    "Policy.ReadWrite.CrossTenantAccess",
    "Policy.ReadWrite.PermissionGrant",
    "PrintJob.ReadWrite.All",
    "RoleManagement.ReadWrite.Directory",
    "SecurityCopilotWorkspaces.ReadWrite.All",
    "SharePointCrossTenantMigration.Manage.All",
    "Sites.FullControl.All",
    "Sites.Manage.All",
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "Synchronization.ReadWrite.All",
    "Tasks.ReadWrite.All",
    "TeamsAppInstallation.ReadWriteAndConsentForUser.All",
    "User-PasswordProfile.ReadWrite.All",
    "User.DeleteRestore.All",
    "User.EnableDisableAccount.All",
    "User.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
