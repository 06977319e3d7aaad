//! Removing whatever number a phone type holds (`removeRegisteredNumber`, over HTTP only), as
//! the RealmJoin runbook did, without its risk: the number removed is the one the request saw
//! before it waited for anything (the user's lock, another instance's lease). The removal then
//! names that number, so a number set by someone else in the meantime is refused as a
//! mismatch, never deleted. A removal from the readiness scan's `cleanup.csv` names its number
//! by a keyed fingerprint instead (`numberFingerprint`): the number registered is removed only
//! when its fingerprint matches. It decides from what was read; it reads nothing itself.

use super::failure::Stop;
use crate::graph::GraphError;
use crate::methods::AuthenticationMethods;
use crate::outcome::Outcome;
use crate::phone::CleanupKey;
use crate::phone::{PhoneNumber, RegisteredNumber};
use crate::plan::find;
use crate::report::{ErrorCode, Failure};
use crate::request::{Operation, Request};

/// What a removal of whatever is registered saw of its phone type.
pub(super) enum Seen {
    /// The request names its number: nothing to see.
    NotAsked,
    /// The phone type's number as first read (`None`: no method of the type).
    Read(Option<RegisteredNumber>),
    /// No read can stand for the state before the wait (a guest named by UPN, written to
    /// meanwhile).
    Unknown,
}

/// What the removal comes to.
pub(super) enum Named {
    /// The request as it was asked (it names its number).
    AsAsked,
    /// The request naming the number seen.
    Number(Request),
    /// Nothing was registered when the request was read: nothing is removed, also when a
    /// number was set since.
    NothingRegistered,
}

/// What `methods` show of the request's phone type, when the request removes whatever is
/// registered.
pub(super) fn seen_in(
    request: &Request,
    methods: &Result<AuthenticationMethods, GraphError>,
) -> Seen {
    match (&request.operation, methods) {
        (Operation::Remove(None), Ok(methods)) => {
            Seen::Read(find(&methods.phone, request.phone_type).map(|method| method.number.clone()))
        }
        (Operation::Remove(None), Err(_)) => Seen::Unknown,
        _ => Seen::NotAsked,
    }
}

/// The removal to carry out, from what was seen.
///
/// # Errors
///
/// Nothing can be named safely: what was registered is not known, or is no number the
/// numbering plan reads.
pub(super) fn name(
    request: &Request,
    seen: Seen,
    key: Option<&CleanupKey>,
    outcome: &mut Outcome,
) -> Result<Named, Stop> {
    let phone_type = request.phone_type;
    let registered = match seen {
        Seen::NotAsked => return Ok(Named::AsAsked),
        Seen::Unknown => {
            return Err(Stop::new(Failure::new(
                ErrorCode::NumberMismatch,
                format!(
                    "the user's phone methods changed while this request waited, so which \
                     {phone_type} number it meant to remove is not known; nothing was removed: \
                     check the number and send the removal again, naming it (phoneNumber)"
                ),
            )));
        }
        Seen::Read(None) => {
            outcome.note(format!(
                "No {phone_type} phone was registered when the request was read; nothing to \
                 remove (a number set since is left)"
            ));
            return Ok(Named::NothingRegistered);
        }
        Seen::Read(Some(registered)) => registered,
    };
    if let Some(fingerprint) = &request.number_fingerprint {
        let Some(key) = key else {
            return Err(Stop::new(Failure::new(
                ErrorCode::NumberMismatch,
                format!(
                    "the removal names its {phone_type} number by a fingerprint, but \
                     MFA_CLEANUP_KEY is not set in the handler's settings, so it cannot be \
                     checked; nothing was removed: set the same key the readiness scan used"
                ),
            )));
        };
        if !key.matches(fingerprint, registered.as_graph_text()) {
            return Err(Stop::new(Failure::new(
                ErrorCode::NumberMismatch,
                format!(
                    "the registered {phone_type} phone, {registered}, is not the number the \
                     readiness scan saw (its fingerprint differs): it was left; scan again"
                ),
            )));
        }
    }
    let number = PhoneNumber::parse(registered.as_graph_text()).map_err(|_| {
        Stop::new(Failure::new(
            ErrorCode::GraphRejected,
            format!(
                "the registered {phone_type} phone, {registered}, is not a number the numbering \
                 plan can read, so it is not removed unnamed; nothing was changed: remove it in \
                 the Entra admin center"
            ),
        ))
    })?;
    outcome.note(if request.number_fingerprint.is_some() {
        format!("The registered number matches the readiness scan's fingerprint: removing {number}")
    } else {
        format!(
            "The request named no number (removeRegisteredNumber): removing the one registered \
             when it was read, {number}"
        )
    });
    Ok(Named::Number(Request {
        operation: Operation::Remove(Some(number)),
        ..request.clone()
    }))
}
