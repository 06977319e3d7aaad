//! The result of one invocation: the versioned JSON contract every trigger returns.
//!
//! This is deliberately a wire type: callers (RealmJoin-style runbook triggers, queue
//! consumers, Logic Apps) parse it, so its field names and codes change only with
//! [`SCHEMA_VERSION`]. README.md documents it; the integration tests snapshot it.
//!
//! The mapping from an error code to an HTTP status, and to "a retry could help", lives here
//! and nowhere else.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::phone::PhoneMethod;

mod bound;

/// Bumped when a field is removed or changes meaning; adding a field or a code is compatible.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// What happened, as the caller reads it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub(crate) schema_version: u32,
    pub(crate) status: Status,
    pub(crate) action: Action,
    pub(crate) dry_run: bool,
    pub(crate) user: Option<UserSummary>,
    /// The method of the requested type as it is after the operation (or would be, for a dry
    /// run); null when there is none.
    pub(crate) phone_method: Option<MethodSummary>,
    /// The number a removal took away (or, on a dry run, would), masked as in the log
    /// (`+49 ********67`): the number named, the one registered (`removeRegisteredNumber`), or
    /// the one a fingerprint matched. Null unless `action` is `removed`; never the full number.
    pub(crate) removed_number: Option<String>,
    /// Every authentication method the user has after the operation (or would have, on a dry
    /// run): the phones, the other MFA methods by kind, and whether one is phishing-resistant.
    pub(crate) methods: Option<MethodsSummary>,
    /// What the phone method of the requested type can be used for under the tenant's
    /// Authentication methods policy; null when there is none, or the policy is unknown.
    pub(crate) usable_for: Option<UsableSummary>,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) error: Option<Failure>,
    /// Who holds the number for SMS sign-in, when a conflict stopped the operation and the
    /// owner search found them.
    pub(crate) conflict_owner: Option<ConflictOwner>,
    /// The e-mail to the user, when the request asked for one (`NotifyUser`).
    pub(crate) notification: Option<NotificationSummary>,
    pub(crate) caller_name: Option<String>,
    /// Who called, as Microsoft Entra authenticated them (HTTP trigger); null for the queue,
    /// which carries no principal. `callerName` is the name the caller declared.
    pub(crate) caller: Option<CallerSummary>,
    /// The caller's own correlation id (`requestId`), echoed.
    pub(crate) request_id: Option<String>,
    /// The Functions host's invocation id (`X-Azure-Functions-InvocationId`).
    pub(crate) invocation_id: Option<String>,
    pub(crate) trigger: Trigger,
    /// The parameters as received, so a consumer can match a result to its request and replay it.
    pub(crate) request: Option<serde_json::Value>,
    /// For the queue trigger: which message this is the result of.
    pub(crate) queue_message: Option<QueueMessageEcho>,
    /// The lines an admin reads, like the runbook's output. Phone numbers are masked.
    pub(crate) log: Vec<String>,
    /// Whether something was cut (the parameters echoed, log lines, warnings) to keep the
    /// result within 48 KiB, so that it fits a queue message.
    pub(crate) truncated: bool,
    /// How long Graph asked us to wait, for the HTTP `Retry-After` of a transient failure.
    #[serde(skip)]
    pub(crate) retry_after: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Status {
    Succeeded,
    Failed,
}

impl Status {
    /// Whether `result` (a handler's result as JSON, read by a client such as bulk) says
    /// it succeeded.
    pub(crate) fn succeeded(result: &serde_json::Value) -> bool {
        Status::deserialize(&result["status"]).ok() == Some(Status::Succeeded)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Added,
    Updated,
    Removed,
    Unchanged,
    NotPresent,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Trigger {
    Http,
    Queue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallerSummary {
    /// The object id of the user or service principal; null when not authenticated.
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    /// `user` or `application`; null when not authenticated.
    #[serde(rename = "type")]
    pub(crate) kind: Option<&'static str>,
    /// Whether Microsoft Entra authenticated the caller (App Service authentication).
    pub(crate) authenticated: bool,
    /// The API's app roles the caller's token grants (`MfaPhone.Read`, `MfaPhone.ReadWrite`).
    pub(crate) roles: Vec<String>,
    /// Whether this deployment requires those app roles (`MFA_REQUIRE_APP_ROLE`); `false`
    /// means any caller Microsoft Entra authenticated for the API may call.
    pub(crate) app_role_required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserSummary {
    pub(crate) id: String,
    pub(crate) user_principal_name: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) user_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MethodSummary {
    pub(crate) id: String,
    pub(crate) phone_type: String,
    pub(crate) phone_number: String,
    /// Null when Graph did not say (a PATCH answers 204 without a body).
    pub(crate) sms_sign_in_state: Option<String>,
}

impl MethodSummary {
    /// The method as the result shows it.
    pub(crate) fn of(method: &PhoneMethod) -> MethodSummary {
        MethodSummary {
            id: method.phone_type.method_id().to_owned(),
            phone_type: method.phone_type.as_str().to_owned(),
            phone_number: method.number.as_graph_text().to_owned(),
            sms_sign_in_state: method
                .sms_sign_in_state
                .as_ref()
                .map(|state| state.as_str().to_owned()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MethodsSummary {
    pub(crate) phone: Vec<PhoneEntry>,
    /// The non-phone MFA methods by kind (`microsoftAuthenticator`, `fido2`, …, `other` for a
    /// kind Graph added later); the password and e-mail (SSPR only) are left out.
    pub(crate) other: Vec<String>,
    /// Whether the user has a phishing-resistant method (a passkey, Windows Hello for
    /// Business, Platform Credential for macOS).
    pub(crate) phishing_resistant: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PhoneEntry {
    pub(crate) phone_type: &'static str,
    pub(crate) sms_sign_in_state: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsableSummary {
    /// Text messages (mobile phones only).
    pub(crate) sms: bool,
    /// Voice calls (an office phone also needs the policy's `isOfficePhoneAllowed`).
    pub(crate) voice: bool,
    /// SMS sign-in (the mobile phone, an include target usable for sign-in, not a guest).
    pub(crate) sms_sign_in: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConflictOwner {
    pub(crate) id: String,
    pub user_principal_name: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) phone_type: String,
    pub(crate) sms_sign_in_state: Option<String>,
    pub(crate) account_enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NotificationSummary {
    pub(crate) status: NotificationStatus,
    /// `en` or `de`.
    pub(crate) language: &'static str,
    /// The user's mail address, when they have one.
    pub(crate) to: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) enum NotificationStatus {
    /// Graph accepted the mail for delivery.
    Sent,
    /// A dry run: the mail would have been sent.
    WouldSend,
    /// The phone method did not change, so there was nothing to tell.
    NotNeeded,
    /// It could not be sent; a `notificationFailed` warning says why.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueueMessageEcho {
    pub(crate) id: Option<String>,
    pub(crate) dequeue_count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub(crate) struct Warning {
    pub(crate) code: WarningCode,
    pub(crate) message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WarningCode {
    /// A parameter we do not know was ignored.
    UnknownParameter,
    /// The numbering plan says a number meant for a mobile type is a fixed line.
    NotAMobileNumber,
    /// The user is a B2B guest: SMS sign-in is not available to them.
    GuestUser,
    /// The MFA method was written, but another user holds the number for SMS sign-in.
    SmsSignInConflict,
    /// The owner search did not find who holds the number.
    ConflictOwnerNotFound,
    /// The owner search could not use the registration report and enumerated users instead.
    OwnerSearchFallback,
    /// The owner search stopped before it read every candidate.
    OwnerSearchIncomplete,
    /// The owner search is switched off.
    OwnerSearchDisabled,
    /// The user asked to be notified could not be: no mail address, or the mail was refused.
    NotificationFailed,
    /// The phone method was changed, but a later step (SMS sign-in, a verification, the time
    /// budget) did not finish; the message names it and what to do.
    StepNotFinished,
    /// After the operation the user's only MFA methods are phone methods (with Microsoft's
    /// retirement of its SMS and voice delivery, unless the tenant has its own provider).
    PhoneOnlyMfa,
    /// A removal left the user with no MFA method at all.
    LastMfaMethod,
    /// The policy does not enable text messages for the user.
    SmsNotEnabledForUser,
    /// The policy does not enable voice calls for the user.
    VoiceNotEnabledForUser,
    /// The policy does not allow voice calls to office phones.
    OfficePhoneNotAllowed,
    /// The policy or the user's membership of its groups could not be read.
    PolicyUnknown,
    /// `revealNumber` was asked, but the number is shown masked: not through this trigger, not
    /// to this caller, or not for this account (the message says which).
    NumberNotRevealed,
    /// The app's identity holds broader authentication-method rights than phone methods (left
    /// from an older deployment): whoever controls the app could do more than this app does.
    ExcessGraphPermissions,
    /// `MFA_AZURE_CONTROL_SCOPES` is not set: whoever controls the app on the Azure side (its
    /// Owners, Contributors, blob writers on its storage) is not protected.
    AzureSideUnprotected,
    /// `show` of a privileged or protected account (or one whose protection could not be
    /// checked): its methods are not shown.
    DetailsWithheld,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Failure {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    /// The parameter at fault, for input errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<&'static str>,
}

/// Every way an invocation can fail. What a caller does differently decides the variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) enum ErrorCode {
    /// A parameter is missing or malformed.
    InvalidRequest,
    /// The phone number is not a valid number (ours or Graph's verdict).
    InvalidPhoneNumber,
    UserNotFound,
    /// Remove was asked for one number, and the user has another.
    NumberMismatch,
    AlternateMobileRequiresMobile,
    MobileHasAlternate,
    CannotDeleteDefaultMethod,
    /// Another user holds the number for SMS sign-in and Graph did not write it.
    PhoneNumberNotUnique,
    /// SMS sign-in could not be switched as asked.
    SmsSignInNotAllowed,
    /// Graph refuses our identity: a permission or licence is missing.
    GraphForbidden,
    /// Graph answered something we cannot act on.
    GraphRejected,
    /// Graph stayed throttled or unavailable after our retries.
    GraphUnavailable,
    /// No token could be obtained for our identity.
    IdentityUnavailable,
    /// A bug: the handler itself failed.
    Internal,
    /// The request is larger than the handler accepts.
    RequestTooLarge,
    /// The HTTP request carried no Microsoft Entra principal, and one is required.
    UnauthenticatedCaller,
    /// The authenticated caller is not among the allowed callers.
    CallerNotAllowed,
    /// The user is a privileged or protected account, whose methods this app does not change.
    ProtectedUser,
    /// Whether the user is protected could not be checked, so nothing was written.
    ProtectionUnknown,
    /// `smsSignIn: enable` when the policy does not allow SMS sign-in for the user.
    SmsSignInNotAllowedByPolicy,
    /// The removal would leave the user with no MFA method, and the deployment refuses that.
    LastMfaMethod,
    /// Another instance was changing the user's methods (it held the user's lease) for all the
    /// time there was, or the storage account did not give the lease; nothing was written.
    UserBusy,
}

impl ErrorCode {
    /// The HTTP status an HTTP caller gets.
    pub(crate) fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest | ErrorCode::InvalidPhoneNumber => 400,
            ErrorCode::UserNotFound => 404,
            ErrorCode::NumberMismatch
            | ErrorCode::AlternateMobileRequiresMobile
            | ErrorCode::MobileHasAlternate
            | ErrorCode::CannotDeleteDefaultMethod
            | ErrorCode::PhoneNumberNotUnique
            | ErrorCode::SmsSignInNotAllowed
            | ErrorCode::SmsSignInNotAllowedByPolicy
            | ErrorCode::LastMfaMethod => 409,
            ErrorCode::UnauthenticatedCaller => 401,
            ErrorCode::CallerNotAllowed | ErrorCode::ProtectedUser => 403,
            ErrorCode::GraphForbidden | ErrorCode::GraphRejected => 502,
            ErrorCode::GraphUnavailable
            | ErrorCode::IdentityUnavailable
            | ErrorCode::ProtectionUnknown
            | ErrorCode::UserBusy => 503,
            ErrorCode::Internal => 500,
            ErrorCode::RequestTooLarge => 413,
        }
    }

    /// Whether running the same request again later could succeed without anyone changing
    /// anything: the queue trigger asks the host to redeliver only these.
    pub(crate) fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorCode::GraphUnavailable
                | ErrorCode::IdentityUnavailable
                | ErrorCode::ProtectionUnknown
                | ErrorCode::UserBusy
        )
    }

    /// Whether a queue message that failed so should be delivered again while attempts remain:
    /// the transient failures, and a failure of the handler itself (a panic), which another
    /// instance or a later delivery may not meet.
    pub(crate) fn is_worth_redelivering(self) -> bool {
        self.is_transient() || self == ErrorCode::Internal
    }
}

impl Report {
    /// A report that has not decided anything yet: failed with no action, until told otherwise.
    pub(crate) fn new(trigger: Trigger, invocation_id: Option<String>) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            status: Status::Failed,
            action: Action::None,
            dry_run: false,
            user: None,
            phone_method: None,
            removed_number: None,
            methods: None,
            usable_for: None,
            warnings: Vec::new(),
            error: None,
            conflict_owner: None,
            notification: None,
            caller_name: None,
            caller: None,
            request_id: None,
            invocation_id,
            trigger,
            request: None,
            queue_message: None,
            log: Vec::new(),
            truncated: false,
            retry_after: None,
        }
    }

    pub(crate) fn succeed(&mut self, action: Action) {
        self.status = Status::Succeeded;
        self.action = action;
        self.error = None;
    }

    pub(crate) fn fail(&mut self, failure: Failure) {
        self.status = Status::Failed;
        self.error = Some(failure);
    }

    pub(crate) fn warn(&mut self, code: WarningCode, message: impl Into<String>) {
        self.warnings.push(Warning {
            code,
            message: message.into(),
        });
    }

    /// The HTTP status for an HTTP caller.
    pub(crate) fn http_status(&self) -> u16 {
        match &self.error {
            None => 200,
            Some(failure) => failure.code.http_status(),
        }
    }

    pub(crate) fn error_code(&self) -> Option<ErrorCode> {
        self.error.as_ref().map(|failure| failure.code)
    }

    /// The JSON text of the report.
    pub(crate) fn to_json(&self) -> String {
        // Serialising plain structs of strings, numbers and enums into a String cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

impl Failure {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub(crate) fn for_field(
        code: ErrorCode,
        field: &'static str,
        message: impl Into<String>,
    ) -> Failure {
        Failure {
            code,
            message: message.into(),
            field: Some(field),
        }
    }
}

/// How long an HTTP caller should wait before retrying a transient failure, rounded up to
/// whole seconds as `Retry-After` requires.
pub(crate) fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}
