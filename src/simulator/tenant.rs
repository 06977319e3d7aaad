//! The simulated tenant: users, their phone methods, SMS sign-in, and Graph's rules about them
//! (reference graph.md §1, §2, §11). No HTTP here: the server module turns requests into calls
//! on [`Tenant`] and its answers into Graph's JSON.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use crate::phone::PhoneType;

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
        }
    }
}

/// A simulated user.
#[derive(Clone, Debug)]
pub struct SimUser {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    /// `Member` or `Guest`.
    pub user_type: String,
    pub account_enabled: bool,
    /// Whether the Authentication Methods Policy enables this user for SMS sign-in.
    pub sms_sign_in_allowed: bool,
    /// The user's default MFA method, when it is a phone type.
    pub default_method: Option<PhoneType>,
    /// How many non-phone methods (authenticator app, FIDO2 key, …) the user has.
    pub other_methods: u32,
    /// Deleted users are invisible everywhere, but still hold their SMS sign-in numbers.
    pub deleted: bool,
    /// The user's primary SMTP address; `None` for a user without a mailbox.
    pub mail: Option<String>,
    /// Where the user works, as two letters (`DE`); decides the notification's language.
    pub usage_location: Option<String>,
    phones: BTreeMap<u8, SimPhone>,
    /// What reads show until the lag after the last write has passed.
    stale: Option<(Instant, BTreeMap<u8, SimPhone>)>,
}

/// A stored phone method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimPhone {
    pub phone_type: PhoneType,
    /// As Graph stores it: `+{cc} {national}` with an optional `x{extension}`.
    pub number: String,
    pub sms_sign_in_state: String,
}

/// An answer of the tenant to a write: success, or a Graph error.
pub type Outcome<T> = Result<T, Refused>;

/// A Graph error the tenant raises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub code: String,
    pub message: String,
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
    pub organization_name: String,
    /// Every message `sendMail` accepted, in order.
    sent_mail: Vec<SentMail>,
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
        }
    }
}

/// A message the simulated Exchange accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMail {
    /// The mailbox it was sent from, as the caller named it.
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    /// `HTML` or `Text`.
    pub content_type: String,
    pub content: String,
    pub save_to_sent_items: bool,
}

/// A row of the registration details report.
#[derive(Clone, Debug)]
pub struct ReportRow {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    pub user_type: String,
    pub methods_registered: Vec<&'static str>,
}

impl SimUser {
    /// A member user, enabled, allowed SMS sign-in, without methods.
    pub fn member(user_principal_name: &str, display_name: &str) -> SimUser {
        SimUser {
            id: uuid::Uuid::new_v4().to_string(),
            user_principal_name: user_principal_name.to_owned(),
            display_name: display_name.to_owned(),
            user_type: "Member".to_owned(),
            account_enabled: true,
            sms_sign_in_allowed: true,
            default_method: None,
            other_methods: 0,
            deleted: false,
            mail: Some(user_principal_name.to_owned()),
            usage_location: None,
            phones: BTreeMap::new(),
            stale: None,
        }
    }

    /// A B2B guest (`…#EXT#@…`); SMS sign-in is not available to guests. Their mail is their
    /// home address, read back from the UPN (`ann_fabrikam.com#EXT#@…` → `ann@fabrikam.com`).
    pub fn guest(user_principal_name: &str, display_name: &str) -> SimUser {
        let home = user_principal_name
            .split_once("#EXT#")
            .and_then(|(local, _)| local.rsplit_once('_'))
            .map(|(name, domain)| format!("{name}@{domain}"));
        SimUser {
            user_type: "Guest".to_owned(),
            sms_sign_in_allowed: false,
            mail: home,
            ..SimUser::member(user_principal_name, display_name)
        }
    }

    pub fn with_id(mut self, id: &str) -> SimUser {
        self.id = id.to_owned();
        self
    }

    pub fn with_usage_location(mut self, location: &str) -> SimUser {
        self.usage_location = Some(location.to_owned());
        self
    }

    /// A user without a mailbox (no `mail`).
    pub fn without_mailbox(mut self) -> SimUser {
        self.mail = None;
        self
    }

    /// The user's phone methods as they are now (not as a lagging read shows them).
    pub fn phones(&self) -> Vec<SimPhone> {
        self.phones.values().cloned().collect()
    }

    fn visible_phones(&self, now: Instant) -> Vec<SimPhone> {
        match &self.stale {
            Some((until, snapshot)) if now < *until => snapshot.values().cloned().collect(),
            _ => self.phones(),
        }
    }

    fn phone(&self, phone_type: PhoneType) -> Option<&SimPhone> {
        self.phones.get(&slot(phone_type))
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
        let Some(index) = self.find_index(key) else {
            return;
        };
        let Some(number) = normalise(number) else {
            return;
        };
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

    /// Registers `number` for SMS sign-in to the user `key` directly: the user then holds it,
    /// whatever methods they have (soft-deleted holders are modelled this way).
    pub fn hold_for_sms_sign_in(&mut self, key: &str, number: &str) {
        let Some(&index) = self.index.get(&key.to_lowercase()) else {
            return;
        };
        if let Some(number) = normalise(number) {
            self.sms_registry
                .insert(digits(&number), self.users[index].id.clone());
        }
    }

    /// Accepts a message from the mailbox `from` (id or UPN): Exchange refuses a sender that
    /// is not a live user with a mailbox.
    pub fn send_mail(&mut self, mut mail: SentMail) -> Outcome<()> {
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

    /// Who holds `number` for SMS sign-in, if anyone.
    pub fn sms_holder(&self, number: &str) -> Option<&str> {
        let number = normalise(number)?;
        self.sms_registry.get(&digits(&number)).map(String::as_str)
    }

    /// The phone methods a read shows (possibly lagging behind the last write).
    pub fn read_phones(&self, key: &str, now: Instant) -> Outcome<Vec<SimPhone>> {
        let index = self
            .find_index(key)
            .ok_or_else(user_not_found_for_methods)?;
        Ok(self.users[index].visible_phones(now))
    }

    /// POST phoneMethods.
    pub fn add_phone(
        &mut self,
        key: &str,
        phone_type: PhoneType,
        number: &str,
        now: Instant,
    ) -> Outcome<SimPhone> {
        let index = self
            .find_index(key)
            .ok_or_else(user_not_found_for_methods)?;
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

    /// PATCH phoneMethods/{id}.
    pub fn update_phone(
        &mut self,
        key: &str,
        phone_type: PhoneType,
        body_type: Option<PhoneType>,
        number: &str,
        now: Instant,
    ) -> Outcome<SimPhone> {
        let index = self
            .find_index(key)
            .ok_or_else(user_not_found_for_methods)?;
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

    /// DELETE phoneMethods/{id}.
    pub fn remove_phone(&mut self, key: &str, phone_type: PhoneType, now: Instant) -> Outcome<()> {
        let index = self
            .find_index(key)
            .ok_or_else(user_not_found_for_methods)?;
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
        let other_methods = user.phones.len() as u32 - 1 + user.other_methods;
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
        Ok(())
    }

    /// POST phoneMethods/{mobile}/enableSmsSignIn or disableSmsSignIn [UNVERIFIED: the
    /// errors' codes and the state after disabling are not documented].
    pub fn switch_sms_sign_in(&mut self, key: &str, enable: bool, now: Instant) -> Outcome<()> {
        let index = self
            .find_index(key)
            .ok_or_else(user_not_found_for_methods)?;
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
            if !self.users[index].sms_sign_in_allowed {
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

    /// The registration details report's rows, live or as of the last snapshot.
    pub fn report_rows(&self) -> Vec<ReportRow> {
        match &self.report_snapshot {
            Some(rows) => rows.clone(),
            None => self.live_report_rows(),
        }
    }

    /// Freezes the report as the tenant is now: later changes do not show until
    /// [`Tenant::refresh_report`] (the real report lags by hours).
    pub fn freeze_report(&mut self) {
        self.report_snapshot = Some(self.live_report_rows());
    }

    pub fn refresh_report(&mut self) {
        self.report_snapshot = None;
    }

    fn live_report_rows(&self) -> Vec<ReportRow> {
        self.users()
            .map(|user| ReportRow {
                id: user.id.clone(),
                user_principal_name: user.user_principal_name.clone(),
                display_name: user.display_name.clone(),
                user_type: user.user_type.to_lowercase(),
                methods_registered: user
                    .phones
                    .values()
                    .map(|phone| match phone.phone_type {
                        PhoneType::Mobile => "mobilePhone",
                        PhoneType::AlternateMobile => "alternateMobilePhone",
                        PhoneType::Office => "officePhone",
                    })
                    .collect(),
            })
            .collect()
    }

    fn write(
        &mut self,
        index: usize,
        phone_type: PhoneType,
        number: String,
        now: Instant,
    ) -> Outcome<SimPhone> {
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

    /// The state Graph gives a method of this type and number for this user.
    fn sms_state_for(&self, index: usize, phone_type: PhoneType, number: &str) -> String {
        let user = &self.users[index];
        if phone_type != PhoneType::Mobile {
            return "notSupported".to_owned();
        }
        if !user.sms_sign_in_allowed {
            return "notAllowedByPolicy".to_owned();
        }
        match self.sms_registry.get(&digits(number)) {
            Some(holder) if *holder != user.id => "phoneNumberNotUnique".to_owned(),
            _ => "ready".to_owned(),
        }
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

/// Normalises a number to Graph's stored form, or `None` when Graph would reject its format.
/// Graph accepts `+{cc} {number}x{ext}` and, in practice, E.164 without the space.
pub fn normalise(number: &str) -> Option<String> {
    let (main, extension) = match number.split_once('x') {
        Some((main, extension)) => (main, Some(extension)),
        None => (number, None),
    };
    if let Some(extension) = extension
        && (extension.is_empty() || !extension.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let rest = main.strip_prefix('+')?;
    let main = match rest.split_once(' ') {
        Some((code, national))
            if (1..=3).contains(&code.len())
                && code.chars().all(|c| c.is_ascii_digit())
                && !national.is_empty()
                && national.chars().all(|c| c.is_ascii_digit()) =>
        {
            format!("+{code} {national}")
        }
        Some(_) => return None,
        None => {
            if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let parsed = phonenumber::parse(None, main).ok()?;
            let national = parsed.national();
            format!(
                "+{} {}{}",
                parsed.code().value(),
                "0".repeat(usize::from(national.zeros())),
                national.value()
            )
        }
    };
    Some(match extension {
        Some(extension) => format!("{main}x{extension}"),
        None => main,
    })
}

/// The digits that identify a number (extension excluded).
pub fn digits(number: &str) -> String {
    number
        .split('x')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
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
mod tests {
    use super::*;

    fn tenant_with(user: SimUser) -> (Tenant, String) {
        let mut tenant = Tenant::default();
        let id = tenant.add_user(user);
        (tenant, id)
    }

    #[test]
    fn numbers_are_stored_as_country_code_space_national() {
        assert_eq!(
            normalise("+49 1701234567").as_deref(),
            Some("+49 1701234567")
        );
        assert_eq!(
            normalise("+491701234567").as_deref(),
            Some("+49 1701234567")
        );
        assert_eq!(
            normalise("+1 5555551234x123").as_deref(),
            Some("+1 5555551234x123")
        );
        assert_eq!(normalise("01701234567"), None);
        assert_eq!(normalise("+49 170 1234567"), None);
        assert_eq!(normalise("+49 1701234567x"), None);
    }

    #[tokio::test]
    async fn sms_sign_in_numbers_are_unique_and_conflicts_still_write_by_default() {
        let now = Instant::now();
        let mut tenant = Tenant::default();
        let holder = tenant.add_user(SimUser::member("a@x", "A"));
        let other = tenant.add_user(SimUser::member("b@x", "B"));
        let phone = tenant
            .add_phone(&holder, PhoneType::Mobile, "+49 1701234567", now)
            .unwrap();
        assert_eq!(phone.sms_sign_in_state, "ready");
        let conflict = tenant
            .add_phone(&other, PhoneType::Mobile, "+491701234567", now)
            .unwrap_err();
        assert_eq!(
            (conflict.status, conflict.code.as_str()),
            (409, "phoneNumberNotUnique")
        );
        let written = tenant.read_phones(&other, now).unwrap();
        assert_eq!(written[0].sms_sign_in_state, "phoneNumberNotUnique");
        assert_eq!(tenant.sms_holder("+49 1701234567"), Some(holder.as_str()));

        tenant.variants.conflict_writes_method = false;
        tenant.remove_phone(&other, PhoneType::Mobile, now).unwrap();
        assert!(
            tenant
                .add_phone(&other, PhoneType::Mobile, "+491701234567", now)
                .is_err()
        );
        assert!(tenant.read_phones(&other, now).unwrap().is_empty());
    }

    #[tokio::test]
    async fn graph_structural_rules_are_enforced() {
        let now = Instant::now();
        let (mut tenant, id) = tenant_with(SimUser::member("a@x", "A"));
        let error = tenant
            .add_phone(&id, PhoneType::AlternateMobile, "+49 1701234567", now)
            .unwrap_err();
        assert_eq!(error.status, 400);
        tenant
            .add_phone(&id, PhoneType::Mobile, "+49 1701234567", now)
            .unwrap();
        assert_eq!(
            tenant
                .add_phone(&id, PhoneType::Mobile, "+49 1701234568", now)
                .unwrap_err()
                .status,
            400
        );
        tenant
            .add_phone(&id, PhoneType::AlternateMobile, "+49 1701234568", now)
            .unwrap();
        assert_eq!(
            tenant
                .remove_phone(&id, PhoneType::Mobile, now)
                .unwrap_err()
                .status,
            400
        );
        tenant
            .remove_phone(&id, PhoneType::AlternateMobile, now)
            .unwrap();
        tenant.remove_phone(&id, PhoneType::Mobile, now).unwrap();
        assert_eq!(tenant.sms_holder("+49 1701234567"), None);
    }

    #[tokio::test]
    async fn the_default_method_cannot_go_while_others_exist() {
        let now = Instant::now();
        let mut user = SimUser::member("a@x", "A");
        user.default_method = Some(PhoneType::Mobile);
        user.other_methods = 1;
        let (mut tenant, id) = tenant_with(user);
        tenant
            .add_phone(&id, PhoneType::Mobile, "+49 1701234567", now)
            .unwrap();
        let error = tenant
            .remove_phone(&id, PhoneType::Mobile, now)
            .unwrap_err();
        assert_eq!((error.status, error.code.as_str()), (400, "badRequest"));
        tenant.update_user(&id, |user| user.other_methods = 0);
        tenant.remove_phone(&id, PhoneType::Mobile, now).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn reads_can_lag_behind_writes() {
        let (mut tenant, id) = tenant_with(SimUser::member("a@x", "A"));
        tenant.variants.read_lag = Duration::from_secs(1);
        let now = Instant::now();
        tenant
            .add_phone(&id, PhoneType::Mobile, "+49 1701234567", now)
            .unwrap();
        assert!(tenant.read_phones(&id, now).unwrap().is_empty());
        assert_eq!(
            tenant
                .read_phones(&id, now + Duration::from_secs(1))
                .unwrap()
                .len(),
            1
        );
    }
}
