//! Why a step of the runbook cannot go on ([`Stop`]), and how that is worded: Graph errors,
//! the plan's refusals, a lease another instance keeps, and a write Graph refused that the
//! tenant's state does not explain. Each function builds a value; only the runbook's
//! `carry_out` and `show` put a [`Stop`] into the outcome.

use std::time::Duration;

use crate::claim::LeaseError;
use crate::graph::{GraphError, GraphErrorKind, GraphOperation, Rejection};
use crate::outcome::Outcome;
use crate::phone::{PhoneNumber, PhoneType, redact_numbers};
use crate::plan::{Refusal, Write};
use crate::report::{ErrorCode, Failure};
use crate::user::{DirectoryUser, UserRef};

/// How long a caller is told to wait after a lease another instance kept.
const LEASE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why a step cannot go on: the failure the caller reads, and how long to wait before trying
/// again when waiting can help. A step returns it as its `Err` instead of writing it into the
/// outcome, so that what a step found and how it ended are one value. It is not called a
/// refusal: [`Refusal`] is the plan's word for a write it will not make, which is one cause
/// among many here (Graph errors, a busy user, a protected account).
#[derive(Debug)]
pub(super) struct Stop {
    failure: Failure,
    retry_after: Option<Duration>,
}

impl Stop {
    /// A stop that waiting will not mend.
    pub(super) fn new(failure: Failure) -> Stop {
        Stop {
            failure,
            retry_after: None,
        }
    }

    /// A stop the caller may try again after `retry_after`.
    fn retry(failure: Failure, retry_after: Option<Duration>) -> Stop {
        Stop {
            failure,
            retry_after,
        }
    }

    /// Whether Graph refused the number because another user holds it, so that its holder is
    /// worth looking for.
    pub(super) fn number_held_elsewhere(&self) -> bool {
        self.failure.code == ErrorCode::PhoneNumberNotUnique
    }

    /// Puts the stop into the outcome: after a change it becomes a warning (see
    /// [`Outcome::fail`]); the `Retry-After` is given either way.
    pub(super) fn record(self, outcome: &mut Outcome) {
        outcome.fail_with_retry(self.failure, self.retry_after);
    }
}

/// The stop for a Graph error, with the `Retry-After` to give when it is transient. `user` is
/// the caller's name for the user, for a "not found" that refers to it.
pub(super) fn of_graph(error: &GraphError, user: Option<&UserRef>) -> Stop {
    let operation = error.operation.describe();
    let answer = error.kind.answer().unwrap_or_default();
    let failure = match &error.kind {
        GraphErrorKind::NotFound { .. } => not_found(error, user),
        GraphErrorKind::Forbidden { .. } => Failure::new(
            ErrorCode::GraphForbidden,
            format!(
                "Graph refused to let the Function App's identity {operation} ({answer}): grant \
                 it the application permission {}; a new grant can take some time to reach the \
                 identity's token",
                error.operation.permission()
            ),
        ),
        GraphErrorKind::Unavailable {
            retry_after,
            detail,
            ..
        } => {
            return Stop::retry(
                Failure::new(
                    ErrorCode::GraphUnavailable,
                    format!(
                        "Graph stayed throttled or unavailable, so the handler could not \
                         {operation} ({detail}); nothing more was changed, try again later"
                    ),
                ),
                *retry_after,
            );
        }
        GraphErrorKind::Credential { detail } => Failure::new(
            ErrorCode::IdentityUnavailable,
            format!(
                "no token could be obtained for the Function App's identity ({detail}); check \
                 that the app has its managed identity and try again"
            ),
        ),
        GraphErrorKind::Rejected { message, .. } => Failure::new(
            ErrorCode::GraphRejected,
            format!(
                "Graph refused to {operation}: {answer}{}",
                if message.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", redact_numbers(message))
                }
            ),
        ),
        GraphErrorKind::Malformed { detail } => Failure::new(
            ErrorCode::GraphRejected,
            format!("Graph's answer when trying to {operation} could not be used: {detail}"),
        ),
    };
    Stop::new(failure)
}

/// The failure for a Graph 404, by what was asked: only the directory says whether a user
/// exists; a 404 of the authentication-methods endpoints has other causes (a guest named by
/// UPN, for one).
fn not_found(error: &GraphError, user: Option<&UserRef>) -> Failure {
    let operation = error.operation.describe();
    let answer = error.kind.answer().unwrap_or_default();
    match error.operation {
        GraphOperation::ReadUser => {
            let named = match user {
                Some(UserRef::ObjectId(id)) => format!("with object id {id}"),
                Some(UserRef::PrincipalName(name)) => format!("with user principal name {name}"),
                None => "named".to_owned(),
            };
            Failure::for_field(
                ErrorCode::UserNotFound,
                "UserId",
                format!("no user {named} exists in the tenant"),
            )
        }
        GraphOperation::ReadPhoneMethods | GraphOperation::ReadMethods => Failure::new(
            ErrorCode::GraphRejected,
            format!(
                "the directory knows the user, but Graph's authentication methods service \
                 answered {answer} for them; if the user was just created or deleted, try \
                 again in a few minutes"
            ),
        ),
        _ => Failure::new(
            ErrorCode::GraphRejected,
            format!("Graph could not {operation}: {answer}"),
        ),
    }
}

/// The stop for a write the tenant's state does not explain, once reading again confirmed that
/// Graph refuses it.
pub(super) fn of_refused_write(write: Write, phone_type: PhoneType, error: &GraphError) -> Stop {
    match &error.kind {
        // The method is there with the number, no alternate blocks it, and Graph still will
        // not delete it: the one documented rule left is the default-method rule.
        GraphErrorKind::Rejected {
            rejection: Rejection::BadRequest,
            ..
        } if write == Write::Remove => Stop::new(Failure::new(
            ErrorCode::CannotDeleteDefaultMethod,
            format!(
                "Graph will not remove the {phone_type} phone because it is the user's \
                     default sign-in method and other methods exist: change the user's default \
                     method first (Entra admin center, user, Authentication methods)"
            ),
        )),
        _ => of_graph(error, None),
    }
}

/// The refusal of a protected account, saying why and who can do it instead.
pub(super) fn protected(user: &DirectoryUser, reasons: &[String]) -> Stop {
    Stop::new(Failure::new(
        ErrorCode::ProtectedUser,
        format!(
            "{} is a protected account: the user {}. This app does not add, change or remove the \
             phone methods of privileged or protected accounts; a Privileged Authentication \
             Administrator (or a Global Administrator) can, in the Entra admin center (the user, \
             Authentication methods). Nothing was changed",
            user.user_principal_name.as_deref().unwrap_or(&user.id),
            reasons.join("; the user ")
        ),
    ))
}

/// The refusal when whether the user is protected could not be checked: nothing is written
/// unchecked.
pub(super) fn protection_unknown(user: &DirectoryUser, error: &GraphError) -> Stop {
    let retry_after = match &error.kind {
        GraphErrorKind::Unavailable { retry_after, .. } => *retry_after,
        _ => None,
    };
    let remedy = match &error.kind {
        GraphErrorKind::Forbidden { .. } => format!(
            "grant the Function App's identity {}",
            error.operation.permission()
        ),
        _ => "try again later".to_owned(),
    };
    Stop::retry(
        Failure::new(
            ErrorCode::ProtectionUnknown,
            format!(
                "whether {} holds a privileged role or is in a protected group could not be \
                 checked ({error}), so nothing was written: {remedy}",
                user.user_principal_name.as_deref().unwrap_or(&user.id)
            ),
        ),
        retry_after,
    )
}

/// The stop for Graph's verdict that the number is not valid.
pub(super) fn invalid_number(number: &PhoneNumber) -> Stop {
    Stop::new(Failure::for_field(
        ErrorCode::InvalidPhoneNumber,
        "phoneNumber",
        format!(
            "Graph rejected the number {number} as not valid for a phone method; check the number"
        ),
    ))
}

/// The stop for a plan's refusal.
pub(super) fn of_refusal(phone_type: PhoneType, refusal: &Refusal) -> Stop {
    Stop::new(match refusal {
        Refusal::AlternateMobileRequiresMobile => Failure::new(
            ErrorCode::AlternateMobileRequiresMobile,
            "the user has no mobile phone: Graph accepts an alternate mobile phone only after \
             a mobile phone; set the mobile phone first",
        ),
        Refusal::MobileHasAlternate => Failure::new(
            ErrorCode::MobileHasAlternate,
            "the mobile phone cannot be removed while an alternate mobile phone exists: remove \
             the alternate mobile phone first, or set the mobile phone to the new number and \
             then remove the alternate",
        ),
        Refusal::NumberMismatch { registered } => Failure::new(
            ErrorCode::NumberMismatch,
            format!(
                "the {phone_type} phone registered is {registered}, not the number given: \
                 nothing was removed; give the registered number to remove it, or, over HTTP, \
                 send removeRegisteredNumber: true without phoneNumber to remove whatever number \
                 is registered"
            ),
        ),
    })
}

/// The stop for a lease that could not be had or kept: the user is busy on another instance,
/// and trying again shortly is safe because nothing was written.
pub(super) fn lease_busy(error: &LeaseError) -> Stop {
    Stop::retry(
        Failure::new(
            ErrorCode::UserBusy,
            format!(
                "{error}; nothing was written, so the request may be sent again (a queue message \
                 is delivered again by itself)"
            ),
        ),
        Some(LEASE_RETRY_AFTER),
    )
}

/// The stop after Graph's 409 `phoneNumberNotUnique` when no read of the method answered, so
/// nothing says whether it was written anyway; `unavailable` is the last read's transient
/// failure.
pub(super) fn conflict_unverified(phone_type: PhoneType, unavailable: Option<&GraphError>) -> Stop {
    let Stop {
        failure,
        retry_after,
    } = match unavailable {
        Some(error) => of_graph(error, None),
        None => Stop::new(Failure::new(
            ErrorCode::GraphUnavailable,
            "Graph could not be read",
        )),
    };
    Stop::retry(
        Failure::new(
            failure.code,
            format!(
                "Graph answered 409 phoneNumberNotUnique, and the {phone_type} phone could not be \
                 read back to see whether it was written anyway: {}",
                failure.message
            ),
        ),
        retry_after,
    )
}

/// The stop for a number Graph did not set because another user holds it for SMS sign-in.
pub(super) fn held_elsewhere(number: &PhoneNumber) -> Stop {
    Stop::new(Failure::new(
        ErrorCode::PhoneNumberNotUnique,
        format!(
            "Graph did not set {number}: another user holds it for SMS sign-in. Remove it from \
             that user (or disable their SMS sign-in), then try again"
        ),
    ))
}
