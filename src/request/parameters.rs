//! The parameters the runbook reads: their names, how each is written, and what the API
//! definition says of each. The parser in the parent module and the OpenAPI definition both
//! read this one table, so they cannot disagree. Nothing here does IO.

/// The parameters we know, in the spelling the documentation uses.
pub(crate) const USER_ID: &str = "UserId";
pub(crate) const PHONE_NUMBER: &str = "phoneNumber";
pub(crate) const REMOVE: &str = "Remove";
pub(crate) const CALLER_NAME: &str = "CallerName";
pub(crate) const PHONE_TYPE: &str = "phoneType";
pub(crate) const DRY_RUN: &str = "dryRun";
pub(crate) const SMS_SIGN_IN: &str = "smsSignIn";
pub(crate) const REQUEST_ID: &str = "requestId";
/// An alias some producers use for [`REQUEST_ID`].
pub(crate) const CORRELATION_ID: &str = "correlationId";
pub(crate) const NOTIFY_USER: &str = "NotifyUser";
pub(crate) const LANGUAGE_OVERRIDE: &str = "LanguageOverride";
pub(crate) const OPERATION: &str = "operation";
pub(crate) const SHOW: &str = "Show";
pub(crate) const ALLOW_LAST_METHOD_REMOVAL: &str = "allowLastMethodRemoval";
pub(crate) const REVEAL_NUMBER: &str = "revealNumber";
pub(crate) const REMOVE_REGISTERED_NUMBER: &str = "removeRegisteredNumber";
pub(crate) const NUMBER_FINGERPRINT: &str = "numberFingerprint";

/// How a parameter is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParameterKind {
    Text,
    /// A JSON boolean, or the text `true` or `false` in any case.
    Boolean,
    /// One of these words, in any case.
    OneOf(&'static [&'static str]),
}

/// One parameter: what the parser reads, and what the API definition says of it.
#[derive(Clone, Copy, Debug)]
pub struct ParameterSpec {
    pub name: &'static str,
    pub kind: ParameterKind,
    /// A title for a form field (Title Case).
    pub summary: &'static str,
    pub description: &'static str,
    pub default: Option<&'static str>,
    /// Rarely used: a connector shows it under "advanced".
    pub advanced: bool,
}

const fn spec(
    name: &'static str,
    kind: ParameterKind,
    summary: &'static str,
    description: &'static str,
    default: Option<&'static str>,
    advanced: bool,
) -> ParameterSpec {
    ParameterSpec {
        name,
        kind,
        summary,
        description,
        default,
        advanced,
    }
}

/// Every parameter the runbook reads, in its documented spelling.
pub const PARAMETERS: [ParameterSpec; 17] = [
    spec(
        USER_ID,
        ParameterKind::Text,
        "User",
        "The user's object id or user principal name.",
        None,
        false,
    ),
    spec(
        PHONE_NUMBER,
        ParameterKind::Text,
        "Phone Number",
        "The number in international format, such as +49 170 1234567; an extension (x123) only for an office phone. Required except for show.",
        None,
        false,
    ),
    spec(
        OPERATION,
        ParameterKind::OneOf(&["set", "remove", "show"]),
        "Operation",
        "Set (add or update), remove, or show the user's methods without changing anything. Absent: set, unless Remove or Show is true.",
        None,
        false,
    ),
    spec(
        REMOVE,
        ParameterKind::Boolean,
        "Remove",
        "True removes the phone method (the runbook's switch; the same as operation remove).",
        Some("false"),
        true,
    ),
    spec(
        SHOW,
        ParameterKind::Boolean,
        "Show",
        "True shows the user's methods without changing anything (the same as operation show).",
        Some("false"),
        true,
    ),
    spec(
        PHONE_TYPE,
        ParameterKind::OneOf(&["mobile", "alternateMobile", "office"]),
        "Phone Type",
        "Which phone method.",
        Some("mobile"),
        false,
    ),
    spec(
        DRY_RUN,
        ParameterKind::Boolean,
        "Dry Run",
        "Read and decide, but write nothing.",
        Some("false"),
        true,
    ),
    spec(
        SMS_SIGN_IN,
        ParameterKind::OneOf(&["leave", "enable", "disable"]),
        "SMS Sign-In",
        "Switch SMS sign-in on the mobile phone after setting it.",
        Some("leave"),
        true,
    ),
    spec(
        NOTIFY_USER,
        ParameterKind::Boolean,
        "Notify User",
        "E-mail the user after their phone method changed.",
        Some("false"),
        false,
    ),
    spec(
        LANGUAGE_OVERRIDE,
        ParameterKind::OneOf(&["en", "de"]),
        "Mail Language",
        "The mail's language; by default German for a usage location of DE, AT, CH or LI, else English.",
        None,
        true,
    ),
    spec(
        ALLOW_LAST_METHOD_REMOVAL,
        ParameterKind::Boolean,
        "Allow Last Method Removal",
        "Let a removal leave the user with no MFA method where the deployment refuses that.",
        Some("false"),
        true,
    ),
    spec(
        REMOVE_REGISTERED_NUMBER,
        ParameterKind::Boolean,
        "Remove Registered Number",
        "Removal only, over HTTP only: remove whatever number the phone type holds, without phoneNumber (the result names the number removed, masked). Never through the queue: a late message must not delete a number set after it.",
        Some("false"),
        true,
    ),
    spec(
        NUMBER_FINGERPRINT,
        ParameterKind::Text,
        "Number Fingerprint",
        "Removal only, without phoneNumber: remove the phone type's number only when its keyed fingerprint matches this one (cleanup.csv of the readiness scan, keyed with MFA_CLEANUP_KEY); a number registered since is left (numberMismatch). Also through the queue.",
        None,
        true,
    ),
    spec(
        REVEAL_NUMBER,
        ParameterKind::Boolean,
        "Reveal Number",
        "Show only: return the registered number in full instead of masked (+49 ********67). Honoured over HTTP for a caller Microsoft Entra authenticated, never for a privileged or protected account, never in a queue result.",
        Some("false"),
        true,
    ),
    spec(
        CALLER_NAME,
        ParameterKind::Text,
        "Caller Name",
        "Who asked, as you declare it; recorded in the result and the logs for audit.",
        None,
        false,
    ),
    spec(
        REQUEST_ID,
        ParameterKind::Text,
        "Request Id",
        "Your own id for the request, echoed in the result.",
        None,
        true,
    ),
    spec(
        CORRELATION_ID,
        ParameterKind::Text,
        "Correlation Id",
        "Another name for requestId.",
        None,
        true,
    ),
];

/// Every parameter name the runbook reads, in its documented spelling.
pub const KNOWN: [&str; PARAMETERS.len()] = {
    let mut names = [""; PARAMETERS.len()];
    let mut index = 0;
    while index < PARAMETERS.len() {
        names[index] = PARAMETERS[index].name;
        index += 1;
    }
    names
};
