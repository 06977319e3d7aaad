//! Goes on where a run stopped: opens the run's state with the admin's key (a state this
//! command did not write is refused), reads what it says about each row, and tells the admin
//! which rows are not sent again and why.

use std::path::Path;
use std::sync::Mutex;

use super::NOTHING_SENT;
use super::endpoint::Endpoint;
use super::options::Options;
use super::row_outcome::RowOutcome;
use super::rows::Operation;
use super::schedule::Schedule;
use super::send::{Settings, request_id};
use super::state::{State, StateError};
use super::state_key::StateKey;
use super::summary::RunSummary;

/// `Ok` when the key file `key` is not inside `out`: a key beside the state it signs would be
/// as easy to plant as the state.
fn outside(key: &Path, out: &Path) -> Result<(), String> {
    let absolute = |path: &Path| {
        std::fs::canonicalize(path)
            .unwrap_or_else(|_| std::path::absolute(path).unwrap_or_default())
    };
    let directory = key.parent().map(absolute).unwrap_or_default();
    if directory.starts_with(absolute(out)) {
        return Err(format!(
            "the state key {} is inside --out {}: keep it elsewhere (by default it is in your \
             configuration directory)",
            key.display(),
            out.display()
        ));
    }
    Ok(())
}

/// How many skipped rows resuming names one by one.
const SKIPPED_SHOWN: usize = 20;

/// Says which rows an earlier run of this file settled, which this run does not send again,
/// and why (their outcome, from the state this command wrote and verified).
pub(super) fn say_what_is_skipped(schedule: &Schedule, settings: &Settings, state: &State) {
    let settled: Vec<(&Operation, &RowOutcome)> = schedule
        .operations
        .iter()
        .filter_map(|operation| {
            let id = request_id(&settings.request_prefix, operation);
            state
                .earlier
                .get(&id)
                .filter(|outcome| outcome.is_settled())
                .map(|outcome| (operation, outcome))
        })
        .collect();
    if settled.is_empty() {
        return;
    }
    eprintln!(
        "Not sent again: {} changes an earlier run of this file settled (its state verified \
         with your key):",
        settled.len()
    );
    for (operation, outcome) in settled.iter().take(SKIPPED_SHOWN) {
        eprintln!(
            "  line {} ({}): {} in the earlier run",
            operation.line,
            operation.phone_type,
            outcome.label()
        );
    }
    if settled.len() > SKIPPED_SHOWN {
        eprintln!("  … and {} more", settled.len() - SKIPPED_SHOWN);
    }
}

/// Opens the state in `--out` with the admin's key (made on first use).
fn signed_state(
    options: &Options,
    schedule: &Schedule,
    file_sha256: &str,
) -> Result<State, String> {
    let path = options.state_key.as_deref().ok_or(
        "no configuration directory is known for the state key: give --state-key FILE \
         (outside --out)",
    )?;
    outside(path, &options.out)?;
    let key = StateKey::load_or_create(path)?;
    State::open(
        &options.out,
        &key,
        file_sha256,
        &options.destination(),
        schedule.operations.len(),
    )
    .map_err(|error| match error {
        StateError::Io(error) => format!(
            "the state file in {} cannot be written: {error}",
            options.out.display()
        ),
        other => other.to_string(),
    })
}

/// Opens the run's state (none on a dry run) and says whether this run goes on from an earlier
/// one; `Err` with the exit status when it cannot be written (nothing may be sent unrecorded).
pub(super) fn open_state(
    options: &Options,
    endpoint: &Endpoint,
    schedule: &Schedule,
    file_sha256: &str,
    summary: &mut RunSummary,
) -> Result<Option<Mutex<State>>, u8> {
    if options.dry_run {
        return Ok(None);
    }
    let state = match signed_state(options, schedule, file_sha256) {
        Ok(state) => state,
        Err(error) => {
            let message = format!("Nothing was sent: {error}");
            eprintln!("{message}");
            summary.stopped = Some(message);
            return Err(NOTHING_SENT);
        }
    };
    summary.state = Some(state.path().to_path_buf());
    if let Some(aside) = &state.set_aside {
        eprintln!(
            "The file or the endpoint changed since the last run: this is a new run (the last \
             run's state is kept in {})",
            aside.display()
        );
    } else if !state.earlier.is_empty() || !state.unanswered.is_empty() {
        eprintln!(
            "Going on with the last run of this file: {} outcomes known, {} sent without an \
             answer ({})",
            state.earlier.len(),
            state.unanswered.len(),
            match endpoint {
                Endpoint::Http(_) => "sent again: the handler's changes are idempotent",
                Endpoint::Queue(_) => "their results are waited for, not sent again",
            }
        );
    }
    Ok(Some(Mutex::new(state)))
}
