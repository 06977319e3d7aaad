//! The outcome of one invocation as it builds up: the result the caller receives (a
//! [`Report`]) and the lines an admin reads (the [`Journal`]), kept in one value so that every
//! failure and every warning lands in both, worded the same way.

use std::time::Duration;

use crate::caller::Caller;
use crate::journal::Journal;
use crate::phone::{PhoneMethod, PhoneNumber, mask, redact_numbers};
use crate::report::{
    Action, CallerSummary, ConflictOwner, Failure, MethodSummary, MethodsSummary, Report, Trigger,
    UsableSummary, UserSummary, WarningCode,
};
use crate::user::DirectoryUser;

/// What one invocation has found and done so far.
pub struct Outcome {
    report: Report,
    journal: Journal,
}

impl Outcome {
    /// An outcome that has not decided anything yet: failed with no action, until told
    /// otherwise.
    pub fn new(trigger: Trigger, invocation_id: Option<String>) -> Outcome {
        let journal = Journal::new(invocation_id.as_deref());
        Outcome {
            report: Report::new(trigger, invocation_id),
            journal,
        }
    }

    /// Records who called: in the result, in the invocation's log (the host's `Logs`), and on
    /// every later process log line. `app_role_required` says whether the deployment requires
    /// the API's app roles (`MFA_REQUIRE_APP_ROLE`).
    pub(crate) fn set_caller(&mut self, caller: Option<&Caller>, app_role_required: bool) {
        let role_check = if app_role_required {
            ""
        } else {
            "; the app role check is off (MFA_REQUIRE_APP_ROLE=false)"
        };
        self.report.caller = Some(match caller {
            Some(caller) => {
                self.journal.set_caller(&caller.id);
                self.journal.record(format!(
                    "Called by the {} {} (object id {}{}), authenticated by Microsoft Entra; app \
                     roles: {}{role_check}",
                    caller.kind.as_str(),
                    redact_numbers(caller.name.as_deref().unwrap_or("without a name")),
                    caller.id,
                    caller
                        .app_id
                        .as_deref()
                        .map(|app| format!(", client application {app}"))
                        .unwrap_or_default(),
                    if caller.roles.is_empty() {
                        "none".to_owned()
                    } else {
                        redact_numbers(&caller.roles.join(", "))
                    },
                ));
                CallerSummary {
                    id: Some(caller.id.clone()),
                    name: caller.name.clone(),
                    kind: Some(caller.kind.as_str()),
                    authenticated: true,
                    roles: caller.roles.clone(),
                    app_role_required,
                }
            }
            None => {
                self.journal.record(format!(
                    "Called without a caller Microsoft Entra authenticated (the function key \
                     only){role_check}"
                ));
                CallerSummary {
                    id: None,
                    name: None,
                    kind: None,
                    authenticated: false,
                    roles: Vec::new(),
                    app_role_required,
                }
            }
        });
    }

    /// Records a line of progress.
    pub(crate) fn note(&mut self, line: impl Into<String>) {
        self.journal.record(line);
    }

    /// Records a line the admin should notice that is not a warning of the result (a retry,
    /// a step that will be tried another way).
    pub(crate) fn caution(&mut self, line: impl Into<String>) {
        self.journal.warn(line);
    }

    /// Adds a warning to the result and the log.
    pub(crate) fn warn(&mut self, code: WarningCode, message: impl Into<String>) {
        let message = message.into();
        self.journal.warn(format!("Warning: {message}"));
        self.report.warn(code, message);
    }

    /// Records the failure the result ends with. Once the invocation has changed the tenant,
    /// a later failure cannot undo that: the result stays `succeeded` and says which step did
    /// not finish, so that the only record of the change is never a failure the host drops.
    pub(crate) fn fail(&mut self, failure: Failure) {
        if let Some(change) = self.change() {
            self.warn(
                WarningCode::StepNotFinished,
                format!(
                    "the phone method was {change}, but a later step did not finish: {}",
                    failure.message
                ),
            );
            return;
        }
        self.journal.warn(format!("Failed: {}", failure.message));
        self.report.fail(failure);
    }

    /// Records the failure as [`Outcome::fail`] does, and tells the caller to try again after
    /// `retry_after` when there is one (also when the failure became a warning: the step that
    /// did not finish may finish then).
    pub(crate) fn fail_with_retry(&mut self, failure: Failure, retry_after: Option<Duration>) {
        if retry_after.is_some() {
            self.report.retry_after = retry_after;
        }
        self.fail(failure);
    }

    /// The change this invocation made to the tenant, in words (`added`), if it made one.
    pub(crate) fn change(&self) -> Option<&'static str> {
        if self.report.dry_run || self.report.error.is_some() {
            return None;
        }
        match self.report.action {
            Action::Added => Some("added"),
            Action::Updated => Some("updated"),
            Action::Removed => Some("removed"),
            Action::Unchanged | Action::NotPresent | Action::None => None,
        }
    }

    /// Whether a warning with `code` was given.
    pub fn has_warning(&self, code: WarningCode) -> bool {
        self.report
            .warnings
            .iter()
            .any(|warning| warning.code == code)
    }

    /// Records success: `action` was done (or would be, on a dry run), leaving `method` as the
    /// method of the requested type.
    pub(crate) fn succeed(&mut self, action: Action, method: Option<&PhoneMethod>) {
        self.report.phone_method = method.map(MethodSummary::of);
        self.report.succeed(action);
    }

    /// Records that the request is a dry run: nothing is written, and no result of it counts
    /// as a change.
    pub(crate) fn set_dry_run(&mut self, dry_run: bool) {
        self.report.dry_run = dry_run;
    }

    /// Records the user as the directory returned them.
    pub(crate) fn set_user(&mut self, user: &DirectoryUser) {
        self.report.user = Some(UserSummary {
            id: user.id.clone(),
            user_principal_name: user.user_principal_name.clone(),
            display_name: user.display_name.clone(),
            user_type: user.user_type.clone(),
        });
    }

    /// Records the method of the requested type as Graph holds it now, after a later step
    /// (switching SMS sign-in) changed it.
    pub(crate) fn set_phone_method(&mut self, method: &PhoneMethod) {
        self.report.phone_method = Some(MethodSummary::of(method));
    }

    /// Masks the number of the method the result shows, for a caller who may not have it in
    /// full.
    pub(crate) fn mask_phone_number(&mut self) {
        if let Some(method) = &mut self.report.phone_method {
            method.phone_number = mask(&method.phone_number);
        }
    }

    /// Records the number a removal removed, masked as the log has it.
    pub(crate) fn set_removed_number(&mut self, number: &PhoneNumber) {
        self.report.removed_number = Some(number.masked());
    }

    /// Records the user's methods after the operation and what the phone method can be used
    /// for.
    pub(crate) fn set_methods(
        &mut self,
        methods: MethodsSummary,
        usable_for: Option<UsableSummary>,
    ) {
        self.report.methods = Some(methods);
        self.report.usable_for = usable_for;
    }

    /// Records who holds the number Graph would not set.
    pub(crate) fn set_conflict_owner(&mut self, owner: ConflictOwner) {
        self.report.conflict_owner = Some(owner);
    }

    /// Whether the invocation has failed so far.
    pub(crate) fn has_failed(&self) -> bool {
        self.report.error.is_some()
    }

    pub(crate) fn report(&self) -> &Report {
        &self.report
    }

    /// The result, to fill in what is not a decision (the user read, the request echoed).
    pub(crate) fn report_mut(&mut self) -> &mut Report {
        &mut self.report
    }

    /// The result with the log lines in it.
    pub fn finish(self) -> Report {
        let mut report = self.report;
        report.log = self.journal.into_lines();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ErrorCode, Status};

    fn busy() -> Failure {
        Failure::new(ErrorCode::UserBusy, "the user's lease is held elsewhere")
    }

    #[test]
    fn a_failure_with_a_retry_after_fails_the_result_and_says_when_to_try_again() {
        let mut outcome = Outcome::new(Trigger::Http, None);
        outcome.fail_with_retry(busy(), Some(Duration::from_secs(5)));
        let report = outcome.finish();
        assert_eq!(report.status, Status::Failed);
        assert_eq!(report.retry_after, Some(Duration::from_secs(5)));
        assert!(report.warnings.is_empty());
    }

    #[test]
    fn a_failure_after_a_change_is_a_warning_that_still_says_when_to_try_again() {
        let mut outcome = Outcome::new(Trigger::Http, None);
        outcome.succeed(Action::Added, None);
        outcome.fail_with_retry(busy(), Some(Duration::from_secs(5)));
        let report = outcome.finish();
        assert_eq!(report.status, Status::Succeeded);
        assert_eq!(report.action, Action::Added);
        assert!(report.error.is_none());
        assert_eq!(report.retry_after, Some(Duration::from_secs(5)));
        let codes: Vec<WarningCode> = report.warnings.iter().map(|w| w.code).collect();
        assert_eq!(codes, [WarningCode::StepNotFinished]);
    }

    #[test]
    fn a_failure_after_a_dry_run_is_no_warning_but_the_failure() {
        let mut outcome = Outcome::new(Trigger::Http, None);
        outcome.set_dry_run(true);
        outcome.succeed(Action::Added, None);
        outcome.fail_with_retry(busy(), None);
        let report = outcome.finish();
        assert_eq!(report.status, Status::Failed);
        assert_eq!(report.retry_after, None);
    }
}
