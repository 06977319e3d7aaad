//! The notification e-mail the runbook's `NotifyUser` sends: after the phone method changed,
//! tell the user, in English or German, from a service mailbox, with the service desk to
//! contact if they did not expect it.
//!
//! Unlike the runbook it mails only when something changed (not for `unchanged`, not for
//! `notPresent`), never on a dry run, shows the number masked, and never fails the invocation:
//! the phone change has happened, so a mail that cannot be sent is a warning. Because a
//! redelivered request finds the tenant already changed, a change is announced at most once.
//! Composing the message ([`compose`]) is pure; [`Notifier`] does the IO.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::graph::{DirectoryUser, GraphClient, GraphErrorKind, OutgoingMail};
use crate::journal::Journal;
use crate::phone::{PhoneNumber, PhoneType};
use crate::report::{Action, NotificationStatus, NotificationSummary, Report, WarningCode};
use crate::request::Request;
use crate::user::UserRef;

/// How notifications are sent, from the configuration.
#[derive(Clone, Debug, Default)]
pub struct NotifySettings {
    /// The mailbox the mail is sent from (`MFA_NOTIFY_SENDER`); without it `NotifyUser` is
    /// refused.
    pub sender: Option<UserRef>,
    /// The organization's name for the mail (`MFA_NOTIFY_ORGANIZATION_NAME`); when unset it is
    /// read from Graph once (Organization.Read.All).
    pub organization_name: Option<String>,
    pub service_desk: ServiceDesk,
}

/// Whom the user should contact when they did not expect the change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceDesk {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// The languages the mail is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    English,
    German,
}

impl Language {
    /// Reads `en`, `de`, a tag such as `de-AT`, or the language's name in English or German.
    pub fn parse(value: &str) -> Option<Language> {
        let value = value.trim().to_ascii_lowercase();
        let primary = value.split(['-', '_']).next().unwrap_or_default();
        match primary {
            "en" | "english" | "englisch" => Some(Language::English),
            "de" | "german" | "deutsch" => Some(Language::German),
            _ => None,
        }
    }

    /// German for users working where German is the (or a) main language, else English.
    pub fn for_usage_location(location: Option<&str>) -> Language {
        match location.map(|location| location.trim().to_ascii_uppercase()) {
            Some(location) if matches!(location.as_str(), "DE" | "AT" | "CH" | "LI") => {
                Language::German
            }
            _ => Language::English,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::German => "de",
        }
    }
}

/// What happened to the user's phone method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Updated,
    Removed,
}

impl Change {
    /// The change a report's action announces, if any.
    pub fn of(action: Action) -> Option<Change> {
        match action {
            Action::Added => Some(Change::Added),
            Action::Updated => Some(Change::Updated),
            Action::Removed => Some(Change::Removed),
            Action::Unchanged | Action::NotPresent | Action::None => None,
        }
    }
}

/// Everything the message says, as plain (unescaped) text.
pub struct Facts<'a> {
    pub language: Language,
    pub change: Change,
    pub phone_type: PhoneType,
    pub number: &'a PhoneNumber,
    pub display_name: Option<&'a str>,
    pub user_principal_name: Option<&'a str>,
    pub organization: Option<&'a str>,
    pub service_desk: &'a ServiceDesk,
}

/// The subject and HTML body of the mail. Every value that comes from the directory or the
/// configuration is HTML-escaped; the number appears only masked.
pub fn compose(facts: &Facts<'_>) -> (String, String) {
    let words = Words::of(facts.language);
    let phone = match facts.phone_type {
        PhoneType::Mobile => &words.mobile,
        PhoneType::AlternateMobile => &words.alternate_mobile,
        PhoneType::Office => &words.office,
    };
    let subject = match facts.change {
        Change::Added => words.subject_added,
        Change::Updated => words.subject_updated,
        Change::Removed => words.subject_removed,
    };
    let subject = capitalise(&fill(
        subject,
        &[("a", phone.indefinite), ("the", phone.definite)],
    ));
    let who = match facts.organization {
        Some(organization) => fill(words.team_of, &[("org", &escape(organization))]),
        None => words.team.to_owned(),
    };
    let account = match facts.user_principal_name {
        Some(name) => format!("{} <b>{}</b>", words.your_account, escape(name)),
        None => words.your_account.to_owned(),
    };
    let number = format!("<b>{}</b>", escape(&facts.number.masked()));
    let what = match facts.change {
        Change::Added => words.body_added,
        Change::Updated => words.body_updated,
        Change::Removed => words.body_removed,
    };
    let what = fill(
        what,
        &[
            ("who", &who),
            ("your", phone.possessive),
            ("account", &account),
            ("number", &number),
        ],
    );
    let desk = service_desk_html(facts.service_desk, &words);
    let mut html =
        String::from("<html><body style=\"font-family:Segoe UI,Arial,sans-serif;font-size:11pt\">");
    let greeting = match facts.display_name {
        Some(name) => fill(words.hello_name, &[("name", &escape(name))]),
        None => words.hello.to_owned(),
    };
    let _ = write!(
        html,
        "<p>{greeting}</p><p>{}</p><p>{}</p><p>{}</p>",
        capitalise(&what),
        words.masked_note,
        fill(words.not_you, &[("desk", &desk)])
    );
    if let Some(organization) = facts.organization {
        let _ = write!(
            html,
            "<p style=\"color:#666666\">{}</p>",
            escape(organization)
        );
    }
    html.push_str("</body></html>");
    (subject, html)
}

/// Fills the `{name}` places of a fixed text in one pass: text that was filled in is never
/// read for places again, so a directory value such as `ACME {number}` stays as it is.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn service_desk_html(desk: &ServiceDesk, words: &Words) -> String {
    let mut parts = Vec::new();
    if let Some(name) = &desk.name {
        parts.push(escape(name));
    }
    if let Some(email) = &desk.email {
        parts.push(format!(
            "<a href=\"mailto:{0}\">{0}</a>",
            escape(email.trim())
        ));
    }
    if let Some(phone) = &desk.phone {
        parts.push(escape(phone));
    }
    if parts.is_empty() {
        words.desk_fallback.to_owned()
    } else {
        parts.join(", ")
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn capitalise(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// A phone type in the phrases the message needs.
struct PhoneWords {
    indefinite: &'static str,
    definite: &'static str,
    possessive: &'static str,
}

/// The message's fixed text in one language; `{…}` marks what is filled in.
struct Words {
    mobile: PhoneWords,
    alternate_mobile: PhoneWords,
    office: PhoneWords,
    subject_added: &'static str,
    subject_updated: &'static str,
    subject_removed: &'static str,
    hello: &'static str,
    hello_name: &'static str,
    team: &'static str,
    team_of: &'static str,
    /// "your account", in the case the body's sentences need.
    your_account: &'static str,
    body_added: &'static str,
    body_updated: &'static str,
    body_removed: &'static str,
    masked_note: &'static str,
    not_you: &'static str,
    desk_fallback: &'static str,
}

impl Words {
    fn of(language: Language) -> Words {
        match language {
            Language::English => Words {
                mobile: PhoneWords {
                    indefinite: "a mobile phone",
                    definite: "the mobile phone",
                    possessive: "your mobile phone",
                },
                alternate_mobile: PhoneWords {
                    indefinite: "an alternate mobile phone",
                    definite: "the alternate mobile phone",
                    possessive: "your alternate mobile phone",
                },
                office: PhoneWords {
                    indefinite: "an office phone",
                    definite: "the office phone",
                    possessive: "your office phone",
                },
                subject_added: "{a} was added to your sign-in methods",
                subject_updated: "{the} of your sign-in methods was changed",
                subject_removed: "{a} was removed from your sign-in methods",
                hello: "Hello,",
                hello_name: "Hello {name},",
                team: "your IT team",
                team_of: "the IT team of {org}",
                your_account: "your account",
                body_added: "{who} has added the number {number} as {your} for multi-factor \
                             authentication (verification by call or text message) to {account}.",
                body_updated: "{who} has changed {your} for multi-factor authentication \
                               (verification by call or text message) of {account} to the \
                               number {number}.",
                body_removed: "{who} has removed the number {number}, {your} for multi-factor \
                               authentication, from {account}.",
                masked_note: "For your privacy the number is shown shortened.",
                not_you: "If you did not ask for this change, contact {desk} at once.",
                desk_fallback: "your IT service desk",
            },
            Language::German => Words {
                mobile: PhoneWords {
                    indefinite: "ein Mobiltelefon",
                    definite: "das Mobiltelefon",
                    possessive: "Ihr Mobiltelefon",
                },
                alternate_mobile: PhoneWords {
                    indefinite: "ein alternatives Mobiltelefon",
                    definite: "das alternative Mobiltelefon",
                    possessive: "Ihr alternatives Mobiltelefon",
                },
                office: PhoneWords {
                    indefinite: "ein Bürotelefon",
                    definite: "das Bürotelefon",
                    possessive: "Ihr Bürotelefon",
                },
                subject_added: "{a} wurde Ihren Anmeldemethoden hinzugefügt",
                subject_updated: "{the} Ihrer Anmeldemethoden wurde geändert",
                subject_removed: "{a} wurde aus Ihren Anmeldemethoden entfernt",
                hello: "Guten Tag,",
                hello_name: "Guten Tag {name},",
                team: "Ihr IT-Team",
                team_of: "das IT-Team von {org}",
                your_account: "Ihrem Konto",
                body_added: "{who} hat die Nummer {number} als {your} für die \
                             Multi-Faktor-Authentifizierung (Bestätigung per Anruf oder SMS) zu \
                             {account} hinzugefügt.",
                body_updated: "{who} hat {your} für die Multi-Faktor-Authentifizierung \
                               (Bestätigung per Anruf oder SMS) in {account} auf die Nummer \
                               {number} geändert.",
                body_removed: "{who} hat die Nummer {number}, {your} für die \
                               Multi-Faktor-Authentifizierung, aus {account} entfernt.",
                masked_note: "Zum Schutz Ihrer Daten wird die Nummer gekürzt angezeigt.",
                not_you: "Falls Sie diese Änderung nicht veranlasst haben, wenden Sie sich bitte \
                          umgehend an {desk}.",
                desk_fallback: "Ihren IT-Service-Desk",
            },
        }
    }
}

/// What is known of the organization's name when the configuration does not give it.
#[derive(Clone, Debug)]
enum OrganizationName {
    /// Never read.
    Unknown,
    /// An invocation is reading it; others go ahead without waiting.
    Reading,
    Known(Option<String>),
    /// The last read failed or was too slow; not tried again before [`RETRY_ORGANIZATION`].
    Failed(Instant),
    /// Graph refused our identity (no Organization.Read.All): not asked again for the life of
    /// the process; a new grant takes effect on restart.
    Refused,
}

/// The longest an invocation waits for the organization's name.
const ORGANIZATION_WAIT: Duration = Duration::from_secs(2);
/// How long after a failed read the name is read again.
const RETRY_ORGANIZATION: Duration = Duration::from_secs(300);

/// Marks an abandoned read of the organization's name as failed.
struct ReadingGuard<'a>(&'a Notifier);

impl Drop for ReadingGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.0.organization_state();
        if matches!(*state, OrganizationName::Reading) {
            *state = OrganizationName::Failed(Instant::now());
        }
    }
}

/// Sends the notification; shared by every invocation of the process.
pub struct Notifier {
    settings: NotifySettings,
    organization: Mutex<OrganizationName>,
}

impl Notifier {
    pub fn new(settings: NotifySettings) -> Notifier {
        Notifier {
            settings,
            organization: Mutex::new(OrganizationName::Unknown),
        }
    }

    /// Whether `NotifyUser` can be honoured: a sender mailbox is configured.
    pub fn is_configured(&self) -> bool {
        self.settings.sender.is_some()
    }

    /// Reads the organization's name if a notification may need it and no read is known,
    /// under way, or recently failed. Meant to run alongside the invocation's first read; it
    /// waits at most [`ORGANIZATION_WAIT`], as the name is only cosmetic.
    pub async fn prepare(&self, graph: &GraphClient, request: &Request) {
        if !request.notify_user || request.dry_run || self.settings.organization_name.is_some() {
            return;
        }
        {
            let mut state = self.organization_state();
            let due = match *state {
                OrganizationName::Unknown => true,
                OrganizationName::Failed(at) => at.elapsed() >= RETRY_ORGANIZATION,
                OrganizationName::Reading
                | OrganizationName::Known(_)
                | OrganizationName::Refused => false,
            };
            if !due {
                return;
            }
            *state = OrganizationName::Reading;
        }
        // Should this future be dropped mid-read, the guard marks the read as failed.
        let guard = ReadingGuard(self);
        let read = tokio::time::timeout(ORGANIZATION_WAIT, graph.organization_name()).await;
        let state = match read {
            Err(_) => {
                tracing::warn!(
                    "reading the organization's name took over {} s; mails go without it for now",
                    ORGANIZATION_WAIT.as_secs()
                );
                OrganizationName::Failed(Instant::now())
            }
            Ok(Ok(name)) => OrganizationName::Known(name),
            Ok(Err(error)) => {
                tracing::warn!(
                    "could not read the organization's name for the notification ({}); set \
                     MFA_NOTIFY_ORGANIZATION_NAME or grant Organization.Read.All",
                    error.kind
                );
                match error.kind {
                    GraphErrorKind::Forbidden { .. } => OrganizationName::Refused,
                    _ => OrganizationName::Failed(Instant::now()),
                }
            }
        };
        *self.organization_state() = state;
        std::mem::forget(guard);
    }

    fn organization_state(&self) -> std::sync::MutexGuard<'_, OrganizationName> {
        self.organization
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn organization(&self) -> Option<String> {
        if let Some(name) = &self.settings.organization_name {
            return Some(name.clone());
        }
        match &*self.organization_state() {
            OrganizationName::Known(name) => name.clone(),
            _ => None,
        }
    }

    /// Tells the user about the change the report records, when the request asked for it.
    /// Never fails the invocation: a mail that cannot be sent is a warning.
    pub async fn notify(
        &self,
        graph: &GraphClient,
        user: Option<&DirectoryUser>,
        request: &Request,
        deadline: tokio::time::Instant,
        report: &mut Report,
        journal: &mut Journal,
    ) {
        if !request.notify_user {
            return;
        }
        let status = self
            .deliver(graph, user, request, deadline, report, journal)
            .await;
        report.notification = Some(NotificationSummary {
            status,
            language: language_for(request, user).code(),
            to: user.and_then(|user| user.mail.clone()),
        });
    }

    /// Sends the mail if there is a change to tell and somewhere to send it; the status to report.
    async fn deliver(
        &self,
        graph: &GraphClient,
        user: Option<&DirectoryUser>,
        request: &Request,
        deadline: tokio::time::Instant,
        report: &mut Report,
        journal: &mut Journal,
    ) -> NotificationStatus {
        let (Some(user), Some(change)) = (user, Change::of(report.action)) else {
            journal.record("No notification: the phone method did not change");
            return NotificationStatus::NotNeeded;
        };
        let language = language_for(request, Some(user));
        let Some(to) = &user.mail else {
            return failed(
                report,
                journal,
                "the user has no mail address, so no notification was sent".to_owned(),
            );
        };
        if request.dry_run {
            journal.record(format!(
                "Dry run: would notify the user at {to} ({})",
                language.code()
            ));
            return NotificationStatus::WouldSend;
        }
        let Some(sender) = &self.settings.sender else {
            // Checked before anything was done; kept total rather than trusted.
            return NotificationStatus::NotNeeded;
        };
        let organization = self.organization();
        let (subject, html) = compose(&Facts {
            language,
            change,
            phone_type: request.phone_type,
            number: &request.phone_number,
            display_name: user.display_name.as_deref(),
            user_principal_name: user.user_principal_name.as_deref(),
            organization: organization.as_deref(),
            service_desk: &self.settings.service_desk,
        });
        let mail = OutgoingMail {
            to: to.clone(),
            subject,
            html,
        };
        // Within what is left of the invocation's budget: a slow mail must not turn the change
        // into a failure.
        let message = match tokio::time::timeout_at(deadline, graph.send_mail(sender, &mail)).await
        {
            Ok(Ok(())) => {
                journal.record(format!(
                    "Notified the user at {to} ({}), from {sender}",
                    language.code()
                ));
                return NotificationStatus::Sent;
            }
            Err(_) => format!(
                "the phone method was changed, but the notification to {to} did not complete \
                 within the invocation's time budget; it may or may not have been sent"
            ),
            Ok(Err(error)) => {
                let reason = match &error.kind {
                    GraphErrorKind::Forbidden { status, code } => format!(
                        "Graph refused to let the identity send mail as {sender} ({status} \
                         {code}): grant it {}",
                        error.operation.permission()
                    ),
                    GraphErrorKind::NotFound { status, code } => format!(
                        "the sender {sender} has no mailbox Graph can send from ({status} \
                         {code}): check MFA_NOTIFY_SENDER"
                    ),
                    other => format!("{other}"),
                };
                format!(
                    "the phone method was changed, but the notification to {to} could not be \
                     sent: {reason}"
                )
            }
        };
        failed(report, journal, message)
    }
}

/// The caller's choice, else the language where the user works.
fn language_for(request: &Request, user: Option<&DirectoryUser>) -> Language {
    request.language.unwrap_or_else(|| {
        Language::for_usage_location(user.and_then(|user| user.usage_location.as_deref()))
    })
}

/// Records why the notification failed, as a warning in the result and the log.
fn failed(report: &mut Report, journal: &mut Journal, message: String) -> NotificationStatus {
    journal.warn(format!("Warning: {message}"));
    report.warn(WarningCode::NotificationFailed, message);
    NotificationStatus::Failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number() -> PhoneNumber {
        PhoneNumber::parse("+49 170 1234567").unwrap()
    }

    fn facts<'a>(number: &'a PhoneNumber, desk: &'a ServiceDesk) -> Facts<'a> {
        Facts {
            language: Language::English,
            change: Change::Added,
            phone_type: PhoneType::Mobile,
            number,
            display_name: Some("Adele Vance"),
            user_principal_name: Some("adele@contoso.example"),
            organization: Some("Contoso"),
            service_desk: desk,
        }
    }

    #[test]
    fn languages_parse_from_codes_tags_and_names() {
        for (value, expected) in [
            ("en", Some(Language::English)),
            ("DE", Some(Language::German)),
            ("de-AT", Some(Language::German)),
            ("Deutsch", Some(Language::German)),
            ("english", Some(Language::English)),
            ("fr", None),
            ("", None),
        ] {
            assert_eq!(Language::parse(value), expected, "{value}");
        }
    }

    #[test]
    fn german_speaking_usage_locations_get_german() {
        assert_eq!(Language::for_usage_location(Some("at")), Language::German);
        assert_eq!(Language::for_usage_location(Some("US")), Language::English);
        assert_eq!(Language::for_usage_location(None), Language::English);
    }

    #[test]
    fn the_mail_names_the_change_with_the_number_masked() {
        let number = number();
        let desk = ServiceDesk {
            name: Some("Contoso Service Desk".to_owned()),
            email: Some("help@contoso.example".to_owned()),
            phone: None,
        };
        let (subject, html) = compose(&facts(&number, &desk));
        assert_eq!(subject, "A mobile phone was added to your sign-in methods");
        assert!(html.contains("Hello Adele Vance,"), "{html}");
        assert!(html.contains(&number.masked()), "{html}");
        assert!(!html.contains("1234567"), "{html}");
        assert!(
            html.contains(
                "The IT team of Contoso has added the number <b>+49 ********67</b> as your \
                 mobile phone for multi-factor authentication (verification by call or text \
                 message) to your account <b>adele@contoso.example</b>."
            ),
            "{html}"
        );
        assert!(
            html.contains("Contoso Service Desk, <a href=\"mailto:help@contoso.example\">"),
            "{html}"
        );
    }

    #[test]
    fn every_change_type_and_language_has_its_own_subject() {
        let number = number();
        let desk = ServiceDesk::default();
        let mut subjects = std::collections::HashSet::new();
        for language in [Language::English, Language::German] {
            for change in [Change::Added, Change::Updated, Change::Removed] {
                for phone_type in [
                    PhoneType::Mobile,
                    PhoneType::AlternateMobile,
                    PhoneType::Office,
                ] {
                    let (subject, html) = compose(&Facts {
                        language,
                        change,
                        phone_type,
                        ..facts(&number, &desk)
                    });
                    assert!(
                        !subject.contains('{') && !html.contains('{'),
                        "{subject} {html}"
                    );
                    assert!(subject.starts_with(char::is_uppercase), "{subject}");
                    subjects.insert(subject);
                }
            }
        }
        assert_eq!(subjects.len(), 18);
    }

    #[test]
    fn directory_and_configuration_values_are_escaped() {
        let number = number();
        let desk = ServiceDesk {
            name: Some("<script>alert(1)</script>".to_owned()),
            email: Some("a\"onmouseover=\"x@example.com".to_owned()),
            phone: None,
        };
        let (_, html) = compose(&Facts {
            display_name: Some("<img src=x onerror=alert(1)>"),
            organization: Some("Fabrikam & Co"),
            ..facts(&number, &desk)
        });
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{html}"
        );
        assert!(!html.contains("\"onmouseover"), "{html}");
        assert_eq!(html.matches("Fabrikam &amp; Co").count(), 2, "{html}");
        assert!(!html.contains("Fabrikam & Co"), "{html}");
    }

    #[test]
    fn every_inserted_value_is_escaped() {
        let number = number();
        let desk = ServiceDesk {
            name: Some("Desk <b>".to_owned()),
            email: Some("desk@example.com".to_owned()),
            phone: Some("<i>+49 30 1</i>".to_owned()),
        };
        let (_, html) = compose(&Facts {
            user_principal_name: Some("o'neil<x>@contoso.example"),
            ..facts(&number, &desk)
        });
        for raw in ["Desk <b>", "<i>", "o'neil<x>"] {
            assert!(!html.contains(raw), "{raw} in {html}");
        }
        assert!(
            html.contains("o&#39;neil&lt;x&gt;@contoso.example"),
            "{html}"
        );
        assert!(html.contains("&lt;i&gt;+49 30 1&lt;/i&gt;"), "{html}");
    }

    #[test]
    fn directory_text_that_looks_like_a_place_stays_text() {
        let number = number();
        let desk = ServiceDesk::default();
        let (_, html) = compose(&Facts {
            organization: Some("ACME {account} {number}"),
            display_name: Some("{desk}"),
            ..facts(&number, &desk)
        });
        assert!(
            html.contains("The IT team of ACME {account} {number} has added"),
            "{html}"
        );
        assert!(html.contains("Hello {desk},"), "{html}");
        assert_eq!(html.matches(&number.masked()).count(), 1, "{html}");
    }

    #[test]
    fn filling_leaves_unknown_and_unclosed_braces_alone() {
        assert_eq!(fill("{a}{b} {c", &[("a", "{b}"), ("b", "x")]), "{b}x {c");
        assert_eq!(fill("no places", &[("a", "1")]), "no places");
        assert_eq!(fill("}{", &[]), "}{");
    }

    #[test]
    fn without_names_the_mail_still_reads() {
        let number = number();
        let desk = ServiceDesk::default();
        let (_, html) = compose(&Facts {
            language: Language::German,
            display_name: None,
            user_principal_name: None,
            organization: None,
            ..facts(&number, &desk)
        });
        assert!(html.contains("<p>Guten Tag,</p>"), "{html}");
        assert!(html.contains("Ihr IT-Team hat"), "{html}");
        assert!(html.contains("an Ihren IT-Service-Desk"), "{html}");
    }
}
