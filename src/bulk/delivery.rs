//! Says what one delivery of a request came to, whichever way it went (the HTTP trigger,
//! [`super::endpoint`], or the request queue, [`super::queued`]): a handler's result, a pause
//! asked for, a refusal that no retry changes, or (through the queue) no result yet. Both ways
//! of delivering answer in these terms, so neither needs the other.

use std::time::Duration;

use serde_json::Value;

/// What one delivery came to.
pub enum Delivery {
    /// The handler's result, final or not as it says.
    Result(Value),
    /// A result taken off the results queue. It is deleted there once `ack` is sent (after the
    /// outcome is recorded), and shown again otherwise.
    Queued(Value, tokio::sync::oneshot::Sender<()>),
    /// The request may succeed later; `result` is the handler's own words when it answered.
    Transient {
        retry_after: Option<Duration>,
        code: String,
        detail: String,
        result: Option<Value>,
        /// Whether the whole run should hold back (throttling, Graph overloaded), not only
        /// this row (a user busy on another instance).
        pause_all: bool,
    },
    /// No retry changes the answer (the endpoint refused the credentials, or the URL is wrong).
    Refused { code: String, detail: String },
    /// The request was sent and has no result yet: a later run waits for it rather than sending
    /// it again.
    Pending { detail: String },
    /// A result that is not this request's (another `requestId`): the outcome is unknown.
    Unmatched { detail: String },
}
