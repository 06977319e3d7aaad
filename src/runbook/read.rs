//! The first round trip of an invocation: the user and every authentication method, and,
//! alongside them, what the protection and policy checks need (the role holders and the
//! policy, usually already in memory, and one membership check for the groups they name).

use std::collections::HashSet;
use std::sync::Arc;

use super::Services;
use super::failure::{self, Stop};
use super::wording::describe_user;
use crate::graph::GraphError;
use crate::method_policy::MethodPolicies;
use crate::methods::AuthenticationMethods;
use crate::outcome::Outcome;
use crate::protection::RoleHolders;
use crate::report::{ErrorCode, Failure, WarningCode};
use crate::user::{DirectoryUser, UserRef};

/// What the first round trip found.
pub(super) struct FirstRead {
    pub user: Result<DirectoryUser, GraphError>,
    /// The methods as read by the caller's name for the user (a guest's UPN needs a second
    /// read, by object id).
    pub methods: Result<AuthenticationMethods, GraphError>,
    pub checks: Checks,
}

/// What the protection and the policy checks read.
pub(super) struct Checks {
    pub holders: RoleHolders,
    /// `None` when the policy check is switched off.
    pub policy: Option<Result<Arc<MethodPolicies>, Arc<GraphError>>>,
    /// Which of the groups the checks name the user is in, when the first read could ask it
    /// ([`membership_of`] gives it in any case).
    pub member_of: Option<Membership>,
}

/// Which of the groups the checks name a user is in.
pub(super) type Membership = Result<HashSet<String>, Arc<GraphError>>;

/// Reads the user, their methods, and what the checks need, all at once; `protect` says
/// whether the protection of privileged accounts applies (it does to every change). The
/// membership check goes alongside when the caller named the user by object id; for a user
/// named by UPN it waits for the object id the directory returns when the verdict depends on
/// it (`protect`), so that it is made for the user who is changed, not for whoever holds the
/// UPN a moment later.
pub(super) async fn first_read(services: &Services, user: &UserRef, protect: bool) -> FirstRead {
    let graph = &services.graph;
    let alongside = matches!(user, UserRef::ObjectId(_)) || !protect;
    let checks = async {
        let no_holders = async { None };
        let (holders, policy) = if protect {
            tokio::join!(
                services.protection.role_holders(graph),
                services.policies.current(graph)
            )
        } else {
            tokio::join!(no_holders, services.policies.current(graph))
        };
        let mut checks = Checks {
            holders,
            policy,
            member_of: None,
        };
        if alongside {
            checks.member_of = Some(membership(services, &checks, user).await);
        }
        checks
    };
    let ((user, methods), checks) = tokio::join!(graph.user_and_methods(user), checks);
    FirstRead {
        user,
        methods,
        checks,
    }
}

/// The membership for `object_id`: the one the first read made alongside, or read now (a user
/// named by UPN: for the object id the directory returned, after the wait for that id's lock).
/// With `refresh_holders` the role holders are taken again too: they may have changed during
/// that wait, which can last minutes behind another invocation's owner search.
pub(super) async fn membership_of(
    services: &Services,
    checks: &mut Checks,
    object_id: &UserRef,
    refresh_holders: bool,
) -> Membership {
    if refresh_holders && checks.holders.is_some() {
        checks.holders = services.protection.role_holders(&services.graph).await;
    }
    match checks.member_of.take() {
        Some(early) => early,
        None => membership(services, checks, object_id).await,
    }
}

/// The groups the checks name that `user` is in.
async fn membership(services: &Services, checks: &Checks, user: &UserRef) -> Membership {
    let mut groups = if checks.holders.is_some() {
        services.protection.groups(&checks.holders)
    } else {
        Vec::new()
    };
    if let Some(Ok(policy)) = &checks.policy {
        groups.extend(policy.groups());
    }
    groups.sort();
    groups.dedup();
    if groups.is_empty() {
        Ok(HashSet::new())
    } else {
        services
            .graph
            .member_of_any(user, &groups)
            .await
            .map_err(Arc::new)
    }
}

/// Records the user the directory returned and gives their object id.
///
/// # Errors
///
/// The user could not be read, or Graph returned an id that is not an object id.
pub(super) fn accept_user(
    user: Result<DirectoryUser, GraphError>,
    named: &UserRef,
    outcome: &mut Outcome,
) -> Result<(DirectoryUser, UserRef), Stop> {
    let user = user.map_err(|error| failure::of_graph(&error, Some(named)))?;
    outcome.set_user(&user);
    outcome.note(describe_user(&user));
    if user.guest {
        outcome.warn(
            WarningCode::GuestUser,
            "the user is a B2B guest: the number works for MFA by call and text, but SMS \
             sign-in is not available to guests",
        );
    }
    match UserRef::parse(&user.id) {
        Ok(object_id @ UserRef::ObjectId(_)) => Ok((user, object_id)),
        _ => Err(Stop::new(Failure::new(
            ErrorCode::GraphRejected,
            "Graph returned a user whose id is not an object id",
        ))),
    }
}

/// The methods to decide on. The read by UPN stands only for a member, when it succeeded and
/// nothing makes it unfit (`stale`: a write by object id happened since it began, or the
/// methods must be the object id's for certain, as a number to be revealed must). For a guest,
/// Graph's authentication-methods endpoints answer 404 to the UPN (and might answer an empty
/// list): read by object id.
pub(super) async fn by_object_id(
    services: &Services,
    user: &DirectoryUser,
    object_id: &UserRef,
    named_otherwise: bool,
    stale: bool,
    methods: Result<AuthenticationMethods, GraphError>,
) -> Result<AuthenticationMethods, GraphError> {
    if named_otherwise && (user.guest || methods.is_err() || stale) {
        services.graph.authentication_methods(object_id).await
    } else {
        methods
    }
}
