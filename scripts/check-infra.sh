#!/usr/bin/env bash
# Static checks of infra/ without Azure or the Bicep CLI (neither is reachable from CI):
#   1. every infra/**/*.bicep parses with the tree-sitter Bicep grammar: no ERROR or MISSING
#      node (printed as file:line:col);
#   2. the names the product depends on agree across files: the queue names with the
#      function.json files, maxDequeueCount with host.json, runtime custom 1.0, no
#      FUNCTIONS_WORKER_RUNTIME setting, the identity-based AzureWebJobsStorage settings, the
#      parameters file against main.bicep's params, azure.yaml's service and dist;
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
requirements=(tree-sitter==0.25.2 tree-sitter-bicep==1.1.0 checkov==3.3.30)

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
    }
    for key in sorted(required - keys):
        problem(f"{resources}: app setting {key} is missing from baseAppSettings")
    if "FUNCTIONS_WORKER_RUNTIME" in keys:
        problem(f"{resources}: FUNCTIONS_WORKER_RUNTIME must not be set on Flex Consumption")
    _, source = trees[resources]
    body = source.decode()
    if not re.search(r"runtime:\s*\{\s*name:\s*'custom'\s+version:\s*'1\.0'\s*\}", body):
        problem(f"{resources}: functionAppConfig.runtime must be {{name: 'custom', version: '1.0'}}")
    if "allowSharedKeyAccess: false" not in body:
        problem(f"{resources}: the storage account must keep allowSharedKeyAccess: false")

    # Every Graph permission the handler names for its calls (GraphOperation::permission) must
    # be one the infra can grant (a .Read.All is covered by the granted .ReadWrite.All).
    graph_module = "infra/app/graph-permissions.bicep"
    granted = set()
    if graph_module in trees:
        _, graph_source = trees[graph_module]
        granted = set(re.findall(r"appRole\.value == '([A-Za-z.]+)'", graph_source.decode()))
    handler = open("src/graph/mod.rs").read()
    function = re.search(r"pub fn permission\(self\)[^{]*\{(.*?)\n    \}", handler, re.S)
    if function is None:
        problem("src/graph/mod.rs: GraphOperation::permission not found (update check-infra.sh)")
    else:
        for needed in sorted(set(re.findall(r"\b([A-Z][A-Za-z]+\.(?:Read|ReadWrite)\.All)\b", function.group(1)))):
            if needed not in granted and needed.replace(".Read.", ".ReadWrite.") not in granted:
                problem(f"the handler needs Graph permission {needed}, which {graph_module} never grants")

    main_params = set(declarations(main, "parameter_declaration"))
    parameters = json.load(open("infra/main.parameters.json"))["parameters"]
    for name in sorted(set(parameters) - main_params):
        problem(f"infra/main.parameters.json sets '{name}', which infra/main.bicep does not declare")

    azure = yaml.safe_load(open("azure.yaml"))
    service = azure.get("services", {}).get("api", {})
    service_name = literal(resources, declarations(resources, "parameter_declaration").get("serviceName"))
    if service_name not in azure.get("services", {}):
        problem(f"azure.yaml has no service '{service_name}' (resources.bicep tags the app with it)")
    if service.get("host") != "function" or service.get("dist") != "dist/mfa-phone-handler.zip":
        problem("azure.yaml: service api must be host function with dist dist/mfa-phone-handler.zip (scripts/package.sh's output)")
else:
    problem("infra/main.bicep and infra/resources.bicep are both expected")

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
