#!/usr/bin/env bash
# CI: the API definition is valid OpenAPI 2.0 (openapi-spec-validator, PyPI), the connector's
# properties are JSON, and the example workflow is JSON. (That the definition equals what the
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

with open("connector/apiDefinition.swagger.json") as file:
    definition = json.load(file)
validate(definition, cls=OpenAPIV2SpecValidator)
operations = [op for path in definition["paths"].values() for op in path.values()]
for operation in operations:
    assert operation["operationId"][0].isupper(), "operationId in PascalCase"
    assert not operation["summary"].endswith("."), "a summary ends without punctuation"
    assert operation["description"].endswith("."), "a description ends with a period"
for path in ["connector/apiProperties.json", "examples/logic-app/workflow.json"]:
    with open(path) as file:
        json.load(file)
print(f"check-openapi: valid OpenAPI 2.0, {len(operations)} operation(s), "
      f"{len(definition['paths'])} path(s); connector and example are JSON")
PY
