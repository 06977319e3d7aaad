//! The embedded default: `mfa-phone-handler demo` works as README says, on a machine with no
//! Azure at all.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::HANDLER;

#[tokio::test]
async fn the_demo_serves_the_printed_commands() {
    let mut demo = Command::new(HANDLER)
        .args(["demo", "--port", "0"])
        .env_remove("AZURE_CLIENT_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the demo starts");
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
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
    // Keep draining the demo's output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
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
}
