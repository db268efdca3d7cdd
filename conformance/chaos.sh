#!/usr/bin/env bash
# The chaos lane: upstream faults, client disconnects, kill -9, the permission matrix, a bad-input
# corpus and a short soak against the real binary (docs/testing.md, "Chaos lane").
#
#   conformance/chaos.sh [GROUP...]      GROUP: faults disconnects crash permissions badinput soak
#
# Starts one `serve` (embedded emulator seeded with five users, bucket mode `folders` on share
# Chaos, static key pairs per user) for the groups that share it; `faults` and `crash` start
# their own gateways (and `faults` its own emulator). GATEWAY_BIN: the binary (default
# target/debug/scaidrive-gateway); this script builds nothing. Every group runs under a timeout.
# Output: conformance/results/chaos.txt (`== chaos/GROUP.py` headers and one PASS/FAIL/SKIP line
# per check, for check-baseline.py), the gateways' logs next to it. Exit 1 if any check failed.
set -euo pipefail
CONF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$CONF/.." && pwd)"
start=$SECONDS

"$CONF/install.sh" >/dev/null || { echo "chaos.sh: install.sh failed" >&2; exit 2; }
py="$CONF/.venv/bin/python"
bin="${GATEWAY_BIN:-}"
if [ -z "$bin" ]; then
    bin="$ROOT/target/debug/scaidrive-gateway"
    [ -x "$bin" ] || bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/scaidrive-gateway"
fi
[ -x "$bin" ] || { echo "chaos.sh: gateway binary '$bin' not found (cargo build, or set GATEWAY_BIN)" >&2; exit 2; }

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(faults disconnects crash permissions badinput soak)

results="$CONF/results"
mkdir -p "$results"
out="$results/chaos.txt"
tmp="$(mktemp -d /tmp/chaos.XXXXXX)"
chmod 700 "$tmp"
main_pid=""
cleanup() {
    if [ -n "$main_pid" ]; then
        kill -TERM "$main_pid" 2>/dev/null || true
        for _ in $(seq 1 70); do kill -0 "$main_pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$main_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
export GATEWAY_BIN="$bin" CHAOS_TMP="$tmp" RESULTS_DIR="$results" KEEP_GOING=1 PYTHONDONTWRITEBYTECODE=1
unset AWS_CA_BUNDLE AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_SESSION_TOKEN
unset SCAIDRIVE_GATEWAY_ACCESS_KEY_ID SCAIDRIVE_GATEWAY_SECRET_ACCESS_KEY SCAIDRIVE_TOKEN
export AWS_EC2_METADATA_DISABLED=true

# A body-read inactivity timeout, when this build has one, set low so stalls answer quickly.
body_flag=""
body_opt="$("$bin" serve --help | grep -oE -- '--[a-z-]*body[a-z-]*timeout[a-z-]*' | sed -n 1p || true)"
if [ -n "$body_opt" ]; then body_flag="$body_opt=3"; export CHAOS_BODY_TIMEOUT=3; fi

# --- the shared gateway: five users on share Chaos -------------------------------------------
CONF="$CONF" "$py" - "$tmp" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(os.environ["CONF"], "chaos"))
from chaoslib import credentials_toml, write_seed
tmp = sys.argv[1]
users = ["owner", "reader", "contributor", "denied", "norole"]
write_seed(f"{tmp}/seed.toml", [(u, False) for u in users],
           [("owner", "owner"), ("reader", "reader"), ("contributor", "contributor"), ("denied", "reader")])
with open(f"{tmp}/gateway.toml", "w") as f:
    f.write(f'[s3]\nbucket_mode = "folders"\nfolders_share = "shr_CHAOS"\n\n'
            f'[embedded]\nseed = "{tmp}/seed.toml"\n\n' + credentials_toml(users))
PY
need_main=""
for g in "${groups[@]}"; do case "$g" in disconnects|permissions|badinput|soak) need_main=1 ;; esac; done
if [ -n "$need_main" ]; then
    vars="$(SCAIDRIVE_URL= "$CONF/lib/start-gateway.sh" "$bin" "$tmp/data-main" "$tmp/banner-main.txt" \
        "$results/chaos-gateway-main.log" --config "$tmp/gateway.toml" ${body_flag:+"$body_flag"})" || exit 2
    eval "$vars"
    main_pid="$pid"
    export MAIN_PID="$pid" MAIN_S3="$s3url" MAIN_DAV="$davurl" MAIN_ADMIN="$admin" MAIN_SCAIDRIVE="$scaidrive"
    export MAIN_DATA="$tmp/data-main"
fi

{
    echo "# chaos.sh ${groups[*]} — $bin ($("$bin" --version 2>/dev/null || echo '?')) — $(date -u +%FT%TZ)"
    echo "# body-read timeout option: ${body_opt:-none in this build}"
} | tee "$out"
failed=0
for g in "${groups[@]}"; do
    script="chaos/$g.py"
    [ -f "$CONF/$script" ] || { echo "chaos.sh: unknown group '$g'" >&2; exit 2; }
    echo "== $script" | tee -a "$out"
    gstart=$SECONDS
    set +e
    timeout -k 10 "${CHAOS_GROUP_TIMEOUT:-240}" "$py" "$CONF/$script" </dev/null 2>&1 | tee -a "$out"
    rc=${PIPESTATUS[0]}
    set -e
    [ "$rc" = 124 ] && echo "FAIL $script: timed out" | tee -a "$out"
    [ "$rc" = 0 ] || failed=1
    echo "== $script: exit $rc, $((SECONDS - gstart)) s" | tee -a "$out"
    if [ -n "$main_pid" ] && ! kill -0 "$main_pid" 2>/dev/null; then
        echo "FAIL $script: the shared gateway died (see chaos-gateway-main.log)" | tee -a "$out"
        failed=1
        break
    fi
done
p="$(grep -c '^PASS ' "$out" || true)"; f="$(grep -c '^FAIL ' "$out" || true)"; k="$(grep -c '^SKIP ' "$out" || true)"
{
    echo "# results: $out"
    echo "$p passed, $f failed, $k skipped in $((SECONDS - start)) s"
} | tee -a "$out"
[ "$failed" = 0 ] && [ "$f" = 0 ]
