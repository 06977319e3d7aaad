//! Gathers what preflight learns before it judges anything, the [`Facts`], by asking the
//! admin's own tools (`azd`, `az`, and through `az rest` Azure Resource Manager and Microsoft
//! Graph) for JSON, and by reading `azure.yaml` in the current directory. Each fact is what was
//! learned, or a [`Gap`] that says why it could not be.
//!
//! It only reads: it never runs a command that changes anything (no `azd env set`, no `az …
//! create`, `set`, `update` or `delete`; `az rest` only with GET, and with POST only for
//! `getByIds`, which reads), and it never shows a token or a value of the azd environment
//! (the checks choose what of it to name). Every command goes through one
//! [`Runner`], with a bounded wait.

mod az;
mod azd;
mod entra;
mod local;

use std::thread::ScopedJoinHandle;

use super::runner::{Ran, Runner};
use super::settings::Values;
use crate::azure_rbac::Permission;

/// Why a fact could not be learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gap {
    /// The program that would tell is not on PATH.
    Missing(&'static str),
    /// It could not be asked, or its answer could not be understood: why, for the admin.
    Unknown(String),
}

impl Gap {
    /// Puts the gap in the admin's words.
    pub fn why(&self) -> String {
        match self {
            Gap::Missing("az") => "az is not installed: install the Azure CLI \
                                   (https://learn.microsoft.com/cli/azure/install-azure-cli-linux)"
                .to_owned(),
            Gap::Missing("azd") => "azd is not installed: install azd \
                                    (curl -fsSL https://aka.ms/install-azd.sh | bash)"
                .to_owned(),
            Gap::Missing(program) => format!("{program} is not installed"),
            Gap::Unknown(why) => why.clone(),
        }
    }
}

/// A fact, or why it is not known.
pub type Fact<T> = Result<T, Gap>;

/// Everything the checks judge.
#[derive(Debug)]
pub struct Facts {
    /// `azure.yaml`'s text, from the current directory.
    pub azure_yaml: Fact<String>,
    /// What `azd version` says its version is.
    pub azd_version: Fact<String>,
    pub alpha: Fact<Alpha>,
    /// Whether azd has a signed-in account that gets tokens.
    pub azd_signed_in: Fact<bool>,
    pub environment: Fact<Environment>,
    pub account: Fact<Account>,
    pub cloud: Fact<Cloud>,
    /// The regions with Flex Consumption (lower case, as ARM names them).
    pub flex_regions: Fact<Vec<String>>,
    /// The regions with zone-redundant Flex Consumption, asked only when it is on.
    pub zone_regions: Option<Fact<Vec<String>>>,
    /// The Flex Consumption (FC1) runtimes the environment's region offers.
    pub flex_runtimes: Fact<Vec<Runtime>>,
    /// The API registration `MFA_API_CLIENT_ID` names (`None` when there is no such
    /// application).
    pub registration: Fact<Option<Registration>>,
    /// The object id of the API's service principal (`None` when it has none).
    pub api_principal: Fact<Option<String>>,
    /// The object ids of the owners of the API's service principal.
    pub api_owners: Fact<Vec<String>>,
    /// The directory objects the environment's lists name, as Graph found them.
    pub directory: Fact<Vec<DirectoryObject>>,
    /// Whether `MFA_NOTIFY_SENDER` is a user (or mailbox) of the tenant.
    pub sender_exists: Fact<bool>,
    /// Who preflight is running as, in the directory.
    pub me: Fact<Me>,
    /// The template ids of the directory roles you hold actively.
    pub my_roles: Fact<Vec<String>>,
    /// The ids of the directory roles you are eligible for in PIM, tenant-wide.
    pub my_eligible_roles: Fact<Vec<String>>,
    /// The groups you are a direct member of.
    pub my_groups: Fact<Vec<String>>,
    /// The Microsoft Graph application permissions (app role ids) you hold, as a service
    /// principal.
    pub my_app_permissions: Fact<Vec<String>>,
    /// Your effective permissions on the environment's subscription.
    pub azure_permissions: Fact<Vec<Permission>>,
    pub providers: Fact<Vec<Provider>>,
    pub package: Package,
}

/// azd's alpha switch for `language: custom`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alpha {
    /// `azd config get alpha.language.custom`, when set.
    pub custom: Option<String>,
    /// `azd config get alpha.all`, when set.
    pub all: Option<String>,
    /// `AZD_ALPHA_ENABLE_LANGUAGE_CUSTOM` (or `…LANGUAGE.CUSTOM`) and its value, when set.
    pub variable: Option<(String, String)>,
}

/// The azd environment preflight looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Environment {
    Selected {
        name: String,
        values: Values,
    },
    /// No `--environment` and no default environment; the environments there are.
    NoneSelected {
        existing: Vec<String>,
    },
    /// `--environment NAME` names none of them.
    NotFound {
        name: String,
        existing: Vec<String>,
    },
}

/// What `az account show` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub subscription_id: String,
    pub subscription_name: String,
    pub tenant_id: String,
    /// The signed-in user's name, or a service principal's client id.
    pub user: String,
    pub principal: Principal,
    /// The cloud (`AzureCloud`, `AzureUSGovernment`, …).
    pub cloud: String,
}

/// What kind of principal is signed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    User,
    ServicePrincipal,
}

/// The signed-in cloud's endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cloud {
    pub name: String,
    /// Azure Resource Manager, with a trailing slash.
    pub resource_manager: String,
    /// Microsoft Graph, with a trailing slash.
    pub graph: String,
}

/// A Functions runtime a region offers on Flex Consumption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runtime {
    pub name: String,
    pub version: String,
}

/// The parts of the API registration the deployment relies on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    pub identifier_uris: Vec<String>,
    pub app_roles: Vec<AppRole>,
    /// `api.requestedAccessTokenVersion` (unset: v1).
    pub token_version: Option<i64>,
    /// The client ids in `api.preAuthorizedApplications`.
    pub pre_authorized: Vec<String>,
}

/// One app role of the registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRole {
    pub id: String,
    pub value: String,
    pub enabled: bool,
}

/// A directory object and its kind (`user`, `group`, `servicePrincipal`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryObject {
    pub id: String,
    pub kind: String,
}

/// Who is signed in to az, in the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Me {
    pub id: String,
    pub principal: Principal,
}

/// A resource provider and its registration state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    pub namespace: String,
    pub state: String,
}

/// What the package step will find.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// With `MFA_PACKAGE_ZIP`: what `scripts/package.sh` made of it.
    pub zip: Option<Fact<PackageZip>>,
    /// Without it: the tools a build needs.
    pub cargo: Fact<()>,
    /// `rustc --version`'s version.
    pub rustc: Fact<String>,
    pub python3: Fact<()>,
    /// This machine (`std::env::consts`).
    pub os: String,
    pub arch: String,
    /// The `rust-version` this release was built with.
    pub required_rust: String,
}

/// What `scripts/package.sh` said of `MFA_PACKAGE_ZIP`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackageZip {
    Accepted,
    /// Refused, with its message.
    Refused(String),
}

/// Gathers every fact: first what needs nothing (the tools, the sign-in, the environment),
/// then, side by side, what needs those. `environment` is `--environment NAME`.
pub fn gather(runner: &Runner, environment: Option<&str>) -> Facts {
    let (azure_yaml, azd_version, alpha, azd_signed_in, environment, account, cloud) =
        std::thread::scope(|scope| {
            let azd_version = scope.spawn(|| azd::version(runner));
            let alpha = scope.spawn(|| azd::alpha(runner));
            let signed_in = scope.spawn(|| azd::signed_in(runner));
            let chosen = scope.spawn(|| azd::environment(runner, environment));
            let account = scope.spawn(|| az::account(runner));
            let cloud = scope.spawn(|| az::cloud(runner));
            (
                local::azure_yaml(),
                joined(azd_version),
                joined(alpha),
                joined(signed_in),
                joined(chosen),
                joined(account),
                joined(cloud),
            )
        });
    let empty = Values::default();
    let values = match &environment {
        Ok(Environment::Selected { values, .. }) => values,
        _ => &empty,
    };
    let asking = Asking {
        runner,
        values,
        account: &account,
        cloud: &cloud,
    };
    let later = std::thread::scope(|scope| {
        let region = scope.spawn(|| az::region(&asking));
        let registration = scope.spawn(|| entra::registration(&asking));
        let directory = scope.spawn(|| entra::directory(&asking));
        let sender = scope.spawn(|| entra::sender(&asking));
        let me = scope.spawn(|| entra::me(&asking));
        let azure = scope.spawn(|| az::subscription(&asking));
        let package = scope.spawn(|| local::package(runner, values));
        (
            joined(region),
            joined(registration),
            joined(directory),
            joined(sender),
            joined(me),
            joined(azure),
            joined(package),
        )
    });
    let (region, registration, directory, sender_exists, me, azure, package) = later;
    Facts {
        azure_yaml,
        azd_version,
        alpha,
        azd_signed_in,
        environment,
        account,
        cloud,
        flex_regions: region.flex,
        zone_regions: region.zone,
        flex_runtimes: region.runtimes,
        registration: registration.registration,
        api_principal: registration.principal,
        api_owners: registration.owners,
        directory,
        sender_exists,
        me: me.me,
        my_roles: me.roles,
        my_eligible_roles: me.eligible,
        my_groups: me.groups,
        my_app_permissions: me.app_permissions,
        azure_permissions: azure.permissions,
        providers: azure.providers,
        package,
    }
}

/// What the questions after the first round need.
struct Asking<'a> {
    runner: &'a Runner,
    values: &'a Values,
    account: &'a Fact<Account>,
    cloud: &'a Fact<Cloud>,
}

impl Asking<'_> {
    /// The signed-in account, or why the questions that need it are not asked.
    fn signed_in(&self) -> Fact<&Account> {
        match self.account {
            Ok(account) => Ok(account),
            Err(Gap::Missing(program)) => Err(Gap::Missing(program)),
            Err(Gap::Unknown(_)) => Err(Gap::Unknown(
                "not asked: needs the az sign-in (see az sign-in)".to_owned(),
            )),
        }
    }

    /// Returns the id the environment's `name` holds, once signed in, which a question about it
    /// needs (`what` says what the id should be, for the line that says it was not asked).
    fn signed_in_id(&self, name: &str, what: &str) -> Fact<&str> {
        self.signed_in()?;
        match self.values.get(name) {
            Some(id) if crate::preflight::settings::is_guid(id) => Ok(id),
            _ => Err(Gap::Unknown(format!("not asked: {name} is no {what}"))),
        }
    }

    /// Returns Azure Resource Manager's and Microsoft Graph's roots for the signed-in cloud
    /// (the public cloud's when `az cloud show` did not tell).
    fn roots(&self) -> (String, String) {
        match self.cloud {
            Ok(cloud) => (cloud.resource_manager.clone(), cloud.graph.clone()),
            Err(_) => (
                "https://management.azure.com/".to_owned(),
                "https://graph.microsoft.com/".to_owned(),
            ),
        }
    }
}

/// Takes a thread's answer; a thread that panicked counts as a gap, not a crash of the whole
/// run.
fn joined<T: Unanswered>(handle: ScopedJoinHandle<'_, T>) -> T {
    handle.join().unwrap_or_else(|_| T::unanswered())
}

/// What a question that failed inside preflight itself stands for.
trait Unanswered {
    fn unanswered() -> Self;
}

impl<T> Unanswered for Fact<T> {
    fn unanswered() -> Fact<T> {
        Err(Gap::Unknown("preflight failed while asking".to_owned()))
    }
}

/// Runs `az` with `args`, always asking for JSON and for errors only on stderr (a user's
/// `core.output` setting would otherwise change what it prints), and returns its stdout or the
/// gap.
fn az_json(runner: &Runner, args: &[&str]) -> Fact<String> {
    let mut all = args.to_vec();
    all.extend(["--output", "json", "--only-show-errors"]);
    stdout_of(runner.run("az", &all), "az", args)
}

/// Returns the stdout of a program that ended with 0, or the gap, named after what was run.
fn stdout_of(ran: Ran, program: &'static str, args: &[&str]) -> Fact<String> {
    let what = shown_command(program, args);
    match ran {
        Ran::Exited {
            code: 0, stdout, ..
        } => Ok(stdout),
        Ran::Exited { code, stderr, .. } => Err(Gap::Unknown(format!(
            "{what} failed (exit status {code}): {}",
            said(&stderr)
        ))),
        Ran::Missing => Err(Gap::Missing(program)),
        Ran::TimedOut(wait) => Err(Gap::Unknown(format!(
            "{what} did not answer within {} s",
            wait.as_secs_f64()
        ))),
        Ran::Failed(why) => Err(Gap::Unknown(format!("{what} could not be started: {why}"))),
    }
}

/// Shows a command as the admin would type it, shortened: the program and its first words (a
/// URL shown without its query).
fn shown_command(program: &str, args: &[&str]) -> String {
    let words: Vec<&str> = args
        .iter()
        .take_while(|arg| !arg.starts_with("--") || **arg == "--method" || **arg == "--url")
        .map(|arg| arg.split('?').next().unwrap_or_default())
        .collect();
    format!("{program} {}", words.join(" "))
}

/// Parses a program's JSON answer, or says it could not be understood.
fn parsed<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Fact<T> {
    serde_json::from_str(text).map_err(|error| {
        Gap::Unknown(format!(
            "{what} gave an answer preflight does not understand: {error}"
        ))
    })
}

/// Makes what a program said on stderr fit to show: its first line that says something,
/// without `ERROR: `, at most 300 characters, with anything shaped like a token masked.
pub(super) fn said(stderr: &str) -> String {
    let line = stderr
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("it said nothing");
    let line = line.strip_prefix("ERROR: ").unwrap_or(line);
    let masked: Vec<String> = line
        .split(' ')
        .map(|word| {
            if word.contains("eyJ") && word.len() > 40 {
                "[a token, not shown]".to_owned()
            } else {
                word.to_owned()
            }
        })
        .collect();
    let masked = masked.join(" ");
    match masked.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &masked[..at]),
        None => masked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_program_said_is_one_line_bounded_and_shows_no_token() {
        assert_eq!(
            said("\nERROR: Please run 'az login' to setup account.\nmore\n"),
            "Please run 'az login' to setup account."
        );
        let token = format!("eyJ0eXAiOiJKV1Qi{}", "a".repeat(60));
        assert!(!said(&format!("bad token {token} here")).contains("eyJ"));
        assert_eq!(said(&"x".repeat(400)).chars().count(), 301);
        assert_eq!(said(""), "it said nothing");
    }

    #[test]
    fn a_command_is_shown_short_and_without_its_query() {
        assert_eq!(
            shown_command(
                "az",
                &[
                    "rest",
                    "--method",
                    "get",
                    "--url",
                    "https://x/y?$select=id",
                    "--body",
                    "{}"
                ]
            ),
            "az rest --method get --url https://x/y"
        );
        assert_eq!(
            shown_command("azd", &["env", "get-values", "--output", "json"]),
            "azd env get-values"
        );
    }
}
