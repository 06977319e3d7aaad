// Everything the MFA phone handler needs inside one resource group. main.bicep (azd) calls this
// module; it can also be deployed on its own with `az deployment group create` (DEPLOY.md).
//
//   user-assigned managed identity  the app's only identity: storage, Application Insights and
//                                   Microsoft Graph all trust it; AZURE_CLIENT_ID selects it
//   storage account                 AzureWebJobsStorage (identity-based, no shared keys), the
//                                   Flex deployment-package container and the two queues
//   Log Analytics + App Insights    Entra-only ingestion (local auth disabled); diagnostic
//                                   settings send the queue and blob access logs and the
//                                   Function App's FunctionAppLogs to the workspace
//   Flex Consumption plan (FC1)     Linux
//   Function App                    functionAppConfig.runtime custom 1.0 (the custom handler)
//   Entra authentication            ./app/entra-auth.bicep: built-in authentication in front of
//                                   the HTTP trigger (switchable; the function key stays)
//   role assignments                storage (blob, queue, table) and monitoring data roles for
//                                   the identity; queue senders on the request queue
//   Graph app roles                 ./app/graph-permissions.bicep (switchable)
//   readiness scans                 three functions, their Graph roles and MFA_CLEANUP_KEY, on
//                                   with enableReadiness (./app/readiness-precondition.bicep)

@description('Location for all resources. Flex Consumption is not offered in every region.')
param location string = resourceGroup().location

@description('Suffix that makes the resource names unique: 3 to 13 lower-case letters and digits, e.g. uniqueString(resourceGroup().id). The storage account is named st<token>.')
@minLength(3)
@maxLength(13)
param resourceToken string

@description('Tags for every resource.')
param tags object = {}

@description('Name of the azd service this Function App hosts (tag azd-service-name).')
param serviceName string = 'api'

@description('Grant AuditLog.Read.All and set MFA_OWNER_SEARCH=true: when a number is already held by another user, search the registration report for the holder. Needs an Entra ID P1/P2 licence.')
param enableOwnerSearch bool = true

@description('How long the owner search may take, in seconds (MFA_OWNER_SEARCH_BUDGET_SECONDS). HTTP callers must get an answer well inside the front end\'s ~230 s.')
@minValue(1)
@maxValue(200)
param ownerSearchBudgetSeconds int = 90

@description('NotifyUser: e-mail the user after their phone method changed. Grants Mail.Send (and Organization.Read.All when notificationOrganizationName is empty) and sets the MFA_NOTIFY_* settings. Needs notificationSender.')
param enableUserNotifications bool = false

@description('Mail.Send is granted in Exchange Online scoped to the sender mailbox (DEPLOY.md), so the unscoped Entra app role is not granted (MFA_MAIL_SEND_SCOPED_IN_EXCHANGE).')
param scopeMailSendInExchange bool = false

@description('The mailbox notifications are sent from (MFA_NOTIFY_SENDER), e.g. it-notify@contoso.com. Required when enableUserNotifications is true.')
param notificationSender string = ''

@description('The organization\'s name in the mail (MFA_NOTIFY_ORGANIZATION_NAME). Empty: read from Graph, which needs Organization.Read.All.')
param notificationOrganizationName string = ''

@description('Whom the mail tells the user to contact if they did not ask for the change (MFA_NOTIFY_SERVICE_DESK_NAME); empty values are left out of the mail.')
param serviceDeskName string = ''

@description('The service desk\'s mail address in the notification (MFA_NOTIFY_SERVICE_DESK_EMAIL).')
param serviceDeskEmail string = ''

@description('The service desk\'s phone number in the notification (MFA_NOTIFY_SERVICE_DESK_PHONE).')
param serviceDeskPhone string = ''

@description('Create the Microsoft Graph app-role assignments. Needs a deployer with AppRoleAssignment.ReadWrite.All + Application.Read.All (Privileged Role Administrator or Global Administrator). With false, grant them separately (DEPLOY.md).')
param grantGraphPermissions bool = true

@description('Microsoft Graph root for the cloud (GRAPH_ENDPOINT), without the version.')
param graphEndpoint string = 'https://graph.microsoft.com'

@description('Users worked on at once per instance (MFA_MAX_CONCURRENT_USERS).')
@minValue(1)
@maxValue(1024)
param maxConcurrentUsers int = 16

@description('RUST_LOG filter for the handler\'s own logs.')
param rustLog string = 'info'

// Secure: it may carry MFA_CLEANUP_KEY, which must not show in the deployment's history.
@secure()
@description('More app settings, merged last (e.g. MFA_GRAPH_MAX_ATTEMPTS, MFA_GRAPH_TIMEOUT_SECONDS).')
param extraAppSettings object = {}

@description('Memory per instance in MB (Flex Consumption sizes).')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Upper bound on scale-out. Every instance talks to the same tenant\'s Graph, so more instances mostly mean more throttling.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Spread the Flex Consumption plan over availability zones (regions with zone support; pair it with storageSku Standard_ZRS).')
param zoneRedundant bool = false

@description('Storage redundancy. The account holds only the package, host state and queues.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS'])
param storageSku string = 'Standard_LRS'

@description('Object id of the person or pipeline deploying (azd sets AZURE_PRINCIPAL_ID). With grantDeployerQueueAccess it gets queue send and process rights to try the queue trigger.')
param deployerPrincipalId string = ''

@description('Give deployerPrincipalId queue send and process rights. Off by default: a queue message carries no caller, so standing send rights bypass Entra authentication, the allow-lists and the caller record; for test deployments.')
param grantDeployerQueueAccess bool = false

@description('Principal type of deployerPrincipalId.')
@allowed(['User', 'ServicePrincipal', 'Group'])
param deployerPrincipalType string = 'User'

// ---- Who may call (DEPLOY.md, "Who may call") ----

@description('Microsoft Entra authentication (App Service built-in authentication) in front of the HTTP trigger: a caller needs a token for the API app registration as well as the function key. Also sets MFA_REQUIRE_AUTHENTICATED_CALLER. Needs apiClientId.')
param enableEntraAuthentication bool = true

@description('Application (client) id of the API app registration the tokens are issued for (Application ID URI api://<clientId>). Required when enableEntraAuthentication is true; the deployment stops before creating the Function App without it.')
param apiClientId string = ''

@description('OpenID issuer for the tokens; empty: https://sts.windows.net/<tenant>/, the issuer of v1 tokens, which is what a registration with requestedAccessTokenVersion 1 (or unset) gets (app/entra-auth.bicep).')
param entraOpenIdIssuer string = ''

@description('Client ids (the token\'s appid/azp) allowed past Entra authentication, e.g. a Logic App managed identity\'s client id, RealmJoin\'s application id, Azure CLI 04b07795-8ddb-461a-bbee-02f9e1bf7b46 for admins. Empty: any client application. The handler checks the same list (MFA_ALLOWED_CLIENT_APPS).')
param allowedClientApplications array = []

@description('Object ids (the token\'s oid) allowed past Entra authentication: managed identities, service principals, administrators. Empty (with allowedGroupIds empty): any principal. At most 13 (the platform allows 500 characters). The handler checks them too (MFA_ALLOWED_CALLERS, with allowedGroupIds).')
@maxLength(13)
param allowedPrincipalIds array = []

@description('Group object ids whose members are allowed past Entra authentication (the token\'s groups claim; the API app registration must emit group claims).')
param allowedGroupIds array = []

@description('Require the API\'s app roles of an authenticated caller (MFA_REQUIRE_APP_ROLE): MfaPhone.ReadWrite to change phone methods, MfaPhone.Read to show them. Turn off only where app roles cannot be created; the results and the log then say so.')
param requireAppRoles bool = true

@description('Set assignment required on the API\'s service principal and assign the app roles below (app/api-roles.bicep). Needs a deployer with AppRoleAssignment.ReadWrite.All and Application.ReadWrite.All (or ownership of the API\'s service principal). With false, do it by hand (DEPLOY.md).')
param manageApiRoles bool = true

@description('Object ids (service principals, users or groups) assigned the app role MfaPhone.ReadWrite: they may set, update, remove and show phone methods, e.g. a Logic App\'s managed identity, RealmJoin\'s service principal, the service desk\'s group.')
param apiWriterPrincipalIds array = []

@description('Object ids (service principals, users or groups) assigned the app role MfaPhone.Read: they may only show phone methods (masked unless revealNumber).')
param apiReaderPrincipalIds array = []

@description('Object ids of principals (managed identities or service principals, e.g. a Logic App, RealmJoin) that may put requests on the request queue: Storage Queue Data Message Sender on mfa-phone-requests only. The queue carries no caller identity, so this list is the queue\'s access control.')
param queueSenderPrincipalIds array = []

// ---- Whose MFA may be changed ----

@description('Protected accounts: grants RoleManagement.Read.Directory, PrivilegedEligibilitySchedule.Read.AzureADGroup and GroupMember.Read.All, so the handler can tell privileged and protected targets (MFA_ALLOW_PRIVILEGED_TARGETS, MFA_PROTECTED_GROUP_IDS).')
param enableProtectedAccounts bool = true

@description('Group object ids whose members are never changed, e.g. the break-glass accounts\' group (MFA_PROTECTED_GROUP_IDS, comma-separated).')
param protectedGroupIds array = []

@description('Allow changes to accounts that hold (or are eligible for) a privileged directory role (MFA_ALLOW_PRIVILEGED_TARGETS).')
param allowPrivilegedTargets bool = false

@description('Method policy: grants Policy.Read.AuthenticationMethod and GroupMember.Read.All, so the handler can read whether SMS and voice are enabled for the user.')
param enableMethodPolicy bool = true

// ---- Retirement readiness (DEPLOY.md, "Readiness scans in the Function App") ----

@description('Readiness scans in the Function App: grants AuditLog.Read.All, Policy.Read.AuthenticationMethod and GroupMember.Read.All, turns MfaReadinessTimer, MfaReadiness and MfaReadinessQueue on and sets MFA_CLEANUP_KEY from readinessCleanupKey. Off: the three functions are deployed turned off and none of the three roles is granted for readiness.')
param enableReadiness bool = false

// A secret, so that nobody who reads a cleanup.csv can recover a number from its fingerprints.
// It must stay the same from one deployment to the next: the handler checks a fingerprint with
// the key the scan made it with, so a key that changed breaks every cleanup.csv made before.
// main.bicep gets it from azd, which generates it once per environment and keeps it; deployed
// on its own, pass the same value every time (DEPLOY.md). Never newGuid(): that is a new key
// on every deployment.
@secure()
@description('MFA_CLEANUP_KEY, at least 16 characters: the key of cleanup.csv\'s number fingerprints. Required when enableReadiness is true (the deployment stops before the Function App is created without it). Pass the same value on every deployment.')
param readinessCleanupKey string = ''

@description('Who delivers SMS and voice calls (MFA_TELEPHONY): microsoft, or customerManaged once the tenant has its own telecom provider (Microsoft-provided SMS and voice retire in 2027).')
@allowed(['microsoft', 'customerManaged'])
param telephony string = 'microsoft'

@description('What to do when a removal would take the user\'s last MFA method (MFA_LAST_METHOD_REMOVAL): warn, or refuse.')
@allowed(['warn', 'refuse'])
param lastMethodRemoval string = 'warn'

// Cross-origin reads matter only to browsers: the Logic Apps designer fetches the API definition
// for its HTTP + Swagger action from the portal page, so the portal's origins are allowed. A
// connector's and a workflow's own calls come from Azure's back ends, where CORS does not apply,
// and the POST endpoint still needs a token and a function key whatever the origin.
@description('Browser origins that may read the API definition (/api/openapi.json). Empty: no cross-origin reads.')
param corsAllowedOrigins array = [
  'https://portal.azure.com'
  'https://ms.portal.azure.com'
]

// Resource names need lower case (storage accounts and containers allow nothing else).
var token = toLower(resourceToken)

// Names and values the handler and host.json depend on. scripts/check-infra.sh compares them
// with host.json and the function.json files, so a rename in one place fails CI.
var requestQueueName = 'mfa-phone-requests'
var resultQueueName = 'mfa-phone-results'
// The host moves a message here after maxDequeueCount failed attempts. The host would create it
// on first use; creating it here makes it visible (and alertable) from the start.
var poisonQueueName = '${requestQueueName}-poison'
// Must equal host.json extensions.queues.maxDequeueCount: on that attempt the handler turns a
// transient failure into a final result instead of letting the message go to the poison queue.
var maxDequeueCount = 5
var deploymentContainerName = 'app-package-${token}'
// The handler's per-user leases (one blob per user it changes, empty, named by object id): one
// user's changes run on one instance at a time across the Function App (README, "What holds
// across instances"). The handler would create it; creating it here makes it visible.
var leaseContainerName = 'mfa-phone-locks'

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  storageQueueDataMessageProcessor: '8a0f0c08-91a1-4084-bc3d-661d67233fed'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${token}'
  location: location
  tags: tags
}

// ---- Storage ------------------------------------------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // Each skip is explained in DEPLOY.md, "checkov findings"; check-infra.sh fails on a skip
  // that DEPLOY.md does not mention.
  // checkov:skip=CKV_AZURE_35: Flex Consumption without VNet integration reaches AzureWebJobsStorage and the package container over the public endpoint; access is Entra-only (no shared keys).
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35; the private-endpoint variant needs VNet integration (DEPLOY.md).
  // checkov:skip=CKV_AZURE_206: LRS by default for host state, the package and short-lived queue messages; storageSku selects ZRS/GRS/GZRS.
  // checkov:skip=CKV_AZURE_43: the name is 'st' + uniqueString(), lower-case alphanumerics of 15 characters; checkov cannot evaluate the expression.
  name: 'st${token}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: storageSku
  }
  properties: {
    accessTier: 'Hot'
    // Identity only: the host, the deployment and the handler's queue bindings all use the
    // managed identity, so no key or SAS is ever needed.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    isLocalUserEnabled: false
    isSftpEnabled: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Flex Consumption without a virtual network reaches the account over its public endpoint
    // (authenticated with Entra ID); see DEPLOY.md, "checkov findings".
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobs 'blobServices' = {
    name: 'default'
    properties: {
      deleteRetentionPolicy: {
        enabled: true
        days: 7
      }
      containerDeleteRetentionPolicy: {
        enabled: true
        days: 7
      }
    }

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }

    resource leaseContainer 'containers' = {
      name: leaseContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }

  resource queues 'queueServices' = {
    name: 'default'

    resource requests 'queues' = {
      name: requestQueueName
    }

    resource results 'queues' = {
      name: resultQueueName
    }

    resource poison 'queues' = {
      name: poisonQueueName
    }
  }
}

// ---- Monitoring ---------------------------------------------------------------------------

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${token}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    // Telemetry only with an Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING below); the
    // instrumentation key in the connection string alone cannot ingest.
    DisableLocalAuth: true
  }
}

// Who may read the queue service's access logs is a separate question from who may use the
// queues; these logs go to the workspace above.
resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'queue-logs'
  scope: storage::queues
  properties: {
    workspaceId: logs.id
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

// The blob service holds the host's keys (azure-webjobs-secrets), its leases, the deployment
// package and the per-user leases: who read or changed them is worth keeping too.
resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'blob-logs'
  scope: storage::blobs
  properties: {
    workspaceId: logs.id
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

// ---- Function App -------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy is the zoneRedundant parameter, off by default: not every Flex region has zones, and it wants ZRS storage too (DEPLOY.md).
  name: 'plan-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
    zoneRedundant: zoneRedundant
  }
}

var baseAppSettings = {
  // Identity-based AzureWebJobsStorage: the host (leases, keys, queue trigger and output)
  // uses the user-assigned identity against these endpoints.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  // The host writes its diagnostic events ("the worker could not start", AZFD00xx) to Table
  // storage; with an identity-based connection it finds the table service here only.
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  // No FUNCTIONS_WORKER_RUNTIME: on Flex Consumption the runtime comes from
  // functionAppConfig.runtime and the setting is rejected.

  // The handler's settings (src/config.rs).
  AZURE_CLIENT_ID: identity.properties.clientId // picks the user-assigned identity
  MFA_CREDENTIAL: 'managedIdentity' // fail clearly at start-up if the platform gave no identity
  GRAPH_ENDPOINT: graphEndpoint
  MFA_QUEUE_MAX_DEQUEUE_COUNT: string(maxDequeueCount)
  MFA_OWNER_SEARCH: enableOwnerSearch ? 'true' : 'false'
  MFA_OWNER_SEARCH_BUDGET_SECONDS: string(ownerSearchBudgetSeconds)
  MFA_MAX_CONCURRENT_USERS: string(maxConcurrentUsers)
  RUST_LOG: rustLog

  // Who may call and whose MFA may be changed (DEPLOY.md, "Who may call"). Booleans are written
  // as 'true'/'false' explicitly: ARM's string() turns a bool into 'True'/'False'.
  MFA_REQUIRE_AUTHENTICATED_CALLER: enableEntraAuthentication ? 'true' : 'false'
  MFA_REQUIRE_APP_ROLE: requireAppRoles ? 'true' : 'false'
  // Only identities of this tenant count as callers.
  MFA_TENANT_ID: tenant().tenantId
  // A queue message is carried out only for a sender whose CallerToken (an access token for the
  // API, apiClientId) checks out: send rights on the queue alone are not enough.
  MFA_QUEUE_REQUIRE_CALLER: 'true'
  MFA_API_CLIENT_ID: apiClientId
  // The handler requires both, as the platform does (AND): the principal (object id, a group in
  // the token's groups claim, or an application by its own id) and the client application.
  MFA_ALLOWED_CALLERS: join(concat(allowedPrincipalIds, allowedGroupIds), ',')
  MFA_ALLOWED_CLIENT_APPS: join(allowedClientApplications, ',')
  MFA_PROTECTED_GROUP_IDS: join(protectedGroupIds, ',')
  // Without its grant the policy cannot be read: no check, rather than policyUnknown every time.
  MFA_METHOD_POLICY_CHECK: enableMethodPolicy ? 'true' : 'false'
  // Without the protected-accounts grants the handler cannot tell privileged targets; switching
  // the feature off is switching the role check off (protected groups still need GroupMember).
  MFA_ALLOW_PRIVILEGED_TARGETS: (allowPrivilegedTargets || !enableProtectedAccounts) ? 'true' : 'false'
  MFA_TELEPHONY: telephony
  MFA_LAST_METHOD_REMOVAL: lastMethodRemoval
  // Whoever controls these on the Azure side (Owner, Contributor, Website Contributor, a blob
  // writer, whoever can assign roles; at them, above or below) is protected like an administrator:
  // the app's identity can set anyone's phone, so they are Tier 0 (DEPLOY.md, "Who can do what").
  MFA_AZURE_CONTROL_SCOPES: string(azureControlScopes)
  ARM_ENDPOINT: environment().resourceManager
  // The readiness timer's schedule: the host cannot index the timer function without it, so it
  // is set with readiness off too. The three readiness functions run only with enableReadiness,
  // which also grants the scan's Graph roles and sets MFA_CLEANUP_KEY (readinessAppSettings).
  MFA_READINESS_SCHEDULE: '0 0 5 * * *'
  'AzureWebJobs.MfaReadinessTimer.Disabled': enableReadiness ? 'false' : 'true'
  'AzureWebJobs.MfaReadiness.Disabled': enableReadiness ? 'false' : 'true'
  'AzureWebJobs.MfaReadinessQueue.Disabled': enableReadiness ? 'false' : 'true'
}

// Set only with readiness on: the scan keys cleanup.csv's fingerprints with it, and the handler
// checks a numberFingerprint with it (without it the scan writes no cleanup.csv and the handler
// removes nothing a fingerprint names).
var readinessAppSettings = {
  MFA_CLEANUP_KEY: readinessCleanupKey
}

// The app, the storage account holding its package and host state, and its identity.
var azureControlScopes = [
  resourceId('Microsoft.Web/sites', 'func-${token}')
  storage.id
  identity.id
]

// Set only with notifications on (see appSettings), so NotifyUser is refused clearly when off.
var notificationAppSettings = {
  MFA_NOTIFY_SENDER: notificationSender
  MFA_NOTIFY_ORGANIZATION_NAME: notificationOrganizationName
  MFA_NOTIFY_SERVICE_DESK_NAME: serviceDeskName
  MFA_NOTIFY_SERVICE_DESK_EMAIL: serviceDeskEmail
  MFA_NOTIFY_SERVICE_DESK_PHONE: serviceDeskPhone
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: callers (Logic Apps, automation) reach the HTTP trigger over the internet with an Entra token and a function key; a private endpoint needs VNet integration (DEPLOY.md).
  // checkov:skip=CKV_AZURE_17: client certificates would force mutual TLS on every caller; callers present an Entra token (app/entra-auth.bicep) and a function key (authLevel function).
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero; always-ready instances would cost money around the clock for an occasional admin call.
  // checkov:skip=CKV_AZURE_213: App Service health check does not apply to Flex Consumption; the host itself pings the handler's GET / and restarts it.
  // checkov:skip=CKV_AZURE_78: Flex Consumption has no FTP(S) and refuses siteConfig.ftpsState (Flex deprecations table; ARM error 51021); basic-auth publishing is off below.
  name: 'func-${token}'
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      cors: {
        allowedOrigins: corsAllowedOrigins
        supportCredentials: false
      }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
  }

  resource appSettings 'config' = {
    name: 'appsettings'
    properties: union(baseAppSettings, enableUserNotifications ? notificationAppSettings : {}, enableReadiness ? readinessAppSettings : {}, extraAppSettings)
  }

  // Deployment goes through ARM (azd / az functionapp deployment) with Entra ID; basic-auth
  // publishing credentials are not needed.
  resource ftpCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }

  dependsOn: [
    // The host starts with the identity-based storage settings; make sure it may use them.
    blobOwner
    queueContributor
    tableContributor
    metricsPublisher
    // Entra authentication on but no API app registration named: stop before the app exists.
    entraPrecondition
    // App roles managed but nobody to assign MfaPhone.ReadWrite: stop before callers are locked out.
    apiRolesPrecondition
    // Readiness on but no cleanup key: stop before the scan runs without one.
    readinessPrecondition
  ]
}

// The host's and the handler's logs (FunctionAppLogs) in the workspace as well, through the
// platform rather than the Application Insights connection, so a host that cannot reach
// Application Insights still leaves its start-up errors somewhere to read.
resource functionAppDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'function-app-logs'
  scope: functionApp
  properties: {
    workspaceId: logs.id
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
  }
}

// ---- Entra authentication ------------------------------------------------------------------

module entraPrecondition 'app/entra-precondition.bicep' = if (enableEntraAuthentication) {
  name: 'entra-auth-needs-apiClientId-${token}'
  params: {
    apiClientId: apiClientId
  }
}

// Deployed with the switch off as well, so that turning it off switches the platform's
// authentication off rather than leaving an earlier configuration in force.
module entraAuthentication 'app/entra-auth.bicep' = {
  name: 'entra-auth-${token}'
  params: {
    functionAppName: functionApp.name
    enabled: enableEntraAuthentication
    apiClientId: apiClientId
    openIdIssuer: entraOpenIdIssuer
    allowedClientApplications: allowedClientApplications
    allowedPrincipalIds: allowedPrincipalIds
    allowedGroupIds: allowedGroupIds
  }
  dependsOn: [
    // Both writes restart the site; one after the other avoids a conflicting update.
    functionApp::appSettings
  ]
}

// ---- Readiness ------------------------------------------------------------------------------

module readinessPrecondition 'app/readiness-precondition.bicep' = if (enableReadiness) {
  name: 'readiness-needs-cleanup-key-${token}'
  params: {
    cleanupKey: readinessCleanupKey
  }
}

// ---- Role assignments for the identity ----------------------------------------------------

// Host leases and keys, and reading the deployment package from its container.
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Queue trigger, result output and the host's poison-queue handling (which creates the queue
// if missing, hence Contributor rather than Message Processor + Sender).
resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The host's diagnostic events: it lists, creates and deletes its AzureFunctionsDiagnosticEvents
// tables and writes entities, which needs the data role, not just read.
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry ingestion with Entra auth (App Insights has local auth disabled).
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Who controls the app: the handler reads the role assignments (and the role definitions they
// name) on each of azureControlScopes, and nothing else of ARM. Reader would do, but also shows
// every setting of the resources; this role reads role assignments and definitions only.
resource rbacReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'mfa-phone-handler-rbac-reader')
  properties: {
    roleName: 'MFA phone handler RBAC reader (${resourceGroup().name})'
    description: 'Reads role assignments and role definitions, so the MFA phone handler can protect whoever controls it.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Authorization/roleAssignments/read'
          'Microsoft.Authorization/roleDefinitions/read'
          'Microsoft.Authorization/roleEligibilityScheduleInstances/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource rbacReaderOnApp 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(functionApp.id, identity.id, rbacReader.name)
  scope: functionApp
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacReader.name)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource rbacReaderOnStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, rbacReader.name)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacReader.name)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource rbacReaderOnIdentity 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(identity.id, identity.id, rbacReader.name)
  scope: identity
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacReader.name)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Optional: the deployer may send test requests and read results ------------------------

resource deployerSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantDeployerQueueAccess && !empty(deployerPrincipalId)) {
  name: guid(storage.id, deployerPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerProcessor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantDeployerQueueAccess && !empty(deployerPrincipalId)) {
  name: guid(storage.id, deployerPrincipalId, roles.storageQueueDataMessageProcessor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageProcessor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

// ---- Who may send to the request queue -------------------------------------------------------
//
// A queue message carries no caller identity: whoever can put a message on mfa-phone-requests can
// have any (non-protected) user's phone method changed, and the result names only the declared
// CallerName. Today that is the app's own identity (Queue Data Contributor above), the deployer
// (above, the whole account), and anyone holding a queue data role inherited from the resource
// group, subscription or management group. These senders get the request queue and nothing else.

resource queueSenders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for senderId in queueSenderPrincipalIds: {
  name: guid(storage::queues::requests.id, senderId, roles.storageQueueDataMessageSender)
  scope: storage::queues::requests
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: senderId
    // Managed identities and enterprise apps. A user or group id does not match this type; ARM
    // is expected to refuse it (UnmatchedPrincipalType) rather than grant it.
    principalType: 'ServicePrincipal'
  }
}]

// ---- The API's app roles: who may call ------------------------------------------------------

module apiRolesPrecondition 'app/api-roles-precondition.bicep' = if (enableEntraAuthentication && manageApiRoles) {
  name: 'api-roles-need-writers-${token}'
  params: {
    writerPrincipalIds: apiWriterPrincipalIds
  }
}

module apiRoles 'app/api-roles.bicep' = if (enableEntraAuthentication && manageApiRoles) {
  name: 'api-roles-${token}'
  params: {
    apiClientId: apiClientId
    writerPrincipalIds: apiWriterPrincipalIds
    readerPrincipalIds: apiReaderPrincipalIds
  }
  dependsOn: [
    entraPrecondition
    apiRolesPrecondition
  ]
}

// ---- Microsoft Graph app roles ------------------------------------------------------------

module graphPermissions 'app/graph-permissions.bicep' = if (grantGraphPermissions) {
  name: 'graph-permissions-${token}'
  params: {
    principalId: identity.properties.principalId
    enableOwnerSearch: enableOwnerSearch
    enableUserNotifications: enableUserNotifications
    scopeMailSendInExchange: scopeMailSendInExchange
    readOrganizationName: empty(notificationOrganizationName)
    enableProtectedAccounts: enableProtectedAccounts
    enableMethodPolicy: enableMethodPolicy
    enableReadiness: enableReadiness
  }
}

// ---- Outputs ------------------------------------------------------------------------------

output functionAppName string = functionApp.name
output functionUrl string = 'https://${functionApp.properties.defaultHostName}/api/SetOrRemoveMobilePhoneMfa'
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output storageAccountName string = storage.name
output requestQueueName string = requestQueueName
output resultQueueName string = resultQueueName
output poisonQueueName string = poisonQueueName
output applicationInsightsName string = appInsights.name
output graphPermissionsGranted array = grantGraphPermissions ? graphPermissions!.outputs.grantedRoles : []
output entraAuthenticationEnabled bool = enableEntraAuthentication
output readinessEnabled bool = enableReadiness
// The audience a caller asks a token for (Logic Apps' Audience, az --resource); empty when off.
output apiAudience string = enableEntraAuthentication ? 'api://${apiClientId}' : ''
output entraOpenIdIssuer string = entraAuthentication.outputs.openIdIssuer
