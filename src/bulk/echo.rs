//! Decides whether a handler's result is the result of the request a row sent: the `requestId`
//! it echoes and the parameters it echoes (the user, the phone type, set or remove, the
//! number's fingerprint, dry run) must all match. A result that does not match counts for no
//! row, so whoever can put a message on the results queue, or answer in the handler's place,
//! cannot make a run report a change that did not happen. Pure: no IO.

use serde_json::Value;

use crate::request::parameters::{
    DRY_RUN, NUMBER_FINGERPRINT, OPERATION, PHONE_NUMBER, PHONE_TYPE, REQUEST_ID, USER_ID,
};

/// Why a result is not the result of a request, as the report says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch(pub String);

/// Checks that `result` answers `request` (the parameters this run sent).
///
/// # Errors
///
/// What differs: the result has another `requestId`, or echoes a parameter that is not the one
/// sent.
pub fn check(request: &Value, result: &Value) -> Result<(), Mismatch> {
    let sent_id = request[REQUEST_ID].as_str().unwrap_or_default();
    // A result of a request refused before it was read echoes the id only inside the request.
    let echoed_id = result[REQUEST_ID]
        .as_str()
        .or_else(|| result["request"][REQUEST_ID].as_str());
    match echoed_id {
        Some(echoed) if echoed == sent_id => {}
        Some(echoed) => {
            return Err(Mismatch(format!(
                "the result of another request ('{}', not {sent_id})",
                crate::phone::printable(echoed, 80)
            )));
        }
        None => {
            return Err(Mismatch(format!(
                "a result naming no request, not {sent_id}"
            )));
        }
    }
    let Some(echo) = result["request"].as_object() else {
        return Err(Mismatch(
            "a result that does not echo the request it answers".to_owned(),
        ));
    };
    let text = |name: &str| echo.get(name).and_then(Value::as_str);
    let differs = |what: &str| Err(Mismatch(format!("a result for another {what}")));
    if text(REQUEST_ID).is_some_and(|id| id != sent_id) {
        return differs("request");
    }
    if text(USER_ID) != request[USER_ID].as_str() {
        return differs("user");
    }
    // Each parameter must be echoed as sent; one the request left out must be left out of the
    // echo too.
    let same_type = match (text(PHONE_TYPE), request[PHONE_TYPE].as_str()) {
        (Some(echoed), Some(sent)) => echoed.eq_ignore_ascii_case(sent),
        (echoed, sent) => echoed == sent,
    };
    if !same_type {
        return differs("phone type");
    }
    if text(OPERATION) != request[OPERATION].as_str() {
        return differs("operation (set or remove)");
    }
    let same_number = match (text(PHONE_NUMBER), request[PHONE_NUMBER].as_str()) {
        (Some(echoed), Some(sent)) => fingerprint(echoed) == fingerprint(sent),
        (echoed, sent) => echoed == sent,
    };
    // A clean-up row names its number by the scan's fingerprint, so the echo must name the
    // same one.
    let same_fingerprint = match (
        text(NUMBER_FINGERPRINT),
        request[NUMBER_FINGERPRINT].as_str(),
    ) {
        (Some(echoed), Some(sent)) => echoed.eq_ignore_ascii_case(sent),
        (echoed, sent) => echoed == sent,
    };
    if !same_number || !same_fingerprint {
        return differs("number");
    }
    let dry_run = request[DRY_RUN].as_bool().unwrap_or(false);
    let echoed_dry_run = echo.get(DRY_RUN).and_then(Value::as_bool).unwrap_or(false);
    let result_dry_run = result[DRY_RUN].as_bool().unwrap_or(echoed_dry_run);
    if echoed_dry_run != dry_run || result_dry_run != dry_run {
        return differs(if dry_run {
            "run (not a dry run)"
        } else {
            "run (a dry run)"
        });
    }
    Ok(())
}

/// Whether `result` names the request it answers, by id or by echoing it.
pub fn names_a_request(result: &Value) -> bool {
    result[REQUEST_ID].is_string() || result["request"].is_object()
}

/// Returns what a number and its masked form (`+49 ********67`, as a queue's result echoes it)
/// have in common: the country code, how many digits follow it, and the last two.
pub fn fingerprint(number: &str) -> (String, usize, String) {
    let main = number.split(['x', 'X']).next().unwrap_or_default().trim();
    let (country_code, rest) = match main.strip_prefix('+') {
        Some(rest) => match rest.split_once(|c: char| !c.is_ascii_digit()) {
            Some((code, rest)) if !code.is_empty() && code.len() <= 3 => (code, rest),
            _ => ("", rest),
        },
        None => ("", main),
    };
    let places: Vec<char> = rest
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '*')
        .collect();
    let tail: String = places[places.len().saturating_sub(2)..].iter().collect();
    (country_code.to_owned(), places.len(), tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> Value {
        json!({
            "UserId": "adele@contoso.com", "phoneType": "mobile", "operation": "set",
            "phoneNumber": "+49 1701234567", "requestId": "bulk-1-2-mobile",
        })
    }

    fn result(echo: Value) -> Value {
        json!({"status": "succeeded", "requestId": "bulk-1-2-mobile", "dryRun": false,
               "request": echo})
    }

    #[test]
    fn a_result_counts_only_when_everything_it_echoes_is_the_rows() {
        assert_eq!(check(&request(), &result(request())), Ok(()));
        let mut masked = request();
        masked[PHONE_NUMBER] = json!("+49 ********67");
        assert_eq!(
            check(&request(), &result(masked)),
            Ok(()),
            "a queue masks it"
        );
        for (name, other) in [
            (USER_ID, json!("megan@contoso.com")),
            (PHONE_TYPE, json!("office")),
            (OPERATION, json!("remove")),
            (PHONE_NUMBER, json!("+49 1701234568")),
            (PHONE_NUMBER, json!("+49 ********68")),
            (PHONE_NUMBER, json!("+41 1701234567")),
            (DRY_RUN, json!(true)),
        ] {
            let mut echo = request();
            echo[name] = other.clone();
            assert!(check(&request(), &result(echo)).is_err(), "{name}: {other}");
        }
        let mut cleanup = request();
        cleanup
            .as_object_mut()
            .map(|fields| fields.remove(PHONE_NUMBER));
        cleanup[NUMBER_FINGERPRINT] = json!(format!("hs256:{}", "a".repeat(64)));
        assert_eq!(check(&cleanup, &result(cleanup.clone())), Ok(()));
        for other in [json!(format!("hs256:{}", "b".repeat(64))), Value::Null] {
            let mut echo = cleanup.clone();
            echo[NUMBER_FINGERPRINT] = other.clone();
            assert!(
                check(&cleanup, &result(echo)).is_err(),
                "fingerprint: {other}"
            );
        }
        let mut other_id = result(request());
        other_id[REQUEST_ID] = json!("bulk-1-3-mobile");
        assert!(check(&request(), &other_id).is_err());
        assert!(
            check(
                &request(),
                &json!({"status": "succeeded", "requestId": "bulk-1-2-mobile"})
            )
            .is_err()
        );
        let mut dry = result(request());
        dry[DRY_RUN] = json!(true);
        assert!(
            check(&request(), &dry).is_err(),
            "the result says it was a dry run"
        );
    }
}
