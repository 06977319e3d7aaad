// Stops the deployment, before the Function App's settings change, when the template is to
// manage the API's app roles (manageApiRoles) but nobody is to be assigned MfaPhone.ReadWrite.
// Turning "assignment required" on with no assignment would lock every caller out (Entra
// issues them no token), and the handler's role check (MFA_REQUIRE_APP_ROLE) would refuse the
// tokens they still hold. resources.bicep deploys this module only with Entra authentication
// and manageApiRoles, and makes the Function App wait for it.
//
// As in ./entra-precondition.bicep, ARM checks @minLength when it validates this nested
// deployment and names the parameter in its error ("... template parameter
// 'writerPrincipalIds' is not valid. Length of the value should be greater than or equal to
// '1'"); the deployment's name (api-roles-need-writers-...) says the rest. DEPLOY.md, "Upgrading
// to app roles", says what to do.

@description('Object ids assigned MfaPhone.ReadWrite: at least one (MFA_API_WRITER_PRINCIPAL_IDS), e.g. the Logic App\'s managed identity or the service desk\'s group; or assign the roles by hand and set MFA_MANAGE_API_ROLES=false.')
@minLength(1)
param writerPrincipalIds array

output writers int = length(writerPrincipalIds)
