//! Checks that one user is changed at a time across instances: two handler processes (two
//! instances of the Function App) against one tenant, with the per-user leases in a real
//! storage account (Azurite).

use std::collections::BTreeMap;
use std::time::Duration;

use mfa_phone_handler::phone::PhoneType;
use mfa_phone_handler::simulator::host::{FunctionsHost, HostOptions};
use mfa_phone_handler::simulator::{FaultAction, FaultRule, Gate, SimOptions};
use mfa_phone_handler::storage::queue::{Encoding, Queue, read_json};
use serde_json::{Value, json};

use crate::helpers::{
    QUEUE_FUNCTION, TestApp, azurite, connection_string, queue_envelope, result_of, storage_of,
    take_all, within,
};

const OLD: &str = "+49 1701234567";
const NEW: &str = "+49 1709876543";

/// Delivers `message` to the handler at `url` as the host would, on its `dequeue_count`-th
/// delivery, and returns the HTTP status and the answer.
async fn deliver(
    client: &reqwest::Client,
    url: &str,
    message: &Value,
    dequeue_count: u64,
) -> (u16, Value) {
    let response = client
        .post(format!("{url}/{QUEUE_FUNCTION}"))
        .header("Content-Type", "application/json")
        .body(queue_envelope(&message.to_string(), dequeue_count).to_string())
        .send()
        .await
        .expect("the handler answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Starts two handler instances with per-user leases in one Azurite, each waiting 1 s for a lease
/// the other holds, and returns Azurite (kept running while held), instance A, and instance B (its
/// process and its URL).
async fn two_instances_waiting_a_second() -> (
    mfa_phone_handler::simulator::azurite::Azurite,
    TestApp,
    tokio::process::Child,
    String,
) {
    let azurite = azurite().await;
    let connection = connection_string(&azurite);
    let settings = [
        ("AzureWebJobsStorage", connection.as_str()),
        ("MFA_LEASE_WAIT_SECONDS", "1"),
    ];
    let app = TestApp::builder().envs(&settings).spawn().await;
    let (b, instance_b) = app.another_instance(&settings).await;
    (azurite, app, b, instance_b)
}

/// The verdict on a user's protection is taken again once another instance's lease is had: the
/// wait can last up to `MFA_LEASE_WAIT_SECONDS`, and the user may join a protected group
/// meanwhile. Instance A holds the user's lease while its write is held at Graph; B reads the
/// user and their groups, and waits for the lease; the user joins the protected group; A's
/// write goes through; B, with the lease, must refuse, not write on the old verdict.
#[tokio::test]
async fn the_protection_verdict_is_taken_again_after_waiting_for_another_instances_lease() {
    let group = "42424242-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
    let azurite = azurite().await;
    let connection = connection_string(&azurite);
    let settings = [
        ("AzureWebJobsStorage", connection.as_str()),
        ("MFA_LEASE_WAIT_SECONDS", "20"),
        ("MFA_PROTECTED_GROUP_IDS", group),
    ];
    let app = TestApp::builder()
        .envs(&settings)
        .prepare(move |sim| {
            sim.tenant(|tenant| {
                tenant
                    .directory
                    .add_group_with_id(group, "Break glass", &[], false)
            })
        })
        .spawn()
        .await;
    let (_b, instance_b) = app.another_instance(&settings).await;
    let user = app.add_member("adele@contoso.com");
    let gate = Gate::default();
    app.sim.inject(FaultRule::new(
        Some("POST"),
        "/authentication/phoneMethods",
        1,
        FaultAction::Hold(gate.clone()),
    ));
    let first = json!({"UserId": user, "phoneNumber": OLD});
    let second = json!({"UserId": user, "phoneNumber": NEW});

    let mut arrivals = app.sim.request_arrived();
    let on_a = deliver(&app.client, &app.handler, &first, 1);
    let on_b = async {
        while app.sim.arrived("/authentication/phoneMethods") == 0 {
            arrivals.changed().await.expect("the simulator runs");
        }
        // A holds the lease while its POST is held at Graph. B reads the user and their groups.
        let answered_checks = || {
            app.sim
                .requests()
                .iter()
                .filter(|request| request.path.ends_with("/checkMemberGroups"))
                .count()
        };
        let checks_before = answered_checks();
        let during = deliver(&app.client, &instance_b, &second, 1);
        let meanwhile = async {
            within("B's membership check is answered", async {
                while answered_checks() == checks_before {
                    arrivals.changed().await.expect("the simulator runs");
                }
            })
            .await;
            // B has its verdict and waits for A's lease: the user becomes protected now.
            app.sim
                .tenant(|tenant| tenant.directory.add_group_member(group, &user));
            gate.open();
        };
        tokio::join!(during, meanwhile).0
    };
    let ((_, on_a), (status, on_b)) = tokio::join!(on_a, on_b);

    assert_eq!(result_of(&on_a)["action"], "added", "{on_a}");
    assert_eq!(status, 200, "{on_b}");
    assert_eq!(
        result_of(&on_b)["error"]["code"],
        "protectedUser",
        "B waited for the lease, then judged again: {on_b}"
    );
    assert_eq!(app.phones(&user)[0].1, OLD, "B wrote nothing");
}

/// This holds open on purpose the window a removal leaves across instances: instance A has read
/// the old number and its DELETE is held at Graph while instance B sets a new one. With the
/// leases, B waits for A's lease (here 1 s, then `userBusy`, so the queue delivers it again),
/// and the new number survives; without them, B's PATCH lands in the window and A's DELETE
/// removes the new number.
#[tokio::test]
async fn a_removal_on_one_instance_cannot_delete_a_number_another_instance_sets_meanwhile() {
    removal_window(false).await;
}

/// This is the same test with the new number's request naming the user by UPN: its lease is asked
/// for once the first read has given the object id, and is the same lease.
#[tokio::test]
async fn the_window_stays_closed_for_a_user_named_by_upn() {
    removal_window(true).await;
}

async fn removal_window(set_by_upn: bool) {
    let (_azurite, app, _b, instance_b) = two_instances_waiting_a_second().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OLD);
    let gate = Gate::default();
    app.sim.inject(FaultRule::new(
        Some("DELETE"),
        "/phoneMethods",
        1,
        FaultAction::Hold(gate.clone()),
    ));
    let remove = json!({"UserId": user, "phoneNumber": OLD, "Remove": true});
    let named = if set_by_upn {
        "adele@contoso.com"
    } else {
        user.as_str()
    };
    let set = json!({"UserId": named, "phoneNumber": NEW});

    let mut arrivals = app.sim.request_arrived();
    let removal = deliver(&app.client, &app.handler, &remove, 1);
    let meanwhile = async {
        while app.sim.arrived("/phoneMethods") == 0 {
            arrivals.changed().await.expect("the simulator runs");
        }
        // A's DELETE is held at Graph: B asks to set the new number now.
        let during = deliver(&app.client, &instance_b, &set, 1).await;
        gate.open();
        during
    };
    let ((_, removed), (during_status, _)) = tokio::join!(removal, meanwhile);

    assert_eq!(result_of(&removed)["action"], "removed", "{removed}");
    assert_eq!(
        during_status, 503,
        "B could not have the lease A held: userBusy, delivered again later"
    );
    // B's message is delivered again, as the queue would, until A's lease (released in the
    // background after its answer) is free.
    let mut again = Value::Null;
    for dequeue_count in 2..=5 {
        let (status, answer) = deliver(&app.client, &instance_b, &set, dequeue_count).await;
        again = answer;
        if status == 200 {
            break;
        }
    }
    assert_eq!(result_of(&again)["action"], "added", "{again}");
    assert_eq!(app.phones(&user)[0].1, NEW, "the new number survives");
    let deletions = app.sim.tenant(|tenant| tenant.deletions().to_vec());
    assert_eq!(
        deletions,
        [(user.clone(), OLD.to_owned())],
        "only the old number went"
    );
}

/// Two hosts with two handler instances consume one queue with the same users' removals and
/// new numbers interleaved: every message ends in one result, every user ends with the new
/// number, and no removal took away a number it was not asked to.
#[tokio::test]
async fn two_instances_on_one_queue_keep_every_removal_to_its_number() {
    let azurite = azurite().await;
    let storage = storage_of(&azurite);
    let connection = connection_string(&azurite);
    let settings = [("AzureWebJobsStorage", connection.as_str())];
    let app = TestApp::builder()
        .options(SimOptions {
            latency: Duration::from_millis(20),
            ..SimOptions::default()
        })
        .envs(&settings)
        .spawn()
        .await;
    let (_b, instance_b) = app.another_instance(&settings).await;
    let mut users = Vec::new();
    for index in 0..20 {
        let user = app.add_member(&format!("user{index}@contoso.com"));
        app.seed_phone(&user, PhoneType::Mobile, OLD);
        users.push(user);
    }
    let options = || {
        HostOptions::default()
            .with_storage(storage.clone())
            .redelivering_after(Duration::from_millis(100))
    };
    let host_a = FunctionsHost::start(&app.handler, options())
        .await
        .expect("host A");
    let host_b = FunctionsHost::start(&instance_b, options())
        .await
        .expect("host B");
    let requests = Queue::new(&storage, "mfa-phone-requests", Encoding::None).expect("a client");
    for user in &users {
        for message in [
            json!({"UserId": user, "phoneNumber": OLD, "Remove": true}),
            json!({"UserId": user, "phoneNumber": NEW}),
        ] {
            requests.send(&message.to_string()).await.expect("sent");
        }
    }
    within("both hosts drain the queue", host_a.drained()).await;
    within("both hosts drain the queue", host_b.drained()).await;

    let results: Vec<Value> = take_all(&storage, "mfa-phone-results")
        .await
        .iter()
        .filter_map(|text| read_json(text))
        .collect();
    assert_eq!(results.len(), 40, "one result per message");
    assert!(
        results
            .iter()
            .all(|result| result["status"] == "succeeded"
                || result["error"]["code"] == "numberMismatch"),
        "a removal after the new number finds another number: {results:#?}"
    );
    assert!(
        !host_a.deliveries().is_empty() && !host_b.deliveries().is_empty(),
        "both instances took messages"
    );
    let mut deleted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (user, number) in app.sim.tenant(|tenant| tenant.deletions().to_vec()) {
        deleted.entry(user).or_default().push(number);
    }
    for user in &users {
        assert_eq!(app.phones(user)[0].1, NEW, "{user}");
        assert!(
            deleted
                .get(user)
                .is_none_or(|numbers| numbers.iter().all(|number| number == OLD)),
            "{user}: {deleted:?}"
        );
    }
}

/// A write whose first attempt went unanswered (a 503, then the retry succeeded) may still be
/// applied by Graph later: the instance leaves the user's lease to lapse instead of releasing
/// it, so another instance waits (here 1 s, then `userBusy`) rather than reading too early.
#[tokio::test]
async fn after_a_write_in_doubt_the_lease_lapses_instead_of_being_released() {
    let (_azurite, app, _b, instance_b) = two_instances_waiting_a_second().await;
    let user = app.add_member("adele@contoso.com");
    app.seed_phone(&user, PhoneType::Mobile, OLD);
    let other = app.add_member("megan@contoso.com");
    app.seed_phone(&other, PhoneType::Mobile, OLD);
    app.sim.inject(FaultRule::respond(
        Some("PATCH"),
        &format!("{user}/authentication/phoneMethods"),
        1,
        503,
        "serviceUnavailable",
    ));

    let (_, updated) = deliver(
        &app.client,
        &app.handler,
        &json!({"UserId": user, "phoneNumber": NEW}),
        1,
    )
    .await;
    assert_eq!(result_of(&updated)["action"], "updated", "{updated}");
    let (status, busy) = deliver(
        &app.client,
        &instance_b,
        &json!({"UserId": user, "phoneNumber": OLD}),
        1,
    )
    .await;

    assert_eq!(status, 503, "{busy}");
    assert!(
        busy["Logs"]
            .to_string()
            .contains("another instance held the user's lease"),
        "userBusy, to be delivered again: {busy}"
    );
    // A write answered at once releases the lease as before.
    let (_, plain) = deliver(
        &app.client,
        &app.handler,
        &json!({"UserId": other, "phoneNumber": NEW}),
        1,
    )
    .await;
    assert_eq!(result_of(&plain)["action"], "updated", "{plain}");
    let mut answer = Value::Null;
    for dequeue_count in 1..=5 {
        let (status, again) = deliver(
            &app.client,
            &instance_b,
            &json!({"UserId": other, "phoneNumber": OLD}),
            dequeue_count,
        )
        .await;
        answer = again;
        if status == 200 {
            break;
        }
    }
    assert_eq!(result_of(&answer)["action"], "updated", "{answer}");
}
