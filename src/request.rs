//! The runbook's parameters, read from a caller's JSON and parsed into a [`Request`].
//!
//! Names match case-insensitively, as PowerShell's do. The parameters may come bare
//! (`{"UserId": …}`), wrapped (`{"parameters": {…}}`), or as an Azure Automation webhook body
//! (`{"RequestBody": "<json text>"}`). Unknown names are warnings; a missing or malformed value
//! is an error naming the field. Nothing here does IO.

use serde_json::{Map, Value};

use crate::language::Language;
use crate::phone::{LineKind, PhoneNumber, PhoneType};
use crate::report::{ErrorCode, Failure, WarningCode};
use crate::user::UserRef;

mod number;
pub(crate) mod parameters;
mod values;

use number::change_of;
use parameters::{
    ALLOW_LAST_METHOD_REMOVAL, CALLER_NAME, CORRELATION_ID, DRY_RUN, LANGUAGE_OVERRIDE,
    NOTIFY_USER, NUMBER_FINGERPRINT, OPERATION, PHONE_TYPE, REMOVE, REMOVE_REGISTERED_NUMBER,
    REQUEST_ID, REVEAL_NUMBER, SHOW, SMS_SIGN_IN, USER_ID,
};
pub use parameters::{KNOWN, PARAMETERS, ParameterKind};
use values::{boolean, find, json_kind, lookup, printable, single_wrapper, string, text};

/// A request that has passed every check we can make without asking Graph.
#[derive(Clone, Debug)]
pub struct Request {
    pub user: UserRef,
    pub phone_type: PhoneType,
    pub operation: Operation,
    pub dry_run: bool,
    pub sms_sign_in: SmsSignIn,
    pub caller_name: Option<String>,
    pub request_id: Option<String>,
    /// Whether to e-mail the user about the change (`NotifyUser`).
    pub notify_user: bool,
    /// The mail's language when the caller chose it (`LanguageOverride`); otherwise it follows
    /// the user's usage location.
    pub language: Option<Language>,
    /// Whether a removal may leave the user with no MFA method when the deployment refuses
    /// that (`allowLastMethodRemoval`).
    pub allow_last_method_removal: bool,
    /// The keyed fingerprint the registered number must match before a removal deletes it
    /// (`numberFingerprint`, from the readiness scan's `cleanup.csv`).
    pub number_fingerprint: Option<String>,
}

/// The change asked for, with the number it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Set the phone type's number (add the method, or update it).
    Set(PhoneNumber),
    /// Remove the phone type's method when it holds the number named; `None` removes it
    /// whatever number it holds (`removeRegisteredNumber`, over HTTP only).
    Remove(Option<PhoneNumber>),
}

impl Operation {
    /// The number the request names (none for a removal of whatever is registered).
    pub fn number(&self) -> Option<&PhoneNumber> {
        match self {
            Operation::Set(number) => Some(number),
            Operation::Remove(number) => number.as_ref(),
        }
    }

    pub fn is_set(&self) -> bool {
        matches!(self, Operation::Set(_))
    }
}

/// What a change does, before its number is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Set,
    Remove,
}

/// What to do with SMS sign-in after the number is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsSignIn {
    /// Whatever Graph does by policy.
    Leave,
    Enable,
    Disable,
}

/// A request to only look: the user, their methods, what the policy lets them use.
#[derive(Clone, Debug)]
pub struct ShowRequest {
    pub user: UserRef,
    /// The phone type whose method the result shows as `phoneMethod`.
    pub phone_type: PhoneType,
    pub caller_name: Option<String>,
    pub request_id: Option<String>,
    /// Whether the caller asks for the registered number in full (`revealNumber`); it is
    /// masked otherwise, and whether the ask is honoured is not the parser's to say.
    pub reveal_number: bool,
}

/// What was asked: a change, or a look.
#[derive(Clone, Debug)]
pub enum Task {
    Change(Request),
    Show(ShowRequest),
}

/// A parsed request, with the warnings parsing produced.
#[derive(Debug)]
pub struct Parsed {
    pub task: Task,
    pub warnings: Vec<(WarningCode, String)>,
}

/// A request that failed to parse, with whatever could be read of it for the result.
#[derive(Debug)]
pub struct Rejected {
    pub failure: Failure,
    pub caller_name: Option<String>,
    pub request_id: Option<String>,
    pub warnings: Vec<(WarningCode, String)>,
}

/// How many unknown parameters are named one by one; the rest are counted.
const MAX_UNKNOWN_NAMED: usize = 10;

/// How long a free-text value (caller name, request id) may be.
pub const MAX_TEXT_LENGTH: usize = 256;

/// Unwraps the accepted envelopes around the parameters and returns the parameter object.
///
/// # Errors
///
/// When the value is not a JSON object, or a `RequestBody` is not JSON text of an object.
pub fn parameters_object(body: &Value) -> Result<Map<String, Value>, Failure> {
    let Value::Object(object) = body else {
        return Err(Failure::new(
            ErrorCode::InvalidRequest,
            format!(
                "the parameters must be a JSON object, not {}",
                json_kind(body)
            ),
        ));
    };
    if let Some(inner) = single_wrapper(object, "parameters") {
        return match inner {
            Value::Object(parameters) => Ok(parameters.clone()),
            other => Err(Failure::for_field(
                ErrorCode::InvalidRequest,
                "parameters",
                format!("parameters must be a JSON object, not {}", json_kind(other)),
            )),
        };
    }
    if let Some((_, request_body)) = find(object, "RequestBody") {
        let parsed = match request_body {
            Value::String(text) => serde_json::from_str::<Value>(text).map_err(|error| {
                Failure::for_field(
                    ErrorCode::InvalidRequest,
                    "RequestBody",
                    format!("RequestBody is not valid JSON text: {error}"),
                )
            })?,
            other => other.clone(),
        };
        return match parsed {
            Value::Object(_) => parameters_object(&parsed),
            other => Err(Failure::for_field(
                ErrorCode::InvalidRequest,
                "RequestBody",
                format!(
                    "RequestBody must hold a JSON object, not {}",
                    json_kind(&other)
                ),
            )),
        };
    }
    Ok(object.clone())
}

/// Whether the parameters ask for `show` (and nothing else), read as the parser reads them; a
/// request whose operation cannot be read counts as a change, the stricter of the two.
pub fn asks_for_show(parameters: &Map<String, Value>) -> bool {
    matches!(operation(parameters), Ok(None))
}

/// Parses the runbook's parameters.
///
/// # Errors
///
/// A [`Rejected`] naming the first field that is missing or malformed.
pub fn parse(parameters: &Map<String, Value>) -> Result<Parsed, Box<Rejected>> {
    let mut warnings = unknown_parameters(parameters);
    // Read what audit needs first, so that even a rejected request is attributed.
    let audit = Audit {
        caller_name: text(parameters, CALLER_NAME),
        request_id: match text(parameters, REQUEST_ID) {
            Ok(None) => text(parameters, CORRELATION_ID),
            other => other,
        },
    };
    match task(parameters, &audit) {
        Ok(task) => {
            if let Task::Change(request) = &task {
                warnings.extend(fixed_line_warning(request));
            }
            Ok(Parsed { task, warnings })
        }
        Err(failure) => Err(Box::new(Rejected {
            failure,
            caller_name: audit.caller_name.ok().flatten(),
            request_id: audit.request_id.ok().flatten(),
            warnings,
        })),
    }
}

/// What attributes a request in the audit trail. It is read before anything else, and each
/// value is kept as read: a malformed one fails the request only once the rest has been read.
struct Audit {
    caller_name: Result<Option<String>, Failure>,
    request_id: Result<Option<String>, Failure>,
}

/// Warns of each parameter no one reads, up to `MAX_UNKNOWN_NAMED`, and counts the rest in one
/// more warning.
fn unknown_parameters(parameters: &Map<String, Value>) -> Vec<(WarningCode, String)> {
    let unknown: Vec<&String> = parameters
        .keys()
        .filter(|name| !KNOWN.iter().any(|known| known.eq_ignore_ascii_case(name)))
        .collect();
    let mut warnings: Vec<(WarningCode, String)> = unknown
        .iter()
        .take(MAX_UNKNOWN_NAMED)
        .map(|name| {
            (
                WarningCode::UnknownParameter,
                format!("ignored unknown parameter '{}'", printable(name)),
            )
        })
        .collect();
    if unknown.len() > MAX_UNKNOWN_NAMED {
        warnings.push((
            WarningCode::UnknownParameter,
            format!(
                "ignored {} more unknown parameters",
                unknown.len() - MAX_UNKNOWN_NAMED
            ),
        ));
    }
    warnings
}

/// Reads the task the parameters ask for: who, which phone type, and then a show or a change.
fn task(parameters: &Map<String, Value>, audit: &Audit) -> Result<Task, Failure> {
    let user = match string(parameters, USER_ID)? {
        None => {
            return Err(Failure::for_field(
                ErrorCode::InvalidRequest,
                USER_ID,
                "UserId is required: give the user's object id or user principal name",
            ));
        }
        Some(value) => UserRef::parse(&value).map_err(|error| {
            Failure::for_field(
                ErrorCode::InvalidRequest,
                USER_ID,
                format!("UserId is not valid: {error}"),
            )
        })?,
    };
    let phone_type = match string(parameters, PHONE_TYPE)? {
        None => PhoneType::Mobile,
        Some(value) => PhoneType::parse(&value).ok_or_else(|| {
            Failure::for_field(
                ErrorCode::InvalidRequest,
                PHONE_TYPE,
                "phoneType must be mobile, alternateMobile or office",
            )
        })?,
    };
    match operation(parameters)? {
        None => show(parameters, user, phone_type, audit).map(Task::Show),
        Some(kind) => change(parameters, user, phone_type, kind, audit).map(Task::Change),
    }
}

/// Reads a show, refusing it when a parameter asks for something only a change does.
fn show(
    parameters: &Map<String, Value>,
    user: UserRef,
    phone_type: PhoneType,
    audit: &Audit,
) -> Result<ShowRequest, Failure> {
    // A value that asks for nothing (false, `leave`: what the definition gives as the default)
    // is no contradiction.
    for field in [
        SMS_SIGN_IN,
        NOTIFY_USER,
        ALLOW_LAST_METHOD_REMOVAL,
        REMOVE_REGISTERED_NUMBER,
    ] {
        if lookup(parameters, field)?.is_some_and(|value| !asks_for_nothing(field, value)) {
            return Err(Failure::for_field(
                ErrorCode::InvalidRequest,
                field,
                format!("{field} applies to a change, not to show (which writes nothing)"),
            ));
        }
    }
    Ok(ShowRequest {
        user,
        phone_type,
        caller_name: audit.caller_name.clone()?,
        request_id: audit.request_id.clone()?,
        reveal_number: boolean(parameters, REVEAL_NUMBER)?.unwrap_or(false),
    })
}

/// Reads a change, refusing it when a parameter asks for something only a show does or
/// contradicts the change.
fn change(
    parameters: &Map<String, Value>,
    user: UserRef,
    phone_type: PhoneType,
    kind: Kind,
    audit: &Audit,
) -> Result<Request, Failure> {
    if lookup(parameters, REVEAL_NUMBER)?
        .is_some_and(|value| !asks_for_nothing(REVEAL_NUMBER, value))
    {
        return Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            REVEAL_NUMBER,
            "revealNumber applies to show, not to a change (whose result holds the number you \
             sent)",
        ));
    }
    let operation = change_of(parameters, kind, phone_type)?;
    let dry_run = boolean(parameters, DRY_RUN)?.unwrap_or(false);
    let sms_sign_in = sms_sign_in(parameters, &operation, phone_type)?;
    let notify_user = boolean(parameters, NOTIFY_USER)?.unwrap_or(false);
    // Empty counts as not given: runbook callers pass every parameter, set or not.
    let language = match text(parameters, LANGUAGE_OVERRIDE)? {
        None => None,
        Some(value) => Some(Language::parse(&value).ok_or_else(|| {
            Failure::for_field(
                ErrorCode::InvalidRequest,
                LANGUAGE_OVERRIDE,
                "LanguageOverride must be en (English) or de (German)",
            )
        })?),
    };
    let allow_last_method_removal =
        boolean(parameters, ALLOW_LAST_METHOD_REMOVAL)?.unwrap_or(false);
    Ok(Request {
        user,
        phone_type,
        operation,
        dry_run,
        sms_sign_in,
        caller_name: audit.caller_name.clone()?,
        request_id: audit.request_id.clone()?,
        notify_user,
        language,
        allow_last_method_removal,
        number_fingerprint: text(parameters, NUMBER_FINGERPRINT)?,
    })
}

/// Reads `smsSignIn`, refusing it when the change is a removal or the phone type is not
/// mobile.
fn sms_sign_in(
    parameters: &Map<String, Value>,
    operation: &Operation,
    phone_type: PhoneType,
) -> Result<SmsSignIn, Failure> {
    let sms_sign_in = match string(parameters, SMS_SIGN_IN)? {
        None => SmsSignIn::Leave,
        Some(value) => match value.to_ascii_lowercase().as_str() {
            "leave" => SmsSignIn::Leave,
            "enable" => SmsSignIn::Enable,
            "disable" => SmsSignIn::Disable,
            _ => {
                return Err(Failure::for_field(
                    ErrorCode::InvalidRequest,
                    SMS_SIGN_IN,
                    "smsSignIn must be leave, enable or disable",
                ));
            }
        },
    };
    if sms_sign_in != SmsSignIn::Leave && !operation.is_set() {
        return Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            SMS_SIGN_IN,
            "smsSignIn applies when setting a number, not when removing one",
        ));
    }
    if sms_sign_in != SmsSignIn::Leave && phone_type != PhoneType::Mobile {
        return Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            SMS_SIGN_IN,
            format!("smsSignIn applies only to the mobile phone type, not {phone_type}"),
        ));
    }
    Ok(sms_sign_in)
}

/// Warns when a mobile phone type is set to a number its numbering plan calls fixed-line.
fn fixed_line_warning(request: &Request) -> Option<(WarningCode, String)> {
    let Operation::Set(number) = &request.operation else {
        return None;
    };
    (request.phone_type.expects_mobile_number() && number.line_kind() == LineKind::FixedLine).then(
        || {
            (
                WarningCode::NotAMobileNumber,
                format!(
                    "{number} is a fixed-line number by the numbering plan of {}: it cannot \
                     receive text messages, only calls",
                    number.region().unwrap_or("its country")
                ),
            )
        },
    )
}

/// Whether a parameter's value asks for nothing (its default): `leave` for `smsSignIn`,
/// `false` (as JSON or text) for a switch.
fn asks_for_nothing(field: &str, value: &Value) -> bool {
    let word = if field == SMS_SIGN_IN {
        "leave"
    } else {
        "false"
    };
    match value {
        Value::Bool(on) => field != SMS_SIGN_IN && !on,
        Value::String(text) => text.trim().eq_ignore_ascii_case(word),
        _ => false,
    }
}

/// Reads the operation asked for: `Some` for a change, `None` for show. `operation` (`set`,
/// `remove`, `show`), `Show: true` and the runbook's `Remove: true` are accepted, and must
/// agree. `Remove: false` and `Show: false` are their defaults and select nothing, so a
/// caller (or a connector) that sends them alongside `operation` changes nothing.
fn operation(parameters: &Map<String, Value>) -> Result<Option<Kind>, Failure> {
    let remove = boolean(parameters, REMOVE)?.unwrap_or(false);
    let show = boolean(parameters, SHOW)?.unwrap_or(false);
    let named = match string(parameters, OPERATION)? {
        None => None,
        Some(value) => Some(match value.trim().to_ascii_lowercase().as_str() {
            "set" => Some(Kind::Set),
            "remove" => Some(Kind::Remove),
            "show" => None,
            _ => {
                return Err(Failure::for_field(
                    ErrorCode::InvalidRequest,
                    OPERATION,
                    "operation must be set, remove or show",
                ));
            }
        }),
    };
    let from_flags = match (show, remove) {
        (true, true) => {
            return Err(Failure::for_field(
                ErrorCode::InvalidRequest,
                SHOW,
                "Show and Remove cannot both be true",
            ));
        }
        (true, false) => Some(None),
        (false, true) => Some(Some(Kind::Remove)),
        (false, false) => None,
    };
    match (named, from_flags) {
        (Some(named), Some(flags)) if named != flags => Err(Failure::for_field(
            ErrorCode::InvalidRequest,
            OPERATION,
            "operation contradicts Remove or Show: give one of them",
        )),
        (Some(named), _) => Ok(named),
        (None, Some(flags)) => Ok(flags),
        (None, None) => Ok(Some(Kind::Set)),
    }
}

#[cfg(test)]
mod tests;
