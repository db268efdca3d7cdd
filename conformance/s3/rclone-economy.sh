#!/usr/bin/env bash
# rclone 1.75 copies ECONOMY_FILES (default 1000) small files into one folder through the S3
# front end; the gateway's upstream counters (admin /metrics, read before and after) must show one
# upload call per file and at most 0.2 other ScaiDrive calls per file — every other call counted,
# change-feed polls included. Then rclone check compares every file (size and MD5).
# Env: S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET ADMIN_URL
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
# A peer has no upstream to count.
[ -n "${ADMIN_URL:-}" ] || { skip "economy" "no gateway admin /metrics (peer run)"; exit 0; }
require_cmd rclone python3 curl

N="${ECONOMY_FILES:-1000}"
P="conformance-economy-$RUN_ID"
export RCLONE_S3_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_S3_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
R=":s3,provider=Other,endpoint='$S3_ENDPOINT',region='$AWS_DEFAULT_REGION',force_path_style=true:$BUCKET/$P"
rc() { timeout "${RCLONE_TIMEOUT:-900}" rclone --config /dev/null --retries 1 --low-level-retries 2 "$@"; }
on_exit "timeout 120 rclone --config /dev/null purge \"$R\""
M="$CONF_DIR/lib/metrics.py"

mkdir -p "$WORK/many"
python3 - "$WORK/many" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, f"f{i:05d}.txt"), "wb") as f:
        f.write(os.urandom(512 + i % 1024))
PY

python3 "$M" snapshot "$ADMIN_URL" >"$WORK/before.json"
check "economy-copy-$N-files" rc copy "$WORK/many" "$R/many" --transfers 8
python3 "$M" snapshot "$ADMIN_URL" >"$WORK/after.json"
python3 "$M" diff "$WORK/before.json" "$WORK/after.json" "$N" >"$WORK/calls.txt" || true
sed "s/^/# /" "$WORK/calls.txt"
uploads="$(sed -n 's/^uploads=//p' "$WORK/calls.txt")"
per_file="$(sed -n 's/^other_per_file=//p' "$WORK/calls.txt")"
expect_eq "economy-one-upload-call-per-file" "$uploads" "$N"
if python3 -c "import sys; sys.exit(0 if float('$per_file') <= 0.2 else 1)"; then
    pass "economy-other-calls-per-file-at-most-0.2"
else
    cp "$WORK/calls.txt" "$LOG"
    fail "economy-other-calls-per-file-at-most-0.2" "$per_file other calls per file"
fi

check "economy-check" rc check "$WORK/many" "$R/many"
grep -q ' 0 differences found' "$LOG" && pass "economy-check-0-differences" || fail "economy-check-0-differences" "differences found"
grep -q "$N matching files" "$LOG" && pass "economy-check-all-files-match" || fail "economy-check-all-files-match" "not $N matching files"
check "economy-purge" rc purge "$R"
finish
