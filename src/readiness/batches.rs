//! `$batch` reads for the scan: one batch of up to 20 users, its throttled items asked again
//! after the wait Graph names for them, a few times.

use std::collections::HashMap;
use std::time::Duration;

use crate::graph::{GraphError, GraphErrorKind, throttled_for};
use crate::user::UserRef;

/// How many times a throttled `$batch` item is asked again.
const ITEM_ATTEMPTS: usize = 5;

pub(super) type BatchAnswers<T> = Vec<(usize, Result<T, GraphError>)>;

/// One `$batch` of reads, its throttled items asked again after the wait Graph names. A batch
/// that fails as a whole leaves its users unread, unless a permission is missing.
pub(super) async fn read_batch<T, F, Fut>(
    users: &[UserRef],
    send: F,
) -> Result<HashMap<usize, Result<T, GraphError>>, GraphError>
where
    F: Fn(Vec<UserRef>) -> Fut,
    Fut: std::future::Future<Output = Result<BatchAnswers<T>, GraphError>>,
{
    let mut found: HashMap<usize, Result<T, GraphError>> = HashMap::new();
    let mut pending: Vec<usize> = (0..users.len()).collect();
    for attempt in 0..ITEM_ATTEMPTS {
        if pending.is_empty() {
            break;
        }
        let asked: Vec<UserRef> = pending.iter().map(|index| users[*index].clone()).collect();
        let answers = match send(asked).await {
            Ok(answers) => answers,
            Err(error) if matches!(error.kind, GraphErrorKind::Forbidden { .. }) => {
                return Err(error);
            }
            Err(_) => return Ok(found),
        };
        let mut wait = Duration::ZERO;
        let mut again = Vec::new();
        for (position, answer) in answers {
            let Some(index) = pending.get(position).copied() else {
                continue;
            };
            match answer {
                Err(error) if error.kind.is_throttled() && attempt + 1 < ITEM_ATTEMPTS => {
                    wait = wait.max(throttled_for(&error).unwrap_or(Duration::from_secs(1)));
                    again.push(index);
                }
                answer => {
                    found.insert(index, answer);
                }
            }
        }
        pending = again;
        if !pending.is_empty() {
            tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
        }
    }
    Ok(found)
}
