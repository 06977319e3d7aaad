//! `mfa-phone-handler smoke`: after a deployment, checks that the deployed app answers as it
//! should, through the same ways in callers use: a call without credentials is refused, a
//! test user is shown, a change for them is planned (a dry run), a privileged account is
//! refused, and (given a queue) a message comes back as a result. It writes nothing to the
//! tenant: every change it sends is a dry run. It prints a line per check, and the exit status
//! says whether all held.

use std::time::Duration;

use serde_json::{Value, json};
use url::Url;

use crate::bulk::delivery::Delivery;
use crate::bulk::endpoint::HttpEndpoint;
use crate::bulk::options::http_url;
use crate::bulk::queued::QueueEndpoint;

/// Every check held.
pub(crate) const ALL_HELD: u8 = 0;
/// A check failed.
pub(crate) const A_CHECK_FAILED: u8 = 1;
/// The options are wrong, or nothing could be asked.
pub(crate) const NOT_RUN: u8 = 2;

/// A number no one has: the Australian regulator (ACMA) keeps 0491 570 156 for films and
/// creative works, and the numbering plan reads it as a valid mobile number.
pub(crate) const TEST_NUMBER: &str = "+61 491 570 156";

/// `smoke`'s options.
#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "\
Every change it sends is a dry run: nothing is written to the tenant.

Exit status:
  0  every check held
  1  a check failed (its line says what was expected and what came)
  2  the options are wrong, or the endpoint could not be reached at all")]
pub struct SmokeArgs {
    /// The HTTP trigger (https://APP.azurewebsites.net/api/SetOrRemoveMobilePhoneMfa)
    #[arg(long, value_name = "URL", value_parser = http_url)]
    pub(crate) endpoint: Url,
    /// An ordinary user to show and plan a change for (UPN or object id)
    #[arg(long, value_name = "USER")]
    pub(crate) test_user: String,
    /// A privileged account (a Global Administrator, a break-glass account) the app must refuse
    #[arg(long, value_name = "USER")]
    pub(crate) privileged_user: String,
    #[command(flatten)]
    pub(crate) credentials: crate::api_credentials::ApiCredentials,
    /// The number the dry run plans to set for the test user
    #[arg(long, value_name = "NUMBER", default_value = TEST_NUMBER)]
    pub(crate) test_number: String,
    /// Also the queue round trip: the request queue's URL (results from mfa-phone-results)
    #[arg(long, value_name = "URL", value_parser = http_url)]
    pub(crate) queue: Option<Url>,
    /// How long the queue's result is waited for, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub(crate) result_wait: u64,
    /// Print the checks as one JSON object on stdout
    #[arg(long)]
    pub(crate) json: bool,
}

/// How one check came out.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Checked {
    pub(crate) check: &'static str,
    pub(crate) held: bool,
    /// What came back, in a line.
    pub(crate) detail: String,
}

/// Runs every check and returns the exit status.
pub async fn main(arguments: SmokeArgs) -> u8 {
    let endpoints = match Endpoints::new(&arguments) {
        Ok(endpoints) => endpoints,
        Err(message) => {
            eprintln!("{message}");
            if arguments.json {
                let summary = json!({
                    "command": "smoke", "exitStatus": NOT_RUN, "stopped": message, "checks": []
                });
                println!("{summary}");
            }
            return NOT_RUN;
        }
    };
    let run = format!("smoke-{}", uuid::Uuid::new_v4());
    let id = |check: &str| format!("{run}-{check}");
    let (endpoints, arguments) = (&endpoints, &arguments);
    let mut checks = Vec::new();
    let mut said = |checked: Checked| {
        if !arguments.json {
            println!(
                "{} {}: {}",
                if checked.held { "ok  " } else { "FAIL" },
                checked.check,
                checked.detail
            );
        }
        checks.push(checked);
    };
    said(anonymous(endpoints, arguments, &id("anonymous")).await);
    said(show(endpoints, arguments, &id("show")).await);
    said(dry_run(endpoints, arguments, &id("dry-run")).await);
    said(privileged(endpoints, arguments, &id("privileged")).await);
    if endpoints.queue.is_some() {
        said(queued(endpoints, arguments, &id("queue")).await);
    }
    let unreachable = checks
        .iter()
        .all(|checked| !checked.held && checked.detail.starts_with(UNREACHABLE));
    let status = if unreachable {
        NOT_RUN
    } else if checks.iter().all(|checked| checked.held) {
        ALL_HELD
    } else {
        A_CHECK_FAILED
    };
    if arguments.json {
        let summary = json!({"command": "smoke", "exitStatus": status, "checks": checks});
        println!("{summary}");
    }
    status
}

/// The ways in: the HTTP trigger with the caller's credentials, without them, and the queue.
struct Endpoints {
    http: HttpEndpoint,
    anonymous: HttpEndpoint,
    queue: Option<QueueEndpoint>,
}

impl Endpoints {
    fn new(arguments: &SmokeArgs) -> Result<Endpoints, String> {
        let queue = match &arguments.queue {
            Some(queue) => Some(QueueEndpoint::signed_in(
                queue,
                Duration::from_secs(arguments.result_wait),
            )?),
            None => None,
        };
        let key = arguments
            .credentials
            .key_source(std::env::var(crate::api_credentials::FUNCTION_KEY_VARIABLE).ok())
            .key(!arguments.json)?;
        Ok(Endpoints {
            http: HttpEndpoint::signed_in(
                arguments.endpoint.clone(),
                key,
                arguments.credentials.audience.as_deref(),
            )?,
            anonymous: HttpEndpoint::http(arguments.endpoint.clone(), None, None)?,
            queue,
        })
    }
}

/// The start of the detail of a check whose request reached nothing.
const UNREACHABLE: &str = "the endpoint could not be reached";

async fn anonymous(endpoints: &Endpoints, arguments: &SmokeArgs, request_id: &str) -> Checked {
    let check = "a call without key or token is refused";
    let body = show_request(arguments, request_id);
    match endpoints.anonymous.deliver(&body).await {
        Delivery::Refused { code, .. } if code == "http401" || code == "http403" => Checked {
            check,
            held: true,
            detail: format!("refused ({})", code.trim_start_matches("http")),
        },
        Delivery::Result(result) if error_code(&result) == Some("unauthenticatedCaller") => {
            Checked {
                check,
                held: true,
                detail: "refused by the handler (unauthenticatedCaller)".to_owned(),
            }
        }
        delivery @ Delivery::Result(_) => Checked {
            check,
            held: false,
            detail: format!(
                "{}: anyone who can reach the URL can call it; switch on the function key \
                 (authLevel function) and Entra authentication (DEPLOY.md)",
                describe(&delivery)
            ),
        },
        delivery => Checked {
            check,
            held: false,
            detail: describe(&delivery),
        },
    }
}

async fn show(endpoints: &Endpoints, arguments: &SmokeArgs, request_id: &str) -> Checked {
    let check = "the test user is shown";
    let delivery = endpoints
        .http
        .deliver(&show_request(arguments, request_id))
        .await;
    expect_success(check, &delivery, |result| {
        let user = result["user"]["userPrincipalName"]
            .as_str()
            .unwrap_or("(no user)");
        let caller = match result["caller"]["name"].as_str() {
            Some(name) => format!(", caller recorded as {name}"),
            None => ", no Entra caller recorded".to_owned(),
        };
        format!(
            "{user}: {} phone method(s){caller}",
            result["methods"]["phone"].as_array().map_or(0, Vec::len)
        )
    })
}

async fn dry_run(endpoints: &Endpoints, arguments: &SmokeArgs, request_id: &str) -> Checked {
    let check = "a change for the test user is planned (dry run)";
    let body = json!({
        "UserId": arguments.test_user,
        "phoneNumber": arguments.test_number,
        "dryRun": true,
        "requestId": request_id,
        "CallerName": "mfa-phone-handler smoke",
    });
    let delivery = endpoints.http.deliver(&body).await;
    let mut checked = expect_success(check, &delivery, |result| {
        format!(
            "would be {} (nothing written)",
            result["action"].as_str().unwrap_or("?")
        )
    });
    if let Delivery::Result(result) = &delivery
        && result["dryRun"] != json!(true)
    {
        checked.held = false;
        checked.detail = "the result does not say dryRun: true".to_owned();
    }
    checked
}

async fn privileged(endpoints: &Endpoints, arguments: &SmokeArgs, request_id: &str) -> Checked {
    let check = "the privileged account is refused";
    let body = json!({
        "UserId": arguments.privileged_user,
        "phoneNumber": arguments.test_number,
        "dryRun": true,
        "requestId": request_id,
        "CallerName": "mfa-phone-handler smoke",
    });
    match endpoints.http.deliver(&body).await {
        Delivery::Result(result) if error_code(&result) == Some("protectedUser") => Checked {
            check,
            held: true,
            detail: "protectedUser".to_owned(),
        },
        delivery => Checked {
            check,
            held: false,
            detail: format!(
                "{}, not protectedUser: the app would change this account's phone; check that \
                 the account holds a privileged role and that MFA_ALLOW_PRIVILEGED_TARGETS is not \
                 true",
                describe(&delivery)
            ),
        },
    }
}

async fn queued(endpoints: &Endpoints, arguments: &SmokeArgs, request_id: &str) -> Checked {
    let check = "a queue message comes back as its result";
    let Some(queue) = &endpoints.queue else {
        return Checked {
            check,
            held: false,
            detail: "no queue given".to_owned(),
        };
    };
    let delivery = queue
        .deliver(request_id, &show_request(arguments, request_id))
        .await;
    let checked = match delivery {
        Delivery::Queued(result, ack) => {
            // The result is this check's own: it may be taken off the results queue.
            let _ = ack.send(());
            expect_success(check, &Delivery::Result(result), |_| {
                "the result came back on mfa-phone-results".to_owned()
            })
        }
        other => expect_success(check, &other, |_| String::new()),
    };
    queue.close().await;
    checked
}

/// Builds the `show` request for the test user.
fn show_request(arguments: &SmokeArgs, request_id: &str) -> Value {
    json!({
        "UserId": arguments.test_user,
        "operation": "show",
        "requestId": request_id,
        "CallerName": "mfa-phone-handler smoke",
    })
}

/// Judges a check held when the delivery is a succeeded result, with the detail from `say`, or
/// with what came instead.
fn expect_success(
    check: &'static str,
    delivery: &Delivery,
    say: impl FnOnce(&Value) -> String,
) -> Checked {
    match delivery {
        Delivery::Result(result) if result["status"] == "succeeded" => Checked {
            check,
            held: true,
            detail: say(result),
        },
        other => Checked {
            check,
            held: false,
            detail: describe(other),
        },
    }
}

fn error_code(result: &Value) -> Option<&str> {
    result["error"]["code"].as_str()
}

/// Says what a delivery came to, in a line.
fn describe(delivery: &Delivery) -> String {
    match delivery {
        Delivery::Result(result) | Delivery::Queued(result, _) => match error_code(result) {
            Some(code) => format!(
                "failed with {code}: {}",
                result["error"]["message"].as_str().unwrap_or_default()
            ),
            None => format!(
                "{} ({})",
                result["status"].as_str().unwrap_or("?"),
                result["action"].as_str().unwrap_or("?")
            ),
        },
        Delivery::Transient { code, detail, .. } if code == "endpointUnreachable" => {
            format!("{UNREACHABLE}: {detail}")
        }
        Delivery::Transient { code, detail, .. } | Delivery::Refused { code, detail } => {
            format!("{code}: {detail}")
        }
        Delivery::Pending { detail } | Delivery::Unmatched { detail } => detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_number_is_a_valid_mobile_number_by_the_numbering_plan() {
        let number = crate::phone::PhoneNumber::parse(TEST_NUMBER).expect("a valid number");
        assert_eq!(number.line_kind(), crate::phone::LineKind::Mobile);
    }
}
