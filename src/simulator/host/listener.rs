//! Runs the storage queues extension's queue listener and processor in the miniature host,
//! against a real storage queue (Azurite), after the extension's source
//! (azure-sdk-for-net, `Microsoft.Azure.WebJobs.Extensions.Storage.Common/src/Shared/Queues/
//! QueueListener.cs`, `QueueProcessor.cs`, `QueuesOptions.cs`):
//!
//! - it receives `batchSize` messages at a time, each invisible to others for 10 minutes, and
//!   receives more at once while no more than `newBatchThreshold` are being processed;
//! - an empty queue is polled again after a randomized, growing pause from 100 ms up to
//!   `maxPollingInterval`, at once when this host puts a message on it;
//! - while the function runs, the message's invisibility is renewed at half its length;
//! - a message already delivered more than `maxDequeueCount` times, or one the configured
//!   encoding cannot decode, goes to `<queue>-poison` without an invocation;
//! - on success (a 2xx from the handler) the output binding's messages are written first, then
//!   the message is deleted; on failure (any other answer, or none within `functionTimeout` + 1
//!   minute), from the `maxDequeueCount`-th delivery on the message's text goes unchanged to
//!   `<queue>-poison` and the message is deleted, before that it is made visible again after
//!   `visibilityTimeout`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex as AsyncMutex;

use super::config::QueueTrigger;
use super::{HostShared, invoke, output_messages, queue_envelope, settle};
use crate::simulator::lock;
use crate::storage::queue::{Queue, Received, read_json};
use crate::storage::{StorageAccount, StorageError};

/// How long a received message stays invisible to others (the extension's fixed 10 minutes).
const RECEIVE_VISIBILITY: Duration = Duration::from_secs(600);
/// The shortest pause between polls of an empty queue.
const MIN_POLLING_INTERVAL: Duration = Duration::from_millis(100);

/// The trigger's queues.
pub(super) struct Queues {
    requests: Queue,
    outputs: Option<Queue>,
    poison: Queue,
}

impl Queues {
    pub(super) fn new(
        storage: &StorageAccount,
        trigger: &QueueTrigger,
    ) -> Result<Queues, StorageError> {
        Ok(Queues {
            requests: Queue::new(storage, &trigger.queue, trigger.encoding)?,
            outputs: trigger
                .output
                .as_ref()
                .map(|(_, queue)| Queue::new(storage, queue, trigger.encoding))
                .transpose()?,
            poison: Queue::new(storage, &trigger.poison_queue(), trigger.encoding)?,
        })
    }

    /// Creates the request and output queues (the host creates the poison queue when it first
    /// needs it).
    pub(super) async fn create(&self) -> Result<(), StorageError> {
        self.requests.create_if_missing().await?;
        if let Some(outputs) = &self.outputs {
            outputs.create_if_missing().await?;
        }
        Ok(())
    }
}

/// Receives and processes messages of `trigger`'s queue until the host stops. The host's own
/// queue function (`woken`) is woken when the host puts a message on its queue; another one
/// polls only.
pub(super) async fn listen(
    shared: Arc<HostShared>,
    queues: Queues,
    trigger: QueueTrigger,
    woken: bool,
) {
    let queues = Arc::new(queues);
    let trigger = Arc::new(trigger);
    let mut stopped = shared.stopped.clone();
    let mut pause = MIN_POLLING_INTERVAL;
    loop {
        // At most newBatchThreshold messages may be in processing before the next receive.
        loop {
            let changed = shared.changed.notified();
            if lock(&shared.ledger).in_flight <= trigger.new_batch_threshold as usize {
                break;
            }
            tokio::select! {
                () = changed => {}
                _ = stopped.changed() => return,
            }
        }
        let received = queues
            .requests
            .receive(trigger.batch_size, RECEIVE_VISIBILITY)
            .await
            .unwrap_or_default();
        if received.is_empty() {
            // The pause grows by randomized exponential back-off, as in the extension's polling
            // strategy.
            let jitter = 0.8 + rand::random::<f64>() * 0.4;
            let wait = pause.mul_f64(jitter).min(trigger.max_polling_interval);
            let wake = async {
                if woken {
                    shared.wake.notified().await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = wake => pause = MIN_POLLING_INTERVAL,
                _ = stopped.changed() => return,
            }
            pause = (pause * 2).min(trigger.max_polling_interval);
            continue;
        }
        pause = MIN_POLLING_INTERVAL;
        lock(&shared.ledger).in_flight += received.len();
        for message in received {
            tokio::spawn(process(
                shared.clone(),
                queues.clone(),
                trigger.clone(),
                message,
            ));
        }
    }
}

/// Processes one message, from its invocation to its settlement.
async fn process(
    shared: Arc<HostShared>,
    queues: Arc<Queues>,
    trigger: Arc<QueueTrigger>,
    message: Received,
) {
    let trigger = &*trigger;
    let pop_receipt = Arc::new(AsyncMutex::new(message.pop_receipt.clone()));
    let poisoned = |reason: &str| {
        tracing::debug!("message {} to the poison queue: {reason}", message.id);
    };
    let Some(text) = message.text.clone() else {
        poisoned("its text cannot be decoded");
        to_poison(&queues, &message, &pop_receipt).await;
        settle(&shared, &message.id, message.dequeue_count, 0);
        return;
    };
    if message.dequeue_count > trigger.max_dequeue_count {
        poisoned("delivered more often than maxDequeueCount");
        to_poison(&queues, &message, &pop_receipt).await;
        settle(&shared, &message.id, message.dequeue_count, 0);
        return;
    }
    let answer = invoke_renewing(&shared, &queues, trigger, &message, &text, &pop_receipt).await;
    let status = answer.as_ref().map_or(0, |(status, _)| *status);
    let pop = pop_receipt.lock().await.clone();
    // On success the output binding is written, then the message deleted. A failure to write
    // the output, like an answer that is not a response envelope, fails the invocation.
    let succeeded = match answer {
        Some((200..=299, Some(envelope))) => {
            write_outputs(&queues, trigger, &message.id, &envelope).await
        }
        _ => false,
    };
    settle_in_queue(&queues, trigger, &message, &pop_receipt, &pop, succeeded).await;
    settle(&shared, &message.id, message.dequeue_count, status);
}

/// Invokes the trigger's function with the message, keeping the message invisible to others
/// until the function answers (or its time is up). Returns the handler's status and envelope.
async fn invoke_renewing(
    shared: &HostShared,
    queues: &Arc<Queues>,
    trigger: &QueueTrigger,
    message: &Received,
    text: &str,
    pop_receipt: &Arc<AsyncMutex<String>>,
) -> Option<(u16, Option<Value>)> {
    let renewal = tokio::spawn(renew(
        queues.clone(),
        message.id.clone(),
        pop_receipt.clone(),
    ));
    let time = |at: Option<azure_core::time::OffsetDateTime>| {
        at.map(|at| azure_core::time::to_rfc3339(&at))
    };
    let envelope = queue_envelope(
        trigger,
        text,
        &message.id,
        &message.pop_receipt,
        message.dequeue_count,
        [
            time(message.insertion_time),
            time(message.expiration_time),
            time(message.next_visible_time),
        ],
    );
    let answer = invoke(
        shared,
        &trigger.function,
        &envelope,
        trigger.invocation_timeout,
    )
    .await;
    renewal.abort();
    answer
}

/// Writes the output binding's messages from the handler's response envelope. Returns whether
/// all were written; one that cannot be written fails the invocation.
async fn write_outputs(
    queues: &Queues,
    trigger: &QueueTrigger,
    id: &str,
    envelope: &Value,
) -> bool {
    if let (Some((binding, _)), Some(outputs)) = (&trigger.output, &queues.outputs) {
        for output in output_messages(envelope, binding) {
            if let Err(error) = outputs.send(&output).await {
                tracing::warn!("could not write the output of message {id}: {error}");
                return false;
            }
        }
    }
    true
}

/// Settles the message in its queue: deleted after a success; after a failure moved to the
/// poison queue on its last allowed delivery, else made visible again after
/// `visibilityTimeout` for another try.
async fn settle_in_queue(
    queues: &Queues,
    trigger: &QueueTrigger,
    message: &Received,
    pop_receipt: &AsyncMutex<String>,
    pop: &str,
    succeeded: bool,
) {
    let settled = if succeeded {
        queues.requests.delete(&message.id, pop).await
    } else if message.dequeue_count >= trigger.max_dequeue_count {
        to_poison(queues, message, pop_receipt).await;
        Ok(())
    } else {
        queues
            .requests
            .set_visibility(&message.id, pop, trigger.visibility_timeout)
            .await
            .map(|_| ())
    };
    if let Err(error) = settled {
        tracing::warn!("could not settle message {}: {error}", message.id);
    }
}

/// Copies the message's text, unchanged, to the poison queue (created if missing) and deletes
/// the message.
async fn to_poison(queues: &Queues, message: &Received, pop_receipt: &AsyncMutex<String>) {
    let copied = match queues.poison.send_stored(&message.stored).await {
        Ok(id) => Ok(id),
        Err(_) => match queues.poison.create_if_missing().await {
            Ok(()) => queues.poison.send_stored(&message.stored).await,
            Err(error) => Err(error),
        },
    };
    if let Err(error) = copied {
        tracing::warn!(
            "could not move message {} to the poison queue: {error}",
            message.id
        );
        return;
    }
    let pop = pop_receipt.lock().await.clone();
    if let Err(error) = queues.requests.delete(&message.id, &pop).await {
        tracing::warn!("could not delete poisoned message {}: {error}", message.id);
    }
}

/// Keeps the message invisible while the function runs, renewing the invisibility at half its
/// length.
async fn renew(queues: Arc<Queues>, id: String, pop_receipt: Arc<AsyncMutex<String>>) {
    loop {
        tokio::time::sleep(RECEIVE_VISIBILITY / 2).await;
        let mut pop = pop_receipt.lock().await;
        match queues
            .requests
            .set_visibility(&id, &pop, RECEIVE_VISIBILITY)
            .await
        {
            Ok(renewed) => *pop = renewed,
            Err(_) => return,
        }
    }
}

/// Whether the request queue holds no message, visible or not.
pub(super) async fn is_empty(storage: &StorageAccount, trigger: &QueueTrigger) -> bool {
    match Queue::new(storage, &trigger.queue, trigger.encoding) {
        Ok(queue) => queue
            .approximate_count()
            .await
            .is_ok_and(|count| count == 0),
        Err(_) => true,
    }
}

/// Takes every message off the results and poison queues: the results as JSON (whatever the
/// host wrote: indented, or base64 of it), the poison queue's texts as they are.
pub(super) async fn take_outcomes(
    storage: &StorageAccount,
    trigger: &QueueTrigger,
) -> (Vec<Value>, Vec<String>) {
    let mut results = Vec::new();
    if let Some((_, name)) = &trigger.output
        && let Ok(queue) = Queue::new(storage, name, trigger.encoding)
    {
        for text in drain(&queue).await {
            results.push(read_json(&text).unwrap_or(Value::String(text)));
        }
    }
    let poison = match Queue::new(storage, &trigger.poison_queue(), trigger.encoding) {
        Ok(queue) => drain(&queue).await,
        Err(_) => Vec::new(),
    };
    (results, poison)
}

/// Receives and deletes every visible message of `queue`, and returns their stored texts.
async fn drain(queue: &Queue) -> Vec<String> {
    let mut texts = Vec::new();
    while let Ok(batch) = queue.receive(32, Duration::from_secs(60)).await {
        if batch.is_empty() {
            break;
        }
        for message in batch {
            if queue
                .delete(&message.id, &message.pop_receipt)
                .await
                .is_ok()
            {
                texts.push(message.stored);
            }
        }
    }
    texts
}
