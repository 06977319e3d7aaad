//! How the command-line tools reach the deployed HTTP trigger: its function key and, for an
//! Entra token, the API's audience. One definition for every tool that calls it, so their
//! options read and document the same.

use clap::Args;

/// The function key and the audience.
#[derive(Clone, Debug, Args)]
pub struct ApiCredentials {
    /// The HTTP trigger's function key
    #[arg(
        long,
        value_name = "KEY",
        env = "MFA_FUNCTION_KEY",
        hide_env_values = true
    )]
    pub function_key: Option<String>,
    /// Also send an Entra token for the API (your az / azd sign-in): its Application ID URI,
    /// api://<the API app registration's client id>. With --queue each message carries it
    /// (CallerToken), as a deployment that requires queue callers needs
    #[arg(long, value_name = "URI")]
    pub audience: Option<String>,
}
