//! The API definition cannot drift: it is what the code generates, it is served with the app's
//! host, every result the tests see validates against it (helpers), every status it documents
//! is produced, and the example flow reads only fields it defines.

use std::collections::BTreeSet;

use mfa_phone_handler::openapi::{self, STATUSES};
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::tenant::directory::GLOBAL_ADMINISTRATOR;
use mfa_phone_handler::simulator::{
    FaultRule,
    host::{FunctionsHost, HostOptions},
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, http_envelope, http_envelope_as, result_schema_errors};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_committed_definitions_are_what_the_code_generates() {
    for (file, generated, command) in [
        (
            "connector/openapi.json",
            openapi::committed_text(),
            "openapi",
        ),
        (
            "connector/apiDefinition.swagger.json",
            openapi::connector_text(),
            "openapi --connector",
        ),
    ] {
        let committed = std::fs::read_to_string(root().join(file)).expect("committed");
        assert!(
            committed == generated,
            "{file} is stale: run `cargo run -- {command} > {file}` and commit it"
        );
    }
}

#[tokio::test]
async fn the_app_serves_the_definition_with_its_host_without_a_key() {
    let app = TestApp::spawn().await;
    let mut envelope = http_envelope(None);
    envelope["Data"]["req"]["Url"] =
        json!("https://contoso-mfa.azurewebsites.net/api/openapi.json");
    envelope["Data"]["req"]["Method"] = json!("GET");

    let (status, answer) = app.post("OpenApi", &envelope.to_string()).await;

    assert_eq!(status, 200);
    let res = &answer["Outputs"]["res"];
    assert_eq!(res["statusCode"], 200);
    let served: Value = serde_json::from_str(res["body"].as_str().expect("a body")).expect("JSON");
    let mut expected = openapi::definition(openapi::PLACEHOLDER_HOST);
    expected["host"] = json!("contoso-mfa.azurewebsites.net");
    assert_eq!(served, expected);

    // The definition is also fetched through the miniature host, as a designer fetches it.
    let host = FunctionsHost::start(&app.handler, HostOptions::default())
        .await
        .expect("the host starts");
    let fetched: Value = app
        .client
        .get(format!("{}/api/openapi.json", host.url()))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(fetched["swagger"], "2.0");
    assert_eq!(fetched["host"], host.url().trim_start_matches("http://"));
    assert_eq!(fetched["schemes"], json!(["http"]), "as it was fetched");
}

#[tokio::test]
async fn every_documented_status_is_produced() {
    let app = TestApp::builder()
        .envs(&[
            ("MFA_REQUIRE_AUTHENTICATED_CALLER", "true"),
            ("MFA_TEST_PANIC_CALLER", "boom"),
        ])
        .prepare(|sim| {
            sim.tenant(|tenant| {
                tenant.add_user(
                    SimUser::member("ga@contoso.com", "GA")
                        .with_id("31313131-aaaa-4aaa-8aaa-aaaaaaaaaaaa"),
                );
                tenant
                    .directory
                    .assign("31313131-aaaa-4aaa-8aaa-aaaaaaaaaaaa", GLOBAL_ADMINISTRATOR);
            })
        })
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");
    let claims = [
        ("oid", "41414141-aaaa-4aaa-8aaa-aaaaaaaaaaaa"),
        ("idtyp", "app"),
        ("roles", "MfaPhone.ReadWrite"),
    ];
    let call = |body: Value| {
        let app = &app;
        async move {
            app.call_envelope(http_envelope_as(&body, &claims))
                .await
                .status
        }
    };
    let mut seen = BTreeSet::new();
    seen.insert(call(json!({"UserId": user, "phoneNumber": "+49 1701234567"})).await);
    seen.insert(call(json!({"UserId": user})).await);
    seen.insert(
        app.call(json!({"UserId": user, "phoneNumber": "+49 1701234567"}))
            .await
            .status,
    );
    seen.insert(call(json!({"UserId": "ga@contoso.com", "phoneNumber": "+49 1701234567"})).await);
    seen.insert(
        call(json!({"UserId": "nobody@contoso.com", "phoneNumber": "+49 1701234567"})).await,
    );
    seen.insert(
        call(json!({"UserId": user, "phoneNumber": "+49 1709999999", "Remove": true})).await,
    );
    let large = json!({"UserId": user, "pad": "x".repeat(300 * 1024)});
    seen.insert(
        app.call_envelope(http_envelope_as(&large, &claims))
            .await
            .status,
    );
    seen.insert(
        call(json!({"UserId": user, "phoneNumber": "+49 1701234567", "CallerName": "boom"})).await,
    );
    app.sim.inject(FaultRule::respond(
        Some("PATCH"),
        "/phoneMethods/",
        1,
        403,
        "accessDenied",
    ));
    seen.insert(call(json!({"UserId": user, "phoneNumber": "+49 1705555555"})).await);
    app.sim.inject(FaultRule::respond(
        Some("GET"),
        "/authentication/methods",
        100,
        503,
        "serviceNotAvailable",
    ));
    seen.insert(call(json!({"UserId": user, "phoneNumber": "+49 1705555555"})).await);

    let documented: BTreeSet<u16> = STATUSES.iter().map(|(status, _)| *status).collect();
    assert_eq!(seen, documented);
}

/// Lists the result fields a workflow expression reads (`body('Set_phone_method')?['a']?['b']`).
fn fields_read(text: &str, action: &str) -> Vec<Vec<String>> {
    let needle = format!("body('{action}')");
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&needle) {
        rest = &rest[start + needle.len()..];
        let mut path = Vec::new();
        while let Some(after) = rest.strip_prefix("?['") {
            let Some(end) = after.find("']") else { break };
            path.push(after[..end].to_owned());
            rest = &after[end + 2..];
        }
        if !path.is_empty() {
            paths.push(path);
        }
    }
    paths
}

#[test]
fn the_example_flow_reads_and_sends_only_what_the_definition_has() {
    let workflow = std::fs::read_to_string(root().join("examples/logic-app/workflow.json"))
        .expect("the example");
    let definition = openapi::definition(openapi::PLACEHOLDER_HOST);
    let result = &definition["definitions"]["Result"];
    let paths = fields_read(&workflow, "Set_phone_method");
    assert!(paths.len() >= 6, "{paths:?}");
    for path in &paths {
        let mut schema = result;
        for field in path {
            schema = &schema["properties"][field];
            assert!(
                schema.is_object(),
                "the example reads {path:?}, which the definition lacks"
            );
        }
    }
    // The filter over the warnings reads each warning's code.
    assert!(workflow.contains("item()?['code']"));
    assert!(result["properties"]["warnings"]["items"]["properties"]["code"].is_object());
    let parsed: Value = serde_json::from_str(&workflow).expect("JSON");
    let body = &parsed["definition"]["actions"]["Set_phone_method"]["inputs"]["body"];
    let parameters = &definition["definitions"]["Parameters"]["properties"];
    for name in body.as_object().expect("a body").keys() {
        assert!(
            parameters.get(name).is_some(),
            "the example sends {name}, which is no parameter"
        );
    }
}

/// Lists the words a schema allows, where it lists them.
fn allowed(schema: &Value) -> Vec<&str> {
    schema["enum"]
        .as_array()
        .map(|words| words.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Collects every `{"equals": ["@body('action')?[...]", "word"]}` condition in a workflow.
fn conditions<'a>(value: &'a Value, found: &mut Vec<(&'a str, &'a str)>) {
    match value {
        Value::Object(map) => {
            if let Some([Value::String(left), Value::String(right)]) = map
                .get("equals")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                && !right.starts_with('@')
            {
                found.push((left, right));
            }
            map.values().for_each(|value| conditions(value, found));
        }
        Value::Array(items) => items.iter().for_each(|value| conditions(value, found)),
        _ => {}
    }
}

#[test]
fn the_example_flow_compares_only_with_words_the_definition_allows() {
    let text = std::fs::read_to_string(root().join("examples/logic-app/workflow.json"))
        .expect("the example");
    let workflow: Value = serde_json::from_str(&text).expect("JSON");
    let definition = openapi::definition(openapi::PLACEHOLDER_HOST);
    let result = &definition["definitions"]["Result"];
    let mut found = Vec::new();
    conditions(&workflow, &mut found);
    assert!(found.len() >= 2, "{found:?}");
    for (left, word) in found {
        let [path] = fields_read(left, "Set_phone_method")
            .try_into()
            .unwrap_or_else(|paths| panic!("{left} reads one field: {paths:?}"));
        let schema = path
            .iter()
            .fold(result, |schema, field| &schema["properties"][field]);
        assert!(
            allowed(schema).contains(&word),
            "the example compares {path:?} with {word:?}, which it never is"
        );
    }
    // The warning codes the example looks for, in the query and in the text of the warnings,
    // must be codes the definition lists.
    let codes = allowed(&result["properties"]["warnings"]["items"]["properties"]["code"]);
    for needle in ["item()?['code'], '", "['warnings']), '"] {
        let (_, after) = text
            .split_once(needle)
            .unwrap_or_else(|| panic!("the example looks for a warning with {needle}"));
        let word = after.split('\'').next().unwrap_or_default();
        assert!(codes.contains(&word), "{word:?} is no warning code");
    }
}

#[tokio::test]
async fn a_result_the_definition_does_not_describe_fails_validation() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let answer = app
        .call(json!({"UserId": user, "phoneNumber": "+49 1701234567", "NotifyUser": false}))
        .await;
    let result = answer.report;
    assert_eq!(result_schema_errors(&result), Vec::<String>::new());
    type Change = (&'static str, fn(&mut Value));
    let changes: [Change; 5] = [
        ("a field the definition lacks", |r| r["extra"] = json!(1)),
        ("a nested field it lacks", |r| {
            r["phoneMethod"]["colour"] = json!("red")
        }),
        ("a status it does not list", |r| {
            r["status"] = json!("maybe")
        }),
        ("a warning code it does not list", |r| {
            r["warnings"] = json!([{"code": "bogus", "message": "m"}]);
        }),
        ("a type it does not say", |r| r["truncated"] = json!("no")),
    ];
    for (what, change) in changes {
        let mut changed = result.clone();
        change(&mut changed);
        assert!(
            !result_schema_errors(&changed).is_empty(),
            "{what} passed validation: {changed}"
        );
    }
}
