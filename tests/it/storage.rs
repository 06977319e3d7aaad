//! Checks the app's storage account as the product uses it, against Azurite: queue messages as the
//! Functions host reads them (plain text under `messageEncoding: none`), and the per-user
//! leases that keep one user's changes on one instance at a time.

use std::time::{Duration, Instant};

use mfa_phone_handler::storage::leases::{LeaseError, Moment, UserLeases};
use mfa_phone_handler::storage::queue::{Encoding, Queue};

use crate::helpers::{azurite, storage_of};

#[tokio::test]
async fn queue_messages_go_as_plain_text_and_are_settled_by_pop_receipt() {
    let azurite = azurite().await;
    let account = storage_of(&azurite);
    let queue = Queue::new(&account, "mfa-phone-requests", Encoding::None).expect("a client");
    queue.create_if_missing().await.expect("created");
    queue
        .create_if_missing()
        .await
        .expect("created again: no error");
    let text = r#"{"UserId":"adele@contoso.com","phoneNumber":"+49 1701234567 <&>"}"#;

    queue.send(text).await.expect("sent");
    let received = queue
        .receive(8, Duration::from_secs(30))
        .await
        .expect("received");

    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].stored, text,
        "no base64 under messageEncoding none"
    );
    assert_eq!(received[0].dequeue_count, 1);
    assert!(
        queue.peek(8).await.expect("peeked").is_empty(),
        "invisible now"
    );
    let pop = queue
        .set_visibility(&received[0].id, &received[0].pop_receipt, Duration::ZERO)
        .await
        .expect("made visible");
    assert!(
        queue
            .delete(&received[0].id, &received[0].pop_receipt)
            .await
            .is_err(),
        "the old pop receipt is stale"
    );
    queue.delete(&received[0].id, &pop).await.expect("deleted");
    assert!(queue.peek(8).await.expect("peeked").is_empty());

    let base64 = Queue::new(&account, "base64-queue", Encoding::Base64).expect("a client");
    base64.create_if_missing().await.expect("created");
    base64.send("héllo").await.expect("sent");
    let received = base64
        .receive(1, Duration::from_secs(30))
        .await
        .expect("received");
    assert_eq!(received[0].stored, "aMOpbGxv");
    assert_eq!(received[0].text.as_deref(), Some("héllo"));
}

#[tokio::test]
async fn a_users_lease_is_one_instances_at_a_time() {
    let azurite = azurite().await;
    let instance_a = UserLeases::new(storage_of(&azurite));
    let instance_b = UserLeases::new(storage_of(&azurite));
    let user = "6e7b768e-07e2-4810-8459-485f84f8f204";
    // The container is made first (by another user's lease), so that the grant below is
    // one request away.
    instance_a
        .acquire(
            "11111111-2222-4333-8444-555555555555",
            Instant::now() + Duration::from_secs(10),
        )
        .await
        .expect("a lease")
        .release()
        .await;

    let sent = Moment::now();
    let first = instance_a
        .acquire(user, Instant::now() + Duration::from_secs(10))
        .await
        .expect("the first lease");
    assert!(
        !first.read_stands(sent),
        "this instance made the blob a moment ago: it may have been deleted after another \
         instance's writes, so it is not this instance's mark"
    );
    let busy = instance_b
        .acquire(user, Instant::now() + Duration::from_millis(400))
        .await;
    assert!(
        matches!(busy, Err(LeaseError::Busy { .. })),
        "{busy:?}",
        busy = busy.err()
    );
    let other_user = instance_b
        .acquire(
            "48d31887-5fad-4d73-a9f5-3c356e68a038",
            Instant::now() + Duration::from_secs(10),
        )
        .await
        .expect("another user's lease is free");
    other_user.release().await;

    let (start_by, _, _) = first.ready_to_write().await.expect("held").into_parts();
    assert!(
        start_by > Instant::now() + Duration::from_secs(25),
        "a fresh lease leaves room for a write's attempts"
    );
    first.release().await;
    let sent = Moment::now();
    let second = instance_b
        .acquire(user, Instant::now() + Duration::from_secs(10))
        .await
        .expect("free again after release");
    assert!(!second.was_contended(), "free at the first asking");
    assert!(
        !second.read_stands(sent),
        "the last holder wrote a moment ago: a read sent now may predate it"
    );
    assert!(second.read_stands(Moment {
        wall: sent.wall + Duration::from_secs(10),
        ..sent
    }));
    assert!(
        !second.read_stands(Moment {
            wall: sent.wall + Duration::from_secs(10),
            monotonic: sent
                .monotonic
                .checked_sub(Duration::from_secs(4))
                .unwrap_or(sent.monotonic),
        }),
        "a read sent more than 3 s before the lease was granted never stands"
    );
    second.ready_to_write().await.expect("held");
    second.release().await;
    // Instance B's own mark is the last change: its next read may stand at once; A's may not.
    let sent = Moment::now();
    let again_b = instance_b
        .acquire(user, Instant::now() + Duration::from_secs(10))
        .await
        .expect("free");
    assert!(again_b.read_stands(sent), "its own mark");
    again_b.release().await;
    let sent = Moment::now();
    let again_a = instance_a
        .acquire(user, Instant::now() + Duration::from_secs(10))
        .await
        .expect("free");
    assert!(!again_a.read_stands(sent), "B's mark, a moment ago");
    again_a.release().await;
}

/// A lease lost since the renewer's last renewal (here broken by someone else) is found out
/// before a write, not trusted because the last renewal is recent.
#[tokio::test]
async fn no_write_window_is_given_for_a_lease_lost_since_its_last_renewal() {
    use azure_storage_blob::models::BlobClientBreakLeaseOptions;
    use mfa_phone_handler::storage::leases::CONTAINER;

    let azurite = azurite().await;
    let account = storage_of(&azurite);
    let instance = UserLeases::new(account.clone());
    let user = "3f0a4c5e-8d1b-4c2a-9e7f-1a2b3c4d5e6f";
    let held = instance
        .acquire(user, Instant::now() + Duration::from_secs(10))
        .await
        .expect("the lease");
    held.ready_to_write()
        .await
        .expect("a window right after the grant");

    account
        .blob_service()
        .expect("a blob client")
        .blob_container_client(CONTAINER)
        .blob_client(user)
        .break_lease(Some(BlobClientBreakLeaseOptions {
            break_period: Some(0),
            ..BlobClientBreakLeaseOptions::default()
        }))
        .await
        .expect("broken");

    let window = held.ready_to_write().await;
    assert!(
        matches!(window, Err(LeaseError::Unavailable(_))),
        "a broken lease gives no write window, however recent its last renewal"
    );
}

#[tokio::test]
async fn a_lease_after_a_write_in_doubt_is_left_to_lapse_not_released() {
    let azurite = azurite().await;
    let instance_a = UserLeases::new(storage_of(&azurite));
    let instance_b = UserLeases::new(storage_of(&azurite));
    let user = "0b9d2f43-5c1e-4e0a-9a51-2a7f04d5a6c1";
    let held = instance_a
        .acquire(user, Instant::now() + Duration::from_secs(10))
        .await
        .expect("the lease");
    held.ready_to_write().await.expect("held");
    held.write_in_doubt();
    held.release().await;
    let busy = instance_b
        .acquire(user, Instant::now() + Duration::from_millis(500))
        .await;
    assert!(
        matches!(busy, Err(LeaseError::Busy { .. })),
        "a write whose outcome is unknown keeps the user's lease until it lapses: {busy:?}",
        busy = busy.err()
    );
}

/// A storage account that does not answer (nothing listens at its endpoints) is the same
/// refusal as a lease another instance keeps: `503 userBusy`, and nothing is written, since
/// whether another instance is at the user cannot be known.
#[tokio::test]
async fn without_an_answer_from_the_storage_account_nothing_is_written() {
    use crate::helpers::{Results, TestApp};
    use mfa_phone_handler::storage::account::DEVELOPMENT_KEY;

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = closed.local_addr().expect("its address").port();
    drop(closed);
    let connection = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEVELOPMENT_KEY};\
         BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;\
         QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1"
    );
    let app = TestApp::builder()
        .env("AzureWebJobsStorage", &connection)
        .spawn()
        .await;
    let user = app.add_member("adele@contoso.com");

    let answer = app
        .call(serde_json::json!({"UserId": user, "phoneNumber": "+49 1701234567"}))
        .await;

    assert_eq!(answer.status, 503, "{}", answer.report);
    assert_eq!(answer.error_code(), "userBusy", "{}", answer.report);
    assert!(app.phones(&user).is_empty(), "nothing was written");
    assert!(
        app.graph_requests()
            .iter()
            .all(|request| request.method == "GET"),
        "no write went to Graph"
    );
}
