//! Reads what this machine and this checkout say: `azure.yaml`, and what the package step will
//! find (`MFA_PACKAGE_ZIP` as `scripts/package.sh` judges it, or the tools a build needs).
//!
//! `scripts/package.sh` is run only with `MFA_PACKAGE_ZIP` set (then it checks the zip and
//! copies it, builds nothing) and with `PACKAGE_OUT` in a scratch folder of its own, removed
//! afterwards: the checkout's `dist/` is not touched.

use super::{Fact, Gap, Package, PackageZip, Unanswered, stdout_of};
use crate::preflight::runner::{Ran, Runner};
use crate::preflight::settings::Values;

/// Reads `azure.yaml` in the current directory.
pub(super) fn azure_yaml() -> Fact<String> {
    std::fs::read_to_string("azure.yaml").map_err(|error| {
        Gap::Unknown(format!(
            "azure.yaml could not be read here ({error}): run preflight from the repository root"
        ))
    })
}

impl Unanswered for Package {
    fn unanswered() -> Package {
        Package {
            zip: None,
            cargo: Fact::unanswered(),
            rustc: Fact::unanswered(),
            python3: Fact::unanswered(),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            required_rust: env!("CARGO_PKG_RUST_VERSION").to_owned(),
        }
    }
}

/// Finds, with `MFA_PACKAGE_ZIP`, what `scripts/package.sh` says of it, and without it the
/// build's tools.
pub(super) fn package(runner: &Runner, values: &Values) -> Package {
    let not_needed = || Gap::Unknown("not asked: MFA_PACKAGE_ZIP is set".to_owned());
    let mut package = Package {
        zip: None,
        cargo: Err(not_needed()),
        rustc: Err(not_needed()),
        python3: Err(not_needed()),
        os: std::env::consts::OS.to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
        required_rust: env!("CARGO_PKG_RUST_VERSION").to_owned(),
    };
    match values.get("MFA_PACKAGE_ZIP") {
        Some(zip) => package.zip = Some(checked_zip(runner, zip)),
        None => {
            package.cargo =
                stdout_of(runner.run("cargo", &["--version"]), "cargo", &[]).map(|_| ());
            package.python3 =
                stdout_of(runner.run("python3", &["--version"]), "python3", &[]).map(|_| ());
            package.rustc =
                stdout_of(runner.run("rustc", &["--version"]), "rustc", &[]).map(|text| {
                    text.split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned()
                });
        }
    }
    package
}

/// Runs `scripts/package.sh` on the zip, with its output in a scratch folder.
fn checked_zip(runner: &Runner, zip: &str) -> Fact<PackageZip> {
    if !std::path::Path::new("scripts/package.sh").is_file() {
        return Err(Gap::Unknown(
            "scripts/package.sh is not here: run preflight from the repository root".to_owned(),
        ));
    }
    let scratch = std::env::temp_dir().join(format!("mfa-preflight-{}", uuid::Uuid::new_v4()));
    let out = scratch.join("mfa-phone-handler.zip");
    let out_text = out.to_string_lossy().into_owned();
    let ran = runner.run_with(
        "bash",
        &["scripts/package.sh"],
        &[("MFA_PACKAGE_ZIP", zip), ("PACKAGE_OUT", &out_text)],
    );
    let _ = std::fs::remove_dir_all(&scratch);
    match ran {
        Ran::Exited { code: 0, .. } => Ok(PackageZip::Accepted),
        Ran::Exited { stderr, .. } => {
            let said = stderr
                .lines()
                .rev()
                .map(str::trim)
                .find(|line| line.starts_with("package:"))
                .map_or_else(|| super::said(&stderr), str::to_owned);
            Ok(PackageZip::Refused(said))
        }
        ran => stdout_of(ran, "bash", &["scripts/package.sh"]).map(|_| PackageZip::Accepted),
    }
}
