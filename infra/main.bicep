// Entry point for `azd up` / `azd provision`: creates the resource group and deploys
// resources.bicep into it. Parameters come from main.parameters.json, which azd fills from the
// azd environment (AZURE_ENV_NAME, AZURE_LOCATION, AZURE_PRINCIPAL_ID and the MFA_* toggles).
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

@description('Object id of the deployer (azd sets AZURE_PRINCIPAL_ID); gets queue send/process rights for trying the queue trigger. Empty for none.')
param principalId string = ''

@description('Principal type of principalId: User for a person, ServicePrincipal for a pipeline.')
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
    deployerPrincipalType: principalType
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
