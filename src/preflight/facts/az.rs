//! Asks Azure, through `az`, for the signed-in account and cloud, the regions with Flex
//! Consumption and the runtimes a region offers there, and on the environment's subscription
//! your effective permissions and the resource providers' registration. Only `show`, `list`
//! and `az rest --method get` are run.

use super::{Account, Asking, Cloud, Fact, Gap, Principal, Provider, Runtime, Unanswered};
use super::{az_json, parsed};
use crate::azure_rbac::Permission;
use crate::preflight::runner::Runner;

/// How many pages of an ARM list are read.
const PAGES: usize = 20;

/// Reads the signed-in account with `az account show`.
pub(super) fn account(runner: &Runner) -> Fact<Account> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        id: String,
        #[serde(default)]
        name: String,
        tenant_id: String,
        #[serde(default)]
        environment_name: String,
        user: User,
    }
    #[derive(serde::Deserialize)]
    struct User {
        name: String,
        #[serde(rename = "type")]
        kind: String,
    }
    let text = az_json(runner, &["account", "show"]).map_err(|gap| match gap {
        Gap::Unknown(why) if why.contains("az login") => Gap::Unknown(format!(
            "az is not signed in ({})",
            why.split_once("): ").map_or(why.as_str(), |(_, said)| said)
        )),
        gap => gap,
    })?;
    let answer: Answer = parsed(&text, "az account show")?;
    Ok(Account {
        subscription_id: answer.id,
        subscription_name: answer.name,
        tenant_id: answer.tenant_id,
        user: answer.user.name,
        principal: if answer.user.kind == "servicePrincipal" {
            Principal::ServicePrincipal
        } else {
            Principal::User
        },
        cloud: answer.environment_name,
    })
}

/// Reads the signed-in cloud and its endpoints with `az cloud show`.
pub(super) fn cloud(runner: &Runner) -> Fact<Cloud> {
    #[derive(serde::Deserialize)]
    struct Answer {
        name: String,
        endpoints: Endpoints,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Endpoints {
        resource_manager: String,
        microsoft_graph_resource_id: String,
    }
    let text = az_json(runner, &["cloud", "show"])?;
    let answer: Answer = parsed(&text, "az cloud show")?;
    let slashed = |url: String| {
        if url.ends_with('/') {
            url
        } else {
            format!("{url}/")
        }
    };
    Ok(Cloud {
        name: answer.name,
        resource_manager: slashed(answer.endpoints.resource_manager),
        graph: slashed(answer.endpoints.microsoft_graph_resource_id),
    })
}

/// The region facts.
pub(super) struct Region {
    pub flex: Fact<Vec<String>>,
    pub zone: Option<Fact<Vec<String>>>,
    pub runtimes: Fact<Vec<Runtime>>,
}

impl Unanswered for Region {
    fn unanswered() -> Region {
        Region {
            flex: Fact::unanswered(),
            zone: None,
            runtimes: Fact::unanswered(),
        }
    }
}

/// Reads the regions with Flex Consumption (zone-redundant too, when `MFA_ZONE_REDUNDANT` is
/// on), and the Flex Consumption runtimes of the environment's region.
pub(super) fn region(asking: &Asking<'_>) -> Region {
    let runner = asking.runner;
    let locations = |zone_redundant: bool| -> Fact<Vec<String>> {
        asking.signed_in()?;
        let mut args = vec!["functionapp", "list-flexconsumption-locations"];
        if zone_redundant {
            args.push("--zone-redundant");
        }
        #[derive(serde::Deserialize)]
        struct Location {
            name: String,
        }
        let text = az_json(runner, &args)?;
        let found: Vec<Location> = parsed(&text, "az functionapp list-flexconsumption-locations")?;
        Ok(found.into_iter().map(|location| location.name).collect())
    };
    let zone = asking
        .values
        .on("MFA_ZONE_REDUNDANT")
        .then(|| locations(true));
    Region {
        flex: locations(false),
        zone,
        runtimes: runtimes(asking),
    }
}

/// Reads the FC1 runtimes in the region's Functions stacks (`stack=custom`).
fn runtimes(asking: &Asking<'_>) -> Fact<Vec<Runtime>> {
    asking.signed_in()?;
    let Some(location) = asking.values.get("AZURE_LOCATION") else {
        return Err(Gap::Unknown(
            "not asked: AZURE_LOCATION is empty".to_owned(),
        ));
    };
    if !location.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
        return Err(Gap::Unknown(format!(
            "not asked: AZURE_LOCATION {location:?} is no region name"
        )));
    }
    let (arm, _) = asking.roots();
    let url = format!(
        "{arm}providers/Microsoft.Web/locations/{location}/functionAppStacks\
         ?api-version=2020-10-01&stack=custom&sku=FC1&removeHiddenStacks=true"
    );
    let text = az_json(asking.runner, &["rest", "--method", "get", "--url", &url])?;
    let answer: serde_json::Value = parsed(&text, "the region's Functions stacks")?;
    Ok(flex_runtimes(&answer))
}

/// Finds every FC1 runtime in a `functionAppStacks` answer
/// (`value[].properties.majorVersions[].minorVersions[].stackSettings.linuxRuntimeSettings.Sku[]`,
/// where `skuCode` is FC1).
fn flex_runtimes(answer: &serde_json::Value) -> Vec<Runtime> {
    let all = |value: &serde_json::Value, key: &str| -> Vec<serde_json::Value> {
        value
            .get(key)
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for stack in all(answer, "value") {
        let properties = stack.get("properties").cloned().unwrap_or_default();
        for major in all(&properties, "majorVersions") {
            for minor in all(&major, "minorVersions") {
                let linux = minor
                    .pointer("/stackSettings/linuxRuntimeSettings")
                    .cloned()
                    .unwrap_or_default();
                let skus = [all(&linux, "Sku"), all(&linux, "sku")].concat();
                for sku in skus {
                    if sku.get("skuCode").and_then(serde_json::Value::as_str) != Some("FC1") {
                        continue;
                    }
                    let runtime = sku.pointer("/functionAppConfigProperties/runtime");
                    let text = |key: &str| {
                        runtime
                            .and_then(|runtime| runtime.get(key))
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    found.push(Runtime {
                        name: text("name"),
                        version: text("version"),
                    });
                }
            }
        }
    }
    found
}

/// The subscription facts.
pub(super) struct Subscription {
    pub permissions: Fact<Vec<Permission>>,
    pub providers: Fact<Vec<Provider>>,
}

impl Unanswered for Subscription {
    fn unanswered() -> Subscription {
        Subscription {
            permissions: Fact::unanswered(),
            providers: Fact::unanswered(),
        }
    }
}

/// Reads your effective permissions on the environment's subscription, and its resource
/// providers.
pub(super) fn subscription(asking: &Asking<'_>) -> Subscription {
    let subscription = asking.signed_in_id("AZURE_SUBSCRIPTION_ID", "subscription id");
    match subscription {
        Err(gap) => Subscription {
            permissions: Err(gap.clone()),
            providers: Err(gap),
        },
        Ok(id) => Subscription {
            permissions: permissions(asking, id),
            providers: providers(asking.runner, id),
        },
    }
}

/// Reads `GET /subscriptions/{id}/providers/Microsoft.Authorization/permissions`, every page.
fn permissions(asking: &Asking<'_>, subscription: &str) -> Fact<Vec<Permission>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        #[serde(default)]
        value: Vec<Permission>,
        next_link: Option<String>,
    }
    let (arm, _) = asking.roots();
    let mut url = Some(format!(
        "{arm}subscriptions/{subscription}/providers/Microsoft.Authorization/permissions\
         ?api-version=2022-04-01"
    ));
    let mut found = Vec::new();
    for _ in 0..PAGES {
        let Some(next) = url.take() else { break };
        let text = az_json(asking.runner, &["rest", "--method", "get", "--url", &next])?;
        let page: Page = parsed(&text, "your permissions on the subscription")?;
        found.extend(page.value);
        url = page.next_link.filter(|link| link.starts_with(&arm));
    }
    Ok(found)
}

/// Lists each namespace and its registration state on the subscription (`az provider list`).
fn providers(runner: &Runner, subscription: &str) -> Fact<Vec<Provider>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        namespace: String,
        #[serde(default)]
        registration_state: String,
    }
    let text = az_json(
        runner,
        &[
            "provider",
            "list",
            "--subscription",
            subscription,
            "--query",
            "[].{namespace:namespace, registrationState:registrationState}",
        ],
    )?;
    let answer: Vec<Answer> = parsed(&text, "az provider list")?;
    Ok(answer
        .into_iter()
        .map(|provider| Provider {
            namespace: provider.namespace,
            state: provider.registration_state,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flex_runtimes_are_read_from_the_stacks_answer() {
        let answer = serde_json::json!({"value": [{
            "name": "custom",
            "properties": {"majorVersions": [{"minorVersions": [{"stackSettings": {
                "linuxRuntimeSettings": {"Sku": [
                    {"skuCode": "Y1"},
                    {"skuCode": "FC1", "functionAppConfigProperties": {
                        "runtime": {"name": "custom", "version": "1.0"}}}
                ]}
            }}]}]}
        }]});
        assert_eq!(
            flex_runtimes(&answer),
            vec![Runtime {
                name: "custom".to_owned(),
                version: "1.0".to_owned()
            }]
        );
        assert_eq!(flex_runtimes(&serde_json::json!({"value": []})), Vec::new());
    }
}
