//! Reads users in `$batch` for the scan: one batch holds up to 20 users, and its throttled
//! items are asked again after the wait Graph names for them (every read of the scan waits with
//! them), until they are read or a bounded number of times.

use std::collections::HashMap;
use std::time::Duration;

use crate::graph::{GraphError, GraphErrorKind, throttled_for};
use crate::readiness::pacer::Pause;
use crate::user::UserRef;

/// How many times a `$batch` item is asked while Graph throttles it. Graph's advice is to wait
/// and ask again until it succeeds; a scan of 100,000 users under a large tenant's bucket saw
/// items throttled five times in a row when each read waited alone, so the bound is wide, and
/// bounded: at most this many waits of at most [`LONGEST_WAIT`].
const ITEM_ATTEMPTS: usize = 20;
/// The longest wait a throttled item's `Retry-After` is taken for.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

pub(super) type BatchAnswers<T> = Vec<(usize, Result<T, GraphError>)>;

/// Sends one `$batch` of reads and asks for its throttled items again after the wait Graph
/// names; `pause` makes every other read of the scan wait too, because asking again at once
/// only spends the bucket that Graph counts while it throttles. A batch that fails as a whole
/// leaves its users unread, unless a permission is missing.
pub(super) async fn read_batch<T, F, Fut>(
    users: &[UserRef],
    pause: &Pause,
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
        pause.wait().await;
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
            pause.throttled(wait.min(LONGEST_WAIT));
        }
    }
    Ok(found)
}
