//! Benchmarks the queue trigger through a real storage queue (Azurite) and the miniature host with
//! the deployed host.json: messages per second per instance; the latency a per-user lease adds to a
//! change, uncontended and with two instances at one user; how often the removal window bites two
//! instances without leases, and with them; start-up with and without a storage account.
//!
//! ```sh
//! cargo bench --bench queue
//! ```

mod support;

use std::time::{Duration, Instant};

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::azurite::Azurite;
use mfa_phone_handler::simulator::host::{FunctionsHost, HostOptions};
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::{SimOptions, Simulator};
use mfa_phone_handler::storage::StorageAccount;
use mfa_phone_handler::storage::queue::{Encoding, Queue};
use serde_json::{Value, json};

const HANDLER: &str = env!("CARGO_BIN_EXE_mfa-phone-handler");
const LATENCY: Duration = Duration::from_millis(30);
const OLD: &str = "+49 1701234567";
const NEW: &str = "+49 1709876543";

fn main() {
    let (runtime, prepared) = support::prepare();
    runtime.block_on(run(prepared));
}

async fn run(prepared: support::Prepared) {
    let simulator = prepared.start_simulator(SimOptions {
        latency: LATENCY,
        ..SimOptions::default()
    });
    let script = Azurite::install().unwrap_or_else(|error| panic!("{error}"));
    let client = reqwest::Client::new();

    println!("## start-up (release binary): process start to GET / answered");
    startup(&simulator, &script, &client).await;

    println!(
        "\n## messages per second, one instance, host.json's batch settings, {} ms per Graph request",
        LATENCY.as_millis()
    );
    throughput(&simulator, &script).await;

    println!(
        "\n## the latency a per-user lease adds to a change ({} ms per Graph request, Azurite on loopback)",
        LATENCY.as_millis()
    );
    lease_latency(&simulator, &script, &client).await;

    println!("\n## the removal window across two instances: removals and new numbers interleaved");
    window(&simulator, &script).await;
}

fn storage_settings(azurite: &Azurite) -> Vec<(&'static str, String)> {
    vec![(
        "AzureWebJobsStorage",
        azurite
            .account()
            .connection_string()
            .expect("Azurite's key"),
    )]
}

async fn startup(simulator: &Simulator, script: &std::path::Path, client: &reqwest::Client) {
    let azurite = Azurite::start(script).await.expect("Azurite");
    println!("| storage account | median | max |");
    println!("|---|---|---|");
    for (name, settings) in [
        ("none (serialised per instance)", Vec::new()),
        ("Azurite (per-user leases)", storage_settings(&azurite)),
    ] {
        let mut times = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            let (child, url) = support::spawn_handler(HANDLER, simulator, &settings).await;
            let _ = client.get(format!("{url}/")).send().await;
            times.push(started.elapsed());
            drop(child);
        }
        times.sort();
        println!(
            "| {name} | {:.1} ms | {:.1} ms |",
            millis(times[times.len() / 2]),
            millis(times[times.len() - 1])
        );
    }
}

async fn throughput(simulator: &Simulator, script: &std::path::Path) {
    println!("| leases | pass | messages | seconds | messages per second |");
    println!("|---|---|---|---|---|");
    for leases in [false, true] {
        let azurite = Azurite::start(script).await.expect("Azurite");
        let account = azurite.account();
        let storage = StorageAccount::new(account, reqwest::Client::new(), None);
        let mut settings = storage_settings(&azurite);
        settings.push(("MFA_USER_LEASES", leases.to_string()));
        let (_child, url) = support::spawn_handler(HANDLER, simulator, &settings).await;
        let users: Vec<String> = simulator.tenant(|tenant| {
            (0..400)
                .map(|index| {
                    tenant.add_user(SimUser::member(
                        &format!("throughput{index}-{leases}@contoso.com"),
                        "User",
                    ))
                })
                .collect()
        });
        let requests = Queue::new(&storage, "mfa-phone-requests", Encoding::None).expect("queue");
        requests.create_if_missing().await.expect("created");
        let host = FunctionsHost::start(&url, HostOptions::default().with_storage(storage.clone()))
            .await
            .expect("the host");
        // The first pass meets each user for the first time (with leases: its lease blob is
        // made); the second changes the same users again.
        for (pass, prefix) in [("first contact", 176), ("again", 177)] {
            let offset = if leases { 5_000_000 } else { 0 };
            let started = Instant::now();
            for (index, user) in users.iter().enumerate() {
                let number = format!("+49 {prefix}{:07}", offset + index);
                requests
                    .send(&json!({"UserId": user, "phoneNumber": number}).to_string())
                    .await
                    .expect("sent");
            }
            host.drained().await;
            let seconds = started.elapsed().as_secs_f64();
            let succeeded = host
                .results()
                .await
                .iter()
                .filter(|result| result["status"] == "succeeded")
                .count();
            assert!(succeeded >= users.len(), "{succeeded}");
            println!(
                "| {} | {pass} | {} | {seconds:.1} | {:.1} |",
                if leases { "on" } else { "off" },
                users.len(),
                users.len() as f64 / seconds
            );
        }
    }
}

async fn lease_latency(simulator: &Simulator, script: &std::path::Path, client: &reqwest::Client) {
    let azurite = Azurite::start(script).await.expect("Azurite");
    let (_plain, plain) = support::spawn_handler(HANDLER, simulator, &[]).await;
    let (_a, instance_a) =
        support::spawn_handler(HANDLER, simulator, &storage_settings(&azurite)).await;
    let (_b, instance_b) =
        support::spawn_handler(HANDLER, simulator, &storage_settings(&azurite)).await;
    let user =
        simulator.tenant(|tenant| tenant.add_user(SimUser::member("lease@contoso.com", "User")));
    println!("| change | median | p90 |");
    println!("|---|---|---|");
    for (name, url) in [
        ("without leases", &plain),
        ("with a lease, uncontended", &instance_a),
    ] {
        let mut times = Vec::new();
        for round in 0..60 {
            let number = if round % 2 == 0 {
                "+49 1751234567"
            } else {
                "+49 1759876543"
            };
            let started = Instant::now();
            let answer = invoke(client, url, json!({"UserId": user, "phoneNumber": number})).await;
            assert_eq!(answer["status"], "succeeded", "{answer}");
            times.push(started.elapsed());
        }
        row(name, &mut times);
    }
    // Two instances change the same user at the same moment: one waits for the other's lease.
    let mut first = Vec::new();
    let mut second = Vec::new();
    for round in 0..30 {
        let (a, b) = if round % 2 == 0 {
            (OLD, NEW)
        } else {
            (NEW, OLD)
        };
        let timed = |url: String, number: &'static str| {
            let client = client.clone();
            let user = user.clone();
            async move {
                let started = Instant::now();
                let answer = invoke(
                    &client,
                    &url,
                    json!({"UserId": user, "phoneNumber": number}),
                )
                .await;
                assert_eq!(answer["status"], "succeeded", "{answer}");
                started.elapsed()
            }
        };
        let (one, two) = tokio::join!(timed(instance_a.clone(), a), timed(instance_b.clone(), b));
        first.push(one.min(two));
        second.push(one.max(two));
    }
    row("two instances at one user: the first done", &mut first);
    row(
        "two instances at one user: the one that waited",
        &mut second,
    );
}

async fn window(simulator: &Simulator, script: &std::path::Path) {
    println!("| leases | users | new numbers a removal deleted |");
    println!("|---|---|---|");
    for leases in [false, true] {
        let azurite = Azurite::start(script).await.expect("Azurite");
        let storage = StorageAccount::new(azurite.account(), reqwest::Client::new(), None);
        let mut settings = storage_settings(&azurite);
        settings.push(("MFA_USER_LEASES", leases.to_string()));
        let (_a, instance_a) = support::spawn_handler(HANDLER, simulator, &settings).await;
        let (_b, instance_b) = support::spawn_handler(HANDLER, simulator, &settings).await;
        let users: Vec<String> = simulator.tenant(|tenant| {
            (0..200)
                .map(|index| {
                    let user = tenant.add_user(SimUser::member(
                        &format!("window{index}-{leases}@contoso.com"),
                        "User",
                    ));
                    tenant.seed_phone(&user, PhoneType::Mobile, OLD);
                    user
                })
                .collect()
        });
        let requests = Queue::new(&storage, "mfa-phone-requests", Encoding::None).expect("queue");
        requests.create_if_missing().await.expect("created");
        // Eight new numbers are sent, then the same eight users' removals of the old one, and so
        // on: host.json's batch of eight puts a user's new number and removal on different
        // instances at once, the new number a moment ahead (so the removal reads the old number
        // before the new one lands and deletes after).
        for chunk in users.chunks(8) {
            for user in chunk {
                let set = json!({"UserId": user, "phoneNumber": NEW});
                requests.send(&set.to_string()).await.expect("sent");
            }
            for user in chunk {
                let removal = json!({"UserId": user, "phoneNumber": OLD, "Remove": true});
                requests.send(&removal.to_string()).await.expect("sent");
            }
        }
        let options = || HostOptions::default().with_storage(storage.clone());
        let host_a = FunctionsHost::start(&instance_a, options())
            .await
            .expect("host A");
        let host_b = FunctionsHost::start(&instance_b, options())
            .await
            .expect("host B");
        host_a.drained().await;
        host_b.drained().await;
        let bitten = simulator.tenant(|tenant| {
            tenant
                .deletions()
                .iter()
                .filter(|(user, number)| users.contains(user) && number == NEW)
                .count()
        });
        println!(
            "| {} | {} | {bitten} |",
            if leases { "on" } else { "off" },
            users.len()
        );
    }
}

async fn invoke(client: &reqwest::Client, url: &str, parameters: Value) -> Value {
    let envelope = json!({"Data": {"req": {"Method": "POST", "Body": parameters.to_string()}}, "Metadata": {}});
    let answer: Value = client
        .post(format!("{url}/SetOrRemoveMobilePhoneMfa"))
        .json(&envelope)
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    serde_json::from_str(answer["Outputs"]["res"]["body"].as_str().expect("a body"))
        .expect("a report")
}

fn row(name: &str, times: &mut [Duration]) {
    times.sort();
    println!(
        "| {name} | {:.1} ms | {:.1} ms |",
        millis(times[times.len() / 2]),
        millis(times[times.len() * 9 / 10])
    );
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
