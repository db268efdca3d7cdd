#!/usr/bin/env bash
# Runs s3s's own end-to-end suite (s3s-e2e, the version matching our s3s) against a freshly started
# scaidrive-gateway in `folders` bucket mode (buckets = top-level folders of the embedded seed's
# `Documents` share, so s3s-e2e can create and delete buckets freely).
#
#   conformance/s3s-e2e.sh [FILTER-REGEX...]
#
# Installs s3s-e2e 0.14.1 into conformance/.cargo if missing (about 4 minutes of cargo build).
# GATEWAY_BIN: the gateway binary (default target/debug/scaidrive-gateway under the repo root, or
# under $CARGO_TARGET_DIR); this script builds no gateway.
# Output: conformance/results/s3s-e2e.txt — a `== s3s-e2e` header, then one `PASS <case>` /
# `FAIL <case>: <error>` line per case (readable by check-baseline.py), s3s-e2e.json (the full
# report) and s3s-e2e-gateway.log. Exit 1 if any case failed.
set -euo pipefail
CONF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$CONF/.." && pwd)"
E2E_VERSION=0.14.1
e2e="$CONF/.cargo/bin/s3s-e2e"

if ! { [ -x "$e2e" ] && "$e2e" --version 2>/dev/null | grep -q "$E2E_VERSION"; }; then
    echo "s3s-e2e.sh: installing s3s-e2e $E2E_VERSION into $CONF/.cargo" >&2
    nice -n 10 cargo install s3s-e2e --version "$E2E_VERSION" --locked --root "$CONF/.cargo" >&2
fi

bin="${GATEWAY_BIN:-}"
if [ -z "$bin" ]; then
    bin="$ROOT/target/debug/scaidrive-gateway"
    [ -x "$bin" ] || bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/scaidrive-gateway"
fi
[ -x "$bin" ] || { echo "s3s-e2e.sh: gateway binary '$bin' not found (cargo build, or set GATEWAY_BIN)" >&2; exit 2; }

results="$CONF/results"
mkdir -p "$results"
out="$results/s3s-e2e.txt"
tmp="$(mktemp -d /tmp/s3s-e2e.XXXXXX)"
pid=""
stop() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
}
trap 'stop; rm -rf "$tmp"' EXIT

SCAIDRIVE_URL= "$bin" --data-dir "$tmp/data" --s3-listen 127.0.0.1:0 --webdav-listen 127.0.0.1:0 \
    --admin-listen 127.0.0.1:0 --s3-bucket-mode folders --s3-folders-share Documents \
    --log-level "${GATEWAY_LOG_LEVEL:-info}" serve \
    >"$tmp/banner.txt" 2>"$results/s3s-e2e-gateway.log" &
pid=$!
deadline=$((SECONDS + 60))
until grep -q '^export AWS_DEFAULT_REGION=' "$tmp/banner.txt" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
        echo "s3s-e2e.sh: the gateway did not print its banner; its log:" >&2
        tail -n 30 "$results/s3s-e2e-gateway.log" >&2; exit 2
    fi
    sleep 0.2
done
field() { sed -nE "s|^$1[[:space:]]+(https?://[^ /]+).*|\1|p" "$tmp/banner.txt" | sed -n 1p; }
s3url="$(field 'S3:')"; admin="$(field 'Admin:')"
key="$(sed -n 's/^export AWS_ACCESS_KEY_ID=//p' "$tmp/banner.txt")"
secret="$(sed -n 's/^export AWS_SECRET_ACCESS_KEY=//p' "$tmp/banner.txt")"
region="$(sed -n 's/^export AWS_DEFAULT_REGION=//p' "$tmp/banner.txt")"
for v in s3url admin key secret region; do
    [ -n "${!v}" ] || { echo "s3s-e2e.sh: could not read $v from the banner" >&2; exit 2; }
done
deadline=$((SECONDS + 60))
until curl -fsS -o /dev/null --max-time 2 "$admin/readyz" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "s3s-e2e.sh: $admin/readyz never answered 200" >&2; exit 2; }
    sleep 0.2
done

unset AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_SESSION_TOKEN AWS_CA_BUNDLE
filters=()
for f in "$@"; do filters+=(--filter "$f"); done
set +e
(cd "$tmp" && AWS_ENDPOINT_URL="$s3url" AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" \
    AWS_REGION="$region" AWS_EC2_METADATA_DISABLED=true NO_COLOR=1 \
    timeout "${E2E_TIMEOUT:-900}" "$e2e" --json "$results/s3s-e2e.json" "${filters[@]+"${filters[@]}"}") \
    >"$tmp/e2e.out" 2>&1
rc=$?
set -e

{
    echo "# s3s-e2e $E2E_VERSION — gateway $bin, --s3-bucket-mode folders --s3-folders-share Documents — $(date -u +%FT%TZ)"
    echo "== s3s-e2e"
    if [ -s "$results/s3s-e2e.json" ]; then
        python3 - "$results/s3s-e2e.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
passed = failed = 0
for suite in report["suites"]:
    def summary_err(s):
        r = (s or {}).get("result")
        return r if r not in (None, "Ok") else None
    if summary_err(suite.get("setup")):
        print(f"FAIL {suite['name']}:setup: {summary_err(suite.get('setup'))}")
        failed += 1
    for fixture in suite["fixtures"]:
        for case in fixture["cases"]:
            name = f"{suite['name']}/{fixture['name']}/{case['name']}"
            if case.get("ignored"):
                print(f"SKIP {name}")
            elif case["passed"]:
                print(f"PASS {name}")
                passed += 1
            else:
                err = ((case.get("run") or {}).get("result"))
                msg = json.dumps(err) if err is not None else "not run (setup failed)"
                print(f"FAIL {name}: {' '.join(msg.split())[:400]}")
                failed += 1
print(f"{passed} passed, {failed} failed")
EOF
    else
        echo "FAIL s3s-e2e: no report (exit $rc)"
        tail -n 30 "$tmp/e2e.out"
    fi
} | tee "$out"
cp "$tmp/e2e.out" "$results/s3s-e2e.log"
if [ "$rc" != 0 ] || grep -q '^FAIL ' "$out"; then
    echo "s3s-e2e.sh: failures (exit $rc); see $out and $results/s3s-e2e.log" >&2
    exit 1
fi
