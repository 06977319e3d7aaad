// Stops the deployment, before the Function App exists, when readiness scans are on but no
// cleanup key was given (deployed with resources.bicep on its own and readinessCleanupKey left
// out). resources.bicep deploys this module only with enableReadiness and makes the Function App
// wait for it, so the scan never runs keyless where a key was meant to be. With azd the key is
// always there: azd generates it once per environment (main.bicep's readinessCleanupKey).
//
// ARM checks @minLength when this nested deployment is validated and names the parameter in its
// error ("The provided value for the template parameter 'cleanupKey' is not valid. Length of the
// value should be greater than or equal to '16'"), without showing the value: the parameter is
// @secure(). 16 characters is the least the handler takes for MFA_CLEANUP_KEY.

@secure()
@description('MFA_CLEANUP_KEY, at least 16 characters. Required when enableReadiness is true: with azd it is generated (main.bicep); deploying resources.bicep on its own, pass readinessCleanupKey, the same value every time.')
@minLength(16)
param cleanupKey string
