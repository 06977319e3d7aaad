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
//   Mail.Send, Organization.Read.All        only with enableUserNotifications: reserved for the
//                                           planned user-notification feature. The handler sends
//                                           no mail today, so leave it off.
//
// Turning a switch off later does NOT remove a role granted earlier: Bicep only creates or
// updates Graph resources. DEPLOY.md shows how to remove an assignment.

extension microsoftGraphV1

@description('Object (principal) id of the managed identity\'s service principal.')
param principalId string

@description('Grant AuditLog.Read.All for the owner search (MFA_OWNER_SEARCH=true).')
param enableOwnerSearch bool

@description('Grant Mail.Send and Organization.Read.All, reserved for user notifications (not implemented yet).')
param enableUserNotifications bool

var alwaysNeeded = [
  'UserAuthenticationMethod.ReadWrite.All'
  'User.Read.All'
]
var ownerSearchRoles = enableOwnerSearch ? ['AuditLog.Read.All'] : []
var notificationRoles = enableUserNotifications ? ['Mail.Send', 'Organization.Read.All'] : []
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

resource mailSend 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (enableUserNotifications) {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'Mail.Send')[0].id
}

resource organizationReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (enableUserNotifications) {
  principalId: principalId
  resourceId: graph.id
  appRoleId: filter(graph.appRoles, appRole => appRole.value == 'Organization.Read.All')[0].id
}

output grantedRoles array = roleNames
