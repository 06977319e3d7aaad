//! The claim on one user for one invocation, and the reads made under it: the instance's lock
//! of the caller's name for the user, a concurrency permit, the first read (with the lease
//! alongside for a user named by object id), then for a user named by UPN the object id's lock
//! and lease, and finally the verdict and the reads the wait for the lease may have made stale.
//! What it leaves ([`Ready`]) holds the locks, the permit and the lease until the change is
//! done.

use tokio::sync::SemaphorePermit;

use super::failure::{self, Stop};
use super::{Services, acquire_permit, judge, read, registered};
use crate::claim::{Hold, LeaseError, Moment, UserGuard};
use crate::graph::GraphError;
use crate::methods::AuthenticationMethods;
use crate::outcome::Outcome;
use crate::request::Request;
use crate::user::{DirectoryUser, UserRef};

/// The locks and the permit one invocation holds until it is done (a lock the lease's hold
/// took over is `None` here).
pub(super) struct Guards<'a> {
    _caller_lock: Option<UserGuard>,
    _id_lock: Option<UserGuard>,
    _permit: SemaphorePermit<'a>,
}

/// What the first round trip left: the user as the directory returned them, read under the
/// lock of the caller's name for them.
pub(super) struct Started<'a> {
    caller_lock: Option<UserGuard>,
    permit: SemaphorePermit<'a>,
    /// The write serial when the first read began (to see writes by object id since).
    writes_before: u64,
    /// When the first read was sent (for whether it may stand under the lease).
    read_sent: Moment,
    hold: Hold,
    lease_error: Option<LeaseError>,
    /// For a removal of whatever is registered: the number seen before any wait.
    first_seen: registered::Seen,
    user: DirectoryUser,
    object_id: UserRef,
    methods: Result<AuthenticationMethods, GraphError>,
    checks: read::Checks,
}

/// Why a user is not ready to be changed.
pub(super) struct Unready {
    pub(super) stop: Stop,
    /// The user, for the notifier, when the verdict or the lease stopped the change; `None`
    /// when the user could not be read or claimed, or their methods could not be read.
    pub(super) user: Option<DirectoryUser>,
}

impl From<Stop> for Unready {
    fn from(stop: Stop) -> Unready {
        Unready { stop, user: None }
    }
}

/// Claims the user named in `request` and reads what a change is planned from: [`start`],
/// [`claim_object_id`], then [`ready`].
///
/// # Errors
///
/// A step could not go on (see each).
pub(super) async fn claim_user<'a>(
    services: &'a Services,
    request: &Request,
    deadline: tokio::time::Instant,
    outcome: &mut Outcome,
) -> Result<Ready<'a>, Unready> {
    let started = start(services, request, deadline, outcome).await?;
    let claimed = claim_object_id(services, request, deadline, started).await?;
    ready(services, request, claimed, outcome).await
}

/// Takes the lock of the caller's name for the user and a permit, and makes the first read
/// (with the lease alongside for a user named by object id).
///
/// # Errors
///
/// The handler is shutting down, or the user could not be read.
async fn start<'a>(
    services: &'a Services,
    request: &Request,
    deadline: tokio::time::Instant,
    outcome: &mut Outcome,
) -> Result<Started<'a>, Stop> {
    // The user's lock first, then a permit: invocations queued behind one busy user must not
    // hold permits that other users could use. No one waits for a lock while holding a
    // permit, so lock holders can always get one.
    let mut caller_lock = Some(services.claims.lock(&request.user.lock_key()).await);
    let permit = acquire_permit(services).await?;
    let writes_before = services.claims.write_serial();
    // The lease of a user named by object id goes alongside the first read (a dry run writes
    // nothing and needs none); whether that read may stand is the lease's to say.
    let read_sent = Moment::now();
    let early = matches!(request.user, UserRef::ObjectId(_)) && !request.dry_run;
    let (first, (), early_lease) = tokio::join!(
        read::first_read(services, &request.user, true),
        services.notifier.prepare(&services.graph, request),
        async {
            if early {
                services.claims.lease(&request.user, deadline).await
            } else {
                None
            }
        }
    );
    let mut hold = Hold::default();
    let lease_error = hold.keep_asked(early_lease, &mut caller_lock);
    let read::FirstRead {
        user,
        methods,
        checks,
    } = first;
    let first_seen = registered::seen_in(request, &methods);
    let (user, object_id) = read::accept_user(user, &request.user, outcome)?;
    Ok(Started {
        caller_lock,
        permit,
        writes_before,
        read_sent,
        hold,
        lease_error,
        first_seen,
        user,
        object_id,
        methods,
        checks,
    })
}

/// What the reads under the object id's lock left, before the verdict.
pub(super) struct Claimed<'a> {
    user: DirectoryUser,
    object_id: UserRef,
    methods: Result<AuthenticationMethods, GraphError>,
    member_of: read::Membership,
    checks: read::Checks,
    seen: registered::Seen,
    read_sent: Moment,
    hold: Hold,
    lease_error: Option<LeaseError>,
    guards: Guards<'a>,
}

/// For a user named by UPN, takes the object id's lock (and a permit again) and the lease;
/// reads the membership, and a guest's methods, by object id.
///
/// # Errors
///
/// The handler is shutting down.
async fn claim_object_id<'a>(
    services: &'a Services,
    request: &Request,
    deadline: tokio::time::Instant,
    started: Started<'a>,
) -> Result<Claimed<'a>, Stop> {
    let Started {
        caller_lock,
        permit,
        writes_before,
        read_sent,
        mut hold,
        mut lease_error,
        first_seen,
        user,
        object_id,
        methods,
        mut checks,
    } = started;
    let named_otherwise = object_id.lock_key() != request.user.lock_key();
    let (mut id_lock, permit) = if named_otherwise {
        let (id_lock, permit) = lock_object_id(services, &object_id, permit).await?;
        (Some(id_lock), permit)
    } else {
        (None, permit)
    };
    let late = named_otherwise && !request.dry_run;
    let written_since = services
        .claims
        .written_since(&object_id.lock_key(), writes_before);
    // Under the object id's lock: the membership for the user who will be changed (a user
    // named by UPN is checked only now, by object id), and a guest's methods by object id.
    // For a user named by UPN, the lease goes here, alongside the membership check.
    let (methods, member_of, late_lease) = tokio::join!(
        read::by_object_id(
            services,
            &user,
            &object_id,
            named_otherwise,
            written_since,
            methods,
        ),
        read::membership_of(services, &mut checks, &object_id, named_otherwise),
        async {
            if late {
                services.claims.lease(&object_id, deadline).await
            } else {
                None
            }
        }
    );
    if let Some(error) = hold.keep_asked(late_lease, &mut id_lock) {
        lease_error = Some(error);
    }
    let guest_by_upn = named_otherwise && user.guest;
    let seen = seen(request, first_seen, guest_by_upn, written_since, &methods);
    Ok(Claimed {
        user,
        object_id,
        methods,
        member_of,
        checks,
        seen,
        read_sent,
        hold,
        lease_error,
        guards: Guards {
            _caller_lock: caller_lock,
            _id_lock: id_lock,
            _permit: permit,
        },
    })
}

/// What a change is planned from: a user the verdict cleared, their methods as read under the
/// lease, and the claim on them.
pub(super) struct Ready<'a> {
    pub(super) user: DirectoryUser,
    pub(super) object_id: UserRef,
    pub(super) methods: AuthenticationMethods,
    pub(super) member_of: read::Membership,
    pub(super) checks: read::Checks,
    pub(super) seen: registered::Seen,
    pub(super) hold: Hold,
    pub(super) guards: Guards<'a>,
}

/// Judges the user, requires the lease, and reads again what the wait for the lease may have
/// made stale.
///
/// # Errors
///
/// The user is protected (or that cannot be checked), the lease could not be had, or the
/// methods could not be read.
async fn ready<'a>(
    services: &Services,
    request: &Request,
    claimed: Claimed<'a>,
    outcome: &mut Outcome,
) -> Result<Ready<'a>, Unready> {
    let Claimed {
        user,
        object_id,
        methods,
        member_of,
        mut checks,
        seen,
        read_sent,
        hold,
        lease_error,
        guards,
    } = claimed;
    // Before anything is planned, let alone written (a dry run is refused the same way).
    if let Err(stop) = judge(services, &checks, &member_of, &user, &object_id) {
        return Err(Unready {
            stop,
            user: Some(user),
        });
    }
    if let Some(error) = lease_error {
        return Err(Unready {
            stop: failure::lease_busy(&error),
            user: Some(user),
        });
    }
    // A read that may predate another instance's change is made again, under the lease; so is
    // the membership the verdict came from (the wait for the lease can last up to
    // MFA_LEASE_WAIT_SECONDS, and the user may have joined a protected group meanwhile).
    let (methods, member_of) = match hold.lease() {
        Some(held) if methods.is_ok() && !held.read_stands(read_sent) => {
            outcome.note(
                "Another instance held or just released this user's lease: reading the methods \
                 and the user's protection again under the lease",
            );
            let (methods, member_of) = tokio::join!(
                services.graph.authentication_methods(&object_id),
                read::membership_of(services, &mut checks, &object_id, true),
            );
            if let Err(stop) = judge(services, &checks, &member_of, &user, &object_id) {
                return Err(Unready {
                    stop,
                    user: Some(user),
                });
            }
            (methods, member_of)
        }
        _ => (methods, member_of),
    };
    let methods = methods.map_err(|error| failure::of_graph(&error, Some(&request.user)))?;
    Ok(Ready {
        user,
        object_id,
        methods,
        member_of,
        checks,
        seen,
        hold,
        guards,
    })
}

/// Serialises a caller who named the user by UPN with callers who used the object id: gives
/// the permit back, waits for the object id's lock, and takes a permit again.
///
/// # Errors
///
/// The handler is shutting down.
async fn lock_object_id<'a>(
    services: &'a Services,
    object_id: &UserRef,
    permit: SemaphorePermit<'a>,
) -> Result<(UserGuard, SemaphorePermit<'a>), Stop> {
    drop(permit);
    let id_lock = services.claims.lock(&object_id.lock_key()).await;
    let permit = acquire_permit(services).await?;
    Ok((id_lock, permit))
}

/// What a removal of whatever is registered saw before any wait. A guest named by UPN has no
/// trustworthy first read of their methods: the read by object id stands in for it, unless a
/// write by object id happened since the request began.
fn seen(
    request: &Request,
    first_seen: registered::Seen,
    guest_by_upn: bool,
    written_since: bool,
    methods: &Result<AuthenticationMethods, GraphError>,
) -> registered::Seen {
    match (guest_by_upn, written_since) {
        (false, _) => first_seen,
        (true, false) => registered::seen_in(request, methods),
        (true, true) => registered::Seen::Unknown,
    }
}
