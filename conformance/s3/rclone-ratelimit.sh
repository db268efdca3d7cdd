#!/usr/bin/env bash
# Rate limits: a ScaiDrive emulator with its documented rate limiting on (its own process,
# --rate-limit-per-minute RATELIMIT_PER_MINUTE, default 300) behind a gateway of its own; rclone
# 1.75 copies RATELIMIT_FILES (default 300) small files through S3. The copy must complete with
# every file correct (rclone check, sizes and MD5), the gateway must have paced itself by
# X-RateLimit-Remaining (admin /metrics: scaidrive_gateway_upstream_paced_total > 0), and the
# budget really was exceeded by the work (so the limit was in force, not idle).
# The defaults keep the run near a minute; RATELIMIT_FILES=1000 RATELIMIT_PER_MINUTE=1000 is the
# full-size case (about 2-3 minutes: 1,000 uploads cost 2,000 units).
# Env: GATEWAY_BIN (the scaidrive-gateway binary).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
[ -n "${GATEWAY_BIN:-}" ] || { skip "ratelimit" "no gateway binary (peer run)"; exit 0; }
require_cmd rclone python3 curl

N="${RATELIMIT_FILES:-300}"
LIMIT="${RATELIMIT_PER_MINUTE:-300}"
M="$CONF_DIR/lib/metrics.py"
pids=()
stop_pids() { local p; for p in "${pids[@]+"${pids[@]}"}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
on_exit "stop_pids"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_line() { # wait_line FILE PATTERN SECONDS PID
    local deadline=$((SECONDS + $3))
    until grep -q "$2" "$1" 2>/dev/null; do
        kill -0 "$4" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

port="$(free_port)"
"$GATEWAY_BIN" emulator --listen "127.0.0.1:$port" --data "$WORK/emu" \
    --rate-limit-per-minute "$LIMIT" >"$WORK/emu.txt" 2>"$WORK/emu.log" &
pids+=($!)
wait_line "$WORK/emu.txt" '^export SCAIDRIVE_TOKEN=' 60 "${pids[0]}" || { cp "$WORK/emu.log" "$LOG"; fail "ratelimit-emulator-starts"; }
pass "ratelimit-emulator-starts"
token="$(sed -n 's/^export SCAIDRIVE_TOKEN=//p' "$WORK/emu.txt" | head -n1)"
key="AKIARATELIMIT$RANDOM"; secret="ratelimit-secret-$RANDOM$RANDOM"
SCAIDRIVE_URL="http://127.0.0.1:$port" SCAIDRIVE_TOKEN="$token" \
SCAIDRIVE_GATEWAY_ACCESS_KEY_ID="$key" SCAIDRIVE_GATEWAY_SECRET_ACCESS_KEY="$secret" \
    "$GATEWAY_BIN" --data-dir "$WORK/gw" --s3-listen 127.0.0.1:0 --webdav-listen 127.0.0.1:0 \
    --admin-listen 127.0.0.1:0 serve >"$WORK/banner.txt" 2>"$WORK/gateway.log" &
pids+=($!)
wait_line "$WORK/banner.txt" '^export AWS_DEFAULT_REGION=' 60 "${pids[1]}" || { cp "$WORK/gateway.log" "$LOG"; fail "ratelimit-gateway-starts"; }
pass "ratelimit-gateway-starts"
field() { sed -nE "s|^$1[[:space:]]+(https?://[^ /]+).*|\1|p" "$WORK/banner.txt" | sed -n 1p; }
s3="$(field 'S3:')"; admin="$(field 'Admin:')"

export RCLONE_S3_ACCESS_KEY_ID="$key" RCLONE_S3_SECRET_ACCESS_KEY="$secret"
R=":s3,provider=Other,endpoint='$s3',region='$AWS_DEFAULT_REGION',force_path_style=true:documents/ratelimit"
# rclone's own retries stay on: SlowDown (503) is for the client to back off and try again.
rc() { timeout "${RCLONE_TIMEOUT:-1200}" rclone --config /dev/null "$@"; }

mkdir -p "$WORK/files"
python3 - "$WORK/files" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, f"r{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(256 + i % 2048))
PY

python3 "$M" snapshot "$admin" >"$WORK/before.json"
start=$SECONDS
check "ratelimit-copy-$N-files" rc copy "$WORK/files" "$R" --transfers 8
elapsed=$((SECONDS - start))
python3 "$M" snapshot "$admin" >"$WORK/after.json"
python3 "$M" diff "$WORK/before.json" "$WORK/after.json" "$N" >"$WORK/calls.txt" || true
echo "# copy of $N files at $LIMIT units/minute took ${elapsed}s"
grep -v '^# ' "$WORK/calls.txt" | sed 's/^/# /'
uploads="$(sed -n 's/^uploads=//p' "$WORK/calls.txt")"
paced="$(sed -n 's/^paced=//p' "$WORK/calls.txt")"
expect_eq "ratelimit-one-upload-call-per-file" "$uploads" "$N"
[ "${paced:-0}" -gt 0 ] && pass "ratelimit-gateway-paced-itself" || fail "ratelimit-gateway-paced-itself" "no request waited"

check "ratelimit-check" rc check "$WORK/files" "$R"
grep -q ' 0 differences found' "$LOG" && pass "ratelimit-check-0-differences" || fail "ratelimit-check-0-differences" "differences found"
grep -q "$N matching files" "$LOG" && pass "ratelimit-check-all-files-match" || fail "ratelimit-check-all-files-match" "not $N matching files"
finish
