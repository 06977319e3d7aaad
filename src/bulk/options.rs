//! The command line of `bulk`, read strictly: an unknown option, a missing value or an
//! endpoint that is not a URL is an error before anything is read or sent.

use std::path::PathBuf;

use url::Url;

use super::endpoint::{Endpoint, HttpEndpoint};
use super::queued::QueueEndpoint;
use crate::api_credentials::{FUNCTION_KEY_VARIABLE, KeySource};

/// `bulk`: its options as clap reads them. [`Options`] is what the run uses, checked.
#[derive(Clone, Debug, clap::Args)]
#[command(
    group(clap::ArgGroup::new("destination").required(true).args(["endpoint", "queue"])),
    after_help = "\
FILE is a CSV (comma, semicolon or tab; UTF-8, UTF-16 or Windows-1252) with a user column
(UserId, UPN, UserPrincipalName, Name, ObjectId) and number columns (Mobile, AlternateMobile,
OfficePhone, or phoneNumber with phoneType); optional Remove/ForcedRemoval/operation,
smsSignIn, NotifyUser, LanguageOverride, CallerName.

Exit status:
  0  every change succeeded
  1  a change failed or was not sent, a bad row was skipped, or the run was stopped (the
     report says which; the same command goes on where it stopped)
  2  the file or the options are wrong, the run's state is refused (not signed with this
     machine's key, edited, or a link), or the endpoint refused every request: nothing was
     sent (or nothing reached the handler), and no report is written"
)]
pub struct BulkArgs {
    /// The CSV file of users and numbers
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// The HTTP trigger (…/api/SetOrRemoveMobilePhoneMfa)
    #[arg(long, value_name = "URL", value_parser = http_url)]
    pub(crate) endpoint: Option<Url>,
    /// Or the request queue (https://ACCOUNT.queue.core.windows.net/mfa-phone-requests;
    /// results from mfa-phone-results beside it), with your az / azd sign-in, or Azurite's
    /// development account on this machine
    #[arg(long, value_name = "URL", value_parser = http_url)]
    pub(crate) queue: Option<Url>,
    /// How long a queued request's result is waited for, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) result_wait: u64,
    #[command(flatten)]
    pub(crate) credentials: crate::api_credentials::ApiCredentials,
    /// The handler plans every row; nothing is written
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Where report.csv, report.html and the run's state go
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub(crate) out: PathBuf,
    /// Read numbers without a country code as numbers of this region (e.g. DE)
    #[arg(long, value_name = "CC", value_parser = region)]
    pub(crate) default_region: Option<String>,
    /// Send the rows without problems even when others have some
    #[arg(long)]
    pub(crate) skip_bad_rows: bool,
    /// Users changed side by side [default: 8 over HTTP, where each request holds an
    /// invocation; 128 through the queue, where the host's batch settings pace the work]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) concurrency: Option<u16>,
    /// Your name as every request declares it (CallerName); a row's own CallerName is sent
    /// beside it, never instead [default: your login name (bulk FILE)]
    #[arg(long, value_name = "NAME", value_parser = caller_name)]
    pub(crate) caller_name: Option<String>,
    /// Send at most N changes in any SECONDS (Graph's write limit per app and tenant; lower it
    /// when other jobs share the app)
    #[arg(long, value_name = "N/SECONDS", default_value = "3000/150", value_parser = write_limit)]
    pub(crate) write_limit: WriteLimitArg,
    /// Print the run's summary as one JSON object on stdout (no progress bar)
    #[arg(long)]
    pub(crate) json: bool,
    /// The key that signs the run's state, kept outside --out (made on first use, readable by
    /// you alone) [default: your configuration directory's mfa-phone-handler/bulk-state.key]
    #[arg(long, value_name = "FILE", env = "MFA_BULK_STATE_KEY")]
    pub(crate) state_key: Option<PathBuf>,
}

/// `--write-limit`: at most `count` changes in any `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WriteLimitArg {
    pub(crate) count: usize,
    pub(crate) window: std::time::Duration,
}

/// What the command was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    pub(crate) file: PathBuf,
    pub(crate) endpoint: Option<Url>,
    pub(crate) queue: Option<Url>,
    pub(crate) result_wait: std::time::Duration,
    /// Where the function key comes from (read when the endpoint is made).
    pub(crate) function_key: KeySource,
    pub(crate) audience: Option<String>,
    pub(crate) dry_run: bool,
    pub(crate) out: PathBuf,
    pub(crate) default_region: Option<String>,
    pub(crate) skip_bad_rows: bool,
    pub(crate) concurrency: usize,
    pub(crate) caller_name: Option<String>,
    /// At most this many changes in any window (Graph's write limit).
    pub(crate) write_limit: (usize, std::time::Duration),
    /// Whether to print the summary as JSON on stdout, with no progress bar.
    pub(crate) json: bool,
    /// The key file that signs the run's state (`None` when no configuration directory is
    /// known).
    pub(crate) state_key: Option<PathBuf>,
}

impl From<BulkArgs> for Options {
    fn from(arguments: BulkArgs) -> Options {
        // Over HTTP each request holds an invocation; a queued one waits on the queue, and
        // the host takes as many as its batch settings say.
        let concurrency = arguments
            .concurrency
            .map_or(if arguments.queue.is_some() { 128 } else { 8 }, usize::from);
        Options {
            file: arguments.file,
            endpoint: arguments.endpoint,
            queue: arguments.queue,
            result_wait: std::time::Duration::from_secs(arguments.result_wait),
            function_key: arguments
                .credentials
                .key_source(std::env::var(FUNCTION_KEY_VARIABLE).ok()),
            audience: arguments.credentials.audience,
            dry_run: arguments.dry_run,
            out: arguments.out,
            default_region: arguments.default_region,
            skip_bad_rows: arguments.skip_bad_rows,
            concurrency,
            caller_name: arguments.caller_name,
            write_limit: (arguments.write_limit.count, arguments.write_limit.window),
            json: arguments.json,
            state_key: arguments
                .state_key
                .or_else(|| super::state_key::default_path(|name| std::env::var(name).ok())),
        }
    }
}

impl Options {
    /// Reads the arguments after `bulk`, as the command line does.
    ///
    /// # Errors
    ///
    /// What is wrong, naming the option (clap's words).
    pub fn parse(arguments: &[String]) -> Result<Options, String> {
        #[derive(clap::Parser)]
        #[command(name = "bulk", no_binary_name = true)]
        struct Bulk {
            #[command(flatten)]
            arguments: BulkArgs,
        }
        <Bulk as clap::Parser>::try_parse_from(arguments)
            .map(|bulk| Options::from(bulk.arguments))
            .map_err(|error| error.to_string())
    }

    /// Where the changes go, as the run's state records it (a different one is a new run).
    pub(crate) fn destination(&self) -> String {
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

    /// Makes the endpoint the options name, with its credentials.
    ///
    /// # Errors
    ///
    /// When the developer sign-in cannot be set up, the key cannot be read, a credential would
    /// go over plain http to another machine, or the HTTP client cannot be built.
    pub fn endpoint(&self) -> Result<Endpoint, String> {
        if let Some(queue) = &self.queue {
            return QueueEndpoint::signed_in(queue, self.result_wait)
                .and_then(|endpoint| endpoint.carrying_caller_token(self.audience.as_deref()))
                .map(Endpoint::Queue);
        }
        let url = self.endpoint.clone().ok_or("--endpoint is needed")?;
        let key = self.function_key.key(!self.json)?;
        HttpEndpoint::signed_in(url, key, self.audience.as_deref()).map(Endpoint::Http)
    }
}

/// Parses an http(s) URL.
pub(crate) fn http_url(text: &str) -> Result<Url, String> {
    Url::parse(text)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| format!("'{text}' is not an http(s) URL"))
}

/// Parses a two-letter region code into upper case.
fn region(text: &str) -> Result<String, String> {
    if text.len() != 2 || !text.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(format!(
            "'{text}' is not a two-letter region code such as DE"
        ));
    }
    Ok(text.to_ascii_uppercase())
}

/// Parses a `CallerName` the handler would take: one line, bounded.
fn caller_name(text: &str) -> Result<String, String> {
    if text.chars().count() > crate::request::MAX_TEXT_LENGTH || text.chars().any(char::is_control)
    {
        return Err(format!(
            "one line of at most {} characters",
            crate::request::MAX_TEXT_LENGTH
        ));
    }
    Ok(text.to_owned())
}

/// Parses `COUNT/SECONDS`, both above zero.
fn write_limit(text: &str) -> Result<WriteLimitArg, String> {
    text.split_once('/')
        .and_then(|(count, seconds)| {
            let count = count.trim().parse::<usize>().ok().filter(|n| *n > 0)?;
            let seconds = seconds.trim().parse::<u64>().ok().filter(|n| *n > 0)?;
            Some(WriteLimitArg {
                count,
                window: std::time::Duration::from_secs(seconds),
            })
        })
        .ok_or_else(|| format!("'{text}' is not COUNT/SECONDS, such as 3000/150"))
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
