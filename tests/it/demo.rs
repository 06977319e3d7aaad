//! Checks the embedded default: `mfa-phone-handler demo` works as README says, on a machine with no
//! Azure at all, with Azurite and without it; the bulk example it prints runs as printed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use crate::helpers::ReportCsv;

/// A running demo: its process, its URL and the lines it printed until it was ready.
struct Demo {
    process: Child,
    url: String,
    printed: Vec<String>,
}

/// Starts the demo with Azurite at `azurite` (a path that does not exist starts
/// it without Azurite).
async fn demo(azurite: &Path) -> Demo {
    let mut process = crate::helpers::handler_command()
        .args(["demo", "--port", "0"])
        .env_remove("AZURE_CLIENT_SECRET")
        .env("MFA_AZURITE", azurite)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the demo starts");
    let mut lines = BufReader::new(process.stdout.take().expect("piped")).lines();
    let mut printed = Vec::new();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            printed.push(line.clone());
            if let Some(url) = line.strip_prefix("Demo ready at ") {
                return url.to_owned();
            }
        }
        panic!("the demo ended without getting ready: {printed:#?}");
    })
    .await
    .expect("the demo gets ready");
    // What it prints after "ready" (the bulk example, the queue's kind) comes at once.
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let last = line.starts_with("The queue is");
            printed.push(line);
            if last {
                break;
            }
        }
    })
    .await
    .expect("the demo says what its queue is");
    // Keep draining the demo's output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Demo {
        process,
        url,
        printed,
    }
}

/// Runs the printed bulk command that starts with `cargo run -- bulk` and contains `marker`,
/// and not `--dry-run`, with its report in a fresh directory, and returns the exit status
/// and report.csv's lines.
async fn run_printed_bulk(printed: &[String], marker: &str) -> (i32, ReportCsv) {
    let line = printed
        .iter()
        .map(|line| line.trim())
        .find(|line| {
            line.starts_with("cargo run -- bulk")
                && line.contains(marker)
                && !line.contains("--dry-run")
        })
        .unwrap_or_else(|| panic!("a bulk command with {marker}: {printed:#?}"));
    let mut arguments: Vec<String> = line
        .trim_start_matches("cargo run -- ")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let out: PathBuf = std::env::temp_dir().join(format!("mfa-demo-bulk-{}", uuid::Uuid::new_v4()));
    let at = arguments
        .iter()
        .position(|argument| argument == "--out")
        .expect("the printed command names --out");
    arguments[at + 1] = out.display().to_string();
    // It runs with --json, as a pipeline runs it: the summary is the one line on stdout. The
    // state's key goes beside the report, not in the profile of whoever runs the tests.
    arguments.push("--json".to_owned());
    arguments.extend([
        "--state-key".to_owned(),
        out.with_extension("key").display().to_string(),
    ]);
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        crate::helpers::handler_command()
            .args(&arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .output(),
    )
    .await
    .expect("the bulk run ends")
    .expect("the bulk command runs");
    let status = output.status.code().unwrap_or(-1);
    let summary: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(summary["exitStatus"], status, "{summary}");
    assert_eq!(
        summary["report"]["csv"],
        out.join("report.csv").display().to_string(),
        "{summary}"
    );
    assert_eq!(
        (
            summary["succeeded"].as_u64(),
            summary["failed"].as_u64(),
            summary["problems"].as_u64()
        ),
        (Some(3), Some(1), Some(1)),
        "the sample's totals: {summary}"
    );
    (status, ReportCsv::read(&out))
}

/// Checks the sample's outcomes, over HTTP or through the queue: the new guest and the number
/// change are done, the protected account is refused, and the number Excel mangled is skipped
/// with its line.
fn assert_the_samples_outcomes(status: i32, report: &ReportCsv) {
    assert_eq!(
        status, 1,
        "a row failed (the protected account): {report:#?}"
    );
    assert_eq!(report.header()[..2], ["line", "user"], "{report:#?}");
    assert_eq!(report.line(2).get("action"), "added", "{report:#?}");
    assert_eq!(report.line(3).get("action"), "updated", "{report:#?}");
    assert_eq!(
        report.line(5).get("errorCode"),
        "protectedUser",
        "{report:#?}"
    );
    assert_eq!(report.line(6).get("status"), "skipped", "{report:#?}");
    assert_eq!(
        report.line(6).get("user"),
        "diego.siciliani@contoso.example",
        "a skipped row names its user: {report:#?}"
    );
}

#[tokio::test]
async fn the_demo_serves_the_printed_commands_without_azurite() {
    let Demo {
        process: _running,
        url,
        printed,
    } = demo(Path::new("/nonexistent/azurite.js")).await;
    assert!(
        printed
            .iter()
            .any(|line| line.starts_with("The queue is in memory") && line.contains("npm install")),
        "without Azurite the demo says how to get it: {printed:#?}"
    );
    mfa_phone_handler::install_crypto_provider();
    let client = reqwest::Client::new();
    let call = |body: Value| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let response = client
                .post(format!("{url}/api/SetOrRemoveMobilePhoneMfa"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };

    let get = |address: String| {
        let client = client.clone();
        async move {
            let response = client.get(address).send().await.unwrap();
            response.json::<Value>().await.unwrap()
        }
    };

    let (status, set) = call(json!({"UserId": "adele.vance@contoso.example", "phoneNumber": "+49 1719876543", "CallerName": "demo"})).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["action"], "added");
    let shown = get(format!("{url}/_sim/users/adele.vance@contoso.example")).await;
    assert_eq!(shown["phoneMethods"][0]["phoneNumber"], "+49 1719876543");
    let (status, updated) = call(json!({"UserId": "adele.vance@contoso.example", "phoneNumber": "+44 7911123456", "NotifyUser": true})).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["notification"]["status"], "sent", "{updated}");
    let mail = get(format!("{url}/_sim/mail")).await;
    assert_eq!(mail[0]["to"][0], "adele.vance@contoso.example");
    assert_eq!(
        mail[0]["subject"],
        "Das Mobiltelefon Ihrer Anmeldemethoden wurde geändert"
    );
    let (status, removed) = call(json!({"UserId": "adele.vance@contoso.example", "phoneNumber": "+44 7911123456", "Remove": true})).await;
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed["action"], "removed");
    let (status, owner) =
        call(json!({"UserId": "isaiah.langer@contoso.example", "phoneNumber": "+49 1719876543"}))
            .await;
    assert_eq!(status, 403, "{owner}");
    assert_eq!(owner["error"]["code"], "protectedUser");
    assert!(
        owner["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("Contoso HR Provisioning")),
        "{owner}"
    );

    let queued = client
        .post(format!("{url}/queue/mfa-phone-requests"))
        .body(r#"{"UserId":"diego.siciliani@contoso.example","phoneNumber":"+49 1765550123","Remove":true,"requestId":"r-1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 201);
    let results = get(format!("{url}/queue/mfa-phone-results?min=1")).await;
    assert_eq!(results[0]["requestId"], "r-1");
    assert_eq!(results[0]["error"]["code"], "cannotDeleteDefaultMethod");

    let (status, report) = run_printed_bulk(&printed, "--skip-bad-rows").await;
    assert_the_samples_outcomes(status, &report);
}

/// With Azurite the demo's queue is a real storage queue, and the bulk example it prints for
/// the queue runs through it.
#[tokio::test]
async fn with_azurite_the_demos_queue_and_its_bulk_example_go_through_a_real_storage_queue() {
    use mfa_phone_handler::simulator::azurite::Azurite;
    let script = tokio::task::spawn_blocking(Azurite::install)
        .await
        .expect("the install task runs")
        .unwrap_or_else(|error| panic!("{error}"));
    let Demo {
        process: _running,
        url,
        printed,
    } = demo(&script).await;
    assert!(
        printed
            .iter()
            .any(|line| line.starts_with("The queue is a real storage queue, in Azurite")),
        "{printed:#?}"
    );
    mfa_phone_handler::install_crypto_provider();
    let client = reqwest::Client::new();
    let queued = client
        .post(format!("{url}/queue/mfa-phone-requests"))
        .body(r#"{"UserId":"adele.vance@contoso.example","phoneNumber":"+49 1719876543","requestId":"r-2"}"#)
        .send()
        .await
        .expect("the demo answers");
    assert_eq!(queued.status(), 201);
    let results: Value = client
        .get(format!("{url}/queue/mfa-phone-results?min=1"))
        .send()
        .await
        .expect("the demo answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(results[0]["requestId"], "r-2", "{results}");
    assert_eq!(results[0]["action"], "added", "{results}");

    let (status, report) = run_printed_bulk(&printed, "--queue").await;
    assert_the_samples_outcomes(status, &report);
}

/// Lists every process below `pid` (children, their children, …), from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut pending = vec![pid];
    while let Some(parent) = pending.pop() {
        let tasks = std::fs::read_dir(format!("/proc/{parent}/task"))
            .into_iter()
            .flatten();
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children
                .split_whitespace()
                .filter_map(|pid| pid.parse().ok())
            {
                found.push(child);
                pending.push(child);
            }
        }
    }
    found
}

/// Opens a handle on process `pid` that becomes readable when it has ended (pidfd_open), so that
/// the test waits for the event itself rather than polling.
fn end_of(pid: u32) -> tokio::io::unix::AsyncFd<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let pid = libc::pid_t::try_from(pid).expect("a pid");
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(
        fd >= 0,
        "pidfd_open({pid}): {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the descriptor was just opened and is owned by nobody else.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(i32::try_from(fd).expect("a descriptor")) };
    // SAFETY: the AsyncFd owns the descriptor, which stays open for its whole life.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(|error| error.to_string())
        .expect("the descriptor registers")
}

/// Starts the demo with Azurite, ends it with `signal`, and checks that the handler and the
/// Azurite it started end too.
async fn nothing_of_the_demo_runs_after(signal: libc::c_int) {
    use mfa_phone_handler::simulator::azurite::Azurite;
    let script = tokio::task::spawn_blocking(Azurite::install)
        .await
        .expect("the install task runs")
        .unwrap_or_else(|error| panic!("{error}"));
    let Demo { mut process, .. } = demo(&script).await;
    let pid = process.id().expect("the demo runs");
    let started = descendants(pid);
    assert_eq!(
        started.len(),
        2,
        "the demo runs the handler and Azurite: {started:?}"
    );
    let endings: Vec<_> = started
        .iter()
        .map(|child| (*child, end_of(*child)))
        .collect();
    // SAFETY: kill sends a signal to a process this test started.
    let sent = unsafe { libc::kill(libc::pid_t::try_from(pid).expect("a pid"), signal) };
    assert_eq!(sent, 0, "the signal is sent");
    let status = tokio::time::timeout(Duration::from_secs(30), process.wait())
        .await
        .expect("the demo ends")
        .expect("its status");
    {
        use std::os::unix::process::ExitStatusExt;
        match signal {
            // Killed outright, the demo has no chance to end anything itself.
            libc::SIGKILL => assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}"),
            // Asked to stop, the demo stops as after Ctrl-C.
            _ => assert!(status.success(), "{status:?}"),
        }
    }
    for (child, ending) in endings {
        let _ended = tokio::time::timeout(Duration::from_secs(30), ending.readable())
            .await
            .unwrap_or_else(|_| panic!("process {child} the demo started still runs"))
            .expect("the descriptor is readable");
    }
}

#[tokio::test]
async fn a_demo_killed_outright_leaves_nothing_of_it_running() {
    nothing_of_the_demo_runs_after(libc::SIGKILL).await;
}

#[tokio::test]
async fn a_demo_ended_by_sigterm_leaves_nothing_of_it_running() {
    nothing_of_the_demo_runs_after(libc::SIGTERM).await;
}
