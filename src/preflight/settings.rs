//! Reads the azd environment's values for preflight: it knows which names are switches, lists
//! and choices (`infra/main.parameters.json`'s names, with the templates' defaults), and how a
//! value is read. Pure: it is handed the values, it never asks for them.
//!
//! The values may hold secrets (`azd env get-values` shows everything the environment holds):
//! [`Values`] never shows a value in its `Debug`, and nothing here puts one in a message.

use std::collections::BTreeMap;

/// The switches (Bicep `bool` parameters) and their defaults in `infra/main.parameters.json`.
pub const SWITCHES: [(&str, bool); 13] = [
    ("MFA_DEPLOYER_QUEUE_ACCESS", false),
    ("MFA_OWNER_SEARCH", true),
    ("MFA_USER_NOTIFICATIONS", false),
    ("MFA_MAIL_SEND_SCOPED_IN_EXCHANGE", false),
    ("MFA_GRANT_GRAPH_PERMISSIONS", true),
    ("MFA_ZONE_REDUNDANT", false),
    ("MFA_ENTRA_AUTHENTICATION", true),
    ("MFA_PROTECTED_ACCOUNTS", true),
    ("MFA_ALLOW_PRIVILEGED_TARGETS", false),
    ("MFA_METHOD_POLICY", true),
    ("MFA_REQUIRE_APP_ROLE", true),
    ("MFA_MANAGE_API_ROLES", true),
    ("MFA_READINESS_ENABLED", false),
];

/// The settings with a fixed set of values (Bicep `@allowed`).
pub const CHOICES: [(&str, &[&str]); 3] = [
    ("MFA_TELEPHONY", &["microsoft", "customerManaged"]),
    ("MFA_LAST_METHOD_REMOVAL", &["warn", "refuse"]),
    (
        "MFA_STORAGE_SKU",
        &[
            "Standard_LRS",
            "Standard_ZRS",
            "Standard_GRS",
            "Standard_GZRS",
        ],
    ),
];

/// A list of object ids, and what kind of directory object each id must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kinds {
    /// A user, a group or a service principal (who may be assigned an app role).
    Assignable,
    ServicePrincipal,
    Group,
    /// Any object of the tenant.
    Any,
    /// Client ids of applications, not object ids, which are not looked up.
    ClientIds,
}

/// The lists of GUIDs (Bicep `array` parameters), and what their ids must name.
pub const ID_LISTS: [(&str, Kinds); 7] = [
    ("MFA_API_WRITER_PRINCIPAL_IDS", Kinds::Assignable),
    ("MFA_API_READER_PRINCIPAL_IDS", Kinds::Assignable),
    ("MFA_ALLOWED_CLIENT_APPLICATIONS", Kinds::ClientIds),
    ("MFA_ALLOWED_PRINCIPAL_IDS", Kinds::Any),
    ("MFA_ALLOWED_GROUP_IDS", Kinds::Group),
    ("MFA_QUEUE_SENDER_PRINCIPAL_IDS", Kinds::ServicePrincipal),
    ("MFA_PROTECTED_GROUP_IDS", Kinds::Group),
];

/// The list of browser origins.
pub const ORIGINS: &str = "MFA_CORS_ALLOWED_ORIGINS";

/// More app settings, a JSON object merged after the template's own (`extraAppSettings`).
pub const EXTRA_APP_SETTINGS: &str = "MFA_EXTRA_APP_SETTINGS";

/// App settings the template writes from its own parameters, identity or resources, and the
/// azd variable that sets each instead (`None` when the template alone decides). Bicep's `union()`
/// lets a later object's value replace an earlier one's, so `extraAppSettings` would override
/// them silently, and the handler's check would part from the platform's or the identity's.
pub const TEMPLATE_OWNED_SETTINGS: [(&str, Option<&str>); 19] = [
    ("MFA_REQUIRE_APP_ROLE", Some("MFA_REQUIRE_APP_ROLE")),
    (
        "MFA_REQUIRE_AUTHENTICATED_CALLER",
        Some("MFA_ENTRA_AUTHENTICATION"),
    ),
    ("MFA_TENANT_ID", None),
    ("MFA_API_CLIENT_ID", Some("MFA_API_CLIENT_ID")),
    (
        "MFA_ALLOWED_CALLERS",
        Some("MFA_ALLOWED_PRINCIPAL_IDS and MFA_ALLOWED_GROUP_IDS"),
    ),
    (
        "MFA_ALLOWED_CLIENT_APPS",
        Some("MFA_ALLOWED_CLIENT_APPLICATIONS"),
    ),
    ("MFA_PROTECTED_GROUP_IDS", Some("MFA_PROTECTED_GROUP_IDS")),
    (
        "MFA_ALLOW_PRIVILEGED_TARGETS",
        Some("MFA_ALLOW_PRIVILEGED_TARGETS"),
    ),
    ("MFA_AZURE_CONTROL_SCOPES", None),
    ("ARM_ENDPOINT", None),
    ("GRAPH_ENDPOINT", Some("GRAPH_ENDPOINT")),
    ("MFA_CREDENTIAL", None),
    ("AZURE_CLIENT_ID", None),
    ("MFA_QUEUE_MAX_DEQUEUE_COUNT", None),
    ("FUNCTIONS_WORKER_RUNTIME", None),
    // Where tokens' signing keys come from: another host would sign the callers it likes.
    ("MFA_ENTRA_AUTHORITY", None),
    // Where the audit trail goes.
    ("APPLICATIONINSIGHTS_CONNECTION_STRING", None),
    ("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", None),
    // The key the readiness scan's clean-up is checked with (azd generates and keeps it).
    ("MFA_CLEANUP_KEY", Some("MFA_CLEANUP_KEY")),
];

/// Prefixes of app settings the template writes, with the azd variable that sets them instead:
/// the host's storage (its queue, its keys, the leases) and the readiness functions' switches
/// (on without the grants and the key they need, they would get round the template's checks).
pub const TEMPLATE_OWNED_PREFIXES: [(&str, Option<&str>); 2] = [
    ("AzureWebJobsStorage", None),
    ("AzureWebJobs.MfaReadiness", Some("MFA_READINESS_ENABLED")),
];

/// Settings that weaken a check the deployment makes by default: allowed in
/// `extraAppSettings` (DEPLOY.md says when), but worth a second look. Each with the value the
/// deployment keeps it at, and the handler's own default, which a blank value gives.
pub const WEAKENING_SETTINGS: [(&str, bool, bool); 4] = [
    ("MFA_QUEUE_REQUIRE_CALLER", true, false),
    ("MFA_ALLOW_KEY_ONLY_CALLERS", false, false),
    ("MFA_ALLOW_GUEST_CALLERS", false, false),
    ("MFA_USER_LEASES", true, true),
];

/// The most object ids built-in authentication takes in `allowedPrincipals.identities`.
pub const MOST_ALLOWED_PRINCIPALS: usize = 13;

/// The azd environment's values, by name. Its `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Values(BTreeMap<String, String>);

impl std::fmt::Debug for Values {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_set()
            .entries(self.0.keys())
            .finish_non_exhaustive()
    }
}

impl FromIterator<(String, String)> for Values {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(values: I) -> Values {
        Values(values.into_iter().collect())
    }
}

impl Values {
    /// Returns the value of `name`, unless it is unset or blank (then the template's default
    /// holds).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// Lists every name and its value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Reads a switch: its value, its default when unset, or `None` when it is neither `true` nor
    /// `false` (the `values` check says so).
    pub fn switch(&self, name: &str) -> Option<bool> {
        let default = SWITCHES
            .iter()
            .find(|(switch, _)| *switch == name)
            .is_some_and(|(_, default)| *default);
        match self.get(name) {
            None => Some(default),
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => None,
        }
    }

    /// Whether a switch is on; a switch that is neither `true` nor `false` counts as its
    /// default here (the `values` check fails it).
    pub fn on(&self, name: &str) -> bool {
        self.switch(name).unwrap_or_else(|| {
            SWITCHES
                .iter()
                .find(|(switch, _)| *switch == name)
                .is_some_and(|(_, default)| *default)
        })
    }

    /// Reads a list of ids: empty when unset, `Err` (why) when it is no JSON array of GUIDs.
    pub fn ids(&self, name: &str) -> Result<Vec<String>, String> {
        let Some(text) = self.get(name) else {
            return Ok(Vec::new());
        };
        let items = strings(text)?;
        for (number, item) in items.iter().enumerate() {
            if !is_guid(item) {
                return Err(format!("item {} is no GUID", number + 1));
            }
        }
        Ok(items)
    }
}

/// Parses a JSON array of strings, or says why not.
pub fn strings(text: &str) -> Result<Vec<String>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "it is not JSON".to_owned())?;
    let serde_json::Value::Array(items) = value else {
        return Err("it is no JSON array".to_owned());
    };
    items
        .into_iter()
        .enumerate()
        .map(|(number, item)| match item {
            serde_json::Value::String(text) => Ok(text),
            _ => Err(format!("item {} is no string", number + 1)),
        })
        .collect()
}

/// Whether `text` is a GUID (8-4-4-4-12 hexadecimal digits).
pub fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, length)| {
            group.len() == length && group.bytes().all(|byte| byte.is_ascii_hexdigit())
        })
}

/// Whether `text` is a browser origin on https: `https://host[:port]`, nothing after.
pub fn is_https_origin(text: &str) -> bool {
    match url::Url::parse(text) {
        Ok(url) => {
            url.scheme() == "https"
                && url.host_str().is_some()
                && url.path() == "/"
                && !text.ends_with('/')
                && url.query().is_none()
                && url.fragment().is_none()
                && url.username().is_empty()
        }
        Err(_) => false,
    }
}

/// Whether `text` is an `https://` URL.
pub fn is_https_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| url.scheme() == "https" && url.host_str().is_some())
}

/// Whether a value still holds a placeholder: `<…>` or `[[…]]`.
pub fn holds_placeholder(value: &str) -> bool {
    let angle = value
        .find('<')
        .is_some_and(|open| value[open..].contains('>'));
    let brackets = value
        .find("[[")
        .is_some_and(|open| value[open..].contains("]]"));
    angle || brackets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn a_switch_is_its_value_or_its_default_and_anything_else_is_none() {
        let values = values(&[("MFA_OWNER_SEARCH", "false"), ("MFA_METHOD_POLICY", "yes")]);
        assert_eq!(values.switch("MFA_OWNER_SEARCH"), Some(false));
        assert_eq!(values.switch("MFA_ENTRA_AUTHENTICATION"), Some(true));
        assert_eq!(values.switch("MFA_ZONE_REDUNDANT"), Some(false));
        assert_eq!(values.switch("MFA_METHOD_POLICY"), None);
        assert!(values.on("MFA_METHOD_POLICY"), "the default stands in");
    }

    #[test]
    fn a_list_is_a_json_array_of_guids() {
        let id = "0344153f-992c-47ed-917f-00c8e8857bc6";
        let values = values(&[
            ("A", &format!("[\"{id}\"]")),
            ("B", "[\"me\"]"),
            ("C", "not json"),
            ("D", "{}"),
            ("E", " "),
        ]);
        assert_eq!(values.ids("A"), Ok(vec![id.to_owned()]));
        assert_eq!(values.ids("B"), Err("item 1 is no GUID".to_owned()));
        assert_eq!(values.ids("C"), Err("it is not JSON".to_owned()));
        assert_eq!(values.ids("D"), Err("it is no JSON array".to_owned()));
        assert_eq!(values.ids("E"), Ok(Vec::new()), "blank is unset");
        assert_eq!(values.ids("F"), Ok(Vec::new()));
    }

    #[test]
    fn origins_urls_and_placeholders() {
        assert!(is_https_origin("https://portal.azure.com"));
        assert!(is_https_origin("https://localhost:8443"));
        assert!(!is_https_origin("https://portal.azure.com/"));
        assert!(!is_https_origin("http://portal.azure.com"));
        assert!(!is_https_origin("https://portal.azure.com/path"));
        assert!(is_https_url("https://graph.microsoft.com"));
        assert!(!is_https_url("graph.microsoft.com"));
        assert!(holds_placeholder("[\"<object id>\"]"));
        assert!(holds_placeholder("[[tenant]]"));
        assert!(!holds_placeholder("a < b"));
        assert!(!holds_placeholder("[\"https://portal.azure.com\"]"));
    }

    #[test]
    fn values_debug_shows_names_never_values() {
        let shown = format!("{:?}", values(&[("MFA_CLEANUP_KEY", "s3cret")]));
        assert!(shown.contains("MFA_CLEANUP_KEY"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
