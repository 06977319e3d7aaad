// Who may call the API, in Microsoft Entra's own terms: the API app registration's app roles,
// "assignment required" on its service principal, and the assignments. With assignment
// required, Entra issues a token for the API only to principals assigned to it (users and
// applications alike: AADSTS50105 / AADSTS501051 for others; entra-docs
// enterprise-apps/application-properties.md), and the handler checks the token's roles claim
// (MFA_REQUIRE_APP_ROLE): MfaPhone.ReadWrite to set, update or remove phone methods (and show
// them), MfaPhone.Read to show them. App Service authentication itself does not look at roles
// (configure-authentication-provider-aad.md: "this isn't performed by App Service
// authentication").
//
// The two app roles are defined on the app registration by DEPLOY.md's setup, with the fixed
// ids below (the registration is created there, not here, so that no Bicep resource owns an
// application object a person created). A role assignment below fails the deployment with
// "Permission being assigned was not found on application" when they are missing.
//
// Needs a deployer with AppRoleAssignment.ReadWrite.All and, to set assignment required, the
// API's service principal owner or Application.ReadWrite.All (Privileged Role Administrator,
// Cloud Application Administrator). main.bicep skips the module with manageApiRoles false.

extension microsoftGraphV1

@description('The API app registration\'s application (client) id.')
param apiClientId string

@description('Object ids of the principals that may set, update and remove phone methods (and show them): managed identities, service principals, users or groups (app role MfaPhone.ReadWrite).')
param writerPrincipalIds array = []

@description('Object ids of the principals that may only show phone methods (app role MfaPhone.Read).')
param readerPrincipalIds array = []

// The app roles' ids, as DEPLOY.md's setup defines them on the registration. Fixed: an
// assignment names a role by id, and Entra refuses to change a role's id while it is enabled.
var readWriteRoleId = 'b4ec6d3e-a5f0-477b-9565-f18510865278' // MfaPhone.ReadWrite
var readRoleId = '0344153f-992c-47ed-917f-00c8e8857bc6' // MfaPhone.Read

// The API's service principal (enterprise application), keyed by its application id: an
// upsert that turns "assignment required" on. A principal without an assignment then gets no
// token for the API at all.
resource apiServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: apiClientId
  appRoleAssignmentRequired: true
}

resource writers 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [for principal in writerPrincipalIds: {
  principalId: principal
  resourceId: apiServicePrincipal.id
  appRoleId: readWriteRoleId
}]

resource readers 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [for principal in readerPrincipalIds: {
  principalId: principal
  resourceId: apiServicePrincipal.id
  appRoleId: readRoleId
}]

output apiServicePrincipalId string = apiServicePrincipal.id
