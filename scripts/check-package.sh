#!/usr/bin/env bash
# Builds the deployment package (scripts/package.sh) and checks it the way Azure would use it:
#   1. the zip holds host.json, the function folders and the binary at its root, and the
#      binary's execute bit survived the zip;
#   2. the binary needs no glibc symbol version newer than $PACKAGE_GLIBC (2.31, the
#      Functions bullseye images), and no shared library beyond glibc's own (no libssl or
#      libcrypto);
#   3. the package was built without the simulator (`simulate` must not start one);
#   4. the UNZIPPED binary, started the way the Functions host starts it (cwd = app root,
#      the executable and arguments from host.json, FUNCTIONS_CUSTOMHANDLER_PORT = a free
#      port, a clean environment), answers GET / and handles an HTTP-trigger envelope against
#      the Graph simulator of the debug build (`mfa-phone-handler simulate`).
# Prints the numbers: zip size, binary size, newest GLIBC version needed, start-up time.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

binary_name=mfa-phone-handler
max_glibc="${PACKAGE_GLIBC:-2.31}"
zip_path="${PACKAGE_OUT:-dist/$binary_name.zip}"
# The debug build with the simulator lives in the main target dir (shared with the tests).
debug_binary="${CARGO_TARGET_DIR:-$repo/target}/debug/$binary_name"

log() { printf 'check-package: %s\n' "$*" >&2; }
fail() { printf 'check-package: FAIL: %s\n' "$*" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/check-package.XXXXXX")"
sim_pid=""
handler_pid=""
cleanup() {
    local status=$?
    for pid in "$handler_pid" "$sim_pid"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ $status -ne 0 ]]; then
        for file in simulator.out simulator.err handler.out handler.err; do
            if [[ -s "$work/$file" ]]; then
                printf -- '--- %s (last 30 lines)\n' "$file" >&2
                tail -n 30 "$work/$file" >&2
            fi
        done
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Package ------------------------------------------------------------------------------
package_start=$(date +%s)
PACKAGE_GLIBC="$max_glibc" PACKAGE_OUT="$zip_path" bash scripts/package.sh
package_seconds=$(( $(date +%s) - package_start ))

app="$work/app"
python3 - "$zip_path" "$app" "$binary_name" <<'PY'
"""Unzips as Kudu/the Flex deployment does on Linux (modes from the zip's Unix attributes)
and checks the layout and the binary's mode inside the zip itself."""
import os
import stat
import sys
import zipfile

zip_path, app, binary_name = sys.argv[1:4]
with zipfile.ZipFile(zip_path) as archive:
    names = archive.namelist()
    for required in ("host.json", binary_name):
        if required not in names:
            sys.exit(f"check-package: FAIL: {required} is not at the zip root ({names})")
    for function in ("SetOrRemoveMobilePhoneMfa", "SetOrRemoveMobilePhoneMfaQueue", "OpenApi",
                     "MfaReadiness", "MfaReadinessTimer", "MfaReadinessQueue"):
        if f"{function}/function.json" not in names:
            sys.exit(f"check-package: FAIL: {function}/function.json is not in the zip")
    forbidden = [n for n in names if n.split("/")[0] in
                 ("src", "tests", "target", "infra", "scripts", "local.settings.json",
                  "Cargo.toml", "Cargo.lock")]
    if forbidden:
        sys.exit(f"check-package: FAIL: the zip holds files it must not: {forbidden}")
    info = archive.getinfo(binary_name)
    mode = info.external_attr >> 16
    if info.create_system != 3 or not mode & stat.S_IXUSR:
        sys.exit(f"check-package: FAIL: {binary_name} has no execute bit in the zip "
                 f"(create_system {info.create_system}, mode {oct(mode)})")
    for member in archive.infolist():
        target = archive.extract(member, app)
        member_mode = (member.external_attr >> 16) & 0o7777
        if member_mode and not member.is_dir():
            os.chmod(target, member_mode)
print(f"check-package: zip entries: {', '.join(sorted(names))}", file=sys.stderr)
PY
unzipped_binary="$app/$binary_name"
[[ -x "$unzipped_binary" ]] || fail "the unzipped $binary_name is not executable"
log "execute bit: ok ($(stat -c %A "$unzipped_binary"))"

# 2. glibc and shared libraries ---------------------------------------------------------------
command -v readelf >/dev/null || fail "readelf (binutils) is needed"
needed="$(readelf -d "$unzipped_binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
log "shared libraries needed: $(echo $needed)"
if grep -Eq 'libssl|libcrypto' <<<"$needed"; then
    fail "the binary links OpenSSL ($needed)"
fi
unexpected="$(grep -Ev '^(libc|libm|libpthread|libdl|librt|libgcc_s|libutil|ld-linux-x86-64)\.so\.[0-9]+$' <<<"$needed" || true)"
[[ -z "$unexpected" ]] || fail "the binary needs libraries outside glibc: $unexpected"

glibc_versions="$( { readelf -W --version-info "$unzipped_binary"; objdump -T "$unzipped_binary"; } \
    | grep -Eo 'GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/GLIBC_//' | sort -uV)"
found_glibc="$(tail -n 1 <<<"$glibc_versions")"
[[ -n "$found_glibc" ]] || fail "no GLIBC symbol versions found (is this a glibc binary?)"
newest="$(printf '%s\n%s\n' "$found_glibc" "$max_glibc" | sort -V | tail -n 1)"
if [[ "$newest" != "$max_glibc" ]]; then
    fail "the binary needs GLIBC_$found_glibc, newer than $max_glibc: $(echo $glibc_versions)"
fi
log "newest GLIBC symbol version needed: $found_glibc (limit $max_glibc)"

# 3. No simulator in the package --------------------------------------------------------------
if (cd "$app" && timeout 10 "./$binary_name" simulate >"$work/nosim.out" 2>&1); then
    fail "the packaged binary ran 'simulate' successfully: it was built with the simulator"
fi
if grep -q 'simulator ready' "$work/nosim.out"; then
    fail "the packaged binary started a simulator"
fi
log "no simulator in the package: ok"

# 4. Run it as the host would -------------------------------------------------------------
log "building the debug binary (with the simulator) for the Graph simulator"
cargo build --locked --quiet --bin "$binary_name"
[[ -x "$debug_binary" ]] || fail "no debug binary at $debug_binary"

"$debug_binary" simulate >"$work/simulator.out" 2>"$work/simulator.err" &
sim_pid=$!
for _ in $(seq 1 300); do
    grep -q '^simulator ready' "$work/simulator.out" 2>/dev/null && break
    kill -0 "$sim_pid" 2>/dev/null || fail "the simulator exited early"
    sleep 0.1
done
grep -q '^simulator ready' "$work/simulator.out" || fail "the simulator did not become ready in 30 s"
sim_env=()
while IFS= read -r line; do
    case "$line" in
        # The check's envelope carries the function key's call, no Entra principal, as a local
        # `func start` does: the simulator's settings accept that (MFA_ALLOW_KEY_ONLY_CALLERS).
        GRAPH_ENDPOINT=* | IDENTITY_ENDPOINT=* | IDENTITY_HEADER=* | AZURE_CLIENT_ID=* \
            | MFA_ALLOW_KEY_ONLY_CALLERS=*) sim_env+=("$line") ;;
    esac
done <"$work/simulator.out"
[[ ${#sim_env[@]} -ge 3 ]] || fail "the simulator printed too few settings: ${sim_env[*]}"
log "simulator: ${sim_env[0]}"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# The executable and its arguments come from the unzipped host.json, as the host reads them.
mapfile -t host_command < <(python3 - "$app/host.json" <<'PY'
import json
import sys

description = json.load(open(sys.argv[1]))["customHandler"]["description"]
print(description["defaultExecutablePath"])
for argument in description.get("arguments", []):
    print(argument)
PY
)
[[ "${host_command[0]}" == "$binary_name" ]] \
    || fail "host.json starts '${host_command[0]}', but the package's binary is $binary_name"

started_ns=$(date +%s%N)
(
    cd "$app"
    exec env -i PATH=/usr/bin:/bin HOME="$work" \
        FUNCTIONS_CUSTOMHANDLER_PORT="$port" FUNCTIONS_HTTPWORKER_PORT="$port" \
        FUNCTIONS_CUSTOMHANDLER_WORKER_ID=check-package FUNCTIONS_HTTPWORKER_ID=check-package \
        FUNCTIONS_APP_ROOT_PATH="$app" \
        MFA_QUEUE_MAX_DEQUEUE_COUNT=5 RUST_LOG=info \
        "${sim_env[@]}" \
        "./${host_command[0]}" "${host_command[@]:1}"
) >"$work/handler.out" 2>"$work/handler.err" &
handler_pid=$!

python3 - "$port" "$started_ns" "$handler_pid" >"$work/result.txt" <<'PY'
"""Polls GET / like the host (every 25 ms, up to 30 s), then sends one HTTP-trigger
envelope and checks the answer."""
import json
import os
import sys
import time
import urllib.error
import urllib.request

port, started_ns, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
base = f"http://127.0.0.1:{port}"
deadline = time.monotonic() + 30
ready_ms = None
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(base + "/", timeout=2) as answer:
            if answer.status == 200:
                ready_ms = (time.time_ns() - started_ns) / 1e6
                break
    except (urllib.error.URLError, ConnectionError, OSError):
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("check-package: FAIL: the handler exited before it answered GET /")
    time.sleep(0.025)
if ready_ms is None:
    sys.exit("check-package: FAIL: GET / did not answer 200 within 30 s")

body = json.dumps({"UserId": "adele.vance@contoso.example", "phoneNumber": "+49 1719876543"})
envelope = {
    "Data": {"req": {
        "Url": f"https://check-package.example/api/SetOrRemoveMobilePhoneMfa",
        "Method": "POST", "Query": {},
        "Headers": {"Content-Type": ["application/json"]},
        "Params": {}, "Identities": [], "Body": body,
    }},
    "Metadata": {},
}
request = urllib.request.Request(
    base + "/SetOrRemoveMobilePhoneMfa",
    data=json.dumps(envelope).encode(),
    headers={"Content-Type": "application/json; charset=utf-8",
             "X-Azure-Functions-InvocationId": "00000000-0000-4000-8000-000000000001"},
    method="POST",
)
invoke_start = time.monotonic()
try:
    with urllib.request.urlopen(request, timeout=60) as answer:
        status, text = answer.status, answer.read().decode()
except urllib.error.HTTPError as error:
    sys.exit(f"check-package: FAIL: the invocation answered {error.code}: {error.read()[:500]!r}")
invoke_ms = (time.monotonic() - invoke_start) * 1000
if status != 200:
    sys.exit(f"check-package: FAIL: the invocation answered {status}")
result = json.loads(text)
res = result.get("Outputs", {}).get("res", {})
if res.get("statusCode") not in (200, "200"):
    sys.exit(f"check-package: FAIL: Outputs.res.statusCode is {res.get('statusCode')!r}: {text[:500]}")
inner = res.get("body", "")
if '"action":"added"' not in inner.replace(" ", "") or '"status":"succeeded"' not in inner.replace(" ", ""):
    sys.exit(f"check-package: FAIL: the result is not succeeded/added: {inner[:500]}")

# The API definition, as the host forwards GET /api/openapi.json: the host name of the URL the
# caller used goes into it.
definition_envelope = {
    "Data": {"req": {
        "Url": "https://check-package.example/api/openapi.json",
        "Method": "GET", "Query": {}, "Headers": {}, "Params": {}, "Identities": [],
    }},
    "Metadata": {},
}
request = urllib.request.Request(
    base + "/OpenApi",
    data=json.dumps(definition_envelope).encode(),
    headers={"Content-Type": "application/json; charset=utf-8",
             "X-Azure-Functions-InvocationId": "00000000-0000-4000-8000-000000000002"},
    method="POST",
)
try:
    with urllib.request.urlopen(request, timeout=60) as answer:
        definition_res = json.loads(answer.read().decode()).get("Outputs", {}).get("res", {})
except urllib.error.HTTPError as error:
    sys.exit(f"check-package: FAIL: the OpenApi invocation answered {error.code}: {error.read()[:500]!r}")
definition = json.loads(definition_res.get("body", "{}"))
if definition.get("swagger") != "2.0" or definition.get("host") != "check-package.example":
    sys.exit(f"check-package: FAIL: the OpenApi function did not serve the definition for its host: "
             f"{str(definition)[:300]}")
print(f"ready_ms={ready_ms:.0f}")
print(f"invoke_ms={invoke_ms:.0f}")
PY
ready_ms="$(sed -n 's/^ready_ms=//p' "$work/result.txt")"
invoke_ms="$(sed -n 's/^invoke_ms=//p' "$work/result.txt")"
grep -q "listening on 127.0.0.1:$port" "$work/handler.out" \
    || fail "the handler's stdout has no 'listening on 127.0.0.1:$port' line"
log "HTTP-trigger envelope: statusCode 200, succeeded/added: ok; OpenApi: the definition for the caller's host: ok"

zip_bytes=$(stat -c %s "$zip_path")
binary_bytes=$(stat -c %s "$unzipped_binary")
printf '\npackage check passed\n'
printf '  zip:                 %s (%s bytes, %s MiB)\n' "$zip_path" "$zip_bytes" "$(python3 -c "print(round($zip_bytes / 1048576, 1))")"
printf '  binary:              %s bytes\n' "$binary_bytes"
printf '  newest GLIBC needed: %s (limit %s)\n' "$found_glibc" "$max_glibc"
printf '  libraries needed:    %s\n' "$(echo $needed)"
printf '  start-up to GET / 200: %s ms\n' "$ready_ms"
printf '  first invocation:    %s ms\n' "$invoke_ms"
printf '  package.sh:          %s s\n' "$package_seconds"
