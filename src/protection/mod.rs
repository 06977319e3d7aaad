//! Protected accounts: the users whose phone methods this app never adds, changes or removes.
//!
//! Entra's delegated model keeps an Authentication Administrator away from administrators'
//! methods; application permissions bypass that, so the product enforces it: a user who holds
//! a privileged directory role (directly, through a role-assignable group, or eligible
//! through PIM) or who is in a configured protected group (`MFA_PROTECTED_GROUP_IDS`, the
//! break-glass accounts) is refused. Who holds privileged roles is read tenant-wide into a
//! [`Snapshot`], kept fresh in the background ([`Protection::keep_fresh`]); per invocation,
//! the user's membership of the groups that matter is checked alongside the first read (the
//! runbook asks once, for this check and the policy's together). When the check cannot be made,
//! the verdict is [`Verdict::Unknown`], and nothing is written.
//!
//! Whoever controls the app on the Azure side (`azure`: Owner, Contributor, Website
//! Contributor of its resources or above, a blob writer on its storage, whoever can assign
//! roles there) is held like a privileged role holder, read into the same snapshot.

mod applications;
mod azure;
mod builtin;
mod snapshot;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

pub use self::azure::{AzureReader, AzureSettings, DEFAULT_ARM_ENDPOINT};
use self::snapshot::Hold;
pub use self::snapshot::Snapshot;
use crate::graph::{
    Denial, GraphClient, GraphError, GraphErrorKind, PrincipalKind, PrivilegedRole, RoleHolder,
};

/// How accounts are protected, from the configuration.
#[derive(Clone, Debug)]
pub struct ProtectionSettings {
    /// Refuse holders of privileged roles (off with `MFA_ALLOW_PRIVILEGED_TARGETS=true`).
    pub check_roles: bool,
    /// Groups whose members are refused, whatever their roles (object ids, lowercase).
    pub protected_groups: Vec<String>,
    /// How often the role holders are read again.
    pub refresh_every: Duration,
    /// Where the Azure side is read (`MFA_AZURE_CONTROL_SCOPES`); `None` when it is not
    /// protected.
    pub azure: Option<AzureSettings>,
}

/// The longest a snapshot of role holders is used when it could not be refreshed; beyond it
/// the check counts as not made.
const MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// The protection check, with its snapshot of the tenant's role holders.
pub struct Protection {
    settings: ProtectionSettings,
    current: Mutex<Option<(Arc<Snapshot>, Instant)>>,
    /// Lets one load run at a time when there is no usable snapshot.
    loading: tokio::sync::Mutex<()>,
    /// Reads who controls the app on the Azure side; `None` when no scope is configured.
    azure: Option<AzureReader>,
}

/// Whether the app may change the user's methods.
#[derive(Debug)]
pub enum Verdict {
    Clear,
    /// Why the user is protected, each reason in words.
    Protected(Vec<String>),
    /// The check could not be made.
    Unknown(Arc<GraphError>),
}

/// The role holders as far as the check needs them: `None` when roles are not checked.
pub type RoleHolders = Option<Result<Arc<Snapshot>, Arc<GraphError>>>;

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
            azure: None,
        }
    }

    /// Protects whoever controls the app on the Azure side, as `reader` reads it.
    pub fn with_azure(mut self, reader: AzureReader) -> Protection {
        self.azure = Some(reader);
        self
    }

    /// Whether the Azure side is protected (`MFA_AZURE_CONTROL_SCOPES` is set).
    pub fn protects_azure_side(&self) -> bool {
        self.azure.is_some()
    }

    /// Returns the role holders from the snapshot (read now if there is none); `None` when
    /// roles are not checked.
    pub async fn role_holders(&self, graph: &GraphClient) -> RoleHolders {
        if !self.reads_snapshot() {
            return None;
        }
        Some(self.snapshot(graph).await.map_err(Arc::new))
    }

    /// Whether holders of privileged roles (and owners of privileged applications) are refused:
    /// off with `MFA_ALLOW_PRIVILEGED_TARGETS=true`, when the verdict cannot tell them.
    pub fn checks_roles(&self) -> bool {
        self.settings.check_roles
    }

    /// Whether a snapshot is read: for the role check, and for who may activate membership of
    /// a protected group through PIM for Groups.
    fn reads_snapshot(&self) -> bool {
        self.settings.check_roles
            || !self.settings.protected_groups.is_empty()
            || self.azure.is_some()
    }

    /// The groups whose membership the verdict needs: the protected groups, and the groups
    /// holding privileged roles.
    pub fn groups(&self, holders: &RoleHolders) -> Vec<String> {
        let mut groups = self.settings.protected_groups.clone();
        if let Some(Ok(snapshot)) = holders {
            groups.extend(snapshot.groups());
        }
        groups.sort();
        groups.dedup();
        groups
    }

    /// Gives the verdict on the user with `object_id`, who is a member of `member_of` (among
    /// [`Protection::groups`]).
    pub fn verdict(
        &self,
        holders: &RoleHolders,
        member_of: &Result<HashSet<String>, Arc<GraphError>>,
        object_id: &str,
    ) -> Verdict {
        let needs_membership = !self.groups(holders).is_empty();
        let empty = HashSet::new();
        let member_of = match member_of {
            Ok(member_of) => member_of,
            Err(error) if needs_membership => return Verdict::Unknown(error.clone()),
            Err(_) => &empty,
        };
        let mut reasons = Vec::new();
        if let Some(holders) = holders {
            let snapshot = match holders {
                Ok(snapshot) => snapshot,
                Err(error) => return Verdict::Unknown(error.clone()),
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
        for group in &self.settings.protected_groups {
            if member_of.contains(group) {
                reasons.push(format!(
                    "is a member of the protected group {group} (MFA_PROTECTED_GROUP_IDS)"
                ));
            }
        }
        if let Some(Ok(snapshot)) = holders {
            let mut through: Vec<&String> = member_of.iter().collect();
            through.sort();
            let eligible = std::iter::once(object_id)
                .chain(through.into_iter().map(String::as_str))
                .flat_map(|principal| snapshot.eligible_groups(principal));
            for group in eligible {
                self.way_in(
                    snapshot,
                    group,
                    "is eligible (PIM for Groups) for",
                    "",
                    &mut reasons,
                );
            }
            reasons.extend(snapshot.owned_applications(object_id).iter().cloned());
            for group in snapshot.owned_groups(object_id) {
                let note = " (an owner can add themselves)";
                self.way_in(snapshot, group, "owns", note, &mut reasons);
            }
        }
        if reasons.is_empty() {
            Verdict::Clear
        } else {
            Verdict::Protected(reasons)
        }
    }

    /// Gives the reasons a user who can make themselves a member of `group` (`how`: eligible
    /// for it, owns it) is protected: the group's privileged roles, or its being protected.
    fn way_in(
        &self,
        snapshot: &Snapshot,
        group: &str,
        how: &str,
        note: &str,
        reasons: &mut Vec<String>,
    ) {
        for hold in snapshot.holds(group) {
            reasons.push(format!(
                "{how} the group {}, which {} {}{note}",
                hold.principal_name.as_deref().unwrap_or(group),
                if hold.eligible {
                    "is eligible for"
                } else {
                    "holds"
                },
                hold.in_words()
            ));
        }
        if self.settings.protected_groups.iter().any(|id| id == group) {
            reasons.push(format!(
                "{how} the protected group {group} (MFA_PROTECTED_GROUP_IDS)"
            ));
        }
    }

    /// Reads the role holders again every `refresh_every`, so invocations find a fresh
    /// snapshot; the first read happens at once. Runs for the life of the process.
    pub async fn keep_fresh(&self, graph: &GraphClient) {
        if !self.reads_snapshot() {
            return;
        }
        loop {
            match load(graph, &self.settings, self.azure.as_ref()).await {
                Ok(snapshot) if self.settings.check_roles || self.azure.is_some() => {
                    tracing::info!(
                        "read who holds privileged roles{}: {} principals (the list of privileged \
                         roles from {})",
                        if self.azure.is_some() {
                            " and who controls the app's Azure resources"
                        } else {
                            ""
                        },
                        snapshot.principals(),
                        if snapshot.from_graph {
                            "Graph"
                        } else {
                            "the built-in list: Graph's could not be read"
                        }
                    );
                    self.store(snapshot);
                }
                Ok(snapshot) => {
                    tracing::info!("read who may activate membership of the protected groups");
                    self.store(snapshot);
                }
                Err(error) => tracing::warn!(
                    "could not read who is privileged (role holders, who controls the app's \
                     Azure resources, the ways into privileged and protected groups, the owners \
                     of privileged applications): {error}; the \
                     last reading is used for up to {} minutes, then changes fail closed",
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
        let snapshot = load(graph, &self.settings, self.azure.as_ref()).await?;
        Ok(self.store(snapshot))
    }

    fn usable(&self) -> Option<Arc<Snapshot>> {
        let current = crate::mutex::lock(&self.current);
        current
            .as_ref()
            .filter(|(_, at)| at.elapsed() < MAX_AGE)
            .map(|(snapshot, _)| snapshot.clone())
    }

    fn store(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        let snapshot = Arc::new(snapshot);
        *crate::mutex::lock(&self.current) = Some((snapshot.clone(), Instant::now()));
        snapshot
    }
}

/// Puts a privileged role held into words: directly or through a group, active or eligible.
fn describe(hold: &Hold, through: Option<&String>) -> String {
    let how = if hold.eligible {
        "is eligible (PIM) for"
    } else {
        "holds"
    };
    match through {
        None => format!("{how} {}", hold.in_words()),
        Some(group) => format!(
            "{how} {} through the group {}",
            hold.in_words(),
            hold.principal_name.as_deref().unwrap_or(group)
        ),
    }
}

/// Reads who holds privileged roles: Graph's list of privileged roles (or the built-in one
/// when it cannot be read), the active assignments and the PIM eligibilities (none without
/// an Entra ID P2 licence: the tenant has no PIM).
async fn load(
    graph: &GraphClient,
    settings: &ProtectionSettings,
    azure: Option<&AzureReader>,
) -> Result<Snapshot, GraphError> {
    let mut snapshot = if settings.check_roles {
        role_snapshot(graph).await?
    } else {
        Snapshot::default()
    };
    if let Some(azure) = azure {
        snapshot = snapshot.with_azure_holders(azure.holders().await?);
    }
    if settings.check_roles || azure.is_some() {
        let owners = applications::owners_of_privileged_applications(graph, &snapshot).await?;
        snapshot = snapshot.with_application_owners(owners);
    }
    with_group_eligibilities(graph, snapshot, &settings.protected_groups).await
}

/// Reads who holds privileged roles, actively or eligible through PIM.
async fn role_snapshot(graph: &GraphClient) -> Result<Snapshot, GraphError> {
    let (roles, active, eligible) = tokio::join!(
        graph.privileged_roles(),
        graph.role_assignments(),
        graph.role_eligibilities()
    );
    let (roles, from_graph) = match roles {
        Ok(roles) if !roles.is_empty() => (roles, true),
        // The built-in list stands in only when Graph definitely does not give its own (the
        // beta property refused, not found): a moment's unavailability is no reason to trust
        // the shorter list (it knows no custom roles) for a whole refresh interval.
        Err(
            error @ GraphError {
                kind:
                    GraphErrorKind::Unavailable { .. }
                    | GraphErrorKind::Credential { .. }
                    | GraphErrorKind::Malformed { .. },
                ..
            },
        ) => return Err(error),
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
    let (mut active, mut eligible) = (active?, eligible);
    resolve_kinds(graph, [&mut active, &mut eligible]).await;
    Ok(Snapshot::build(&roles, active, eligible, from_graph))
}

/// Protects like a member whoever can make themselves a member of a group that holds a
/// privileged role, or of a protected group: whoever may activate membership (or ownership)
/// through PIM for Groups, the members of a group that is eligible for one, and the group's
/// owners. It reads at most [`GROUP_READS_AT_ONCE`] groups at a time.
async fn with_group_eligibilities(
    graph: &GraphClient,
    snapshot: Snapshot,
    protected_groups: &[String],
) -> Result<Snapshot, GraphError> {
    let mut groups: Vec<String> = snapshot
        .groups()
        .into_iter()
        .chain(protected_groups.iter().cloned())
        .collect();
    groups.sort();
    groups.dedup();
    let mut answers = Vec::new();
    let mut owners = Vec::new();
    for chunk in groups.chunks(GROUP_READS_AT_ONCE) {
        let reads = chunk.iter().map(|group| graph.group_eligibilities(group));
        let owner_reads = chunk.iter().map(|group| graph.group_owners(group));
        let (read, owned) = tokio::join!(
            futures_util::future::join_all(reads),
            futures_util::future::join_all(owner_reads)
        );
        answers.extend(chunk.iter().zip(read));
        for (group, owned) in chunk.iter().zip(owned) {
            let owned = match owned {
                Ok(owned) => owned,
                // A group that does not exist (a protected group deleted since) has no owners.
                Err(GraphError {
                    kind: GraphErrorKind::NotFound { .. },
                    ..
                }) => Vec::new(),
                Err(error) => return Err(error),
            };
            owners.push((group.clone(), owned));
        }
    }
    let mut eligible = Vec::new();
    let mut unlicensed = false;
    for (group, answer) in answers {
        let group = group.clone();
        match answer {
            Ok(principals) => eligible.push((group, principals)),
            // Without Entra ID P2 the tenant has no PIM for Groups either.
            Err(GraphError {
                kind:
                    GraphErrorKind::Forbidden {
                        denial: Denial::Licence,
                        ..
                    },
                ..
            }) => unlicensed = true,
            Err(error) => return Err(error),
        }
    }
    if unlicensed {
        tracing::info!("PIM for Groups is not licensed in this tenant: no eligibility to read");
    }
    // An eligible principal may itself be a group: its members may activate through it.
    let mut principals: Vec<String> = eligible
        .iter()
        .flat_map(|(_, principals)| principals.iter().cloned())
        .collect();
    principals.sort();
    principals.dedup();
    let eligible_groups = if principals.is_empty() {
        std::collections::HashSet::new()
    } else {
        graph.groups_among(&principals).await?
    };
    Ok(snapshot
        .with_group_eligibilities(eligible, eligible_groups)
        .with_group_owners(owners))
}

/// How many PIM for Groups reads a refresh makes at once.
const GROUP_READS_AT_ONCE: usize = 4;

/// Where Graph did not say what kind of principal holds a role (it did not expand the
/// principal), asks which of them are groups, so that only groups go to `checkMemberGroups`
/// (which takes group ids) and a user holder is matched by id. When that cannot be read the
/// kinds stay unknown: they are then all asked of the membership check, which fails closed if
/// Graph refuses them.
async fn resolve_kinds(graph: &GraphClient, mut lists: [&mut Vec<RoleHolder>; 2]) {
    let mut unknown: Vec<String> = lists
        .iter()
        .flat_map(|list| list.iter())
        .filter(|holder| holder.principal_kind == PrincipalKind::Unknown)
        .map(|holder| holder.principal_id.to_ascii_lowercase())
        .collect();
    if unknown.is_empty() {
        return;
    }
    unknown.sort();
    unknown.dedup();
    let groups = match graph.groups_among(&unknown).await {
        Ok(groups) => groups,
        Err(error) => {
            tracing::warn!(
                "could not tell which role holders are groups ({error}); all are asked of the \
                 membership check"
            );
            return;
        }
    };
    for holder in lists.iter_mut().flat_map(|list| list.iter_mut()) {
        if holder.principal_kind == PrincipalKind::Unknown {
            holder.principal_kind = if groups.contains(&holder.principal_id.to_ascii_lowercase()) {
                PrincipalKind::Group
            } else {
                // A user or a service principal is matched by id, and is never a group to
                // check.
                PrincipalKind::User
            };
        }
    }
}
