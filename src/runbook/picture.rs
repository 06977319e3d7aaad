//! The user's whole MFA picture around a change: before writing, what the tenant's policy lets
//! the number do (warnings, and the refusals that must come before any write); after the
//! operation, the methods the user is left with, what the phone method can be used for, and
//! the warnings that matter now (phone methods only, with Microsoft's SMS and voice retirement;
//! no MFA method at all).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::failure::Stop;
use crate::graph::{GraphError, GraphErrorKind};
use crate::method_policy::{MethodPolicies, Usable};
use crate::methods::AuthenticationMethods;
use crate::outcome::Outcome;
use crate::phone::{PhoneMethod, PhoneNumber, PhoneType};
use crate::plan::{Plan, Write, plan};
use crate::report::{ErrorCode, Failure, MethodsSummary, PhoneEntry, UsableSummary, WarningCode};
use crate::request::{Operation, Request, SmsSignIn};
use crate::user::DirectoryUser;

/// What the deployment says about the whole picture (`MFA_TELEPHONY`,
/// `MFA_LAST_METHOD_REMOVAL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Safeguards {
    /// The tenant delivers SMS and voice through its own telecom provider, so Microsoft's
    /// retirement of its own delivery does not concern it.
    pub customer_managed_telephony: bool,
    /// A removal that would leave the user with no MFA method is refused (unless the request
    /// says `allowLastMethodRemoval`), not only warned about.
    pub refuse_last_method_removal: bool,
}

/// The day Microsoft-provided SMS and voice delivery for MFA and SSPR retires (entra-docs
/// `concept-sms-voice-retirement.md`): 2027-02-01T00:00:00Z.
const RETIREMENT: Duration = Duration::from_secs(1_801_440_000);

/// What the picture is drawn from.
pub(super) struct Picture<'a> {
    pub user: &'a DirectoryUser,
    pub methods: &'a AuthenticationMethods,
    /// `None` when the policy check is switched off.
    pub policy: &'a Option<Result<Arc<MethodPolicies>, Arc<GraphError>>>,
    pub member_of: &'a Result<HashSet<String>, Arc<GraphError>>,
    pub safeguards: Safeguards,
}

impl Picture<'_> {
    /// What a `phone_type` method can do for the user, when the policy and the membership
    /// could be read.
    fn usable(&self, phone_type: PhoneType) -> Option<Usable> {
        let (Some(Ok(policy)), Ok(member_of)) = (self.policy, self.member_of) else {
            return None;
        };
        Some(policy.usable_for(&self.user.id, member_of, phone_type, self.user.guest))
    }

    /// Before any write: the warnings about what the number will not be able to do, and the
    /// refusals (SMS sign-in the policy does not allow; removing the last MFA method where the
    /// deployment refuses that).
    ///
    /// # Errors
    ///
    /// The refusal, which must come before any write.
    pub(super) fn before_writing(
        &self,
        request: &Request,
        outcome: &mut Outcome,
    ) -> Result<(), Stop> {
        if self.usable(request.phone_type).is_none() {
            self.policy_unknown(outcome);
        }
        match &request.operation {
            Operation::Set(number) => self.before_setting(request, number, outcome),
            Operation::Remove(_) => self.before_removing(request),
        }
    }

    fn before_setting(
        &self,
        request: &Request,
        number: &PhoneNumber,
        outcome: &mut Outcome,
    ) -> Result<(), Stop> {
        let phone_type = request.phone_type;
        let Some(usable) = self.usable(phone_type) else {
            return Ok(());
        };
        self.policy_warnings(phone_type, &number.to_string(), usable, outcome);
        if request.sms_sign_in == SmsSignIn::Enable && !usable.sms_sign_in {
            return Err(Stop::new(Failure::for_field(
                ErrorCode::SmsSignInNotAllowedByPolicy,
                "smsSignIn",
                if self.user.guest {
                    "SMS sign-in is not available to B2B guests; nothing was changed".to_owned()
                } else {
                    "the Authentication methods policy does not allow SMS sign-in for this user \
                     (SMS must be enabled for them, with \"Use for sign-in\" on a target that \
                     includes them); nothing was changed"
                        .to_owned()
                },
            )));
        }
        Ok(())
    }

    /// The warnings about what a `phone_type` method (`what`: the number, masked, or the
    /// method's name) will not be able to do under the policy.
    fn policy_warnings(
        &self,
        phone_type: PhoneType,
        what: &str,
        usable: Usable,
        outcome: &mut Outcome,
    ) {
        if phone_type == PhoneType::Mobile && !usable.sms {
            outcome.warn(
                WarningCode::SmsNotEnabledForUser,
                format!(
                    "the Authentication methods policy does not enable text messages (SMS) for \
                     this user: {what} will not get codes by text"
                ),
            );
        }
        let policy = self.policy.as_ref().and_then(|policy| policy.as_ref().ok());
        let voice_on = policy
            .zip(self.member_of.as_ref().ok())
            .is_some_and(|(policy, member_of)| policy.voice_enabled_for(&self.user.id, member_of));
        if phone_type == PhoneType::Office && voice_on && !usable.voice {
            outcome.warn(
                WarningCode::OfficePhoneNotAllowed,
                "the Authentication methods policy allows voice calls but not to office phones \
                 (isOfficePhoneAllowed is off): the office phone will not be called",
            );
        } else if !usable.voice {
            outcome.warn(
                WarningCode::VoiceNotEnabledForUser,
                format!(
                    "the Authentication methods policy does not enable voice calls for this \
                     user: {what} will not be called{}",
                    if phone_type == PhoneType::Mobile {
                        String::new()
                    } else {
                        format!(", and calls are the only way a {phone_type} phone is used")
                    }
                ),
            );
        }
    }

    fn before_removing(&self, request: &Request) -> Result<(), Stop> {
        let left = self.methods.with(request.phone_type, None);
        // Only a removal the plan would carry out: a number that does not match, or a mobile
        // phone with an alternate beside it, gets the plan's own refusal.
        let removes = plan(&request.operation, request.phone_type, &self.methods.phone)
            == Plan::Write(Write::Remove);
        if removes
            && left.none_left()
            && self.safeguards.refuse_last_method_removal
            && !request.allow_last_method_removal
        {
            return Err(Stop::new(Failure::new(
                ErrorCode::LastMfaMethod,
                format!(
                    "removing the {} phone would leave the user with no MFA method, and anyone \
                     who knows the password could then register their own; this deployment \
                     refuses that (MFA_LAST_METHOD_REMOVAL=refuse): register another method \
                     first, or send allowLastMethodRemoval: true; nothing was changed",
                    request.phone_type
                ),
            )));
        }
        Ok(())
    }

    /// After the operation: the methods the user has (or would have, on a dry run), what the
    /// method of `phone_type` can be used for, and the warnings about what is left.
    /// `after` is that method now; `removed` whether the operation removed it.
    pub(super) fn after(
        &self,
        phone_type: PhoneType,
        after: Option<&PhoneMethod>,
        removed: bool,
        outcome: &mut Outcome,
    ) {
        let methods = self.methods.with(phone_type, after);
        let summary = MethodsSummary {
            phone: methods
                .phone
                .iter()
                .map(|method| PhoneEntry {
                    phone_type: method.phone_type.as_str(),
                    sms_sign_in_state: method
                        .sms_sign_in_state
                        .as_ref()
                        .map(|state| state.as_str().to_owned()),
                })
                .collect(),
            other: methods
                .other
                .iter()
                .filter(|kind| {
                    !matches!(
                        kind,
                        crate::methods::MethodKind::Password | crate::methods::MethodKind::Email
                    )
                })
                .map(|kind| kind.as_str().to_owned())
                .collect(),
            phishing_resistant: methods.phishing_resistant(),
        };
        let usable_for = after
            .and(self.usable(phone_type))
            .map(|usable| UsableSummary {
                sms: usable.sms,
                voice: usable.voice,
                sms_sign_in: usable.sms_sign_in,
            });
        outcome.set_methods(summary, usable_for);
        if methods.phone_only() {
            outcome.warn(
                WarningCode::PhoneOnlyMfa,
                self.phone_only_message(SystemTime::now()),
            );
        }
        if removed && methods.none_left() {
            outcome.warn(
                WarningCode::LastMfaMethod,
                if outcome.report().dry_run {
                    "the removal would leave the user with no MFA method: anyone who knows the \
                     password could then register their own; register another method for them \
                     first (a passkey, or Microsoft Authenticator)"
                } else {
                    "the user has no MFA method left: anyone who knows the password can now \
                     register their own; register a new method for them soon (a passkey, or \
                     Microsoft Authenticator)"
                },
            );
        }
    }

    fn phone_only_message(&self, now: SystemTime) -> String {
        let only = "the user's only MFA methods are phone methods (text and voice)";
        if self.safeguards.customer_managed_telephony {
            return format!(
                "{only}; they are open to SIM swapping and phishing: add a phishing-resistant \
                 method (a passkey) when you can"
            );
        }
        let retired = now
            .duration_since(UNIX_EPOCH)
            .is_ok_and(|since| since >= RETIREMENT);
        let when = if retired { "retired" } else { "retires" };
        format!(
            "{only}. Microsoft-provided SMS and voice delivery for MFA and password reset {when} \
             on 1 February 2027 (in the public cloud; the national clouds follow later): from \
             then on this user must register a passkey at their next \
             sign-in (blocking, no opt-out), unless the tenant uses its own telecom provider \
             (then set MFA_TELEPHONY=customerManaged). Register a passkey or Microsoft \
             Authenticator for them now"
        )
    }

    fn policy_unknown(&self, outcome: &mut Outcome) {
        let error = match (self.policy, self.member_of) {
            (None, _) => return,
            (Some(Err(error)), _) | (Some(Ok(_)), Err(error)) => error,
            (Some(Ok(_)), Ok(_)) => return,
        };
        let remedy = if matches!(error.kind, GraphErrorKind::Forbidden { .. }) {
            format!(
                "grant {} to see it, or switch the check off (MFA_METHOD_POLICY_CHECK=false)",
                error.operation.permission()
            )
        } else {
            "it is read again within a minute".to_owned()
        };
        outcome.warn(
            WarningCode::PolicyUnknown,
            format!(
                "whether the Authentication methods policy lets this user use the number could \
                 not be checked ({error}); {remedy}"
            ),
        );
    }

    /// For a look (`show`): the picture of the `phone_type` method as it is, with the
    /// warnings about it.
    pub(super) fn show(&self, phone_type: PhoneType, outcome: &mut Outcome) {
        let current = self
            .methods
            .phone
            .iter()
            .find(|method| method.phone_type == phone_type)
            .cloned();
        match self.usable(phone_type) {
            None => self.policy_unknown(outcome),
            Some(usable) if current.is_some() => {
                let what = format!("the {phone_type} phone");
                self.policy_warnings(phone_type, &what, usable, outcome);
            }
            Some(_) => {}
        }
        self.after(phone_type, current.as_ref(), false, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retirement_is_told_in_the_tense_of_the_day() {
        let user = DirectoryUser {
            id: "u".to_owned(),
            user_principal_name: None,
            display_name: None,
            user_type: None,
            guest: false,
            account_enabled: None,
            mail: None,
            usage_location: None,
        };
        let methods = AuthenticationMethods::default();
        let policy = Some(Err(Arc::new(GraphError {
            operation: crate::graph::GraphOperation::ReadMethodPolicy,
            kind: crate::graph::GraphErrorKind::Malformed {
                detail: String::new(),
            },
        })));
        let member_of = Ok(HashSet::new());
        let mut picture = Picture {
            user: &user,
            methods: &methods,
            policy: &policy,
            member_of: &member_of,
            safeguards: Safeguards::default(),
        };
        let before = UNIX_EPOCH + RETIREMENT - Duration::from_secs(1);
        let after = UNIX_EPOCH + RETIREMENT;
        assert!(
            picture
                .phone_only_message(before)
                .contains("retires on 1 February 2027")
        );
        assert!(
            picture
                .phone_only_message(after)
                .contains("retired on 1 February 2027")
        );
        picture.safeguards.customer_managed_telephony = true;
        assert!(!picture.phone_only_message(before).contains("2027"));
    }
}
