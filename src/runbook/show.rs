//! `show`: the user, their phone methods and other methods, and what the policy lets them
//! use, read in one round trip (two for a guest named by UPN), with nothing written. The
//! registered number is masked unless the caller asks for it in full and may have it
//! ([`Reveal`]): never for a privileged or protected account. Of such an account (or one
//! whose protection cannot be checked) nothing that would help take it over is shown: not its
//! methods, not its SMS sign-in state, not whether phone is its only MFA; the answer says it
//! is protected.

use std::time::Duration;

use super::failure::{self, Stop};
use super::picture::Picture;
use super::wording::describe_current;
use super::{Services, acquire_permit, read};
use crate::outcome::Outcome;
use crate::phone::redact_numbers;
use crate::plan::find;
use crate::protection::Verdict;
use crate::report::{Action, ErrorCode, Failure, WarningCode};
use crate::request::ShowRequest;

/// Whether this invocation may hand out a registered number in full, if the request asks
/// (`revealNumber`) and the account is not protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reveal {
    /// Over HTTP, to a caller Microsoft Entra authenticated.
    Allowed,
    /// Not through this trigger or to this caller; the reason, in words.
    Refused(&'static str),
}

/// Shows the user's methods and what the policy lets them use, writing nothing: one round
/// trip (two for a guest named by UPN, and for a user named by UPN when there are groups to
/// check: the protection check is made for the object id), no lock.
pub async fn show(
    services: &Services,
    request: &ShowRequest,
    reveal: Reveal,
    budget: Duration,
    outcome: &mut Outcome,
) {
    outcome.note(format!(
        "Show the authentication methods of {}{}",
        request.user,
        request
            .caller_name
            .as_deref()
            .map(|caller| format!(" (requested by {})", redact_numbers(caller)))
            .unwrap_or_default()
    ));
    let wants_number = request.reveal_number && reveal == Reveal::Allowed;
    if let (true, Reveal::Refused(why)) = (request.reveal_number, reveal) {
        outcome.warn(
            WarningCode::NumberNotRevealed,
            format!("the number is shown masked: revealNumber is honoured {why}"),
        );
    }
    let run = read_and_show(services, request, wants_number, outcome);
    // The one place a look's failure goes into the outcome.
    match tokio::time::timeout(budget, run).await {
        Ok(Ok(())) => {}
        Ok(Err(stop)) => stop.record(outcome),
        Err(_) => outcome.fail(Failure::new(
            ErrorCode::GraphUnavailable,
            format!(
                "Graph did not answer within the invocation's time budget ({} s)",
                budget.as_secs()
            ),
        )),
    }
}

/// Reads the user and their methods and shows them (the number masked unless revealed); of a
/// protected account, or one whose protection cannot be checked, nothing but that.
///
/// # Errors
///
/// The handler is shutting down, or the user or their methods could not be read.
async fn read_and_show(
    services: &Services,
    request: &ShowRequest,
    wants_number: bool,
    outcome: &mut Outcome,
) -> Result<(), Stop> {
    let _permit = acquire_permit(services).await?;
    // The protection verdict is needed whether or not the number is asked for: it decides
    // what may be shown at all.
    let read::FirstRead {
        user,
        methods,
        mut checks,
    } = read::first_read(services, &request.user, true).await;
    let (user, object_id) = read::accept_user(user, &request.user, outcome)?;
    let named_otherwise = object_id.lock_key() != request.user.lock_key();
    // A number to be revealed is read by the object id the verdict is made for, not by a
    // UPN that might have moved to someone else in between (in the same round trip as the
    // membership check).
    let (methods, member_of) = tokio::join!(
        read::by_object_id(
            services,
            &user,
            &object_id,
            named_otherwise,
            wants_number,
            methods
        ),
        read::membership_of(services, &mut checks, &object_id, false)
    );
    let methods = methods.map_err(|error| failure::of_graph(&error, Some(&request.user)))?;
    let verdict = services
        .protection
        .verdict(&checks.holders, &member_of, object_id.as_str());
    if let Some(why) = withheld(&verdict) {
        outcome.note(format!("The methods are not shown: {why}"));
        outcome.warn(
            WarningCode::DetailsWithheld,
            format!("the methods are not shown: {why}"),
        );
        outcome.succeed(Action::None, None);
        return Ok(());
    }
    outcome.note(describe_current(request.phone_type, &methods.phone));
    let picture = Picture {
        user: &user,
        methods: &methods,
        policy: &checks.policy,
        member_of: &member_of,
        safeguards: services.safeguards,
    };
    let current = find(&methods.phone, request.phone_type).cloned();
    picture.show(request.phone_type, outcome);
    outcome.succeed(Action::None, current.as_ref());
    if wants_number && may_reveal(services, outcome) {
        outcome.note("The number is shown in full, as the caller asked (revealNumber)");
    } else {
        outcome.mask_phone_number();
    }
    Ok(())
}

/// Whether a clear account's number may be handed out in full: only when the verdict was a
/// verdict at all. Without the role check every account looks clear, and that is no verdict.
fn may_reveal(services: &Services, outcome: &mut Outcome) -> bool {
    if services.protection.checks_roles() {
        return true;
    }
    outcome.warn(
        WarningCode::NumberNotRevealed,
        "the number is shown masked: the privileged-account check is off \
         (MFA_ALLOW_PRIVILEGED_TARGETS=true), so whether the account is privileged is not known",
    );
    false
}

/// Why the account's methods are not shown, if they are not: it is protected, or whether it is
/// could not be checked (closed).
fn withheld(verdict: &Verdict) -> Option<String> {
    match verdict {
        Verdict::Clear => None,
        Verdict::Protected(_) => Some(
            "the account is privileged or protected (it holds an administrative role, controls \
             the app, or is in a protected group), and what would help take it over is not \
             handed out"
                .to_owned(),
        ),
        Verdict::Unknown(error) => Some(format!(
            "whether the account is privileged or protected could not be checked ({})",
            redact_numbers(&error.to_string())
        )),
    }
}
