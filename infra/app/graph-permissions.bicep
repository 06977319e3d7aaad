// Microsoft Graph application permissions (app roles) for the Function App's managed identity,
// granted with the Microsoft Graph Bicep extension (Bicep >= 0.36.1, see ../bicepconfig.json).
//
// Granting app roles is a tenant-level act: whoever deploys this module needs
// AppRoleAssignment.ReadWrite.All and Application.Read.All in Entra ID, in practice the
// Privileged Role Administrator or Global Administrator role (see DEPLOY.md). main.bicep skips
// the module when grantGraphPermissions is false, so infrastructure can be deployed by someone
// without that role and the roles granted separately.
//
// Which roles, and why (the handler names the one a refused call needed, see
// GraphOperation::permission in src/graph/error.rs):
//   UserAuthMethod-Phone.ReadWrite.All      always: read, add, update and remove the user's phone
//                                           methods and switch SMS sign-in (also the owner search's
//                                           reads of other users' phone methods). Phone methods
//                                           only: it cannot create a Temporary Access Pass or touch
//                                           any other method.
//   UserAuthenticationMethod.Read.All       always: read every method of the user (the whole MFA
//                                           picture: is the phone the user's only MFA method?).
//                                           Read only.
//   User.Read.All                           always: resolve the user (UPN or id) before writing.
//
//   NOT UserAuthenticationMethod.ReadWrite.All: it reaches every method, so whoever runs code as
//   this identity could mint a Temporary Access Pass for any user or delete their Authenticator.
//   scripts/check-infra.sh fails CI if any template grants it again; DEPLOY.md says how to remove
//   it from an identity an earlier version of this template granted it to.
//   AuditLog.Read.All                       only with enableOwnerSearch or enableReadiness: the
//                                           search for the user who already holds a conflicting
//                                           number, and the readiness scan, read the
//                                           authentication-methods registration report (which also
//                                           needs an Entra ID P1/P2 licence in the tenant).
//   Mail.Send                               only with enableUserNotifications and not
//                                           scopeMailSendInExchange: NotifyUser's e-mail to the
//                                           user (sendMail from MFA_NOTIFY_SENDER). It allows
//                                           sending as any mailbox; the alternative is an Exchange
//                                           RBAC-for-Applications grant scoped to the sender
//                                           (DEPLOY.md), which Bicep cannot create.
//   Organization.Read.All                   only with enableUserNotifications and no configured
//                                           organization name: the mail names the organization,
//                                           read once per process (GET /organization).
//   RoleManagement.Read.Directory           only with enableProtectedAccounts: is the target user a
//                                           privileged account? Reads role definitions
//                                           (isPrivileged), the user's role assignments and PIM
//                                           eligibility (roleEligibilityScheduleInstances).
//                                           RoleEligibilitySchedule.Read.Directory would cover the
//                                           eligibility read alone; RoleManagement.Read.Directory is
//                                           the least privilege that covers all three reads.
//   PrivilegedEligibilitySchedule.Read.AzureADGroup
//                                           only with enableProtectedAccounts: who may activate
//                                           membership of a group that holds a privileged role, or
//                                           of a protected group, through PIM for Groups
//                                           (identityGovernance/privilegedAccess/group/
//                                           eligibilityScheduleInstances; its least-privileged
//                                           application permission).
//   Application.Read.All                    only with enableProtectedAccounts: the owners of the
//                                           applications and service principals that hold a
//                                           privileged directory role or Graph application
//                                           permission (an owner can add a credential and act as
//                                           the application), and which Graph permissions service
//                                           principals hold (Graph's appRoleAssignedTo). Read only.
//   GroupMember.Read.All                    with enableProtectedAccounts: checkMemberGroups for the
//                                           protected groups (MFA_PROTECTED_GROUP_IDS, e.g. the
//                                           break-glass accounts), the owners of those and of the
//                                           groups holding privileged roles (GET /groups/{id}/owners),
//                                           the service principals among those groups' members,
//                                           and which role holders are groups; with enableMethodPolicy: is the
//                                           user in the SMS/voice policy's include/exclude groups;
//                                           with enableReadiness: the members (transitive) of every
//                                           group the methods policy targets.
//                                           checkMemberGroups on a user needs User.Read.All and
//                                           GroupMember.Read.All (both granted).
//   Policy.Read.AuthenticationMethod        only with enableMethodPolicy or enableReadiness: GET
//                                           /policies/authenticationMethodsPolicy/
//                                           authenticationMethodConfigurations/sms and /voice (and,
//                                           for the readiness scan, the other methods'
//                                           configurations); its least-privileged application
//                                           permission; Policy.Read.All is the broader alternative.
//
// The readiness scan (enableReadiness) needs exactly AuditLog.Read.All,
// Policy.Read.AuthenticationMethod and GroupMember.Read.All beyond the roles granted always. With
// it off they are granted only for the features above that need them: scripts/check-infra.sh
// evaluates each assignment's condition and fails when one is granted with every switch off, or
// not granted with enableReadiness alone.
//
// The app role ids, for checking an assignment by hand (GRAPH_PERMISSIONS_GRANTED lists names).
// Verified against microsoftgraph/microsoft-graph-devx-content permissions/new/provisioningInfo.json
// (scheme Application, commit 6cbd6bb of 2026-08-07); the ones marked * also against
// merill/graph-permissions-explorer permission/<name>.md. They are not used below: each role is
// looked up by name in Graph's service principal, so a typo fails the deployment instead of
// granting a different role.
//   UserAuthMethod-Phone.ReadWrite.All      6e85d483-7092-4375-babe-0a94a8213a58
//   UserAuthenticationMethod.Read.All       38d9df27-64da-44fd-b7c5-a6fbac20248f
//   User.Read.All                           df021288-bdef-4463-88db-98f22de89214
//   Application.Read.All                    9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30
//   PrivilegedEligibilitySchedule.Read.AzureADGroup
//                                           edb419d6-7edc-42a3-9345-509bfdf5d87c
//   AuditLog.Read.All                       b0afded3-3588-46d8-8b3d-9842eff778da
//   Mail.Send                               b633e1c5-b582-4048-a93e-9f11b44c7e96
//   Organization.Read.All                   498476ce-e0fe-48b0-b801-37ba7e2685c6
//   RoleManagement.Read.Directory           483bed4a-2ad3-4361-a73b-c83ccdbdc53c *
//   GroupMember.Read.All                    98830695-27a2-44f7-8c18-0c3ebc9698f6 *
//   Policy.Read.AuthenticationMethod        8e3bc81b-d2f3-4b7b-838c-32c88218d2f0
//
// Turning a switch off later does NOT remove a role granted earlier: Bicep only creates or
// updates Graph resources. DEPLOY.md shows how to remove an assignment.

extension microsoftGraphV1

@description('Object (principal) id of the managed identity\'s service principal.')
param principalId string

@description('Grant AuditLog.Read.All for the owner search (MFA_OWNER_SEARCH=true).')
param enableOwnerSearch bool

@description('Notifications are on: grant Mail.Send for the NotifyUser e-mail (unless scopeMailSendInExchange).')
param enableUserNotifications bool

@description('Mail.Send is granted in Exchange Online, scoped to the sender mailbox (DEPLOY.md), so the unscoped Entra app role is not granted.')
param scopeMailSendInExchange bool

@description('Grant Organization.Read.All so the mail can name the organization; not needed when MFA_NOTIFY_ORGANIZATION_NAME is set.')
param readOrganizationName bool

@description('Protected accounts: grant RoleManagement.Read.Directory (privileged roles, active and PIM-eligible), PrivilegedEligibilitySchedule.Read.AzureADGroup (PIM for Groups), Application.Read.All (owners of privileged applications) and GroupMember.Read.All (protected groups).')
param enableProtectedAccounts bool

@description('Method policy: grant Policy.Read.AuthenticationMethod (the SMS and voice method configurations) and GroupMember.Read.All (their target groups).')
param enableMethodPolicy bool

@description('Readiness scans in the Function App: grant AuditLog.Read.All (the registration report), Policy.Read.AuthenticationMethod (the methods policy) and GroupMember.Read.All (its target groups).')
param enableReadiness bool

var alwaysNeeded = [
  'UserAuthMethod-Phone.ReadWrite.All'
  'UserAuthenticationMethod.Read.All'
  'User.Read.All'
]
var grantAuditLogRead = enableOwnerSearch || enableReadiness
var auditLogRoles = grantAuditLogRead ? ['AuditLog.Read.All'] : []
var grantOrganizationRead = enableUserNotifications && readOrganizationName
var grantMailSend = enableUserNotifications && !scopeMailSendInExchange
var mailRoles = grantMailSend ? ['Mail.Send'] : []
var organizationRoles = grantOrganizationRead ? ['Organization.Read.All'] : []
var notificationRoles = concat(mailRoles, organizationRoles)
var grantGroupMemberRead = enableProtectedAccounts || enableMethodPolicy || enableReadiness
var grantPolicyRead = enableMethodPolicy || enableReadiness
var protectedAccountRoles = enableProtectedAccounts ? ['RoleManagement.Read.Directory', 'PrivilegedEligibilitySchedule.Read.AzureADGroup', 'Application.Read.All'] : []
var methodPolicyRoles = grantPolicyRead ? ['Policy.Read.AuthenticationMethod'] : []
var groupRoles = grantGroupMemberRead ? ['GroupMember.Read.All'] : []
var roleNames = concat(alwaysNeeded, auditLogRoles, notificationRoles, protectedAccountRoles, groupRoles, methodPolicyRoles)

// The Microsoft Graph service principal; '00000003-0000-0000-c000-000000000000' is Graph's
// well-known appId in every tenant and cloud.
resource graph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: '00000003-0000-0000-c000-000000000000'
}

// Each role is looked up by its name in Graph's appRoles, so no role GUID is hard-coded. An
// assignment is keyed by principal, resource and role, so re-deploying is a no-op. (One
// resource per role rather than a loop: the lookup then needs no loop variable inside a lambda.)
resource userAuthMethodPhoneReadWriteAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'UserAuthMethod-Phone.ReadWrite.All')[0].id
}

resource userAuthenticationMethodReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'UserAuthenticationMethod.Read.All')[0].id
}

resource userReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'User.Read.All')[0].id
}

// One assignment for the owner search and the readiness scan.
resource auditLogReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantAuditLogRead) {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'AuditLog.Read.All')[0].id
}

resource mailSend 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantMailSend) {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'Mail.Send')[0].id
}

resource organizationReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantOrganizationRead) {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'Organization.Read.All')[0].id
}

resource roleManagementReadDirectory 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (enableProtectedAccounts) {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'RoleManagement.Read.Directory')[0].id
}

resource privilegedEligibilityScheduleReadAzureADGroup 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (enableProtectedAccounts) {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'PrivilegedEligibilitySchedule.Read.AzureADGroup')[0].id
}

resource applicationReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (enableProtectedAccounts) {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'Application.Read.All')[0].id
}

// One assignment for every feature that needs it: the same role twice would be the same assignment.
resource groupMemberReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantGroupMemberRead) {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'GroupMember.Read.All')[0].id
}

resource policyReadAuthenticationMethod 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantPolicyRead) {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'Policy.Read.AuthenticationMethod')[0].id
}

output grantedRoles array = roleNames
