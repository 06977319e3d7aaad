#!/usr/bin/env bash
# check-infra.sh must catch what it exists to catch: each case below copies the tracked tree
# to a scratch directory, breaks one thing there and expects check-infra.sh to fail naming it.
#   1. a template grants UserAuthenticationMethod.ReadWrite.All by name;
#   2. the parameters file carries that permission's app role id (in capitals);
#   3. a template names it in lower case, inside a string after a URL's //;
#   4. the app settings lose MFA_REQUIRE_APP_ROLE;
#   5. the API's service principal no longer requires an app role assignment;
#   6. the app settings lose MFA_TENANT_ID;
#   7. azure.yaml no longer requires an azd version, or 8. requires one before 1.23.4;
#   9. the site sets siteConfig.ftpsState again;
#  10. the app settings lose AzureWebJobsStorage__tableServiceUri, or 11. the identity its table role;
#  12. the Function App's FunctionAppLogs no longer go to the workspace;
#  13. the Logic App example sends NotifyUser true, or 14. lets its HTTP outputs into run history;
#  15. the connector signs in through common;
#  16. DEPLOY.md has a bash or 17. a PowerShell command with a <placeholder> in it (a syntax
#      error when pasted);
#  18. a readiness role (AuditLog.Read.All) is granted whatever the switches, or 19. one
#      (Policy.Read.AuthenticationMethod) is not granted with readiness on;
#  20. readiness on no longer sets MFA_CLEANUP_KEY, or 21. the key gets a default (newGuid(): a
#      new key on every deployment).
# Uses the tools check-infra.sh installed (run it first); each case stops before checkov.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${MFA_TOOLS_DIR:-target/tools}"
case "$tools" in /*) ;; *) tools="$repo/$tools" ;; esac
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# case NAME EXPECTED SCRIPT: SCRIPT breaks the copy (run in it); EXPECTED is a regular
# expression (grep -E) a line of the failure must match.
case_() {
    local name="$1" expected="$2" breaking="$3" copy="$scratch/$1"
    mkdir -p "$copy"
    (cd "$repo" && git ls-files -z | xargs -0 tar --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$copy"
    (cd "$copy" && bash -c "$breaking")
    local output status=0
    output="$(cd "$copy" && MFA_TOOLS_DIR="$tools" bash scripts/check-infra.sh 2>&1)" || status=$?
    if [[ "$status" == 0 ]]; then
        echo "check-infra-selftest: FAIL: $name: check-infra.sh passed" >&2
        return 1
    fi
    if ! grep -qE -- "$expected" <<<"$output"; then
        echo "check-infra-selftest: FAIL: $name: check-infra.sh failed without saying '$expected':" >&2
        echo "$output" | tail -n 20 >&2
        return 1
    fi
    echo "check-infra-selftest: $name: caught"
}

case_ broad-grant-by-name "graph-permissions.bicep:[0-9]+: grants UserAuthenticationMethod.ReadWrite.All" \
    "printf '%s\n' \"var leftover = 'UserAuthenticationMethod.ReadWrite.All'\" >> infra/app/graph-permissions.bicep"
case_ broad-grant-by-id "main.parameters.json:[0-9]+: grants UserAuthenticationMethod.ReadWrite.All" \
    "sed -i 's/\"parameters\": {/\"parameters\": { \"extraRole\": { \"value\": \"50483E42-D915-4231-9639-7FDB7FD190E5\" },/' infra/main.parameters.json"
case_ broad-grant-lower-case-after-a-url "graph-permissions.bicep:[0-9]+: grants UserAuthenticationMethod.ReadWrite.All" \
    "printf '%s\n' \"var leftover = 'https://graph.microsoft.com/userauthenticationmethod.readwrite.all'\" >> infra/app/graph-permissions.bicep"
case_ no-role-check "app setting MFA_REQUIRE_APP_ROLE is missing" \
    "sed -i '/^  MFA_REQUIRE_APP_ROLE:/d' infra/resources.bicep"
case_ assignment-not-required "must keep appRoleAssignmentRequired: true" \
    "sed -i 's/appRoleAssignmentRequired: true/appRoleAssignmentRequired: false/' infra/app/api-roles.bicep"
case_ no-tenant-check "app setting MFA_TENANT_ID is missing" \
    "sed -i '/^  MFA_TENANT_ID:/d' infra/resources.bicep"
case_ no-required-azd "requiredVersions.azd is ''" \
    "sed -i '/^requiredVersions:/,/^  azd:/d' azure.yaml"
case_ old-required-azd "requiredVersions.azd is '>= 1.20.0'" \
    "sed -i 's/\">= 1.23.4\"/\">= 1.20.0\"/' azure.yaml"
case_ ftps-state "resources.bicep:[0-9]+: ftpsState is not allowed" \
    "sed -i \"s/^      minTlsVersion: '1.2'\$/      minTlsVersion: '1.2'\\n      ftpsState: 'Disabled'/\" infra/resources.bicep"
case_ no-table-endpoint "app setting AzureWebJobsStorage__tableServiceUri is missing" \
    "sed -i '/^  AzureWebJobsStorage__tableServiceUri:/d' infra/resources.bicep"
case_ no-table-role "must hold Storage Table Data Contributor" \
    "sed -i '/roleDefinitionId:.*roles.storageTableDataContributor/s/storageTableDataContributor/storageQueueDataContributor/' infra/resources.bicep"
case_ no-function-app-logs "Function App's FunctionAppLogs" \
    "sed -i \"s/category: 'FunctionAppLogs'/category: 'AllMetrics'/\" infra/resources.bicep"
case_ notify-user-true "action Set_phone_method sends NotifyUser true" \
    "sed -i \"s/\\\"NotifyUser\\\": \\\"@parameters('notifyUser')\\\"/\\\"NotifyUser\\\": true/\" examples/logic-app/workflow.json"
case_ http-outputs-in-run-history "action Set_phone_method must keep its outputs out of run history" \
    "python3 -c 'import json; p=\"examples/logic-app/workflow.json\"; w=json.load(open(p)); w[\"definition\"][\"actions\"][\"Set_phone_method\"][\"runtimeConfiguration\"][\"secureData\"][\"properties\"]=[\"inputs\"]; json.dump(w, open(p, \"w\"), indent=2)'"
case_ connector-common-tenant "signs in with tenantId 'common'" \
    "python3 -c 'import json; p=\"connector/apiProperties.json\"; c=json.load(open(p)); c[\"properties\"][\"connectionParameters\"][\"token\"][\"oAuthSettings\"][\"customParameters\"][\"tenantId\"][\"value\"]=\"common\"; json.dump(c, open(p, \"w\"), indent=2)'"
case_ placeholder-in-a-command "DEPLOY.md:[0-9]+:[0-9]+: the bash block does not parse" \
    "printf '%s\\n' '' '\`\`\`bash' 'azd env set MFA_API_CLIENT_ID <client id>' '\`\`\`' >> DEPLOY.md"
case_ placeholder-in-powershell "DEPLOY.md:[0-9]+:[0-9]+: the powershell block has a placeholder" \
    "printf '%s\\n' '' '\`\`\`powershell' 'azd env set MFA_API_CLIENT_ID <client id>' '\`\`\`' >> DEPLOY.md"
case_ readiness-grant-unconditional "grants AuditLog.Read.All unconditionally" \
    "sed -i 's/ = if (grantAuditLogRead) {/ = {/' infra/app/graph-permissions.bicep"
case_ readiness-grant-missing "does not grant Policy.Read.AuthenticationMethod with enableReadiness alone" \
    "sed -i 's/^var grantPolicyRead = enableMethodPolicy || enableReadiness\$/var grantPolicyRead = enableMethodPolicy/' infra/app/graph-permissions.bicep"
case_ readiness-without-key "readinessAppSettings must set MFA_CLEANUP_KEY" \
    "sed -i '/^  MFA_CLEANUP_KEY: readinessCleanupKey\$/d' infra/resources.bicep"
case_ readiness-key-new-every-deployment "readinessCleanupKey must have no default" \
    "sed -i 's/^param readinessCleanupKey string\$/param readinessCleanupKey string = newGuid()/' infra/main.bicep"
echo "check-infra-selftest: every case caught"
