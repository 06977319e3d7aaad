//! Runs the bulk command end to end: a CSV as Excel writes it, sent through the miniature host's
//! HTTP trigger to the real handler against the simulated tenant; each test asserts what the
//! tenant holds afterwards, the exit status and what the report says.

use std::path::{Path, PathBuf};

use mfa_phone_handler::bulk::{self, endpoint::Endpoint, options::Options};
use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::host::{FunctionsHost, HostOptions};
use mfa_phone_handler::simulator::tenant::SimUser;
use mfa_phone_handler::simulator::tenant::directory::GLOBAL_ADMINISTRATOR;
use mfa_phone_handler::storage::queue::{Encoding, Queue};
use serde_json::{Value, json};

use crate::helpers::{ReportCsv, TestApp, within};

const GA: &str = "0e2a7f8c-3d51-4c7b-9a6e-5f4b3c2d1e0f";

/// Starts a tenant where ga@contoso.com holds Global Administrator (a protected account).
async fn with_a_global_administrator() -> TestApp {
    TestApp::builder()
        .prepare(|sim| {
            sim.tenant(|tenant| {
                tenant.add_user(SimUser::member("ga@contoso.com", "GA").with_id(GA));
                tenant.directory.assign(GA, GLOBAL_ADMINISTRATOR);
            });
        })
        .spawn()
        .await
}

/// Makes a fresh directory for one test's file and report.
fn scratch() -> PathBuf {
    let directory = std::env::temp_dir().join(format!("mfa-bulk-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&directory).expect("a scratch directory");
    directory
}

/// Writes `text` as Excel's "CSV UTF-8" does: a BOM and CRLF line ends.
fn excel_csv(directory: &Path, text: &str) -> PathBuf {
    let path = directory.join("users.csv");
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(text.replace('\n', "\r\n").as_bytes());
    std::fs::write(&path, bytes).expect("written");
    path
}

fn options(file: &Path, host: &FunctionsHost, extra: &[&str]) -> Options {
    let mut arguments = vec![
        file.display().to_string(),
        "--endpoint".to_owned(),
        format!("{}/api/SetOrRemoveMobilePhoneMfa", host.url()),
        "--out".to_owned(),
        file.parent().expect("a directory").display().to_string(),
    ];
    arguments.extend(extra.iter().map(ToString::to_string));
    parse(&arguments).expect("the options")
}

/// Starts the miniature host's HTTP trigger in front of `app`'s handler.
async fn http_host(app: &TestApp) -> FunctionsHost {
    FunctionsHost::start(&app.handler, HostOptions::default())
        .await
        .expect("the host starts")
}

/// Returns the request queue's URL in `storage` (Azurite's path-style address).
fn request_queue_url(storage: &mfa_phone_handler::storage::StorageAccount) -> String {
    let service = storage.settings().queue.as_ref().expect("a queue endpoint");
    format!(
        "{}/mfa-phone-requests",
        service.as_str().trim_end_matches('/')
    )
}

/// Parses the options as the command line gives them, with a state key of the test's own
/// beside (not inside) the output directory: there is one per directory, so that a second run
/// of a test resumes.
fn parse(arguments: &[String]) -> Result<Options, String> {
    let mut arguments = arguments.to_vec();
    if let Some(out) = arguments
        .iter()
        .position(|argument| argument == "--out")
        .and_then(|index| arguments.get(index + 1))
    {
        let key = format!("{}.key/bulk-state.key", out.trim_end_matches('/'));
        arguments.extend(["--state-key".to_owned(), key]);
    }
    Options::parse(&arguments)
}

async fn run(options: &Options) -> u8 {
    let endpoint: Endpoint = options.endpoint().expect("an endpoint");
    within(
        "the bulk run ends",
        bulk::run(options, &endpoint, std::future::pending()),
    )
    .await
}

#[tokio::test]
async fn a_spreadsheet_ends_in_every_rows_outcome_in_the_tenant_and_the_report() {
    let app = with_a_global_administrator().await;
    let hire = app.add_member("new.hire@contoso.com");
    let mover = app.add_member("mover@contoso.com");
    app.seed_phone(&mover, PhoneType::Mobile, "+49 1701234567");
    let both = app.add_member("both@contoso.com");
    let host = http_host(&app).await;
    let directory = scratch();
    // German Excel separates the fields with semicolons; the alternate mobile's row comes
    // before the mobile's.
    let file = excel_csv(
        &directory,
        "UPN;Mobile;AlternateMobile;Department\n\
         new.hire@contoso.com;+49 170 1111111;;Sales\n\
         both@contoso.com;;+49 170 3333333;IT\n\
         mover@contoso.com;+49 170 2222222;;HR\n\
         both@contoso.com;+49 170 4444444;;IT\n\
         ga@contoso.com;+49 170 5555555;;Board\n",
    );

    let status = run(&options(&file, &host, &[])).await;

    assert_eq!(status, bulk::ROW_FAILED, "the administrator's row failed");
    assert_eq!(app.phones(&hire)[0].1, "+49 1701111111");
    assert_eq!(app.phones(&mover)[0].1, "+49 1702222222");
    let phones: Vec<(PhoneType, String)> = app
        .phones(&both)
        .into_iter()
        .map(|(phone_type, number, _)| (phone_type, number))
        .collect();
    assert_eq!(
        phones,
        [
            (PhoneType::Mobile, "+49 1704444444".to_owned()),
            (PhoneType::AlternateMobile, "+49 1703333333".to_owned())
        ],
        "the mobile was set first, whatever the rows' order"
    );
    assert!(app.phones(GA).is_empty(), "protected");
    let rows = ReportCsv::read(&directory);
    assert_eq!(
        rows.len(),
        5,
        "one line per row and type, in the file's delimiter"
    );
    assert_eq!(rows.line(2).get("status"), "succeeded");
    assert_eq!(rows.line(2).get("action"), "added");
    assert_eq!(rows.line(4).get("action"), "updated");
    assert_eq!(
        rows.line(2).get("number"),
        "'+49 ********11",
        "masked, and text in Excel"
    );
    assert_eq!(rows.line(6).get("status"), "failed");
    assert_eq!(rows.line(6).get("errorCode"), "protectedUser");
    let page = std::fs::read_to_string(directory.join("report.html")).expect("report.html");
    assert!(page.contains("protectedUser"));
    assert!(!page.contains("5555555"), "numbers masked on the page");
    assert!(
        !page.contains("<script") && !page.contains("http"),
        "self-contained: {page}"
    );
}

#[tokio::test]
async fn a_file_with_problems_sends_nothing_and_names_each_line_and_column() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    app.add_member("bob@contoso.com");
    let host = http_host(&app).await;
    let directory = scratch();
    let file = excel_csv(
        &directory,
        "UserPrincipalName,Mobile\n\
         adele@contoso.com,+49 170 1111111\n\
         bob@contoso.com,4.91701E+11\n\
         not a user,+49 170 2222222\n",
    );

    let status = run(&options(&file, &host, &[])).await;

    assert_eq!(status, bulk::NOTHING_SENT);
    assert!(
        app.writes().is_empty(),
        "nothing written while a problem remains"
    );
    assert!(app.phones(&user).is_empty());
    let checked = bulk::check(&file, None, true).expect("read");
    let problems: Vec<String> = checked.problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("line 3, column B (Mobile): Excel turned"),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("line 4, column A (UserPrincipalName)"),
        "{problems:?}"
    );

    let status = run(&options(&file, &host, &["--skip-bad-rows"])).await;
    assert_eq!(status, bulk::ROW_FAILED, "rows were skipped");
    assert_eq!(
        app.phones(&user)[0].1,
        "+49 1701111111",
        "the good row was sent"
    );
    let rows = ReportCsv::read(&directory);
    let statuses: Vec<(&str, &str)> = rows
        .rows()
        .iter()
        .map(|row| (row.get("line"), row.get("status")))
        .collect();
    assert_eq!(
        statuses,
        [("2", "succeeded"), ("3", "skipped"), ("4", "skipped")],
        "the skipped rows are in the report, in file order"
    );
    assert!(
        rows.rows()[1].get("message").contains("Excel turned"),
        "{:?}",
        rows.rows()[1]
    );
}

#[tokio::test]
async fn one_user_and_type_given_two_numbers_is_a_problem_and_skipping_it_sends_the_rest() {
    let app = TestApp::spawn().await;
    let adele = app.add_member("adele@contoso.com");
    let bob = app.add_member("bob@contoso.com");
    let host = http_host(&app).await;
    let directory = scratch();
    let file = excel_csv(
        &directory,
        "UPN,Mobile\n\
         adele@contoso.com,+49 170 1111111\n\
         bob@contoso.com,+49 170 2222222\n\
         ADELE@contoso.com,+49 170 3333333\n",
    );

    let status = run(&options(&file, &host, &[])).await;
    assert_eq!(status, bulk::NOTHING_SENT);
    assert!(app.writes().is_empty(), "nothing sent while it remains");

    let status = run(&options(&file, &host, &["--skip-bad-rows"])).await;

    assert_eq!(status, bulk::ROW_FAILED, "rows were skipped");
    assert_eq!(app.phones(&bob)[0].1, "+49 1702222222", "the rest was sent");
    assert!(
        app.phones(&adele).is_empty(),
        "which of adele's numbers is meant cannot be told"
    );
    let rows = ReportCsv::read(&directory);
    let statuses: Vec<(&str, &str)> = rows
        .rows()
        .iter()
        .map(|row| (row.get("line"), row.get("status")))
        .collect();
    assert_eq!(
        statuses,
        [("2", "skipped"), ("3", "succeeded"), ("4", "skipped")]
    );
    assert!(
        rows.rows()[2]
            .get("message")
            .starts_with("line 4, column B (Mobile): ")
            && rows.rows()[2].get("message").contains("line 2"),
        "the later row's line and column, and the earlier line: {:?}",
        rows.rows()[2]
    );
}

/// Skipping a bad row holds back the same user's other rows: one user's rows run in the file's
/// order, and the skipped row's place in it (here: a second mobile, which one is meant?) would
/// be lost.
#[tokio::test]
async fn skipping_a_bad_row_holds_back_the_same_users_other_rows() {
    let app = TestApp::spawn().await;
    let adele = app.add_member("adele@contoso.com");
    let bob = app.add_member("bob@contoso.com");
    let host = http_host(&app).await;
    let directory = scratch();
    let file = excel_csv(
        &directory,
        "UPN,Mobile,OfficePhone\n\
         adele@contoso.com,+49 170 1111111,12\n\
         bob@contoso.com,+49 170 2222222,\n\
         adele@contoso.com,+49 170 3333333,\n",
    );

    let status = run(&options(&file, &host, &["--skip-bad-rows"])).await;

    assert_eq!(status, bulk::ROW_FAILED, "rows were skipped");
    assert_eq!(app.phones(&bob)[0].1, "+49 1702222222", "the rest was sent");
    assert!(app.phones(&adele).is_empty(), "none of adele's rows ran");
    let rows = ReportCsv::read(&directory);
    let statuses: Vec<(&str, &str, &str)> = rows
        .rows()
        .iter()
        .map(|row| (row.get("line"), row.get("user"), row.get("status")))
        .collect();
    assert_eq!(
        statuses,
        [
            ("2", "adele@contoso.com", "skipped"),
            ("3", "bob@contoso.com", "succeeded"),
            ("4", "adele@contoso.com", "skipped")
        ]
    );
    assert!(
        rows.rows()[2].get("message").contains("held back: line 2"),
        "the row it waits for: {:?}",
        rows.rows()[2]
    );
}

#[tokio::test]
async fn a_dry_run_plans_every_row_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let host = http_host(&app).await;
    let directory = scratch();
    let file = excel_csv(
        &directory,
        "UPN\tMobile\nadele@contoso.com\t+49 170 1111111\n",
    );

    let status = run(&options(&file, &host, &["--dry-run"])).await;

    assert_eq!(status, bulk::SUCCEEDED);
    assert!(app.writes().is_empty());
    assert!(app.phones(&user).is_empty());
    let text = std::fs::read_to_string(directory.join("report.csv")).expect("report.csv");
    assert!(
        text.contains(r#","added","#),
        "a comma report for a tab file: {text}"
    );
    assert!(
        !directory.join("bulk-state.jsonl").exists(),
        "a dry run leaves no state a real run would take for done"
    );
}

#[tokio::test]
async fn an_interrupted_run_goes_on_where_it_stopped_without_sending_a_settled_row_again() {
    let app = TestApp::spawn().await;
    let mut text = String::from("UPN,Mobile\n");
    let mut users = Vec::new();
    for index in 0..30 {
        let upn = format!("user{index}@contoso.com");
        users.push(app.add_member(&upn));
        text.push_str(&format!("{upn},+49 170 10000{index:02}\n"));
    }
    let host = http_host(&app).await;
    let directory = scratch();
    let file = excel_csv(&directory, &text);
    let options = options(&file, &host, &["--concurrency", "2"]);
    let endpoint = options.endpoint().expect("an endpoint");

    // The run is stopped (as by Ctrl-C) once ten numbers are in the tenant.
    let mut arrivals = app.sim.request_arrived();
    let stop = async {
        while app.writes().len() < 10 {
            arrivals.changed().await.expect("the simulator runs");
        }
    };
    let first = within("the first run stops", bulk::run(&options, &endpoint, stop)).await;
    assert_eq!(first, bulk::ROW_FAILED, "stopped before every row");
    let written_first = app.writes().len();
    assert!(
        written_first < 30,
        "{written_first} written before the stop"
    );

    let second = within(
        "the second run ends",
        bulk::run_summarised(&options, &endpoint, std::future::pending()),
    )
    .await;

    assert_eq!(second.exit_status, bulk::SUCCEEDED);
    assert!(
        second.settled_earlier >= written_first.saturating_sub(2),
        "the rows the first run settled are not sent again: {second:?}"
    );
    assert_eq!(second.succeeded, 30, "{second:?}");
    for (index, user) in users.iter().enumerate() {
        assert_eq!(app.phones(user)[0].1, format!("+49 17010000{index:02}"));
    }
    assert_eq!(
        app.writes().len(),
        30,
        "one write per row, across both runs"
    );
    let state = std::fs::read_to_string(directory.join("bulk-state.jsonl")).expect("the state");
    let mut sent = std::collections::HashMap::<String, usize>::new();
    for line in state.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("JSON lines");
        if let Some(id) = entry["sent"]["requestId"].as_str() {
            *sent.entry(id.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(sent.len(), 30);
    let twice = sent.values().filter(|count| **count > 1).count();
    assert!(
        twice <= 2,
        "only rows in flight at the stop (two users side by side) go again: {twice}"
    );
    let rows = ReportCsv::read(&directory);
    assert_eq!(rows.len(), 30);
    assert!(
        rows.rows()
            .iter()
            .all(|row| row.get("status") == "succeeded"),
        "{rows:?}"
    );
    // A row sent again is answered with its first answer (the handler keeps it by requestId),
    // so every row reports what was done to it, not "unchanged".
    assert!(
        rows.rows().iter().all(|row| row.get("action") == "added"),
        "{rows:?}"
    );
}

#[tokio::test]
async fn through_the_queue_every_row_ends_in_its_result_and_other_producers_results_stay() {
    let azurite = crate::helpers::azurite().await;
    let storage = crate::helpers::storage_of(&azurite);
    let app = TestApp::spawn().await;
    let users: Vec<String> = (0..6)
        .map(|index| app.add_member(&format!("queued{index}@contoso.com")))
        .collect();
    let host = FunctionsHost::start(
        &app.handler,
        HostOptions::default()
            .with_storage(storage.clone())
            .redelivering_after(std::time::Duration::from_millis(100)),
    )
    .await
    .expect("the host starts");
    let foreign = r#"{"requestId":"logic-app-42","status":"succeeded"}"#;
    let results = Queue::new(&storage, "mfa-phone-results", Encoding::None).expect("a client");
    results.send(foreign).await.expect("sent");
    let directory = scratch();
    let mut text = String::from("UPN,Mobile\n");
    for index in 0..6 {
        text.push_str(&format!(
            "queued{index}@contoso.com,+49 170 20000{index:02}\n"
        ));
    }
    let file = excel_csv(&directory, &text);
    let queue = request_queue_url(&storage);
    let options = parse(&[
        file.display().to_string(),
        "--queue".to_owned(),
        queue,
        "--out".to_owned(),
        directory.display().to_string(),
    ])
    .expect("the options");

    let status = run(&options).await;

    assert_eq!(status, bulk::SUCCEEDED);
    for (index, user) in users.iter().enumerate() {
        assert_eq!(app.phones(user)[0].1, format!("+49 17020000{index:02}"));
    }
    assert_eq!(
        crate::helpers::take_all(&storage, "mfa-phone-results").await,
        [foreign],
        "another producer's result is left where it was"
    );
    let rows = ReportCsv::read(&directory);
    assert!(
        rows.rows().iter().all(|row| row.get("action") == "added"),
        "{rows:?}"
    );
    drop(host);
}

#[tokio::test]
async fn over_the_queue_a_file_with_problems_leaves_other_producers_results_alone() {
    let azurite = crate::helpers::azurite().await;
    let storage = crate::helpers::storage_of(&azurite);
    let results = Queue::new(&storage, "mfa-phone-results", Encoding::None).expect("a client");
    results.create_if_missing().await.expect("created");
    let foreign = r#"{"requestId":"logic-app-7","status":"succeeded"}"#;
    results.send(foreign).await.expect("sent");
    let directory = scratch();
    let file = excel_csv(&directory, "UPN,Mobile\nadele@contoso.com,4.91701E+11\n");
    let options = parse(&[
        file.display().to_string(),
        "--queue".to_owned(),
        request_queue_url(&storage),
        "--out".to_owned(),
        directory.display().to_string(),
    ])
    .expect("the options");
    let endpoint = options.endpoint().expect("an endpoint");

    let status = within(
        "the bulk run ends",
        bulk::run(&options, &endpoint, std::future::pending()),
    )
    .await;

    assert_eq!(status, bulk::NOTHING_SENT);
    let Endpoint::Queue(queue) = &endpoint else {
        panic!("a queue endpoint")
    };
    assert!(
        !queue.has_looked(),
        "the run never looked at the results queue"
    );
    let seen = results
        .receive(32, std::time::Duration::from_secs(30))
        .await
        .expect("received");
    assert_eq!(seen.len(), 1, "the foreign result is visible");
    assert_eq!(seen[0].stored, foreign);
    assert_eq!(
        seen[0].dequeue_count, 1,
        "nothing looked at it before this test did"
    );
    drop(endpoint);
}

/// The page is checked as a real browser (headless Chromium) builds it: the totals, one bar per
/// kind of outcome with its count, the protected account first among the rows that need a person,
/// and nothing fetched from anywhere.
#[tokio::test]
async fn the_report_page_shows_the_totals_the_chart_and_what_needs_a_person_in_a_browser() {
    let app = with_a_global_administrator().await;
    // A long name, as a guest's #EXT# name is, widens the tables as in a real run.
    let long = "hire2.with.a.long.name_fabrikam.example#EXT#@contoso.onmicrosoft.com";
    for user in ["hire0@contoso.com", "hire1@contoso.com", long] {
        app.add_member(user);
    }
    let host = http_host(&app).await;
    let directory = scratch();
    let file = excel_csv(
        &directory,
        &format!(
            "UPN,Mobile\nhire0@contoso.com,+49 170 1000000\nhire1@contoso.com,+49 170 1000001\n\
         {long},+49 170 1000002\nga@contoso.com,+49 170 1000003\n\
         typo@contoso.com,+49 170 12\n"
        ),
    );
    assert_eq!(
        run(&options(&file, &host, &["--skip-bad-rows"])).await,
        bulk::ROW_FAILED
    );

    let page = directory.join("report.html");
    let dom = crate::helpers::dump_dom(&page).await;
    assert!(dom.contains(r#"<b id="total-rows">4</b>"#), "{dom}");
    assert!(dom.contains(r#"<b id="total-succeeded">3</b>"#));
    assert!(dom.contains(r#"<b id="total-failed">1</b>"#));
    assert!(
        dom.contains(r#"data-label="added" data-count="3""#),
        "{dom}"
    );
    assert!(dom.contains(r#"data-label="failed: protectedUser" data-count="1""#));
    let attention = dom
        .split(r#"<table id="attention">"#)
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .expect("the rows that need a person");
    assert!(attention.contains("ga@contoso.com"));
    assert!(
        !attention.contains("hire0@contoso.com"),
        "only those that need a person"
    );
    assert!(
        !dom.contains("src=") && !dom.contains("href="),
        "nothing fetched from anywhere"
    );

    // The page is measured as an admin sees it in a 1200-pixel-wide window: every chart label
    // must be whole, and the tables within the page with their last column (Warnings) in view.
    let layout = layout_at(&page, 1200).await;
    assert_eq!(layout["cut"], json!([]), "labels cut: {layout}");
    assert!(
        layout["labels"].as_array().is_some_and(|labels| labels
            .iter()
            .any(|label| label == "skipped (a problem in the file)")),
        "{layout}"
    );
    let viewport = layout["viewport"].as_f64().expect("a width");
    assert!(
        layout["pageWidth"].as_f64().expect("a width") <= viewport,
        "the page runs off the right edge: {layout}"
    );
    for table in layout["tables"].as_array().expect("tables") {
        assert!(
            table["lastHeaderRight"].as_f64().expect("a position") <= viewport,
            "a table's last column is out of view: {layout}"
        );
    }
}

/// Measures where report.html's parts fall in a `width`-pixel-wide window of headless Chromium: the
/// page is loaded into a frame of that width by a page of the test's own, whose script measures it
/// (the report itself has no script). It returns `{viewport, pageWidth, labels, cut, tables: [{id,
/// lastHeaderRight}]}`.
async fn layout_at(page: &Path, width: u32) -> Value {
    let directory = page.parent().expect("a directory");
    let measure = directory.join("measure.html");
    std::fs::write(
        &measure,
        format!(
            r#"<!DOCTYPE html><html><body style="margin:0">
<iframe id="report" src="report.html" style="width:{width}px;height:900px;border:0"></iframe>
<pre id="layout"></pre>
<script>
window.onload = () => {{
  const page = document.getElementById("report").contentDocument;
  const viewport = page.documentElement.clientWidth;
  const labels = [...page.querySelectorAll(".chart .label")];
  const cut = labels
    .filter(label => label.scrollWidth > label.clientWidth + 1
      || label.getBoundingClientRect().right > viewport)
    .map(label => label.textContent);
  const tables = [...page.querySelectorAll("table")].map(table => {{
    const headers = table.querySelectorAll("th");
    return {{ id: table.id,
      lastHeaderRight: headers[headers.length - 1].getBoundingClientRect().right }};
  }});
  document.getElementById("layout").textContent = JSON.stringify({{
    viewport, pageWidth: page.documentElement.scrollWidth,
    labels: labels.map(label => label.textContent), cut, tables }});
}};
</script></body></html>"#
        ),
    )
    .expect("the measuring page");
    let profile = directory.join("chromium-profile");
    let mut arguments: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // The measuring page reads the report's frame: both are files, which Chromium
        // otherwise keeps apart as different origins.
        "--disable-web-security",
        "--allow-file-access-from-files",
        "--virtual-time-budget=5000",
        "--dump-dom",
    ]
    .map(str::to_owned)
    .to_vec();
    arguments.push(format!("--user-data-dir={}", profile.display()));
    arguments.push(format!("file://{}", measure.display()));
    let output = crate::helpers::run_browser(arguments);
    let output = within("Chromium measures the page", output)
        .await
        .expect("Chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    let measured = dom
        .split(r#"<pre id="layout">"#)
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "the measuring page's result: {dom}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let measured = measured
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&measured).expect("the layout as JSON")
}

#[tokio::test]
async fn an_endpoint_that_refuses_the_run_stops_it_without_settling_a_row() {
    let app = TestApp::spawn().await;
    let mut text = String::from("UPN,Mobile\n");
    for index in 0..20 {
        app.add_member(&format!("refused{index}@contoso.com"));
        text.push_str(&format!(
            "refused{index}@contoso.com,+49 170 30000{index:02}\n"
        ));
    }
    let host = http_host(&app).await;
    let directory = scratch();
    let file = excel_csv(&directory, &text);
    // This is not the HTTP trigger's path, so the host answers 404 with no result.
    let wrong = parse(&[
        file.display().to_string(),
        "--endpoint".to_owned(),
        format!("{}/api/NoSuchFunction", host.url()),
        "--out".to_owned(),
        directory.display().to_string(),
        "--concurrency".to_owned(),
        "2".to_owned(),
    ])
    .expect("the options");

    let status = run(&wrong).await;

    assert_eq!(
        status,
        bulk::NOTHING_SENT,
        "refused before any row settled: the options are wrong"
    );
    assert!(app.writes().is_empty());
    let state = std::fs::read_to_string(directory.join("bulk-state.jsonl")).expect("the state");
    assert!(
        !state.contains("\"done\""),
        "a refusal settles no row, so the run goes on once the endpoint is right: {state}"
    );
    let sent = state.matches("\"sent\"").count();
    assert!(
        sent <= 2,
        "the run stopped at the first refusals: {sent} sent"
    );
}

/// Starts an HTTP trigger the test plays and returns its URL: each request's body (and how many
/// came before it) goes in, and the status and body to answer with come out.
async fn scripted_trigger(
    answer: impl Fn(usize, &serde_json::Value) -> (u16, serde_json::Value) + Send + Sync + 'static,
) -> String {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let answer = Arc::new(answer);
    let count = Arc::new(AtomicUsize::new(0));
    let router = axum::Router::new().route(
        "/api/SetOrRemoveMobilePhoneMfa",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let (answer, count) = (answer.clone(), count.clone());
            async move {
                let (status, value) = answer(count.fetch_add(1, Ordering::SeqCst), &body);
                let status = axum::http::StatusCode::from_u16(status).expect("a status");
                (status, axum::Json(value))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/api/SetOrRemoveMobilePhoneMfa")
}

fn options_for(file: &Path, endpoint: &str, extra: &[&str]) -> Options {
    let mut arguments = vec![
        file.display().to_string(),
        "--endpoint".to_owned(),
        endpoint.to_owned(),
        "--out".to_owned(),
        file.parent().expect("a directory").display().to_string(),
    ];
    arguments.extend(extra.iter().map(ToString::to_string));
    parse(&arguments).expect("the options")
}

#[tokio::test]
async fn an_endpoint_that_refuses_the_run_after_a_row_settled_exits_1() {
    let endpoint = scripted_trigger(|count, request| match count {
        0 => (
            200,
            serde_json::json!({"status": "succeeded", "action": "added",
                "requestId": request["requestId"], "request": request}),
        ),
        _ => (401, serde_json::json!({})),
    })
    .await;
    let directory = scratch();
    let file = excel_csv(
        &directory,
        "UPN,Mobile\na@contoso.com,+49 170 5000001\nb@contoso.com,+49 170 5000002\n",
    );

    let status = run(&options_for(&file, &endpoint, &["--concurrency", "1"])).await;

    assert_eq!(
        status,
        bulk::ROW_FAILED,
        "a row had settled: something was sent"
    );
    let rows = ReportCsv::read(&directory);
    assert_eq!(rows.column("status"), ["succeeded", "failed"], "{rows:?}");
    assert_eq!(
        rows.rows()[1].get("errorCode"),
        "http401",
        "the refusal, in the row it met"
    );
}

#[tokio::test]
async fn a_result_with_another_requests_id_is_a_failed_row_not_a_success() {
    let endpoint = scripted_trigger(|_, _| {
        (
            200,
            serde_json::json!({"status": "succeeded", "action": "added",
                "requestId": "someone-else-1"}),
        )
    })
    .await;
    let directory = scratch();
    let file = excel_csv(&directory, "UPN,Mobile\na@contoso.com,+49 170 5000001\n");

    let status = run(&options_for(&file, &endpoint, &[])).await;

    assert_eq!(status, bulk::ROW_FAILED);
    let rows = ReportCsv::read(&directory);
    assert_eq!(rows.rows()[0].get("status"), "failed", "{rows:?}");
    assert_eq!(rows.rows()[0].get("errorCode"), "requestIdMismatch");
    assert!(
        rows.rows()[0].get("message").contains("someone-else-1")
            && rows.rows()[0].get("message").contains("another request"),
        "{rows:?}"
    );
}

/// Over the queue, a row sent by a run that stopped waiting is waited for by the next run,
/// not sent again: every request message is delivered once.
#[tokio::test]
async fn over_the_queue_a_row_sent_without_a_result_is_waited_for_not_sent_again() {
    let azurite = crate::helpers::azurite().await;
    let storage = crate::helpers::storage_of(&azurite);
    let app = TestApp::spawn().await;
    let mut text = String::from("UPN,Mobile\n");
    let users: Vec<String> = (0..4)
        .map(|index| {
            text.push_str(&format!(
                "late{index}@contoso.com,+49 170 40000{index:02}\n"
            ));
            app.add_member(&format!("late{index}@contoso.com"))
        })
        .collect();
    let directory = scratch();
    let file = excel_csv(&directory, &text);
    let queue = request_queue_url(&storage);
    let options = |wait: &str| {
        parse(&[
            file.display().to_string(),
            "--queue".to_owned(),
            queue.clone(),
            "--out".to_owned(),
            directory.display().to_string(),
            "--result-wait".to_owned(),
            wait.to_owned(),
        ])
        .expect("the options")
    };
    Queue::new(&storage, "mfa-phone-requests", Encoding::None)
        .expect("a client")
        .create_if_missing()
        .await
        .expect("created");
    Queue::new(&storage, "mfa-phone-results", Encoding::None)
        .expect("a client")
        .create_if_missing()
        .await
        .expect("created");

    // There is no host yet: the requests wait on the queue, and the run stops waiting
    // after a second.
    let first = run(&options("1")).await;
    assert_eq!(first, bulk::ROW_FAILED, "no results yet");
    let host = FunctionsHost::start(
        &app.handler,
        HostOptions::default()
            .with_storage(storage.clone())
            .redelivering_after(std::time::Duration::from_millis(100)),
    )
    .await
    .expect("the host starts");
    let second = run(&options("60")).await;

    assert_eq!(second, bulk::SUCCEEDED);
    for (index, user) in users.iter().enumerate() {
        assert_eq!(app.phones(user)[0].1, format!("+49 17040000{index:02}"));
    }
    within("the host drains the queue", host.drained()).await;
    assert_eq!(
        host.deliveries().len(),
        users.len(),
        "each request went on the queue once: {:?}",
        host.deliveries()
    );
}

/// Starts a trigger that records every request id it is sent and answers each with a success that
/// echoes the request (as the handler does).
async fn recording_trigger() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let url = scripted_trigger(move |_, request| {
        if let Some(id) = request["requestId"].as_str() {
            record.lock().expect("not poisoned").push(id.to_owned());
        }
        let dry_run = request["dryRun"].as_bool().unwrap_or(false);
        (
            200,
            json!({"status": "succeeded", "action": "added", "dryRun": dry_run,
                "requestId": request["requestId"], "request": request}),
        )
    })
    .await;
    (url, seen)
}

#[tokio::test]
async fn request_ids_carry_a_random_part_so_nobody_can_name_a_runs_requests_in_advance() {
    let (endpoint, seen) = recording_trigger().await;
    let text = "UPN,Mobile\na@contoso.com,+49 170 5000001\n";
    let mut ids = Vec::new();
    for _ in 0..2 {
        let directory = scratch();
        let file = excel_csv(&directory, text);
        assert_eq!(
            run(&options_for(&file, &endpoint, &[])).await,
            bulk::SUCCEEDED
        );
        ids.push(seen.lock().expect("not poisoned").pop().expect("a request"));
    }
    assert_ne!(
        ids[0], ids[1],
        "the same file's same row, in two runs, is two unguessable ids"
    );
    let sha: String = {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"\xEF\xBB\xBF");
        hasher.update(text.replace('\n', "\r\n").as_bytes());
        hasher
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    };
    assert!(
        ids.iter()
            .all(|id| id.len() > format!("bulk-{}-2-mobile", &sha[..12]).len()),
        "more than the file's hash and the row: {ids:?}"
    );
}

#[tokio::test]
async fn a_result_that_echoes_another_user_or_number_counts_for_no_row_and_the_row_waits() {
    // The answer has the right requestId, but the echo names another user (as a result forged
    // by someone who learnt the id would, or a stale result of another request).
    let endpoint = scripted_trigger(|_, request| {
        let mut echo = request.clone();
        echo["UserId"] = json!("megan@contoso.com");
        (
            200,
            json!({"status": "succeeded", "action": "added", "dryRun": false,
                "requestId": request["requestId"], "request": echo}),
        )
    })
    .await;
    let directory = scratch();
    let file = excel_csv(&directory, "UPN,Mobile\na@contoso.com,+49 170 5000001\n");

    let status = run(&options_for(&file, &endpoint, &[])).await;

    assert_eq!(status, bulk::ROW_FAILED, "the row did not succeed");
    let rows = ReportCsv::read(&directory);
    assert_eq!(rows.rows()[0].get("status"), "failed", "{rows:?}");
    assert_eq!(rows.rows()[0].get("errorCode"), "requestIdMismatch");
    assert!(
        rows.rows()[0].get("message").contains("another user"),
        "{rows:?}"
    );
    let state = std::fs::read_to_string(directory.join("bulk-state.jsonl")).expect("the state");
    assert!(
        !state.contains("\"succeeded\":true"),
        "nothing recorded as done: a later run sends it again: {state}"
    );
}

#[tokio::test]
async fn a_planted_state_that_claims_rows_done_is_refused_and_nothing_is_skipped() {
    let (endpoint, seen) = recording_trigger().await;
    let directory = scratch();
    let text = "UPN,Mobile\na@contoso.com,+49 170 5000001\n";
    let file = excel_csv(&directory, text);
    let bytes = std::fs::read(&file).expect("the file");
    let sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    };
    // This is what someone who can write the output directory (and read the CSV) would plant: the
    // state of a run of this very file to this endpoint, with the row done.
    let planted = format!(
        "{}\n{}\n",
        json!({"run": {"fileSha256": sha, "operations": 1, "endpoint": endpoint, "runId": "0"}, "mac": "00"}),
        json!({"done": {"requestId": format!("bulk-{}-0-2-mobile", &sha[..8]), "outcome": {
            "succeeded": true, "action": "added", "errorCode": null, "message": "",
            "warnings": [], "conflictOwner": null, "transient": false}}, "mac": "00"}),
    );
    std::fs::write(directory.join("bulk-state.jsonl"), &planted).expect("planted");
    let options = options_for(&file, &endpoint, &[]);

    let summary = within(
        "the bulk run ends",
        bulk::run_summarised(
            &options,
            &options.endpoint().expect("an endpoint"),
            std::future::pending(),
        ),
    )
    .await;

    assert_eq!(summary.exit_status, bulk::NOTHING_SENT, "{summary:?}");
    let stopped = summary.stopped.expect("why");
    assert!(
        stopped.contains("not written by this command") && stopped.contains("move it"),
        "{stopped}"
    );
    assert!(
        seen.lock().expect("not poisoned").is_empty(),
        "nothing sent"
    );
    assert!(
        !directory.join("report.csv").exists(),
        "no report claims the row done"
    );
    assert_eq!(
        std::fs::read_to_string(directory.join("bulk-state.jsonl")).expect("kept"),
        planted,
        "left as it was, for whoever looks into it"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_report_link_planted_in_the_output_directory_is_refused_not_followed() {
    let (endpoint, _) = recording_trigger().await;
    let directory = scratch();
    let file = excel_csv(&directory, "UPN,Mobile\na@contoso.com,+49 170 5000001\n");
    // Someone who can write the folder points report.csv at a file of the admin's.
    let victim = scratch().join("profile.ps1");
    std::fs::write(&victim, "# the admin's own file\n").expect("written");
    std::os::unix::fs::symlink(&victim, directory.join("report.csv")).expect("linked");
    let options = options_for(&file, &endpoint, &[]);

    let summary = within(
        "the bulk run ends",
        bulk::run_summarised(
            &options,
            &options.endpoint().expect("an endpoint"),
            std::future::pending(),
        ),
    )
    .await;

    assert_eq!(
        std::fs::read_to_string(&victim).expect("still there"),
        "# the admin's own file\n",
        "nothing written through the link"
    );
    assert_eq!(summary.exit_status, bulk::ROW_FAILED, "{summary:?}");
    assert!(summary.report.is_none(), "no report claimed: {summary:?}");
    assert!(
        std::fs::symlink_metadata(directory.join("report.csv"))
            .expect("there")
            .file_type()
            .is_symlink(),
        "the link is left for the admin to look at"
    );
}

#[tokio::test]
async fn every_cell_of_report_csv_is_quoted_and_none_starts_a_formula() {
    let endpoint = scripted_trigger(|_, request| {
        (
            200,
            json!({"status": "failed", "action": "none", "dryRun": false,
                "requestId": request["requestId"], "request": request,
                "error": {"code": "graphRejected", "message": "\u{FF1D}HYPERLINK(\"http://x\")"},
                "warnings": [{"code": "@SUM(A1)", "message": ""}]}),
        )
    })
    .await;
    let directory = scratch();
    let file = excel_csv(&directory, "UPN,Mobile\na@contoso.com,+49 170 5000001\n");

    run(&options_for(&file, &endpoint, &[])).await;

    let text = std::fs::read_to_string(directory.join("report.csv")).expect("report.csv");
    let text = text.strip_prefix('\u{feff}').expect("a BOM");
    for line in text.lines() {
        assert!(line.starts_with('"') && line.ends_with('"'), "{line}");
    }
    let rows = ReportCsv::read(&directory);
    let dangerous = [
        '=', '+', '-', '@', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
    ];
    for cell in rows.rows().iter().flat_map(|row| row.cells().iter()) {
        assert!(
            !cell.trim_start().starts_with(dangerous),
            "a cell that starts a formula: {cell:?}"
        );
    }
    assert_eq!(
        rows.rows()[0].get("message"),
        "'\u{FF1D}HYPERLINK(\"http://x\")"
    );
}

#[tokio::test]
async fn the_function_key_goes_only_over_https_to_another_machine_and_nothing_is_sent() {
    let directory = scratch();
    let file = excel_csv(&directory, "UPN,Mobile\na@contoso.com,+49 170 5000001\n");
    let key = scratch().join("function.key");
    std::fs::write(&key, "s3cret\n").expect("written");
    let options = options_for(
        &file,
        "http://contoso-mfa.azurewebsites.net/api/SetOrRemoveMobilePhoneMfa",
        &["--function-key-file", &key.display().to_string()],
    );

    let status = within("the bulk command ends", bulk::main(options)).await;

    assert_eq!(status, bulk::NOTHING_SENT);
    assert!(
        !directory.join("bulk-state.jsonl").exists(),
        "nothing begun"
    );
}

#[tokio::test]
async fn the_function_key_is_read_from_a_file_and_works() {
    const KEY: &str = "bulk-test-function-key";
    let app = TestApp::spawn().await;
    let user = app.add_member("adele@contoso.com");
    let host = FunctionsHost::start(&app.handler, HostOptions::default().with_function_key(KEY))
        .await
        .expect("the host starts");
    let directory = scratch();
    let file = excel_csv(
        &directory,
        "UPN,Mobile\nadele@contoso.com,+49 170 1111111\n",
    );
    let key = scratch().join("function.key");
    std::fs::write(&key, format!("{KEY}\n")).expect("written");

    let status = run(&options(
        &file,
        &host,
        &["--function-key-file", &key.display().to_string()],
    ))
    .await;

    assert_eq!(status, bulk::SUCCEEDED);
    assert_eq!(app.phones(&user)[0].1, "+49 1701111111");
}

#[tokio::test]
async fn a_function_key_on_the_command_line_still_works_but_is_warned_about() {
    let directory = scratch();
    // The file has a problem: the command reads the key, then stops before sending anything.
    let file = excel_csv(&directory, "UPN,Mobile\nadele@contoso.com,4.91701E+11\n");
    let output = crate::helpers::handler_command()
        .args(["bulk", &file.display().to_string()])
        .args([
            "--endpoint",
            "http://127.0.0.1:9/api/SetOrRemoveMobilePhoneMfa",
        ])
        .args(["--function-key", "typed-s3cret", "--out"])
        .arg(&directory)
        .args(["--state-key", &format!("{}.key/k", directory.display())])
        .env_remove("MFA_FUNCTION_KEY")
        .stdin(std::process::Stdio::null())
        .output();
    let output = within("the bulk command ends", output)
        .await
        .expect("it runs");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(i32::from(bulk::NOTHING_SENT)));
    assert!(
        stderr.contains("warning: --function-key on the command line"),
        "{stderr}"
    );
    assert!(!stderr.contains("typed-s3cret"), "{stderr}");
}

#[tokio::test]
async fn a_number_given_to_several_users_is_a_warning_before_sending() {
    let (endpoint, _) = recording_trigger().await;
    let directory = scratch();
    let file = excel_csv(
        &directory,
        "UPN,Mobile\na@contoso.com,+49 170 5000001\nb@contoso.com,+49 170 5000001\n\
         c@contoso.com,+49 170 5000003\n",
    );
    let options = options_for(&file, &endpoint, &["--dry-run"]);

    let summary = within(
        "the bulk run ends",
        bulk::run_summarised(
            &options,
            &options.endpoint().expect("an endpoint"),
            std::future::pending(),
        ),
    )
    .await;

    assert_eq!(summary.shared_numbers, 1, "{summary:?}");
    assert_eq!(
        summary.exit_status,
        bulk::SUCCEEDED,
        "a warning, not a problem"
    );
}

#[tokio::test]
async fn a_rows_caller_name_is_sent_beside_the_admins_never_instead_of_it() {
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = requests.clone();
    let endpoint = scripted_trigger(move |_, request| {
        seen.lock().expect("not poisoned").push(request.clone());
        (
            200,
            json!({"status": "succeeded", "action": "added", "dryRun": false,
                "requestId": request["requestId"], "request": request}),
        )
    })
    .await;
    let directory = scratch();
    let file = excel_csv(
        &directory,
        "UPN,Mobile,CallerName\na@contoso.com,+49 170 5000001,Megan (CEO)\n\
         b@contoso.com,+49 170 5000002,\n",
    );

    let status = run(&options_for(&file, &endpoint, &["--caller-name", "alice"])).await;

    assert_eq!(status, bulk::SUCCEEDED);
    let mut names: Vec<String> = requests
        .lock()
        .expect("not poisoned")
        .iter()
        .map(|request| request["CallerName"].as_str().unwrap_or("none").to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["alice", "alice, for Megan (CEO)"]);
    let rows = ReportCsv::read(&directory);
    assert_eq!(rows.line(2).get("rowCallerName"), "Megan (CEO)");
}
