//! The readiness benchmark: the real `readiness` command, in a process of its own, against a
//! simulated tenant of N users with a phone (100,000 by default) enforcing Graph's reports
//! limit (5 requests per 10 s) and the identity-and-access bucket of a large tenant; and
//! `--per-user` at M users (10,000 by default). It reports the scan's time against its floor
//! (pages of 999 at the reports limit), the throttled answers, the users per second, and the
//! command's peak memory (its rows are streamed to the files).
//!
//! ```sh
//! cargo bench --bench readiness                               # 100,000 and 10,000 users
//! cargo bench --bench readiness -- --users 10000 --per-user-users 2000
//! ```

mod support;

use std::time::{Duration, Instant};

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::{SimOptions, Simulator, Throttle};

/// Graph's page of the report, as the scan asks for it.
const PAGE: usize = 999;

fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    let number = |name: &str, default: usize| {
        arguments
            .iter()
            .position(|argument| argument == name)
            .and_then(|position| arguments.get(position + 1))
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let users = number("--users", 100_000);
    let per_user_users = number("--per-user-users", 10_000);
    let (runtime, prepared) = support::prepare();
    runtime.block_on(async move {
        let simulator = prepared.start_simulator(SimOptions {
            report_page_size: PAGE,
            throttle: Throttle {
                reports_window: Some((5, Duration::from_secs(10))),
                identity_bucket: Some((8_000.0, 800.0)),
                ..Throttle::default()
            },
            ..SimOptions::default()
        });
        fill(&simulator, users);
        println!(
            "| scan | users | time | floor | throttled answers | users per second | peak memory |"
        );
        println!("|---|---|---|---|---|---|---|");
        let pages = users.div_ceil(PAGE);
        let floor =
            Duration::from_secs(10) * u32::try_from(pages.saturating_sub(1) / 5).unwrap_or(0);
        measure(&simulator, "registration report", users, Some(floor), &[]).await;
        simulator.tenant(|tenant| *tenant = Default::default());
        fill(&simulator, per_user_users);
        measure(
            &simulator,
            "--per-user",
            per_user_users,
            None,
            &["--per-user"],
        )
        .await;
    });
}

/// `count` users, each with a mobile; every third also with a passkey (the clean-up reads
/// their phones), every fifth with Authenticator.
fn fill(simulator: &Simulator, count: usize) {
    simulator.tenant(|tenant| {
        for index in 0..count {
            let mut user = SimUser::member(&format!("user{index}@contoso.example"), "User");
            user.other_methods = match index % 15 {
                0 | 3 | 6 | 9 | 12 => vec!["fido2AuthenticationMethod".to_owned()],
                5 | 10 => vec!["microsoftAuthenticatorAuthenticationMethod".to_owned()],
                _ => Vec::new(),
            };
            let id = tenant.add_user(user);
            tenant.seed_phone_as_written(&id, PhoneType::Mobile, &format!("+49 17{index:08}"));
        }
    });
}

async fn measure(
    simulator: &Simulator,
    name: &str,
    users: usize,
    floor: Option<Duration>,
    extra: &[&str],
) {
    simulator.clear_requests();
    simulator.reset_throttle();
    let out = std::env::temp_dir().join(format!("mfa-readiness-bench-{}", uuid::Uuid::new_v4()));
    let started = Instant::now();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_mfa-phone-handler"))
        .arg("readiness")
        .arg("--out")
        .arg(&out)
        .arg("--json")
        .args(extra)
        .envs(simulator.handler_environment())
        .env("MFA_CLEANUP_KEY", "benchmark-cleanup-key-0123456789")
        .output()
        .await
        .expect("the command runs");
    let took = started.elapsed();
    let summary: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    let throttled = simulator
        .requests()
        .iter()
        .filter(|request| request.status == 429)
        .count();
    let floor = floor.map_or_else(|| "-".to_owned(), |floor| format!("{} s", floor.as_secs()));
    println!(
        "| {name} | {} of {users} | {:.1} s | {floor} | {throttled} | {:.0} | {} MiB |",
        summary["users"],
        took.as_secs_f64(),
        users as f64 / took.as_secs_f64(),
        children_peak_kib() / 1024
    );
    let _ = std::fs::remove_dir_all(out);
}

/// The largest peak resident size of the children that ended (the commands).
fn children_peak_kib() -> i64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_CHILDREN is a valid target.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &raw mut usage) } == 0 {
        usage.ru_maxrss
    } else {
        0
    }
}
