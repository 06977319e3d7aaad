//! Tests of parsing the runbook's parameters: every accepted form, and a clear error naming the
//! field for everything else.

use serde_json::json;

use super::*;
use crate::language::Language;

/// The change a parsed request asks for (the tests of changes parse changes).
#[track_caller]
fn change(parsed: &Parsed) -> &Request {
    match &parsed.task {
        Task::Change(request) => request,
        Task::Show(show) => panic!("a show, not a change: {show:?}"),
    }
}

fn parse_value(value: Value) -> Result<Parsed, Box<Rejected>> {
    match parameters_object(&value) {
        Ok(parameters) => parse(&parameters),
        Err(failure) => Err(Box::new(Rejected {
            failure,
            caller_name: None,
            request_id: None,
            warnings: Vec::new(),
        })),
    }
}

#[track_caller]
fn check_rejected(value: Value, code: ErrorCode, field: Option<&str>, contains: &str) {
    let rejected = parse_value(value).expect_err("request was accepted");
    assert_eq!(rejected.failure.code, code);
    assert_eq!(rejected.failure.field, field);
    assert!(
        rejected.failure.message.contains(contains),
        "expected {contains:?} in {:?}",
        rejected.failure.message
    );
}

#[test]
fn names_match_case_insensitively_and_defaults_apply() {
    let parsed = parse_value(json!({
        "userid": "adele@contoso.com",
        "PHONENUMBER": "+49 170 1234567",
        "callername": "helpdesk"
    }))
    .unwrap();
    let request = change(&parsed).clone();
    assert_eq!(
        request.user,
        UserRef::PrincipalName("adele@contoso.com".into())
    );
    assert_eq!(request.phone_type, PhoneType::Mobile);
    assert!(request.operation.is_set(), "{:?}", request.operation);
    assert!(!request.dry_run);
    assert_eq!(request.sms_sign_in, SmsSignIn::Leave);
    assert_eq!(request.caller_name.as_deref(), Some("helpdesk"));
    assert!(parsed.warnings.is_empty());
}

#[test]
fn remove_and_dry_run_accept_booleans_and_strings_in_any_case() {
    for (value, expected) in [
        (json!(true), true),
        (json!("TRUE"), true),
        (json!(" false "), false),
        (json!(false), false),
    ] {
        let parsed = parse_value(json!({
            "UserId": "6e7b768e-07e2-4810-8459-485f84f8f204",
            "phoneNumber": "+491701234567",
            "Remove": value.clone(),
            "dryRun": value,
        }))
        .unwrap();
        assert_eq!(
            matches!(change(&parsed).operation, Operation::Remove(Some(_))),
            expected
        );
        assert_eq!(change(&parsed).dry_run, expected);
    }
}

#[test]
fn wrapped_and_webhook_forms_are_unwrapped() {
    let inner = json!({"UserId": "adele@contoso.com", "phoneNumber": "+491701234567"});
    for body in [
        json!({"parameters": inner.clone()}),
        json!({"Parameters": inner.clone()}),
        json!({"WebhookName": "hook", "RequestBody": inner.to_string(), "RequestHeader": {}}),
        json!({"RequestBody": inner.clone()}),
        json!({"RequestBody": json!({"parameters": inner.clone()}).to_string()}),
    ] {
        let parsed = parse_value(body.clone()).unwrap_or_else(|error| panic!("{body}: {error:?}"));
        assert_eq!(change(&parsed).user.as_str(), "adele@contoso.com");
    }
}

#[test]
fn unknown_parameters_are_warnings() {
    let parsed = parse_value(json!({
        "UserId": "adele@contoso.com",
        "phoneNumber": "+491701234567",
        "EmailFrom": "it@contoso.com",
        "bad\nname": 1
    }))
    .unwrap();
    let messages: Vec<&str> = parsed.warnings.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        messages,
        [
            "ignored unknown parameter 'EmailFrom'",
            "ignored unknown parameter 'bad\\nname'"
        ]
    );
}

#[test]
fn notification_parameters_are_read() {
    let parsed = parse_value(json!({
        "UserId": "adele@contoso.com",
        "phoneNumber": "+491701234567",
        "notifyuser": "True",
        "LanguageOverride": "DE"
    }))
    .unwrap();
    assert!(change(&parsed).notify_user);
    assert_eq!(change(&parsed).language, Some(Language::German));
    assert!(parsed.warnings.is_empty());
    let plain = parse_value(json!({"UserId": "adele@contoso.com", "phoneNumber": "+491701234567"}))
        .unwrap();
    assert!(!change(&plain).notify_user);
    assert_eq!(change(&plain).language, None);
    // Runbook callers pass every parameter, blank when unset.
    let blank = parse_value(json!({
        "UserId": "adele@contoso.com",
        "phoneNumber": "+491701234567",
        "NotifyUser": true,
        "LanguageOverride": ""
    }))
    .unwrap();
    assert_eq!(change(&blank).language, None);
}

#[test]
fn missing_and_malformed_parameters_name_the_field() {
    let user = "adele@contoso.com";
    let number = "+491701234567";
    check_rejected(
        json!([]),
        ErrorCode::InvalidRequest,
        None,
        "JSON object, not an array",
    );
    check_rejected(
        json!({"phoneNumber": number}),
        ErrorCode::InvalidRequest,
        Some("UserId"),
        "required",
    );
    check_rejected(
        json!({"UserId": user}),
        ErrorCode::InvalidRequest,
        Some("phoneNumber"),
        "required",
    );
    check_rejected(
        json!({"UserId": "", "phoneNumber": number}),
        ErrorCode::InvalidRequest,
        Some("UserId"),
        "empty",
    );
    check_rejected(
        json!({"UserId": 42, "phoneNumber": number}),
        ErrorCode::InvalidRequest,
        Some("UserId"),
        "must be a string, not a number",
    );
    check_rejected(
        json!({"UserId": "a/b@c", "phoneNumber": number}),
        ErrorCode::InvalidRequest,
        Some("UserId"),
        "'/'",
    );
    check_rejected(
        json!({"UserId": user, "phoneNumber": "0170 1234567"}),
        ErrorCode::InvalidPhoneNumber,
        Some("phoneNumber"),
        "country code",
    );
    check_rejected(
        json!({"UserId": user, "phoneNumber": 491701234567u64}),
        ErrorCode::InvalidRequest,
        Some("phoneNumber"),
        "must be a string",
    );
    check_rejected(
        json!({"UserId": user, "phoneNumber": number, "Remove": "yes"}),
        ErrorCode::InvalidRequest,
        Some("Remove"),
        "true or false",
    );
    check_rejected(
        json!({"UserId": user, "phoneNumber": number, "dryRun": 1}),
        ErrorCode::InvalidRequest,
        Some("dryRun"),
        "true or false",
    );
    check_rejected(
        json!({"UserId": user, "phoneNumber": number, "NotifyUser": "maybe"}),
        ErrorCode::InvalidRequest,
        Some("NotifyUser"),
        "true or false",
    );
    check_rejected(
        json!({"UserId": user, "phoneNumber": number, "LanguageOverride": "fr"}),
        ErrorCode::InvalidRequest,
        Some("LanguageOverride"),
        "en (English) or de (German)",
    );
    check_rejected(
        json!({"UserId": user, "phoneNumber": number, "phoneType": "fax"}),
        ErrorCode::InvalidRequest,
        Some("phoneType"),
        "mobile, alternateMobile or office",
    );
    check_rejected(
        json!({"UserId": user, "phoneNumber": number, "userid": user}),
        ErrorCode::InvalidRequest,
        Some("UserId"),
        "more than once",
    );
    check_rejected(
        json!({"UserId": user, "phoneNumber": "+49 30 12345678 x12"}),
        ErrorCode::InvalidPhoneNumber,
        Some("phoneNumber"),
        "only an office phone",
    );
    check_rejected(
        json!({"UserId": user, "phoneNumber": number, "CallerName": "a\nb"}),
        ErrorCode::InvalidRequest,
        Some("CallerName"),
        "control character",
    );
    check_rejected(
        json!({"UserId": user, "phoneNumber": number, "smsSignIn": "maybe"}),
        ErrorCode::InvalidRequest,
        Some("smsSignIn"),
        "leave, enable or disable",
    );
    check_rejected(
        json!({"UserId": user, "phoneNumber": number, "smsSignIn": "enable", "Remove": true}),
        ErrorCode::InvalidRequest,
        Some("smsSignIn"),
        "not when removing",
    );
    check_rejected(
        json!({"parameters": "x"}),
        ErrorCode::InvalidRequest,
        Some("parameters"),
        "JSON object",
    );
    check_rejected(
        json!({"RequestBody": "{not json"}),
        ErrorCode::InvalidRequest,
        Some("RequestBody"),
        "not valid JSON",
    );
    check_rejected(
        json!({"RequestBody": "[1]"}),
        ErrorCode::InvalidRequest,
        Some("RequestBody"),
        "JSON object",
    );
}

#[test]
fn a_rejected_request_still_carries_its_caller_and_request_id() {
    let rejected =
        parse_value(json!({"CallerName": "helpdesk", "correlationId": "r-1"})).unwrap_err();
    assert_eq!(rejected.caller_name.as_deref(), Some("helpdesk"));
    assert_eq!(rejected.request_id.as_deref(), Some("r-1"));
}

#[test]
fn a_fixed_line_number_for_a_mobile_type_is_a_warning() {
    let parsed =
        parse_value(json!({"UserId": "adele@contoso.com", "phoneNumber": "+49 30 12345678"}))
            .unwrap();
    assert_eq!(parsed.warnings.len(), 1);
    assert_eq!(parsed.warnings[0].0, WarningCode::NotAMobileNumber);
    assert!(!parsed.warnings[0].1.contains("12345678"));
    let office = parse_value(json!({"UserId": "adele@contoso.com", "phoneNumber": "+49 30 12345678", "phoneType": "office"})).unwrap();
    assert!(office.warnings.is_empty());
}

#[test]
fn the_operation_is_set_remove_or_show_and_its_spellings_must_agree() {
    let base = || json!({"UserId": "adele@contoso.com", "phoneNumber": "+491701234567"});
    let with = |extra: Value| {
        let mut value = base();
        for (key, field) in extra.as_object().unwrap() {
            value[key] = field.clone();
        }
        parse_value(value)
    };
    assert!(change(&with(json!({})).unwrap()).operation.is_set());
    assert!(matches!(
        change(&with(json!({"operation": "Remove"})).unwrap()).operation,
        Operation::Remove(Some(_))
    ));
    assert!(matches!(
        change(&with(json!({"operation": "remove", "Remove": true})).unwrap()).operation,
        Operation::Remove(Some(_))
    ));
    for extra in [
        json!({"operation": "show"}),
        json!({"Show": true}),
        json!({"Show": "true", "operation": "SHOW"}),
    ] {
        match with(extra.clone()).unwrap().task {
            Task::Show(show) => assert_eq!(show.user.as_str(), "adele@contoso.com"),
            Task::Change(_) => panic!("{extra} is a show"),
        }
    }
    let show_without_number = parse_value(json!({"UserId": "adele@contoso.com", "Show": true}));
    assert!(matches!(show_without_number.unwrap().task, Task::Show(_)));
    for (extra, field) in [
        (json!({"operation": "set", "Remove": true}), "operation"),
        (json!({"Show": true, "Remove": true}), "Show"),
        (json!({"operation": "delete"}), "operation"),
        (
            json!({"operation": "show", "smsSignIn": "enable"}),
            "smsSignIn",
        ),
        (json!({"Show": true, "NotifyUser": true}), "NotifyUser"),
    ] {
        let rejected = with(extra.clone()).unwrap_err();
        assert_eq!(rejected.failure.field, Some(field), "{extra}");
    }
}

#[test]
fn sending_every_documented_default_changes_nothing() {
    // A connector or a designer may fill in the defaults the API definition gives; the
    // request must mean what it means without them, whichever operation it asks for.
    let defaults: Vec<(&str, Value)> = PARAMETERS
        .iter()
        .filter_map(|spec| {
            let default = spec.default?;
            let value = match spec.kind {
                ParameterKind::Boolean => Value::Bool(default == "true"),
                ParameterKind::Text | ParameterKind::OneOf(_) => Value::from(default),
            };
            Some((spec.name, value))
        })
        .collect();
    assert!(
        defaults.len() >= 4,
        "the table gives defaults: {defaults:?}"
    );
    for chosen in [
        json!({}),
        json!({"operation": "set"}),
        json!({"operation": "remove"}),
        json!({"operation": "show"}),
        json!({"Remove": true}),
        json!({"Show": true}),
    ] {
        let mut bare = json!({"UserId": "adele@contoso.com", "phoneNumber": "+491701234567"});
        for (key, value) in chosen.as_object().unwrap() {
            bare[key] = value.clone();
        }
        let mut filled = bare.clone();
        for (name, value) in &defaults {
            if chosen.get(*name).is_none() {
                filled[*name] = value.clone();
            }
        }
        let bare = parse_value(bare).unwrap_or_else(|rejected| panic!("{chosen}: {rejected:?}"));
        let filled = parse_value(filled)
            .unwrap_or_else(|rejected| panic!("{chosen} with defaults: {rejected:?}"));
        assert_eq!(
            format!("{:?}", filled.task),
            format!("{:?}", bare.task),
            "{chosen}"
        );
    }
}

#[test]
fn remove_registered_number_removes_whatever_is_registered_and_nothing_else() {
    let parsed = parse_value(json!({
        "UserId": "adele@contoso.com",
        "Remove": true,
        "removeRegisteredNumber": true,
    }))
    .unwrap();
    assert_eq!(change(&parsed).operation, Operation::Remove(None));
    for (body, field) in [
        (
            json!({"UserId": "adele@contoso.com", "Remove": true, "removeRegisteredNumber": true, "phoneNumber": "+49 170 1234567"}),
            "removeRegisteredNumber",
        ),
        (
            json!({"UserId": "adele@contoso.com", "removeRegisteredNumber": true, "phoneNumber": "+49 170 1234567"}),
            "removeRegisteredNumber",
        ),
        (
            json!({"UserId": "adele@contoso.com", "operation": "show", "removeRegisteredNumber": true}),
            "removeRegisteredNumber",
        ),
        (
            json!({"UserId": "adele@contoso.com", "Remove": true}),
            "phoneNumber",
        ),
    ] {
        let rejected = parse_value(body.clone()).expect_err("refused");
        assert_eq!(rejected.failure.field, Some(field), "{body}");
    }
    let without =
        parse_value(json!({"UserId": "adele@contoso.com", "Remove": true})).expect_err("refused");
    assert!(
        without.failure.message.contains("removeRegisteredNumber"),
        "the error says how: {}",
        without.failure.message
    );
}
