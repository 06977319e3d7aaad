//! Sends the notification e-mail the runbook's `NotifyUser` asks for: after the phone method
//! changed, it tells the user, in English or German, from a service mailbox, with the service
//! desk to contact if they did not expect it.
//!
//! Unlike the runbook it mails only when something changed (not for `unchanged`, not for
//! `notPresent`), never on a dry run, shows the number masked, and never fails the invocation:
//! the phone change has happened, so a mail that cannot be sent is a warning. Because a
//! redelivered request finds the tenant already changed, a change is announced at most once.
//! Composing the message ([`message::compose`]) is pure; [`Notifier`] does the IO.

pub(crate) mod message;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use self::message::{Change, Facts, compose};
use crate::graph::{GraphClient, GraphError, GraphErrorKind, OutgoingMail};
use crate::language::Language;
use crate::outcome::Outcome;
use crate::phone::PhoneNumber;
use crate::report::{NotificationStatus, NotificationSummary, WarningCode};
use crate::request::Request;
use crate::user::{DirectoryUser, UserRef};

pub use self::message::ServiceDesk;

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
        crate::mutex::lock(&self.organization)
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
        outcome: &mut Outcome,
    ) {
        if !request.notify_user {
            return;
        }
        let status = self.deliver(graph, user, request, deadline, outcome).await;
        outcome.report_mut().notification = Some(NotificationSummary {
            status,
            language: language_for(request, user).code(),
            to: user.and_then(|user| user.mail.clone()),
        });
    }

    /// Sends the mail if there is a change to tell and somewhere to send it, and returns the
    /// status to report.
    async fn deliver(
        &self,
        graph: &GraphClient,
        user: Option<&DirectoryUser>,
        request: &Request,
        deadline: tokio::time::Instant,
        outcome: &mut Outcome,
    ) -> NotificationStatus {
        let (Some(user), Some(change), Some(number)) = (
            user,
            Change::of(outcome.report().action),
            request.operation.number(),
        ) else {
            outcome.note("No notification: the phone method did not change");
            return NotificationStatus::NotNeeded;
        };
        let language = language_for(request, Some(user));
        let Some(to) = &user.mail else {
            return failed(
                outcome,
                "the user has no mail address, so no notification was sent".to_owned(),
            );
        };
        if request.dry_run {
            outcome.note(format!(
                "Dry run: would notify the user at {to} ({})",
                language.code()
            ));
            return NotificationStatus::WouldSend;
        }
        let Some(sender) = &self.settings.sender else {
            // The sender was checked before anything was done; its absence is handled here
            // anyway rather than trusted away.
            return NotificationStatus::NotNeeded;
        };
        let mail = self.mail(to, user, request, change, number, language);
        // The mail is sent within what is left of the invocation's budget, because a slow mail
        // must not turn the change into a failure.
        let message = match tokio::time::timeout_at(deadline, graph.send_mail(sender, &mail)).await
        {
            Ok(Ok(())) => {
                outcome.note(format!(
                    "Notified the user at {to} ({}), from {sender}",
                    language.code()
                ));
                return NotificationStatus::Sent;
            }
            Err(_) => format!(
                "the phone method was changed, but the notification to {to} did not complete \
                 within the invocation's time budget; it may or may not have been sent"
            ),
            Ok(Err(error)) => not_sent(&error, sender, to),
        };
        failed(outcome, message)
    }

    /// Composes the mail that tells `user` of `change` in `language`, naming the organization
    /// when its name is known.
    fn mail(
        &self,
        to: &str,
        user: &DirectoryUser,
        request: &Request,
        change: Change,
        number: &PhoneNumber,
        language: Language,
    ) -> OutgoingMail {
        let organization = self.organization();
        let (subject, html) = compose(&Facts {
            language,
            change,
            phone_type: request.phone_type,
            number,
            display_name: user.display_name.as_deref(),
            user_principal_name: user.user_principal_name.as_deref(),
            organization: organization.as_deref(),
            service_desk: &self.settings.service_desk,
        });
        OutgoingMail {
            to: to.to_owned(),
            subject,
            html,
        }
    }
}

/// Chooses the language: the caller's choice, else the language where the user works.
fn language_for(request: &Request, user: Option<&DirectoryUser>) -> Language {
    request.language.unwrap_or_else(|| {
        Language::for_usage_location(user.and_then(|user| user.usage_location.as_deref()))
    })
}

/// Records why the notification failed, as a warning in the result and the log.
fn failed(outcome: &mut Outcome, message: String) -> NotificationStatus {
    outcome.warn(WarningCode::NotificationFailed, message);
    NotificationStatus::Failed
}

/// Says why Graph did not send the mail to `to` and, where it is known, what the admin can do:
/// a refusal needs the send permission granted, a missing mailbox another sender.
fn not_sent(error: &GraphError, sender: &UserRef, to: &str) -> String {
    let reason = match &error.kind {
        GraphErrorKind::Forbidden { .. } => format!(
            "Graph refused to let the identity send mail as {sender} ({}): grant it {}",
            answer_of(&error.kind),
            error.operation.permission()
        ),
        GraphErrorKind::NotFound { .. } => format!(
            "the sender {sender} has no mailbox Graph can send from ({}): check \
             MFA_NOTIFY_SENDER",
            answer_of(&error.kind)
        ),
        other => format!("{other}"),
    };
    format!(
        "the phone method was changed, but the notification to {to} could not be sent: {reason}"
    )
}

/// Gives Graph's status and code, for a message.
fn answer_of(kind: &GraphErrorKind) -> String {
    kind.answer().unwrap_or_default()
}
