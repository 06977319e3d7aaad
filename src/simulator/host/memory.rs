//! The in-memory queue the miniature host uses without a storage account (the demo without
//! Azurite): the same delivery rules as the listener, one message at a time: `DequeueCount`
//! grows with each delivery, a 2xx deletes the message and keeps its output, anything else
//! makes it visible again after the visibility timeout, or moves it to the poison list from the
//! `maxDequeueCount`-th delivery on.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::{HostShared, invoke, output_messages, queue_envelope, settle};
use crate::simulator::lock;

/// Messages waiting, visible or not yet.
#[derive(Default)]
pub(super) struct MemoryQueue {
    waiting: Mutex<VecDeque<Message>>,
}

#[derive(Clone)]
struct Message {
    id: String,
    text: String,
    dequeue_count: u64,
    visible_at: Instant,
}

impl MemoryQueue {
    /// Puts a message on the queue; its id.
    pub(super) fn push(&self, text: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        lock(&self.waiting).push_back(Message {
            id: id.clone(),
            text: text.to_owned(),
            dequeue_count: 0,
            visible_at: Instant::now(),
        });
        id
    }

    pub(super) fn is_empty(&self) -> bool {
        lock(&self.waiting).is_empty()
    }

    /// The next visible message, taken off the queue; else when the next one becomes visible.
    fn take(&self) -> Result<Message, Option<Instant>> {
        let mut waiting = lock(&self.waiting);
        let now = Instant::now();
        match waiting.iter().position(|message| message.visible_at <= now) {
            Some(position) => waiting.remove(position).ok_or(None),
            None => Err(waiting.iter().map(|message| message.visible_at).min()),
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
            [None, None, None],
        );
        let answer = invoke(
            &shared,
            &trigger.function,
            &envelope,
            trigger.invocation_timeout,
        )
        .await;
        let status = answer.as_ref().map_or(0, |(status, _)| *status);
        match answer {
            Some((200..=299, envelope)) => {
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
                lock(&shared.memory.waiting).push_back(message.clone());
            }
        }
        settle(&shared, &message.id, message.dequeue_count, status);
    }
}
