//! Derives the API's OpenAPI 2.0 definition (Logic Apps' "HTTP + Swagger" action and Power
//! Platform custom connectors accept 2.0 only) from the types that parse the parameters
//! ([`crate::request::PARAMETERS`]) and build the result ([`crate::report::Report`]), so it
//! cannot drift from them. The committed `connector/openapi.json` is this with
//! [`PLACEHOLDER_HOST`]; the app serves it with its own host name. A Power Platform connector
//! gets a variant (`connector/apiDefinition.swagger.json`, [`connector_definition`]): a
//! connection there has one kind of authentication, so it signs in with Entra and sends the
//! function key through a policy.

mod schema;

use serde_json::{Map, Value, json};

use crate::report::Report;
use crate::request::{PARAMETERS, ParameterKind};

/// The host name in the committed definition; the served one carries the app's.
pub const PLACEHOLDER_HOST: &str = "your-function-app.azurewebsites.net";

/// Every HTTP status the HTTP trigger answers with, and what it means.
pub const STATUSES: [(u16, &str); 10] = [
    (
        200,
        "The request was carried out (or, with dryRun or show, looked at); see action and warnings.",
    ),
    (
        400,
        "A parameter is missing or malformed; error.field names it.",
    ),
    (
        401,
        "The request carried no Microsoft Entra principal, and this deployment requires one. A 401 from the platform itself (no token, no function key) has no result body.",
    ),
    (
        403,
        "The caller is not allowed, or the user is a protected account. A 403 from the platform itself (App Service authentication refusing the caller) has no result body.",
    ),
    (404, "No such user."),
    (
        409,
        "Graph's rules or the tenant's state refuse the change; error.code says which.",
    ),
    (413, "The request is larger than the handler accepts."),
    (
        500,
        "The handler failed unexpectedly; the request may be sent again.",
    ),
    (
        502,
        "Graph refused the Function App's identity, or answered something unusable.",
    ),
    (
        503,
        "Graph, the identity or the protection check was unavailable; try again after Retry-After.",
    ),
];

/// Builds the definition for an app whose host name is `host`.
pub fn definition(host: &str) -> Value {
    let mut definitions = Map::new();
    definitions.insert("Result".to_owned(), schema::of::<Report>());
    definitions.insert("Parameters".to_owned(), parameters_schema());
    let mut responses = Map::new();
    for (status, description) in STATUSES {
        let mut response = json!({
            "description": description,
            "schema": {"$ref": "#/definitions/Result"},
        });
        if status == 503 {
            response["headers"] = json!({"Retry-After": {
                "type": "integer",
                "description": "Seconds to wait before sending the request again."
            }});
        }
        responses.insert(status.to_string(), response);
    }
    json!({
        "swagger": "2.0",
        "info": {
            "title": "Phone MFA",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Sets, updates, removes or shows a Microsoft Entra user's phone MFA method through Microsoft Graph, with the Function App's managed identity, and reports the user's whole MFA picture.",
        },
        "host": host,
        "basePath": "/api",
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": {
            "/SetOrRemoveMobilePhoneMfa": {
                "post": {
                    "operationId": "SetOrRemovePhoneMethod",
                    "summary": "Set, update, remove or show a user's phone method",
                    "description": "Brings the user's phone MFA method of the given type to the requested state, or only shows the user's methods, and answers with one result: what was done, the method after it, the user's whole MFA picture and the warnings.",
                    "x-ms-visibility": "important",
                    "parameters": [{
                        "name": "body",
                        "in": "body",
                        "required": true,
                        "description": "The runbook's parameters.",
                        "x-ms-summary": "Parameters",
                        "schema": {"$ref": "#/definitions/Parameters"},
                    }],
                    "responses": responses,
                    "security": [{"api_key": [], "oauth2_auth": []}],
                }
            }
        },
        "definitions": definitions,
        "securityDefinitions": {
            "api_key": {
                "type": "apiKey",
                "in": "header",
                "name": "x-functions-key",
                "description": "The function key.",
            },
            "oauth2_auth": {
                "type": "oauth2",
                "flow": "accessCode",
                "authorizationUrl": "https://login.microsoftonline.com/common/oauth2/authorize",
                "tokenUrl": "https://login.microsoftonline.com/common/oauth2/token",
                "scopes": {},
                "description": "A Microsoft Entra token for the app's audience (App Service authentication).",
            },
        },
        "x-ms-connector-metadata": [
            {"propertyName": "Website", "propertyValue": "https://github.com/realmjoin/realmjoin-runbooks"},
            {"propertyName": "Categories", "propertyValue": "IT Operations;Security"},
        ],
    })
}

/// Builds the parameters object from the parser's own table.
fn parameters_schema() -> Value {
    let mut properties = Map::new();
    for parameter in PARAMETERS {
        let mut property = match parameter.kind {
            ParameterKind::Text => json!({"type": "string"}),
            ParameterKind::Boolean => json!({"type": "boolean"}),
            ParameterKind::OneOf(words) => json!({"type": "string", "enum": words}),
        };
        property["x-ms-summary"] = json!(parameter.summary);
        property["description"] = json!(parameter.description);
        if let Some(default) = parameter.default {
            property["default"] = match parameter.kind {
                ParameterKind::Boolean => json!(default == "true"),
                _ => json!(default),
            };
        }
        if parameter.advanced {
            property["x-ms-visibility"] = json!("advanced");
        }
        properties.insert(parameter.name.to_owned(), property);
    }
    json!({
        "type": "object",
        "description": "The runbook's parameters; names match without case.",
        "required": ["UserId"],
        "properties": properties,
    })
}

/// Builds the definition for a Power Platform custom connector. A connection has one kind of
/// authentication, so the connector's only security definition is Microsoft Entra (OAuth);
/// the function key is a connection parameter that a `setheader` policy sends as
/// `x-functions-key` (`connector/apiProperties.json`).
pub(crate) fn connector_definition() -> Value {
    let mut definition = definition(PLACEHOLDER_HOST);
    if let Some(schemes) = definition["securityDefinitions"].as_object_mut() {
        schemes.remove("api_key");
    }
    if let Some(paths) = definition["paths"].as_object_mut() {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in operation.values_mut() {
                operation["security"] = json!([{"oauth2_auth": []}]);
            }
        }
    }
    definition
}

/// Writes the definition as `connector/openapi.json` holds it: pretty JSON and a final newline.
pub fn committed_text() -> String {
    text(&definition(PLACEHOLDER_HOST))
}

/// Writes the connector's definition as `connector/apiDefinition.swagger.json` holds it.
pub fn connector_text() -> String {
    text(&connector_definition())
}

fn text(definition: &Value) -> String {
    let mut text = serde_json::to_string_pretty(definition).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ErrorCode;

    /// Every error code's HTTP status is one the definition documents: the codes are read from
    /// the derived schema, so a new code cannot be missed.
    #[test]
    fn every_error_codes_status_is_documented() {
        let codes = schema::of::<ErrorCode>();
        let names = codes["enum"].as_array().cloned().unwrap_or_default();
        assert!(names.len() > 15, "the error codes' enum: {codes}");
        for name in names {
            let code: ErrorCode = serde_json::from_value(name.clone()).expect("an error code");
            assert!(
                STATUSES
                    .iter()
                    .any(|(status, _)| *status == code.http_status()),
                "{name} answers {}, which the definition does not document",
                code.http_status()
            );
        }
    }

    #[test]
    fn descriptions_read_as_plain_text() {
        fn check(value: &Value, at: &str) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(text)) = map.get("description") {
                        assert!(!text.contains("[`"), "{at}: a rustdoc link in {text:?}");
                        let single = text.replace("\n\n", "");
                        assert!(
                            !single.contains('\n'),
                            "{at}: a hard line break in {text:?}"
                        );
                    }
                    for (name, value) in map {
                        check(value, &format!("{at}/{name}"));
                    }
                }
                Value::Array(items) => items.iter().for_each(|item| check(item, at)),
                _ => {}
            }
        }
        check(&definition(PLACEHOLDER_HOST), "");
    }

    #[test]
    fn the_connector_signs_in_with_entra_only() {
        let connector = connector_definition();
        let schemes = connector["securityDefinitions"]
            .as_object()
            .expect("schemes");
        assert_eq!(schemes.keys().collect::<Vec<_>>(), ["oauth2_auth"]);
        let served = definition(PLACEHOLDER_HOST);
        assert!(served["securityDefinitions"]["api_key"].is_object());
        // Everything else is the same document.
        fn without_security(mut document: Value) -> Value {
            if let Some(document) = document.as_object_mut() {
                document.remove("securityDefinitions");
            }
            let operation = &mut document["paths"]["/SetOrRemoveMobilePhoneMfa"]["post"];
            if let Some(operation) = operation.as_object_mut() {
                operation.remove("security");
            }
            document
        }
        assert_eq!(without_security(connector), without_security(served));
    }

    #[test]
    fn the_required_parameters_are_known_parameters() {
        let parameters = parameters_schema();
        for name in parameters["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            assert!(parameters["properties"].get(name).is_some(), "{name}");
        }
    }
}
