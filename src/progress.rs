//! Shows the progress of long commands, for people and for logs: an indicatif bar (position,
//! rate, time left and the counts that matter) when stderr is a terminal, a plain line every
//! ten seconds when it is not, and nothing at all when asked for quiet (`--json`: the summary
//! is the output). It only shows; it never decides anything, and it never hides an error:
//! lines printed through [`Progress::say`] appear above the bar.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain line is printed when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(10);
/// How often the bar is redrawn from the counters.
const BAR_EVERY: Duration = Duration::from_millis(200);

/// The bar for work of a known size: position, rate, time left.
const WITH_TOTAL: &str =
    "{elapsed_precise:.dim} [{wide_bar:.cyan/blue}] {pos}/{len} ({per_sec}, {eta} left) {msg}";
/// With no total to measure against: the count so far and its rate.
const WITHOUT_TOTAL: &str = "{spinner} {elapsed_precise:.dim} {human_pos} ({per_sec}) {msg}";

/// Where progress goes.
pub enum Progress {
    /// A bar on the terminal.
    Bar(ProgressBar),
    /// A plain line now and then, for a log or a pipe.
    Lines {
        next: std::sync::Mutex<Instant>,
        started: Instant,
    },
    /// Nothing.
    Quiet,
}

impl Progress {
    /// Makes a display for work of `total` steps (`None` when it is not known yet: a spinner):
    /// nothing when `quiet` is asked (`--json`), a bar when stderr is a terminal, plain lines
    /// otherwise.
    pub fn new(total: Option<u64>, quiet: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        match (terminal, quiet) {
            (_, true) => Progress::Quiet,
            (true, false) => {
                let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
                let template = match total {
                    Some(_) => WITH_TOTAL,
                    None => WITHOUT_TOTAL,
                };
                bar.set_style(
                    ProgressStyle::with_template(template)
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                Progress::Bar(bar)
            }
            (false, false) => {
                let now = Instant::now();
                Progress::Lines {
                    next: std::sync::Mutex::new(now + LINE_EVERY),
                    started: now,
                }
            }
        }
    }

    /// How often [`Progress::show`] is worth calling.
    pub fn every(&self) -> Duration {
        match self {
            Progress::Bar(_) => BAR_EVERY,
            Progress::Lines { .. } | Progress::Quiet => LINE_EVERY,
        }
    }

    /// Shows `done` steps of the work with `counts` (e.g. "sent 10, answered 8, failed 1"):
    /// the bar is moved at once; a plain line is printed when one is due, with the time left
    /// estimated from the rate so far when the total is known.
    pub fn show(&self, done: u64, total: Option<u64>, counts: &str) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done);
                bar.set_message(counts.to_owned());
            }
            Progress::Lines { next, started } => {
                let now = Instant::now();
                {
                    let mut next = crate::mutex::lock(next);
                    if now < *next {
                        return;
                    }
                    *next = now + LINE_EVERY;
                }
                let elapsed = now.duration_since(*started).as_secs_f64();
                match total {
                    Some(total) => {
                        let left = time_left(done, total, elapsed)
                            .map(|left| format!(", about {left:.0} s left"))
                            .unwrap_or_default();
                        eprintln!("{done}/{total} done: {counts}{left}");
                    }
                    None => eprintln!("{counts}"),
                }
            }
            Progress::Quiet => {}
        }
    }

    /// Prints `line` on stderr, above the bar if there is one.
    pub fn say(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.suspend(|| eprintln!("{line}")),
            Progress::Lines { .. } | Progress::Quiet => eprintln!("{line}"),
        }
    }

    /// Ends the display: the bar is cleared, so that what follows starts on a clean line.
    pub fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Estimates the seconds left at the rate so far, when there is a rate and work left.
fn time_left(done: u64, total: u64, elapsed: f64) -> Option<f64> {
    (done > 0 && done < total).then(|| elapsed / done as f64 * (total - done) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bars_are_templates_indicatif_reads() {
        for template in [WITH_TOTAL, WITHOUT_TOTAL] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }

    #[test]
    fn time_left_is_the_rate_so_far_applied_to_what_is_left() {
        assert_eq!(time_left(10, 40, 5.0), Some(15.0));
        assert_eq!(time_left(0, 40, 5.0), None, "no rate yet");
        assert_eq!(time_left(40, 40, 5.0), None, "nothing left");
    }
}
