// Deploys workflow.json as a Logic App (Consumption) with a system-assigned managed identity,
// in a resource group of your choice (README.md in this folder has the commands). The identity
// then needs the API's app role MfaPhone.ReadWrite: its object id (output principalId) goes in
// MFA_API_WRITER_PRINCIPAL_IDS, followed by `azd provision` (DEPLOY.md, "Calling from a Logic App").

@description('Region of the Logic App.')
param location string = resourceGroup().location

@description('Name of the Logic App.')
param name string = 'la-mfa-new-hire'

@description('The Function App host name: azd env get-value FUNCTION_APP_NAME, plus .azurewebsites.net.')
param functionAppHost string

@description('The API audience: azd env get-value API_AUDIENCE (api://<MFA_API_CLIENT_ID>).')
param apiAudience string

@description('The function key of SetOrRemoveMobilePhoneMfa.')
@secure()
param functionKey string

@description('Send NotifyUser: true only where the deployment sends mail (MFA_USER_NOTIFICATIONS true).')
param notifyUser bool = false

resource workflow 'Microsoft.Logic/workflows@2019-05-01' = {
  name: name
  location: location
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    state: 'Enabled'
    definition: loadJsonContent('workflow.json').definition
    parameters: {
      functionAppHost: {
        value: functionAppHost
      }
      apiAudience: {
        value: apiAudience
      }
      functionKey: {
        value: functionKey
      }
      notifyUser: {
        value: notifyUser
      }
    }
  }
}

@description('Object id of the Logic App identity: put it in MFA_API_WRITER_PRINCIPAL_IDS.')
output principalId string = workflow.identity.principalId
