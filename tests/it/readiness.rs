//! Runs the readiness scan end to end: the real binary's `readiness` command against a simulated
//! tenant built to hold every category and date rule; the licence refusal and `--per-user`;
//! that it writes nothing to Graph; and the clean-up file's fingerprints.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use mfa_phone_handler::simulator::tenant::readiness::{
    PASSKEY_ALTERNATE, PASSKEY_MOBILE, ReadinessTenant, readiness_tenant,
};
use mfa_phone_handler::simulator::{SimOptions, Simulator};
use serde_json::Value;

use mfa_phone_handler::phone::PhoneType;
use serde_json::json;

use mfa_phone_handler::bulk::{self, options::Options};
use mfa_phone_handler::simulator::host::{FunctionsHost, HostOptions};

use crate::helpers::{FAST, Results, TestApp, handler_command, within};

/// A key of the length the Bicep generates.
pub const KEY: &str = "readiness-test-key-0123456789abcdef";

/// Makes a fresh directory for one scan's files.
fn scratch() -> PathBuf {
    let directory = std::env::temp_dir().join(format!("mfa-readiness-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&directory).expect("a scratch directory");
    directory
}

/// Starts a simulator holding the readiness tenant.
async fn tenant(options: SimOptions) -> (Simulator, ReadinessTenant) {
    let sim = Simulator::start(options).await.expect("simulator starts");
    let ids = sim.tenant(readiness_tenant);
    (sim, ids)
}

/// Runs `readiness --out DIR --json` and `extra` with the handler's environment, and returns its
/// exit status and the JSON it printed.
pub async fn run_scan(
    sim: &Simulator,
    out: &Path,
    settings: &[(&str, &str)],
    extra: &[&str],
) -> (i32, Value) {
    let mut command = handler_command();
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(sim.handler_environment())
        .envs(FAST)
        .envs(settings.iter().copied())
        .arg("readiness")
        .arg("--out")
        .arg(out)
        .arg("--json")
        .args(extra)
        .stdin(Stdio::null());
    let output = within("the scan", command.output()).await.expect("it runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "one JSON object on stdout, got {stdout:?}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), json)
}

/// Reads the rows of a CSV file the scan wrote, by their first column.
pub fn rows(path: &Path) -> HashMap<String, HashMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("the file");
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().expect("a header").clone();
    let mut found = HashMap::new();
    for record in reader.records() {
        let record = record.expect("a row");
        let row: HashMap<String, String> = headers
            .iter()
            .zip(record.iter())
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        found.insert(record[0].to_owned(), row);
    }
    found
}

fn settings(ids: &ReadinessTenant) -> Vec<(&'static str, String)> {
    vec![
        ("MFA_CLEANUP_KEY", KEY.to_owned()),
        ("MFA_PROTECTED_GROUP_IDS", ids.protected_group.clone()),
    ]
}

fn as_pairs<'a>(settings: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    settings
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

#[tokio::test]
async fn every_category_and_date_comes_out_of_a_tenant_built_for_them_and_nothing_is_written() {
    let (sim, ids) = tenant(SimOptions::default()).await;
    let out = scratch();
    let settings = settings(&ids);
    let (status, summary) = run_scan(&sim, &out, &as_pairs(&settings), &[]).await;
    assert_eq!(status, 0, "{summary}");
    let rows = rows(&out.join("readiness.csv"));
    let expect = |id: &str, category: &str, date: &str| {
        let row = rows
            .get(id)
            .unwrap_or_else(|| panic!("{id} is in readiness.csv: {rows:#?}"));
        assert_eq!(row["category"], category, "{row:#?}");
        assert_eq!(row["affectedFrom"], date, "{row:#?}");
        row
    };
    expect(&ids.member_phone_only, "phoneOnly", "2027-02-01");
    let admin = expect(&ids.active_admin, "phoneOnly", "2027-07-01");
    assert_eq!(admin["protected"], "yes");
    expect(&ids.admin_through_group, "phoneOnly", "2027-07-01");
    let eligible = expect(&ids.eligible_admin, "phoneOnly", "2027-02-01");
    assert!(eligible["reason"].contains("eligible"), "{eligible:#?}");
    let external = expect(&ids.external_guest, "phoneOnly", "2027-07-01");
    assert_eq!(external["userType"], "externalGuest");
    let internal = expect(&ids.internal_guest, "phoneOnly", "2027-02-01");
    assert_eq!(internal["userType"], "internalGuest");
    expect(&ids.other_mfa, "phoneAndOtherMfa", "");
    let passkey = expect(&ids.passkey, "phoneAndPhishingResistant", "");
    assert_eq!(passkey["protected"], "no");
    assert_eq!(passkey["phoneTypes"], "mobile;alternateMobile");
    let protected = expect(&ids.protected_passkey, "phoneAndPhishingResistant", "");
    assert_eq!(protected["protected"], "yes");
    let excluded = expect(&ids.excluded, "phoneNotEnabled", "");
    assert!(
        excluded["reason"].contains("neither SMS nor voice"),
        "{excluded:#?}"
    );
    let office = expect(&ids.office_only, "phoneNotEnabled", "");
    assert!(
        office["reason"].contains("isOfficePhoneAllowed"),
        "{office:#?}"
    );
    let unknown = expect(&ids.unknown_method, "phoneOnly", "2027-02-01");
    assert_eq!(unknown["unknownMethods"], "qrCodePin");
    let excluded_app = expect(&ids.authenticator_excluded, "phoneOnly", "2027-02-01");
    assert!(
        excluded_app["reason"].contains("microsoftAuthenticator"),
        "{excluded_app:#?}"
    );
    assert!(
        !rows.contains_key(&ids.disabled),
        "the report leaves disabled users out"
    );
    // No number may appear anywhere in the files.
    for file in ["readiness.csv", "readiness.json", "cleanup.csv"] {
        let text = std::fs::read_to_string(out.join(file)).expect("written");
        assert!(!text.contains("170111"), "{file} names no number");
    }
    // The summary is checked next, and the file written must hold the same users.
    assert_eq!(summary["categories"]["phoneOnly"], 8, "{summary}");
    assert_eq!(summary["affectedFrom"]["2027-07-01"], 3, "{summary}");
    assert_eq!(summary["affectedFrom"]["2027-02-01"], 5, "{summary}");
    assert_eq!(summary["unknownMethods"]["qrCodePin"], 1, "{summary}");
    assert_eq!(summary["reportRefreshedAt"], "2026-12-07T06:00:00Z");
    assert!(
        summary["notCovered"]["disabledNote"]
            .as_str()
            .is_some_and(|note| note.contains("disabled")),
        "{summary}"
    );
    let written: Value =
        serde_json::from_slice(&std::fs::read(out.join("readiness.json")).expect("written"))
            .expect("JSON");
    assert_eq!(written["users"], summary["users"]);
    // The clean-up lists the passkey user's alternate mobile, then their mobile, and nobody else.
    let cleanup = std::fs::read_to_string(out.join("cleanup.csv")).expect("written");
    let lines: Vec<&str> = cleanup.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{cleanup}");
    assert!(lines[0].starts_with(&format!("{},alternateMobile,remove,hs256:", ids.passkey)));
    assert!(lines[1].starts_with(&format!("{},mobile,remove,hs256:", ids.passkey)));
    let key = mfa_phone_handler::phone::CleanupKey::new(KEY).expect("a key");
    assert!(lines[0].contains(&key.fingerprint(PASSKEY_ALTERNATE)));
    assert!(lines[1].contains(&key.fingerprint(PASSKEY_MOBILE)));
    // The scan only reads: nothing is written, every batch item is a GET, and the report is
    // filtered on the server.
    let requests = sim.requests();
    assert!(
        requests.iter().all(|request| !request.is_write()),
        "{requests:#?}"
    );
    assert!(
        requests
            .iter()
            .filter(|request| request.in_batch)
            .all(|request| request.method == "GET")
    );
    let report = requests
        .iter()
        .find(|request| request.path.ends_with("/userRegistrationDetails"))
        .expect("the report is read");
    let filter = report
        .query
        .iter()
        .find(|(name, _)| name == "$filter")
        .map(|(_, value)| value.as_str());
    assert_eq!(
        filter,
        Some(
            "methodsRegistered/any(m:m eq 'mobilePhone') or methodsRegistered/any(m:m eq \
             'alternateMobilePhone') or methodsRegistered/any(m:m eq 'officePhone')"
        )
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn without_the_licence_the_scan_stops_naming_it_and_per_user_gives_the_same_categories() {
    let (sim, ids) = tenant(SimOptions {
        licensed: false,
        ..SimOptions::default()
    })
    .await;
    let settings = settings(&ids);
    let refused = scratch();
    let (status, answer) = run_scan(&sim, &refused, &as_pairs(&settings), &[]).await;
    assert_eq!(status, 2, "{answer}");
    assert_eq!(answer["exitStatus"], 2, "{answer}");
    assert_eq!(answer["finished"], false, "{answer}");
    assert_eq!(answer["mode"], "scan", "{answer}");
    let stopped = answer["stopped"].as_str().unwrap_or_default();
    assert!(
        stopped.contains("P1 or P2") && stopped.contains("--per-user"),
        "{answer}"
    );
    let out = scratch();
    let (status, summary) = run_scan(&sim, &out, &as_pairs(&settings), &["--per-user"]).await;
    assert_eq!(status, 0, "{summary}");
    assert_eq!(summary["exitStatus"], 0, "{summary}");
    assert_eq!(summary["command"], "readiness", "{summary}");
    let written: Vec<&str> = summary["files"]
        .as_array()
        .map(|files| files.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for name in ["readiness.csv", "readiness.json", "readiness.html"] {
        let path = out.join(name);
        assert!(
            written.contains(&path.to_string_lossy().as_ref()) && path.is_file(),
            "{name} written and named: {summary}"
        );
    }
    assert_eq!(summary["source"], "perUser");
    assert_eq!(summary["notCovered"]["disabledUsers"], 1, "{summary}");
    let per_user = rows(&out.join("readiness.csv"));
    let licensed_out = scratch();
    sim.configure(|options| options.licensed = true);
    let (_, _) = run_scan(&sim, &licensed_out, &as_pairs(&settings), &[]).await;
    let from_report = rows(&licensed_out.join("readiness.csv"));
    assert_eq!(per_user.len(), from_report.len());
    for (id, row) in &from_report {
        let other = &per_user[id];
        for column in ["category", "affectedFrom", "protected", "userType"] {
            assert_eq!(row[column], other[column], "{id} {column}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn without_the_key_there_is_no_cleanup_file_and_the_summary_says_why() {
    let (sim, ids) = tenant(SimOptions::default()).await;
    let out = scratch();
    std::fs::write(out.join("cleanup.csv"), "an old file").expect("written");
    let groups = [("MFA_PROTECTED_GROUP_IDS", ids.protected_group.as_str())];
    let (status, summary) = run_scan(&sim, &out, &groups, &[]).await;
    assert_eq!(status, 0, "{summary}");
    assert!(
        !out.join("cleanup.csv").exists(),
        "an old file is not left to be taken for this one"
    );
    assert_eq!(summary["cleanup"]["written"], false);
    assert!(
        summary["cleanup"]["note"]
            .as_str()
            .is_some_and(|note| note.contains("MFA_CLEANUP_KEY")),
        "{summary}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_number_changed_between_the_scan_and_the_cleanup_is_left_and_the_scanned_one_removed() {
    let ids = std::sync::Arc::new(std::sync::Mutex::new(None));
    let kept = ids.clone();
    let app = TestApp::builder()
        .env("MFA_CLEANUP_KEY", KEY)
        .prepare(move |sim| {
            *kept.lock().expect("the ids") = Some(sim.tenant(readiness_tenant));
        })
        .spawn()
        .await;
    let ids = ids.lock().expect("the ids").clone().expect("the tenant");
    let out = scratch();
    // The scan is its own process with the same settings as the handler.
    let (status, summary) = run_scan(&app.sim, &out, &[("MFA_CLEANUP_KEY", KEY)], &[]).await;
    assert_eq!(status, 0, "{summary}");
    let cleanup = std::fs::read_to_string(out.join("cleanup.csv")).expect("written");
    let mut reader = csv::Reader::from_reader(cleanup.trim_start_matches('\u{feff}').as_bytes());
    let removals: Vec<csv::StringRecord> = reader
        .records()
        .map(|record| record.expect("a row"))
        .filter(|record| record[0] == ids.passkey)
        .collect();
    assert_eq!(removals.len(), 2, "{cleanup}");
    // Someone registers a new mobile number for Paula after the scan.
    app.sim.tenant(|tenant| {
        tenant.seed_phone(&ids.passkey, PhoneType::Mobile, "+49 1709990001");
    });
    // The clean-up is carried out as the README says: with bulk, through the HTTP trigger.
    let host = FunctionsHost::start(&app.handler, HostOptions::default())
        .await
        .expect("the host starts");
    let report = scratch();
    let options = Options::parse(&[
        out.join("cleanup.csv").display().to_string(),
        "--endpoint".to_owned(),
        format!("{}/api/SetOrRemoveMobilePhoneMfa", host.url()),
        "--out".to_owned(),
        report.display().to_string(),
    ])
    .expect("the options");
    let endpoint = options.endpoint().expect("an endpoint");
    let status = within(
        "the bulk run ends",
        bulk::run(&options, &endpoint, std::future::pending()),
    )
    .await;
    let outcomes = std::fs::read_to_string(report.join("report.csv")).expect("report.csv");
    assert_eq!(status, 1, "one row failed: {outcomes}");
    assert!(outcomes.contains("numberMismatch"), "{outcomes}");
    let phones = app.phones(&ids.passkey);
    assert_eq!(
        phones.len(),
        1,
        "the alternate mobile the scan saw is gone: {phones:?}"
    );
    assert_eq!(phones[0].0, PhoneType::Mobile);
    assert!(
        phones[0].1.contains("1709990001"),
        "the new mobile is left: {phones:?}"
    );
    // A fingerprint that is not one is refused before anything is read.
    let malformed = app
        .call(
            json!({"UserId": &ids.passkey, "phoneType": "mobile", "Remove": true,
                      "numberFingerprint": "+49 1709990001"}),
        )
        .await;
    assert_eq!(malformed.status, 400, "{}", malformed.report);
}

#[tokio::test]
async fn a_handler_without_the_key_removes_nothing_a_fingerprint_names() {
    let ids = std::sync::Arc::new(std::sync::Mutex::new(None));
    let kept = ids.clone();
    let app = TestApp::builder()
        .prepare(move |sim| {
            *kept.lock().expect("the ids") = Some(sim.tenant(readiness_tenant));
        })
        .spawn()
        .await;
    let ids = ids.lock().expect("the ids").clone().expect("the tenant");
    let key = mfa_phone_handler::phone::CleanupKey::new(KEY).expect("a key");
    let answer = app
        .call(
            json!({"UserId": &ids.passkey, "phoneType": "mobile", "Remove": true,
                      "numberFingerprint": key.fingerprint(PASSKEY_MOBILE)}),
        )
        .await;
    assert_eq!(answer.error_code(), "numberMismatch", "{}", answer.report);
    assert!(
        answer.report.to_string().contains("MFA_CLEANUP_KEY"),
        "{}",
        answer.report
    );
    assert_eq!(app.phones(&ids.passkey).len(), 2, "nothing removed");
}

#[tokio::test]
async fn a_fully_migrated_telephony_provider_unblocks_and_a_partly_migrated_one_does_not() {
    use mfa_phone_handler::simulator::tenant::policy::SimProvider;
    let (sim, ids) = tenant(SimOptions::default()).await;
    let settings = settings(&ids);
    sim.tenant(|tenant| {
        tenant.policy.sms_provider = Some(SimProvider {
            migration_percentage: 100,
            evaluation_mode: false,
        });
        tenant.policy.voice_provider = Some(SimProvider {
            migration_percentage: 40,
            evaluation_mode: false,
        });
    });
    let out = scratch();
    let (status, summary) = run_scan(&sim, &out, &as_pairs(&settings), &[]).await;
    assert_eq!(status, 0, "{summary}");
    let found = rows(&out.join("readiness.csv"));
    let member = &found[&ids.member_phone_only];
    assert_eq!(member["category"], "phoneOnly");
    assert_eq!(member["affectedFrom"], "", "{member:#?}");
    assert!(
        member["reason"].contains("own telephony provider"),
        "{member:#?}"
    );
    assert!(
        summary["affectedFrom"]["notBlocked"].as_u64() > Some(0),
        "{summary}"
    );
    // Voice alone is left, partly migrated: the user is still blocked.
    sim.tenant(|tenant| tenant.policy.sms_provider = None);
    let again = scratch();
    let (_, _) = run_scan(&sim, &again, &as_pairs(&settings), &[]).await;
    let found = rows(&again.join("readiness.csv"));
    let member = &found[&ids.member_phone_only];
    assert_eq!(member["affectedFrom"], "2027-02-01", "{member:#?}");
    assert!(member["reason"].contains("partly migrated"), "{member:#?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_scan_follows_every_page_within_the_reports_limit_without_being_throttled() {
    use mfa_phone_handler::simulator::Throttle;
    let (sim, ids) = tenant(SimOptions {
        report_page_size: 4,
        throttle: Throttle {
            reports_window: Some((5, std::time::Duration::from_secs(10))),
            ..Throttle::default()
        },
        ..SimOptions::default()
    })
    .await;
    let settings = settings(&ids);
    let out = scratch();
    let (status, summary) = run_scan(&sim, &out, &as_pairs(&settings), &[]).await;
    assert_eq!(status, 0, "{summary}");
    // 13 enabled users have a phone; at 4 a page, that makes 4 pages, within one window of 5.
    assert_eq!(summary["pages"], 4, "{summary}");
    assert_eq!(summary["users"], 13, "{summary}");
    let reports: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|request| request.path.ends_with("/userRegistrationDetails"))
        .collect();
    assert_eq!(reports.len(), 4);
    assert!(
        reports.iter().all(|request| request.status == 200),
        "no 429"
    );
    sim.shutdown().await;
}

/// Graph throttles `--per-user`'s `$batch` items five times in a row, naming no wait: they are
/// asked again after a back-off that every read shares, a second at least, until read. (When they
/// were asked again at once, five times in all, they were left unread: at 100,000 users under a
/// large tenant's bucket, 3,983 users.)
#[tokio::test]
async fn per_user_reads_every_users_methods_when_graph_throttles_the_items_five_times() {
    use mfa_phone_handler::simulator::{FaultAction, FaultRule};
    let (sim, ids) = tenant(SimOptions::default()).await;
    let settings = settings(&ids);
    let (enabled, with_phone) = sim.tenant(|tenant| {
        let enabled: Vec<_> = tenant.users().filter(|user| user.account_enabled).collect();
        let with_phone = enabled
            .iter()
            .filter(|user| !user.phones().is_empty())
            .count();
        (enabled.len(), with_phone)
    });
    sim.inject(FaultRule::new(
        Some("GET"),
        "/authentication/methods$",
        enabled * 5,
        FaultAction::Respond {
            status: 429,
            code: "TooManyRequests",
            retry_after: Some("0".to_owned()),
        },
    ));
    let out = scratch();
    let (status, summary) = run_scan(&sim, &out, &as_pairs(&settings), &["--per-user"]).await;
    assert_eq!(status, 0, "{summary}");
    assert_eq!(summary["notCovered"]["unreadableMethods"], 0, "{summary}");
    assert_eq!(
        summary["users"].as_u64(),
        u64::try_from(with_phone).ok(),
        "{summary}"
    );
    assert_eq!(rows(&out.join("readiness.csv")).len(), with_phone);
    // The same items are asked in six rounds, each a second or more after the one before.
    let mut asked: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|request| request.in_batch && request.path.ends_with("/authentication/methods"))
        .map(|request| request.started)
        .collect();
    asked.sort();
    assert_eq!(asked.len(), enabled * 6);
    let pauses = asked
        .windows(2)
        .filter(|pair| pair[1] - pair[0] >= std::time::Duration::from_secs(1))
        .count();
    assert_eq!(
        pauses, 5,
        "a pause of a second before each round asked again"
    );
    sim.shutdown().await;
}

/// The dashboard is checked as headless Chromium builds it: the totals, one bar per category and
/// date, the groups in scope, the first blocked users, and nothing fetched from anywhere.
#[tokio::test]
async fn the_dashboard_shows_the_totals_the_chart_and_the_blocked_users_in_a_browser() {
    let (sim, ids) = tenant(SimOptions::default()).await;
    let settings = settings(&ids);
    let out = scratch();
    let (status, summary) = run_scan(&sim, &out, &as_pairs(&settings), &[]).await;
    assert_eq!(status, 0, "{summary}");
    let page = out.join("readiness.html");
    let dom = crate::helpers::dump_dom(&page).await;
    assert!(dom.contains(r#"<b id="total-users">13</b>"#), "{dom}");
    assert!(dom.contains(r#"<b id="total-february">5</b>"#), "{dom}");
    assert!(dom.contains(r#"<b id="total-july">3</b>"#), "{dom}");
    assert!(
        dom.contains(r#"data-label="phoneOnly" data-count="8""#),
        "{dom}"
    );
    assert!(
        dom.contains(r#"data-label="phoneOnly from 2027-07-01" data-count="3""#),
        "{dom}"
    );
    let groups = dom
        .split(r#"<table id="groups">"#)
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .expect("the groups in scope");
    assert!(
        groups.contains("All users") && groups.contains("<td>8</td>"),
        "{groups}"
    );
    let blocked = dom
        .split(r#"<table id="blocked">"#)
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .expect("the blocked users");
    assert!(blocked.contains("ada.phone@contoso.example"), "{blocked}");
    assert!(!blocked.contains("otto.other"), "only the blocked");
    assert!(
        !dom.contains("src=") && !dom.contains("href="),
        "nothing fetched"
    );
    sim.shutdown().await;
}

/// On the command line the trend continues from the `readiness.json` an earlier scan left in
/// `--out`: the first scan is one point, the second (after a `phoneOnly` user registered a
/// passkey) two, with their counts, in the summary and on the page.
#[tokio::test]
async fn a_second_scan_into_the_same_directory_continues_the_phone_only_trend() {
    let (sim, ids) = tenant(SimOptions::default()).await;
    let out = scratch();
    let settings = settings(&ids);

    let (status, first) = run_scan(&sim, &out, &as_pairs(&settings), &[]).await;
    assert_eq!(status, 0, "{first}");
    let before = first["categories"]["phoneOnly"].as_u64().expect("a count");
    assert_eq!(
        first["phoneOnlyTrend"],
        json!([{"scannedAt": first["scannedAt"], "phoneOnly": before}])
    );
    sim.tenant(|tenant| {
        tenant.update_user(&ids.member_phone_only, |user| {
            user.other_methods
                .push("fido2AuthenticationMethod".to_owned());
        })
    });
    let (status, second) = run_scan(&sim, &out, &as_pairs(&settings), &[]).await;

    assert_eq!(status, 0, "{second}");
    assert_eq!(
        second["phoneOnlyTrend"],
        json!([
            {"scannedAt": first["scannedAt"], "phoneOnly": before},
            {"scannedAt": second["scannedAt"], "phoneOnly": before - 1},
        ])
    );
    let page = std::fs::read_to_string(out.join("readiness.html")).expect("the page");
    assert!(
        page.contains(&format!("data-phone-only=\"{}\"", before - 1)),
        "{page}"
    );
    assert!(page.contains("2 scans from"), "{page}");
    sim.shutdown().await;
}
