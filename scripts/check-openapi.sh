#!/usr/bin/env bash
# CI: the API definition and the connector's variant are valid OpenAPI 2.0
# (openapi-spec-validator, PyPI), the connector's properties agree with its definition, and the
# example workflow is JSON. (That the definition equals what the
# code generates, and that every result validates against it, the integration tests check.)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/tools/openapi-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check openapi-spec-validator==0.9.0
fi
"$venv/bin/python" - <<'PY'
import json
from openapi_spec_validator import OpenAPIV2SpecValidator, validate

def load(path):
    with open(path) as file:
        return json.load(file)

served = load("connector/openapi.json")
connector = load("connector/apiDefinition.swagger.json")
for definition in [served, connector]:
    validate(definition, cls=OpenAPIV2SpecValidator)
operations = [op for path in served["paths"].values() for op in path.values()]
for operation in operations:
    assert operation["operationId"][0].isupper(), "operationId in PascalCase"
    assert not operation["summary"].endswith("."), "a summary ends without punctuation"
    assert operation["description"].endswith("."), "a description ends with a period"
# A Power Platform connection has one kind of authentication: the connector's definition names
# one, and the policy that sends the function key reads a connection parameter that exists.
assert list(connector["securityDefinitions"]) == ["oauth2_auth"], "the connector signs in with Entra only"
properties = load("connector/apiProperties.json")["properties"]
parameters = properties["connectionParameters"]
kinds = [parameter["type"] for parameter in parameters.values()]
assert kinds.count("oauthSetting") == 1, "one OAuth connection parameter"
for policy in properties["policyTemplateInstances"]:
    value = policy["parameters"]["x-ms-apimTemplateParameter.value"]
    if "connectionParameters('" in value:
        name = value.split("connectionParameters('")[1].split("'")[0]
        assert name in parameters, f"the policy {policy['title']} reads {name}, no connection parameter"
headers = [p["parameters"]["x-ms-apimTemplateParameter.name"] for p in properties["policyTemplateInstances"]
           if p["templateId"] == "setheader"]
assert served["securityDefinitions"]["api_key"]["name"] in headers, "the connector sends the function key"
load("examples/logic-app/workflow.json")
print(f"check-openapi: valid OpenAPI 2.0 (served and connector), {len(operations)} operation(s), "
      f"{len(served['paths'])} path(s); connector properties consistent; example is JSON")
PY
