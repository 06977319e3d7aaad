//! The checks against Azure: a region with Flex Consumption and the custom handler runtime,
//! your permissions on the subscription, and its resource providers.

use super::{Check, selected};
use crate::azure_rbac::allows;
use crate::preflight::facts::Facts;

/// What `azd provision` does on the subscription, and so must be allowed: the custom role that
/// lets the app's identity read role assignments (who controls the app) is a role definition.
pub const NEEDED_ACTIONS: [&str; 4] = [
    "Microsoft.Resources/subscriptions/resourceGroups/write",
    "Microsoft.Resources/deployments/write",
    "Microsoft.Authorization/roleAssignments/write",
    "Microsoft.Authorization/roleDefinitions/write",
];

/// The resource providers the template's resources belong to.
pub const PROVIDERS: [&str; 6] = [
    "Microsoft.Web",
    "Microsoft.App",
    "Microsoft.Storage",
    "Microsoft.OperationalInsights",
    "Microsoft.Insights",
    "Microsoft.ManagedIdentity",
];

/// How many regions a failing region check names.
const REGIONS_NAMED: usize = 8;

/// The region offers Flex Consumption (zone-redundant, when asked for) and FC1 `custom` 1.0.
pub(super) fn region(facts: &Facts) -> Check {
    const NAME: &str = "region";
    const FIX: &str = "azd env set AZURE_LOCATION <a region that offers both>";
    let values = match selected(facts) {
        Ok((_, values)) => values,
        Err(why) => return Check::unknown(NAME, why),
    };
    let Some(location) = values.get("AZURE_LOCATION") else {
        return Check::unknown(NAME, "AZURE_LOCATION is empty (see environment)");
    };
    let wanted = location.to_ascii_lowercase().replace(' ', "");
    let flex = match &facts.flex_regions {
        Ok(regions) => regions,
        Err(gap) => return Check::gap(NAME, gap),
    };
    if !flex
        .iter()
        .any(|region| region.eq_ignore_ascii_case(&wanted))
    {
        return Check::fail(
            NAME,
            format!(
                "{location} offers no Flex Consumption; regions that do: {}",
                named(flex)
            ),
            FIX,
        );
    }
    let zone = match &facts.zone_regions {
        None => "",
        Some(Err(gap)) => return Check::gap(NAME, gap),
        Some(Ok(zoned))
            if !zoned
                .iter()
                .any(|region| region.eq_ignore_ascii_case(&wanted)) =>
        {
            return Check::fail(
                NAME,
                format!(
                    "MFA_ZONE_REDUNDANT is on, and {location} offers no zone-redundant Flex \
                     Consumption; regions that do: {}",
                    named(zoned)
                ),
                FIX,
            );
        }
        Some(Ok(_)) => " (zone-redundant)",
    };
    match &facts.flex_runtimes {
        Err(gap) => Check::gap(NAME, gap),
        Ok(runtimes)
            if runtimes
                .iter()
                .any(|runtime| runtime.name == "custom" && runtime.version == "1.0") =>
        {
            Check::ok(
                NAME,
                format!(
                    "{location} offers Flex Consumption{zone} and the custom handler runtime (custom 1.0)"
                ),
            )
        }
        Ok(_) => Check::fail(
            NAME,
            format!(
                "{location} offers Flex Consumption but not the custom handler runtime (FC1 \
                 custom 1.0) in its Functions stacks; regions with Flex Consumption: {}",
                named(flex)
            ),
            FIX,
        ),
    }
}

/// Names the first few of `regions`, for a message.
fn named(regions: &[String]) -> String {
    let mut some: Vec<&str> = regions
        .iter()
        .take(REGIONS_NAMED)
        .map(String::as_str)
        .collect();
    if regions.len() > REGIONS_NAMED {
        some.push("…");
    }
    some.join(", ")
}

/// You may create the resource group, the deployment and the role assignments.
pub(super) fn permissions(facts: &Facts) -> Check {
    const NAME: &str = "Azure permissions";
    let subscription = match selected(facts) {
        Ok((_, values)) => values.get("AZURE_SUBSCRIPTION_ID").unwrap_or("<id>"),
        Err(why) => return Check::unknown(NAME, why),
    };
    let permissions = match &facts.azure_permissions {
        Ok(permissions) => permissions,
        Err(gap) => return Check::gap(NAME, gap),
    };
    let lacking: Vec<&str> = NEEDED_ACTIONS
        .into_iter()
        .filter(|action| !allows(permissions, action))
        .collect();
    if lacking.is_empty() {
        return Check::ok(
            NAME,
            format!(
                "you may create resource groups, deployments, role definitions and role \
                 assignments in {subscription}"
            ),
        );
    }
    let me = facts
        .me
        .as_ref()
        .map_or("<your object id>", |me| me.id.as_str());
    Check::fail(
        NAME,
        format!(
            "on subscription {subscription} you lack {} (ask an Owner; or Contributor and User \
             Access Administrator)",
            lacking.join(", ")
        ),
        format!(
            "az role assignment create --assignee {me} --role Owner --scope /subscriptions/{subscription}"
        ),
    )
}

/// The template's resource providers are registered (a deployment registers them when you may).
pub(super) fn providers(facts: &Facts) -> Check {
    const NAME: &str = "resource providers";
    let providers = match &facts.providers {
        Ok(providers) => providers,
        Err(gap) => return Check::gap(NAME, gap),
    };
    let unregistered: Vec<&str> = PROVIDERS
        .into_iter()
        .filter(|namespace| {
            !providers.iter().any(|provider| {
                provider.namespace.eq_ignore_ascii_case(namespace)
                    && provider.state.eq_ignore_ascii_case("Registered")
            })
        })
        .collect();
    if unregistered.is_empty() {
        return Check::ok(NAME, format!("{} registered", PROVIDERS.join(", ")));
    }
    Check::warn(
        NAME,
        format!(
            "not registered: {} (the deployment registers them if you may register providers)",
            unregistered.join(", ")
        ),
        unregistered
            .iter()
            .map(|namespace| format!("az provider register --namespace {namespace} --wait"))
            .collect::<Vec<_>>()
            .join(" && "),
    )
}
