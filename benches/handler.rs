//! Benchmarks the real handler process: start-up, the read of user and methods (two concurrent
//! GETs against one `$batch`), invocation latency (with and without the `NotifyUser` mail),
//! throughput and memory.
//!
//! ```sh
//! cargo bench --bench handler
//! ```

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use mfa_phone_handler::graph::RetrySettings;
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::{SimOptions, Simulator};
use mfa_phone_handler::user::UserRef;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const HANDLER: &str = env!("CARGO_BIN_EXE_mfa-phone-handler");
/// The mailbox `NotifyUser` mails are sent from.
const SENDER: &str = "it-notify@contoso.com";
/// Rounds of add, update and remove in the sequential workloads.
const ROUNDS: usize = 100;

fn main() {
    let (runtime, prepared) = support::prepare();
    runtime.block_on(run(prepared));
}

async fn run(prepared: support::Prepared) {
    let simulator = prepared.start_simulator(SimOptions::default());
    let users: Vec<String> = simulator.tenant(|tenant| {
        (0..64)
            .map(|index| {
                tenant.add_user(SimUser::member(&format!("user{index}@contoso.com"), "User"))
            })
            .collect()
    });
    simulator.tenant(|tenant| tenant.add_user(SimUser::member(SENDER, "IT notifications")));
    let client = reqwest::Client::new();

    println!("## start-up (release binary, {HANDLER})");
    startup(&simulator, &client).await;

    println!("\n## reading the user and the phone methods: two concurrent GETs or one $batch");
    read_strategies(&simulator, &users[0]).await;

    println!(
        "\n## a user named by UPN: resolve the object id first, or read both by UPN and read a \
         guest's methods again by object id"
    );
    upn_strategies(&simulator).await;

    println!("\n## invocations through the handler process");
    invocations(&simulator, &client, &users).await;

    println!(
        "\n## with a protected group (break-glass) configured: the membership check, by object id \
         beside the first read, or for a user named by UPN after the directory named the id"
    );
    protected_group(&simulator, &client).await;
}

/// Measures a change by object id and by UPN where a protected group makes a membership check
/// necessary (as in every deployment that protects its break-glass accounts): the object id's check
/// goes beside the first read (two round trips), a UPN's waits for the object id (three).
async fn protected_group(simulator: &Simulator, client: &reqwest::Client) {
    let group = simulator.tenant(|tenant| {
        let breakglass = tenant.add_user(SimUser::member("breakglass@contoso.com", "Break glass"));
        tenant
            .directory
            .add_group("Break glass", &[breakglass.as_str()], false)
    });
    let user = simulator
        .tenant(|tenant| tenant.add_user(SimUser::member("upn.change@contoso.com", "UPN change")));
    let port = free_port();
    let mut child = spawn_with(
        simulator,
        port,
        &[("MFA_PROTECTED_GROUP_IDS", group.as_str())],
    );
    let url = format!("http://127.0.0.1:{port}");
    while client.get(format!("{url}/")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    simulator.configure(|options| options.latency = Duration::from_millis(30));
    println!("| workload | invocations | median | p99 | throughput |");
    println!("|---|---|---|---|---|");
    for (named, key) in [
        ("object id", user.as_str()),
        ("UPN", "upn.change@contoso.com"),
    ] {
        let mut times = Vec::new();
        let started = Instant::now();
        for round in 0..ROUNDS {
            for remove in [false, true] {
                let one = Instant::now();
                let answer = invoke(
                    client,
                    &url,
                    json!({"UserId": key, "phoneNumber": format!("+49 17312345{:02}", round % 100), "Remove": remove}),
                )
                .await;
                assert_eq!(answer["status"], "succeeded", "{answer}");
                times.push(one.elapsed());
            }
        }
        let total = started.elapsed();
        summarize(
            &format!("add/remove, user named by {named}, protected group, 30 ms Graph latency"),
            &mut times,
            total,
        );
    }
    simulator.configure(|options| options.latency = Duration::ZERO);
    let _ = child.kill().await;
}

async fn startup(simulator: &Simulator, client: &reqwest::Client) {
    let mut ready = Vec::new();
    let mut first_answer = Vec::new();
    for _ in 0..20 {
        let port = free_port();
        let started = Instant::now();
        let mut child = spawn(simulator, port, Stdio::null());
        let url = format!("http://127.0.0.1:{port}");
        // Poll GET / as the host does (it polls every 25 ms; we poll every 1 ms to measure).
        loop {
            if client.get(format!("{url}/")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        ready.push(started.elapsed());
        let answer = invoke(
            client,
            &url,
            json!({"UserId": "user0@contoso.com", "phoneNumber": "+49 1701234567", "dryRun": true}),
        )
        .await;
        assert_eq!(answer["status"], "succeeded", "{answer}");
        first_answer.push(started.elapsed());
        let _ = child.kill().await;
    }
    println!("| measure | median | p90 | max |");
    println!("|---|---|---|---|");
    row(
        "process start to GET / answered (ready for the host)",
        &mut ready,
    );
    row(
        "process start to the first invocation answered (token, numbering plan)",
        &mut first_answer,
    );
}

async fn read_strategies(simulator: &Simulator, user: &str) {
    let graph = support::graph_client(
        simulator,
        RetrySettings {
            max_attempts: 3,
            budget: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(10),
            token_wait: Duration::from_secs(5),
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(1),
        },
    );
    let user = UserRef::ObjectId(user.to_owned());
    println!(
        "| simulated latency per request | strategy | median | p90 | HTTP requests per read |"
    );
    println!("|---|---|---|---|---|");
    for latency in [
        Duration::ZERO,
        Duration::from_millis(30),
        Duration::from_millis(80),
    ] {
        simulator.configure(|options| options.latency = latency);
        for strategy in ["two concurrent GETs", "one $batch of two GETs"] {
            let mut times = Vec::new();
            simulator.clear_requests();
            for _ in 0..40 {
                let started = Instant::now();
                let (directory_user, methods) = match strategy {
                    "two concurrent GETs" => graph.user_and_phone_methods(&user).await,
                    _ => support::user_and_phone_methods_batched(&graph, &user).await,
                };
                assert!(directory_user.is_ok() && methods.is_ok());
                times.push(started.elapsed());
            }
            let requests = simulator
                .requests()
                .iter()
                .filter(|request| !request.in_batch && request.path != "/msi/token")
                .count();
            times.sort();
            println!(
                "| {} ms | {strategy} | {:.1} ms | {:.1} ms | {} |",
                latency.as_millis(),
                millis(times[times.len() / 2]),
                millis(times[times.len() * 9 / 10]),
                requests / 40
            );
        }
    }
    simulator.configure(|options| options.latency = Duration::ZERO);
}

/// Compares the two correct ways to read a user named by UPN, now that Graph's
/// authentication-methods endpoints answer 404 to a guest's UPN: (a) read the user, then the
/// methods by object id; (b) read the user and the methods by UPN at once, and for a guest (or a
/// failed methods read) the methods again by object id. The handler does (b).
async fn upn_strategies(simulator: &Simulator) {
    let member = "upn.member@contoso.com";
    let guest = "upn.guest_fabrikam.com#EXT#@contoso.com";
    simulator.tenant(|tenant| {
        tenant.add_user(SimUser::member(member, "Member"));
        tenant.add_user(SimUser::guest(guest, "Guest"));
    });
    let graph = support::graph_client(
        simulator,
        RetrySettings {
            max_attempts: 3,
            budget: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(10),
            token_wait: Duration::from_secs(5),
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(1),
        },
    );
    println!("| simulated latency per request | user | strategy | median | round trips |");
    println!("|---|---|---|---|---|");
    for latency in [Duration::from_millis(30), Duration::from_millis(80)] {
        simulator.configure(|options| options.latency = latency);
        for (kind, upn) in [("member", member), ("guest", guest)] {
            let name = UserRef::parse(upn).expect("a UPN");
            for strategy in ["resolve first", "both at once, guest again"] {
                let mut times = Vec::new();
                for _ in 0..30 {
                    let started = Instant::now();
                    let methods = match strategy {
                        "resolve first" => {
                            let user = graph.user(&name).await.expect("the user");
                            let id = UserRef::parse(&user.id).expect("an object id");
                            graph.phone_methods(&id).await
                        }
                        _ => {
                            let (user, methods) = graph.user_and_phone_methods(&name).await;
                            let user = user.expect("the user");
                            if user.guest || methods.is_err() {
                                let id = UserRef::parse(&user.id).expect("an object id");
                                graph.phone_methods(&id).await
                            } else {
                                methods
                            }
                        }
                    };
                    assert!(methods.is_ok(), "{kind}, {strategy}");
                    times.push(started.elapsed());
                }
                times.sort();
                let median = times[times.len() / 2];
                println!(
                    "| {} ms | {kind} | {strategy} | {:.1} ms | {:.1} |",
                    latency.as_millis(),
                    millis(median),
                    median.as_secs_f64() / latency.as_secs_f64()
                );
            }
        }
    }
    simulator.configure(|options| options.latency = Duration::ZERO);
}

async fn invocations(simulator: &Simulator, client: &reqwest::Client, users: &[String]) {
    let port = free_port();
    let mut child = spawn(simulator, port, Stdio::null());
    let pid = child.id().expect("running");
    let url = format!("http://127.0.0.1:{port}");
    while client.get(format!("{url}/")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!("| workload | invocations | median | p99 | throughput |");
    println!("|---|---|---|---|---|");
    for latency in [Duration::ZERO, Duration::from_millis(30)] {
        simulator.configure(|options| options.latency = latency);
        // Sequential set / update / remove cycles on one user take every path that writes; then
        // the same cycles run with the NotifyUser mail after each change.
        for notify in [false, true] {
            let mut times = Vec::new();
            let started = Instant::now();
            for round in 0..ROUNDS {
                for body in [
                    json!({"UserId": users[1], "phoneNumber": format!("+49 17012345{:02}", round % 100), "NotifyUser": notify}),
                    json!({"UserId": users[1], "phoneNumber": format!("+49 17112345{:02}", round % 100), "NotifyUser": notify}),
                    json!({"UserId": users[1], "phoneNumber": format!("+49 17112345{:02}", round % 100), "Remove": true, "NotifyUser": notify}),
                ] {
                    let one = Instant::now();
                    let answer = invoke(client, &url, body).await;
                    assert_eq!(answer["status"], "succeeded", "{answer}");
                    if notify {
                        assert_eq!(answer["notification"]["status"], "sent", "{answer}");
                    }
                    times.push(one.elapsed());
                }
            }
            let total = started.elapsed();
            summarize(
                &format!(
                    "sequential add/update/remove{}, {} ms Graph latency",
                    if notify { " with NotifyUser" } else { "" },
                    latency.as_millis()
                ),
                &mut times,
                total,
            );
        }
        // `show` reads the whole MFA picture without writing (one round trip).
        let mut times = Vec::new();
        let started = Instant::now();
        for _ in 0..3 * ROUNDS {
            let one = Instant::now();
            let answer = invoke(
                client,
                &url,
                json!({"UserId": users[2], "operation": "show"}),
            )
            .await;
            assert_eq!(answer["status"], "succeeded", "{answer}");
            assert_eq!(answer["action"], "none", "{answer}");
            times.push(one.elapsed());
        }
        let total = started.elapsed();
        summarize(
            &format!("sequential show, {} ms Graph latency", latency.as_millis()),
            &mut times,
            total,
        );
        // 64 users at once are each set, then removed.
        let mut times = Vec::new();
        let started = Instant::now();
        for round in 0..6 {
            let calls = users.iter().map(|user| {
                let body = json!({"UserId": user, "phoneNumber": format!("+49 1721234{:03}", round / 2), "Remove": round % 2 == 1});
                let client = client.clone();
                let url = url.clone();
                async move {
                    let one = Instant::now();
                    let answer = invoke(&client, &url, body).await;
                    assert_eq!(answer["status"], "succeeded", "{answer}");
                    one.elapsed()
                }
            });
            times.extend(futures_util::future::join_all(calls).await);
        }
        let total = started.elapsed();
        summarize(
            &format!(
                "64 users concurrently, {} ms Graph latency",
                latency.as_millis()
            ),
            &mut times,
            total,
        );
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .map(|line| {
                line.split_whitespace()
                    .skip(1)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| "n/a".to_owned())
    };
    println!(
        "\nhandler memory after {} invocations: resident {} (peak {})",
        2 * (3 * 3 * ROUNDS + 6 * 64),
        field("VmRSS:"),
        field("VmHWM:")
    );
    let binary = std::fs::metadata(HANDLER)
        .map(|metadata| metadata.len())
        .unwrap_or(0);
    println!(
        "binary size (this build, with the simulator feature): {:.1} MiB",
        binary as f64 / 1_048_576.0
    );
    let _ = child.kill().await;
}

fn spawn(simulator: &Simulator, port: u16, stdout: Stdio) -> Child {
    spawn_with_output(simulator, port, stdout, &[])
}

fn spawn_with(simulator: &Simulator, port: u16, settings: &[(&str, &str)]) -> Child {
    spawn_with_output(simulator, port, Stdio::null(), settings)
}

fn spawn_with_output(
    simulator: &Simulator,
    port: u16,
    stdout: Stdio,
    settings: &[(&str, &str)],
) -> Child {
    Command::new(HANDLER)
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .env("MFA_NOTIFY_SENDER", SENDER)
        .envs(simulator.handler_environment())
        .envs(settings.iter().copied())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the handler starts")
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

fn row(name: &str, times: &mut [Duration]) {
    times.sort();
    println!(
        "| {name} | {:.1} ms | {:.1} ms | {:.1} ms |",
        millis(times[times.len() / 2]),
        millis(times[times.len() * 9 / 10]),
        millis(times[times.len() - 1])
    );
}

fn summarize(name: &str, times: &mut [Duration], total: Duration) {
    times.sort();
    println!(
        "| {name} | {} | {:.2} ms | {:.2} ms | {:.0} per s |",
        times.len(),
        millis(times[times.len() / 2]),
        millis(times[times.len() * 99 / 100]),
        times.len() as f64 / total.as_secs_f64()
    );
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
