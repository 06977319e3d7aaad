#!/usr/bin/env bash
# What a release publishes, written to dist/:
#   mfa-phone-handler.zip   the deployment package (scripts/package.sh: host.json, the function
#                           folders, the binary; release build without the simulator, glibc <= 2.31)
#   mfa-phone-handler       the command-line tool for Linux x86-64: the same binary the zip holds
#                           (bulk, smoke, preflight, completions, …), for admins without Rust
#   SHA256SUMS              both files' SHA-256, in sha256sum's format (`sha256sum -c SHA256SUMS`);
#                           scripts/package.sh checks a downloaded zip against it
# Builds the zip unless MFA_RELEASE_REUSE_ZIP=1 names the one already in dist/ (CI, right after
# check-package.sh built and checked it). Checks that the binary says the version Cargo.toml
# gives. Cutting a release: README.md, "Releases".
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'release: %s\n' "$*" >&2; }

zip=dist/mfa-phone-handler.zip
binary=dist/mfa-phone-handler
if [[ "${MFA_RELEASE_REUSE_ZIP:-0}" != 1 || ! -f $zip ]]; then
    log "building $zip"
    PACKAGE_OUT="$zip" bash scripts/package.sh
fi

# The binary as the zip holds it, with its mode.
python3 - "$zip" "$binary" <<'PY'
import os, sys, zipfile
zip_path, out = sys.argv[1:3]
with zipfile.ZipFile(zip_path) as archive:
    info = archive.getinfo("mfa-phone-handler")
    with archive.open(info) as source, open(out, "wb") as target:
        target.write(source.read())
os.chmod(out, 0o755)
PY

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
said=$("$binary" --version)
[[ $said == "mfa-phone-handler $version" ]] || {
    log "the binary says '$said', Cargo.toml says $version"
    exit 1
}

(cd dist && sha256sum mfa-phone-handler.zip mfa-phone-handler > SHA256SUMS)
log "dist/ holds release $version:"
sed 's/^/  /' dist/SHA256SUMS >&2
