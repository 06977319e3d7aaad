//! Keeps the simulated tenant: users, their phone methods, SMS sign-in, and Graph's rules about
//! them (reference graph.md §1, §2, §11). There is no HTTP here: the server module turns
//! requests into calls on [`Tenant`] and its answers into Graph's JSON.

use std::collections::HashMap;

use tokio::time::Instant;

use crate::phone::PhoneType;

pub mod azure;
pub mod directory;
mod numbers;
pub mod policy;
pub mod readiness;
mod records;
mod variants;

pub(crate) use self::numbers::{digits, normalise};
pub use self::records::{ReportRow, SentMail, SimPhone, SimUser};
pub use self::variants::{GuestsByUpn, Rejection, Variants};

/// An answer of the tenant to a write: success, or a Graph error.
pub(crate) type Verdict<T> = Result<T, Refused>;

/// A Graph error the tenant raises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) message: String,
}

/// The whole tenant.
#[derive(Debug)]
pub struct Tenant {
    users: Vec<SimUser>,
    index: HashMap<String, usize>,
    /// Digits of a number held for SMS sign-in → the holder's id.
    sms_registry: HashMap<String, String>,
    pub variants: Variants,
    /// When set, the registration report shows the tenant as it was at this snapshot.
    report_snapshot: Option<Vec<ReportRow>>,
    /// The organization's display name (`GET /organization`).
    pub(crate) organization_name: String,
    /// Every message `sendMail` accepted, in order.
    sent_mail: Vec<SentMail>,
    /// Groups and directory roles.
    pub directory: directory::Directory,
    /// The Authentication methods policy for SMS and voice.
    pub policy: policy::SimPolicy,
    /// The `lastUpdatedDateTime` the report's rows carry.
    pub(crate) report_refreshed_at: String,
    /// Every phone method deleted: the user's id and the number it held, in order (what a
    /// removal really took away, to set beside what it was asked to take).
    deletions: Vec<(String, String)>,
    /// The Azure side: the app's resources and who holds roles on them.
    pub azure: azure::AzureRbac,
}

impl Default for Tenant {
    fn default() -> Tenant {
        Tenant {
            users: Vec::new(),
            index: HashMap::new(),
            sms_registry: HashMap::new(),
            variants: Variants::default(),
            report_snapshot: None,
            organization_name: "Contoso".to_owned(),
            sent_mail: Vec::new(),
            directory: directory::Directory::default(),
            policy: policy::SimPolicy::default(),
            deletions: Vec::new(),
            report_refreshed_at: "2026-12-07T06:00:00Z".to_owned(),
            azure: azure::AzureRbac::default(),
        }
    }
}

impl Tenant {
    /// Adds a user; returns their id.
    pub fn add_user(&mut self, user: SimUser) -> String {
        let id = user.id.clone();
        self.index.insert(id.to_lowercase(), self.users.len());
        self.index
            .insert(user.user_principal_name.to_lowercase(), self.users.len());
        self.users.push(user);
        id
    }

    /// Finds a live user by object id or UPN, case-insensitively.
    pub fn find(&self, key: &str) -> Option<&SimUser> {
        let user = self.users.get(*self.index.get(&key.to_lowercase())?)?;
        (!user.deleted).then_some(user)
    }

    /// The user an authentication-methods write addresses, as Graph finds them there.
    fn methods_user(&self, key: &str) -> Verdict<usize> {
        let index = self
            .find_index(key)
            .ok_or_else(user_not_found_for_methods)?;
        if self.is_guest_by_upn(index, key) && self.variants.guests_by_upn != GuestsByUpn::Served {
            return Err(user_not_found_for_methods());
        }
        Ok(index)
    }

    /// Whether `key` names the guest at `index` by UPN rather than by object id.
    fn is_guest_by_upn(&self, index: usize, key: &str) -> bool {
        let user = &self.users[index];
        user.user_type.eq_ignore_ascii_case("guest") && !user.id.eq_ignore_ascii_case(key)
    }

    fn find_index(&self, key: &str) -> Option<usize> {
        let index = *self.index.get(&key.to_lowercase())?;
        (!self.users[index].deleted).then_some(index)
    }

    /// Every live user, in creation order.
    pub fn users(&self) -> impl Iterator<Item = &SimUser> {
        self.users.iter().filter(|user| !user.deleted)
    }

    /// Changes a user directly (test set-up), by id or UPN.
    pub fn update_user(&mut self, key: &str, change: impl FnOnce(&mut SimUser)) -> bool {
        let Some(&index) = self.index.get(&key.to_lowercase()) else {
            return false;
        };
        change(&mut self.users[index]);
        true
    }

    /// Puts a phone method in place directly (test set-up), with the SMS sign-in state the
    /// rules give it; an existing holder of the number for SMS sign-in is kept.
    pub fn seed_phone(&mut self, key: &str, phone_type: PhoneType, number: &str) {
        if let Some(number) = normalise(number) {
            self.seed_phone_as_written(key, phone_type, &number);
        }
    }

    /// Puts a phone method in place with its number stored exactly as `text` (test set-up):
    /// numbers written by older tools, the portal or a directory sync read like
    /// `+49 (0)170 1234567` or `+1 (425) 555-0100`, and Graph returns them so.
    pub fn seed_phone_as_written(&mut self, key: &str, phone_type: PhoneType, text: &str) {
        let Some(index) = self.find_index(key) else {
            return;
        };
        let number = text.to_owned();
        let state = self.sms_state_for(index, phone_type, &number);
        if state == "ready" {
            self.sms_registry
                .insert(digits(&number), self.users[index].id.clone());
        }
        self.users[index].phones.insert(
            slot(phone_type),
            SimPhone {
                phone_type,
                number,
                sms_sign_in_state: state,
            },
        );
    }

    /// Accepts a message from the mailbox `from` (id or UPN): Exchange refuses a sender that
    /// is not a live user with a mailbox.
    pub(crate) fn send_mail(&mut self, mut mail: SentMail) -> Verdict<()> {
        let sender = self.find(&mail.from).filter(|user| user.mail.is_some());
        let Some(sender) = sender else {
            return Err(Refused {
                status: 404,
                code: "ErrorInvalidUser".to_owned(),
                message: format!("The requested user '{}' is invalid.", mail.from),
            });
        };
        mail.from = sender.mail.clone().unwrap_or_default();
        self.sent_mail.push(mail);
        Ok(())
    }

    /// Every message accepted so far, in order.
    pub fn sent_mail(&self) -> &[SentMail] {
        &self.sent_mail
    }

    /// Every phone method deleted so far: (user id, the number it held).
    pub fn deletions(&self) -> &[(String, String)] {
        &self.deletions
    }

    /// Who holds `number` for SMS sign-in, if anyone.
    #[cfg(test)]
    pub(crate) fn sms_holder(&self, number: &str) -> Option<&str> {
        let number = normalise(number)?;
        self.sms_registry.get(&digits(&number)).map(String::as_str)
    }

    /// Returns the phone methods a read shows (possibly lagging behind the last write).
    pub(crate) fn read_phones(&self, key: &str, now: Instant) -> Verdict<Vec<SimPhone>> {
        let index = self
            .find_index(key)
            .ok_or_else(user_not_found_for_methods)?;
        if self.is_guest_by_upn(index, key) {
            return match self.variants.guests_by_upn {
                GuestsByUpn::NotFound => Err(user_not_found_for_methods()),
                GuestsByUpn::EmptyList => Ok(Vec::new()),
                GuestsByUpn::Served => Ok(self.users[index].visible_phones(now)),
            };
        }
        Ok(self.users[index].visible_phones(now))
    }

    /// Adds a phone method, as POST phoneMethods does.
    pub(crate) fn add_phone(
        &mut self,
        key: &str,
        phone_type: PhoneType,
        number: &str,
        now: Instant,
    ) -> Verdict<SimPhone> {
        let index = self.methods_user(key)?;
        let number = normalise(number).ok_or_else(invalid_number)?;
        let user = &self.users[index];
        if user.phone(phone_type).is_some() {
            let rejection = &self.variants.duplicate_post;
            return Err(refused(
                rejection.status,
                rejection.code,
                "A phone method of this type already exists for the user.",
            ));
        }
        if phone_type == PhoneType::AlternateMobile && user.phone(PhoneType::Mobile).is_none() {
            let rejection = &self.variants.structural;
            return Err(refused(
                rejection.status,
                rejection.code,
                "An alternate mobile phone requires a mobile phone.",
            ));
        }
        self.write(index, phone_type, number, now)
    }

    /// Updates a phone method, as PATCH phoneMethods/{id} does.
    pub(crate) fn update_phone(
        &mut self,
        key: &str,
        phone_type: PhoneType,
        body_type: Option<PhoneType>,
        number: &str,
        now: Instant,
    ) -> Verdict<SimPhone> {
        let index = self.methods_user(key)?;
        if self.users[index].phone(phone_type).is_none() {
            return Err(refused(
                404,
                "itemNotFound",
                "The phone method was not found.",
            ));
        }
        if body_type.is_some_and(|body_type| body_type != phone_type) {
            return Err(refused(
                400,
                "badRequest",
                "The phone type of a phone method cannot be changed.",
            ));
        }
        let number = normalise(number).ok_or_else(invalid_number)?;
        self.write(index, phone_type, number, now)
    }

    /// Removes a phone method, as DELETE phoneMethods/{id} does.
    pub(crate) fn remove_phone(
        &mut self,
        key: &str,
        phone_type: PhoneType,
        now: Instant,
    ) -> Verdict<()> {
        let index = self.methods_user(key)?;
        let user = &self.users[index];
        let Some(phone) = user.phone(phone_type) else {
            return Err(refused(
                404,
                "itemNotFound",
                "The phone method was not found.",
            ));
        };
        if phone_type == PhoneType::Mobile && user.phone(PhoneType::AlternateMobile).is_some() {
            let rejection = &self.variants.structural;
            return Err(refused(
                rejection.status,
                rejection.code,
                "The mobile phone cannot be deleted while an alternate mobile phone exists.",
            ));
        }
        let other_methods = user.phones.len() - 1 + user.other_methods.len();
        if user.default_method == Some(phone_type) && other_methods > 0 {
            return Err(refused(
                400,
                "badRequest",
                "Cannot delete default method with other methods configured. Please change \
                 default method before deletion.",
            ));
        }
        let number = phone.number.clone();
        self.snapshot_for_lag(index, now);
        let user = &mut self.users[index];
        user.phones.remove(&slot(phone_type));
        if user.default_method == Some(phone_type) {
            user.default_method = None;
        }
        let id = user.id.clone();
        self.release(&id, &number);
        self.deletions.push((id, number));
        Ok(())
    }

    /// Switches SMS sign-in, as POST phoneMethods/{mobile}/enableSmsSignIn or disableSmsSignIn
    /// do [UNVERIFIED: the errors' codes and the state after disabling are not documented].
    pub fn switch_sms_sign_in(&mut self, key: &str, enable: bool, now: Instant) -> Verdict<()> {
        let index = self.methods_user(key)?;
        let Some(mobile) = self.users[index].phone(PhoneType::Mobile).cloned() else {
            return Err(refused(
                404,
                "itemNotFound",
                "The phone method was not found.",
            ));
        };
        let id = self.users[index].id.clone();
        self.snapshot_for_lag(index, now);
        if enable {
            if !self.sms_sign_in_allowed(index) {
                return Err(refused(
                    400,
                    "badRequest",
                    "Cannot enable SMS sign-in on phone auth method as the credential policy is \
                     not enabled on user.",
                ));
            }
            match self.sms_registry.get(&digits(&mobile.number)) {
                Some(holder) if *holder != id => {
                    return Err(refused(
                        409,
                        "phoneNumberNotUnique",
                        "The phone number is already registered for SMS sign-in by another user.",
                    ));
                }
                _ => {}
            }
            self.sms_registry.insert(digits(&mobile.number), id);
            self.set_state(index, "ready");
        } else {
            self.release(&id, &mobile.number);
            self.set_state(index, "notEnabled");
        }
        Ok(())
    }

    /// Returns the registration details report's rows, live or as of the last snapshot.
    pub(crate) fn report_rows(&self) -> Vec<ReportRow> {
        match &self.report_snapshot {
            Some(rows) => rows.clone(),
            None => self.live_report_rows(),
        }
    }

    /// Freezes the report as the tenant is now: later changes do not show (the real report
    /// lags by hours).
    pub fn freeze_report(&mut self) {
        self.report_snapshot = Some(self.live_report_rows());
    }

    /// Builds the report as Graph does: enabled users only ("this method doesn't work for
    /// disabled users"), phones and every other method by the report's names.
    fn live_report_rows(&self) -> Vec<ReportRow> {
        self.users()
            .filter(|user| user.account_enabled)
            .map(|user| ReportRow {
                id: user.id.clone(),
                user_principal_name: user.user_principal_name.clone(),
                display_name: user.display_name.clone(),
                user_type: user.user_type.to_lowercase(),
                methods_registered: user
                    .phones
                    .values()
                    .map(|phone| {
                        match phone.phone_type {
                            PhoneType::Mobile => "mobilePhone",
                            PhoneType::AlternateMobile => "alternateMobilePhone",
                            PhoneType::Office => "officePhone",
                        }
                        .to_owned()
                    })
                    .chain(
                        user.other_methods
                            .iter()
                            .map(|kind| readiness::report_name(kind)),
                    )
                    .collect(),
                last_updated: self.report_refreshed_at.clone(),
            })
            .collect()
    }

    fn write(
        &mut self,
        index: usize,
        phone_type: PhoneType,
        number: String,
        now: Instant,
    ) -> Verdict<SimPhone> {
        let id = self.users[index].id.clone();
        let state = self.sms_state_for(index, phone_type, &number);
        let conflict = state == "phoneNumberNotUnique";
        if conflict && !self.variants.conflict_writes_method {
            return Err(not_unique());
        }
        self.snapshot_for_lag(index, now);
        if let Some(previous) = self.users[index].phone(phone_type).cloned() {
            self.release(&id, &previous.number);
        }
        if state == "ready" {
            self.sms_registry.insert(digits(&number), id);
        }
        let phone = SimPhone {
            phone_type,
            number,
            sms_sign_in_state: state,
        };
        self.users[index]
            .phones
            .insert(slot(phone_type), phone.clone());
        if conflict {
            return Err(not_unique());
        }
        Ok(phone)
    }

    /// Decides the state Graph gives a method of this type and number for this user.
    fn sms_state_for(&self, index: usize, phone_type: PhoneType, number: &str) -> String {
        let user = &self.users[index];
        if phone_type != PhoneType::Mobile {
            return "notSupported".to_owned();
        }
        if !self.sms_sign_in_allowed(index) {
            return "notAllowedByPolicy".to_owned();
        }
        match self.sms_registry.get(&digits(number)) {
            Some(holder) if *holder != user.id => "phoneNumberNotUnique".to_owned(),
            _ => "ready".to_owned(),
        }
    }

    /// Whether the policy (and the user's own switch) enables the user for SMS sign-in.
    fn sms_sign_in_allowed(&self, index: usize) -> bool {
        let user = &self.users[index];
        let groups = self.directory.groups_of(&user.id);
        user.sms_sign_in_allowed && self.policy.sms.applies(&user.id, &groups, true)
    }

    fn release(&mut self, id: &str, number: &str) {
        let digits = digits(number);
        if self
            .sms_registry
            .get(&digits)
            .is_some_and(|holder| holder == id)
        {
            self.sms_registry.remove(&digits);
        }
    }

    fn set_state(&mut self, index: usize, state: &str) {
        if let Some(phone) = self.users[index].phones.get_mut(&slot(PhoneType::Mobile)) {
            phone.sms_sign_in_state = state.to_owned();
        }
    }

    fn snapshot_for_lag(&mut self, index: usize, now: Instant) {
        let lag = self.variants.read_lag;
        if lag.is_zero() {
            return;
        }
        let user = &mut self.users[index];
        let snapshot = match user.stale.take() {
            Some((until, snapshot)) if now < until => snapshot,
            _ => user.phones.clone(),
        };
        user.stale = Some((now + lag, snapshot));
    }
}

fn slot(phone_type: PhoneType) -> u8 {
    match phone_type {
        PhoneType::Mobile => 0,
        PhoneType::AlternateMobile => 1,
        PhoneType::Office => 2,
    }
}

fn refused(status: u16, code: &str, message: &str) -> Refused {
    Refused {
        status,
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

fn invalid_number() -> Refused {
    refused(
        400,
        "invalidPhoneNumber",
        "The phone number is not in a valid format.",
    )
}

fn not_unique() -> Refused {
    refused(
        409,
        "phoneNumberNotUnique",
        "The phone number is already registered for SMS sign-in by another user.",
    )
}

/// [UNVERIFIED] the authentication-methods backend's answer for an unknown user.
fn user_not_found_for_methods() -> Refused {
    refused(404, "itemNotFound", "The user was not found.")
}

#[cfg(test)]
mod tests;
