//! `mfa-phone-handler readiness` runs the scan from the command line, with the identity and
//! settings the handler reads from its environment (falling back to the admin's own Azure CLI
//! sign-in when no identity is configured). It shows progress while it runs (pages read, users
//! classified, the pace, and a time left where a total is known) and the summary at the end, as
//! lines or (`--json`) one JSON object. The trend of `phoneOnly` continues from the
//! `readiness.json` an earlier scan left in `--out`. Exit 0 when the scan finished, 2 when it
//! could not be made.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cli::readiness::{CleanupInclude, ReadinessArgs};
use crate::config::Config;
use crate::graph::GraphClient;
use crate::progress::Progress;
use crate::protection::Protection;
use crate::readiness::classify::Category;
use crate::readiness::command_summary::{CommandSummary, Mode};
use crate::readiness::output::{
    CLEANUP_CSV, DirectorySink, READINESS_CSV, READINESS_HTML, READINESS_JSON,
};
use crate::readiness::pacer::REPORTS_LIMIT;
use crate::readiness::scan::{ScanSettings, scan};
use crate::readiness::summary::Summary;
use crate::readiness::trend::{self, Point};

/// How many `$batch` requests are in flight at once for per-user reads.
const BATCHES_IN_FLIGHT: usize = 4;

/// Runs the command and returns its exit status.
pub async fn main(arguments: ReadinessArgs) -> u8 {
    match run(&arguments).await {
        Ok(summary) => {
            if arguments.json {
                let mut files: Vec<PathBuf> = [READINESS_CSV, READINESS_JSON, READINESS_HTML]
                    .iter()
                    .map(|name| arguments.out.join(name))
                    .collect();
                if summary.cleanup.written {
                    files.push(arguments.out.join(CLEANUP_CSV));
                }
                let line = CommandSummary::scanned(&arguments.out, files, &summary).to_line();
                println!("{line}");
            } else {
                print_summary(&summary, &arguments);
            }
            0
        }
        Err(cause) => {
            if arguments.json {
                let line =
                    CommandSummary::stopped(Mode::Scan, &arguments.out, Some(cause)).to_line();
                println!("{line}");
            } else {
                eprintln!("readiness: the scan could not be made: {cause}");
            }
            2
        }
    }
}

async fn run(arguments: &ReadinessArgs) -> Result<Summary, String> {
    crate::install_crypto_provider();
    let config = Config::from_lookup(command_environment).map_err(|error| error.to_string())?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("mfa-phone-handler/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| format!("could not build the HTTP client: {error}"))?;
    let credential =
        crate::credential::build(&config.credential, &config.graph_endpoint, http.clone())
            .map_err(|error| format!("could not build the credential: {error}"))?;
    let graph = GraphClient::new(
        http,
        &config.graph_endpoint,
        credential,
        config.retry.clone(),
    )
    .map_err(|error| error.to_string())?;
    let protection = Protection::new(config.protection.clone());
    let mut cleanup = vec![Category::PhoneAndPhishingResistant];
    if arguments
        .cleanup_include
        .contains(&CleanupInclude::PhoneAndOtherMfa)
    {
        cleanup.push(Category::PhoneAndOtherMfa);
    }
    let settings = ScanSettings {
        per_user: arguments.per_user,
        cleanup,
        cleanup_key: config.cleanup_key.clone().ok_or_else(|| {
            "MFA_CLEANUP_KEY is not set: set the app's secret (DEPLOY.md says how to make one) in the \
             environment to get a cleanup.csv whose removals delete only the numbers this scan saw"
                .to_owned()
        }),
        reports_limit: REPORTS_LIMIT,
        batches_in_flight: BATCHES_IN_FLIGHT,
    };
    let earlier = earlier_points(&arguments.out);
    let progress = Arc::new(Progress::new(None, arguments.json));
    if arguments.per_user {
        progress.say(
            "--per-user reads every user and each one's methods ($batch of 20): Microsoft advises \
             the registration report for large tenants; expect about 100 users a second, some \
             17 minutes per 100,000 users",
        );
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (on_pages, on_accounts) = (
        shown(&progress, &seen, arguments.per_user),
        shown(&progress, &seen, arguments.per_user),
    );
    let mut sink = DirectorySink::create(
        &arguments.out,
        settings.cleanup_key.is_ok(),
        Box::new(move |pages, users, _| {
            on_pages(&mut |seen| {
                seen.pages = pages;
                seen.users = users;
            });
        }),
    )
    .map_err(|error| format!("could not write to {}: {error}", arguments.out.display()))?
    .with_accounts(Box::new(move |listed, read| {
        on_accounts(&mut |seen| {
            seen.reading_since.get_or_insert_with(Instant::now);
            let (all, done) = seen.accounts.unwrap_or_default();
            seen.accounts = Some((all + listed, done + read));
        });
    }));
    let mut summary = scan(&graph, &protection, &settings, &mut sink)
        .await
        .map_err(|error| error.to_string())?;
    progress.finish();
    summary.set_trend(earlier);
    sink.finish(&summary)
        .map_err(|error| format!("could not write {READINESS_JSON}: {error}"))?;
    Ok(summary)
}

/// What the progress line knows so far.
#[derive(Default)]
struct Seen {
    pages: u64,
    users: u64,
    /// With `--per-user`: the users listed, and how many of them were read.
    accounts: Option<(u64, u64)>,
    /// When the first user's methods were asked for (the rate counts from there).
    reading_since: Option<Instant>,
}

/// A callback that updates what is seen and shows the line.
fn shown(
    progress: &Arc<Progress>,
    seen: &Arc<Mutex<Seen>>,
    per_user: bool,
) -> impl Fn(&mut dyn FnMut(&mut Seen)) + Send + 'static {
    let (progress, seen) = (Arc::clone(progress), Arc::clone(seen));
    move |update: &mut dyn FnMut(&mut Seen)| {
        let mut seen = crate::mutex::lock(&seen);
        update(&mut seen);
        let reading = seen
            .reading_since
            .map_or(Duration::ZERO, |since| since.elapsed());
        let line = progress_line(per_user, seen.pages, seen.users, seen.accounts, reading);
        progress.show(seen.users, None, &line);
    }
}

/// Writes the progress line. The registration report does not say how many pages it has, so
/// its scan shows the pace and no time left; `--per-user` knows the users listed so far and the
/// rate their methods are read at, so it shows the time left for those (not for pages not
/// listed yet, which nothing counts ahead).
fn progress_line(
    per_user: bool,
    pages: u64,
    users: u64,
    accounts: Option<(u64, u64)>,
    reading: Duration,
) -> String {
    if !per_user {
        return format!(
            "report pages read {pages}, users classified {users}; paced at the reports limit, 5 \
             pages of up to 999 users per 10 s; time left not known (the report does not say \
             how many pages it has)"
        );
    }
    let mut line = format!("user pages listed {pages}, users with a phone classified {users}");
    let Some((listed, read)) = accounts else {
        return line;
    };
    line.push_str(&format!(
        ", methods read for {read} of the {listed} users listed"
    ));
    let seconds = reading.as_secs_f64();
    if read == 0 || seconds < 1.0 {
        return line;
    }
    let rate = read as f64 / seconds;
    line.push_str(&format!(" ({rate:.0} a second)"));
    if read < listed {
        let left = (listed - read) as f64 / rate;
        line.push_str(&format!(
            "; about {left:.0} s left for those listed (the users not listed yet are not counted)"
        ));
    } else {
        line.push_str("; listing the next page");
    }
    line
}

/// Reads the trend so far: the points of the `readiness.json` an earlier scan left in `out`
/// (its own trend, or its own point). Nothing when there is none, or it is not a file of ours
/// (a link, something too large to be one).
fn earlier_points(out: &Path) -> Vec<Point> {
    let path = out.join(READINESS_JSON);
    match std::fs::symlink_metadata(&path) {
        Ok(metadata) if metadata.is_file() && metadata.len() <= trend::MOST_SUMMARY_BYTES => {
            std::fs::read(&path)
                .map(|summary| trend::history_of(&summary))
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// Reads the handler's settings, with what a command run needs where the Functions host is
/// absent: no port, and the admin's own sign-in when no identity is configured.
fn command_environment(name: &str) -> Option<String> {
    let get = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    };
    match name {
        "FUNCTIONS_CUSTOMHANDLER_PORT" => get(name).or_else(|| Some("0".to_owned())),
        "MFA_CREDENTIAL" => get(name).or_else(|| {
            let identity = get("IDENTITY_ENDPOINT").is_some() && get("IDENTITY_HEADER").is_some();
            let secret = get("AZURE_CLIENT_SECRET").is_some();
            (!identity && !secret).then(|| "developerTools".to_owned())
        }),
        _ => get(name),
    }
}

fn print_summary(summary: &Summary, arguments: &ReadinessArgs) {
    let out = arguments.out.display();
    println!(
        "{} users with a phone method ({}), scanned {}:",
        summary.users, summary.source, summary.scanned_at
    );
    for (category, count) in &summary.categories {
        println!("  {category:<27} {count}");
    }
    for (date, count) in &summary.affected_from {
        let left = summary
            .days_left
            .get(date)
            .map(|days| format!(" ({days} days left)"))
            .unwrap_or_default();
        println!("  phoneOnly from {date:<12} {count}{left}");
    }
    println!("  protected                   {}", summary.protected);
    match summary.phone_only_trend.as_slice() {
        [first, .., last] => println!(
            "  phoneOnly across {} scans in {out}: {} ({}) then {} ({})",
            summary.phone_only_trend.len(),
            first.phone_only,
            first.scanned_at,
            last.phone_only,
            last.scanned_at
        ),
        _ => println!("  phoneOnly trend: first scan in {out}, no trend yet"),
    }
    if !summary.unknown_methods.is_empty() {
        let names: Vec<&str> = summary.unknown_methods.keys().map(String::as_str).collect();
        println!("  method names not known: {}", names.join(", "));
    }
    println!("  not covered: {}", summary.not_covered.disabled_note);
    if summary.not_covered.unreadable_methods > 0 {
        println!(
            "  methods not read: {} users (readiness.json lists them)",
            summary.not_covered.unreadable_methods
        );
    }
    println!("{out}/{READINESS_CSV}, {out}/{READINESS_JSON}, {out}/{READINESS_HTML}");
    if summary.cleanup.written {
        println!(
            "{out}/{CLEANUP_CSV}: {} removals for {} users; try it: mfa-phone-handler bulk \
             {out}/{CLEANUP_CSV} --endpoint URL --dry-run",
            summary.cleanup.rows, summary.cleanup.users
        );
    } else {
        println!("{}", summary.cleanup.note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_scan_shows_its_pace_and_no_invented_time_left() {
        let line = progress_line(false, 3, 2500, None, Duration::from_secs(9));
        assert!(
            line.contains("report pages read 3, users classified 2500"),
            "{line}"
        );
        assert!(
            line.contains("5 pages of up to 999 users per 10 s"),
            "{line}"
        );
        assert!(line.contains("time left not known"), "{line}");
        assert!(!line.contains(" s left"), "{line}");
    }

    #[test]
    fn per_user_shows_the_time_left_for_the_users_listed_at_the_measured_rate() {
        let line = progress_line(true, 1, 40, Some((999, 200)), Duration::from_secs(4));
        assert!(
            line.contains("methods read for 200 of the 999 users listed (50 a second)"),
            "{line}"
        );
        assert!(line.contains("about 16 s left for those listed"), "{line}");
        let caught_up = progress_line(true, 2, 80, Some((999, 999)), Duration::from_secs(20));
        assert!(caught_up.ends_with("listing the next page"), "{caught_up}");
        let starting = progress_line(true, 1, 0, Some((999, 0)), Duration::ZERO);
        assert!(
            !starting.contains("left"),
            "no rate yet, no time left: {starting}"
        );
    }
}
