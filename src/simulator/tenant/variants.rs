//! Makes switches of the behaviours Graph does not document: the simulator plays each plausible
//! variant, and the product must be correct under every one.

use std::time::Duration;

/// Where Graph's behaviour is not documented, the simulator can play each plausible variant;
/// the product must be correct under all of them.
#[derive(Clone, Debug)]
pub struct Variants {
    /// The answer to POSTing a type the user already has [UNVERIFIED].
    pub duplicate_post: Rejection,
    /// The answer to the structural rules (alternate without mobile, mobile with alternate)
    /// [UNVERIFIED].
    pub structural: Rejection,
    /// Whether a 409 `phoneNumberNotUnique` still writes the MFA method (usually) or not.
    pub conflict_writes_method: bool,
    /// How long after a write reads still show the state before it [UNVERIFIED: Graph's
    /// read-after-write lag is not documented].
    pub read_lag: Duration,
    /// Whether `$filter=phoneType eq '…'` on phoneMethods is honoured or silently ignored.
    pub honour_phone_filter: bool,
    /// What the authentication-methods endpoints do for a B2B guest addressed by UPN
    /// (reference graph.md §12: 404, the reason the runbook moved to object ids).
    pub guests_by_upn: GuestsByUpn,
    /// Whether role definitions answer `$filter=isPrivileged eq true` (a beta property)
    /// [PRACTICE]; otherwise 400, and the product falls back to its built-in list.
    pub privileged_filter: bool,
    /// Whether role assignments and eligibilities honour `$expand=principal`; otherwise the
    /// principal's kind is not said.
    pub expand_principal: bool,
    /// Whether the tenant has PIM (Entra ID P2): without it the eligibility schedule instances
    /// answer 403 `AadPremiumLicenseRequired` [UNVERIFIED code].
    pub pim_licensed: bool,
    /// Whether the phone entries of `/authentication/methods` carry `smsSignInState`, as
    /// the docs' tutorial shows them [DOC: graph authenticationmethods-get-started]; the API
    /// page's example shows no phone entry.
    pub methods_list_sms_state: bool,
    /// Whether `checkMemberGroups` refuses (400) an id that is a user's rather than a group's
    /// [UNVERIFIED: the docs say the ids are group ids, not what other ids get].
    pub member_groups_only_groups: bool,
}

/// The authentication-methods endpoints' answer for a guest named by UPN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestsByUpn {
    /// 404, as Graph answers today [PRACTICE: realmjoin-runbooks PR #318].
    NotFound,
    /// Reads answer an empty list, and writes answer 404 (a plausible variant).
    EmptyList,
    /// The request is served as for an object id.
    Served,
}

/// A status and Graph error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub code: &'static str,
}

impl Default for Variants {
    fn default() -> Variants {
        Variants {
            member_groups_only_groups: true,
            duplicate_post: Rejection {
                status: 400,
                code: "badRequest",
            },
            structural: Rejection {
                status: 400,
                code: "badRequest",
            },
            conflict_writes_method: true,
            read_lag: Duration::ZERO,
            honour_phone_filter: true,
            guests_by_upn: GuestsByUpn::NotFound,
            privileged_filter: true,
            expand_principal: true,
            pim_licensed: true,
            methods_list_sms_state: true,
        }
    }
}
