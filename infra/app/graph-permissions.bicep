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
// GraphOperation::permission in src/graph/mod.rs):
//   UserAuthenticationMethod.ReadWrite.All  always: read, add, update and remove the user's phone
//                                           methods and switch SMS sign-in.
//   User.Read.All                           always: resolve the user (UPN or id) before writing.
//   AuditLog.Read.All                       only with enableOwnerSearch: the search for the user
//                                           who already holds a conflicting number reads the
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

var alwaysNeeded = [
  'UserAuthenticationMethod.ReadWrite.All'
  'User.Read.All'
]
var ownerSearchRoles = enableOwnerSearch ? ['AuditLog.Read.All'] : []
var grantOrganizationRead = enableUserNotifications && readOrganizationName
var grantMailSend = enableUserNotifications && !scopeMailSendInExchange
var mailRoles = grantMailSend ? ['Mail.Send'] : []
var organizationRoles = grantOrganizationRead ? ['Organization.Read.All'] : []
var notificationRoles = concat(mailRoles, organizationRoles)
var roleNames = concat(alwaysNeeded, ownerSearchRoles, notificationRoles)

// The Microsoft Graph service principal; '00000003-0000-0000-c000-000000000000' is Graph's
// well-known appId in every tenant and cloud.
resource graph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: '00000003-0000-0000-c000-000000000000'
}

// Each role is looked up by its name in Graph's appRoles, so no role GUID is hard-coded. An
// assignment is keyed by principal, resource and role, so re-deploying is a no-op. (One
// resource per role rather than a loop: the lookup then needs no loop variable inside a lambda.)
resource userAuthenticationMethodReadWriteAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'UserAuthenticationMethod.ReadWrite.All')[0].id
}

resource userReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'User.Read.All')[0].id
}

resource auditLogReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (enableOwnerSearch) {
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

output grantedRoles array = roleNames
