// Entry point for `azd up` / `azd provision`: creates the resource group and deploys
// resources.bicep into it. Parameters come from main.parameters.json, which azd fills from the
// azd environment (AZURE_ENV_NAME, AZURE_LOCATION and the MFA_* settings; array parameters as
// JSON text, e.g. azd env set MFA_PROTECTED_GROUP_IDS '["<id>"]', which azd parses as an array
// from 1.23.4 on: azure.yaml requires it). AZURE_PRINCIPAL_ID and AZURE_PRINCIPAL_TYPE are azd's
// own: it substitutes the signed-in account's object id and type (User, or ServicePrincipal after
// `azd auth login --client-id`) whatever the environment holds.
// Without azd, deploy resources.bicep into an existing group instead (DEPLOY.md).
targetScope = 'subscription'

@description('azd environment name; part of the resource group name and of the resource names\' hash.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Region for all resources. It must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
@minLength(1)
param location string

@description('Resource group to create or reuse; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the deployer (azd sets AZURE_PRINCIPAL_ID); gets queue send/process rights for trying the queue trigger only with grantDeployerQueueAccess.')
param principalId string = ''

@description('Give the deployer Storage Queue Data Message Sender and Processor (MFA_DEPLOYER_QUEUE_ACCESS). Off by default: a queue message carries no caller, so standing send rights are a way around Entra authentication, the allow-lists and the caller record; turn it on for a test deployment only.')
param grantDeployerQueueAccess bool = false

@description('Principal type of principalId (azd sets it from the sign-in: User for a person, ServicePrincipal for a pipeline).')
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

@description('Owner search for conflicting numbers (MFA_OWNER_SEARCH): grants AuditLog.Read.All. Needs an Entra ID P1/P2 licence.')
param enableOwnerSearch bool = true

@description('NotifyUser e-mails (MFA_USER_NOTIFICATIONS): grants Mail.Send, and Organization.Read.All unless notificationOrganizationName is set. Needs notificationSender.')
param enableUserNotifications bool = false

@description('Mail.Send is granted in Exchange Online scoped to the sender mailbox (DEPLOY.md), so the unscoped Entra app role is not granted (MFA_MAIL_SEND_SCOPED_IN_EXCHANGE).')
param scopeMailSendInExchange bool = false

@description('The mailbox notifications are sent from (MFA_NOTIFY_SENDER).')
param notificationSender string = ''

@description('The organization\'s name in the mail (MFA_NOTIFY_ORGANIZATION_NAME); empty: read from Graph.')
param notificationOrganizationName string = ''

@description('The service desk\'s name in the notification (MFA_NOTIFY_SERVICE_DESK_NAME).')
param serviceDeskName string = ''

@description('The service desk\'s mail address in the notification (MFA_NOTIFY_SERVICE_DESK_EMAIL).')
param serviceDeskEmail string = ''

@description('The service desk\'s phone number in the notification (MFA_NOTIFY_SERVICE_DESK_PHONE).')
param serviceDeskPhone string = ''

@description('Create the Graph app-role assignments (needs Privileged Role Administrator or Global Administrator). With false, grant them separately (DEPLOY.md).')
param grantGraphPermissions bool = true

@description('Microsoft Graph root for the cloud (GRAPH_ENDPOINT).')
param graphEndpoint string = 'https://graph.microsoft.com'

@description('Zone-redundant Flex Consumption plan (regions with zones only); pair with storageSku Standard_ZRS.')
param zoneRedundant bool = false

@description('Storage redundancy for the host state, package and queues.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS'])
param storageSku string = 'Standard_LRS'

// Who may call, and whose MFA may be changed: DEPLOY.md, "Who may call".

@description('Microsoft Entra authentication in front of the HTTP trigger (MFA_ENTRA_AUTHENTICATION; sets MFA_REQUIRE_AUTHENTICATED_CALLER). Callers then need a token for api://<apiClientId> and the function key. Needs apiClientId.')
param enableEntraAuthentication bool = true

@description('Client id of the API app registration (MFA_API_CLIENT_ID). Required while enableEntraAuthentication is true: without it the deployment stops before the Function App is created.')
param apiClientId string = ''

@description('OpenID issuer (MFA_ENTRA_OPENID_ISSUER); empty: https://sts.windows.net/<tenant>/ for v1 tokens. Set https://login.microsoftonline.com/<tenant>/v2.0 only if the API registration asks for v2 tokens.')
param entraOpenIdIssuer string = ''

@description('Client ids allowed past Entra authentication (MFA_ALLOWED_CLIENT_APPLICATIONS, a JSON array): Logic App identities, RealmJoin, Azure CLI for admins. Empty: any.')
param allowedClientApplications array = []

@description('Object ids allowed past Entra authentication (MFA_ALLOWED_PRINCIPAL_IDS, a JSON array), at most 13. Empty, with no allowedGroupIds: any.')
@maxLength(13)
param allowedPrincipalIds array = []

@description('Group object ids whose members are allowed past Entra authentication (MFA_ALLOWED_GROUP_IDS, a JSON array).')
param allowedGroupIds array = []

@description('Require the API\'s app roles of authenticated callers (MFA_REQUIRE_APP_ROLE, the azd variable and the app setting alike): MfaPhone.ReadWrite to change, MfaPhone.Read to show.')
param requireAppRoles bool = true

@description('Set assignment required on the API\'s service principal and assign the app roles (MFA_MANAGE_API_ROLES). Needs AppRoleAssignment.ReadWrite.All and Application.ReadWrite.All.')
param manageApiRoles bool = true

@description('Object ids assigned MfaPhone.ReadWrite (MFA_API_WRITER_PRINCIPAL_IDS, a JSON array): managed identities, service principals, users or groups.')
param apiWriterPrincipalIds array = []

@description('Object ids assigned MfaPhone.Read (MFA_API_READER_PRINCIPAL_IDS, a JSON array).')
param apiReaderPrincipalIds array = []

@description('Principals that may send to the request queue (MFA_QUEUE_SENDER_PRINCIPAL_IDS, a JSON array of service principal object ids): Storage Queue Data Message Sender on mfa-phone-requests only.')
param queueSenderPrincipalIds array = []

@description('Protected accounts (MFA_PROTECTED_ACCOUNTS): grants RoleManagement.Read.Directory, PrivilegedEligibilitySchedule.Read.AzureADGroup and GroupMember.Read.All.')
param enableProtectedAccounts bool = true

@description('Groups whose members are never changed, e.g. break-glass accounts (MFA_PROTECTED_GROUP_IDS, a JSON array).')
param protectedGroupIds array = []

@description('Allow changes to privileged accounts (MFA_ALLOW_PRIVILEGED_TARGETS).')
param allowPrivilegedTargets bool = false

@description('Method policy (MFA_METHOD_POLICY): grants Policy.Read.AuthenticationMethod and GroupMember.Read.All.')
param enableMethodPolicy bool = true

@description('Retirement readiness scans in the Function App (MFA_READINESS_ENABLED): grants AuditLog.Read.All, Policy.Read.AuthenticationMethod and GroupMember.Read.All, turns the three readiness functions on and sets MFA_CLEANUP_KEY. Off by default.')
param readinessEnabled bool = false

// The key of cleanup.csv's number fingerprints (MFA_CLEANUP_KEY). It has no default on
// purpose: azd then looks for a saved value (the azd environment's config, infra.parameters),
// and on the first provision generates one (the azd metadata below: 48 letters and digits from
// a cryptographic source), saves it as a secret of the environment and passes the same value on
// every later provision. A default (newGuid() or any other) would make azd skip all of that.
// MFA_CLEANUP_KEY in the azd environment (main.parameters.json) takes precedence, to bring the
// key to another machine or pipeline. DEPLOY.md, "Readiness scans in the Function App".
@secure()
@minLength(16)
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 48
      noSpecial: true
    }
  }
})
@description('MFA_CLEANUP_KEY: generated once by azd and kept in the azd environment; set only with readinessEnabled. Keep it: a changed key breaks every cleanup.csv made before.')
param readinessCleanupKey string

@description('Who delivers SMS and voice (MFA_TELEPHONY): microsoft or customerManaged.')
@allowed(['microsoft', 'customerManaged'])
param telephony string = 'microsoft'

@description('Removing the last MFA method (MFA_LAST_METHOD_REMOVAL): warn or refuse.')
@allowed(['warn', 'refuse'])
param lastMethodRemoval string = 'warn'

@description('Browser origins that may read the API definition (MFA_CORS_ALLOWED_ORIGINS, a JSON array): the Logic Apps designer in the Azure portal reads /api/openapi.json from the browser for its HTTP + Swagger action.')
param corsAllowedOrigins array = [
  'https://portal.azure.com'
  'https://ms.portal.azure.com'
]

// azd passes an object parameter as parsed JSON from 1.23.4 (Azure/azure-dev#6694); unset, azd
// leaves it out and the default holds. Secure, because it may carry a secret (MFA_CLEANUP_KEY)
// that must not show in the deployment's history.
@secure()
@description('More app settings for the Function App (MFA_EXTRA_APP_SETTINGS, a JSON object of strings), merged after the ones the template writes, so a name given here replaces the template\'s value (DEPLOY.md, "Settings").')
param extraAppSettings object = {}

var tags = {
  'azd-env-name': environmentName
  application: 'mfa-phone-handler'
}
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module app 'resources.bicep' = {
  name: 'mfa-phone-handler-${resourceToken}'
  scope: rg
  params: {
    location: location
    resourceToken: resourceToken
    tags: tags
    enableOwnerSearch: enableOwnerSearch
    enableUserNotifications: enableUserNotifications
    scopeMailSendInExchange: scopeMailSendInExchange
    notificationSender: notificationSender
    notificationOrganizationName: notificationOrganizationName
    serviceDeskName: serviceDeskName
    serviceDeskEmail: serviceDeskEmail
    serviceDeskPhone: serviceDeskPhone
    grantGraphPermissions: grantGraphPermissions
    graphEndpoint: graphEndpoint
    zoneRedundant: zoneRedundant
    storageSku: storageSku
    deployerPrincipalId: principalId
    grantDeployerQueueAccess: grantDeployerQueueAccess
    deployerPrincipalType: principalType
    enableEntraAuthentication: enableEntraAuthentication
    apiClientId: apiClientId
    entraOpenIdIssuer: entraOpenIdIssuer
    allowedClientApplications: allowedClientApplications
    allowedPrincipalIds: allowedPrincipalIds
    allowedGroupIds: allowedGroupIds
    queueSenderPrincipalIds: queueSenderPrincipalIds
    requireAppRoles: requireAppRoles
    manageApiRoles: manageApiRoles
    apiWriterPrincipalIds: apiWriterPrincipalIds
    apiReaderPrincipalIds: apiReaderPrincipalIds
    corsAllowedOrigins: corsAllowedOrigins
    enableProtectedAccounts: enableProtectedAccounts
    protectedGroupIds: protectedGroupIds
    allowPrivilegedTargets: allowPrivilegedTargets
    enableMethodPolicy: enableMethodPolicy
    telephony: telephony
    lastMethodRemoval: lastMethodRemoval
    enableReadiness: readinessEnabled
    readinessCleanupKey: readinessCleanupKey
    extraAppSettings: extraAppSettings
  }
}

// azd stores these in .azure/<env>/.env (`azd env get-values`). The identity's ids are not named
// AZURE_CLIENT_ID on purpose: azd and az read that variable for their own sign-in.
output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = app.outputs.functionAppName
output FUNCTION_APP_NAME string = app.outputs.functionAppName
output FUNCTION_URL string = app.outputs.functionUrl
output MANAGED_IDENTITY_CLIENT_ID string = app.outputs.identityClientId
output MANAGED_IDENTITY_PRINCIPAL_ID string = app.outputs.identityPrincipalId
output STORAGE_ACCOUNT_NAME string = app.outputs.storageAccountName
output REQUEST_QUEUE_NAME string = app.outputs.requestQueueName
output RESULT_QUEUE_NAME string = app.outputs.resultQueueName
output POISON_QUEUE_NAME string = app.outputs.poisonQueueName
output APPLICATIONINSIGHTS_NAME string = app.outputs.applicationInsightsName
output GRAPH_PERMISSIONS_GRANTED array = app.outputs.graphPermissionsGranted
output ENTRA_AUTHENTICATION_ENABLED bool = app.outputs.entraAuthenticationEnabled
output API_AUDIENCE string = app.outputs.apiAudience
output ENTRA_OPENID_ISSUER string = app.outputs.entraOpenIdIssuer
output READINESS_ENABLED bool = app.outputs.readinessEnabled
