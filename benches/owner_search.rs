//! Benchmarks the owner search: our search against the runbook's pattern, on the same simulated
//! tenant, in the same run.
//!
//! The tenant has N users with a registered mobile phone (50,000 by default); the holder of the
//! conflicting number is the last user in scan order. Two scenarios:
//!
//! 1. latency only: every Graph request takes 30 ms (a `$batch` is one request, its items served
//!    in parallel), no throttling;
//! 2. Graph's documented limits, same latency: the identity-and-access bucket of a large tenant
//!    (8,000 resource units per 10 s, one unit per GET item) and the reports limit (5 requests
//!    per 10 s).
//!
//! The runbook's pattern reads the whole registration report first, then one `$batch` of 20 at a
//! time, retrying throttled items after their `Retry-After`. Ours is the product's
//! `OwnerSearch`. Both use the product's Graph client and the managed identity credential.
//!
//! ```sh
//! cargo bench --bench owner_search                       # 50,000 users, both scenarios
//! cargo bench --bench owner_search -- --users 2000 --scenario latency --strategy ours
//! ```

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mfa_phone_handler::graph::{
    CandidateList, GraphClient, GraphError, GraphErrorKind, RetrySettings,
};
use mfa_phone_handler::outcome::Outcome;
use mfa_phone_handler::owner::{OwnerSearch, OwnerSearchSettings};
use mfa_phone_handler::phone::{PhoneNumber, PhoneType};
use mfa_phone_handler::report::Trigger;
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::{SimOptions, Simulator, Throttle};
use mfa_phone_handler::user::UserRef;

const HELD: &str = "+49 1701234567";

struct Arguments {
    users: usize,
    latency: Duration,
    page_size: usize,
    scenarios: Vec<Scenario>,
    strategies: Vec<&'static str>,
}

#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    Latency,
    Limits,
}

struct Measurement {
    found: bool,
    wall: Duration,
    requests: usize,
    batch_items: usize,
    throttled: usize,
    waited_correctly: bool,
}

fn main() {
    let arguments = parse_arguments();
    let (runtime, prepared) = support::prepare();
    runtime.block_on(run(arguments, prepared));
}

async fn run(arguments: Arguments, prepared: support::Prepared) {
    let simulator = prepared.start_simulator(SimOptions {
        report_page_size: arguments.page_size,
        ..SimOptions::default()
    });
    let started = Instant::now();
    let target = simulator.tenant(|tenant| {
        let target = tenant.add_user(SimUser::member("target@contoso.com", "Target"));
        for index in 0..arguments.users.saturating_sub(1) {
            let id = tenant.add_user(SimUser::member(&format!("user{index}@contoso.com"), "User"));
            tenant.seed_phone(
                &id,
                PhoneType::Mobile,
                &format!("+49 15{:09}", 100_000_000 + index),
            );
        }
        let holder = tenant.add_user(SimUser::member("holder@contoso.com", "Holder"));
        tenant.seed_phone(&holder, PhoneType::Mobile, HELD);
        target
    });
    println!(
        "tenant: {} users with a mobile phone, holder last; report pages of {}; {} ms per request \
         (seeded in {:.1} s)",
        arguments.users,
        arguments.page_size,
        arguments.latency.as_millis(),
        started.elapsed().as_secs_f64()
    );
    let graph = support::graph_client(
        &simulator,
        RetrySettings {
            max_attempts: 10,
            budget: Duration::from_secs(120),
            attempt_timeout: Duration::from_secs(30),
            token_wait: Duration::from_secs(5),
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(8),
        },
    );
    let number = PhoneNumber::parse(HELD).expect("a valid number");
    let target = UserRef::ObjectId(target);

    println!();
    println!(
        "| scenario | strategy | wall time | Graph requests | batch items | 429s | holder found | every 429 waited |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for scenario in &arguments.scenarios {
        let throttle = match scenario {
            Scenario::Latency => Throttle::default(),
            Scenario::Limits => Throttle {
                identity_bucket: Some((8000.0, 800.0)),
                reports_window: Some((5, Duration::from_secs(10))),
                write_window: Some(Throttle::GRAPH_WRITES),
            },
        };
        let name = match scenario {
            Scenario::Latency => "1: latency only",
            Scenario::Limits => "2: documented limits",
        };
        let mut results = Vec::new();
        for strategy in arguments.strategies.iter().copied() {
            // Each strategy gets a fresh bucket and window.
            simulator.reset_throttle();
            simulator.configure(|options| {
                options.latency = arguments.latency;
                options.throttle = throttle.clone();
            });
            simulator.clear_requests();
            let started = Instant::now();
            let found = match strategy {
                "ours" => ours(&graph, &number, &target).await,
                _ => runbook(&graph, &number).await,
            };
            let wall = started.elapsed();
            let measurement = measure(&simulator, found, wall);
            println!(
                "| {name} | {strategy} | {:.1} s | {} | {} | {} | {} | {} |",
                measurement.wall.as_secs_f64(),
                measurement.requests,
                measurement.batch_items,
                measurement.throttled,
                if measurement.found { "yes" } else { "NO" },
                if measurement.waited_correctly {
                    "yes"
                } else {
                    "NO"
                },
            );
            results.push(measurement);
        }
        if results.len() == 2 {
            let speedup = results[1].wall.as_secs_f64() / results[0].wall.as_secs_f64();
            println!("| {name} | ours vs runbook | {speedup:.1}x faster | | | | | |");
        }
        if *scenario == Scenario::Limits && arguments.strategies.contains(&"ours") {
            let items = arguments.users as f64;
            let bucket_bound = items / 800.0;
            println!(
                "| {name} | bucket bound (items / 800 per s) | {bucket_bound:.1} s | ours at {:.2}x | | | | |",
                results[0].wall.as_secs_f64() / bucket_bound
            );
        }
    }
}

async fn ours(graph: &GraphClient, number: &PhoneNumber, target: &UserRef) -> bool {
    let search = OwnerSearch::new(OwnerSearchSettings {
        enabled: true,
        budget: Duration::from_secs(900),
        max_batches_in_flight: 16,
        remember_for: Duration::ZERO,
    });
    let mut outcome = Outcome::new(Trigger::Http, Some("bench".to_owned()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
    let owner = search
        .search(graph, number, target, deadline, &mut outcome)
        .await;
    owner.is_some_and(|owner| owner.user_principal_name.as_deref() == Some("holder@contoso.com"))
}

/// Searches as the runbook does: every report page first, then one `$batch` at a time, in slices
/// of 500; throttled items are asked again after the longest `Retry-After`.
async fn runbook(graph: &GraphClient, number: &PhoneNumber) -> bool {
    let mut users = Vec::new();
    let mut next = Some(graph.registration_report_url());
    while let Some(url) = next {
        let page = graph
            .candidate_page(CandidateList::RegistrationReport, url)
            .await
            .expect("a report page");
        users.extend(page.users);
        next = page.next;
    }
    for slice in users.chunks(500) {
        let mut found = false;
        for chunk in slice.chunks(20) {
            let mut pending: Vec<usize> = (0..chunk.len()).collect();
            while !pending.is_empty() {
                let users: Vec<UserRef> = pending
                    .iter()
                    .map(|index| UserRef::ObjectId(chunk[*index].id.clone()))
                    .collect();
                let answers = graph.batch_phone_methods(&users).await.expect("a batch");
                let mut throttled = Vec::new();
                let mut wait = Duration::ZERO;
                for (position, answer) in answers {
                    match answer {
                        Ok(methods) => {
                            found |= methods.iter().any(|method| number.matches(&method.number));
                        }
                        Err(GraphError {
                            kind:
                                GraphErrorKind::Unavailable {
                                    throttled: true,
                                    retry_after,
                                    ..
                                },
                            ..
                        }) => {
                            throttled.push(pending[position]);
                            wait = wait.max(retry_after.unwrap_or(Duration::from_secs(1)));
                        }
                        Err(_) => {}
                    }
                }
                if !throttled.is_empty() {
                    tokio::time::sleep(wait).await;
                }
                pending = throttled;
            }
        }
        if found {
            return true;
        }
    }
    false
}

fn measure(simulator: &Simulator, found: bool, wall: Duration) -> Measurement {
    let requests = simulator.requests();
    let outer = requests
        .iter()
        .filter(|request| !request.in_batch && request.path != "/msi/token")
        .count();
    let items: Vec<_> = requests.iter().filter(|request| request.in_batch).collect();
    let throttled = requests
        .iter()
        .filter(|request| request.status == 429)
        .count();
    // Every throttled item was asked again only after its Retry-After.
    let mut last_429: HashMap<&str, (Duration, tokio::time::Instant)> = HashMap::new();
    let mut waited_correctly = true;
    for item in &items {
        if let Some((wait, at)) = last_429.remove(item.path.as_str())
            && item.started < at + wait
        {
            waited_correctly = false;
        }
        if item.status == 429 {
            let wait = item
                .retry_after
                .as_deref()
                .and_then(|value| value.parse::<f64>().ok())
                .unwrap_or(0.0);
            last_429.insert(item.path.as_str(), (Duration::from_secs_f64(wait), item.at));
        }
    }
    Measurement {
        found,
        wall,
        requests: outer,
        batch_items: items.len(),
        throttled,
        waited_correctly,
    }
}

fn parse_arguments() -> Arguments {
    let mut arguments = Arguments {
        users: 50_000,
        latency: Duration::from_millis(30),
        page_size: 1000,
        scenarios: vec![Scenario::Latency, Scenario::Limits],
        strategies: vec!["ours", "runbook"],
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut index = 0;
    while index < raw.len() {
        let value = raw.get(index + 1).cloned().unwrap_or_default();
        match raw[index].as_str() {
            "--users" => arguments.users = value.parse().expect("--users N"),
            "--latency-ms" => {
                arguments.latency = Duration::from_millis(value.parse().expect("--latency-ms N"))
            }
            "--page-size" => arguments.page_size = value.parse().expect("--page-size N"),
            "--strategy" => {
                arguments.strategies = match value.as_str() {
                    "ours" => vec!["ours"],
                    "runbook" => vec!["runbook"],
                    _ => vec!["ours", "runbook"],
                }
            }
            "--scenario" => {
                arguments.scenarios = match value.as_str() {
                    "latency" => vec![Scenario::Latency],
                    "limits" => vec![Scenario::Limits],
                    _ => vec![Scenario::Latency, Scenario::Limits],
                }
            }
            // cargo bench passes --bench; ignore anything else without a value.
            _ => {
                index += 1;
                continue;
            }
        }
        index += 2;
    }
    arguments
}
