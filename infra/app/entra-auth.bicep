// Microsoft Entra authentication (App Service built-in authentication, "Easy Auth") in front of
// the Function App: every request except the excluded paths needs a bearer token for the API app
// registration, or it gets 401 before it reaches the Functions host. The HTTP trigger keeps
// authLevel function, so a caller needs the token AND a function key.
//
// What the platform checks (learn.microsoft.com/azure/app-service/configure-authentication-provider-aad,
// "Use a built-in authorization policy"):
//   - signature and issuer against openIdIssuer's metadata, and the audience against
//     allowedAudiences (the client id is always an allowed audience as well);
//   - allowedApplications: the token's appid (v1) or azp (v2) claim, the caller's client id;
//   - allowedPrincipals.identities: the token's oid claim, the caller's object id (at most 500
//     characters over the whole list, hence @maxLength(13) on allowedPrincipalIds);
//   - allowedPrincipals.groups: the token's groups claim. The ARM schema has it, the Learn page does
//     not describe it; it is reported to work once the API app registration emits group claims
//     (groupMembershipClaims, Azure/azure-sdk-for-net#38485). Verify it after deployment.
// allowedApplications AND allowedPrincipals must both be satisfied (identities OR groups inside
// allowedPrincipals); an empty list is no restriction. A request failing them gets 403.
// No client secret is needed: this app only validates bearer tokens, it signs nobody in.
//
// On Flex Consumption: the Flex Consumption article of 2025 (azure-docs
// articles/azure-functions/flex-consumption-plan.md, ms.date 05/12/2025) no longer lists
// built-in authentication as unsupported (the early preview one did), and the Functions host
// registers its Easy Auth middleware for any Linux consumption SKU, Flex included
// (azure-functions-host WebScriptHostBuilderExtension.cs, EnvironmentExtensions.IsAnyLinuxConsumption).
// DEPLOY.md asks to confirm after deployment that a request without a token gets 401.

@description('Name of the existing Function App.')
param functionAppName string

@description('Turn built-in authentication on (the configuration below) or off (platform.enabled false, so turning it off later really turns it off).')
param enabled bool

@description('The API app registration\'s application (client) id; ./entra-precondition.bicep has checked it when enabled is true.')
param apiClientId string = ''

@description('OpenID issuer of the tenant; empty: the v1 issuer https://sts.windows.net/<tenant>/ (see the comment at openIdIssuer).')
param openIdIssuer string = ''

@description('Client ids (appid/azp) allowed to call; empty: any client application of the tenant.')
param allowedClientApplications array = []

@description('Object ids (oid) allowed to call; empty together with allowedGroupIds: any principal of the tenant. At most 500 characters in all.')
@maxLength(13)
param allowedPrincipalIds array = []

@description('Group object ids whose members may call (the token\'s groups claim).')
param allowedGroupIds array = []

@description('Paths served without a token.')
param excludedPaths array = ['/api/openapi.json']

// The issuer must match the tokens' iss claim. A token's version is chosen by the resource it is
// for, not by the caller: the API app registration's accessTokenAcceptedVersion
// (api.requestedAccessTokenVersion) null or 1 gives v1 tokens, iss https://sts.windows.net/<tenant>/,
// and only 2 gives v2 tokens, iss https://login.microsoftonline.com/<tenant>/v2.0. Managed
// identities (Logic Apps), client-credential apps and `az account get-access-token --resource`
// all receive what the registration says. A managed identity cannot ask for anything else, and
// DEPLOY.md's setup sets requestedAccessTokenVersion to 1 explicitly, so the default is the v1
// issuer. Set openIdIssuer to the v2 form only together with requestedAccessTokenVersion 2. In a
// national cloud, give the cloud's issuer explicitly.
var issuer = empty(openIdIssuer) ? 'https://sts.windows.net/${tenant().tenantId}/' : openIdIssuer

// v1 tokens carry the resource as requested (api://<clientId>); v2 tokens carry the client id.
var audiences = [
  'api://${apiClientId}'
  apiClientId
]

var principals = union(
  empty(allowedPrincipalIds) ? {} : { identities: allowedPrincipalIds },
  empty(allowedGroupIds) ? {} : { groups: allowedGroupIds }
)
var authorizationPolicy = union(
  empty(allowedClientApplications) ? {} : { allowedApplications: allowedClientApplications },
  empty(principals) ? {} : { allowedPrincipals: principals }
)

var enabledSettings = {
  platform: {
    enabled: true
  }
  globalValidation: {
    requireAuthentication: true
    unauthenticatedClientAction: 'Return401'
    excludedPaths: excludedPaths
  }
  httpSettings: {
    requireHttps: true
  }
  identityProviders: {
    azureActiveDirectory: {
      enabled: true
      registration: {
        clientId: apiClientId
        openIdIssuer: issuer
      }
      validation: {
        allowedAudiences: audiences
        defaultAuthorizationPolicy: authorizationPolicy
      }
    }
  }
  login: {
    // Bearer tokens only: nothing to store, no sessions.
    tokenStore: {
      enabled: false
    }
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName

  // Always deployed: with enabled false it switches a configuration left from an earlier
  // deployment off instead of leaving it in force unnoticed.
  resource authSettings 'config' = {
    // checkov applies its 'web' (and v1 authsettings) checks to any sites/config; see DEPLOY.md.
    // checkov:skip=CKV_AZURE_13: v1 authsettings check (properties.enabled); this is authsettingsV2, whose switch is platform.enabled.
    // checkov:skip=CKV_AZURE_56: platform.enabled is the enabled parameter through a condition checkov cannot evaluate; on by default.
    // checkov:skip=CKV_AZURE_63: HTTP logging is a 'web' config property (httpLoggingEnabled), not one of authsettingsV2.
    // checkov:skip=CKV_AZURE_65: detailed error messages are a 'web' config property, not one of authsettingsV2.
    // checkov:skip=CKV_AZURE_66: failed request tracing is a 'web' config property, not one of authsettingsV2.
    // checkov:skip=CKV_AZURE_80: .NET Framework version is a 'web' config property; a custom handler has no .NET.
    // checkov:skip=CKV_AZURE_88: Azure Files mounts are the 'azurestorageaccounts' config, not authsettingsV2.
    // checkov:skip=CKV_AZURE_222: public network access is a site property (suppressed on the site in resources.bicep with its reason).
    name: 'authsettingsV2'
    properties: enabled ? enabledSettings : { platform: { enabled: false } }
  }
}

output enabled bool = enabled
output openIdIssuer string = enabled ? issuer : ''
