//! Reads what the miniature host needs from the app's files, as the Functions host does:
//! host.json's `extensions.queues` and `functionTimeout`, and the queue function's
//! function.json (its trigger and output bindings, their queue names), so that the tests
//! exercise what is deployed. The defaults are the storage queues extension's (`QueuesOptions`).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::storage::queue::Encoding;

/// The queue trigger as the deployed files configure it.
#[derive(Clone, Debug)]
pub struct QueueTrigger {
    /// The function's name (its folder), which is also the handler's route.
    pub function: String,
    /// The trigger binding's name (`Data.<name>`).
    pub binding: String,
    pub queue: String,
    /// The queue output binding (`Outputs.<name>`) and its queue, if the function has one.
    pub output: Option<(String, String)>,
    /// Messages asked for per receive (1 to 32).
    pub batch_size: u32,
    /// More are asked for while at most this many are being processed.
    pub new_batch_threshold: u32,
    /// The longest pause between polls of an empty queue.
    pub max_polling_interval: Duration,
    /// From its `DequeueCount`-th delivery on, a failed message goes to `<queue>-poison`.
    pub max_dequeue_count: u64,
    /// How long a failed message stays invisible before its next delivery.
    pub visibility_timeout: Duration,
    pub encoding: Encoding,
    /// How long the host waits for the handler (`functionTimeout` + 1 minute).
    pub invocation_timeout: Duration,
}

impl QueueTrigger {
    /// Reads host.json and `<function>/function.json` under `app_root`.
    ///
    /// # Errors
    ///
    /// When a file is missing or not what the host accepts; the message names the file.
    pub fn read(app_root: &Path, function: &str) -> Result<QueueTrigger, String> {
        let json = |path: &Path| -> Result<Value, String> {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
        };
        let host = json(&app_root.join("host.json"))?;
        let function_json = app_root.join(function).join("function.json");
        let bindings = json(&function_json)?;
        let bindings = bindings["bindings"].as_array().cloned().unwrap_or_default();
        let binding = |direction: &str, kind: &str| {
            bindings.iter().find(|binding| {
                binding["direction"] == direction
                    && binding["type"]
                        .as_str()
                        .is_some_and(|found| found.eq_ignore_ascii_case(kind))
            })
        };
        let trigger = binding("in", "queueTrigger")
            .ok_or_else(|| format!("{}: no queueTrigger binding", function_json.display()))?;
        let name_of = |binding: &Value, field: &str| {
            binding[field]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{}: a binding has no {field}", function_json.display()))
        };
        let output = match binding("out", "queue") {
            Some(output) => Some((name_of(output, "name")?, name_of(output, "queueName")?)),
            None => None,
        };
        let queues = &host["extensions"]["queues"];
        let batch_size = queues["batchSize"].as_u64().unwrap_or(16).clamp(1, 32) as u32;
        let encoding = match queues["messageEncoding"].as_str() {
            None => Encoding::Base64,
            Some(text) => Encoding::parse(text).ok_or_else(|| {
                format!("host.json: messageEncoding '{text}' is neither base64 nor none")
            })?,
        };
        let timespan = |value: &Value, default: Duration| match value.as_str() {
            None => Ok(default),
            Some(text) => parse_timespan(text)
                .ok_or_else(|| format!("host.json: '{text}' is not a time span (hh:mm:ss)")),
        };
        Ok(QueueTrigger {
            function: function.to_owned(),
            binding: name_of(trigger, "name")?,
            queue: name_of(trigger, "queueName")?,
            output,
            batch_size,
            new_batch_threshold: queues["newBatchThreshold"]
                .as_u64()
                .map_or(batch_size / 2, |threshold| threshold as u32),
            max_polling_interval: timespan(&queues["maxPollingInterval"], Duration::from_secs(60))?,
            max_dequeue_count: queues["maxDequeueCount"].as_u64().unwrap_or(5).max(1),
            visibility_timeout: timespan(&queues["visibilityTimeout"], Duration::ZERO)?,
            encoding,
            invocation_timeout: timespan(&host["functionTimeout"], Duration::from_secs(300))?
                + Duration::from_secs(60),
        })
    }

    /// Names the poison queue of the trigger's queue.
    pub fn poison_queue(&self) -> String {
        format!("{}-poison", self.queue)
    }
}

/// Parses a .NET `TimeSpan` as host.json writes it: `hh:mm:ss`, `d.hh:mm:ss`, fractions
/// allowed.
fn parse_timespan(text: &str) -> Option<Duration> {
    let (days, clock) = match text.trim().split_once('.') {
        Some((days, clock)) if clock.contains(':') && !days.contains(':') => {
            (days.parse::<u64>().ok()?, clock)
        }
        _ => (0, text.trim()),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let [hours, minutes, seconds] = parts.as_slice() else {
        return None;
    };
    let seconds: f64 = seconds.parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    let whole =
        days * 86_400 + hours.parse::<u64>().ok()? * 3_600 + minutes.parse::<u64>().ok()? * 60;
    Some(Duration::from_secs(whole) + Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployed_files_are_read_as_the_host_reads_them() {
        let trigger = QueueTrigger::read(
            Path::new(env!("CARGO_MANIFEST_DIR")),
            "SetOrRemoveMobilePhoneMfaQueue",
        )
        .unwrap();
        assert_eq!(trigger.queue, "mfa-phone-requests");
        assert_eq!(trigger.binding, "queueItem");
        assert_eq!(
            trigger.output,
            Some(("resultMessage".to_owned(), "mfa-phone-results".to_owned()))
        );
        assert_eq!(trigger.poison_queue(), "mfa-phone-requests-poison");
        assert_eq!((trigger.batch_size, trigger.new_batch_threshold), (8, 4));
        assert_eq!(trigger.max_dequeue_count, 5);
        assert_eq!(trigger.visibility_timeout, Duration::from_secs(60));
        assert_eq!(trigger.max_polling_interval, Duration::from_secs(10));
        assert_eq!(trigger.encoding, Encoding::None);
        assert_eq!(trigger.invocation_timeout, Duration::from_secs(3_660));
    }

    #[test]
    fn time_spans_as_dotnet_writes_them() {
        assert_eq!(parse_timespan("00:00:10"), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_timespan("1.02:00:00.5"),
            Some(Duration::from_secs_f64(93_600.5))
        );
        assert_eq!(parse_timespan("10"), None);
    }
}
