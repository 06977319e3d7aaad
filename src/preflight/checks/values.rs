//! The checks of the azd environment's values on their own: placeholders left, lists and
//! choices that the template would refuse or misread, the writers the deployment requires,
//! protected groups that nothing would read, the extra app settings, and the deployer's
//! standing queue rights. They name settings, and show no value but ids.

use serde_json::Value;

use super::{Check, selected};
use crate::preflight::facts::Facts;
use crate::preflight::settings::{
    CHOICES, EXTRA_APP_SETTINGS, ID_LISTS, MOST_ALLOWED_PRINCIPALS, ORIGINS, SWITCHES,
    TEMPLATE_OWNED_PREFIXES, TEMPLATE_OWNED_SETTINGS, Values, WEAKENING_SETTINGS,
    holds_placeholder, is_https_origin, is_https_url, strings,
};

/// No `<…>` or `[[…]]` is left in the settings the deployment reads.
pub(super) fn placeholders(facts: &Facts) -> Check {
    const NAME: &str = "placeholders";
    let values = match selected(facts) {
        Ok((_, values)) => values,
        Err(why) => return Check::unknown(NAME, why),
    };
    let left = placeheld(values);
    match left.first() {
        None => Check::ok(NAME, "no value holds <…> or [[…]]"),
        Some(first) => Check::fail(
            NAME,
            format!("still a placeholder: {}", left.join(", ")),
            format!("azd env set {first} <value>"),
        ),
    }
}

/// Lists the names of the settings that still hold a placeholder.
fn placeheld(values: &Values) -> Vec<&str> {
    values
        .iter()
        .filter(|(name, _)| {
            name.starts_with("AZURE_") || name.starts_with("MFA_") || *name == "GRAPH_ENDPOINT"
        })
        .filter(|(_, value)| holds_placeholder(value))
        .map(|(name, _)| name)
        .collect()
}

/// Every list set is a JSON array of GUIDs (origins for CORS), and at most 13 principals.
pub(super) fn lists(facts: &Facts) -> Check {
    const NAME: &str = "lists";
    let values = match selected(facts) {
        Ok((_, values)) => values,
        Err(why) => return Check::unknown(NAME, why),
    };
    let left = placeheld(values);
    let mut wrong = Vec::new();
    let mut fix = None;
    for (name, _) in ID_LISTS {
        if left.contains(&name) {
            continue;
        }
        match values.ids(name) {
            Err(why) => {
                wrong.push(format!("{name} is no JSON array of object ids ({why})"));
                fix.get_or_insert(format!("azd env set {name} '[\"<object id>\"]'"));
            }
            Ok(ids)
                if name == "MFA_ALLOWED_PRINCIPAL_IDS" && ids.len() > MOST_ALLOWED_PRINCIPALS =>
            {
                wrong.push(format!(
                    "{name} has {} ids, built-in authentication takes at most {MOST_ALLOWED_PRINCIPALS}: put them in a group (MFA_ALLOWED_GROUP_IDS)",
                    ids.len()
                ));
                fix.get_or_insert(format!("azd env set {name} '[\"<object id>\"]'"));
            }
            Ok(_) => {}
        }
    }
    if let Some(text) = values.get(ORIGINS).filter(|_| !left.contains(&ORIGINS)) {
        let why = match strings(text) {
            Err(why) => Some(why),
            Ok(origins) => origins
                .iter()
                .position(|origin| !is_https_origin(origin))
                .map(|at| format!("item {} is no https:// origin", at + 1)),
        };
        if let Some(why) = why {
            wrong.push(format!(
                "{ORIGINS} is no JSON array of https:// origins ({why})"
            ));
            fix.get_or_insert(format!(
                "azd env set {ORIGINS} '[\"https://portal.azure.com\"]'"
            ));
        }
    }
    match fix {
        None => Check::ok(NAME, "every list set is a JSON array the template reads"),
        Some(fix) => Check::fail(NAME, wrong.join("; "), fix),
    }
}

/// Switches are `true` or `false`, choices are one of their values, and `GRAPH_ENDPOINT` is an
/// https URL.
pub(super) fn values(facts: &Facts) -> Check {
    const NAME: &str = "values";
    let values = match selected(facts) {
        Ok((_, values)) => values,
        Err(why) => return Check::unknown(NAME, why),
    };
    let left = placeheld(values);
    let mut wrong: Vec<(String, String)> = Vec::new();
    for (name, _) in SWITCHES {
        if values.switch(name).is_none() && !left.contains(&name) {
            wrong.push((
                format!("{name} is neither true nor false"),
                format!("azd env set {name} <true|false>"),
            ));
        }
    }
    for (name, allowed) in CHOICES {
        if let Some(value) = values.get(name).filter(|_| !left.contains(&name))
            && !allowed.contains(&value)
        {
            wrong.push((
                format!("{name} is {value}, not one of {}", allowed.join(", ")),
                format!("azd env set {name} <{}>", allowed.join("|")),
            ));
        }
    }
    if let Some(url) = values
        .get("GRAPH_ENDPOINT")
        .filter(|_| !left.contains(&"GRAPH_ENDPOINT"))
        && !is_https_url(url)
    {
        wrong.push((
            "GRAPH_ENDPOINT is no https:// URL".to_owned(),
            "azd env set GRAPH_ENDPOINT https://graph.microsoft.com".to_owned(),
        ));
    }
    match wrong.first() {
        None => Check::ok(
            NAME,
            "switches, choices and GRAPH_ENDPOINT as the template takes them",
        ),
        Some((_, fix)) => Check::fail(
            NAME,
            wrong
                .iter()
                .map(|(why, _)| why.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            fix.clone(),
        ),
    }
}

/// With Entra authentication and the API's roles managed, there is at least one writer.
pub(super) fn writers(facts: &Facts) -> Check {
    const NAME: &str = "writers";
    const LIST: &str = "MFA_API_WRITER_PRINCIPAL_IDS";
    let values = match selected(facts) {
        Ok((_, values)) => values,
        Err(why) => return Check::unknown(NAME, why),
    };
    if !values.on("MFA_ENTRA_AUTHENTICATION") {
        return Check::skip(NAME, "Entra authentication is off");
    }
    if !values.on("MFA_MANAGE_API_ROLES") {
        return Check::skip(
            NAME,
            "the template does not assign the API's roles (MFA_MANAGE_API_ROLES)",
        );
    }
    match values.ids(LIST) {
        Ok(ids) if ids.is_empty() => Check::fail(
            NAME,
            format!("{LIST} is empty: the deployment would stop at api-roles-need-writers"),
            format!(
                "azd env set {LIST} \"[\\\"$(az ad signed-in-user show --query id -o tsv)\\\"]\""
            ),
        ),
        Ok(ids) => Check::ok(NAME, format!("{} in {LIST}", ids.len())),
        Err(_) => Check::unknown(NAME, format!("{LIST} cannot be read (see lists)")),
    }
}

/// Protected groups are set only when something reads group membership.
pub(super) fn protected_groups(facts: &Facts) -> Check {
    const NAME: &str = "protected groups";
    let values = match selected(facts) {
        Ok((_, values)) => values,
        Err(why) => return Check::unknown(NAME, why),
    };
    match values.ids("MFA_PROTECTED_GROUP_IDS") {
        Ok(ids) if ids.is_empty() => Check::skip(NAME, "MFA_PROTECTED_GROUP_IDS is empty"),
        Ok(_)
            if !values.on("MFA_PROTECTED_ACCOUNTS")
                && !values.on("MFA_METHOD_POLICY")
                && !values.on("MFA_READINESS_ENABLED") =>
        {
            Check::fail(
                NAME,
                "MFA_PROTECTED_GROUP_IDS is set while MFA_PROTECTED_ACCOUNTS, MFA_METHOD_POLICY \
                 and MFA_READINESS_ENABLED are all off: the app would get no \
                 GroupMember.Read.All to check the groups",
                "azd env set MFA_PROTECTED_ACCOUNTS true",
            )
        }
        Ok(ids) => Check::ok(
            NAME,
            format!("{} protected groups, and a role to read them", ids.len()),
        ),
        Err(_) => Check::unknown(NAME, "MFA_PROTECTED_GROUP_IDS cannot be read (see lists)"),
    }
}

/// Standing queue rights for the deployer are for test deployments.
pub(super) fn deployer_queue_access(facts: &Facts) -> Check {
    const NAME: &str = "deployer queue access";
    let values = match selected(facts) {
        Ok((_, values)) => values,
        Err(why) => return Check::unknown(NAME, why),
    };
    if values.on("MFA_DEPLOYER_QUEUE_ACCESS") {
        Check::warn(
            NAME,
            "MFA_DEPLOYER_QUEUE_ACCESS is on: your standing rights on the queues bypass Entra \
             authentication",
            "azd env set MFA_DEPLOYER_QUEUE_ACCESS false",
        )
    } else {
        Check::ok(NAME, "MFA_DEPLOYER_QUEUE_ACCESS is off")
    }
}

/// `MFA_EXTRA_APP_SETTINGS`, when set: a JSON object of strings (app settings are text) that
/// replaces none of the settings the template writes from its own parameters; a setting that
/// weakens a default check is a warning. Its values may be secrets: only names are shown.
pub(super) fn extra_app_settings(facts: &Facts) -> Check {
    let values = match selected(facts) {
        Ok((_, values)) => values,
        Err(why) => return Check::unknown(EXTRA_NAME, why),
    };
    let object = match extra_object(values) {
        Ok(Some(object)) => object,
        Ok(None) => return Check::ok(EXTRA_NAME, format!("{EXTRA_APP_SETTINGS} is not set")),
        Err(check) => return check,
    };
    replacing_the_template(&object).unwrap_or_else(|| weakening(&object))
}

const EXTRA_NAME: &str = "extra app settings";

/// Reads the extra settings as a JSON object of strings, `None` when unset, or the failure.
fn extra_object(values: &Values) -> Result<Option<serde_json::Map<String, Value>>, Check> {
    let Some(text) = values.get(EXTRA_APP_SETTINGS) else {
        // Set but blank is not unset to azd: it parses the empty text as JSON and stops.
        if values.iter().any(|(name, _)| name == EXTRA_APP_SETTINGS) {
            return Err(Check::fail(
                EXTRA_NAME,
                format!("{EXTRA_APP_SETTINGS} is set but empty: azd would stop reading it"),
                format!("azd env set {EXTRA_APP_SETTINGS} '{{}}'"),
            ));
        }
        return Ok(None);
    };
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return Err(Check::fail(
            EXTRA_NAME,
            format!(
                "{EXTRA_APP_SETTINGS} is no JSON object: the deployment would stop when azd \
                 reads it"
            ),
            format!("azd env set {EXTRA_APP_SETTINGS} '{{\"<SETTING>\": \"<value>\"}}'"),
        ));
    };
    let not_text: Vec<&str> = object
        .iter()
        .filter(|(_, value)| !value.is_string())
        .map(|(name, _)| name.as_str())
        .collect();
    if let Some(first) = not_text.first() {
        return Err(Check::fail(
            EXTRA_NAME,
            format!(
                "in {EXTRA_APP_SETTINGS}, {} not text (app settings are strings: write \
                 \"true\", \"30\")",
                not_text.join(", ")
            ),
            format!("azd env set {EXTRA_APP_SETTINGS} '{{\"{first}\": \"<value>\"}}'"),
        ));
    }
    Ok(Some(object))
}

/// Returns the failure when the extra settings name a setting the template writes itself.
fn replacing_the_template(object: &serde_json::Map<String, Value>) -> Option<Check> {
    let starts = |name: &str, prefix: &str| {
        name.get(..prefix.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
    };
    let exact = TEMPLATE_OWNED_SETTINGS
        .iter()
        .filter(|(setting, _)| object.keys().any(|name| name.eq_ignore_ascii_case(setting)))
        .map(|(setting, instead)| ((*setting).to_owned(), *instead));
    let by_prefix = object.keys().filter_map(|name| {
        TEMPLATE_OWNED_PREFIXES
            .iter()
            .find(|(prefix, _)| starts(name, prefix))
            .map(|(_, instead)| (name.clone(), *instead))
    });
    let owned: Vec<String> = exact
        .chain(by_prefix)
        .map(|(setting, instead)| match instead {
            Some(variable) => format!("{setting} (set {variable} instead)"),
            None => format!("{setting} (the template sets it)"),
        })
        .collect();
    (!owned.is_empty()).then(|| {
        Check::fail(
            EXTRA_NAME,
            format!(
                "{EXTRA_APP_SETTINGS} replaces what the template writes, so the handler's \
                 check would part from the platform's or the identity's: {}",
                owned.join(", ")
            ),
            format!("azd env set {EXTRA_APP_SETTINGS} '<the object without them>'"),
        )
    })
}

/// Warns of the extra settings that weaken a default check, and passes otherwise.
fn weakening(object: &serde_json::Map<String, Value>) -> Check {
    // Each value is read as the handler reads it: any spelling of yes or no, and a blank value
    // as the handler's own default (which for the queue's caller check is off).
    let weakening: Vec<String> = WEAKENING_SETTINGS
        .iter()
        .filter_map(|(setting, kept, default)| {
            let (_, value) = object
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(setting))?;
            let value = value.as_str().unwrap_or_default();
            let read = if value.trim().is_empty() {
                Some(*default)
            } else {
                crate::config::env::read_flag(value)
            };
            match read {
                Some(read) if read == *kept => None,
                Some(read) => Some(format!("{setting}={read}")),
                None => Some(format!(
                    "{setting} (not true or false: the handler would not start)"
                )),
            }
        })
        .collect();
    if weakening.is_empty() {
        Check::ok(
            EXTRA_NAME,
            format!(
                "{} setting(s), none replacing the template's own",
                object.len()
            ),
        )
    } else {
        Check::warn(
            EXTRA_NAME,
            format!(
                "{EXTRA_APP_SETTINGS} weakens a default check: {} (DEPLOY.md says when that is \
                 meant; the start-up log says so too)",
                weakening.join(", ")
            ),
            format!("azd env set {EXTRA_APP_SETTINGS} '<the object without them>'"),
        )
    }
}
