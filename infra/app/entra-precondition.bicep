// Stops the deployment, before the Function App exists, when Entra authentication is on but no
// API app registration was named. resources.bicep deploys this module only with
// enableEntraAuthentication and makes the Function App wait for it, so the app is never created
// (or left) reachable with a function key alone because apiClientId was forgotten.
//
// ARM checks @minLength when this nested deployment is validated and names the parameter in its
// error ("The provided value for the template parameter 'apiClientId' is not valid. Length of the
// value should be greater than or equal to '36'"); the deployment's name
// (entra-auth-needs-apiClientId-...) says the rest. Bicep's fail() or an `assert` would say it more
// directly, but the first is not used here because no Bicep CLI was available to confirm which
// release compiles it, and the second is still an experimental feature. DEPLOY.md, "Who may call",
// documents the precondition.

@description('The API app registration\'s application (client) id, a GUID. Required when enableEntraAuthentication is true: set MFA_API_CLIENT_ID (azd) or apiClientId, or turn Entra authentication off with MFA_ENTRA_AUTHENTICATION=false.')
@minLength(36)
@maxLength(36)
param apiClientId string

output apiClientId string = apiClientId
