//! The checks of your tools and sign-ins: azd's version and alpha switch, az's and azd's
//! sign-in, one subscription for both, the azd environment itself, what the package step
//! needs, and the cloud.

use super::{Check, selected, tenant};
use crate::preflight::facts::{Environment, Facts, Gap, PackageZip, Principal};
use crate::preflight::versions::{Version, required_azd};

const INSTALL_AZD: &str = "curl -fsSL https://aka.ms/install-azd.sh | bash";

/// azd is at least the version `azure.yaml` requires.
pub(super) fn azd_version(facts: &Facts) -> Check {
    const NAME: &str = "azd version";
    let required = match facts.azure_yaml.as_ref().map(|text| required_azd(text)) {
        Err(gap) => return Check::gap(NAME, gap),
        Ok(Err(why)) => return Check::unknown(NAME, format!("azure.yaml: {why}")),
        Ok(Ok(required)) => required,
    };
    let installed = match &facts.azd_version {
        Err(Gap::Missing(_)) => {
            return Check::fail(NAME, "azd is not installed", INSTALL_AZD);
        }
        Err(gap) => return Check::gap(NAME, gap),
        Ok(text) => match Version::parse(text) {
            Some(version) => version,
            None => {
                return Check::unknown(NAME, format!("azd says its version is {text:?}"));
            }
        },
    };
    match required {
        None => Check::ok(
            NAME,
            format!("azd {installed}; azure.yaml requires no version"),
        ),
        Some(required) if installed < required => Check::fail(
            NAME,
            format!(
                "azd {installed} is older than azure.yaml requires (>= {required}): earlier \
                 releases pass the list settings to Bicep as text (Azure/azure-dev#6694)"
            ),
            INSTALL_AZD,
        ),
        Some(required) => Check::ok(
            NAME,
            format!("azd {installed} (azure.yaml requires >= {required})"),
        ),
    }
}

/// `language: custom` is allowed by the variable azd reads first, then `alpha.all`, then
/// `alpha.language.custom`.
pub(super) fn alpha(facts: &Facts) -> Check {
    const NAME: &str = "azd alpha feature";
    const FIX: &str = "azd config set alpha.language.custom on";
    let alpha = match &facts.alpha {
        Ok(alpha) => alpha,
        Err(gap) => return Check::gap(NAME, gap),
    };
    if let Some((name, value)) = &alpha.variable {
        match go_bool(value) {
            Some(true) => return Check::ok(NAME, format!("{name} is {value}")),
            Some(false) => {
                return Check::fail(
                    NAME,
                    format!(
                        "{name} is {value}, which turns language.custom off whatever azd's settings say"
                    ),
                    format!("unset {name}; {FIX}"),
                );
            }
            // azd ignores a value it cannot read, and goes on to its settings.
            None => {}
        }
    }
    let on = |value: &Option<String>| {
        value
            .as_deref()
            .is_some_and(|value| value.eq_ignore_ascii_case("on"))
    };
    if on(&alpha.all) {
        Check::ok(NAME, "alpha.all is on")
    } else if on(&alpha.custom) {
        Check::ok(NAME, "alpha.language.custom is on")
    } else {
        Check::fail(
            NAME,
            "alpha.language.custom is not on: azd refuses the project's `language: custom` \
             service until it is",
            FIX,
        )
    }
}

/// Reads a boolean as Go's `strconv.ParseBool` reads it, which azd uses for the variable.
fn go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// az is signed in: without it nothing in Azure or Entra can be checked.
pub(super) fn az_sign_in(facts: &Facts) -> Check {
    const NAME: &str = "az sign-in";
    match &facts.account {
        Ok(account) => Check::ok(
            NAME,
            format!(
                "{} {} in tenant {}, subscription {} ({})",
                match account.principal {
                    Principal::User => "user",
                    Principal::ServicePrincipal => "service principal",
                },
                account.user,
                account.tenant_id,
                account.subscription_name,
                account.subscription_id
            ),
        ),
        Err(gap @ Gap::Missing(_)) => Check::gap(NAME, gap),
        Err(gap) => Check::gap(NAME, gap).with_fix(format!("az login --tenant {}", tenant(facts))),
    }
}

/// azd is signed in (`azd auth login --check-status`).
pub(super) fn azd_sign_in(facts: &Facts) -> Check {
    const NAME: &str = "azd sign-in";
    match &facts.azd_signed_in {
        Ok(true) => Check::ok(NAME, "azd gets tokens"),
        Ok(false) => Check::fail(
            NAME,
            "azd is not signed in",
            format!("azd auth login --tenant-id {}", tenant(facts)),
        ),
        Err(gap) => Check::gap(NAME, gap),
    }
}

/// The environment's subscription and tenant are az's.
pub(super) fn one_subscription(facts: &Facts) -> Check {
    const NAME: &str = "one subscription";
    let values = match selected(facts) {
        Ok((_, values)) => values,
        Err(why) => return Check::unknown(NAME, why),
    };
    let account = match &facts.account {
        Ok(account) => account,
        Err(gap) => return Check::gap(NAME, gap),
    };
    let Some(subscription) = values.get("AZURE_SUBSCRIPTION_ID") else {
        return Check::unknown(
            NAME,
            "the environment names no subscription (see environment)",
        );
    };
    if !subscription.eq_ignore_ascii_case(&account.subscription_id) {
        return Check::fail(
            NAME,
            format!(
                "the environment deploys into subscription {subscription}, az uses {}",
                account.subscription_id
            ),
            format!("az account set --subscription {subscription}"),
        );
    }
    match values.get("AZURE_TENANT_ID") {
        Some(tenant) if !tenant.eq_ignore_ascii_case(&account.tenant_id) => Check::fail(
            NAME,
            format!(
                "the environment's tenant is {tenant}, az is signed in to {}",
                account.tenant_id
            ),
            format!("az login --tenant {tenant}"),
        ),
        _ => Check::ok(
            NAME,
            format!(
                "az and the environment use subscription {subscription} in tenant {}",
                account.tenant_id
            ),
        ),
    }
}

/// There is an azd environment, with a region and a subscription.
pub(super) fn environment(facts: &Facts) -> Check {
    const NAME: &str = "environment";
    let subscription = facts
        .account
        .as_ref()
        .map_or("<id>", |account| account.subscription_id.as_str());
    let new = format!("azd env new <name> --subscription {subscription} --location <region>");
    match &facts.environment {
        Err(gap) => Check::gap(NAME, gap),
        Ok(Environment::NoneSelected { existing }) if existing.is_empty() => {
            Check::fail(NAME, "there is no azd environment here", new)
        }
        Ok(Environment::NoneSelected { existing }) => Check::fail(
            NAME,
            format!(
                "no azd environment is selected (there are: {})",
                existing.join(", ")
            ),
            "azd env select <name>",
        ),
        Ok(Environment::NotFound { name, .. }) => Check::fail(
            NAME,
            format!("there is no azd environment {name}"),
            new.replace("<name>", name),
        ),
        Ok(Environment::Selected { name, values }) => {
            match (
                values.get("AZURE_LOCATION"),
                values.get("AZURE_SUBSCRIPTION_ID"),
            ) {
                (None, _) => Check::fail(
                    NAME,
                    format!("{name}: AZURE_LOCATION is empty"),
                    "azd env set AZURE_LOCATION <region>",
                ),
                (_, None) => Check::fail(
                    NAME,
                    format!("{name}: AZURE_SUBSCRIPTION_ID is empty"),
                    format!("azd env set AZURE_SUBSCRIPTION_ID {subscription}"),
                ),
                (Some(location), Some(subscription)) => Check::ok(
                    NAME,
                    format!("{name}: region {location}, subscription {subscription}"),
                ),
            }
        }
    }
}

/// There is something to deploy: the release zip `scripts/package.sh` accepts, or what a build
/// needs.
pub(super) fn package(facts: &Facts) -> Check {
    const NAME: &str = "package";
    const FIX: &str = "azd env set MFA_PACKAGE_ZIP ~/mfa-release/mfa-phone-handler.zip";
    let package = &facts.package;
    match &package.zip {
        Some(Ok(PackageZip::Accepted)) => {
            return Check::ok(NAME, "scripts/package.sh accepts MFA_PACKAGE_ZIP");
        }
        Some(Ok(PackageZip::Refused(said))) => {
            return Check::fail(
                NAME,
                format!("scripts/package.sh refuses MFA_PACKAGE_ZIP: {said}"),
                FIX,
            );
        }
        Some(Err(gap)) => return Check::gap(NAME, gap),
        None => {}
    }
    let mut lacking = Vec::new();
    if (package.os.as_str(), package.arch.as_str()) != ("linux", "x86_64") {
        lacking.push(format!(
            "Linux x86-64 (this is {} {})",
            package.os, package.arch
        ));
    }
    for (tool, fact) in [("cargo", &package.cargo), ("python3", &package.python3)] {
        match fact {
            Ok(()) => {}
            Err(Gap::Missing(_)) => lacking.push(tool.to_owned()),
            Err(gap) => return Check::gap(NAME, gap),
        }
    }
    let required = Version::parse(&package.required_rust);
    match &package.rustc {
        Err(Gap::Missing(_)) => lacking.push(format!("rustc {}", package.required_rust)),
        Err(gap) => return Check::gap(NAME, gap),
        Ok(text) => match (Version::parse(text), required) {
            (Some(found), Some(required)) if found < required => lacking.push(format!(
                "rustc {} or later (this is {text})",
                package.required_rust
            )),
            (Some(_), Some(_)) => {}
            _ => return Check::unknown(NAME, format!("rustc says its version is {text:?}")),
        },
    }
    if lacking.is_empty() {
        Check::ok(
            NAME,
            "no MFA_PACKAGE_ZIP: azd up builds the package here (cargo, rustc, python3 found)",
        )
    } else {
        Check::fail(
            NAME,
            format!(
                "no MFA_PACKAGE_ZIP, and a build here lacks {}",
                lacking.join(", ")
            ),
            FIX,
        )
    }
}

/// The cloud is the public cloud, and `GRAPH_ENDPOINT` is its Graph.
pub(super) fn cloud(facts: &Facts) -> Check {
    const NAME: &str = "cloud";
    const NATIONAL: &str = "DEPLOY.md, National clouds";
    let cloud = match &facts.cloud {
        Ok(cloud) => cloud,
        Err(gap) => return Check::gap(NAME, gap),
    };
    let trimmed = |url: &str| url.trim_end_matches('/').to_ascii_lowercase();
    let graph = selected(facts)
        .ok()
        .and_then(|(_, values)| values.get("GRAPH_ENDPOINT"))
        .unwrap_or("https://graph.microsoft.com");
    if cloud.name != "AzureCloud" {
        Check::warn(
            NAME,
            format!(
                "az is set to {}: the template was written for the public cloud",
                cloud.name
            ),
            format!(
                "az cloud set --name AzureCloud (to deploy to the public cloud; to stay in {}: \
                 {NATIONAL})",
                cloud.name
            ),
        )
    } else if trimmed(graph) != trimmed(&cloud.graph) {
        Check::warn(
            NAME,
            format!(
                "GRAPH_ENDPOINT is {graph}, the cloud's Graph is {}",
                cloud.graph
            ),
            format!(
                "azd env set GRAPH_ENDPOINT {}",
                cloud.graph.trim_end_matches('/')
            ),
        )
    } else {
        Check::ok(NAME, format!("AzureCloud, Graph {graph}"))
    }
}
