<#
.SYNOPSIS
    Set, update or remove a user's mobile phone MFA method through mfa-phone-handler.

.DESCRIPTION
    An Azure Automation runbook with the parameters of the RealmJoin runbook
    "Set Or Remove Mobile Phone MFA" (UserId, phoneNumber, Remove, CallerName), which hands the
    work to the deployed mfa-phone-handler API instead of calling Microsoft Graph itself. The
    Automation account needs no Graph permissions: it needs the API's app role
    MfaPhone.ReadWrite (its managed identity's object id in MFA_API_WRITER_PRINCIPAL_IDS) and
    three Automation variables:

        MfaFunctionUrl   https://<app>.azurewebsites.net/api/SetOrRemoveMobilePhoneMfa (FUNCTION_URL)
        MfaApiAudience   api://<MFA_API_CLIENT_ID> (API_AUDIENCE)
        MfaFunctionKey   the function key of SetOrRemoveMobilePhoneMfa (an encrypted variable)

    The token comes from the Automation account's system-assigned managed identity, for the
    API's audience. The result is printed as the API words it; phone numbers in it are masked.
    A refusal or failure ends the runbook with an error (so RealmJoin and the job show it
    failed), after printing why.

    README.md in this folder says how to set it up.

.PARAMETER UserId
    Object id (or user principal name) of the target user.

.PARAMETER phoneNumber
    Mobile phone number in international format, e.g. +491701234567. Also needed to remove:
    the API removes the number only when it is the one registered. May be left out only for a
    removal with RemoveRegisteredNumber.

.PARAMETER Remove
    $false (default) sets or updates the mobile phone method; $true removes it.

.PARAMETER RemoveRegisteredNumber
    With Remove $true and no phoneNumber: remove whatever number the mobile phone method holds,
    as the RealmJoin runbook did (the API's removeRegisteredNumber). The number removed is
    printed masked (removedNumber). Without it a removal needs the registered number.

.PARAMETER CallerName
    Who asked for the change; recorded with the authenticated caller. RealmJoin fills it in.

.PARAMETER NotifyUser
    E-mail the user about the change. Only where the deployment sends mail
    (MFA_USER_NOTIFICATIONS true); elsewhere the API refuses it with 400.
#>
param(
    [Parameter(Mandatory = $true)]
    [string] $UserId,

    [string] $phoneNumber = '',

    [bool] $Remove = $false,

    [bool] $RemoveRegisteredNumber = $false,

    [Parameter(Mandatory = $true)]
    [string] $CallerName,

    [bool] $NotifyUser = $false
)

$ErrorActionPreference = 'Stop'

# phoneNumber is required but for a removal of whatever is registered; the API would refuse
# either mistake too, but only after the token and the call.
if ($RemoveRegisteredNumber -and -not $Remove) {
    throw 'RemoveRegisteredNumber applies to a removal: set Remove to $true as well.'
}
if ($RemoveRegisteredNumber -and $phoneNumber) {
    throw 'Give phoneNumber (remove that number) or RemoveRegisteredNumber (remove whatever number is registered), not both.'
}
if (-not $RemoveRegisteredNumber -and -not $phoneNumber) {
    throw 'phoneNumber is required (for a removal too: the registered number), unless Remove and RemoveRegisteredNumber are both $true.'
}

$functionUrl = Get-AutomationVariable -Name 'MfaFunctionUrl'
$audience = Get-AutomationVariable -Name 'MfaApiAudience'
$functionKey = Get-AutomationVariable -Name 'MfaFunctionKey'

# A token for the API from the Automation account's system-assigned identity. In an Azure
# sandbox the identity endpoint is in IDENTITY_ENDPOINT/IDENTITY_HEADER; on a Hybrid Runbook
# Worker (no such endpoint) Az.Accounts asks the machine's identity instead.
function Get-ApiToken([string] $Resource) {
    if ($env:IDENTITY_ENDPOINT -and $env:IDENTITY_HEADER) {
        $uri = '{0}?resource={1}' -f $env:IDENTITY_ENDPOINT, [uri]::EscapeDataString($Resource)
        $answer = Invoke-RestMethod -Method Get -Uri $uri -Headers @{ 'X-IDENTITY-HEADER' = $env:IDENTITY_HEADER; 'Metadata' = 'True' }
        return $answer.access_token
    }
    Connect-AzAccount -Identity | Out-Null
    $token = (Get-AzAccessToken -ResourceUrl $Resource).Token
    if ($token -is [securestring]) {
        $token = [System.Net.NetworkCredential]::new('', $token).Password
    }
    return $token
}

$token = Get-ApiToken -Resource $audience

$body = @{
    UserId     = $UserId
    Remove     = $Remove
    CallerName = $CallerName
}
if ($RemoveRegisteredNumber) {
    $body.removeRegisteredNumber = $true
}
else {
    $body.phoneNumber = $phoneNumber
}
# The job's id as requestId: the result echoes it, and a job sent again is answered once.
if ($PSPrivateMetadata.JobId) {
    $body.requestId = "$($PSPrivateMetadata.JobId)"
}
if ($NotifyUser) {
    $body.NotifyUser = $true
}

$headers = @{
    Authorization     = "Bearer $token"
    'x-functions-key' = $functionKey
}

# The API answers every request with its result, also a refusal (4xx) or a failure (5xx).
# Windows PowerShell 5.1 throws on those; the body is read from the exception then.
try {
    $response = Invoke-WebRequest -UseBasicParsing -Method Post -Uri $functionUrl -Headers $headers `
        -ContentType 'application/json; charset=utf-8' -Body ([System.Text.Encoding]::UTF8.GetBytes(($body | ConvertTo-Json)))
    $status = [int] $response.StatusCode
    $text = $response.Content
}
catch {
    $answer = $_.Exception.Response
    if ($null -eq $answer) { throw }
    $status = [int] $answer.StatusCode
    $text = $_.ErrorDetails.Message
    if (-not $text -and $answer -is [System.Net.HttpWebResponse]) {
        $text = [System.IO.StreamReader]::new($answer.GetResponseStream()).ReadToEnd()
    }
}

$result = $null
try { $result = $text | ConvertFrom-Json } catch { }
if ($null -eq $result -or $null -eq $result.status) {
    # 401/403 from the platform come without the API's result.
    throw "mfa-phone-handler answered $status without a result. 401: no valid token for $audience or no function key; 403: the Automation account's identity is not allowed (app role MfaPhone.ReadWrite, allow-lists)."
}

Write-Output "Status: $($result.status), action: $($result.action) (HTTP $status)"
if ($result.user) {
    Write-Output "User: $($result.user.userPrincipalName) ($($result.user.id))"
}
foreach ($line in $result.log) {
    Write-Output $line
}
foreach ($warning in $result.warnings) {
    Write-Warning "$($warning.code): $($warning.message)"
}
if ($result.removedNumber) {
    Write-Output "Removed number: $($result.removedNumber)"
}
if ($result.conflictOwner) {
    Write-Output "The number is held by: $($result.conflictOwner.userPrincipalName) ($($result.conflictOwner.phoneType))"
}
if ($result.status -ne 'succeeded') {
    throw "$($result.error.code): $($result.error.message)"
}
