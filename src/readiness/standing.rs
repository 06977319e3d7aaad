//! Tells who a user is, for the date that applies to them: whether a guest is external (B2B)
//! or internal, and whether the user is an active or an eligible-only Global Administrator
//! (directly, through a role-assignable group, or through PIM for Groups), from the
//! protection's snapshot of role holders.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::graph::RegistrationRow;
use crate::protection::RoleHolders;
use crate::readiness::classify::{GlobalAdmin, Kind};

pub(super) fn kind_of_report_row(
    row: &RegistrationRow,
    guests: &Result<HashMap<String, bool>, String>,
) -> Kind {
    if !row.guest {
        return Kind::Member;
    }
    match guests {
        Ok(guests) => match guests.get(&row.id.to_ascii_lowercase()) {
            Some(true) => Kind::External,
            Some(false) => Kind::InternalGuest,
            None => Kind::UnknownGuest("not in the user list".to_owned()),
        },
        Err(why) => Kind::UnknownGuest(why.clone()),
    }
}

/// The name Graph gives the role, in the built-in list and in Graph's own.
const GLOBAL_ADMINISTRATOR: &str = "Global Administrator";

pub(super) fn global_admin(
    holders: &RoleHolders,
    user: &str,
    member_of: &HashSet<String>,
) -> GlobalAdmin {
    let snapshot = match holders {
        None => {
            return GlobalAdmin::Unknown(
                "role holders are not read (MFA_ALLOW_PRIVILEGED_TARGETS=true and no protected \
                 group)"
                    .to_owned(),
            );
        }
        Some(Err(error)) => return GlobalAdmin::Unknown(error.to_string()),
        Some(Ok(snapshot)) => Arc::clone(snapshot),
    };
    let holds = std::iter::once(user)
        .chain(member_of.iter().map(String::as_str))
        .flat_map(|principal| snapshot.holds(principal))
        .filter(|hold| hold.role.eq_ignore_ascii_case(GLOBAL_ADMINISTRATOR));
    let mut eligible = false;
    for hold in holds {
        if !hold.eligible {
            return GlobalAdmin::Active;
        }
        eligible = true;
    }
    let through_pim_for_groups = snapshot
        .eligible_groups(user)
        .iter()
        .flat_map(|group| snapshot.holds(group))
        .any(|hold| hold.role.eq_ignore_ascii_case(GLOBAL_ADMINISTRATOR));
    if eligible || through_pim_for_groups {
        GlobalAdmin::EligibleOnly
    } else {
        GlobalAdmin::No
    }
}
