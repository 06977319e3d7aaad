//! Owners of privileged applications. A user who owns an app registration or a service
//! principal can add a credential to it and sign in as it ("an application owner can create or
//! update users or other objects while impersonating the application", entra-docs
//! `overview-assign-app-owners.md`), so when the service principal holds a privileged directory
//! role (directly, or as a member of a role-assignable group that holds one) or a privileged
//! Graph application permission ([`PRIVILEGED_GRAPH_PERMISSIONS`]), its owners are as privileged
//! as it is. A service principal that owns such an application is privileged in turn, and so are
//! its owners, however long the chain. The owners are read for each snapshot, in the
//! background, so no invocation waits for them. Any failure but "no such application" fails the
//! snapshot, and with it every change (it fails closed).

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;

use super::builtin::PRIVILEGED_GRAPH_PERMISSIONS;
use super::snapshot::{Hold, Snapshot};
use crate::graph::{GraphClient, GraphError, GraphErrorKind, Owner, ServicePrincipal};

/// How many owner reads a refresh makes at once.
const OWNER_READS_AT_ONCE: usize = 8;

/// Who owns a privileged application, and why that makes them privileged: (owner id, reason).
pub(super) async fn owners_of_privileged_applications(
    graph: &GraphClient,
    snapshot: &Snapshot,
) -> Result<Vec<(String, String)>, GraphError> {
    let mut walk = Walk {
        privileged: privileged_principals(graph, snapshot).await?,
        seen: HashSet::new(),
        owned: Vec::new(),
    };
    let mut frontier: Vec<String> = walk.privileged.keys().cloned().collect();
    // Each service principal is read once, so the walk ends however the owners are chained.
    loop {
        frontier.retain(|id| walk.seen.insert(id.clone()));
        if frontier.is_empty() {
            break;
        }
        frontier.sort();
        let mut next = Vec::new();
        for read in read_owners(graph, &frontier).await? {
            next.extend(walk.record(&read.principal, read.owners?));
        }
        frontier = next;
    }
    Ok(walk.owned)
}

/// Finds the service principals that are privileged by what they hold themselves: a
/// privileged Graph application permission, a privileged role, or a role through a
/// role-assignable group. Returns, by service principal id, what makes each privileged, in
/// words.
async fn privileged_principals(
    graph: &GraphClient,
    snapshot: &Snapshot,
) -> Result<HashMap<String, Vec<String>>, GraphError> {
    let mut privileged: HashMap<String, Vec<String>> = HashMap::new();
    for grant in graph.graph_permission_grants().await? {
        if PRIVILEGED_GRAPH_PERMISSIONS
            .iter()
            .any(|name| name.eq_ignore_ascii_case(&grant.permission))
        {
            privileged
                .entry(grant.principal_id)
                .or_default()
                .push(format!(
                    "the Graph application permission {}",
                    grant.permission
                ));
        }
    }
    for (principal, holds) in snapshot.individual_holders() {
        for hold in holds {
            privileged
                .entry(principal.to_owned())
                .or_default()
                .push(role_in_words(hold));
        }
    }
    // A service principal in a role-assignable group holds the group's roles.
    for (group, holds) in snapshot.group_holders() {
        for member in graph.service_principal_members(group).await? {
            for hold in holds {
                privileged.entry(member.clone()).or_default().push(format!(
                    "{} through the group {}",
                    role_in_words(hold),
                    hold.principal_name.as_deref().unwrap_or(group)
                ));
            }
        }
    }
    Ok(privileged)
}

/// The walk from privileged service principals to their owners, and on through owners that are
/// service principals themselves.
struct Walk {
    /// Service principal id → what makes it privileged, in words.
    privileged: HashMap<String, Vec<String>>,
    /// The service principals already read.
    seen: HashSet<String>,
    /// Every owner found so far, with why it is privileged: (owner id, reason).
    owned: Vec<(String, String)>,
}

impl Walk {
    /// Records the owners of one privileged application. Returns the owners that are service
    /// principals not read yet: they are privileged in turn, so their owners are read next.
    fn record(
        &mut self,
        principal: &ServicePrincipal,
        owners: Vec<(Owner, &'static str)>,
    ) -> Vec<String> {
        let holds = self
            .privileged
            .get(&principal.id)
            .map(|holds| holds.join(" and "))
            .unwrap_or_default();
        let name = principal
            .display_name
            .clone()
            .unwrap_or_else(|| principal.id.clone());
        let mut next = Vec::new();
        for (owner, what) in owners {
            self.owned.push((
                owner.id.clone(),
                format!(
                    "owns the application {name} ({what}), which holds {holds}: an owner can \
                     add a credential and act as it"
                ),
            ));
            if owner.service_principal && !self.seen.contains(&owner.id) {
                self.privileged
                    .entry(owner.id.clone())
                    .or_default()
                    .push(format!(
                        "ownership of the application {name}, which holds {holds}"
                    ));
                next.push(owner.id);
            }
        }
        next
    }
}

/// A service principal read in the walk, with the answer to reading its owners.
struct OwnerRead {
    principal: ServicePrincipal,
    owners: Result<Vec<(Owner, &'static str)>, GraphError>,
}

/// Reads the service principals among `ids`, then the owners of each, a few at a time.
async fn read_owners(graph: &GraphClient, ids: &[String]) -> Result<Vec<OwnerRead>, GraphError> {
    let principals = graph.service_principals_among(ids).await?;
    Ok(futures_util::stream::iter(principals)
        .map(|principal| async move {
            let owners = owners_of(graph, &principal).await;
            OwnerRead { principal, owners }
        })
        .buffer_unordered(OWNER_READS_AT_ONCE)
        .collect()
        .await)
}

/// Reads the owners of a service principal and of its app registration, each with which of the
/// two they own. An application not registered in this tenant (Microsoft's, another tenant's, a
/// managed identity) has no registration owners here.
async fn owners_of(
    graph: &GraphClient,
    principal: &ServicePrincipal,
) -> Result<Vec<(Owner, &'static str)>, GraphError> {
    let registration = async {
        match &principal.app_id {
            Some(app_id) => none_if_missing(graph.application_owners(app_id).await),
            None => Ok(Vec::new()),
        }
    };
    let (of_principal, of_registration) =
        tokio::join!(graph.service_principal_owners(&principal.id), registration);
    let mut owners: Vec<(Owner, &'static str)> = none_if_missing(of_principal)?
        .into_iter()
        .map(|owner| (owner, "its enterprise application"))
        .collect();
    owners.extend(
        of_registration?
            .into_iter()
            .map(|owner| (owner, "its app registration")),
    );
    Ok(owners)
}

/// Puts a privileged role held into words.
fn role_in_words(hold: &Hold) -> String {
    if hold.eligible {
        format!("eligibility (PIM) for {}", hold.in_words())
    } else {
        hold.in_words()
    }
}

fn none_if_missing(answer: Result<Vec<Owner>, GraphError>) -> Result<Vec<Owner>, GraphError> {
    match answer {
        Err(GraphError {
            kind: GraphErrorKind::NotFound { .. },
            ..
        }) => Ok(Vec::new()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::PRIVILEGED_GRAPH_PERMISSIONS;

    #[test]
    fn the_ways_to_an_administrator_are_privileged_and_reading_data_is_not() {
        let privileged = |name: &str| {
            PRIVILEGED_GRAPH_PERMISSIONS
                .iter()
                .any(|known| known.eq_ignore_ascii_case(name))
        };
        for name in [
            "RoleManagement.ReadWrite.Directory",
            "RoleAssignmentSchedule.ReadWrite.Directory",
            "RoleEligibilitySchedule.ReadWrite.Directory",
            "PrivilegedAccess.ReadWrite.AzureADGroup",
            "AppRoleAssignment.ReadWrite.All",
            "Application.ReadWrite.All",
            "Directory.ReadWrite.All",
            "UserAuthenticationMethod.ReadWrite.All",
            "UserAuthMethod-TAP.ReadWrite.All",
            "UserAuthMethod-Phone.ReadWrite.All",
        ] {
            assert!(privileged(name), "{name}");
        }
        for name in [
            "Files.Read.All",
            "Calendars.Read",
            "User.Read.All",
            "UserAuthMethod-Phone.Read.All",
        ] {
            assert!(!privileged(name), "{name}");
        }
    }
}
