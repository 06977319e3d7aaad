//! Benchmarks the real `readiness` command, in a process of its own, against a simulated tenant of
//! N users with a phone (100,000 by default) enforcing Graph's reports limit (5 requests per 10 s)
//! and the identity-and-access bucket of a large tenant; and `--per-user` at M users (10,000 by
//! default). It reports the scan's time against its floor (pages of 999 at the reports limit), the
//! throttled answers, the users per second, the projected `--per-user` time for 100,000 users, and
//! each command's own peak memory (its rows are streamed to the files).
//!
//! The sizes come from `--users N` and `--per-user-users M`, or from `READINESS_BENCH_USERS`
//! and `READINESS_BENCH_PER_USER_USERS` (an argument wins); 0 leaves that part out. Graph's
//! latency per request is `--latency-ms` (30 by default, as in the other benchmarks).
//!
//! ```sh
//! cargo bench --bench readiness                               # 100,000 and 10,000 users
//! cargo bench --bench readiness -- --users 10000 --per-user-users 2000
//! READINESS_BENCH_USERS=0 cargo bench --bench readiness       # --per-user only
//! ```

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::{SimOptions, Simulator, Throttle};

/// Graph's page of the report, as the scan asks for it.
const PAGE: usize = 999;
/// Graph's reports limit, which the simulator enforces.
const REPORTS_LIMIT: (usize, Duration) = (5, Duration::from_secs(10));
/// The identity-and-access bucket of a large tenant (more than 500 users): 8,000 resource
/// units per 10 s, i.e. 8,000 at most and 800 back each second.
const IDENTITY_BUCKET: (f64, f64) = (8_000.0, 800.0);
/// The size the `--per-user` projection is for.
const PROJECTED: usize = 100_000;

fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    let number = |name: &str, variable: &str, default: usize| {
        arguments
            .iter()
            .position(|argument| argument == name)
            .and_then(|position| arguments.get(position + 1))
            .cloned()
            .or_else(|| std::env::var(variable).ok())
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(default)
    };
    let users = number("--users", "READINESS_BENCH_USERS", 100_000);
    let per_user_users = number("--per-user-users", "READINESS_BENCH_PER_USER_USERS", 10_000);
    let latency = Duration::from_millis(
        u64::try_from(number("--latency-ms", "READINESS_BENCH_LATENCY_MS", 30)).unwrap_or(30),
    );
    let (runtime, prepared) = support::prepare();
    runtime.block_on(async move {
        let simulator = prepared.start_simulator(SimOptions {
            report_page_size: PAGE,
            latency,
            throttle: Throttle {
                reports_window: Some(REPORTS_LIMIT),
                identity_bucket: Some(IDENTITY_BUCKET),
                ..Throttle::default()
            },
            ..SimOptions::default()
        });
        println!(
            "Graph: the simulator, {} ms a request, reports {} per {} s, identity bucket {} RU \
             ({} a second)",
            latency.as_millis(),
            REPORTS_LIMIT.0,
            REPORTS_LIMIT.1.as_secs(),
            IDENTITY_BUCKET.0,
            IDENTITY_BUCKET.1
        );
        println!(
            "| scan | users | tenant built in | time | floor | time ÷ floor | throttled answers \
             | users per second | peak memory |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        if users > 0 {
            let built = fill(&simulator, users);
            let pages = users.div_ceil(PAGE);
            let floor = REPORTS_LIMIT.1
                * u32::try_from(pages.saturating_sub(1) / REPORTS_LIMIT.0).unwrap_or(u32::MAX);
            measure(
                &simulator,
                "registration report",
                users,
                built,
                Some(floor),
                &[],
            )
            .await;
        }
        if per_user_users > 0 {
            simulator.tenant(|tenant| *tenant = Default::default());
            let built = fill(&simulator, per_user_users);
            let measured = measure(
                &simulator,
                "--per-user",
                per_user_users,
                built,
                None,
                &["--per-user"],
            )
            .await;
            project(per_user_users, measured);
        }
    });
}

/// Prints the projected `--per-user` time for [`PROJECTED`] users: the rate measured, or the
/// identity bucket's refill, whichever is slower. Each user costs one resource unit (the methods),
/// each page of 999 users one more (the list, with `$select`); the bucket's capacity is spent once.
fn project(users: usize, took: Duration) {
    let rate = users as f64 / took.as_secs_f64();
    let units = PROJECTED as f64 + PROJECTED.div_ceil(PAGE) as f64;
    let bucket = ((units - IDENTITY_BUCKET.0) / IDENTITY_BUCKET.1).max(0.0);
    let measured = PROJECTED as f64 / rate;
    let (projected, binds) = if bucket > measured {
        (bucket, "the identity bucket's refill binds")
    } else {
        (measured, "the rate measured binds")
    };
    println!(
        "--per-user at {PROJECTED} users, projected: {projected:.0} s ({:.1} min; {binds}: at \
         the rate measured {measured:.0} s, at the bucket's refill {bucket:.0} s)",
        projected / 60.0
    );
}

/// Adds `count` users, each with a mobile, and returns how long that took. Every third also has
/// a passkey (the clean-up reads their phones), and every fifth has Authenticator.
fn fill(simulator: &Simulator, count: usize) -> Duration {
    let started = Instant::now();
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
    started.elapsed()
}

/// Runs the command once against the tenant as it is; prints its row and returns its time.
async fn measure(
    simulator: &Simulator,
    name: &str,
    users: usize,
    built: Duration,
    floor: Option<Duration>,
    extra: &[&str],
) -> Duration {
    simulator.clear_requests();
    simulator.reset_throttle();
    let out = std::env::temp_dir().join(format!("mfa-readiness-bench-{}", uuid::Uuid::new_v4()));
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mfa-phone-handler"));
    command
        .arg("readiness")
        .arg("--out")
        .arg(&out)
        .arg("--json")
        .args(extra)
        .envs(simulator.handler_environment())
        .env("MFA_CLEANUP_KEY", "benchmark-cleanup-key-0123456789");
    let started = Instant::now();
    let (stdout, peak_kib) = tokio::task::spawn_blocking(move || run(command))
        .await
        .expect("the command's waiter ends");
    let took = started.elapsed();
    let summary: serde_json::Value =
        serde_json::from_slice(&stdout).unwrap_or(serde_json::Value::Null);
    let requests = simulator.requests();
    let throttled = |reports: bool| {
        requests
            .iter()
            .filter(|request| {
                request.status == 429 && request.path.starts_with("/reports/") == reports
            })
            .count()
    };
    let report_requests = requests
        .iter()
        .filter(|request| request.path.starts_with("/reports/"))
        .count();
    // Five pages or fewer go out at once, so there is no floor to compare with.
    let (floor, ratio) = floor.filter(|floor| !floor.is_zero()).map_or_else(
        || ("-".to_owned(), "-".to_owned()),
        |floor| {
            (
                format!("{} s", floor.as_secs()),
                format!("{:.3}", took.as_secs_f64() / floor.as_secs_f64()),
            )
        },
    );
    println!(
        "| {name} | {} of {users} | {:.1} s | {:.1} s | {floor} | {ratio} | {} (reports {} of {} \
         requests, identity {}) | {:.0} | {:.1} MiB |",
        summary["users"],
        built.as_secs_f64(),
        took.as_secs_f64(),
        throttled(true) + throttled(false),
        throttled(true),
        report_requests,
        throttled(false),
        users as f64 / took.as_secs_f64(),
        peak_kib as f64 / 1024.0
    );
    if summary["users"].as_u64() != u64::try_from(users).ok() {
        println!(
            "  not every user classified: {} whose methods were not read; the command said: {}",
            summary["notCovered"]["unreadableMethods"],
            summary.get("stopped").unwrap_or(&serde_json::Value::Null)
        );
    }
    let _ = std::fs::remove_dir_all(out);
    took
}

/// Runs `command` to its end and returns its standard output and its own peak resident
/// size in KiB.
///
/// The peak is the kernel's high-water mark of the command's own memory (`VmHWM`), read while
/// it runs: `getrusage`'s `ru_maxrss` for a child would also count this process, whose memory
/// a child spawned with `vfork` shares until it starts the command (and the simulated tenant
/// lives here).
fn run(mut command: std::process::Command) -> (Vec<u8>, u64) {
    let binary = std::fs::canonicalize(command.get_program()).unwrap_or_default();
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the command starts");
    let mut stdout = child.stdout.take().expect("its standard output");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let status = format!("/proc/{}/status", child.id());
    let exe = format!("/proc/{}/exe", child.id());
    let mut peak = 0;
    while matches!(child.try_wait(), Ok(None)) {
        // The peak is read only once the command runs: before its exec the child is
        // still this process.
        if std::fs::read_link(&exe).is_ok_and(|running| running == binary) {
            peak = peak.max(high_water_kib(&status).unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (reader.join().unwrap_or_default(), peak)
}

/// Reads `VmHWM` of `/proc/PID/status`, in KiB.
fn high_water_kib(status: &str) -> Option<u64> {
    std::fs::read_to_string(status)
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
