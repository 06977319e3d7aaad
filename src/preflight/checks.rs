//! Judges the facts: [`check`] turns [`Facts`] into one [`Check`] per row of DEPLOY.md's "What
//! preflight checks", in that order, each with its verdict, what it found, and for a failure
//! the command that fixes it.
//!
//! Pure: it asks nothing and reads nothing, so every check is tested with facts built by
//! hand. It never names a value of the azd environment but the ones a check is about (ids,
//! the region, the version), and never one whose name says it is a secret.

mod azure;
mod entra;
mod tools;
mod values;

use super::facts::{Environment, Facts, Gap};
use super::settings::Values;

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It holds.
    Ok,
    /// It does not: the deployment would fail or misbehave. Fix it first.
    Fail,
    /// It deploys, but read it.
    Warn,
    /// It does not apply to this environment.
    Skip,
    /// It could not be checked.
    Unknown,
}

impl Verdict {
    /// The word a line starts with.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "warn",
            Verdict::Skip => "skip",
            Verdict::Unknown => "????",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// The check, as DEPLOY.md's table names it.
    pub name: &'static str,
    pub verdict: Verdict,
    /// What it found, or why it could not tell.
    pub message: String,
    /// The command (or DEPLOY.md's section) that fixes it.
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(name: &'static str, message: impl Into<String>) -> Check {
        Check::new(name, Verdict::Ok, message.into(), None)
    }

    pub fn fail(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(name, Verdict::Fail, message.into(), Some(fix.into()))
    }

    pub fn warn(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(name, Verdict::Warn, message.into(), Some(fix.into()))
    }

    pub fn skip(name: &'static str, message: impl Into<String>) -> Check {
        Check::new(name, Verdict::Skip, message.into(), None)
    }

    pub fn unknown(name: &'static str, message: impl Into<String>) -> Check {
        Check::new(name, Verdict::Unknown, message.into(), None)
    }

    /// Makes a check that could not be made, for the reason `gap` gives.
    pub fn gap(name: &'static str, gap: &Gap) -> Check {
        Check::unknown(name, gap.why())
    }

    /// Returns the same check with a command that would let it be made.
    pub fn with_fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }

    fn new(name: &'static str, verdict: Verdict, message: String, fix: Option<String>) -> Check {
        Check {
            name,
            verdict,
            message,
            fix,
        }
    }
}

/// Runs every check, in DEPLOY.md's order.
pub fn check(facts: &Facts) -> Vec<Check> {
    let checks: [fn(&Facts) -> Check; 26] = [
        tools::azd_version,
        tools::alpha,
        tools::az_sign_in,
        tools::azd_sign_in,
        tools::one_subscription,
        tools::environment,
        values::placeholders,
        values::lists,
        values::values,
        azure::region,
        entra::registration,
        entra::token_version,
        entra::pre_authorized,
        values::writers,
        entra::ids,
        entra::among_writers,
        entra::notifications,
        values::protected_groups,
        values::extra_app_settings,
        tools::package,
        entra::graph_grants,
        entra::principal_update,
        azure::permissions,
        azure::providers,
        tools::cloud,
        values::deployer_queue_access,
    ];
    checks.iter().map(|check| check(facts)).collect()
}

/// Adds the checks up to an exit status: 1 when one failed, else 2 when one could not be made,
/// else 0.
pub fn exit_status(checks: &[Check]) -> u8 {
    if checks.iter().any(|check| check.verdict == Verdict::Fail) {
        1
    } else if checks.iter().any(|check| check.verdict == Verdict::Unknown) {
        2
    } else {
        0
    }
}

/// Returns the selected environment's name and values, or why there is none to check.
fn selected(facts: &Facts) -> Result<(&str, &Values), String> {
    match &facts.environment {
        Ok(Environment::Selected { name, values }) => Ok((name, values)),
        Ok(_) => Err("needs an azd environment (see environment)".to_owned()),
        Err(gap) => Err(format!(
            "needs the azd environment, which could not be read: {}",
            gap.why()
        )),
    }
}

/// Chooses the tenant to name in a fix: the environment's, az's, or a placeholder.
fn tenant(facts: &Facts) -> String {
    selected(facts)
        .ok()
        .and_then(|(_, values)| values.get("AZURE_TENANT_ID"))
        .map(str::to_owned)
        .or_else(|| {
            facts
                .account
                .as_ref()
                .ok()
                .map(|account| account.tenant_id.clone())
        })
        .unwrap_or_else(|| "<tenant>".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure_rbac::Permission;
    use crate::preflight::facts::{
        Account, Alpha, AppRole, Cloud, DirectoryObject, Me, Package, PackageZip, Principal,
        Provider, Registration, Runtime,
    };

    const TENANT: &str = "11111111-1111-1111-1111-111111111111";
    const SUBSCRIPTION: &str = "22222222-2222-2222-2222-222222222222";
    const CLIENT: &str = "33333333-3333-3333-3333-333333333333";
    const ME: &str = "44444444-4444-4444-4444-444444444444";
    const GROUP: &str = "55555555-5555-5555-5555-555555555555";
    const SENDER: &str = "66666666-6666-6666-6666-666666666666";
    const OTHER: &str = "77777777-7777-7777-7777-777777777777";
    const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
    const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
    const SECRET: &str = "s3cret-value";

    fn owned(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    /// Makes the facts of an environment that is ready, where every check holds.
    fn ready() -> Facts {
        let values: Values = [
            ("AZURE_ENV_NAME", "mfa-prod"),
            ("AZURE_LOCATION", "swedencentral"),
            ("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION),
            ("AZURE_TENANT_ID", TENANT),
            ("MFA_API_CLIENT_ID", CLIENT),
            ("MFA_API_WRITER_PRINCIPAL_IDS", &format!("[\"{ME}\"]")),
            ("MFA_PROTECTED_GROUP_IDS", &format!("[\"{GROUP}\"]")),
            ("MFA_QUEUE_SENDER_PRINCIPAL_IDS", &format!("[\"{SENDER}\"]")),
            ("MFA_CORS_ALLOWED_ORIGINS", "[\"https://portal.azure.com\"]"),
            ("MFA_USER_NOTIFICATIONS", "true"),
            ("MFA_NOTIFY_SENDER", "mfa@contoso.com"),
            ("MFA_PACKAGE_ZIP", "~/mfa-release/mfa-phone-handler.zip"),
            ("MFA_CLEANUP_KEY", SECRET),
        ]
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
        let object = |id: &str, kind: &str| DirectoryObject {
            id: id.to_owned(),
            kind: kind.to_owned(),
        };
        let role = |id: &str, value: &str| AppRole {
            id: id.to_owned(),
            value: value.to_owned(),
            enabled: true,
        };
        Facts {
            azure_yaml: Ok(include_str!("../../azure.yaml").to_owned()),
            azd_version: Ok("1.23.4".to_owned()),
            alpha: Ok(Alpha {
                custom: Some("on".to_owned()),
                ..Alpha::default()
            }),
            azd_signed_in: Ok(true),
            environment: Ok(Environment::Selected {
                name: "mfa-prod".to_owned(),
                values,
            }),
            account: Ok(Account {
                subscription_id: SUBSCRIPTION.to_owned(),
                subscription_name: "Production".to_owned(),
                tenant_id: TENANT.to_owned(),
                user: "admin@contoso.com".to_owned(),
                principal: Principal::User,
                cloud: "AzureCloud".to_owned(),
            }),
            cloud: Ok(Cloud {
                name: "AzureCloud".to_owned(),
                resource_manager: "https://management.azure.com/".to_owned(),
                graph: "https://graph.microsoft.com/".to_owned(),
            }),
            flex_regions: Ok(owned(&["eastasia", "swedencentral"])),
            zone_regions: None,
            flex_runtimes: Ok(vec![Runtime {
                name: "custom".to_owned(),
                version: "1.0".to_owned(),
            }]),
            registration: Ok(Some(Registration {
                identifier_uris: vec![format!("api://{CLIENT}")],
                app_roles: vec![
                    role("b4ec6d3e-a5f0-477b-9565-f18510865278", "MfaPhone.ReadWrite"),
                    role("0344153f-992c-47ed-917f-00c8e8857bc6", "MfaPhone.Read"),
                ],
                token_version: Some(1),
                pre_authorized: owned(&["04b07795-8ddb-461a-bbee-02f9e1bf7b46"]),
            })),
            api_principal: Ok(Some(OTHER.to_owned())),
            api_owners: Ok(Vec::new()),
            directory: Ok(vec![
                object(ME, "user"),
                object(GROUP, "group"),
                object(SENDER, "servicePrincipal"),
            ]),
            sender_exists: Ok(true),
            me: Ok(Me {
                id: ME.to_owned(),
                principal: Principal::User,
            }),
            my_roles: Ok(owned(&[GLOBAL_ADMINISTRATOR])),
            my_eligible_roles: Ok(Vec::new()),
            my_groups: Ok(Vec::new()),
            my_app_permissions: Ok(Vec::new()),
            azure_permissions: Ok(vec![Permission {
                actions: owned(&["*"]),
                ..Permission::default()
            }]),
            providers: Ok(azure::PROVIDERS
                .iter()
                .map(|namespace| Provider {
                    namespace: (*namespace).to_owned(),
                    state: "Registered".to_owned(),
                })
                .collect()),
            package: Package {
                zip: Some(Ok(PackageZip::Accepted)),
                cargo: Err(Gap::Unknown("not asked".to_owned())),
                rustc: Err(Gap::Unknown("not asked".to_owned())),
                python3: Err(Gap::Unknown("not asked".to_owned())),
                os: "linux".to_owned(),
                arch: "x86_64".to_owned(),
                required_rust: "1.89".to_owned(),
            },
        }
    }

    /// Sets (or, with `None`, unsets) one of the environment's values.
    fn set(facts: &mut Facts, name: &str, value: Option<&str>) {
        if let Ok(Environment::Selected { values, .. }) = &mut facts.environment {
            let mut all: Vec<(String, String)> = values
                .iter()
                .filter(|(known, _)| *known != name)
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect();
            if let Some(value) = value {
                all.push((name.to_owned(), value.to_owned()));
            }
            *values = all.into_iter().collect();
        }
    }

    fn verdict_of(facts: &Facts, name: &str) -> Check {
        check(facts)
            .into_iter()
            .find(|check| check.name == name)
            .unwrap_or_else(|| panic!("a check named {name}"))
    }

    #[test]
    fn a_ready_environment_passes_every_check_in_deploy_mds_order() {
        let checks = check(&ready());
        let names: Vec<&str> = checks.iter().map(|check| check.name).collect();
        assert_eq!(
            names,
            [
                "azd version",
                "azd alpha feature",
                "az sign-in",
                "azd sign-in",
                "one subscription",
                "environment",
                "placeholders",
                "lists",
                "values",
                "region",
                "API registration",
                "token version",
                "Azure CLI pre-authorized",
                "writers",
                "ids",
                "you among the writers",
                "notifications",
                "protected groups",
                "extra app settings",
                "package",
                "Graph grants",
                "service principal update",
                "Azure permissions",
                "resource providers",
                "cloud",
                "deployer queue access",
            ]
        );
        for check in &checks {
            assert_eq!(check.verdict, Verdict::Ok, "{check:?}");
            assert_eq!(check.fix, None, "{check:?}");
        }
        assert_eq!(exit_status(&checks), 0);
    }

    type Change = fn(&mut Facts);

    /// Lists each check's failures (and a few passes that depend on more than one fact).
    fn table() -> Vec<(&'static str, Verdict, Change)> {
        vec![
            ("azd version", Verdict::Fail, |f| {
                f.azd_version = Ok("1.22.0".to_owned())
            }),
            ("azd version", Verdict::Fail, |f| {
                f.azd_version = Err(Gap::Missing("azd"))
            }),
            ("azd version", Verdict::Ok, |f| {
                f.azd_version = Ok("1.31.2".to_owned())
            }),
            ("azd version", Verdict::Unknown, |f| {
                f.azure_yaml = Err(Gap::Unknown("no azure.yaml".to_owned()))
            }),
            ("azd alpha feature", Verdict::Fail, |f| {
                f.alpha = Ok(Alpha::default())
            }),
            ("azd alpha feature", Verdict::Ok, |f| {
                f.alpha = Ok(Alpha {
                    all: Some("on".to_owned()),
                    ..Alpha::default()
                });
            }),
            ("azd alpha feature", Verdict::Ok, |f| {
                f.alpha = Ok(Alpha {
                    variable: Some((
                        "AZD_ALPHA_ENABLE_LANGUAGE_CUSTOM".to_owned(),
                        "true".to_owned(),
                    )),
                    ..Alpha::default()
                });
            }),
            ("azd alpha feature", Verdict::Fail, |f| {
                f.alpha = Ok(Alpha {
                    custom: Some("on".to_owned()),
                    all: None,
                    variable: Some((
                        "AZD_ALPHA_ENABLE_LANGUAGE_CUSTOM".to_owned(),
                        "false".to_owned(),
                    )),
                });
            }),
            ("azd alpha feature", Verdict::Unknown, |f| {
                f.alpha = Err(Gap::Missing("azd"))
            }),
            ("az sign-in", Verdict::Unknown, |f| {
                f.account = Err(Gap::Unknown("az is not signed in".to_owned()));
            }),
            ("az sign-in", Verdict::Unknown, |f| {
                f.account = Err(Gap::Missing("az"))
            }),
            ("azd sign-in", Verdict::Fail, |f| {
                f.azd_signed_in = Ok(false)
            }),
            ("one subscription", Verdict::Fail, |f| {
                set(f, "AZURE_SUBSCRIPTION_ID", Some(OTHER))
            }),
            ("one subscription", Verdict::Fail, |f| {
                set(f, "AZURE_TENANT_ID", Some(OTHER))
            }),
            ("environment", Verdict::Fail, |f| {
                f.environment = Ok(Environment::NoneSelected {
                    existing: Vec::new(),
                });
            }),
            ("environment", Verdict::Fail, |f| {
                f.environment = Ok(Environment::NoneSelected {
                    existing: owned(&["mfa-test"]),
                });
            }),
            ("environment", Verdict::Fail, |f| {
                f.environment = Ok(Environment::NotFound {
                    name: "x".to_owned(),
                    existing: Vec::new(),
                });
            }),
            ("environment", Verdict::Fail, |f| {
                set(f, "AZURE_LOCATION", None)
            }),
            ("environment", Verdict::Fail, |f| {
                set(f, "AZURE_SUBSCRIPTION_ID", Some(" "))
            }),
            ("placeholders", Verdict::Fail, |f| {
                set(f, "MFA_API_CLIENT_ID", Some("<client id>"))
            }),
            ("placeholders", Verdict::Fail, |f| {
                set(f, "GRAPH_ENDPOINT", Some("[[graph]]"))
            }),
            ("lists", Verdict::Fail, |f| {
                set(f, "MFA_API_WRITER_PRINCIPAL_IDS", Some("[\"me\"]"))
            }),
            ("lists", Verdict::Fail, |f| {
                set(f, "MFA_ALLOWED_GROUP_IDS", Some(GROUP))
            }),
            ("lists", Verdict::Fail, |f| {
                set(
                    f,
                    "MFA_CORS_ALLOWED_ORIGINS",
                    Some("[\"http://portal.azure.com\"]"),
                );
            }),
            ("lists", Verdict::Fail, |f| {
                let many: Vec<String> = (0..14)
                    .map(|n| format!("\"{n:08}-1111-1111-1111-111111111111\""))
                    .collect();
                set(
                    f,
                    "MFA_ALLOWED_PRINCIPAL_IDS",
                    Some(&format!("[{}]", many.join(","))),
                );
            }),
            ("values", Verdict::Fail, |f| {
                set(f, "MFA_OWNER_SEARCH", Some("yes"))
            }),
            ("values", Verdict::Fail, |f| {
                set(f, "MFA_TELEPHONY", Some("twilio"))
            }),
            ("values", Verdict::Fail, |f| {
                set(f, "GRAPH_ENDPOINT", Some("graph.microsoft.com"))
            }),
            ("region", Verdict::Fail, |f| {
                set(f, "AZURE_LOCATION", Some("westus9"))
            }),
            ("region", Verdict::Fail, |f| {
                f.flex_runtimes = Ok(Vec::new())
            }),
            ("region", Verdict::Fail, |f| {
                f.zone_regions = Some(Ok(owned(&["eastasia"])))
            }),
            ("region", Verdict::Ok, |f| {
                f.zone_regions = Some(Ok(owned(&["swedencentral"])))
            }),
            ("region", Verdict::Unknown, |f| {
                f.flex_regions = Err(Gap::Unknown("timed out".to_owned()))
            }),
            ("API registration", Verdict::Fail, |f| {
                set(f, "MFA_API_CLIENT_ID", None)
            }),
            ("API registration", Verdict::Fail, |f| {
                set(f, "MFA_API_CLIENT_ID", Some("api"))
            }),
            ("API registration", Verdict::Fail, |f| {
                f.registration = Ok(None)
            }),
            ("API registration", Verdict::Fail, |f| {
                if let Ok(Some(registration)) = &mut f.registration {
                    registration.app_roles[1].enabled = false;
                }
            }),
            ("API registration", Verdict::Fail, |f| {
                if let Ok(Some(registration)) = &mut f.registration {
                    registration.identifier_uris.clear();
                }
            }),
            ("API registration", Verdict::Fail, |f| {
                f.api_principal = Ok(None)
            }),
            ("API registration", Verdict::Skip, |f| {
                set(f, "MFA_ENTRA_AUTHENTICATION", Some("false"))
            }),
            ("token version", Verdict::Fail, |f| {
                if let Ok(Some(registration)) = &mut f.registration {
                    registration.token_version = Some(2);
                }
            }),
            ("token version", Verdict::Fail, |f| {
                set(
                    f,
                    "MFA_ENTRA_OPENID_ISSUER",
                    Some(&format!("https://login.microsoftonline.com/{TENANT}/v2.0")),
                );
            }),
            ("Azure CLI pre-authorized", Verdict::Warn, |f| {
                if let Ok(Some(registration)) = &mut f.registration {
                    registration.pre_authorized.clear();
                }
            }),
            ("writers", Verdict::Fail, |f| {
                set(f, "MFA_API_WRITER_PRINCIPAL_IDS", Some("[]"))
            }),
            ("writers", Verdict::Skip, |f| {
                set(f, "MFA_MANAGE_API_ROLES", Some("false"))
            }),
            ("ids", Verdict::Fail, |f| {
                set(f, "MFA_PROTECTED_GROUP_IDS", Some(&format!("[\"{ME}\"]")))
            }),
            ("ids", Verdict::Fail, |f| {
                set(
                    f,
                    "MFA_QUEUE_SENDER_PRINCIPAL_IDS",
                    Some(&format!("[\"{OTHER}\"]")),
                )
            }),
            ("ids", Verdict::Unknown, |f| {
                f.directory = Err(Gap::Unknown("throttled".to_owned()))
            }),
            ("you among the writers", Verdict::Warn, |f| {
                set(
                    f,
                    "MFA_API_WRITER_PRINCIPAL_IDS",
                    Some(&format!("[\"{GROUP}\"]")),
                );
            }),
            ("you among the writers", Verdict::Ok, |f| {
                set(
                    f,
                    "MFA_API_WRITER_PRINCIPAL_IDS",
                    Some(&format!("[\"{GROUP}\"]")),
                );
                f.my_groups = Ok(owned(&[GROUP]));
            }),
            ("notifications", Verdict::Fail, |f| {
                set(f, "MFA_NOTIFY_SENDER", None)
            }),
            ("notifications", Verdict::Fail, |f| {
                f.sender_exists = Ok(false)
            }),
            ("notifications", Verdict::Skip, |f| {
                set(f, "MFA_USER_NOTIFICATIONS", Some("false"))
            }),
            ("protected groups", Verdict::Fail, |f| {
                set(f, "MFA_PROTECTED_ACCOUNTS", Some("false"));
                set(f, "MFA_METHOD_POLICY", Some("false"));
            }),
            ("package", Verdict::Fail, |f| {
                f.package.zip = Some(Ok(PackageZip::Refused("package: no SHA-256".to_owned())));
            }),
            ("package", Verdict::Ok, |f| {
                f.package.zip = None;
                f.package.cargo = Ok(());
                f.package.python3 = Ok(());
                f.package.rustc = Ok("1.90.0".to_owned());
            }),
            ("package", Verdict::Fail, |f| {
                f.package.zip = None;
                f.package.cargo = Ok(());
                f.package.python3 = Err(Gap::Missing("python3"));
                f.package.rustc = Ok("1.80.0".to_owned());
            }),
            ("Graph grants", Verdict::Fail, |f| {
                f.my_roles = Ok(Vec::new())
            }),
            ("Graph grants", Verdict::Fail, |f| {
                f.my_roles = Ok(Vec::new());
                f.my_eligible_roles = Ok(owned(&[PRIVILEGED_ROLE_ADMINISTRATOR]));
            }),
            ("Graph grants", Verdict::Ok, |f| {
                f.my_roles = Ok(Vec::new());
                f.me = Ok(Me {
                    id: ME.to_owned(),
                    principal: Principal::ServicePrincipal,
                });
                f.my_app_permissions = Ok(owned(&[
                    "06b708a9-e830-4db3-a914-8e69da51d44f",
                    "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
                ]));
            }),
            ("Graph grants", Verdict::Skip, |f| {
                set(f, "MFA_GRANT_GRAPH_PERMISSIONS", Some("false"))
            }),
            ("service principal update", Verdict::Fail, |f| {
                f.my_roles = Ok(owned(&[PRIVILEGED_ROLE_ADMINISTRATOR]));
            }),
            ("service principal update", Verdict::Ok, |f| {
                f.my_roles = Ok(owned(&[PRIVILEGED_ROLE_ADMINISTRATOR]));
                f.api_owners = Ok(owned(&[ME]));
            }),
            ("service principal update", Verdict::Fail, |f| {
                f.my_roles = Ok(Vec::new());
                f.me = Ok(Me {
                    id: ME.to_owned(),
                    principal: Principal::ServicePrincipal,
                });
                f.my_app_permissions = Ok(owned(&["06b708a9-e830-4db3-a914-8e69da51d44f"]));
            }),
            ("Azure permissions", Verdict::Fail, |f| {
                f.azure_permissions = Ok(vec![Permission {
                    actions: owned(&["*/read"]),
                    ..Permission::default()
                }]);
            }),
            ("Azure permissions", Verdict::Fail, |f| {
                f.azure_permissions = Ok(vec![Permission {
                    actions: owned(&["*"]),
                    not_actions: owned(&["Microsoft.Authorization/*/Write"]),
                    ..Permission::default()
                }]);
            }),
            ("resource providers", Verdict::Warn, |f| {
                if let Ok(providers) = &mut f.providers {
                    providers[1].state = "NotRegistered".to_owned();
                }
            }),
            ("cloud", Verdict::Warn, |f| {
                if let Ok(cloud) = &mut f.cloud {
                    cloud.name = "AzureUSGovernment".to_owned();
                }
            }),
            ("cloud", Verdict::Warn, |f| {
                set(f, "GRAPH_ENDPOINT", Some("https://graph.microsoft.us"))
            }),
            ("deployer queue access", Verdict::Warn, |f| {
                set(f, "MFA_DEPLOYER_QUEUE_ACCESS", Some("true"))
            }),
            ("extra app settings", Verdict::Ok, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(r#"{"MFA_HTTP_BUDGET_SECONDS": "60", "MFA_QUEUE_REQUIRE_CALLER": "on"}"#),
                )
            }),
            ("extra app settings", Verdict::Fail, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(r#"{"MFA_CLEANUP_KEY": "s3cret-value"}"#),
                )
            }),
            ("extra app settings", Verdict::Fail, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(r#"{"MFA_ENTRA_AUTHORITY": "https://evil.example"}"#),
                )
            }),
            ("extra app settings", Verdict::Fail, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(
                        r#"{"AzureWebJobsStorage__queueServiceUri": "https://other.queue.core.windows.net"}"#,
                    ),
                )
            }),
            ("extra app settings", Verdict::Fail, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(r#"{"azurewebjobs.mfareadinesstimer.disabled": "false"}"#),
                )
            }),
            ("extra app settings", Verdict::Fail, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(r#"{"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x"}"#),
                )
            }),
            ("extra app settings", Verdict::Warn, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(r#"{"MFA_QUEUE_REQUIRE_CALLER": ""}"#),
                )
            }),
            ("extra app settings", Verdict::Warn, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(r#"{"MFA_QUEUE_REQUIRE_CALLER": "0"}"#),
                )
            }),
            ("extra app settings", Verdict::Warn, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(r#"{"MFA_ALLOW_KEY_ONLY_CALLERS": "Yes"}"#),
                )
            }),
            ("extra app settings", Verdict::Fail, |f| {
                set(f, "MFA_EXTRA_APP_SETTINGS", Some(r#"["not", "an object"]"#))
            }),
            ("extra app settings", Verdict::Fail, |f| {
                set(f, "MFA_EXTRA_APP_SETTINGS", Some(" "))
            }),
            ("extra app settings", Verdict::Fail, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(r#"{"MFA_USER_LEASES": false}"#),
                )
            }),
            ("extra app settings", Verdict::Fail, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(r#"{"mfa_require_app_role": "false", "MFA_HTTP_BUDGET_SECONDS": "60"}"#),
                )
            }),
            ("extra app settings", Verdict::Fail, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(r#"{"MFA_TENANT_ID": "x"}"#),
                )
            }),
            ("extra app settings", Verdict::Warn, |f| {
                set(
                    f,
                    "MFA_EXTRA_APP_SETTINGS",
                    Some(r#"{"MFA_QUEUE_REQUIRE_CALLER": "false"}"#),
                )
            }),
        ]
    }

    #[test]
    fn each_check_fails_as_deploy_md_says_with_its_fix() {
        for (number, (name, verdict, change)) in table().into_iter().enumerate() {
            let mut facts = ready();
            change(&mut facts);
            let found = verdict_of(&facts, name);
            assert_eq!(found.verdict, verdict, "row {number}: {found:?}");
            if matches!(verdict, Verdict::Fail | Verdict::Warn) {
                assert!(found.fix.is_some(), "row {number}: a fix: {found:?}");
            }
            let checks = check(&facts);
            let everything = serde_json::to_string(&checks).unwrap_or_default();
            assert!(
                !everything.contains(SECRET),
                "row {number}: a secret shown: {everything}"
            );
        }
    }

    #[test]
    fn the_exit_status_is_1_for_a_failure_then_2_for_what_could_not_be_checked() {
        let mut facts = ready();
        facts.account = Err(Gap::Unknown("az is not signed in".to_owned()));
        let checks = check(&facts);
        let signed_in = verdict_of(&facts, "az sign-in");
        assert_eq!(
            signed_in.fix.as_deref(),
            Some(format!("az login --tenant {TENANT}").as_str())
        );
        assert_eq!(exit_status(&checks), 2);
        facts.azd_signed_in = Ok(false);
        assert_eq!(exit_status(&check(&facts)), 1);
    }

    #[test]
    fn without_an_environment_its_checks_cannot_be_made_and_say_why() {
        let mut facts = ready();
        facts.environment = Ok(Environment::NoneSelected {
            existing: Vec::new(),
        });
        for name in [
            "placeholders",
            "lists",
            "region",
            "writers",
            "Azure permissions",
        ] {
            let found = verdict_of(&facts, name);
            assert_eq!(found.verdict, Verdict::Unknown, "{found:?}");
            assert!(found.message.contains("environment"), "{found:?}");
        }
    }
}
