//! Defines the `readiness` command's options (clap derive): where the files go, the per-user
//! read, what the clean-up includes, `--json`, and `--endpoint` to download the Function App's
//! latest scan instead (with the function key and audience every tool uses). [`command`] runs
//! it: it builds the process from the handler's whole configuration, so it sits here on top,
//! with the command line, rather than in `readiness` below `config`.

pub mod command;

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// `readiness`.
#[derive(Debug, Args)]
#[command(after_help = "\
Runs with the identity and settings the handler reads from its environment (the managed
identity's IDENTITY_ENDPOINT/IDENTITY_HEADER, a client secret, or, when neither is set, your
own Azure CLI sign-in; GRAPH_ENDPOINT, MFA_PROTECTED_GROUP_IDS, MFA_CLEANUP_KEY, ...). It
writes nothing to Graph. Files in DIR: readiness.csv, readiness.json, readiness.html and, when
MFA_CLEANUP_KEY is set, cleanup.csv (bulk's input: `mfa-phone-handler bulk DIR/cleanup.csv
--endpoint ... --dry-run`). The trend of phoneOnly continues from the readiness.json an
earlier scan left in DIR.

Exit status:
  0  the scan finished (whatever it found)
  2  the scan could not be made (the options, the licence, a permission, Graph), with the cause")]
pub struct ReadinessArgs {
    /// The directory the files are written to (made if missing)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Read every user and their methods instead of the registration report (no Entra ID
    /// P1/P2 needed; Microsoft advises the report for large tenants)
    #[arg(long)]
    pub(crate) per_user: bool,
    /// Also remove the phones of these users in cleanup.csv (phoneAndPhishingResistant
    /// users always are; phoneOnly and protected users never)
    #[arg(long, value_name = "CATEGORY", value_enum)]
    pub(crate) cleanup_include: Vec<CleanupInclude>,
    /// Print the summary as one JSON object on stdout (no progress lines)
    #[arg(long)]
    pub json: bool,
    /// Download the latest scan the Function App keeps instead of scanning: the app's URL
    /// (https://APP.azurewebsites.net) or its readiness function's (…/api/readiness); https
    /// only, except on this machine
    #[arg(
        long,
        value_name = "URL",
        value_parser = crate::download::readiness_url,
        conflicts_with_all = ["per_user", "cleanup_include"]
    )]
    pub endpoint: Option<url::Url>,
    /// With --endpoint: the function key and the audience
    #[command(flatten)]
    pub credentials: crate::api_credentials::ApiCredentials,
}

/// What `--cleanup-include` may add.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum CleanupInclude {
    #[value(name = "phoneAndOtherMfa")]
    PhoneAndOtherMfa,
}
