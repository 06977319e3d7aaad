//! After a 409 `phoneNumberNotUnique`: Graph usually wrote the MFA method and only refused
//! SMS sign-in. Read the method back promptly, then after short growing waits, until the
//! number shows up or the verification budget is spent; if it never does, the runbook records
//! that and then asks [`find_owner`] who holds the number.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::failure::{self, Stop};
use super::wording::past_tense;
use super::{Run, poll_until};
use crate::graph::{GraphError, GraphErrorKind};
use crate::mutex::lock;
use crate::outcome::Outcome;
use crate::phone::{PhoneMethod, PhoneNumber};
use crate::plan::{Write, find};
use crate::protection::Verdict;
use crate::report::WarningCode;
use crate::user::UserRef;

/// Settles the outcome of `write` after Graph's 409; returns the method when it was written.
///
/// # Errors
///
/// The number was not written (another user holds it), or reading back did not tell.
pub(super) async fn resolve(
    run: &Run<'_>,
    write: Write,
    before: &[PhoneMethod],
    outcome: &mut Outcome,
) -> Result<Option<PhoneMethod>, Stop> {
    let phone_type = run.request.phone_type;
    let Some(number) = run.request.operation.number() else {
        // A conflict comes only from setting a number, which always names one.
        return Ok(None);
    };
    outcome.note(format!(
        "Graph answered 409 phoneNumberNotUnique: another user holds {number} for SMS sign-in; \
         checking whether the {phone_type} method was written anyway"
    ));
    let ReadBack {
        verified,
        never_answered,
        unavailable,
    } = read_back(run, number).await;
    match verified {
        Ok(Some(method)) => {
            outcome.note(past_tense(write, phone_type, number, before));
            outcome.warn(WarningCode::SmsSignInConflict, conflict_warning(number));
            outcome.succeed(write.action(), Some(&method));
            Ok(Some(method))
        }
        Ok(None) if never_answered => Err(failure::conflict_unverified(
            phone_type,
            unavailable.as_ref(),
        )),
        Ok(None) => Err(failure::held_elsewhere(number)),
        Err(error) => Err(failure::of_graph(&error, None)),
    }
}

/// What reading the method back within the verification budget found.
struct ReadBack {
    /// The method holding the number, when a read showed it.
    verified: Result<Option<PhoneMethod>, GraphError>,
    /// Whether no read answered at all (so nothing says the method was not written).
    never_answered: bool,
    /// The last transient failure of a read.
    unavailable: Option<GraphError>,
}

/// Reads the method back promptly, then after short growing waits, until it holds `number` or
/// the verification budget is spent. A read that fails transiently is tried again within the
/// budget; only reads that answered tell whether the method was written.
async fn read_back(run: &Run<'_>, number: &PhoneNumber) -> ReadBack {
    let Run {
        services,
        request,
        object_id,
        ..
    } = *run;
    let graph = &services.graph;
    let phone_type = request.phone_type;
    let unavailable: Mutex<Option<GraphError>> = Mutex::new(None);
    let answered = AtomicBool::new(false);
    let verified = poll_until(services.verification, || async {
        match graph.phone_methods(object_id).await {
            Ok(methods) => {
                answered.store(true, Ordering::Relaxed);
                Ok(find(&methods, phone_type)
                    .filter(|method| number.matches(&method.number))
                    .cloned())
            }
            Err(
                error @ GraphError {
                    kind: GraphErrorKind::Unavailable { .. },
                    ..
                },
            ) => {
                *lock(&unavailable) = Some(error);
                Ok(None)
            }
            Err(error) => Err(error),
        }
    })
    .await;
    ReadBack {
        verified,
        never_answered: !answered.load(Ordering::Relaxed),
        unavailable: crate::mutex::into_inner(unavailable),
    }
}

/// Looks for who holds the number Graph would not set, and puts the answer into the outcome.
pub(super) async fn find_owner(run: &Run<'_>, outcome: &mut Outcome) {
    let Run {
        services,
        request,
        object_id,
        deadline,
        ..
    } = *run;
    let Some(number) = request.operation.number() else {
        return;
    };
    let owner = services
        .owner_search
        .search(&services.graph, number, object_id, deadline, outcome)
        .await;
    if let Some(owner) = owner {
        if !may_be_named(services, &owner.id).await {
            outcome.caution(
                "The number is held by an account that is privileged or protected (or whose \
                 protection could not be checked): it is not named here; an administrator can \
                 find it in the Entra admin center",
            );
            return;
        }
        outcome.caution(format!(
            "The number is held by {} ({}), {} phone, SMS sign-in {}, account {}",
            owner.display_name.as_deref().unwrap_or("(no display name)"),
            owner.user_principal_name.as_deref().unwrap_or(&owner.id),
            owner.phone_type,
            owner.sms_sign_in_state.as_deref().unwrap_or("unknown"),
            match owner.account_enabled {
                Some(true) => "enabled",
                Some(false) => "disabled",
                None => "state unknown",
            }
        ));
        outcome.set_conflict_owner(owner);
    }
}

/// Whether the holder of a number may be named to the caller: not when they are privileged or
/// protected (naming them, with their SMS sign-in state, points an attacker at an
/// administrator's phone number), nor when that cannot be checked. One membership check, made
/// only after a conflict whose holder was found.
async fn may_be_named(services: &super::Services, holder: &str) -> bool {
    let Ok(holder_ref) = UserRef::parse(holder) else {
        return false;
    };
    let holders = services.protection.role_holders(&services.graph).await;
    let mut checks = super::read::Checks {
        holders,
        policy: None,
        member_of: None,
    };
    let member_of = super::read::membership_of(services, &mut checks, &holder_ref, false).await;
    matches!(
        services
            .protection
            .verdict(&checks.holders, &member_of, holder_ref.as_str()),
        Verdict::Clear
    )
}

/// The warning for a method written for MFA whose number another user holds for SMS sign-in.
pub(super) fn conflict_warning(number: &PhoneNumber) -> String {
    format!(
        "MFA by call and text works with {number}; SMS sign-in is not available because another \
         user holds this number for SMS sign-in"
    )
}
