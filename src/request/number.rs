//! Reads what number a change is about: `phoneNumber` (required to set, and to remove unless
//! the removal names the registered number), `removeRegisteredNumber`, or the readiness scan's
//! `numberFingerprint`. Pure.

use serde_json::{Map, Value};

use super::parameters::{NUMBER_FINGERPRINT, PHONE_NUMBER, REMOVE_REGISTERED_NUMBER};
use super::values::{boolean, string, text};
use super::{Kind, Operation};
use crate::phone::CleanupKey;
use crate::phone::{PhoneNumber, PhoneType};
use crate::report::{ErrorCode, Failure};

/// Reads the change, with its number.
pub(super) fn change_of(
    parameters: &Map<String, Value>,
    kind: Kind,
    phone_type: PhoneType,
) -> Result<Operation, Failure> {
    let given = string(parameters, PHONE_NUMBER)?;
    let fingerprint = fingerprint(parameters, kind, given.as_deref())?;
    let registered =
        boolean(parameters, REMOVE_REGISTERED_NUMBER)?.unwrap_or(false) || fingerprint.is_some();
    match (kind, registered, given) {
        (Kind::Set, true, _) => Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            REMOVE_REGISTERED_NUMBER,
            "removeRegisteredNumber applies to a removal (Remove: true), not to setting a number",
        )),
        (Kind::Remove, true, Some(_)) => Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            REMOVE_REGISTERED_NUMBER,
            "give phoneNumber (remove that number) or removeRegisteredNumber: true (remove \
             whatever number is registered), not both",
        )),
        (Kind::Remove, true, None) => Ok(Operation::Remove(None)),
        (_, false, None) => Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            PHONE_NUMBER,
            match kind {
                Kind::Set => {
                    "phoneNumber is required: give the number in international format, \
                              e.g. +491701234567"
                }
                Kind::Remove => {
                    "phoneNumber is required for removal: give the registered number \
                                 in international format (e.g. +491701234567), or, over HTTP, \
                                 removeRegisteredNumber: true to remove whatever number is \
                                 registered"
                }
            },
        )),
        (_, false, Some(value)) => given_number(&value, kind, phone_type),
    }
}

/// The readiness scan's fingerprint of the number to remove, if the request gives one. It
/// names the number without saying it: the registered number is removed only when its
/// fingerprint matches, checked before it is deleted.
fn fingerprint(
    parameters: &Map<String, Value>,
    kind: Kind,
    given: Option<&str>,
) -> Result<Option<String>, Failure> {
    let Some(fingerprint) = text(parameters, NUMBER_FINGERPRINT)? else {
        return Ok(None);
    };
    let problem = match (kind, given) {
        (Kind::Set, _) => "numberFingerprint applies to a removal (Remove: true)",
        (Kind::Remove, Some(_)) => "give phoneNumber or numberFingerprint, not both",
        _ if !CleanupKey::well_formed(&fingerprint) => {
            "numberFingerprint is not a fingerprint of the readiness scan (hs256: and 64 hex \
             digits)"
        }
        _ => return Ok(Some(fingerprint)),
    };
    Err(Failure::for_field(
        ErrorCode::InvalidRequest,
        NUMBER_FINGERPRINT,
        problem,
    ))
}

/// Parses the number given in `phoneNumber`; only an office phone may have an extension.
fn given_number(value: &str, kind: Kind, phone_type: PhoneType) -> Result<Operation, Failure> {
    let number = PhoneNumber::parse(value).map_err(|error| {
        Failure::for_field(
            ErrorCode::InvalidPhoneNumber,
            PHONE_NUMBER,
            format!("phoneNumber is not valid: {error}"),
        )
    })?;
    if number.has_extension() && phone_type != PhoneType::Office {
        return Err(Failure::for_field(
            ErrorCode::InvalidPhoneNumber,
            PHONE_NUMBER,
            format!(
                "phoneNumber has an extension, which only an office phone can have (phoneType \
                 is {phone_type})"
            ),
        ));
    }
    Ok(match kind {
        Kind::Set => Operation::Set(number),
        Kind::Remove => Operation::Remove(Some(number)),
    })
}
