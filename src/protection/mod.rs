//! Protected accounts: the users whose phone methods this app never adds, changes or removes.
//!
//! Entra's delegated model keeps an Authentication Administrator away from administrators'
//! methods; application permissions bypass that, so the product enforces it: a user who holds
//! a privileged directory role (directly, through a role-assignable group, or eligible
//! through PIM) or who is in a configured protected group (`MFA_PROTECTED_GROUP_IDS`, the
//! break-glass accounts) is refused. Who holds privileged roles is read tenant-wide into a
//! [`Snapshot`], kept fresh in the background ([`Protection::keep_fresh`]); per invocation,
//! one `checkMemberGroups` runs alongside the first read. When the check cannot be made, the
//! verdict is [`Verdict::Unknown`], and nothing is written.

mod builtin;
mod snapshot;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use self::snapshot::{Hold, Snapshot};
use crate::graph::{Denial, GraphClient, GraphError, GraphErrorKind, PrivilegedRole};
use crate::user::UserRef;

/// How accounts are protected, from the configuration.
#[derive(Clone, Debug)]
pub struct ProtectionSettings {
    /// Refuse holders of privileged roles (off with `MFA_ALLOW_PRIVILEGED_TARGETS=true`).
    pub check_roles: bool,
    /// Groups whose members are refused, whatever their roles (object ids, lowercase).
    pub protected_groups: Vec<String>,
    /// How often the role holders are read again.
    pub refresh_every: Duration,
}

/// The longest a snapshot of role holders is used when it could not be refreshed; beyond it
/// the check counts as not made.
const MAX_AGE: Duration = Duration::from_secs(15 * 60);
/// Group ids per `checkMemberGroups` (Graph's limit).
const GROUPS_PER_CHECK: usize = 20;

/// The protection check, with its snapshot of the tenant's role holders.
pub struct Protection {
    settings: ProtectionSettings,
    current: Mutex<Option<(Arc<Snapshot>, Instant)>>,
    /// One load at a time when there is no usable snapshot.
    loading: tokio::sync::Mutex<()>,
}

/// What was read about one user, before their object id is known.
pub struct Inspection {
    /// `None` when roles are not checked.
    snapshot: Option<Result<Arc<Snapshot>, GraphError>>,
    /// The checked groups the user is a member of.
    member_of: Result<HashSet<String>, GraphError>,
}

/// Whether the app may change the user's methods.
#[derive(Debug)]
pub enum Verdict {
    Clear,
    /// Why the user is protected, each reason in words.
    Protected(Vec<String>),
    /// The check could not be made.
    Unknown(GraphError),
}

impl Protection {
    pub fn new(settings: ProtectionSettings) -> Protection {
        let protected_groups = settings
            .protected_groups
            .iter()
            .map(|id| id.to_ascii_lowercase())
            .collect();
        Protection {
            settings: ProtectionSettings {
                protected_groups,
                ..settings
            },
            current: Mutex::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// Reads what the verdict on `user` needs: the role holders (from the snapshot, loaded
    /// if there is none) and, in one request per 20 groups, the user's membership of the
    /// protected groups and of the groups that hold privileged roles. Meant to run alongside
    /// the invocation's first read.
    pub async fn inspect(&self, graph: &GraphClient, user: &UserRef) -> Inspection {
        let snapshot = if self.settings.check_roles {
            Some(self.snapshot(graph).await)
        } else {
            None
        };
        let mut groups: Vec<String> = self.settings.protected_groups.clone();
        if let Some(Ok(snapshot)) = &snapshot {
            groups.extend(snapshot.groups());
        }
        groups.sort();
        groups.dedup();
        let checks = groups
            .chunks(GROUPS_PER_CHECK)
            .map(|chunk| graph.member_groups(user, chunk));
        let mut member_of = Ok(HashSet::new());
        for answer in futures_util::future::join_all(checks).await {
            match (answer, &mut member_of) {
                (Ok(ids), Ok(all)) => all.extend(ids.into_iter().map(|id| id.to_ascii_lowercase())),
                (Err(error), Ok(_)) => member_of = Err(error),
                (_, Err(_)) => {}
            }
        }
        Inspection {
            snapshot,
            member_of,
        }
    }

    /// Reads the role holders again every `refresh_every`, so invocations find a fresh
    /// snapshot; the first read happens at once. Runs for the life of the process.
    pub async fn keep_fresh(&self, graph: &GraphClient) {
        if !self.settings.check_roles {
            return;
        }
        loop {
            match load(graph).await {
                Ok(snapshot) => {
                    tracing::info!(
                        "read who holds privileged roles: {} principals (the list of privileged \
                         roles from {})",
                        snapshot.principals(),
                        if snapshot.from_graph {
                            "Graph"
                        } else {
                            "the built-in list: Graph's could not be read"
                        }
                    );
                    self.store(snapshot);
                }
                Err(error) => tracing::warn!(
                    "could not read who holds privileged roles ({error}); the last list is \
                     used for up to {} minutes",
                    MAX_AGE.as_secs() / 60
                ),
            }
            tokio::time::sleep(self.settings.refresh_every).await;
        }
    }

    async fn snapshot(&self, graph: &GraphClient) -> Result<Arc<Snapshot>, GraphError> {
        if let Some(snapshot) = self.usable() {
            return Ok(snapshot);
        }
        let _loading = self.loading.lock().await;
        if let Some(snapshot) = self.usable() {
            return Ok(snapshot);
        }
        let snapshot = load(graph).await?;
        Ok(self.store(snapshot))
    }

    fn usable(&self) -> Option<Arc<Snapshot>> {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        current
            .as_ref()
            .filter(|(_, at)| at.elapsed() < MAX_AGE)
            .map(|(snapshot, _)| snapshot.clone())
    }

    fn store(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        let snapshot = Arc::new(snapshot);
        *self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some((snapshot.clone(), Instant::now()));
        snapshot
    }
}

impl Inspection {
    /// The verdict on the user with `object_id`.
    pub fn verdict(self, object_id: &str, settings: &Protection) -> Verdict {
        let member_of = match self.member_of {
            Ok(member_of) => member_of,
            Err(error) => return Verdict::Unknown(error),
        };
        let mut reasons = Vec::new();
        if let Some(snapshot) = self.snapshot {
            let snapshot = match snapshot {
                Ok(snapshot) => snapshot,
                Err(error) => return Verdict::Unknown(error),
            };
            for hold in snapshot.holds(object_id) {
                reasons.push(describe(hold, None));
            }
            let mut groups: Vec<&String> = member_of.iter().collect();
            groups.sort();
            for group in groups {
                for hold in snapshot.holds(group) {
                    reasons.push(describe(hold, Some(group)));
                }
            }
        }
        for group in &settings.settings.protected_groups {
            if member_of.contains(group) {
                reasons.push(format!(
                    "is a member of the protected group {group} (MFA_PROTECTED_GROUP_IDS)"
                ));
            }
        }
        if reasons.is_empty() {
            Verdict::Clear
        } else {
            Verdict::Protected(reasons)
        }
    }
}

/// A privileged role held, in words: directly or through a group, active or eligible.
fn describe(hold: &Hold, through: Option<&String>) -> String {
    let how = if hold.eligible {
        "is eligible (PIM) for"
    } else {
        "holds"
    };
    match through {
        None => format!("{how} the privileged role {}", hold.role),
        Some(group) => format!(
            "{how} the privileged role {} through the group {}",
            hold.role,
            hold.principal_name.as_deref().unwrap_or(group)
        ),
    }
}

/// Reads who holds privileged roles: Graph's list of privileged roles (or the built-in one
/// when it cannot be read), the active assignments and the PIM eligibilities (none without
/// an Entra ID P2 licence: the tenant has no PIM).
async fn load(graph: &GraphClient) -> Result<Snapshot, GraphError> {
    let (roles, active, eligible) = tokio::join!(
        graph.privileged_roles(),
        graph.role_assignments(),
        graph.role_eligibilities()
    );
    let (roles, from_graph) = match roles {
        Ok(roles) if !roles.is_empty() => (roles, true),
        Ok(_) | Err(_) => (
            builtin::PRIVILEGED_ROLES
                .iter()
                .map(|(id, name)| PrivilegedRole {
                    id: (*id).to_owned(),
                    name: (*name).to_owned(),
                })
                .collect(),
            false,
        ),
    };
    let eligible = match eligible {
        Ok(eligible) => eligible,
        Err(GraphError {
            kind:
                GraphErrorKind::Forbidden {
                    denial: Denial::Licence,
                    ..
                },
            ..
        }) => Vec::new(),
        Err(error) => return Err(error),
    };
    Ok(Snapshot::build(&roles, active?, eligible, from_graph))
}
