//! Reads versions and the version requirements preflight compares them with:
//! `requiredVersions.azd` from `azure.yaml`'s text (a few lines, not a YAML parser: the file is
//! ours), and `X.Y.Z` versions as azd and rustc print them. Pure: it is handed text, it reads
//! no file.

use std::cmp::Ordering;

/// A release version: `X.Y.Z`, and whether it is a pre-release (`-beta.1`), which comes
/// before the release of the same number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre_release: bool,
}

impl Version {
    /// Reads `X.Y.Z` at the start of `text` (a leading `v` allowed; a missing `.Z` is 0);
    /// what follows (`-beta.1`, ` (commit …)`) is ignored but for marking a pre-release.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (core, rest) = text.split_at(end);
        let mut numbers = core.split('.').map(str::parse::<u64>);
        let major = numbers.next()?.ok()?;
        let minor = numbers.next()?.ok()?;
        let patch = match numbers.next() {
            Some(patch) => patch.ok()?,
            None => 0,
        };
        if numbers.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre_release: rest.starts_with('-'),
        })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if self.pre_release {
            formatter.write_str(" (a pre-release)")?;
        }
        Ok(())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            // A pre-release comes before its release.
            .then(other.pre_release.cmp(&self.pre_release))
    }
}

/// Reads `requiredVersions.azd` in `azure.yaml`: `None` when there is none, the least version when
/// it is `>= X.Y.Z`, `Err` (why) for anything else.
pub fn required_azd(azure_yaml: &str) -> Result<Option<Version>, String> {
    let mut inside = false;
    for line in azure_yaml.lines() {
        let content = line.split(" #").next().unwrap_or_default().trim_end();
        if content.trim().is_empty() || content.trim_start().starts_with('#') {
            continue;
        }
        let indented = content.starts_with(' ') || content.starts_with('\t');
        if !indented {
            inside = content == "requiredVersions:";
            continue;
        }
        if !inside {
            continue;
        }
        let Some(value) = content.trim().strip_prefix("azd:") else {
            continue;
        };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        return least(value)
            .map(Some)
            .ok_or_else(|| format!("requiredVersions.azd is {value:?}, not \">= X.Y.Z\""));
    }
    Ok(None)
}

fn least(requirement: &str) -> Option<Version> {
    Version::parse(requirement.strip_prefix(">=")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> Version {
        Version::parse(text).expect("a version")
    }

    #[test]
    fn versions_are_read_as_azd_and_rustc_print_them() {
        assert_eq!(version("1.23.4"), version("v1.23.4"));
        assert_eq!(version("1.23.4 (commit 0123abc)").patch, 4);
        assert_eq!(version("1.89").patch, 0);
        assert!(version("1.24.0-beta.1").pre_release);
        assert_eq!(Version::parse("one"), None);
        assert_eq!(Version::parse("1"), None);
        assert_eq!(Version::parse("1.2.3.4"), None);
    }

    #[test]
    fn versions_compare_by_number_and_a_pre_release_comes_first() {
        assert!(version("1.23.4") >= version("1.23.4"));
        assert!(version("1.23.10") > version("1.23.4"));
        assert!(version("1.22.9") < version("1.23.4"));
        assert!(version("2.0.0") > version("1.99.99"));
        assert!(version("1.23.4-beta.1") < version("1.23.4"));
        assert!(version("1.24.0-beta.1") > version("1.23.4"));
    }

    #[test]
    fn the_requirement_is_read_from_azure_yaml() {
        let ours = include_str!("../../azure.yaml");
        assert_eq!(required_azd(ours), Ok(Some(version("1.23.4"))));
        let plain =
            "name: x\nrequiredVersions:\n  azd: '>=1.20.0'  # a comment\ninfra:\n  azd: no\n";
        assert_eq!(required_azd(plain), Ok(Some(version("1.20.0"))));
        assert_eq!(
            required_azd("name: x\ninfra:\n  azd: \">= 9.0.0\"\n"),
            Ok(None)
        );
        assert_eq!(
            required_azd("requiredVersions:\n  azd: \"~> 1.2\"\n"),
            Err("requiredVersions.azd is \"~> 1.2\", not \">= X.Y.Z\"".to_owned())
        );
    }
}
