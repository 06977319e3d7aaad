//! Holds the tenant's Authentication methods policy for SMS and voice as data, and says what it
//! means for one user and one phone type: whether texts, calls and SMS sign-in work. It is pure,
//! and sits below the Graph client, which decodes the policy into these types; `policy` keeps
//! it fresh.

use std::collections::HashSet;

use crate::phone::PhoneType;

/// The id Graph gives the target that includes every user.
pub const ALL_USERS: &str = "all_users";

/// The SMS and Voice configurations of the Authentication methods policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodPolicies {
    pub sms: ChannelPolicy,
    pub voice: ChannelPolicy,
    /// Voice's `isOfficePhoneAllowed`: office phones are voice only, and need it.
    pub office_phone_allowed: bool,
}

/// One method's configuration: its state and whom it targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelPolicy {
    pub enabled: bool,
    pub include: Vec<Target>,
    pub exclude: Vec<Target>,
}

/// A user or group a configuration includes or excludes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Lowercase; [`ALL_USERS`] for everyone.
    pub id: String,
    /// SMS include targets' `isUsableForSignIn`.
    pub usable_for_sign_in: bool,
    /// A group (or everyone), rather than one user: only groups are checked for membership.
    pub group: bool,
}

/// What a phone method of one type can do for one user under the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usable {
    pub sms: bool,
    pub voice: bool,
    pub sms_sign_in: bool,
}

impl ChannelPolicy {
    /// Whether the configuration is on for the user with `user_id` (lowercase), a member of
    /// `member_of`: enabled, an include target matches and no exclude target does.
    pub fn applies_to(&self, user_id: &str, member_of: &HashSet<String>) -> bool {
        let matches = |target: &Target| {
            target.id == ALL_USERS || target.id == user_id || member_of.contains(&target.id)
        };
        self.enabled && self.include.iter().any(matches) && !self.exclude.iter().any(matches)
    }
}

impl MethodPolicies {
    /// Lists the groups the configurations target (not [`ALL_USERS`], not user targets, which
    /// are matched by the user's id): the user's membership of these decides.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = [&self.sms, &self.voice]
            .into_iter()
            .flat_map(|channel| channel.include.iter().chain(&channel.exclude))
            .filter(|target| target.group && target.id != ALL_USERS)
            .map(|target| target.id.clone())
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }

    /// Says what a `phone_type` method can do for the user with `user_id`, who is a member of
    /// `member_of` (among [`MethodPolicies::groups`]). SMS reaches mobile phones only; an
    /// alternate mobile and an office phone are called; SMS sign-in needs SMS, a mobile phone,
    /// an include target usable for sign-in, and a member (not a B2B guest).
    pub fn usable_for(
        &self,
        user_id: &str,
        member_of: &HashSet<String>,
        phone_type: PhoneType,
        guest: bool,
    ) -> Usable {
        let user_id = user_id.to_ascii_lowercase();
        let matches = |target: &Target| {
            target.id == ALL_USERS || target.id == user_id || member_of.contains(&target.id)
        };
        let applies = |channel: &ChannelPolicy| channel.applies_to(&user_id, member_of);
        let sms = phone_type == PhoneType::Mobile && applies(&self.sms);
        let voice =
            applies(&self.voice) && (phone_type != PhoneType::Office || self.office_phone_allowed);
        let sms_sign_in = sms
            && !guest
            && self
                .sms
                .include
                .iter()
                .any(|target| matches(target) && target.usable_for_sign_in);
        Usable {
            sms,
            voice,
            sms_sign_in,
        }
    }

    /// Whether voice is on for the user at all (office phones aside).
    pub fn voice_enabled_for(&self, user_id: &str, member_of: &HashSet<String>) -> bool {
        self.usable_for(user_id, member_of, PhoneType::AlternateMobile, false)
            .voice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(id: &str, sign_in: bool) -> Target {
        Target {
            id: id.to_owned(),
            usable_for_sign_in: sign_in,
            group: true,
        }
    }

    fn policies() -> MethodPolicies {
        MethodPolicies {
            sms: ChannelPolicy {
                enabled: true,
                include: vec![target("sms-users", true)],
                exclude: vec![target("no-sms", false)],
            },
            voice: ChannelPolicy {
                enabled: true,
                include: vec![target(ALL_USERS, false)],
                exclude: Vec::new(),
            },
            office_phone_allowed: false,
        }
    }

    #[test]
    fn targets_decide_per_channel_and_phone_type() {
        let policies = policies();
        assert_eq!(policies.groups(), ["no-sms", "sms-users"]);
        let mut with_user = policies.clone();
        with_user.voice.include = vec![Target {
            group: false,
            ..target("u1", false)
        }];
        assert_eq!(
            with_user.groups(),
            ["no-sms", "sms-users"],
            "a user is no group"
        );
        let usable = with_user.usable_for("U1", &HashSet::new(), PhoneType::AlternateMobile, false);
        assert!(usable.voice, "a user target matches the user by id");
        let other = with_user.usable_for("u2", &HashSet::new(), PhoneType::AlternateMobile, false);
        assert!(!other.voice);
        let member: HashSet<String> = ["sms-users".to_owned()].into();
        let usable = policies.usable_for("u", &member, PhoneType::Mobile, false);
        assert_eq!(
            usable,
            Usable {
                sms: true,
                voice: true,
                sms_sign_in: true
            }
        );
        let guest = policies.usable_for("u", &member, PhoneType::Mobile, true);
        assert!(!guest.sms_sign_in, "SMS sign-in is not for B2B guests");
        let outside = policies.usable_for("u", &HashSet::new(), PhoneType::Mobile, false);
        assert_eq!(
            outside,
            Usable {
                sms: false,
                voice: true,
                sms_sign_in: false
            }
        );
        let excluded: HashSet<String> = ["sms-users".to_owned(), "no-sms".to_owned()].into();
        assert!(
            !policies
                .usable_for("u", &excluded, PhoneType::Mobile, false)
                .sms
        );
        let office = policies.usable_for("u", &member, PhoneType::Office, false);
        assert_eq!(
            office,
            Usable {
                sms: false,
                voice: false,
                sms_sign_in: false
            }
        );
        assert!(
            policies
                .usable_for("u", &member, PhoneType::AlternateMobile, false)
                .voice
        );
    }

    #[test]
    fn a_disabled_channel_works_for_nobody() {
        let mut policies = policies();
        policies.voice.enabled = false;
        let usable = policies.usable_for("u", &HashSet::new(), PhoneType::AlternateMobile, false);
        assert!(!usable.voice && !usable.sms);
    }
}
