//! `mfa-phone-handler readiness --endpoint URL --out DIR`: downloads the latest readiness scan
//! the Function App keeps (readiness.csv, readiness.json, and cleanup.csv and readiness.html
//! when the scan made them) through its HTTP function, with the function key and, for an
//! Entra token, the API's audience from the admin's own sign-in, as `bulk` calls the API. The
//! key and the token go only to the URL given (https, or plain http on this machine), and
//! redirects are not followed. Exit 0 when the scan's files were downloaded, 2 when not.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use url::Url;

use crate::api_credentials::ApiCredentials;
use crate::readiness::command_summary::{CommandSummary, Mode};

/// The most one file's download may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// The files, by the `format` that asks for each, and whether the scan always makes it.
const FILES: [(&str, &str, bool); 4] = [
    ("json", "readiness.json", true),
    ("csv", "readiness.csv", true),
    ("cleanup", "cleanup.csv", false),
    ("html", "readiness.html", false),
];

/// Makes the readiness function's URL from what the admin gave: the app's URL gets
/// `/api/readiness`; https only, except plain http to this machine (`func start`, the demo).
///
/// # Errors
///
/// When it is no such URL.
pub(crate) fn readiness_url(text: &str) -> Result<Url, String> {
    let mut url = Url::parse(text.trim()).map_err(|error| format!("not a URL: {error}"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(
                "must use https (plain http only to this machine): the function key and the \
                 token must not travel in the clear"
                    .to_owned(),
            );
        }
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err("must be a plain URL (no user name, password or fragment)".to_owned());
    }
    if url.path().trim_end_matches('/').is_empty() {
        url.set_path("/api/readiness");
    }
    url.set_query(None);
    Ok(url)
}

/// What to download, and where to.
pub struct Download {
    /// The readiness function's URL ([`readiness_url`]).
    pub endpoint: Url,
    pub out: std::path::PathBuf,
    pub credentials: ApiCredentials,
    /// Whether to print one JSON object on stdout instead of lines.
    pub json: bool,
}

/// Runs the download and returns its exit status.
pub async fn main(arguments: Download) -> u8 {
    match run(&arguments).await {
        Ok(downloaded) => {
            if arguments.json {
                let line = CommandSummary::finished(
                    Mode::Download,
                    &arguments.out,
                    downloaded.files,
                    downloaded.totals,
                )
                .to_line();
                println!("{line}");
            } else {
                for line in downloaded.lines {
                    println!("{line}");
                }
            }
            0
        }
        Err(cause) => {
            if arguments.json {
                let line =
                    CommandSummary::stopped(Mode::Download, &arguments.out, Some(cause)).to_line();
                println!("{line}");
            } else {
                eprintln!("readiness: the latest scan could not be downloaded: {cause}");
            }
            2
        }
    }
}

/// What a download wrote.
struct Downloaded {
    /// A line per file, for the terminal.
    lines: Vec<String>,
    files: Vec<std::path::PathBuf>,
    /// The downloaded `readiness.json`, read back as the scan's totals.
    totals: serde_json::Value,
}

async fn run(arguments: &Download) -> Result<Downloaded, String> {
    crate::install_crypto_provider();
    let url = arguments.endpoint.clone();
    let token = match arguments
        .credentials
        .audience
        .as_deref()
        .filter(|audience| !audience.trim().is_empty())
    {
        Some(audience) => Some((
            crate::credential::developer_sign_in()?,
            format!("{}/.default", audience.trim_end_matches('/')),
        )),
        None => None,
    };
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mfa-phone-handler/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| format!("could not build the HTTP client: {error}"))?;
    std::fs::create_dir_all(&arguments.out)
        .map_err(|error| format!("could not make {}: {error}", arguments.out.display()))?;
    let mut downloaded = Downloaded {
        lines: Vec::new(),
        files: Vec::new(),
        totals: serde_json::Value::Null,
    };
    for (format, name, always) in FILES {
        let mut asked = url.clone();
        asked.query_pairs_mut().append_pair("format", format);
        let content = fetch(
            &client,
            asked,
            arguments.credentials.function_key.as_deref(),
            token.as_ref(),
        )
        .await?;
        let path = arguments.out.join(name);
        match content {
            Some(content) => {
                crate::files::write_new(&path, &content)
                    .map_err(|error| format!("could not write {}: {error}", path.display()))?;
                downloaded
                    .lines
                    .push(format!("{} ({} bytes)", path.display(), content.len()));
                if format == "json" {
                    downloaded.totals =
                        serde_json::from_slice(&content).unwrap_or(serde_json::Value::Null);
                }
                downloaded.files.push(path);
            }
            None if always => {
                return Err(format!(
                    "the Function App keeps no {name} yet: its timer makes one on its schedule, \
                     or start a scan now (POST to the same URL with MfaPhone.ReadWrite)"
                ));
            }
            None => {
                // An older file of the same name would be taken for this scan's.
                if let Err(error) = std::fs::remove_file(&path)
                    && error.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(format!(
                        "could not remove the old {}: {error}",
                        path.display()
                    ));
                }
                downloaded
                    .lines
                    .push(format!("{name}: not made by this scan"));
            }
        }
    }
    Ok(downloaded)
}

/// Downloads one file; `None` when the app keeps none (404).
async fn fetch(
    client: &reqwest::Client,
    url: Url,
    function_key: Option<&str>,
    token: Option<&(Arc<dyn TokenCredential>, String)>,
) -> Result<Option<Vec<u8>>, String> {
    let mut request = client.get(url);
    if let Some(key) = function_key {
        request = request.header("x-functions-key", key);
    }
    if let Some((credential, scope)) = token {
        let token = credential
            .get_token(&[scope.as_str()], None)
            .await
            .map_err(|error| {
                format!(
                    "no token for {scope} from your sign-in (az login?): {}",
                    error.to_string().lines().next().unwrap_or_default()
                )
            })?;
        request = request.bearer_auth(token.token.secret());
    }
    let response = request.send().await.map_err(|error| {
        format!(
            "the Function App could not be reached: {}",
            error.without_url()
        )
    })?;
    let status = response.status().as_u16();
    match status {
        200 => response
            .bytes()
            .await
            .map(|bytes| Some(bytes.to_vec()))
            .map_err(|error| format!("the download broke off: {}", error.without_url())),
        404 => Ok(None),
        401 | 403 => Err(format!(
            "the Function App refused the download ({status}): check the function key \
             (--function-key or MFA_FUNCTION_KEY), the audience (--audience), and that you hold \
             the API's app role MfaPhone.Read"
        )),
        _ => Err(format!("the Function App answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_is_accepted_except_on_this_machine_and_the_app_url_gets_the_route() {
        assert_eq!(
            readiness_url("https://app.azurewebsites.net")
                .unwrap()
                .as_str(),
            "https://app.azurewebsites.net/api/readiness"
        );
        assert_eq!(
            readiness_url("https://app.azurewebsites.net/api/readiness?format=csv")
                .unwrap()
                .as_str(),
            "https://app.azurewebsites.net/api/readiness"
        );
        assert!(readiness_url("http://127.0.0.1:7071").is_ok());
        assert!(readiness_url("http://app.azurewebsites.net").is_err());
        assert!(readiness_url("https://user:pw@app.azurewebsites.net").is_err());
        assert!(readiness_url("ftp://app").is_err());
    }
}
