//! Reads one request's parameters once: it finds the object the runbook's parameters are (a
//! webhook's `RequestBody` or a `parameters` wrapper unwrapped), what the request asks to do
//! (show or change, for the app role it needs), and its parse. The replay key, the echo in a
//! result that did not run it, and the run itself all read this, so a request is never parsed
//! twice.

use serde_json::{Map, Value};

use crate::caller::Access;
use crate::outcome::Outcome;
use crate::report::Failure;
use crate::request::{self, Parsed, Rejected, Task};

pub(super) struct Received {
    /// What a result echoes: the parameters object, or what came when it is none.
    pub(super) echo: Value,
    /// The parameters object, or why there is none.
    pub(super) object: Result<Map<String, Value>, Failure>,
    /// The app role it needs: a malformed change from a caller who may only show is refused as
    /// a change.
    pub(super) access: Access,
    /// The parse; `None` when there is no parameters object.
    pub(super) parsed: Option<Result<Parsed, Box<Rejected>>>,
}

impl Received {
    pub(super) fn read(parameters: Value) -> Received {
        match request::parameters_object(&parameters) {
            Ok(object) => Received {
                echo: Value::Object(object.clone()),
                access: if request::asks_for_show(&object) {
                    Access::Read
                } else {
                    Access::ReadWrite
                },
                parsed: Some(request::parse(&object)),
                object: Ok(object),
            },
            Err(failure) => Received {
                echo: parameters,
                object: Err(failure),
                access: Access::ReadWrite,
                parsed: None,
            },
        }
    }

    /// The caller's `requestId`, whether or not the rest parsed.
    pub(super) fn request_id(&self) -> Option<String> {
        match self.parsed.as_ref()? {
            Ok(parsed) => match &parsed.task {
                Task::Change(change) => change.request_id.clone(),
                Task::Show(show) => show.request_id.clone(),
            },
            Err(rejected) => rejected.request_id.clone(),
        }
    }

    /// The change it asks for, when it parsed as one.
    pub(super) fn task(&self) -> Option<&Task> {
        match self.parsed.as_ref()? {
            Ok(parsed) => Some(&parsed.task),
            Err(_) => None,
        }
    }

    /// Puts the request and its `requestId` into a result that did not run it.
    pub(super) fn echo_into(&self, outcome: &mut Outcome) {
        if self.object.is_err() {
            return;
        }
        let report = outcome.report_mut();
        report.request_id = self.request_id();
        report.request = Some(self.echo.clone());
    }
}
