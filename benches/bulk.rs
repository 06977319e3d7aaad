//! Benchmarks the bulk command: checking a file (time, and the peak memory of a process that checks
//! and plans it, at 10,000 and 1,000,000 rows); rows per second end to end over HTTP (the real
//! handler behind the miniature host, 30 ms per Graph request) at several of the handler's
//! concurrencies, and 10,000 rows by the whole command in a process of its own (time and peak
//! memory); through the queue (Azurite, 10,000 rows); and a run against Graph's write limit (3,000
//! writes per 2.5 minutes, scaled to the same rate over a shorter window; the command told that
//! limit with `--write-limit`), compared with the floor that limit sets, with the 429s Graph gave.
//!
//! ```sh
//! cargo bench --bench bulk
//! ```

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mfa_phone_handler::bulk::{self, options::Options};
use mfa_phone_handler::simulator::azurite::Azurite;
use mfa_phone_handler::simulator::host::{FunctionsHost, HostOptions};
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::{SimOptions, Simulator, Throttle};
use mfa_phone_handler::storage::StorageAccount;

const HANDLER: &str = env!("CARGO_BIN_EXE_mfa-phone-handler");
const LATENCY: Duration = Duration::from_millis(30);
/// A write limit that never holds the command back.
const UNPACED: &str = "1000000/1";

fn main() {
    // A child run (`bulk --peak FILE`) measures one check's peak memory.
    let arguments: Vec<String> = std::env::args().collect();
    if let Some(position) = arguments.iter().position(|argument| argument == "--peak") {
        let file = PathBuf::from(&arguments[position + 1]);
        let checked = bulk::check(&file, None, true).expect("the file checks");
        let schedule = bulk::schedule::Schedule::new(checked.operations).expect("a schedule");
        println!("{} {}", schedule.operations.len(), peak_kib());
        return;
    }
    // A child run of the whole command (`--peak-run FILE ARGUMENTS…`) measures its peak memory:
    // it prints the seconds it took and its peak.
    if let Some(position) = arguments
        .iter()
        .position(|argument| argument == "--peak-run")
    {
        mfa_phone_handler::install_crypto_provider();
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let rest = &arguments[position + 1..];
        let options = Options::parse(rest).expect("options");
        let endpoint = options.endpoint().expect("an endpoint");
        let started = Instant::now();
        let status = runtime.block_on(bulk::run(&options, &endpoint, std::future::pending()));
        assert_eq!(status, bulk::SUCCEEDED);
        println!("{} {}", started.elapsed().as_secs_f64(), peak_kib());
        return;
    }
    let (runtime, prepared) = support::prepare();
    runtime.block_on(run(prepared));
}

async fn run(prepared: support::Prepared) {
    let simulator = prepared.start_simulator(SimOptions {
        latency: LATENCY,
        ..SimOptions::default()
    });
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/bulk");
    std::fs::create_dir_all(&data).expect("a data directory");

    println!("## checking the file (every row read, checked and planned; nothing sent)");
    println!("| rows | time to check | rows per second | peak memory of the process |");
    println!("|---|---|---|---|");
    for rows in [10_000, 1_000_000] {
        let file = data.join(format!("check-{rows}.csv"));
        write_file(&file, "check", 0, rows);
        let started = Instant::now();
        let checked = bulk::check(&file, None, true).expect("checks");
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(checked.operations.len(), rows);
        drop(checked);
        let peak = std::process::Command::new(std::env::current_exe().expect("this bench"))
            .arg("--peak")
            .arg(&file)
            .output()
            .expect("the child run");
        let text = String::from_utf8_lossy(&peak.stdout);
        let kib: f64 = text
            .split_whitespace()
            .nth(1)
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(f64::NAN);
        println!(
            "| {rows} | {seconds:.2} s | {:.0} | {:.1} MiB |",
            rows as f64 / seconds,
            kib / 1024.0
        );
    }

    println!(
        "\n## end to end over HTTP ({} ms per Graph request; bulk --concurrency 64)",
        LATENCY.as_millis()
    );
    println!("| rows | the handler's MFA_MAX_CONCURRENT_USERS | seconds | rows per second |");
    println!("|---|---|---|---|");
    for (index, most) in [4, 16, 32].into_iter().enumerate() {
        let (_child, handler) = support::spawn_handler(
            HANDLER,
            &simulator,
            &[("MFA_MAX_CONCURRENT_USERS", most.to_string())],
        )
        .await;
        let host = FunctionsHost::start(&handler, HostOptions::default())
            .await
            .expect("the host");
        let endpoint = format!("{}/api/SetOrRemoveMobilePhoneMfa", host.url());
        let rows = 2_000;
        let prefix = format!("http{index}");
        add_users(&simulator, &prefix, rows);
        let file = data.join(format!("{prefix}.csv"));
        write_file(&file, &prefix, 1_000_000 * (index + 1), rows);
        // Graph's write limit is its own benchmark below: here the command does not pace.
        let (seconds, _) = timed_run(
            &file,
            &["--endpoint", &endpoint, "--write-limit", UNPACED],
            64,
        )
        .await;
        println!(
            "| {rows} | {most} | {seconds:.1} | {:.1} |",
            rows as f64 / seconds
        );
    }

    // The command runs 10,000 rows in a process of its own, which gives its time and
    // its peak memory.
    let (_child, handler) = support::spawn_handler(HANDLER, &simulator, &[]).await;
    let host = FunctionsHost::start(&handler, HostOptions::default())
        .await
        .expect("the host");
    let endpoint = format!("{}/api/SetOrRemoveMobilePhoneMfa", host.url());
    let rows = 10_000;
    add_users(&simulator, "whole", rows);
    let file = data.join("whole.csv");
    write_file(&file, "whole", 5_000_000, rows);
    let out = file.with_extension("report");
    let _ = std::fs::remove_dir_all(&out);
    let whole = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .arg("--peak-run")
        .arg(&file)
        .args(["--endpoint", &endpoint, "--write-limit", UNPACED])
        .args(["--concurrency", "32", "--out"])
        .arg(&out)
        .arg("--state-key")
        .arg(file.with_extension("key"))
        .output()
        .expect("the child run");
    let text = String::from_utf8_lossy(&whole.stdout);
    let mut numbers = text
        .split_whitespace()
        .filter_map(|number| number.parse::<f64>().ok());
    let (seconds, kib) = (
        numbers.next().unwrap_or(f64::NAN),
        numbers.next().unwrap_or(f64::NAN),
    );
    println!(
        "| {rows} (the whole command in a process of its own: {:.1} MiB peak) | 16 | {seconds:.1} | {:.1} |",
        kib / 1024.0,
        rows as f64 / seconds
    );

    println!(
        "\n## through the queue (Azurite; host.json's batch settings; one instance; bulk --concurrency 128, its default there)"
    );
    println!("| rows | seconds | rows per second |");
    println!("|---|---|---|");
    let script = Azurite::install().unwrap_or_else(|error| panic!("{error}"));
    let azurite = Azurite::start(&script).await.expect("Azurite");
    let storage = StorageAccount::new(azurite.account(), reqwest::Client::new(), None);
    let (_queued_child, queued_handler) = support::spawn_handler(
        HANDLER,
        &simulator,
        &[(
            "AzureWebJobsStorage",
            azurite.account().connection_string().expect("the key"),
        )],
    )
    .await;
    let queue_host = FunctionsHost::start(
        &queued_handler,
        HostOptions::default().with_storage(storage.clone()),
    )
    .await
    .expect("the host");
    let queue = format!(
        "{}/mfa-phone-requests",
        azurite
            .account()
            .queue
            .expect("a queue")
            .as_str()
            .trim_end_matches('/')
    );
    let rows = 10_000;
    add_users(&simulator, "queued", rows);
    let file = data.join("queued.csv");
    write_file(&file, "queued", 7_000_000, rows);
    let (seconds, _) = timed_run(&file, &["--queue", &queue, "--write-limit", UNPACED], 128).await;
    println!("| {rows} | {seconds:.1} | {:.1} |", rows as f64 / seconds);
    drop(queue_host);

    // Graph's 3,000 writes per 150 s is 20 writes a second; the same rate over a 15 s window
    // keeps the run short and the floor the same per row.
    let (limit, window) = (300, Duration::from_secs(15));
    let rate = limit as f64 / window.as_secs_f64();
    println!(
        "\n## against Graph's write limit ({limit} writes per {} s, Graph's 3,000 per 150 s rate)",
        window.as_secs()
    );
    println!(
        "| rows | --write-limit | rows ÷ rate | a sliding window's minimum | seconds | of the minimum | 429s Graph gave | rows failed |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    simulator.configure(|options| {
        options.throttle = Throttle {
            write_window: Some((limit, window)),
            ..Throttle::default()
        };
    });
    let rows: usize = 2_000;
    // Graph's floor is counted two ways: as people count it (rows at the limit's rate), and as
    // the least a sliding window allows: a window's worth at once, then the next each time a
    // window has passed.
    let at_rate = rows as f64 / rate;
    let floor = (rows.saturating_sub(1) / limit) as f64 * window.as_secs_f64();
    let told = format!("{limit}/{}", window.as_secs());
    for (name, write_limit) in [("told the limit", told.as_str()), ("not told", UNPACED)] {
        let prefix = if write_limit == UNPACED {
            "unpaced"
        } else {
            "paced"
        };
        add_users(&simulator, prefix, rows);
        let file = data.join(format!("{prefix}.csv"));
        write_file(&file, prefix, 8_000_000, rows);
        // Each run gets a fresh window, so that the run before does not count against this one.
        simulator.reset_throttle();
        simulator.clear_requests();
        let (seconds, failed) = timed_run(
            &file,
            &["--endpoint", &endpoint, "--write-limit", write_limit],
            16,
        )
        .await;
        let throttled = simulator
            .requests()
            .iter()
            .filter(|request| request.status == 429)
            .count();
        println!(
            "| {rows} | {name} ({write_limit}) | {at_rate:.0} s | {floor:.0} s | {seconds:.1} | {:.2} | {throttled} | {failed} |",
            seconds / floor
        );
    }
}

/// Runs the bulk command on `file` and returns the seconds it took and the rows that failed.
async fn timed_run(file: &Path, way_in: &[&str], concurrency: usize) -> (f64, usize) {
    let out = file.with_extension("report");
    let _ = std::fs::remove_dir_all(&out);
    let mut arguments = vec![
        file.display().to_string(),
        "--out".to_owned(),
        out.display().to_string(),
        "--concurrency".to_owned(),
        concurrency.to_string(),
        "--state-key".to_owned(),
        file.with_extension("key").display().to_string(),
    ];
    arguments.extend(way_in.iter().map(ToString::to_string));
    let options = Options::parse(&arguments).expect("options");
    let endpoint = options.endpoint().expect("an endpoint");
    let started = Instant::now();
    let status = bulk::run(&options, &endpoint, std::future::pending()).await;
    let seconds = started.elapsed().as_secs_f64();
    let report = std::fs::read_to_string(out.join("report.csv")).expect("the report");
    let failed = report
        .lines()
        .filter(|line| line.contains(",failed,"))
        .count();
    assert!(status == bulk::SUCCEEDED || failed > 0, "status {status}");
    (seconds, failed)
}

fn add_users(simulator: &Simulator, prefix: &str, rows: usize) {
    simulator.tenant(|tenant| {
        for index in 0..rows {
            tenant.add_user(SimUser::member(
                &format!("{prefix}{index}@contoso.com"),
                "User",
            ));
        }
    });
}

/// Writes a file of `rows` users, each given a mobile number.
fn write_file(path: &Path, prefix: &str, first_number: usize, rows: usize) {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("a file"));
    writeln!(file, "UserPrincipalName,Mobile").expect("written");
    for index in 0..rows {
        writeln!(
            file,
            "{prefix}{index}@contoso.com,+49 170 {:07}",
            (first_number + index) % 10_000_000
        )
        .expect("written");
    }
}

/// Reads this process's peak resident memory (VmHWM), in KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}
