//! The command line of `bulk`, read strictly: an unknown option, a missing value or an
//! endpoint that is not a URL is an error before anything is read or sent.

use std::path::PathBuf;
use std::sync::Arc;

use url::Url;

use super::endpoint::{Endpoint, HttpEndpoint};
use super::queued::{QueueEndpoint, is_local};

pub const USAGE: &str = "\
usage: mfa-phone-handler bulk FILE (--endpoint URL | --queue URL) [options]

  FILE                   a CSV (comma, semicolon or tab; UTF-8, UTF-16 or Windows-1252) with
                         a user column (UserId, UPN, UserPrincipalName, Name, ObjectId) and
                         number columns (Mobile, AlternateMobile, OfficePhone, or phoneNumber
                         with phoneType); optional Remove/ForcedRemoval/operation, smsSignIn,
                         NotifyUser, LanguageOverride, CallerName
  --endpoint URL         the HTTP trigger (…/api/SetOrRemoveMobilePhoneMfa)
  --queue URL            or the request queue (https://ACCOUNT.queue.core.windows.net/
                         mfa-phone-requests; results from mfa-phone-results beside it); your
                         az / azd sign-in against Azure, the development account against Azurite
  --result-wait SECONDS  how long a queued request's result is waited for (default 900)
  --function-key KEY     its function key (or MFA_FUNCTION_KEY)
  --audience URI         also send an Entra token for the API (your az / azd sign-in)
  --dry-run              the handler plans every row; nothing is written
  --out DIR              where report.csv, report.html and the run's state go (default: .)
  --default-region CC    read numbers without a country code as numbers of CC (e.g. DE)
  --skip-bad-rows        send the rows without problems even when others have some
  --concurrency N        users changed side by side (default 8 over HTTP, 128 through the
                         queue, where the host's batch settings pace the work)
  --caller-name NAME     CallerName of rows that name none (default: bulk FILE)
  --write-limit N/SECONDS  send at most N changes in any SECONDS (default 3000/150, Graph's
                         write limit per app and tenant; lower it when other jobs share it)";

/// What the command was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    pub file: PathBuf,
    pub endpoint: Option<Url>,
    pub queue: Option<Url>,
    pub result_wait: std::time::Duration,
    pub function_key: Option<String>,
    pub audience: Option<String>,
    pub dry_run: bool,
    pub out: PathBuf,
    pub default_region: Option<String>,
    pub skip_bad_rows: bool,
    pub concurrency: usize,
    pub caller_name: Option<String>,
    /// At most this many changes in any window (Graph's write limit).
    pub write_limit: (usize, std::time::Duration),
}

impl Options {
    /// Reads the arguments after `bulk`.
    ///
    /// # Errors
    ///
    /// What is wrong, naming the option.
    pub fn parse(arguments: &[String]) -> Result<Options, String> {
        let mut options = Options {
            file: PathBuf::new(),
            endpoint: None,
            queue: None,
            result_wait: std::time::Duration::from_secs(900),
            function_key: std::env::var("MFA_FUNCTION_KEY")
                .ok()
                .filter(|key| !key.is_empty()),
            audience: None,
            dry_run: false,
            out: PathBuf::from("."),
            default_region: None,
            skip_bad_rows: false,
            concurrency: 0,
            caller_name: None,
            write_limit: super::send::WriteLimit::GRAPH,
        };
        let mut file = None;
        let mut arguments = arguments.iter();
        while let Some(argument) = arguments.next() {
            let (name, inline) = match argument.split_once('=') {
                Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
                _ => (argument.as_str(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| arguments.next().cloned())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match name {
                "--endpoint" => {
                    let text = value()?;
                    let url = Url::parse(&text)
                        .ok()
                        .filter(|url| matches!(url.scheme(), "http" | "https"))
                        .ok_or_else(|| format!("--endpoint: '{text}' is not an http(s) URL"))?;
                    options.endpoint = Some(url);
                }
                "--function-key" => options.function_key = Some(value()?),
                "--audience" => options.audience = Some(value()?),
                "--dry-run" | "--skip-bad-rows" if inline.is_some() => {
                    return Err(format!("{name} takes no value"));
                }
                "--dry-run" => options.dry_run = true,
                "--out" => options.out = PathBuf::from(value()?),
                "--default-region" => {
                    let region = value()?;
                    if region.len() != 2 || !region.chars().all(|c| c.is_ascii_alphabetic()) {
                        return Err(format!(
                            "--default-region: '{region}' is not a two-letter region code such as DE"
                        ));
                    }
                    options.default_region = Some(region.to_ascii_uppercase());
                }
                "--skip-bad-rows" => options.skip_bad_rows = true,
                "--concurrency" => {
                    let text = value()?;
                    options.concurrency = text
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=256).contains(n))
                        .ok_or_else(|| {
                            format!("--concurrency: '{text}' is not a number from 1 to 256")
                        })?;
                }
                "--caller-name" => {
                    let name = value()?;
                    if name.chars().count() > crate::request::MAX_TEXT_LENGTH
                        || name.chars().any(char::is_control)
                    {
                        return Err(format!(
                            "--caller-name: one line of at most {} characters",
                            crate::request::MAX_TEXT_LENGTH
                        ));
                    }
                    options.caller_name = Some(name);
                }
                "--write-limit" => {
                    let text = value()?;
                    let limit = text.split_once('/').and_then(|(count, seconds)| {
                        let count = count.trim().parse::<usize>().ok().filter(|n| *n > 0)?;
                        let seconds = seconds.trim().parse::<u64>().ok().filter(|n| *n > 0)?;
                        Some((count, std::time::Duration::from_secs(seconds)))
                    });
                    options.write_limit = limit.ok_or_else(|| {
                        format!("--write-limit: '{text}' is not COUNT/SECONDS, such as 3000/150")
                    })?;
                }
                "--queue" => {
                    let text = value()?;
                    let url = Url::parse(&text)
                        .ok()
                        .filter(|url| matches!(url.scheme(), "http" | "https"))
                        .ok_or_else(|| format!("--queue: '{text}' is not an http(s) URL"))?;
                    options.queue = Some(url);
                }
                "--result-wait" => {
                    let text = value()?;
                    let seconds = text
                        .parse::<u64>()
                        .ok()
                        .filter(|n| (1..=86_400).contains(n))
                        .ok_or_else(|| {
                            format!(
                                "--result-wait: '{text}' is not a number of seconds from 1 to 86400"
                            )
                        })?;
                    options.result_wait = std::time::Duration::from_secs(seconds);
                }
                other if other.starts_with('-') => return Err(format!("unknown option '{other}'")),
                path if file.is_none() => file = Some(PathBuf::from(path)),
                extra => return Err(format!("a second file '{extra}': give one file")),
            }
        }
        options.file = file.ok_or("no file given")?;
        if options.concurrency == 0 {
            // Over HTTP each request holds an invocation; a queued one waits on the queue,
            // and the host takes as many as its batch settings say.
            options.concurrency = if options.queue.is_some() { 128 } else { 8 };
        }
        match (&options.endpoint, &options.queue) {
            (None, None) => {
                return Err(
                    "--endpoint (the HTTP trigger's URL) or --queue (the request queue's) is needed"
                        .to_owned(),
                );
            }
            (Some(_), Some(_)) => return Err("give --endpoint or --queue, not both".to_owned()),
            _ => {}
        }
        Ok(options)
    }

    /// Where the changes go, as the run's state records it (a different one is a new run).
    pub fn destination(&self) -> String {
        let mut url = match (&self.queue, &self.endpoint) {
            (Some(queue), _) => queue.clone(),
            (None, Some(endpoint)) => endpoint.clone(),
            (None, None) => return String::new(),
        };
        url.set_query(None);
        url.set_fragment(None);
        let _ = url.set_password(None);
        url.to_string()
    }

    /// The endpoint the options name, with its credentials.
    ///
    /// # Errors
    ///
    /// The developer sign-in cannot be set up, or the HTTP client cannot be built.
    pub fn endpoint(&self) -> Result<Endpoint, String> {
        let sign_in = || -> Result<Arc<dyn azure_core::credentials::TokenCredential>, String> {
            let credential = azure_identity::DeveloperToolsCredential::new(None)
                .map_err(|error| format!("no developer sign-in available (az login?): {error}"))?;
            Ok(credential)
        };
        if let Some(queue) = &self.queue {
            let credential = if is_local(queue) {
                None
            } else {
                Some(sign_in()?)
            };
            return QueueEndpoint::new(queue, credential, self.result_wait).map(Endpoint::Queue);
        }
        let url = self.endpoint.clone().ok_or("--endpoint is needed")?;
        let token = match &self.audience {
            Some(audience) => Some((sign_in()?, audience.clone())),
            None => None,
        };
        HttpEndpoint::http(url, self.function_key.clone(), token).map(Endpoint::Http)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<Options, String> {
        Options::parse(
            &arguments
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn options_are_read_strictly() {
        let options = parse(&[
            "users.csv",
            "--endpoint=http://127.0.0.1:7071/api/SetOrRemoveMobilePhoneMfa",
            "--dry-run",
            "--default-region",
            "de",
        ])
        .expect("read");
        assert!(options.dry_run);
        assert_eq!(options.default_region.as_deref(), Some("DE"));
        assert!(
            parse(&["users.csv"])
                .expect_err("no endpoint")
                .contains("--endpoint")
        );
        assert!(
            parse(&["a.csv", "--endpoint", "ftp://x"])
                .expect_err("a URL")
                .contains("ftp://x")
        );
        assert!(
            parse(&["a.csv", "--endpoint", "http://x", "--bogus"])
                .expect_err("unknown")
                .contains("--bogus")
        );
        assert!(parse(&["a.csv", "--endpoint", "http://x", "--concurrency", "0"]).is_err());
        assert!(
            parse(&["a.csv", "--endpoint", "http://x", "--out"])
                .expect_err("a value")
                .contains("--out")
        );
    }
}
