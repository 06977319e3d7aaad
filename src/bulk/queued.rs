//! Delivers the operations through the request queue. Each operation becomes a message on
//! `mfa-phone-requests` (as the deployed host.json reads it, `messageEncoding: none`), and its
//! outcome is the handler's result on `mfa-phone-results` beside it, matched by `requestId`.
//! Only this run's results are taken off that queue: another producer's message becomes
//! visible again [`RELEASE_AFTER`] after a look and is never deleted. A request already sent by
//! an earlier, interrupted run is waited for, not sent again. The results queue is looked at
//! only once a request is waited for, so a run that sends nothing (a file with problems)
//! touches no queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{oneshot, watch};
use url::Url;

use super::delivery::Delivery;
use crate::mutex::lock;
use crate::storage::StorageAccount;
use crate::storage::account::{AccountAuth, AccountSettings, DEVELOPMENT_ACCOUNT, DEVELOPMENT_KEY};
use crate::storage::queue::{Encoding, Queue, Received, read_json};

/// The results queue's name, beside the request queue.
pub const RESULTS: &str = "mfa-phone-results";
/// How long a look at a result hides it. Our results stay hidden until their outcome is
/// recorded and they are deleted, and others' until they are shown again ([`RELEASE_AFTER`]);
/// when the identity may not update messages, every result stays hidden for all of this time.
const LOOK: Duration = Duration::from_secs(10);
/// How long a result waits for its outcome to be recorded before it is shown again.
const ACK_WAIT: Duration = Duration::from_secs(5);
/// How long another producer's message stays hidden after a look: long enough for the next
/// look to see past it, short enough to leave it to its reader.
const RELEASE_AFTER: Duration = Duration::from_secs(3);
/// The pause between looks when none of our results came.
const IDLE: Duration = Duration::from_millis(200);
/// The longest a closing endpoint waits for the look under way (a receive and the messages it
/// hid: a few storage requests, each bounded).
const STOP_WAIT: Duration = Duration::from_secs(30);

/// A result handed to whoever waits for it, with the acknowledgement that its outcome is
/// recorded (then the message is deleted).
type Handed = (Value, oneshot::Sender<()>);
/// Who waits for which request's result, with the request they sent (a result counts only
/// when it echoes it, [`super::echo`]).
type Waiting = Arc<Mutex<HashMap<String, (Value, oneshot::Sender<Handed>)>>>;

/// The queues of one run.
pub struct QueueEndpoint {
    requests: Queue,
    results: Queue,
    /// Other producers' messages the collector looked at and hid for a moment, with their pop
    /// receipts, to be shown again when the run ends.
    hidden: Arc<Mutex<HashMap<String, String>>>,
    waiting: Waiting,
    /// Started by the first request waited for, so that a run that sends nothing (a file with
    /// problems) never looks at the results queue.
    collector: Mutex<Collector>,
    /// How long an operation's result is waited for before it is left for a later run.
    result_wait: Duration,
    /// The admin's sign-in and the API's scope: each message carries the admin's access token
    /// (`CallerToken`) so that the handler knows who sent it.
    caller_token: Option<(Arc<dyn azure_core::credentials::TokenCredential>, String)>,
}

/// The look at the results queue, over the endpoint's life.
enum Collector {
    NotStarted,
    /// The collector is looking until told to stop; it stops between two looks, so that every
    /// message a look hid is recorded to be shown again.
    Running(tokio::task::JoinHandle<()>, watch::Sender<bool>),
    /// The look is closed, whether or not it looked at the results queue.
    Closed {
        looked: bool,
    },
}

impl Drop for QueueEndpoint {
    fn drop(&mut self) {
        if let Collector::Running(collector, _) = &*lock(&self.collector) {
            collector.abort();
        }
    }
}

impl QueueEndpoint {
    /// Makes the endpoint for the request queue at `queue`, with the admin's own sign-in, or
    /// with the development account for a queue on this machine (Azurite).
    ///
    /// # Errors
    ///
    /// When there is no sign-in, or the URL names no queue.
    pub fn signed_in(queue: &Url, result_wait: Duration) -> Result<QueueEndpoint, String> {
        let credential = if is_local(queue) {
            None
        } else {
            Some(crate::credential::developer_sign_in()?)
        };
        QueueEndpoint::new(queue, credential, result_wait)
    }

    /// Makes the endpoint for the request queue at `url`
    /// (`https://acct.queue.core.windows.net/mfa-phone-requests`, or
    /// Azurite's `http://127.0.0.1:10001/devstoreaccount1/mfa-phone-requests`), reached with
    /// `credential` against Azure and the development account against Azurite.
    ///
    /// # Errors
    ///
    /// When the URL names no queue, or a client cannot be made.
    pub fn new(
        url: &Url,
        credential: Option<Arc<dyn azure_core::credentials::TokenCredential>>,
        result_wait: Duration,
    ) -> Result<QueueEndpoint, String> {
        let mut segments: Vec<&str> = url
            .path_segments()
            .map(Iterator::collect)
            .unwrap_or_default();
        segments.retain(|segment| !segment.is_empty());
        let local = is_local(url);
        if !local && url.scheme() != "https" {
            return Err(format!(
                "--queue: refusing to send your sign-in's token to {url} over plain http: use \
                 https (http is allowed only to Azurite on this machine)"
            ));
        }
        let (service_path, name) = match segments.as_slice() {
            [account, name] if local && *account == DEVELOPMENT_ACCOUNT => {
                (format!("/{account}"), *name)
            }
            [name] if !local => (String::new(), *name),
            _ => {
                return Err(format!(
                    "--queue: '{url}' is not a queue's URL (https://ACCOUNT.queue.core.windows.net/QUEUE, \
                     or Azurite's http://127.0.0.1:PORT/devstoreaccount1/QUEUE)"
                ));
            }
        };
        let mut service = url.clone();
        service.set_path(&service_path);
        service.set_query(None);
        let settings = AccountSettings {
            blob: None,
            queue: Some(service),
            auth: if local {
                AccountAuth::SharedKey {
                    account: DEVELOPMENT_ACCOUNT.to_owned(),
                    key: DEVELOPMENT_KEY.to_owned(),
                }
            } else {
                AccountAuth::Token {
                    managed_identity: None,
                }
            },
        };
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|error| format!("could not build the HTTP client: {error}"))?;
        let account = StorageAccount::new(settings, http, if local { None } else { credential });
        let requests = Queue::new(&account, name, Encoding::None).map_err(|error| error.0)?;
        let results = Queue::new(&account, RESULTS, Encoding::None).map_err(|error| error.0)?;
        let waiting: Waiting = Arc::default();
        let hidden: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        Ok(QueueEndpoint {
            requests,
            results,
            hidden,
            waiting,
            collector: Mutex::new(Collector::NotStarted),
            result_wait,
            caller_token: None,
        })
    }

    /// Makes every message carry the admin's access token for `audience` (the API's app id
    /// URI, `--audience`), from their own sign-in; with an empty or absent audience, messages
    /// carry no token.
    ///
    /// # Errors
    ///
    /// No sign-in.
    pub fn carrying_caller_token(
        mut self,
        audience: Option<&str>,
    ) -> Result<QueueEndpoint, String> {
        if let Some(audience) = audience.filter(|audience| !audience.trim().is_empty()) {
            let scope = format!("{}/.default", audience.trim().trim_end_matches('/'));
            self.caller_token = Some((crate::credential::developer_sign_in()?, scope));
        }
        Ok(self)
    }

    /// Makes the message for `body`, with the admin's token beside the parameters when one is
    /// to be carried. The token goes into the message only, never into the run's state or
    /// report.
    async fn message(&self, body: &Value) -> Result<String, Delivery> {
        let Some((credential, scope)) = &self.caller_token else {
            return Ok(body.to_string());
        };
        let token = credential
            .get_token(&[scope.as_str()], None)
            .await
            .map_err(|error| Delivery::Refused {
                code: "signInFailed".to_owned(),
                detail: format!(
                    "no token for {scope} from your sign-in (az login?): {}",
                    error.to_string().lines().next().unwrap_or_default()
                ),
            })?;
        let mut message = body.clone();
        if let Value::Object(parameters) = &mut message {
            parameters.insert(
                crate::entra::TOKEN_FIELD.to_owned(),
                Value::String(token.token.secret().to_owned()),
            );
        }
        Ok(message.to_string())
    }

    /// Sends one request and waits for its result.
    pub async fn deliver(&self, request_id: &str, body: &Value) -> Delivery {
        let message = match self.message(body).await {
            Ok(message) => message,
            Err(refused) => return refused,
        };
        let receiver = self.expect(request_id, body);
        if let Err(error) = self.requests.send(&message).await {
            lock(&self.waiting).remove(request_id);
            return Delivery::Transient {
                retry_after: None,
                code: "queueUnavailable".to_owned(),
                detail: error.0,
                result: None,
                pause_all: true,
            };
        }
        self.wait(request_id, receiver).await
    }

    /// Stops looking at the results queue and shows again at once every other producer's
    /// message it hid for a moment.
    pub async fn close(&self) {
        let collector = {
            let mut state = lock(&self.collector);
            let looked = self.has_looked_locked(&state);
            std::mem::replace(&mut *state, Collector::Closed { looked })
        };
        if let Collector::Running(mut collector, stop) = collector {
            // The look under way ends, and what it hid is recorded, before anything is shown.
            let _ = stop.send(true);
            if tokio::time::timeout(STOP_WAIT, &mut collector)
                .await
                .is_err()
            {
                collector.abort();
            }
        }
        let hidden: Vec<(String, String)> = lock(&self.hidden).drain().collect();
        for (id, pop_receipt) in hidden {
            // A receipt gone stale means the message was shown and taken by its reader.
            let _ = self
                .results
                .set_visibility(&id, &pop_receipt, Duration::ZERO)
                .await;
        }
    }

    /// Whether this run has looked at the results queue (it does from the first result it
    /// waits for on).
    pub fn has_looked(&self) -> bool {
        self.has_looked_locked(&lock(&self.collector))
    }

    fn has_looked_locked(&self, collector: &Collector) -> bool {
        match collector {
            Collector::NotStarted => false,
            Collector::Running(..) => true,
            Collector::Closed { looked } => *looked,
        }
    }

    /// Waits for the result of a request an earlier run sent (`body`: the request, as sent).
    pub async fn await_sent(&self, request_id: &str, body: &Value) -> Delivery {
        let receiver = self.expect(request_id, body);
        self.wait(request_id, receiver).await
    }

    fn expect(&self, request_id: &str, body: &Value) -> oneshot::Receiver<Handed> {
        let (sender, receiver) = oneshot::channel();
        lock(&self.waiting).insert(request_id.to_owned(), (body.clone(), sender));
        let mut collector = lock(&self.collector);
        if matches!(*collector, Collector::NotStarted) {
            let (stop, stopped) = watch::channel(false);
            *collector = Collector::Running(
                tokio::spawn(collect(
                    self.results.clone(),
                    self.waiting.clone(),
                    self.hidden.clone(),
                    stopped,
                )),
                stop,
            );
        }
        receiver
    }

    async fn wait(&self, request_id: &str, receiver: oneshot::Receiver<Handed>) -> Delivery {
        match tokio::time::timeout(self.result_wait, receiver).await {
            Ok(Ok((result, ack))) => Delivery::Queued(result, ack),
            _ => {
                lock(&self.waiting).remove(request_id);
                Delivery::Pending {
                    detail: format!(
                        "sent to the queue; no result within {} s (the host may still be \
                         delivering it, or it went to the poison queue): a later run waits for it",
                        self.result_wait.as_secs()
                    ),
                }
            }
        }
    }
}

/// Whether `url` is on this machine (Azurite, reached with the development account) rather than
/// in Azure (reached with the admin's sign-in): `localhost`, `127.0.0.1` or `[::1]`.
pub fn is_local(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(address)) => address == std::net::Ipv6Addr::LOCALHOST,
        None => false,
    }
}

/// A pause between looks that ends early when the endpoint is closed.
async fn pause(stopped: &mut watch::Receiver<bool>, length: Duration) {
    let _ = tokio::time::timeout(length, stopped.wait_for(|stop| *stop)).await;
}

/// Takes this run's results off the results queue as they come and hands each to whoever waits
/// for it; releases every other message at once.
async fn collect(
    results: Queue,
    waiting: Waiting,
    hidden: Arc<Mutex<HashMap<String, String>>>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        if *stopped.borrow() {
            return;
        }
        let batch = match results.receive(32, LOOK).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!("could not read the results queue: {}", error.0);
                pause(&mut stopped, IDLE * 4).await;
                continue;
            }
        };
        let mut ours = 0;
        for message in &batch {
            let result = read_json(&message.stored);
            match (
                result
                    .as_ref()
                    .and_then(|result| waiter_for(&waiting, result)),
                result,
            ) {
                (Some(waiter), Some(result)) => {
                    ours += 1;
                    hand_over(&results, message, waiter, result);
                }
                _ => release(&results, message, &hidden).await,
            }
        }
        if ours == 0 {
            pause(&mut stopped, IDLE).await;
        }
    }
}

/// Finds who waits for `result`: only the row whose request it answers. Another result naming
/// the same id (forged, or stale) is left for its owner, and the row goes on waiting for its
/// own.
fn waiter_for(waiting: &Waiting, result: &Value) -> Option<oneshot::Sender<Handed>> {
    let id = result["requestId"].as_str()?;
    let mut waiting = lock(waiting);
    let answers = waiting
        .get(id)
        .is_some_and(|(request, _)| super::echo::check(request, result).is_ok());
    if !answers {
        return None;
    }
    waiting.remove(id).map(|(_, waiter)| waiter)
}

/// Hands `result` to its row. The message is deleted only once the outcome is recorded; when
/// the waiter is gone (the run stopped) or does not acknowledge in time, the message is left
/// for a later run.
fn hand_over(results: &Queue, message: &Received, waiter: oneshot::Sender<Handed>, result: Value) {
    let (ack, acked) = oneshot::channel();
    let delivered = waiter.send((result, ack)).is_ok();
    let results = results.clone();
    let message = message.clone();
    tokio::spawn(async move {
        let recorded =
            delivered && matches!(tokio::time::timeout(ACK_WAIT, acked).await, Ok(Ok(())));
        if recorded {
            let _ = results.delete(&message.id, &message.pop_receipt).await;
        } else {
            let _ = results
                .set_visibility(&message.id, &message.pop_receipt, Duration::ZERO)
                .await;
        }
    });
}

/// Releases another producer's message (or an earlier run's that nobody waits for): it is never
/// deleted, and becomes visible again in a moment.
async fn release(results: &Queue, message: &Received, hidden: &Mutex<HashMap<String, String>>) {
    match results
        .set_visibility(&message.id, &message.pop_receipt, RELEASE_AFTER)
        .await
    {
        Ok(receipt) => {
            lock(hidden).insert(message.id.clone(), receipt);
        }
        Err(_) => {
            lock(hidden).remove(&message.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azurite_on_this_machine_is_told_from_azure() {
        let local = |text: &str| is_local(&Url::parse(text).expect("a URL"));
        assert!(local(
            "http://127.0.0.1:10001/devstoreaccount1/mfa-phone-requests"
        ));
        assert!(local(
            "http://localhost:10001/devstoreaccount1/mfa-phone-requests"
        ));
        assert!(local(
            "http://[::1]:10001/devstoreaccount1/mfa-phone-requests"
        ));
        assert!(!local(
            "https://stmfa.queue.core.windows.net/mfa-phone-requests"
        ));
        assert!(!local("https://localhost.contoso.com/mfa-phone-requests"));
    }
}
