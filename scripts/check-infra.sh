#!/usr/bin/env bash
# Static checks of infra/ without Azure or the Bicep CLI (neither is reachable from CI):
#   1. every infra/**/*.bicep parses with the tree-sitter Bicep grammar: no ERROR or MISSING
#      node (printed as file:line:col);
#   2. the names the product depends on agree across files: the queue names with the
#      function.json files, maxDequeueCount with host.json, runtime custom 1.0, no
#      FUNCTIONS_WORKER_RUNTIME setting, the identity-based AzureWebJobsStorage settings and the
#      handler's MFA_* settings (also in local.settings.json.example), the parameters file
#      against main.bicep's params and main.bicep's params against what it passes on, azure.yaml's
#      service and dist, the Graph permissions the handler names against those granted (and
#      listed in DEPLOY.md), the Entra authentication settings and the HTTP trigger's key; the
#      deployment's own rules: azure.yaml requires an azd that passes arrays as arrays, no
#      siteConfig.ftpsState (Flex refuses it), the host's table endpoint and table role, the
#      diagnostic settings, examples that send no NotifyUser true and keep the HTTP action's
#      inputs and outputs out of run history, the connector signing in to one tenant, and every
#      bash, PowerShell and JSON block in DEPLOY.md, connector/ and examples/ (and every
#      examples/**/*.ps1 and *.bicep) parsing, so that what an admin pastes is at least well formed;
#   3. checkov (bicep and arm frameworks) reports no failed check and no parsing error; each
#      suppression (`// checkov:skip=ID: reason` inside a resource) must be explained in
#      DEPLOY.md, so a new finding either gets fixed or gets documented.
#
# Both parsers predate Bicep's `extension` statement (used by the Microsoft Graph extension).
# Each `extension <alias>` line is therefore checked here instead (the alias must be declared in
# infra/bicepconfig.json) and blanked, keeping every other character in place, before the file
# goes to tree-sitter and checkov.
#
# Tools are pinned and installed into a venv under $MFA_TOOLS_DIR (default target/tools).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

tools="${MFA_TOOLS_DIR:-target/tools}"
case "$tools" in /*) ;; *) tools="$repo/$tools" ;; esac
venv="$tools/infra-venv"
requirements=(tree-sitter==0.25.2 tree-sitter-bicep==1.1.0 tree-sitter-bash==0.25.1
              tree-sitter-powershell==0.26.4 checkov==3.3.30)

log() { printf 'check-infra: %s\n' "$*" >&2; }

if [[ ! -x "$venv/bin/python" ]]; then
    log "creating $venv"
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" - "${requirements[@]}" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for requirement in sys.argv[1:]:
    name, wanted = requirement.split("==")
    try:
        if version(name) != wanted:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
    log "installing ${requirements[*]}"
    "$venv/bin/pip" install --disable-pip-version-check -q "${requirements[@]}"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/check-infra.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# 1 + 2: parse, check extensions, cross-check names; writes the blanked copy to $work/infra.
"$venv/bin/python" - "$work/infra" <<'PY'
import glob
import json
import os
import re
import shutil
import sys

import tree_sitter_bicep
import yaml
from tree_sitter import Language, Parser

copy_root = sys.argv[1]
problems = []


def problem(text):
    problems.append(text)
    print(f"check-infra: {text}", file=sys.stderr)


def bicep_code(line):
    """A Bicep line without its // comment (a // inside a '...' string, as in https://, stays)."""
    quoted = False
    index = 0
    while index < len(line):
        if line[index] == "\\" and quoted:
            index += 2
            continue
        if line[index] == "'":
            quoted = not quoted
        elif line.startswith("//", index) and not quoted:
            return line[:index]
        index += 1
    return line


config = json.load(open("infra/bicepconfig.json"))
aliases = set(config.get("extensions", {}))
extension_line = re.compile(rb"^(\s*)extension\s+([A-Za-z_][A-Za-z0-9_]*)\s*(//.*)?$")

parser = Parser(Language(tree_sitter_bicep.language()))
trees = {}
files = sorted(glob.glob("infra/**/*.bicep", recursive=True))
if not files:
    problem("no .bicep files under infra/")
for path in files:
    source = open(path, "rb").read()
    lines = source.split(b"\n")
    for number, line in enumerate(lines):
        if not re.match(rb"^\s*extension\b", line):
            continue
        match = extension_line.match(line)
        if not match:
            problem(f"{path}:{number + 1}:1: unsupported extension statement: {line.decode()!r}")
            continue
        alias = match.group(2).decode()
        if alias not in aliases:
            problem(f"{path}:{number + 1}:1: extension '{alias}' is not declared in infra/bicepconfig.json")
        lines[number] = b" " * len(line)
    blanked = b"\n".join(lines)
    tree = parser.parse(blanked)
    trees[path] = (tree, blanked)
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            row, column = node.start_point
            what = f"missing {node.type}" if node.is_missing else "syntax error"
            snippet = blanked[node.start_byte:node.end_byte][:60].decode(errors="replace")
            problem(f"{path}:{row + 1}:{column + 1}: {what} near {snippet!r}")
        stack.extend(node.children)
    target = os.path.join(copy_root, os.path.relpath(path, "infra"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    open(target, "wb").write(blanked)
for path in glob.glob("infra/**/*.json", recursive=True):
    target = os.path.join(copy_root, os.path.relpath(path, "infra"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(path, target)
print(f"check-infra: parsed {len(files)} Bicep files: "
      f"{'no syntax errors' if not problems else f'{len(problems)} problem(s)'}", file=sys.stderr)


def text(node, source):
    return source[node.start_byte:node.end_byte].decode()


def declarations(path, kind):
    """name -> value node for `var`/`param` declarations at the top level."""
    tree, source = trees[path]
    found = {}
    for node in tree.root_node.named_children:
        if node.type != kind:
            continue
        named = node.named_children
        name = text(named[0], source)
        found[name] = named[-1] if len(named) > 1 else None
    return found


def literal(path, node):
    """The value of a string or number literal node, else None."""
    if node is None:
        return None
    _, source = trees[path]
    if node.type == "number":
        return int(text(node, source))
    if node.type == "string" and all(c.type == "string_content" for c in node.named_children):
        return "".join(text(c, source) for c in node.named_children)
    return None


def object_keys(path, node):
    _, source = trees[path]
    keys = set()
    for child in node.named_children:
        if child.type == "object_property":
            key = child.named_children[0]
            keys.add(text(key, source).strip("'"))
    return keys


resources = "infra/resources.bicep"
main = "infra/main.bicep"
if resources in trees and main in trees:
    variables = declarations(resources, "variable_declaration")
    host = json.load(open("host.json"))
    queue_function = json.load(open("SetOrRemoveMobilePhoneMfaQueue/function.json"))
    bindings = {b["direction"]: b for b in queue_function["bindings"]}
    expectations = [
        ("requestQueueName", bindings["in"]["queueName"], "SetOrRemoveMobilePhoneMfaQueue/function.json trigger queueName"),
        ("resultQueueName", bindings["out"]["queueName"], "SetOrRemoveMobilePhoneMfaQueue/function.json output queueName"),
        ("maxDequeueCount", host["extensions"]["queues"]["maxDequeueCount"], "host.json extensions.queues.maxDequeueCount"),
    ]
    for name, expected, where in expectations:
        actual = literal(resources, variables.get(name))
        if actual != expected:
            problem(f"{resources}: var {name} is {actual!r}, but {where} is {expected!r}")
    for binding in queue_function["bindings"]:
        if binding.get("connection") != "AzureWebJobsStorage":
            problem("the queue bindings must use the AzureWebJobsStorage connection the infra configures")
    settings = variables.get("baseAppSettings")
    keys = object_keys(resources, settings) if settings is not None else set()
    required = {
        "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId",
        "AzureWebJobsStorage__blobServiceUri", "AzureWebJobsStorage__queueServiceUri",
        "APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "AZURE_CLIENT_ID", "MFA_QUEUE_MAX_DEQUEUE_COUNT", "MFA_OWNER_SEARCH", "GRAPH_ENDPOINT",
        # Who may call and whose MFA may be changed (DEPLOY.md, "Who may call").
        "MFA_REQUIRE_AUTHENTICATED_CALLER", "MFA_ALLOWED_CALLERS", "MFA_ALLOWED_CLIENT_APPS",
        "MFA_PROTECTED_GROUP_IDS",
        "MFA_ALLOW_PRIVILEGED_TARGETS", "MFA_TELEPHONY", "MFA_LAST_METHOD_REMOVAL",
        "MFA_METHOD_POLICY_CHECK", "MFA_REQUIRE_APP_ROLE", "MFA_TENANT_ID",
        # Whoever controls the app on the Azure side is protected (DEPLOY.md, "Who can do what").
        "MFA_AZURE_CONTROL_SCOPES", "ARM_ENDPOINT",
        # The readiness timer cannot be indexed without its schedule.
        "MFA_READINESS_SCHEDULE",
        # The host's diagnostic events go to Table storage (AZFD0003 and the other start-up events).
        "AzureWebJobsStorage__tableServiceUri",
    }
    for key in sorted(required - keys):
        problem(f"{resources}: app setting {key} is missing from baseAppSettings")
    if "FUNCTIONS_WORKER_RUNTIME" in keys:
        problem(f"{resources}: FUNCTIONS_WORKER_RUNTIME must not be set on Flex Consumption")
    # A setting the deployment gives the handler should be one a local run can set too.
    local_values = set(json.load(open("local.settings.json.example")).get("Values", {}))
    for key in sorted(k for k in keys if k.startswith("MFA_") and k not in local_values):
        problem(f"local.settings.json.example: app setting {key} (set by {resources}) is missing")
    _, source = trees[resources]
    body = source.decode()
    if not re.search(r"runtime:\s*\{\s*name:\s*'custom'\s+version:\s*'1\.0'\s*\}", body):
        problem(f"{resources}: functionAppConfig.runtime must be {{name: 'custom', version: '1.0'}}")
    if "allowSharedKeyAccess: false" not in body:
        problem(f"{resources}: the storage account must keep allowSharedKeyAccess: false")
    # The identity needs the table data role for the host's diagnostic events.
    role_blocks = re.findall(r"resource \w+ 'Microsoft\.Authorization/roleAssignments@[^']+' = (?:\[for [^\]]*?)?\{(.*?)\n\}", body, re.S)
    if not re.search(r"storageTableDataContributor:\s*'0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'", body) or not any(
        re.search(r"roleDefinitionId:[^\n]*\broles\.storageTableDataContributor\b", block)
        and "principalId: identity.properties.principalId" in block
        for block in role_blocks
    ):
        problem(f"{resources}: the managed identity must hold Storage Table Data Contributor "
                "(0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3) on the account: the host writes its diagnostic events to tables")
    # Diagnostic settings: the Function App's FunctionAppLogs and the blob service's access logs.
    diagnostic_blocks = re.findall(r"resource \w+ 'Microsoft\.Insights/diagnosticSettings@[^']+' = \{(.*?)\n\}", body, re.S)
    for scope, category, what in [
        ("functionApp", "FunctionAppLogs", "the Function App's FunctionAppLogs"),
        ("storage::blobs", "StorageWrite", "the blob service's access logs"),
        ("storage::queues", "StorageWrite", "the queue service's access logs"),
    ]:
        if not any(re.search(rf"^\s*scope:\s*{re.escape(scope)}\s*$", block, re.M) and f"category: '{category}'" in block
                   for block in diagnostic_blocks):
            problem(f"{resources}: a diagnostic setting must send {what} to the workspace (scope {scope}, category {category})")
    # Flex Consumption refuses siteConfig.ftpsState (the Flex deprecations table; ARM error 51021).
    for path in files:
        for number, line in enumerate(open(path).read().split("\n"), start=1):
            if re.search(r"\bftpsState\b", bicep_code(line)):
                problem(f"{path}:{number}: ftpsState is not allowed on Flex Consumption (learn.microsoft.com/azure/"
                        "azure-functions/functions-app-settings#flex-consumption-plan-deprecations); newer stamps refuse it")

    # Every Graph permission the handler names for its calls (GraphOperation::permission, in
    # whichever file of src/ implements it) must be one the infra can grant (a .Read.X is
    # covered by a granted .ReadWrite.X).
    permission_name = re.compile(r"\b([A-Z][A-Za-z]+(?:-[A-Z][A-Za-z]+)?\.(?:Read|ReadWrite|ReadBasic|Send)(?:\.[A-Z][A-Za-z]+)?)\b")
    graph_module = "infra/app/graph-permissions.bicep"
    granted = set()
    if graph_module in trees:
        graph_tree, graph_source = trees[graph_module]
        granted = set(re.findall(r"appRole\.value == '([A-Za-z.-]+)'", graph_source.decode()))
        # The roles the module reports (output grantedRoles, GRAPH_PERMISSIONS_GRANTED) are the
        # string literals of its variables; they must be the roles it assigns.
        listed = set()
        for node in graph_tree.root_node.named_children:
            if node.type != "variable_declaration":
                continue
            stack = [node]
            while stack:
                current = stack.pop()
                value = literal(graph_module, current) if current.type == "string" else None
                if isinstance(value, str) and permission_name.fullmatch(value):
                    listed.add(value)
                stack.extend(current.named_children)
        for name in sorted(granted - listed):
            problem(f"{graph_module}: {name} is assigned but missing from the roles it reports")
        for name in sorted(listed - granted):
            problem(f"{graph_module}: {name} is reported as granted but never assigned")
        deploy_text = open("DEPLOY.md").read()
        for name in sorted(granted):
            if f"`{name}`" not in deploy_text:
                problem(f"DEPLOY.md does not mention the Graph permission `{name}` that {graph_module} grants")
    # Readiness (DEPLOY.md, "Readiness scans in the Function App"): the scan's three roles are
    # granted with enableReadiness, and with every switch off none of them is (least privilege:
    # a role granted unconditionally would hold with readiness off). Each assignment's `if (...)`
    # is evaluated, through the module's bool vars, for both cases.
    if graph_module in trees:
        graph_text = trees[graph_module][1].decode()
        bool_params = set(re.findall(r"^param (\w+) bool\b", graph_text, re.M))
        bool_vars = dict(re.findall(r"^var (\w+) = ([A-Za-z_!&|() ]+?)\s*$", graph_text, re.M))

        def truth(expression, switches, depth=0):
            """The value of a condition of bool params and vars, or None if it is not one."""
            tokens = re.findall(r"\w+|&&|\|\||!|\(|\)|\S", expression)
            python = []
            for token in tokens:
                if token == "&&":
                    python.append("and")
                elif token == "||":
                    python.append("or")
                elif token == "!":
                    python.append("not")
                elif token in "()":
                    python.append(token)
                elif token in bool_params:
                    python.append(str(switches.get(token, False)))
                elif token in bool_vars and depth < 8:
                    value = truth(bool_vars[token], switches, depth + 1)
                    if value is None:
                        return None
                    python.append(str(value))
                else:
                    return None
            try:
                return bool(eval(" ".join(python), {"__builtins__": {}}, {}))
            except SyntaxError:
                return None

        assignments = re.findall(
            r"^resource \w+ 'Microsoft\.Graph/appRoleAssignedTo@[^']+' = (?:if \((.*?)\) )?\{(.*?)\n\}",
            graph_text, re.S | re.M)
        conditions = {}
        for condition, assignment in assignments:
            role = re.search(r"appRole\.value == '([A-Za-z.-]+)'", assignment)
            if role:
                conditions[role.group(1)] = condition.strip() or "true"
        if "enableReadiness" not in bool_params:
            problem(f"{graph_module}: param enableReadiness bool is missing (the readiness scan's roles hang on it)")
        for role in ("AuditLog.Read.All", "Policy.Read.AuthenticationMethod", "GroupMember.Read.All"):
            condition = conditions.get(role)
            if condition is None:
                problem(f"{graph_module}: no assignment of {role}, which the readiness scan needs")
                continue
            readiness_alone = truth(condition, {"enableReadiness": True}) if condition != "true" else True
            all_off = truth(condition, {}) if condition != "true" else True
            if readiness_alone is None or all_off is None:
                problem(f"{graph_module}: the condition of {role} ({condition!r}) is not one of bool switches "
                        "check-infra.sh can evaluate")
            elif all_off:
                problem(f"{graph_module}: grants {role} unconditionally: with readiness and every other switch off "
                        "it must not be granted (least privilege)")
            elif not readiness_alone:
                problem(f"{graph_module}: does not grant {role} with enableReadiness alone: the readiness scan "
                        "needs it")
        module_call = re.search(r"module graphPermissions 'app/graph-permissions\.bicep' = .*?\n\}", body, re.S)
        if module_call is None or not re.search(r"^\s+enableReadiness: enableReadiness\s*$", module_call.group(0), re.M):
            problem(f"{resources}: the graphPermissions module must be passed enableReadiness: enableReadiness")
    # With readiness on the functions run and MFA_CLEANUP_KEY is set from a @secure() parameter;
    # with it off the functions stay off. The key must be generated once and kept (azd's
    # `generate` metadata on a main.bicep parameter without a default), never newGuid().
    for name in ("MfaReadinessTimer", "MfaReadiness", "MfaReadinessQueue"):
        setting = re.search(rf"^\s+'AzureWebJobs\.{name}\.Disabled':\s*(.+?)\s*$", body, re.M)
        if setting is None or setting.group(1) != "enableReadiness ? 'false' : 'true'":
            problem(f"{resources}: 'AzureWebJobs.{name}.Disabled' must be enableReadiness ? 'false' : 'true'")
    if not re.search(r"@secure\(\)\s*(?:@\w+\([^\n]*\)\s*)*param readinessCleanupKey string\b", body):
        problem(f"{resources}: param readinessCleanupKey must be @secure()")
    readiness_settings = re.search(r"^var readinessAppSettings = \{(.*?)\n\}", body, re.S | re.M)
    if readiness_settings is None or not re.search(r"^\s+MFA_CLEANUP_KEY:\s*readinessCleanupKey\s*$",
                                                   readiness_settings.group(1), re.M):
        problem(f"{resources}: readinessAppSettings must set MFA_CLEANUP_KEY: readinessCleanupKey")
    if not re.search(r"properties: union\([^\n]*\benableReadiness \? readinessAppSettings : \{\}", body):
        problem(f"{resources}: the app settings must include readinessAppSettings (MFA_CLEANUP_KEY) when enableReadiness is on")
    main_body = trees[main][1].decode()
    main_lines = main_body.split("\n")
    key_line = next((index for index, line in enumerate(main_lines)
                     if re.match(r"param readinessCleanupKey string\b", line)), None)
    if key_line is None:
        problem(f"{main}: param readinessCleanupKey is missing")
    else:
        # Its decorators: the lines above it up to a blank or comment line.
        first = key_line
        while first > 0 and main_lines[first - 1].strip() and not main_lines[first - 1].lstrip().startswith("//"):
            first -= 1
        decorators = "\n".join(main_lines[first:key_line])
        rest = main_lines[key_line][len("param readinessCleanupKey string"):]
        if not re.search(r"^@secure\(\)", decorators, re.M):
            problem(f"{main}: param readinessCleanupKey must be @secure()")
        if not re.search(r"type: 'generate'", decorators):
            problem(f"{main}: param readinessCleanupKey must carry azd's metadata type: 'generate' (generated once, kept in the azd environment)")
        if "=" in rest:
            problem(f"{main}: param readinessCleanupKey must have no default: with one azd neither generates nor keeps it "
                    "(and newGuid() would make a new key on every deployment, breaking every cleanup.csv)")
    if re.search(r"param readinessCleanupKey string\s*=\s*newGuid", body):
        problem(f"{resources}: readinessCleanupKey must not default to newGuid() (a new key every deployment)")
    key_value = json.load(open("infra/main.parameters.json"))["parameters"].get("readinessCleanupKey", {}).get("value")
    if key_value != "${MFA_CLEANUP_KEY}":
        problem("infra/main.parameters.json: readinessCleanupKey must be \"${MFA_CLEANUP_KEY}\" with no default, so that "
                "azd uses the environment's MFA_CLEANUP_KEY when set and its generated, kept key otherwise")
    # Least privilege: the phone-only permission does the job. UserAuthenticationMethod.ReadWrite.All
    # reaches every method (a Temporary Access Pass for anyone), so no template may grant it,
    # whatever form the grant takes.
    # Every file under infra/ (templates, parameters, ARM JSON) and azure.yaml; the name outside
    # a Bicep comment, the app role's id anywhere.
    scanned = [path for path in glob.glob("infra/**/*", recursive=True) if os.path.isfile(path)]
    for path in sorted(scanned + ["azure.yaml"]):
        try:
            lines = open(path, encoding="utf-8").read().split("\n")
        except UnicodeDecodeError:
            problem(f"{path}: not UTF-8 text, so it cannot be checked for a broad Graph grant")
            continue
        for number, line in enumerate(lines, start=1):
            code = (bicep_code(line) if path.endswith(".bicep") else line).lower()
            if "userauthenticationmethod.readwrite.all" in code or "50483e42-d915-4231-9639-7fdb7fd190e5" in line.lower():
                problem(f"{path}:{number}: grants UserAuthenticationMethod.ReadWrite.All, which can create a "
                        "Temporary Access Pass for any user: grant UserAuthMethod-Phone.ReadWrite.All and "
                        "UserAuthenticationMethod.Read.All instead")
    # Closed by default: the API's service principal requires an app role assignment.
    roles_text = open("infra/app/api-roles.bicep").read() if os.path.isfile("infra/app/api-roles.bicep") else ""
    if not re.search(r"^\s*appRoleAssignmentRequired:\s*true\s*$", roles_text, re.M):
        problem("infra/app/api-roles.bicep: the API's service principal must keep appRoleAssignmentRequired: true "
                "(without it every principal of the tenant can get a token for the API)")
    implementations = []
    for path in sorted(glob.glob("src/**/*.rs", recursive=True)):
        code = open(path).read()
        if "impl GraphOperation" not in code:
            continue
        function = re.search(r"pub fn permission\(self\)[^{]*\{(.*?)\n    \}", code, re.S)
        if function is not None:
            implementations.append((path, function.group(1)))
    if not implementations:
        problem("src/: GraphOperation::permission not found (update check-infra.sh)")
    for path, body in implementations:
        # "X (or Y)" names Y as an alternative to X, not as a further need.
        body = re.sub(r"\(or [^)]*\)", "", body)
        for needed in sorted(set(permission_name.findall(body))):
            if needed not in granted and needed.replace(".Read.", ".ReadWrite.") not in granted:
                problem(f"{path}: the handler needs Graph permission {needed}, which {graph_module} never grants")

    # Entra authentication: on, it must refuse callers without a token (401, not a redirect),
    # keep no tokens, leave only the OpenAPI document open, and stop the deployment when no API
    # app registration is named; the function key stays required behind it.
    auth_module = "infra/app/entra-auth.bicep"
    precondition_module = "infra/app/entra-precondition.bicep"
    if auth_module in trees and precondition_module in trees:
        auth_text = trees[auth_module][1].decode()
        for pattern, what in [
            (r"requireAuthentication:\s*true", "requireAuthentication: true"),
            (r"unauthenticatedClientAction:\s*'Return401'", "unauthenticatedClientAction: 'Return401'"),
            (r"tokenStore:\s*\{\s*enabled:\s*false\s*\}", "login.tokenStore.enabled: false"),
            (r"param excludedPaths array = \['/api/openapi\.json'\]", "excludedPaths ['/api/openapi.json'] and nothing else"),
            (r"name:\s*'authsettingsV2'", "the authsettingsV2 resource"),
        ]:
            if not re.search(pattern, auth_text):
                problem(f"{auth_module}: expected {what}")
        precondition_text = trees[precondition_module][1].decode()
        if not re.search(r"@minLength\(36\)\s*@maxLength\(36\)\s*param apiClientId string\s", precondition_text):
            problem(f"{precondition_module}: apiClientId must keep @minLength(36) @maxLength(36)")
        resources_text = trees[resources][1].decode()
        site = re.search(r"resource functionApp 'Microsoft\.Web/sites@[^']+' = \{(.*?)\n\}", resources_text, re.S)
        if site is None or not re.search(r"dependsOn:\s*\[[^\]]*\bentraPrecondition\b", site.group(1)):
            problem(f"{resources}: the Function App must depend on entraPrecondition (no app without its API registration)")
    else:
        problem(f"{auth_module} and {precondition_module} are both expected")
    http_function = json.load(open("SetOrRemoveMobilePhoneMfa/function.json"))
    triggers = [b for b in http_function["bindings"] if b.get("type") == "httpTrigger"]
    if not triggers or any(b.get("authLevel") != "function" for b in triggers):
        problem("SetOrRemoveMobilePhoneMfa/function.json: the HTTP trigger must keep authLevel function (the key is the second check behind Entra authentication)")
    # The one anonymous trigger serves the API definition, read-only, on a path Entra
    # authentication lets through; any other anonymous trigger would bypass the function key.
    auth_text = trees[auth_module][1].decode() if auth_module in trees else ""
    excluded = re.search(r"param excludedPaths array = \[([^\]]*)\]", auth_text)
    excluded_paths = set(re.findall(r"'([^']+)'", excluded.group(1))) if excluded else set()
    for folder in sorted(os.listdir(".")):
        path = os.path.join(folder, "function.json")
        if not os.path.isfile(path):
            continue
        for binding in json.load(open(path))["bindings"]:
            if binding.get("type") != "httpTrigger" or binding.get("authLevel") != "anonymous":
                continue
            route = "/api/" + binding.get("route", folder)
            if binding.get("methods") != ["get"]:
                problem(f"{path}: an anonymous HTTP trigger must allow GET only, not {binding.get('methods')}")
            if folder != "OpenApi":
                problem(f"{path}: only OpenApi may have an anonymous HTTP trigger (the others need the function key)")
            elif route not in excluded_paths:
                problem(f"{path}: {route} is anonymous but not in {auth_module}'s excludedPaths {sorted(excluded_paths)}: Entra authentication would answer 401")

    main_params = set(declarations(main, "parameter_declaration"))
    parameters = json.load(open("infra/main.parameters.json"))["parameters"]
    for name in sorted(set(parameters) - main_params):
        problem(f"infra/main.parameters.json sets '{name}', which infra/main.bicep does not declare")
    for name in sorted(main_params - set(parameters) - {"resourceGroupName"}):
        problem(f"infra/main.bicep declares '{name}', which infra/main.parameters.json does not set (azd could not set it)")
    # A parameter main.bicep declares but does not hand to resources.bicep would be ignored
    # without a word; a name it hands on must be one resources.bicep declares.
    main_text = trees[main][1].decode()
    module_block = re.search(r"module app 'resources\.bicep' = \{.*?\n  params: \{(.*?)\n  \}", main_text, re.S)
    if module_block is None:
        problem(f"{main}: module app 'resources.bicep' with a params block not found (update check-infra.sh)")
    else:
        passed = dict(re.findall(r"^\s+(\w+):\s*(\w+)\s*$", module_block.group(1), re.M))
        resource_params = set(declarations(resources, "parameter_declaration"))
        for name in sorted(main_params - set(passed.values()) - {"environmentName", "resourceGroupName"}):
            problem(f"{main}: parameter '{name}' is never passed to resources.bicep")
        for name in sorted(set(passed) - resource_params):
            problem(f"{main}: passes '{name}', which {resources} does not declare")

    azure = yaml.safe_load(open("azure.yaml"))
    service = azure.get("services", {}).get("api", {})
    service_name = literal(resources, declarations(resources, "parameter_declaration").get("serviceName"))
    if service_name not in azure.get("services", {}):
        problem(f"azure.yaml has no service '{service_name}' (resources.bicep tags the app with it)")
    if service.get("host") != "function" or service.get("dist") != "dist/mfa-phone-handler.zip":
        problem("azure.yaml: service api must be host function with dist dist/mfa-phone-handler.zip (scripts/package.sh's output)")
    # azd before 1.23.4 hands the MFA_* array settings to Bicep as text (Azure/azure-dev#6694).
    required_azd = str((azure.get("requiredVersions") or {}).get("azd") or "")
    minimum = re.fullmatch(r"\s*>=\s*(\d+)\.(\d+)\.(\d+)\s*", required_azd)
    if minimum is None or tuple(int(part) for part in minimum.groups()) < (1, 23, 4):
        problem(f"azure.yaml: requiredVersions.azd is {required_azd!r}; it must be '>= 1.23.4' or later "
                "(older azd passes array parameters to Bicep as text, Azure/azure-dev#6694)")
else:
    problem("infra/main.bicep and infra/resources.bicep are both expected")


def walk_actions(actions, found):
    """Every action of a workflow definition, nested ones (If, Scope, Foreach) included."""
    for name, action in (actions or {}).items():
        found.append((name, action))
        walk_actions(action.get("actions"), found)
        walk_actions((action.get("else") or {}).get("actions"), found)
        for case in (action.get("cases") or {}).values():
            walk_actions(case.get("actions"), found)
        walk_actions((action.get("default") or {}).get("actions"), found)
    return found


# The examples: an HTTP action that sends NotifyUser true is refused (400) on a deployment without
# MFA_NOTIFY_SENDER; its result names the user and the number, so run history must not keep it.
for path in sorted(glob.glob("examples/**/*.json", recursive=True)):
    definition = json.load(open(path)).get("definition")
    if not isinstance(definition, dict):
        continue
    for name, action in walk_actions(definition.get("actions"), []):
        if action.get("type") != "Http":
            continue
        body = (action.get("inputs") or {}).get("body")
        if isinstance(body, dict):
            for key, value in body.items():
                if key.lower() == "notifyuser" and str(value).lower() == "true":
                    problem(f"{path}: action {name} sends NotifyUser true, which a deployment without "
                            "MFA_NOTIFY_SENDER refuses with 400: make it a parameter that defaults to false")
        secured = set((((action.get("runtimeConfiguration") or {}).get("secureData") or {}).get("properties")) or [])
        for part in ("inputs", "outputs"):
            if part not in secured:
                problem(f"{path}: action {name} must keep its {part} out of run history "
                        f"(runtimeConfiguration.secureData.properties with {part!r})")

# The connector signs users in to one tenant: a single-tenant sign-in app cannot use common or
# organizations (AADSTS50194).
connector_properties = json.load(open("connector/apiProperties.json"))["properties"]
for name, parameter in connector_properties.get("connectionParameters", {}).items():
    tenant = ((parameter.get("oAuthSettings") or {}).get("customParameters") or {}).get("tenantId", {}).get("value")
    if tenant is not None and tenant.strip().lower() in ("common", "organizations", "consumers"):
        problem(f"connector/apiProperties.json: {name} signs in with tenantId {tenant!r}; a single-tenant "
                "app registration needs the tenant's id (AADSTS50194 otherwise)")

# What an admin pastes must at least parse: every bash/sh, PowerShell and JSON block in the
# deployment docs, every example script and Bicep file. A <placeholder> inside a command is a
# syntax error in bash (and refused by PowerShell, looked for separately), so this also keeps
# placeholders out of the commands.
import tree_sitter_bash
import tree_sitter_powershell

shell_parsers = {
    "bash": Parser(Language(tree_sitter_bash.language())),
    "powershell": Parser(Language(tree_sitter_powershell.language())),
}
shell_parsers["sh"] = shell_parsers["bash"]


def syntax_errors(parser_for, source):
    tree = parser_for.parse(source.encode())
    stack, found = [tree.root_node], []
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            found.append(node)
        stack.extend(node.children)
    return sorted(found, key=lambda node: node.start_point)


docs = ["DEPLOY.md", "connector/README.md"] + sorted(glob.glob("examples/**/*.md", recursive=True))
for path in docs:
    text = open(path).read()
    for block in re.finditer(r"^```(bash|sh|powershell|json)[ \t]*\n(.*?)^```", text, re.S | re.M):
        language, code = block.group(1), block.group(2)
        first_line = text[:block.start()].count("\n") + 2
        if language == "json":
            try:
                json.loads(code)
            except ValueError as error:
                problem(f"{path}:{first_line + error.lineno - 1}: the JSON block does not parse: {error.msg}")
            continue
        for node in syntax_errors(shell_parsers[language], code)[:1]:
            row, column = node.start_point
            snippet = code.encode()[node.start_byte:node.end_byte][:50].decode(errors="replace")
            problem(f"{path}:{first_line + row}:{column + 1}: the {language} block does not parse near {snippet!r}")
        if language == "powershell":
            # The grammar reads `<name>` without complaint; PowerShell itself refuses `<`.
            for row, line in enumerate(code.split("\n")):
                placeholder = re.search(r"<[A-Za-z][^<>]*>", line.split(" #")[0])
                if placeholder:
                    problem(f"{path}:{first_line + row}:{placeholder.start() + 1}: the powershell block has "
                            f"a placeholder {placeholder.group(0)!r} in a command: use a variable")
for path in sorted(glob.glob("examples/**/*.ps1", recursive=True)):
    for node in syntax_errors(shell_parsers["powershell"], open(path).read())[:1]:
        row, column = node.start_point
        problem(f"{path}:{row + 1}:{column + 1}: PowerShell syntax error")
for path in sorted(glob.glob("examples/**/*.bicep", recursive=True)):
    for node in syntax_errors(parser, open(path).read())[:1]:
        row, column = node.start_point
        problem(f"{path}:{row + 1}:{column + 1}: Bicep syntax error")

if problems:
    sys.exit(f"check-infra: FAIL: {len(problems)} problem(s)")
print("check-infra: cross-file consistency: ok", file=sys.stderr)
PY

# 3: checkov on the blanked copy.
log "running checkov $("$venv/bin/checkov" --version) (bicep, arm)"
(cd "$work/infra" && "$venv/bin/checkov" -d . --framework bicep arm --skip-download \
    --soft-fail -o json >"$work/checkov.json" 2>"$work/checkov.err") || {
    cat "$work/checkov.err" >&2
    log "FAIL: checkov did not run"
    exit 1
}
"$venv/bin/python" - "$work/checkov.json" <<'PY'
import glob
import json
import re
import sys

raw = open(sys.argv[1]).read().strip()
reports = json.loads(raw) if raw else []
if isinstance(reports, dict):
    reports = [reports]
deploy = open("DEPLOY.md").read()
explained = set(re.findall(r"CKV2?_[A-Z]+_\d+", deploy))
failed, skipped, parse_errors, passed = [], [], 0, 0
for report in reports:
    summary = report.get("summary", {})
    passed += summary.get("passed", 0)
    parse_errors += summary.get("parsing_errors", 0)
    results = report.get("results", {})
    for check in results.get("failed_checks", []):
        failed.append(check)
    for check in results.get("skipped_checks", []):
        skipped.append(check)

status = 0
for check in failed:
    print(f"check-infra: FAILED {check['check_id']} {check['check_name']} "
          f"({check['resource']}, infra{check['file_path']}:{check['file_line_range'][0]})",
          file=sys.stderr)
    status = 1
if parse_errors:
    print(f"check-infra: FAIL: checkov could not parse {parse_errors} file(s)", file=sys.stderr)
    status = 1
inline = set()
for path in glob.glob("infra/**/*.bicep", recursive=True):
    inline |= set(re.findall(r"checkov:skip=(CKV2?_[A-Z]+_\d+)", open(path).read()))
for check_id in sorted(inline - explained):
    print(f"check-infra: FAIL: {check_id} is suppressed in infra/ but not explained in DEPLOY.md",
          file=sys.stderr)
    status = 1
for check in skipped:
    print(f"check-infra: suppressed {check['check_id']} on {check['resource']}", file=sys.stderr)
print(f"check-infra: checkov: {passed} passed, {len(failed)} failed, {len(skipped)} suppressed, "
      f"{parse_errors} parsing errors", file=sys.stderr)
sys.exit(status)
PY
log "infra checks passed"
