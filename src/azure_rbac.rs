//! Azure RBAC as data: what a role definition's permissions allow, and whether a role lets its
//! holder take control of the app (change its code, settings or identity, write its package,
//! or hand out roles where it lives). Pure: it is handed role definitions and ARM resource ids,
//! it asks nobody. The protection check (who controls the app's resources) and preflight (what
//! the deployer may do) both decide with it.
//!
//! It knows neither deny assignments nor conditions on role assignments: where Azure would
//! refuse what a role seems to allow, this module still counts it as allowed, which for the
//! protection check errs on the side of protecting.

use serde::Deserialize;

/// One permission block of a role definition (`properties.permissions[]`), or one entry of
/// `Microsoft.Authorization/permissions`: what it allows, less what it excludes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
    #[serde(default)]
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}

/// The control-plane operations that let whoever may do them on the app's scopes run code as
/// the app or give themselves that right, each with what it does, in words.
pub const CONTROL_ACTIONS: [(&str, &str); 17] = [
    ("Microsoft.Web/sites/write", "change the Function App"),
    (
        "Microsoft.Web/sites/config/write",
        "change the app's settings (the package it runs among them)",
    ),
    (
        "Microsoft.Web/sites/config/list/action",
        "read the app's settings and publishing credentials",
    ),
    (
        "Microsoft.Web/sites/publishxml/action",
        "download the app's publishing profile",
    ),
    (
        "Microsoft.Web/sites/publish/action",
        "deploy code to the app",
    ),
    (
        "Microsoft.Web/sites/extensions/write",
        "install site extensions",
    ),
    (
        "Microsoft.Web/sites/functions/write",
        "change the app's functions",
    ),
    (
        "Microsoft.Web/sites/sourcecontrols/write",
        "change where the app deploys from",
    ),
    (
        "Microsoft.Web/sites/slots/write",
        "change a deployment slot",
    ),
    (
        "Microsoft.Web/sites/slots/config/write",
        "change a deployment slot's settings",
    ),
    (
        "Microsoft.Storage/storageAccounts/listKeys/action",
        "read the storage account's keys (and with them write the package)",
    ),
    (
        "Microsoft.Storage/storageAccounts/regenerateKey/action",
        "renew the storage account's keys",
    ),
    (
        "Microsoft.Storage/storageAccounts/ListAccountSas/action",
        "make an account SAS for the storage account",
    ),
    (
        "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
        "attach the app's identity to another resource",
    ),
    (
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
        "let another workload sign in as the app's identity",
    ),
    (
        "Microsoft.Authorization/roleAssignments/write",
        "assign roles on the app's resources",
    ),
    (
        "Microsoft.Authorization/roleDefinitions/write",
        "change what a custom role allows",
    ),
];

/// The data-plane operations with the same effect: writing the blobs that hold the package.
pub const CONTROL_DATA_ACTIONS: [(&str, &str); 2] = [
    (
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
        "write blobs (the deployment package among them)",
    ),
    (
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
        "add blobs (the deployment package among them)",
    ),
];

/// Whether `action` is allowed: some block names it among its `actions` and not among its own
/// `notActions` (one block's `notActions` take nothing from another's `actions`). Patterns
/// hold `*` wildcards; names compare without regard to case.
pub fn allows(permissions: &[Permission], action: &str) -> bool {
    permissions
        .iter()
        .any(|permission| granted(&permission.actions, &permission.not_actions, action))
}

/// Whether the data action is allowed, as [`allows`] with `dataActions` and `notDataActions`.
pub fn allows_data(permissions: &[Permission], data_action: &str) -> bool {
    permissions.iter().any(|permission| {
        granted(
            &permission.data_actions,
            &permission.not_data_actions,
            data_action,
        )
    })
}

/// Says, in words, what a role with `permissions` lets its holder do that amounts to
/// controlling the app; empty when nothing.
pub fn control(permissions: &[Permission]) -> Vec<&'static str> {
    let actions = CONTROL_ACTIONS
        .iter()
        .filter(|(action, _)| allows(permissions, action));
    let data = CONTROL_DATA_ACTIONS
        .iter()
        .filter(|(action, _)| allows_data(permissions, action));
    actions.chain(data).map(|(_, words)| *words).collect()
}

/// Whether `pattern` (with `*` matching any run of characters, `/` included) names `action`,
/// ignoring case.
pub fn matches(pattern: &str, action: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let action = action.to_ascii_lowercase();
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = action.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        // Without a `*`, the whole action must have been the first piece.
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

fn granted(allowed: &[String], excluded: &[String], action: &str) -> bool {
    allowed.iter().any(|pattern| matches(pattern, action))
        && !excluded.iter().any(|pattern| matches(pattern, action))
}

/// An ARM resource id used as a scope (`/subscriptions/{id}/resourceGroups/{name}/providers/
/// Microsoft.Web/sites/{name}`), checked so that it can only name a path under ARM's root.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope(String);

impl Scope {
    /// Parses a scope (a subscription, or anything below one).
    ///
    /// # Errors
    ///
    /// When the text is not an ARM resource id; the error gives the reason in words.
    pub fn parse(value: &str) -> Result<Scope, String> {
        let value = value.trim().trim_end_matches('/');
        if value.len() > 1024 {
            return Err("is longer than an ARM resource id can be".to_owned());
        }
        let Some(rest) = value.strip_prefix('/') else {
            return Err(format!(
                "'{}' does not start with /subscriptions/",
                shown(value)
            ));
        };
        let segments: Vec<&str> = rest.split('/').collect();
        if !segments[0].eq_ignore_ascii_case("subscriptions") || segments.len() < 2 {
            return Err(format!(
                "'{}' does not start with /subscriptions/",
                shown(value)
            ));
        }
        if uuid::Uuid::parse_str(segments[1]).is_err() {
            return Err(format!(
                "'{}' names no subscription id (a GUID) after /subscriptions/",
                shown(value)
            ));
        }
        for segment in &segments {
            let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.()".contains(c);
            if segment.is_empty() || *segment == "." || *segment == ".." {
                return Err(format!(
                    "'{}' has an empty or relative segment",
                    shown(value)
                ));
            }
            if !segment.chars().all(allowed) {
                return Err(format!(
                    "'{}' has a character an ARM resource id does not have",
                    shown(value)
                ));
            }
        }
        Ok(Scope(value.to_owned()))
    }

    #[cfg(test)]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path segments, without the leading `/`.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.trim_start_matches('/').split('/')
    }

    /// Whether this scope is `other` or lies within it (compared without regard to case, as ARM
    /// compares resource ids).
    #[cfg(test)]
    pub fn is_within(&self, other: &str) -> bool {
        let mine = self.0.to_ascii_lowercase();
        let other = other.trim_end_matches('/').to_ascii_lowercase();
        other.is_empty() || mine == other || mine.starts_with(&format!("{other}/"))
    }
}

/// Shows a scope as far as a message may: bounded, printable.
fn shown(value: &str) -> String {
    value
        .chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Parses `MFA_AZURE_CONTROL_SCOPES`: a JSON array of ARM resource ids, at least one.
///
/// # Errors
///
/// Every problem, in words (the caller names the variable).
pub fn parse_scopes(value: &str) -> Result<Vec<Scope>, String> {
    let listed: Vec<String> = serde_json::from_str(value)
        .map_err(|_| "must be a JSON array of ARM resource ids (strings)".to_owned())?;
    if listed.is_empty() {
        return Err(
            "lists no scope: name the Function App and its storage account (or leave it unset, \
             and the Azure side is not protected)"
                .to_owned(),
        );
    }
    let mut scopes = Vec::new();
    for (at, scope) in listed.iter().enumerate() {
        let scope = Scope::parse(scope).map_err(|reason| format!("entry {}: {reason}", at + 1))?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests;
