//! Asks azd for its version, its alpha switch, whether it is signed in, and the azd
//! environment's values. Only `version`, `config get`, `auth login --check-status`, `env list`
//! and `env get-values` are run: none of them changes anything. `env get-values` is always
//! given the environment's name, because without one azd offers to create an environment.

use super::{Alpha, Environment, Fact, Gap, parsed, stdout_of};
use crate::preflight::runner::{Ran, Runner};
use crate::preflight::settings::Values;

/// Reads azd's version from `azd version --output json`.
pub(super) fn version(runner: &Runner) -> Fact<String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        azd: Azd,
    }
    #[derive(serde::Deserialize)]
    struct Azd {
        version: String,
    }
    let args = ["version", "--output", "json"];
    let text = stdout_of(runner.run("azd", &args), "azd", &args)?;
    let answer: Answer = parsed(&text, "azd version")?;
    Ok(answer.azd.version)
}

/// Reads the alpha switch: `alpha.language.custom`, `alpha.all`, and the variable azd reads
/// first.
pub(super) fn alpha(runner: &Runner) -> Fact<Alpha> {
    let variable = [
        "AZD_ALPHA_ENABLE_LANGUAGE.CUSTOM",
        "AZD_ALPHA_ENABLE_LANGUAGE_CUSTOM",
    ]
    .into_iter()
    .find_map(|name| {
        std::env::var(name)
            .ok()
            .map(|value| (name.to_owned(), value))
    });
    Ok(Alpha {
        custom: config(runner, "alpha.language.custom")?,
        all: config(runner, "alpha.all")?,
        variable,
    })
}

/// Reads a value with `azd config get KEY`; `None` when it is not set.
fn config(runner: &Runner, key: &str) -> Fact<Option<String>> {
    let args = ["config", "get", key];
    match runner.run("azd", &args) {
        Ran::Exited {
            code: 0, stdout, ..
        } => Ok(Some(match serde_json::from_str(&stdout) {
            Ok(serde_json::Value::String(value)) => value,
            _ => stdout.trim().to_owned(),
        })),
        Ran::Exited { stderr, .. } if stderr.contains("no value") => Ok(None),
        ran => stdout_of(ran, "azd", &args).map(|_| None),
    }
}

/// Whether `azd auth login --check-status` finds a signed-in account that gets a token (it
/// ends with 0 either way; its JSON says which).
pub(super) fn signed_in(runner: &Runner) -> Fact<bool> {
    #[derive(serde::Deserialize)]
    struct Answer {
        status: String,
    }
    let args = ["auth", "login", "--check-status", "--output", "json"];
    let text = stdout_of(runner.run("azd", &args), "azd", &args)?;
    let answer: Answer = parsed(&text, "azd auth login --check-status")?;
    Ok(answer.status == "success")
}

/// Reads the environment `--environment` names, or azd's default one, with its values.
pub(super) fn environment(runner: &Runner, asked: Option<&str>) -> Fact<Environment> {
    #[derive(serde::Deserialize)]
    struct Listed {
        #[serde(rename = "Name")]
        name: String,
        #[serde(rename = "IsDefault", default)]
        is_default: bool,
    }
    let args = ["env", "list", "--output", "json", "--no-prompt"];
    let text = stdout_of(runner.run("azd", &args), "azd", &args)?;
    let listed: Vec<Listed> = parsed(&text, "azd env list")?;
    let existing: Vec<String> = listed.iter().map(|listed| listed.name.clone()).collect();
    let name = match asked {
        Some(name) if existing.iter().any(|existing| existing == name) => name.to_owned(),
        Some(name) => {
            return Ok(Environment::NotFound {
                name: name.to_owned(),
                existing,
            });
        }
        None => match listed.iter().find(|listed| listed.is_default) {
            Some(listed) => listed.name.clone(),
            None => return Ok(Environment::NoneSelected { existing }),
        },
    };
    let args = [
        "env",
        "get-values",
        "--output",
        "json",
        "--no-prompt",
        "--environment",
        &name,
    ];
    let text = stdout_of(runner.run("azd", &args), "azd", &args)?;
    let values: std::collections::BTreeMap<String, serde_json::Value> =
        parsed(&text, "azd env get-values").map_err(|_| {
            // The parser's words are left out, because they could quote a value.
            Gap::Unknown(
                "azd env get-values gave an answer preflight does not understand".to_owned(),
            )
        })?;
    let values: Values = values
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            (name, value)
        })
        .collect();
    Ok(Environment::Selected { name, values })
}
