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
# Environment:
#   CARGO_TARGET_DIR   default target/package (kept apart from the main target dir, so a
#                      package build does not wait on or invalidate the test builds)
#   PACKAGE_GLIBC      default 2.31: the newest glibc the binary may need
#   PACKAGE_OUT        default dist/mfa-phone-handler.zip
#   MFA_TOOLS_DIR      default target/tools
set -euo pipefail

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
