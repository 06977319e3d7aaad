//! Runs `preflight` as an admin runs it: the real binary, from a folder with `azure.yaml`, with
//! fake `az` and `azd` first on PATH. The fakes answer the commands preflight runs with canned
//! JSON (as the real tools print it) and log every command line, so a test can show that
//! preflight changed nothing. No Azure, no network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const SUBSCRIPTION: &str = "22222222-2222-2222-2222-222222222222";
const CLIENT: &str = "33333333-3333-3333-3333-333333333333";
const ME: &str = "44444444-4444-4444-4444-444444444444";
const API_PRINCIPAL: &str = "55555555-5555-5555-5555-555555555555";
const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
const SECRET: &str = "s3cret-cleanup-key-value";
const GRAPH: &str = "https://graph.microsoft.com/v1.0/";
const ARM: &str = "https://management.azure.com/";

/// What a fake answers to one command.
#[derive(Clone)]
struct Answer {
    code: i32,
    stdout: String,
    stderr: String,
    /// It hangs before it answers.
    hangs: bool,
}

fn says(stdout: impl ToString) -> Answer {
    Answer {
        code: 0,
        stdout: stdout.to_string(),
        stderr: String::new(),
        hangs: false,
    }
}

fn fails(code: i32, stderr: &str) -> Answer {
    Answer {
        code,
        stdout: String::new(),
        stderr: stderr.to_owned(),
        hangs: false,
    }
}

/// The world the fakes show: the azd environment's values and every command's answer, by a
/// pattern of its arguments (`*` matches anything; the first pattern that matches answers).
struct World {
    values: BTreeMap<String, String>,
    azd: Vec<(String, Answer)>,
    az: Vec<(String, Answer)>,
}

impl World {
    /// Returns a world with an environment ready to deploy, and an admin who may deploy it.
    fn ready() -> World {
        let values = [
            ("AZURE_ENV_NAME", "mfa-prod".to_owned()),
            ("AZURE_LOCATION", "swedencentral".to_owned()),
            ("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION.to_owned()),
            ("AZURE_TENANT_ID", TENANT.to_owned()),
            ("MFA_API_CLIENT_ID", CLIENT.to_owned()),
            ("MFA_API_WRITER_PRINCIPAL_IDS", format!("[\"{ME}\"]")),
            ("MFA_CLEANUP_KEY", SECRET.to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        let azd = vec![
            (
                "version *",
                says(json!({"azd": {"version": "1.23.4", "commit": "0123abc"}})),
            ),
            ("config get alpha.language.custom", says("\"on\"")),
            (
                "config get alpha.all",
                fails(1, "ERROR: no value at path 'alpha.all': key not found"),
            ),
            (
                "auth login --check-status *",
                says(json!({"status": "success", "expiresOn": "2030-01-01T00:00:00Z"})),
            ),
            (
                "env list *",
                says(
                    json!([{"Name": "mfa-prod", "IsDefault": true, "DotEnvPath": ".azure/mfa-prod/.env"}]),
                ),
            ),
        ];
        let stacks = json!({"value": [{"name": "custom", "properties": {"majorVersions": [{
        "minorVersions": [{"stackSettings": {"linuxRuntimeSettings": {"Sku": [
            {"skuCode": "FC1", "functionAppConfigProperties": {"runtime": {"name": "custom", "version": "1.0"}}}
        ]}}}]}]}}]});
        let application = json!({
            "appId": CLIENT,
            "identifierUris": [format!("api://{CLIENT}")],
            "appRoles": [
                {"id": "b4ec6d3e-a5f0-477b-9565-f18510865278", "value": "MfaPhone.ReadWrite", "isEnabled": true},
                {"id": "0344153f-992c-47ed-917f-00c8e8857bc6", "value": "MfaPhone.Read", "isEnabled": true}
            ],
            "api": {"requestedAccessTokenVersion": 1, "preAuthorizedApplications": [
                {"appId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "delegatedPermissionIds": []}
            ]}
        });
        let providers: Vec<Value> = [
            "Microsoft.Web",
            "Microsoft.App",
            "Microsoft.Storage",
            "Microsoft.OperationalInsights",
            "Microsoft.Insights",
            "Microsoft.ManagedIdentity",
        ]
        .iter()
        .map(|namespace| json!({"namespace": namespace, "registrationState": "Registered"}))
        .collect();
        let az = vec![
            (
                "account show *".to_owned(),
                says(json!({
                    "id": SUBSCRIPTION, "name": "Production", "tenantId": TENANT,
                    "environmentName": "AzureCloud", "user": {"name": "admin@contoso.com", "type": "user"}
                })),
            ),
            (
                "cloud show *".to_owned(),
                says(json!({"name": "AzureCloud", "endpoints": {
                    "resourceManager": ARM, "microsoftGraphResourceId": "https://graph.microsoft.com/"
                }})),
            ),
            (
                "functionapp list-flexconsumption-locations *".to_owned(),
                says(json!([{"name": "eastasia"}, {"name": "swedencentral"}])),
            ),
            (
                format!(
                    "rest --method get --url {ARM}providers/Microsoft.Web/locations/swedencentral/functionAppStacks*"
                ),
                says(stacks),
            ),
            ("ad app show --id *".to_owned(), says(application)),
            (
                "ad sp show --id *".to_owned(),
                says(json!({"id": API_PRINCIPAL, "appId": CLIENT})),
            ),
            (
                format!("rest --method get --url {GRAPH}servicePrincipals/{API_PRINCIPAL}/owners*"),
                says(json!({"value": []})),
            ),
            (
                format!("rest --method post --url {GRAPH}directoryObjects/getByIds *"),
                says(json!({"value": [
                    {"@odata.type": "#microsoft.graph.user", "id": ME}
                ]})),
            ),
            (
                format!("rest --method get --url {GRAPH}me?*"),
                says(json!({"id": ME})),
            ),
            (
                format!(
                    "rest --method get --url {GRAPH}me/transitiveMemberOf/microsoft.graph.directoryRole*"
                ),
                says(json!({"value": [{"roleTemplateId": GLOBAL_ADMINISTRATOR}]})),
            ),
            (
                format!("rest --method get --url {GRAPH}me/memberOf/microsoft.graph.group*"),
                says(json!({"value": []})),
            ),
            (
                format!(
                    "rest --method get --url {GRAPH}roleManagement/directory/roleEligibilityScheduleInstances/*"
                ),
                says(json!({"value": []})),
            ),
            (
                format!(
                    "rest --method get --url {ARM}subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/permissions*"
                ),
                says(
                    json!({"value": [{"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}]}),
                ),
            ),
            ("provider list *".to_owned(), says(Value::Array(providers))),
        ];
        let owned = |answers: Vec<(&str, Answer)>| {
            answers
                .into_iter()
                .map(|(pattern, answer)| (pattern.to_owned(), answer))
                .collect()
        };
        World {
            values,
            azd: owned(azd),
            az,
        }
    }

    fn value(mut self, name: &str, value: &str) -> World {
        self.values.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Makes `azd` answer `pattern` so, before any earlier answer.
    fn azd(mut self, pattern: &str, answer: Answer) -> World {
        self.azd.insert(0, (pattern.to_owned(), answer));
        self
    }

    /// Makes `az` answer `pattern` so, before any earlier answer.
    fn az(mut self, pattern: &str, answer: Answer) -> World {
        self.az.insert(0, (pattern.to_owned(), answer));
        self
    }
}

/// The folder preflight runs in (with `azure.yaml`), the fakes' folder, and their log.
struct Place {
    root: PathBuf,
}

impl Place {
    fn new(world: &World) -> Place {
        let root = std::env::temp_dir().join(format!("mfa-preflight-it-{}", uuid::Uuid::new_v4()));
        let place = Place { root };
        std::fs::create_dir_all(place.checkout()).expect("a checkout folder");
        std::fs::create_dir_all(place.bin()).expect("a bin folder");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("azure.yaml"),
            place.checkout().join("azure.yaml"),
        )
        .expect("azure.yaml copied");
        let mut azd = world.azd.clone();
        let values = serde_json::to_string(&world.values).expect("JSON");
        azd.push((
            "env get-values *--environment mfa-prod".to_owned(),
            says(values),
        ));
        place.fake("azd", &azd);
        place.fake("az", &world.az);
        place.fake(
            "cargo",
            &[(
                "--version".to_owned(),
                says("cargo 1.90.0 (abc 2025-09-01)"),
            )],
        );
        place.fake(
            "rustc",
            &[(
                "--version".to_owned(),
                says("rustc 1.90.0 (abc 2025-09-01)"),
            )],
        );
        place.fake(
            "python3",
            &[("--version".to_owned(), says("Python 3.12.3"))],
        );
        place
    }

    fn checkout(&self) -> PathBuf {
        self.root.join("checkout")
    }

    fn bin(&self) -> PathBuf {
        self.root.join("bin")
    }

    fn log(&self) -> PathBuf {
        self.root.join("commands.log")
    }

    /// Returns every command line the fakes were given.
    fn commands(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Writes a fake `program`: it logs its command line, then answers by the first pattern
    /// that matches its arguments.
    fn fake(&self, program: &str, answers: &[(String, Answer)]) {
        let mut script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"{program} $*\" >> '{}'\ncase \"$*\" in\n",
            self.log().display()
        );
        for (pattern, answer) in answers {
            let pattern: Vec<String> = pattern
                .split('*')
                .map(|literal| {
                    assert!(
                        !literal.contains('\''),
                        "a pattern without quotes: {literal}"
                    );
                    if literal.is_empty() {
                        String::new()
                    } else {
                        format!("'{literal}'")
                    }
                })
                .collect();
            let hang = if answer.hangs { "sleep 30\n" } else { "" };
            script.push_str(&format!(
                "{})\n{hang}cat <<'MFA_OUT'\n{}\nMFA_OUT\ncat >&2 <<'MFA_OUT'\n{}\nMFA_OUT\nexit {} ;;\n",
                pattern.join("*"),
                answer.stdout,
                answer.stderr,
                answer.code
            ));
        }
        script.push_str("*) echo \"ERROR: the fake has no answer to: $*\" >&2; exit 97 ;;\nesac\n");
        let path = self.bin().join(program);
        std::fs::write(&path, script).expect("a fake written");
        let mut permissions = std::fs::metadata(&path).expect("the fake").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).expect("the fake is executable");
    }

    /// Runs `preflight` with `arguments` from the checkout, the fakes first on PATH and
    /// nothing else of this process's environment, and returns its exit status, stdout and stderr.
    async fn preflight(&self, arguments: &[&str], timeout_seconds: u64) -> (i32, String, String) {
        let path = format!("{}:/usr/bin:/bin", self.bin().display());
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            crate::helpers::handler_command()
                .arg("preflight")
                .args(arguments)
                .current_dir(self.checkout())
                .env_clear()
                .env("PATH", path)
                .env(
                    "MFA_PREFLIGHT_COMMAND_TIMEOUT_SECONDS",
                    timeout_seconds.to_string(),
                )
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("preflight ends")
        .expect("preflight runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Finds the line of check `name` (and its `fix:` line, when there is one).
fn line_of<'a>(stdout: &'a str, name: &str) -> (&'a str, Option<&'a str>) {
    let mut lines = stdout.lines();
    let needle = format!("  {name}:");
    let line = lines
        .by_ref()
        .find(|line| line.contains(&needle))
        .unwrap_or_else(|| panic!("a line for {name} in:\n{stdout}"));
    let fix = lines
        .next()
        .and_then(|next| next.trim_start().strip_prefix("fix: "));
    (line, fix)
}

/// Picks the command lines that would change something.
fn changes(commands: &[String]) -> Vec<&String> {
    commands
        .iter()
        .filter(|command| {
            let words: Vec<&str> = command.split(' ').collect();
            let writes = [
                "set", "create", "delete", "update", "new", "select", "register", "unset",
            ]
            .iter()
            .any(|verb| words.contains(verb));
            let method = words
                .iter()
                .position(|word| *word == "--method")
                .and_then(|at| words.get(at + 1));
            let rest_write = match method {
                Some(&"get") | None => false,
                Some(&"post") => !command.contains("/directoryObjects/getByIds"),
                Some(_) => true,
            };
            writes || rest_write
        })
        .collect()
}

#[tokio::test]
async fn a_ready_environment_exits_0_with_every_line_ok_skip_or_warn_and_changes_nothing() {
    let place = Place::new(&World::ready());
    let (status, stdout, stderr) = place.preflight(&[], 10).await;
    assert_eq!(status, 0, "{stdout}\n{stderr}");
    let checks: Vec<&str> = stdout
        .lines()
        .filter(|line| !line.starts_with("preflight of") && !line.contains(" ok, "))
        .filter(|line| !line.trim_start().starts_with("fix: "))
        .collect();
    assert_eq!(checks.len(), 26, "{stdout}");
    for line in &checks {
        assert!(
            ["ok  ", "skip", "warn"]
                .iter()
                .any(|word| line.starts_with(word)),
            "{line}\n{stdout}"
        );
    }
    assert!(
        stdout.contains("preflight of the azd environment mfa-prod"),
        "{stdout}"
    );
    assert!(stdout.ends_with("ready for azd up\n"), "{stdout}");
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stdout}"
    );
    let commands = place.commands();
    assert!(
        commands
            .iter()
            .any(|command| command.starts_with("azd env get-values")),
        "{commands:#?}"
    );
    assert_eq!(changes(&commands), Vec::<&String>::new(), "{commands:#?}");
}

#[tokio::test]
async fn missing_writers_a_placeholder_and_the_alpha_switch_off_each_fail_with_its_fix() {
    let world = World::ready()
        .value("MFA_API_WRITER_PRINCIPAL_IDS", "[]")
        .value("MFA_API_READER_PRINCIPAL_IDS", "[\"<object id>\"]")
        .azd(
            "config get alpha.language.custom",
            fails(
                1,
                "ERROR: no value at path 'alpha.language.custom': key not found",
            ),
        );
    let place = Place::new(&world);
    let (status, stdout, stderr) = place.preflight(&[], 10).await;
    assert_eq!(status, 1, "{stdout}\n{stderr}");
    let (line, fix) = line_of(&stdout, "writers");
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(line.contains("api-roles-need-writers"), "{line}");
    assert_eq!(
        fix,
        Some(
            "azd env set MFA_API_WRITER_PRINCIPAL_IDS \
             \"[\\\"$(az ad signed-in-user show --query id -o tsv)\\\"]\""
        )
    );
    let (line, fix) = line_of(&stdout, "placeholders");
    assert!(
        line.starts_with("FAIL") && line.contains("MFA_API_READER_PRINCIPAL_IDS"),
        "{line}"
    );
    assert_eq!(
        fix,
        Some("azd env set MFA_API_READER_PRINCIPAL_IDS <value>")
    );
    let (line, fix) = line_of(&stdout, "azd alpha feature");
    assert!(line.starts_with("FAIL"), "{line}");
    assert_eq!(fix, Some("azd config set alpha.language.custom on"));
    assert!(stdout.contains("fix the FAIL lines"), "{stdout}");
    assert_eq!(changes(&place.commands()), Vec::<&String>::new());
}

#[tokio::test]
async fn az_not_signed_in_is_a_check_that_could_not_be_made_and_exits_2() {
    let world = World::ready().az(
        "account show *",
        fails(1, "ERROR: Please run 'az login' to setup account."),
    );
    let place = Place::new(&world);
    let (status, stdout, stderr) = place.preflight(&[], 10).await;
    assert_eq!(status, 2, "{stdout}\n{stderr}");
    let (line, fix) = line_of(&stdout, "az sign-in");
    assert!(
        line.starts_with("????") && line.contains("az is not signed in"),
        "{line}"
    );
    assert_eq!(fix, Some(format!("az login --tenant {TENANT}").as_str()));
    for name in [
        "region",
        "API registration",
        "Graph grants",
        "Azure permissions",
    ] {
        let (line, _) = line_of(&stdout, name);
        assert!(line.starts_with("????"), "{line}");
    }
    assert!(
        !stdout.lines().any(|line| line.starts_with("FAIL")),
        "{stdout}"
    );
    let asked_azure = place
        .commands()
        .into_iter()
        .filter(|command| command.starts_with("az rest") || command.starts_with("az ad"))
        .count();
    assert_eq!(
        asked_azure, 0,
        "nothing is asked of Azure without a sign-in"
    );
}

#[tokio::test]
async fn a_hung_az_costs_one_bounded_wait_and_is_reported_as_not_checked() {
    let hung = Answer {
        hangs: true,
        ..says("{}")
    };
    let place = Place::new(&World::ready().az("account show *", hung));
    let started = Instant::now();
    let (status, stdout, stderr) = place.preflight(&[], 1).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "bounded: {:?}",
        started.elapsed()
    );
    assert_eq!(status, 2, "{stdout}\n{stderr}");
    let (line, _) = line_of(&stdout, "az sign-in");
    assert!(
        line.starts_with("????") && line.contains("did not answer within 1 s"),
        "{line}"
    );
}

#[tokio::test]
async fn json_prints_one_object_with_every_check_and_the_exit_status() {
    let world = World::ready().value("MFA_DEPLOYER_QUEUE_ACCESS", "true");
    let place = Place::new(&world);
    let (status, stdout, stderr) = place.preflight(&["--json"], 10).await;
    assert_eq!(status, 0, "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).expect("one JSON object on stdout");
    assert_eq!(summary["command"], "preflight");
    assert_eq!(summary["exitStatus"], 0);
    assert_eq!(summary["environment"], "mfa-prod");
    let checks = summary["checks"].as_array().expect("the checks");
    assert_eq!(checks.len(), 26);
    for check in checks {
        for field in ["name", "verdict", "message", "fix"] {
            assert!(check.get(field).is_some(), "{field} in {check}");
        }
    }
    let queue = checks
        .iter()
        .find(|check| check["name"] == "deployer queue access")
        .expect("the queue check");
    assert_eq!(queue["verdict"], "warn");
    assert_eq!(queue["fix"], "azd env set MFA_DEPLOYER_QUEUE_ACCESS false");
}

#[tokio::test]
async fn an_environment_that_does_not_exist_fails_and_is_never_created() {
    let place = Place::new(&World::ready());
    let (status, stdout, _) = place.preflight(&["--environment", "mfa-test"], 10).await;
    assert_eq!(status, 1, "{stdout}");
    let (line, fix) = line_of(&stdout, "environment");
    assert!(
        line.starts_with("FAIL") && line.contains("mfa-test"),
        "{line}"
    );
    assert_eq!(
        fix,
        Some(
            format!("azd env new mfa-test --subscription {SUBSCRIPTION} --location <region>")
                .as_str()
        )
    );
    let commands = place.commands();
    assert!(
        !commands
            .iter()
            .any(|command| command.starts_with("azd env get-values")),
        "{commands:#?}"
    );
    assert_eq!(changes(&commands), Vec::<&String>::new());
}

#[tokio::test]
async fn preflight_help_states_its_exit_statuses_and_its_command_timeout() {
    let output = crate::helpers::handler_command()
        .args(["preflight", "--help"])
        .output()
        .await
        .expect("the command runs");
    let help = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0));
    for expected in [
        "--environment",
        "--json",
        "Exit status:",
        "0  nothing failed",
        "1  a check failed",
        "2  nothing failed, but",
    ] {
        assert!(help.contains(expected), "{expected} in: {help}");
    }
    assert!(
        help.contains("--command-timeout")
            && help.contains("MFA_PREFLIGHT_COMMAND_TIMEOUT_SECONDS"),
        "a slow az can be given more time, and the help says how: {help}"
    );
}
