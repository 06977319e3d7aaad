//! Keeps the in-memory queue the miniature host uses without a storage account (the demo
//! without Azurite). It follows the listener's delivery rules, one message at a time:
//! `DequeueCount` grows with each delivery, a 2xx deletes the message and keeps its output, and
//! anything else makes it visible again after the visibility timeout, or moves it to the poison
//! list from the `maxDequeueCount`-th delivery on.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::{HostShared, invoke, output_messages, queue_envelope, settle};
use crate::simulator::lock;

/// Messages waiting, visible or not yet, and how many are being delivered, under one lock so
/// that a message being taken is never out of both counts.
#[derive(Default)]
pub(super) struct MemoryQueue {
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    messages: VecDeque<Message>,
    delivering: usize,
}

#[derive(Clone)]
struct Message {
    id: String,
    text: String,
    dequeue_count: u64,
    visible_at: Instant,
    /// When it was put on the queue, as the storage service's `InsertionTime` says.
    inserted: String,
}

impl MemoryQueue {
    /// Puts a message on the queue and returns its id.
    pub(super) fn push(&self, text: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        lock(&self.waiting).messages.push_back(Message {
            id: id.clone(),
            text: text.to_owned(),
            dequeue_count: 0,
            visible_at: Instant::now(),
            inserted: azure_core::time::to_rfc3339(&azure_core::time::OffsetDateTime::now_utc()),
        });
        id
    }

    /// Whether no message waits and none is being delivered.
    pub(super) fn is_empty(&self) -> bool {
        let waiting = lock(&self.waiting);
        waiting.messages.is_empty() && waiting.delivering == 0
    }

    /// Takes the next visible message off the queue to be delivered; otherwise it says when the
    /// next one becomes visible.
    fn take(&self) -> Result<Message, Option<Instant>> {
        let mut waiting = lock(&self.waiting);
        let now = Instant::now();
        let visible = waiting
            .messages
            .iter()
            .position(|message| message.visible_at <= now);
        match visible.and_then(|position| waiting.messages.remove(position)) {
            Some(message) => {
                waiting.delivering += 1;
                Ok(message)
            }
            None => Err(waiting
                .messages
                .iter()
                .map(|message| message.visible_at)
                .min()),
        }
    }

    /// Ends a delivery; `again` is put back to be delivered later.
    fn delivered(&self, again: Option<Message>) {
        let mut waiting = lock(&self.waiting);
        waiting.delivering = waiting.delivering.saturating_sub(1);
        if let Some(message) = again {
            waiting.messages.push_back(message);
        }
    }
}

/// Delivers visible messages one by one until the host stops.
pub(super) async fn deliver(shared: Arc<HostShared>) {
    let trigger = shared.options.trigger.clone();
    let mut stopped = shared.stopped.clone();
    loop {
        let changed = shared.changed.notified();
        let mut message = match shared.memory.take() {
            Ok(message) => message,
            Err(earliest) => {
                tokio::select! {
                    () = async {
                        match earliest {
                            Some(at) => tokio::time::sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    } => {}
                    () = changed => {}
                    _ = stopped.changed() => return,
                }
                continue;
            }
        };
        lock(&shared.ledger).in_flight += 1;
        message.dequeue_count += 1;
        let envelope = queue_envelope(
            &trigger,
            &message.text,
            &message.id,
            &uuid::Uuid::new_v4().to_string(),
            message.dequeue_count,
            [Some(message.inserted.clone()), None, None],
        );
        let answer = invoke(
            &shared,
            &trigger.function,
            &envelope,
            trigger.invocation_timeout,
        )
        .await;
        let status = answer.as_ref().map_or(0, |(status, _)| *status);
        let mut again = None;
        match answer {
            Some((200..=299, Some(envelope))) => {
                if let Some((binding, _)) = &trigger.output {
                    let mut ledger = lock(&shared.ledger);
                    for text in output_messages(&envelope, binding) {
                        ledger.results.push(
                            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
                        );
                    }
                }
            }
            _ if message.dequeue_count >= trigger.max_dequeue_count => {
                lock(&shared.ledger).poison.push(message.text.clone());
            }
            _ => {
                message.visible_at = Instant::now() + trigger.visibility_timeout;
                again = Some(message.clone());
            }
        }
        shared.memory.delivered(again);
        settle(&shared, &message.id, message.dequeue_count, status);
    }
}
