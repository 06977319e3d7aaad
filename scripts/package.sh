#!/usr/bin/env bash
# Builds the deployment package for the Function App: dist/mfa-phone-handler.zip.
#
# The zip's root is the app root the Functions host sees:
#   host.json
#   <every folder with a function.json>/function.json
#   mfa-phone-handler            (ELF x86-64, mode 0755)
#
# The binary is a release build WITHOUT the default `simulator` feature, linked against
# glibc 2.31 symbols (cargo-zigbuild + zig from PyPI), so it starts on the Functions Linux
# images that are still Debian bullseye (glibc 2.31) as well as on bookworm (2.36). A plain
# `cargo build` here would link against this machine's glibc 2.36 and could fail there with
# "GLIBC_2.34 not found". TLS is rustls/ring, so there is no libssl to match.
#
# Installs what it needs on a fresh machine, into $MFA_TOOLS_DIR (default target/tools,
# gitignored): a venv with ziglang and cargo-zigbuild from PyPI; `cargo install --locked`
# is the fallback if the cargo-zigbuild wheel cannot be installed. A cargo-zigbuild or zig
# already on PATH is used as it is.
#
# Without a Rust toolchain: MFA_PACKAGE_ZIP names a release's mfa-phone-handler.zip that was
# downloaded. Then nothing is built: the zip is checked (its SHA-256 against MFA_PACKAGE_SHA256,
# or against the SHA256SUMS file published beside it in the same folder; host.json and every
# function.json byte for byte the same as in this checkout, so the infra and the package are of
# one release; the binary at the root, an ELF file with mode 0755) and copied to PACKAGE_OUT.
# azd passes the azd environment to this hook, so `azd env set MFA_PACKAGE_ZIP <path>` is enough.
#
# Environment:
#   MFA_PACKAGE_ZIP    a downloaded release zip to check and copy instead of building
#   MFA_PACKAGE_SHA256 its SHA-256 (hex); default: the line for its file name in SHA256SUMS
#   CARGO_TARGET_DIR   default target/package (kept apart from the main target dir, so a
#                      package build does not wait on or invalidate the test builds)
#   PACKAGE_GLIBC      default 2.31: the newest glibc the binary may need
#   PACKAGE_OUT        default dist/mfa-phone-handler.zip
#   MFA_TOOLS_DIR      default target/tools
set -euo pipefail

# A relative MFA_PACKAGE_ZIP is relative to where the script was started from.
release_zip="${MFA_PACKAGE_ZIP:-}"
case "$release_zip" in
    "~/"*) release_zip="$HOME/${release_zip#"~/"}" ;;
    "" | /*) ;;
    *) release_zip="$PWD/$release_zip" ;;
esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

binary_name=mfa-phone-handler
glibc="${PACKAGE_GLIBC:-2.31}"
triple=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/package}"
out="${PACKAGE_OUT:-dist/$binary_name.zip}"
tools="${MFA_TOOLS_DIR:-target/tools}"
case "$tools" in /*) ;; *) tools="$repo/$tools" ;; esac
# Pinned so a package build is repeatable; bump deliberately.
ziglang_version=0.17.1
zigbuild_version=0.24.0

log() { printf 'package: %s\n' "$*" >&2; }

# A downloaded release zip: check it and copy it; no build.
if [[ -n "$release_zip" ]]; then
    mkdir -p "$(dirname "$out")"
    python3 - "$release_zip" "$out" "${MFA_PACKAGE_SHA256:-}" "$binary_name" <<'PY'
import hashlib
import os
import shutil
import stat
import sys
import zipfile

source, out, wanted, binary_name = sys.argv[1:5]


def fail(text):
    sys.exit(f"package: {text}")


if not os.path.isfile(source):
    fail(f"MFA_PACKAGE_ZIP is {source}, which is not a file: download mfa-phone-handler.zip from the release first")
digest = hashlib.sha256(open(source, "rb").read()).hexdigest()
name = os.path.basename(source)
if not wanted:
    sums = os.path.join(os.path.dirname(source), "SHA256SUMS")
    if not os.path.isfile(sums):
        fail(f"no SHA-256 to check {name} against: put the release's SHA256SUMS beside it "
             "or set MFA_PACKAGE_SHA256")
    for line in open(sums):
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") in (name, "mfa-phone-handler.zip"):
            wanted = parts[0]
            break
    else:
        fail(f"{sums} has no line for {name}")
if digest != wanted.strip().lower():
    fail(f"{name} has SHA-256 {digest}, not {wanted.strip().lower()}: download it again")
try:
    archive = zipfile.ZipFile(source)
except zipfile.BadZipFile:
    fail(f"{name} is not a zip file")
entries = {info.filename: info for info in archive.infolist()}
expected = ["host.json"] + sorted(
    f"{entry}/function.json" for entry in os.listdir(".")
    if os.path.isfile(os.path.join(entry, "function.json"))
)
for path in expected:
    if path not in entries:
        fail(f"{name} has no {path}: it is not this release's package")
    if archive.read(path) != open(path, "rb").read():
        fail(f"{path} in {name} differs from this checkout's: check out the release tag the zip "
             "was published with (git checkout <tag>), so the infra and the package match")
binary = entries.get(binary_name)
if binary is None:
    fail(f"{name} has no {binary_name} at its root")
mode = binary.external_attr >> 16
if not stat.S_ISREG(mode) or mode & 0o755 != 0o755:
    fail(f"{binary_name} in {name} is not stored with mode 0755")
if archive.read(binary_name)[:4] != b"\x7fELF":
    fail(f"{binary_name} in {name} is not a Linux executable")
if os.path.abspath(source) != os.path.abspath(out):
    shutil.copyfile(source, out + ".tmp")
    os.replace(out + ".tmp", out)
print(f"package: {name} (SHA-256 {digest[:16]}…) checked; using it as {out}, nothing built", file=sys.stderr)
PY
    exit 0
fi

ensure_tools() {
    local venv="$tools/zig-venv"
    if command -v cargo-zigbuild >/dev/null 2>&1 && command -v zig >/dev/null 2>&1; then
        return
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        log "creating $venv"
        python3 -m venv "$venv"
    fi
    # cargo-zigbuild runs `python3 -m ziglang` when no `zig` is on PATH; the venv's python3
    # comes first on PATH from here on.
    export PATH="$venv/bin:$PATH"
    if ! "$venv/bin/python" -c 'import ziglang' >/dev/null 2>&1; then
        log "installing ziglang==$ziglang_version from PyPI"
        "$venv/bin/pip" install --disable-pip-version-check -q "ziglang==$ziglang_version"
    fi
    if command -v cargo-zigbuild >/dev/null 2>&1; then
        return
    fi
    log "installing cargo-zigbuild==$zigbuild_version from PyPI"
    if ! "$venv/bin/pip" install --disable-pip-version-check -q "cargo-zigbuild==$zigbuild_version"; then
        log "no cargo-zigbuild wheel; building it with cargo install (about a minute)"
        cargo install --locked --quiet --root "$tools/cargo" \
            cargo-zigbuild --version "$zigbuild_version"
        export PATH="$tools/cargo/bin:$PATH"
    fi
}

ensure_tools
log "cargo-zigbuild $(cargo-zigbuild --version | awk '{print $2}'), target $triple.$glibc, CARGO_TARGET_DIR=$CARGO_TARGET_DIR"

start=$(date +%s)
cargo zigbuild --locked --release --no-default-features --bin "$binary_name" \
    --target "$triple.$glibc"
log "build took $(( $(date +%s) - start )) s"

binary="$CARGO_TARGET_DIR/$triple/release/$binary_name"
[[ -x "$binary" ]] || { log "no binary at $binary"; exit 1; }

mkdir -p "$(dirname "$out")"
python3 - "$out" "$binary" "$binary_name" <<'PY'
"""Writes the zip with Unix modes (0755 for the binary, 0644 for the rest) and a fixed
timestamp, so the package does not depend on the umask or checkout time."""
import os
import sys
import zipfile

out, binary, binary_name = sys.argv[1:4]
stamp = (2020, 1, 1, 0, 0, 0)


def add(archive, source, name, mode):
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.create_system = 3  # Unix, so external_attr carries the mode
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(source, "rb") as handle:
        archive.writestr(info, handle.read(), compresslevel=9)


functions = sorted(
    entry for entry in os.listdir(".")
    if os.path.isfile(os.path.join(entry, "function.json"))
)
if not functions:
    sys.exit("package: no function folders (a folder with function.json) found")
tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w") as archive:
    add(archive, "host.json", "host.json", 0o644)
    for folder in functions:
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                add(archive, path, f"{folder}/{name}", 0o644)
    add(archive, binary, binary_name, 0o755)
os.replace(tmp, out)
print("package: functions " + ", ".join(functions), file=sys.stderr)
PY

log "wrote $out ($(stat -c %s "$out") bytes; binary $(stat -c %s "$binary") bytes)"
