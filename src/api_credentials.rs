//! Says how the command-line tools reach the deployed HTTP trigger: its function key and, for
//! an Entra token, the API's audience. There is one definition for every tool that calls it, so
//! their options read and document the same. The key is read from `MFA_FUNCTION_KEY`, a file,
//! or a prompt that does not echo it; given on the command line it still works, with a warning
//! (a command line is seen by every process on the machine and kept in the shell's history).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

/// The environment variable the function key is read from.
pub const FUNCTION_KEY_VARIABLE: &str = "MFA_FUNCTION_KEY";

/// The function key and the audience.
#[derive(Clone, Debug, Args)]
pub struct ApiCredentials {
    /// The HTTP trigger's function key (warned about here: use the variable, a file or the
    /// prompt)
    #[arg(
        long,
        value_name = "KEY",
        env = "MFA_FUNCTION_KEY",
        hide_env_values = true
    )]
    pub function_key: Option<String>,
    /// Read the function key from this file (its first line; before --function-key)
    #[arg(long, value_name = "FILE")]
    pub function_key_file: Option<PathBuf>,
    /// Also send an Entra token for the API (your az / azd sign-in): its Application ID URI,
    /// api://<the API app registration's client id>. With --queue each message carries it
    /// (CallerToken), as a deployment that requires queue callers needs
    #[arg(long, value_name = "URI")]
    pub audience: Option<String>,
}

/// Where the function key comes from, once the command line is read.
#[derive(Clone, Debug, Default)]
pub enum KeySource {
    /// No key was given: it is asked for on a terminal, else there is none.
    #[default]
    Prompt,
    /// `MFA_FUNCTION_KEY`.
    Environment(String),
    /// `--function-key` on the command line.
    CommandLine(String),
    /// `--function-key-file`.
    File(PathBuf),
}

impl ApiCredentials {
    /// Where the key comes from: `environment` is `MFA_FUNCTION_KEY`'s value (clap reads it into
    /// `--function-key` too; a value that differs from it was typed on the command line).
    pub fn key_source(&self, environment: Option<String>) -> KeySource {
        if let Some(file) = &self.function_key_file {
            return KeySource::File(file.clone());
        }
        match self.function_key.clone().filter(|key| !key.is_empty()) {
            Some(key) if environment.as_deref() == Some(key.as_str()) => {
                KeySource::Environment(key)
            }
            Some(key) => KeySource::CommandLine(key),
            None => KeySource::Prompt,
        }
    }
}

impl KeySource {
    /// Returns the key: read from its file, or asked for (without echo) when none was given and
    /// the command runs on a terminal and `may_ask`; a key on the command line is used with a
    /// warning on stderr.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or is empty.
    pub fn key(&self, may_ask: bool) -> Result<Option<String>, String> {
        match self {
            KeySource::Environment(key) => Ok(Some(key.clone())),
            KeySource::CommandLine(key) => {
                eprintln!(
                    "warning: --function-key on the command line is visible to other processes \
                     and kept in your shell's history; set {FUNCTION_KEY_VARIABLE}, use \
                     --function-key-file, or leave it out to be asked"
                );
                Ok(Some(key.clone()))
            }
            KeySource::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| format!("--function-key-file {}: {error}", path.display()))?;
                let key = text.lines().next().unwrap_or_default().trim().to_owned();
                if key.is_empty() {
                    return Err(format!(
                        "--function-key-file {}: the file is empty",
                        path.display()
                    ));
                }
                Ok(Some(key))
            }
            KeySource::Prompt if may_ask && std::io::stdin().is_terminal() => ask(),
            KeySource::Prompt => Ok(None),
        }
    }
}

/// Asks for the key on the terminal without echoing it; `None` for an empty answer.
fn ask() -> Result<Option<String>, String> {
    eprint!("Function key (not shown; Enter for none): ");
    let answer = without_echo(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .map_err(|error| format!("the function key could not be read: {error}"))?;
    eprintln!();
    let key = answer.trim().to_owned();
    Ok((!key.is_empty()).then_some(key))
}

/// Runs `read` with the terminal's echo off, and puts it back however `read` ends.
#[cfg(unix)]
fn without_echo<T>(read: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    // SAFETY: termios is plain data, filled by tcgetattr before it is read.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd 0 is a terminal (checked by the caller); `saved` is a valid termios.
    if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ECHONL;
    // SAFETY: as above; `quiet` is a copy of the terminal's own settings.
    if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let read = read();
    // SAFETY: puts back what tcgetattr returned.
    unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &saved) };
    read
}

/// Elsewhere the prompt is not offered: the key comes from the environment or a file.
#[cfg(not(unix))]
fn without_echo<T>(_read: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    Err(std::io::Error::other(
        "no prompt here: set MFA_FUNCTION_KEY or use --function-key-file",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(key: Option<&str>, file: Option<&str>) -> ApiCredentials {
        ApiCredentials {
            function_key: key.map(str::to_owned),
            function_key_file: file.map(PathBuf::from),
            audience: None,
        }
    }

    #[test]
    fn the_key_is_told_by_where_it_came_from() {
        assert!(matches!(
            credentials(Some("k"), None).key_source(Some("k".to_owned())),
            KeySource::Environment(_)
        ));
        assert!(matches!(
            credentials(Some("typed"), None).key_source(Some("k".to_owned())),
            KeySource::CommandLine(_)
        ));
        assert!(matches!(
            credentials(None, Some("key.txt")).key_source(None),
            KeySource::File(_)
        ));
        assert!(matches!(
            credentials(None, None).key_source(None),
            KeySource::Prompt
        ));
        let path = std::env::temp_dir().join(format!("key-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, "s3cret\n").expect("written");
        assert_eq!(
            KeySource::File(path).key(false).expect("read").as_deref(),
            Some("s3cret")
        );
        assert_eq!(KeySource::Prompt.key(false).expect("none"), None);
    }
}
