//! The runbook's logic: read the tenant, plan, write, verify, and report.
//!
//! One invocation reads the user and their phone methods in one round trip of latency, asks
//! [`crate::plan::plan`] what to do, and carries out at most one write per plan. When a write's
//! outcome is uncertain (Graph unavailable, or a rejection that a concurrent change could
//! explain) it reads the methods again and plans again, so redelivered and concurrent requests
//! converge instead of repeating writes blindly. Everything the admin should read goes through
//! the [`Journal`]; the result goes into the [`Report`].

use std::time::Duration;

use tokio::sync::Semaphore;

use crate::graph::{DirectoryUser, GraphClient, GraphError, GraphErrorKind, GraphOperation};
use crate::journal::Journal;
use crate::locks::UserLocks;
use crate::notify::Notifier;
use crate::owner::OwnerSearch;
use crate::phone::{PhoneMethod, PhoneNumber, PhoneType, redact_numbers};
use crate::plan::{Plan, Refusal, Settled, Write, find, plan};
use crate::report::{Action, ErrorCode, Failure, MethodSummary, Report, UserSummary, WarningCode};
use crate::request::{Operation, Request, SmsSignIn};
use crate::user::UserRef;

/// What the runbook needs from the process: shared, built once.
pub struct Services {
    pub graph: GraphClient,
    pub locks: UserLocks,
    /// Bounds how many users are worked on at once.
    pub concurrency: Semaphore,
    /// The most one invocation may take.
    pub invocation_budget: Duration,
    /// How long to keep re-reading a write's outcome before deciding (after a 409
    /// `phoneNumberNotUnique`, or a refusal the tenant's state does not explain).
    pub verification: Duration,
    pub owner_search: OwnerSearch,
    pub notifier: Notifier,
}

/// How many times one invocation plans and writes before it gives up on a moving target.
const MAX_WRITES: u32 = 3;

/// Runs one request to its end, filling in `report` and `journal`.
pub async fn run(
    services: &Services,
    request: &Request,
    report: &mut Report,
    journal: &mut Journal,
) {
    report.dry_run = request.dry_run;
    journal.record(describe_request(request));
    if request.notify_user && !services.notifier.is_configured() {
        // Refused before anything is read or written, as the runbook does without EmailFrom:
        // the caller expects the user to hear of the change.
        fail(
            report,
            journal,
            Failure::for_field(
                ErrorCode::InvalidRequest,
                "NotifyUser",
                "NotifyUser asks for an e-mail to the user, but this deployment has no sender \
                 mailbox (app setting MFA_NOTIFY_SENDER); nothing was changed",
            ),
        );
        return;
    }
    let deadline = tokio::time::Instant::now() + services.invocation_budget;
    let user = carry_out(services, request, deadline, report, journal).await;
    services
        .notifier
        .notify(
            &services.graph,
            user.as_ref(),
            request,
            deadline,
            report,
            journal,
        )
        .await;
}

/// Reads, plans, writes and verifies; returns the user when they could be read.
async fn carry_out(
    services: &Services,
    request: &Request,
    deadline: tokio::time::Instant,
    report: &mut Report,
    journal: &mut Journal,
) -> Option<DirectoryUser> {
    // The user's lock first, then a permit: invocations queued behind one busy user must not
    // hold permits that other users could use.
    let _caller_lock = services.locks.lock(&request.user.lock_key()).await;
    let Ok(_permit) = services.concurrency.acquire().await else {
        fail(
            report,
            journal,
            Failure::new(ErrorCode::Internal, "the handler is shutting down"),
        );
        return None;
    };
    let writes_before = services.locks.write_serial();
    let ((user, methods), ()) = tokio::join!(
        services.graph.user_and_phone_methods(&request.user),
        services.notifier.prepare(&services.graph, request)
    );
    let user = match user {
        Ok(user) => user,
        Err(error) => {
            fail_graph(report, journal, &error, Some(&request.user));
            return None;
        }
    };
    report.user = Some(UserSummary {
        id: user.id.clone(),
        user_principal_name: user.user_principal_name.clone(),
        display_name: user.display_name.clone(),
        user_type: user.user_type.clone(),
    });
    journal.record(describe_user(&user));
    if user.is_guest() {
        let message = "the user is a B2B guest: the number works for MFA by call and text, \
                       but SMS sign-in is not available to guests";
        report.warn(WarningCode::GuestUser, message);
        journal.record(format!("Note: {message}"));
    }
    let object_id = match UserRef::parse(&user.id) {
        Ok(object_id @ UserRef::ObjectId(_)) => object_id,
        _ => {
            fail(
                report,
                journal,
                Failure::new(
                    ErrorCode::GraphRejected,
                    "Graph returned a user whose id is not an object id",
                ),
            );
            return None;
        }
    };
    // A caller who named the user by UPN is serialised with callers who used the object id;
    // if one of them wrote to this user since our read began, that read is stale.
    let _id_lock = if object_id.lock_key() == request.user.lock_key() {
        None
    } else {
        Some(services.locks.lock(&object_id.lock_key()).await)
    };
    let methods = if services
        .locks
        .written_since(&object_id.lock_key(), writes_before)
    {
        services.graph.phone_methods(&object_id).await
    } else {
        methods
    };
    let methods = match methods {
        Ok(methods) => methods,
        Err(error) => {
            fail_graph(report, journal, &error, Some(&request.user));
            return None;
        }
    };
    journal.record(describe_current(request.phone_type, &methods));
    let context = Invocation {
        services,
        request,
        object_id: &object_id,
        deadline,
    };
    let outcome = converge(&context, methods, report, journal).await;
    if let Some(method) = outcome
        && request.sms_sign_in != SmsSignIn::Leave
        && report.error.is_none()
    {
        if request.dry_run {
            journal.record(format!(
                "Dry run: would then {} SMS sign-in (now {})",
                if request.sms_sign_in == SmsSignIn::Enable {
                    "enable"
                } else {
                    "disable"
                },
                method.sms_sign_in_state.as_deref().unwrap_or("unknown")
            ));
        } else {
            switch_sms_sign_in(&context, method, report, journal).await;
        }
    }
    Some(user)
}

/// What every step of one invocation works with.
#[derive(Clone, Copy)]
struct Invocation<'a> {
    services: &'a Services,
    request: &'a Request,
    /// The user's object id, resolved once; every later call uses it.
    object_id: &'a UserRef,
    /// When the invocation must be done.
    deadline: tokio::time::Instant,
}

/// Plans and writes until the tenant holds what was asked, or a definite failure. Returns the
/// method of the requested type after success, for the SMS sign-in step.
async fn converge(
    context: &Invocation<'_>,
    mut methods: Vec<PhoneMethod>,
    report: &mut Report,
    journal: &mut Journal,
) -> Option<PhoneMethod> {
    let Invocation {
        services,
        request,
        object_id,
        ..
    } = *context;
    let graph = &services.graph;
    let phone_type = request.phone_type;
    let number = &request.phone_number;
    let mut writes = 0;
    // The last write Graph refused outright, to tell a refusal the tenant explains (someone
    // else changed it) from one it does not.
    let mut refused: Option<(Write, GraphError)> = None;
    // The last write whose outcome we never learned: if the tenant now holds what we asked,
    // that write did it.
    let mut unconfirmed: Option<Write> = None;
    loop {
        let mut decision = plan(request.operation, phone_type, number, &methods);
        if let Some((previous, error)) = refused.take()
            && decision == Plan::Write(previous)
        {
            // A read that lags behind a recent write can make Graph's refusal look unexplained:
            // read again after short waits before concluding.
            let settle = services.verification.min(SETTLE_AFTER_REFUSAL);
            let reread = poll_until(settle, || async {
                let methods = graph.phone_methods(object_id).await?;
                let changed =
                    plan(request.operation, phone_type, number, &methods) != Plan::Write(previous);
                Ok::<_, GraphError>(changed.then_some(methods))
            })
            .await;
            match reread {
                Ok(Some(fresh)) => {
                    methods = fresh;
                    decision = plan(request.operation, phone_type, number, &methods);
                }
                Ok(None) => {
                    fail_write(report, journal, previous, phone_type, &error);
                    return None;
                }
                Err(read_error) => {
                    fail_graph(report, journal, &read_error, None);
                    return None;
                }
            }
        }
        let write = match decision {
            Plan::Done(settled) => {
                let current = find(&methods, phone_type).cloned();
                match unconfirmed {
                    Some(write) if settled_by(write, settled) => {
                        journal.record(format!(
                            "{} (Graph's answer was lost; reading back confirms it)",
                            past_tense(write, phone_type, number, &[])
                        ));
                        report.phone_method = current.as_ref().map(summary);
                        report.succeed(action_of(write));
                    }
                    _ => settle(request, settled, current.as_ref(), report, journal),
                }
                return current;
            }
            Plan::Refuse(refusal) => {
                fail(report, journal, refusal_failure(phone_type, &refusal));
                return None;
            }
            Plan::Write(write) => write,
        };
        if request.dry_run {
            let predicted = match write {
                Write::Remove => None,
                Write::Add | Write::Update => Some(planned_method(phone_type, number)),
            };
            report.phone_method = predicted.as_ref().map(summary);
            report.succeed(action_of(write));
            journal.record(format!(
                "Dry run: would {} (nothing was written)",
                describe_write(write, phone_type, number, &methods)
            ));
            return predicted;
        }
        writes += 1;
        let outcome = execute(graph, object_id, write, phone_type, number).await;
        // Whatever Graph answered, the user may have changed: readers that began before this
        // must read again.
        services.locks.note_write(&object_id.lock_key());
        let error = match outcome {
            Ok(after) => {
                journal.record(past_tense(write, phone_type, number, &methods));
                report.phone_method = after.as_ref().map(summary);
                report.succeed(action_of(write));
                return after;
            }
            Err(error) => error,
        };
        if is_conflict(&error) {
            return resolve_conflict(context, write, &methods, report, journal).await;
        }
        match &error.kind {
            GraphErrorKind::Forbidden { .. } | GraphErrorKind::Credential { .. } => {
                fail_graph(report, journal, &error, None);
                return None;
            }
            GraphErrorKind::Rejected {
                status: 400, code, ..
            } if code == "invalidPhoneNumber" => {
                fail(
                    report,
                    journal,
                    Failure::for_field(
                        ErrorCode::InvalidPhoneNumber,
                        "phoneNumber",
                        format!(
                            "Graph rejected the number {number} as not valid for a phone method; \
                             check the number"
                        ),
                    ),
                );
                return None;
            }
            _ if writes >= MAX_WRITES => {
                fail_write(report, journal, write, phone_type, &error);
                return None;
            }
            _ => {}
        }
        journal.warn(format!(
            "Could not {}: {}; reading the user's phone methods again before deciding",
            describe_write(write, phone_type, number, &methods),
            error.kind
        ));
        if let GraphErrorKind::Unavailable { retry_after, .. } = &error.kind {
            // Give Graph the pause it asked for (bounded) before reading again.
            let pause = retry_after.unwrap_or(Duration::from_millis(500));
            tokio::time::sleep(pause.min(Duration::from_secs(5))).await;
        }
        methods = match graph.phone_methods(object_id).await {
            Ok(methods) => methods,
            Err(read_error) => {
                // The write's outcome is unknown and the tenant cannot be read: report the
                // write's failure, unless reading failed for a reason of its own.
                let error = match read_error.kind {
                    GraphErrorKind::Unavailable { .. } => error,
                    _ => read_error,
                };
                fail_graph(report, journal, &error, None);
                return None;
            }
        };
        // An unavailable Graph may or may not have acted, so the same write may be tried again;
        // a definite refusal of the same write in the same state is final.
        match error.kind {
            GraphErrorKind::Unavailable { .. } => unconfirmed = Some(write),
            _ => refused = Some((write, error)),
        }
    }
}

/// How long to keep re-reading after Graph refused a write the tenant's state does not explain.
const SETTLE_AFTER_REFUSAL: Duration = Duration::from_secs(2);

/// Whether the tenant being `settled` means `write` took effect.
fn settled_by(write: Write, settled: Settled) -> bool {
    matches!(
        (write, settled),
        (Write::Add | Write::Update, Settled::Unchanged) | (Write::Remove, Settled::NotPresent)
    )
}

/// Carries out one write; returns the method of the requested type after it, as far as
/// Graph told us.
async fn execute(
    graph: &GraphClient,
    object_id: &UserRef,
    write: Write,
    phone_type: PhoneType,
    number: &PhoneNumber,
) -> Result<Option<PhoneMethod>, GraphError> {
    match write {
        Write::Add => {
            let created = graph
                .add_phone_method(object_id, phone_type, number)
                .await?;
            Ok(Some(
                created.unwrap_or_else(|| planned_method(phone_type, number)),
            ))
        }
        Write::Update => {
            graph
                .update_phone_method(object_id, phone_type, number)
                .await?;
            Ok(Some(planned_method(phone_type, number)))
        }
        Write::Remove => {
            graph.remove_phone_method(object_id, phone_type).await?;
            Ok(None)
        }
    }
}

fn is_conflict(error: &GraphError) -> bool {
    matches!(
        &error.kind,
        GraphErrorKind::Rejected { status: 409, code, .. } if code == "phoneNumberNotUnique"
    )
}

/// After a 409 `phoneNumberNotUnique`: Graph usually wrote the MFA method and only refused
/// SMS sign-in. Read the method back promptly, then after short growing waits, until the
/// number shows up or the verification budget is spent.
async fn resolve_conflict(
    context: &Invocation<'_>,
    write: Write,
    before: &[PhoneMethod],
    report: &mut Report,
    journal: &mut Journal,
) -> Option<PhoneMethod> {
    let Invocation {
        services,
        request,
        object_id,
        ..
    } = *context;
    let phone_type = request.phone_type;
    let number = &request.phone_number;
    journal.record(format!(
        "Graph answered 409 phoneNumberNotUnique: another user holds {number} for SMS sign-in; \
         checking whether the {phone_type} method was written anyway"
    ));
    let graph = &services.graph;
    let verified = poll_until(services.verification, || async move {
        let methods = graph.phone_methods(object_id).await?;
        Ok::<_, GraphError>(
            find(&methods, phone_type)
                .filter(|method| number.is(&method.number))
                .cloned(),
        )
    })
    .await;
    match verified {
        Ok(Some(method)) => {
            let message = format!(
                "MFA by call and text works with {number}; SMS sign-in is not available because \
                 another user holds this number for SMS sign-in"
            );
            report.warn(WarningCode::SmsSignInConflict, message.clone());
            journal.record(past_tense(write, phone_type, number, before));
            journal.warn(format!("Warning: {message}"));
            report.phone_method = Some(summary(&method));
            report.succeed(action_of(write));
            Some(method)
        }
        Ok(None) => {
            fail(
                report,
                journal,
                Failure::new(
                    ErrorCode::PhoneNumberNotUnique,
                    format!(
                        "Graph did not set {number}: another user holds it for SMS sign-in. \
                         Remove it from that user (or disable their SMS sign-in), then try again"
                    ),
                ),
            );
            find_owner(context, report, journal).await;
            None
        }
        Err(error) => {
            fail_graph(report, journal, &error, None);
            None
        }
    }
}

/// Looks for who holds the number, and puts the answer into the report.
async fn find_owner(context: &Invocation<'_>, report: &mut Report, journal: &mut Journal) {
    let Invocation {
        services,
        request,
        object_id,
        deadline,
    } = *context;
    let outcome = services
        .owner_search
        .search(
            &services.graph,
            &request.phone_number,
            object_id,
            deadline,
            journal,
        )
        .await;
    for (code, message) in outcome.warnings {
        journal.warn(format!("Warning: {message}"));
        report.warn(code, message);
    }
    if let Some(owner) = outcome.owner {
        journal.warn(format!(
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
        report.conflict_owner = Some(owner);
    }
}

/// Enables or disables SMS sign-in on the mobile method, as the caller asked.
async fn switch_sms_sign_in(
    context: &Invocation<'_>,
    method: PhoneMethod,
    report: &mut Report,
    journal: &mut Journal,
) {
    let Invocation {
        services,
        request,
        object_id,
        ..
    } = *context;
    let enable = request.sms_sign_in == SmsSignIn::Enable;
    let state = method.sms_sign_in_state.as_deref();
    let already = if enable {
        state == Some("ready")
    } else {
        matches!(
            state,
            Some("notEnabled" | "notAllowedByPolicy" | "notSupported")
        )
    };
    let verb = if enable { "enable" } else { "disable" };
    if already {
        journal.record(format!(
            "SMS sign-in is already {} ({}); nothing to {verb}",
            if enable { "on" } else { "off" },
            state.unwrap_or("unknown")
        ));
        return;
    }
    let graph = &services.graph;
    let switched = graph.set_sms_sign_in(object_id, enable).await;
    services.locks.note_write(&object_id.lock_key());
    match switched {
        Ok(()) => {
            journal.record(format!("Asked Graph to {verb} SMS sign-in"));
        }
        Err(error) => {
            match &error.kind {
                GraphErrorKind::Rejected {
                    status,
                    code,
                    message,
                } => {
                    let failure = Failure::for_field(
                        ErrorCode::SmsSignInNotAllowed,
                        "smsSignIn",
                        format!(
                            "the {} phone was set, but Graph refused to {verb} SMS sign-in ({status} \
                             {code}: {}); check the Authentication Methods Policy for SMS and \
                             that no other user holds the number for SMS sign-in",
                            request.phone_type,
                            redact_numbers(message)
                        ),
                    );
                    fail(report, journal, failure);
                }
                _ => fail_graph(report, journal, &error, None),
            }
            return;
        }
    }
    // Report the state Graph now holds rather than the one we hoped for.
    match graph.phone_methods(object_id).await {
        Ok(methods) => {
            if let Some(after) = find(&methods, PhoneType::Mobile) {
                journal.record(format!(
                    "SMS sign-in is now {}",
                    after.sms_sign_in_state.as_deref().unwrap_or("unknown")
                ));
                report.phone_method = Some(summary(after));
            }
        }
        Err(error) => {
            journal.warn(format!(
                "Could not read back the SMS sign-in state: {}",
                error.kind
            ));
        }
    }
}

/// Re-runs `read` promptly and then after growing waits until it yields something or
/// `budget` is spent. Waits are 0.25 s, 0.5 s, 1 s, … capped at 2 s; the final read happens
/// at the end of the budget.
pub async fn poll_until<T, E, F, Fut>(budget: Duration, mut read: F) -> Result<Option<T>, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, E>>,
{
    let started = tokio::time::Instant::now();
    let mut wait = Duration::from_millis(250);
    loop {
        if let Some(found) = read().await? {
            return Ok(Some(found));
        }
        let elapsed = started.elapsed();
        if elapsed >= budget {
            return Ok(None);
        }
        tokio::time::sleep(wait.min(budget - elapsed)).await;
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

fn settle(
    request: &Request,
    settled: Settled,
    current: Option<&PhoneMethod>,
    report: &mut Report,
    journal: &mut Journal,
) {
    let phone_type = request.phone_type;
    match settled {
        Settled::Unchanged => {
            journal.record(format!(
                "The {phone_type} phone already is {}; no change needed",
                request.phone_number
            ));
            report.phone_method = current.map(summary);
            report.succeed(Action::Unchanged);
        }
        Settled::NotPresent => {
            journal.record(format!(
                "No {phone_type} phone is registered; nothing to remove"
            ));
            report.phone_method = None;
            report.succeed(Action::NotPresent);
        }
    }
}

fn refusal_failure(phone_type: PhoneType, refusal: &Refusal) -> Failure {
    match refusal {
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
                 nothing was removed; give the registered number to remove it"
            ),
        ),
    }
}

/// The failure for a write that the tenant's state does not explain.
fn fail_write(
    report: &mut Report,
    journal: &mut Journal,
    write: Write,
    phone_type: PhoneType,
    error: &GraphError,
) {
    match &error.kind {
        // The method is there with the number, no alternate blocks it, and Graph still will
        // not delete it: the one documented rule left is the default-method rule.
        GraphErrorKind::Rejected { status: 400, .. } if write == Write::Remove => fail(
            report,
            journal,
            Failure::new(
                ErrorCode::CannotDeleteDefaultMethod,
                format!(
                    "Graph will not remove the {phone_type} phone because it is the user's \
                     default sign-in method and other methods exist: change the user's default \
                     method first (Entra admin center, user, Authentication methods)"
                ),
            ),
        ),
        _ => fail_graph(report, journal, error, None),
    }
}

fn fail_graph(
    report: &mut Report,
    journal: &mut Journal,
    error: &GraphError,
    user: Option<&UserRef>,
) {
    let operation = error.operation.describe();
    let failure = match &error.kind {
        GraphErrorKind::NotFound { .. }
            if matches!(
                error.operation,
                GraphOperation::ReadUser | GraphOperation::ReadPhoneMethods
            ) =>
        {
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
        GraphErrorKind::Forbidden { status, code } => Failure::new(
            ErrorCode::GraphForbidden,
            format!(
                "Graph refused to let the Function App's identity {operation} ({status} {code}): \
                 grant it the application permission {}; a new grant can take some time to \
                 reach the identity's token",
                error.operation.permission()
            ),
        ),
        GraphErrorKind::Unavailable {
            retry_after,
            detail,
        } => {
            report.retry_after = *retry_after;
            Failure::new(
                ErrorCode::GraphUnavailable,
                format!(
                    "Graph stayed throttled or unavailable, so the handler could not {operation} ({detail}); nothing more was changed, try again later"
                ),
            )
        }
        GraphErrorKind::Credential { detail } => Failure::new(
            ErrorCode::IdentityUnavailable,
            format!(
                "no token could be obtained for the Function App's identity ({detail}); check \
                 that the app has its managed identity and try again"
            ),
        ),
        GraphErrorKind::Rejected {
            status,
            code,
            message,
        } => Failure::new(
            ErrorCode::GraphRejected,
            format!(
                "Graph refused to {operation}: {status} {code}{}",
                if message.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", redact_numbers(message))
                }
            ),
        ),
        GraphErrorKind::NotFound { status, code } => Failure::new(
            ErrorCode::GraphRejected,
            format!("Graph could not {operation}: {status} {code}"),
        ),
        GraphErrorKind::Malformed { detail } => Failure::new(
            ErrorCode::GraphRejected,
            format!("Graph's answer when trying to {operation} could not be used: {detail}"),
        ),
    };
    fail(report, journal, failure);
}

fn fail(report: &mut Report, journal: &mut Journal, failure: Failure) {
    journal.warn(format!("Failed: {}", failure.message));
    report.fail(failure);
}

fn summary(method: &PhoneMethod) -> MethodSummary {
    MethodSummary {
        id: method.phone_type.method_id().to_owned(),
        phone_type: method.phone_type.as_str().to_owned(),
        phone_number: method.number.as_graph_text().to_owned(),
        sms_sign_in_state: method.sms_sign_in_state.clone(),
    }
}

/// The method we expect after a write Graph answers without a body.
fn planned_method(phone_type: PhoneType, number: &PhoneNumber) -> PhoneMethod {
    PhoneMethod {
        phone_type,
        number: crate::phone::RegisteredNumber::new(number.graph_format()),
        sms_sign_in_state: None,
    }
}

fn action_of(write: Write) -> Action {
    match write {
        Write::Add => Action::Added,
        Write::Update => Action::Updated,
        Write::Remove => Action::Removed,
    }
}

fn describe_request(request: &Request) -> String {
    // A caller name is free text: it may carry a number, so it is redacted like Graph's text.
    let by = request
        .caller_name
        .as_deref()
        .map(|caller| format!(" (requested by {})", redact_numbers(caller)))
        .unwrap_or_default();
    let dry = if request.dry_run { " [dry run]" } else { "" };
    match request.operation {
        Operation::Set => format!(
            "Set the {} phone of {} to {}{by}{dry}",
            request.phone_type, request.user, request.phone_number
        ),
        Operation::Remove => format!(
            "Remove the {} phone {} from {}{by}{dry}",
            request.phone_type, request.phone_number, request.user
        ),
    }
}

fn describe_user(user: &DirectoryUser) -> String {
    format!(
        "User: {} ({}), object id {}, {}",
        user.display_name.as_deref().unwrap_or("(no display name)"),
        user.user_principal_name.as_deref().unwrap_or("(no UPN)"),
        user.id,
        user.user_type.as_deref().unwrap_or("user type unknown")
    )
}

fn describe_current(phone_type: PhoneType, methods: &[PhoneMethod]) -> String {
    match find(methods, phone_type) {
        Some(method) => format!(
            "Current {phone_type} phone: {} (SMS sign-in: {})",
            method.number,
            method.sms_sign_in_state.as_deref().unwrap_or("unknown")
        ),
        None => format!("No {phone_type} phone is registered"),
    }
}

fn describe_write(
    write: Write,
    phone_type: PhoneType,
    number: &PhoneNumber,
    methods: &[PhoneMethod],
) -> String {
    let (verb, _, object) = write_phrase(write, phone_type, number, methods);
    format!("{verb} {object}")
}

fn past_tense(
    write: Write,
    phone_type: PhoneType,
    number: &PhoneNumber,
    methods: &[PhoneMethod],
) -> String {
    let (_, done, object) = write_phrase(write, phone_type, number, methods);
    format!("{done} {object}")
}

/// A write in words: its verb, the verb in the past tense, and what it acts on.
fn write_phrase(
    write: Write,
    phone_type: PhoneType,
    number: &PhoneNumber,
    methods: &[PhoneMethod],
) -> (&'static str, &'static str, String) {
    match write {
        Write::Add => ("add", "Added", format!("the {phone_type} phone {number}")),
        Write::Update => (
            "change",
            "Changed",
            match find(methods, phone_type) {
                Some(current) => {
                    format!("the {phone_type} phone from {} to {number}", current.number)
                }
                None => format!("the {phone_type} phone to {number}"),
            },
        ),
        Write::Remove => (
            "remove",
            "Removed",
            format!("the {phone_type} phone {number}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn polling_reads_promptly_then_after_growing_waits_within_the_budget() {
        let started = tokio::time::Instant::now();
        let mut reads = Vec::new();
        let found: Result<Option<()>, ()> = poll_until(Duration::from_secs(4), || {
            reads.push(started.elapsed());
            async { Ok(None) }
        })
        .await;
        assert_eq!(found, Ok(None));
        let millis: Vec<u128> = reads.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [0, 250, 750, 1750, 3750, 4000]);
    }

    #[tokio::test(start_paused = true)]
    async fn polling_stops_at_the_first_success() {
        let started = tokio::time::Instant::now();
        let mut count = 0;
        let found: Result<Option<u32>, ()> = poll_until(Duration::from_secs(10), || {
            count += 1;
            let value = (count == 3).then_some(count);
            async move { Ok(value) }
        })
        .await;
        assert_eq!(found, Ok(Some(3)));
        assert_eq!(started.elapsed(), Duration::from_millis(750));
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_budget_reads_exactly_once() {
        let mut count = 0;
        let found: Result<Option<()>, ()> = poll_until(Duration::ZERO, || {
            count += 1;
            async { Ok(None) }
        })
        .await;
        assert_eq!(found, Ok(None));
        assert_eq!(count, 1);
    }
}
