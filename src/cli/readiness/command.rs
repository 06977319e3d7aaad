//! `mfa-phone-handler readiness`: the scan from the command line, with the identity and
//! settings the handler reads from its environment (falling back to the admin's own Azure CLI
//! sign-in when no identity is configured). Progress while it runs; the summary at the end,
//! as lines or (`--json`) one JSON object. Exit 0 when the scan finished, 2 when it could not
//! be made.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::readiness::{CleanupInclude, ReadinessArgs};
use crate::config::Config;
use crate::graph::GraphClient;
use crate::progress::Progress;
use crate::protection::Protection;
use crate::readiness::classify::Category;
use crate::readiness::output::{CLEANUP_CSV, DirectorySink, READINESS_CSV, READINESS_JSON};
use crate::readiness::pacer::REPORTS_LIMIT;
use crate::readiness::scan::{ScanSettings, scan};
use crate::readiness::summary::Summary;

/// `$batch` requests in flight for per-user reads.
const BATCHES_IN_FLIGHT: usize = 4;

/// Runs the command; its exit status.
pub async fn main(arguments: ReadinessArgs) -> u8 {
    match run(&arguments).await {
        Ok(summary) => {
            if arguments.json {
                println!(
                    "{}",
                    serde_json::to_string(&summary).unwrap_or_else(|_| "{}".to_owned())
                );
            } else {
                print_summary(&summary, &arguments);
            }
            0
        }
        Err(cause) => {
            if arguments.json {
                println!(
                    "{}",
                    serde_json::json!({ "finished": false, "stopped": cause })
                );
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
    let progress = Arc::new(Progress::new(None, arguments.json));
    if arguments.per_user {
        progress.say(
            "--per-user reads every user and each one's methods ($batch of 20): Microsoft advises \
             the registration report for large tenants; expect about 100 users a second, some \
             17 minutes per 100,000 users",
        );
    }
    let shown = Arc::clone(&progress);
    let mut sink = DirectorySink::create(
        &arguments.out,
        settings.cleanup_key.is_ok(),
        Box::new(move |pages, users, _| {
            shown.show(
                users,
                None,
                &format!("pages read {pages}, users classified {users}, at the reports limit one page of 999 every 2 s"),
            );
        }),
    )
    .map_err(|error| format!("could not write to {}: {error}", arguments.out.display()))?;
    let summary = scan(&graph, &protection, &settings, &mut sink)
        .await
        .map_err(|error| error.to_string())?;
    progress.finish();
    sink.finish(&summary)
        .map_err(|error| format!("could not write {READINESS_JSON}: {error}"))?;
    Ok(summary)
}

/// The handler's settings, with what a command run needs where the Functions host is absent:
/// no port, and the admin's own sign-in when no identity is configured.
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
    println!("{out}/{READINESS_CSV}, {out}/{READINESS_JSON}");
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
