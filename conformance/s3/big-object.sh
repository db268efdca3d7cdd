#!/usr/bin/env bash
# A 1 GiB object through the S3 front end, and the gateway's peak memory while it moves.
#
#   conformance/s3/big-object.sh
#
# Starts `serve` (embedded emulator, temporary data dir, free ports), then with a 1 GiB random file:
# aws cli `s3 cp` up (multipart) and down, boto3 `put_object` from the open file (one PutObject,
# streamed) and `get_object` streamed to a file; every download is compared by SHA-256. Prints the
# serve process's VmHWM (peak RSS; the embedded emulator runs in the same process) after start and
# after each transfer. Slow (a few minutes), so run-clients.sh does not run it.
# Env: GATEWAY_BIN (default: target/debug or $CARGO_TARGET_DIR/debug), SIZE_MIB (default 1024),
# RSS_LIMIT_MIB (default 96: exit 1 when the peak RSS is above it), KEEP_GOING.
# Output: PASS/FAIL lines, also written to conformance/results/big-object.txt. Exit 1 on a failure.
set -euo pipefail
CONF="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$CONF/.." && pwd)"
SIZE_MIB="${SIZE_MIB:-1024}"
RSS_LIMIT_MIB="${RSS_LIMIT_MIB:-96}"

"$CONF/install.sh" >/dev/null || { echo "big-object.sh: install.sh failed" >&2; exit 2; }
export PATH="$CONF/.venv/bin:$PATH"
unset AWS_CA_BUNDLE AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_SESSION_TOKEN
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

bin="${GATEWAY_BIN:-}"
if [ -z "$bin" ]; then
    bin="$ROOT/target/debug/scaidrive-gateway"
    [ -x "$bin" ] || bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/scaidrive-gateway"
fi
[ -x "$bin" ] || { echo "big-object.sh: gateway binary '$bin' not found" >&2; exit 2; }

mkdir -p "$CONF/results"
out="$CONF/results/big-object.txt"
: >"$out"
tmp="$(mktemp -d /tmp/big-object.XXXXXX)"
pid=""
stop() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
}
trap 'stop; rm -rf "$tmp"' EXIT
failed=0
say() { echo "$*" | tee -a "$out"; }
pass() { say "PASS $1"; }
fail() { say "FAIL $1: $2"; failed=1; }
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status"; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status"; }
report_mem() { say "# after $1: VmHWM $(( $(hwm) / 1024 )) MiB, VmRSS $(( $(rss) / 1024 )) MiB"; }

SCAIDRIVE_URL= "$bin" --data-dir "$tmp/data" --s3-listen 127.0.0.1:0 --webdav-listen 127.0.0.1:0 \
    --admin-listen 127.0.0.1:0 --log-level "${GATEWAY_LOG_LEVEL:-info}" serve \
    >"$tmp/banner.txt" 2>"$CONF/results/big-object-gateway.log" &
pid=$!
deadline=$((SECONDS + 60))
until grep -q '^export AWS_DEFAULT_REGION=' "$tmp/banner.txt" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
        echo "big-object.sh: the gateway did not print its banner" >&2; exit 2
    fi
    sleep 0.2
done
field() { sed -nE "s|^$1[[:space:]]+(https?://[^ /]+).*|\1|p" "$tmp/banner.txt" | sed -n 1p; }
export S3_ENDPOINT="$(field 'S3:')"
export AWS_ACCESS_KEY_ID="$(sed -n 's/^export AWS_ACCESS_KEY_ID=//p' "$tmp/banner.txt")"
export AWS_SECRET_ACCESS_KEY="$(sed -n 's/^export AWS_SECRET_ACCESS_KEY=//p' "$tmp/banner.txt")"
admin="$(field 'Admin:')"
deadline=$((SECONDS + 60))
until curl -fsS -o /dev/null --max-time 2 "$admin/readyz" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "big-object.sh: not ready" >&2; exit 2; }
    sleep 0.2
done
say "# big-object.sh: ${SIZE_MIB} MiB against $S3_ENDPOINT ($bin), serve pid $pid"
report_mem "start"

head -c "$((SIZE_MIB << 20))" /dev/urandom >"$tmp/big.bin"
want="$(sha256sum "$tmp/big.bin" | cut -d' ' -f1)"

# --- aws cli: multipart upload (8 MiB parts, 10 in parallel), download
t=$SECONDS
if aws --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors "$tmp/big.bin" s3://documents/big-awscli.bin; then
    pass "awscli-multipart-put ($((SECONDS - t)) s)"
else
    fail "awscli-multipart-put" "aws s3 cp failed"
fi
report_mem "aws cli upload"
t=$SECONDS
if aws --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors s3://documents/big-awscli.bin "$tmp/down.bin"; then
    got="$(sha256sum "$tmp/down.bin" | cut -d' ' -f1)"
    [ "$got" = "$want" ] && pass "awscli-get-sha256 ($((SECONDS - t)) s)" || fail "awscli-get-sha256" "$got != $want"
else
    fail "awscli-get" "aws s3 cp failed"
fi
rm -f "$tmp/down.bin"
report_mem "aws cli download"

# --- boto3: one streamed PutObject, streamed GetObject
t=$SECONDS
if python3 - "$tmp/big.bin" "$tmp/down.bin" "$want" <<'EOF'
import hashlib, os, sys
import boto3
from botocore.config import Config
src, dst, want = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"],
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                read_timeout=600))
with open(src, "rb") as f:
    r = s3.put_object(Bucket="documents", Key="big-boto3.bin", Body=f)
print("put_object ETag", r["ETag"])
h = hashlib.sha256()
body = s3.get_object(Bucket="documents", Key="big-boto3.bin")["Body"]
with open(dst, "wb") as out:
    for chunk in body.iter_chunks(1 << 20):
        h.update(chunk)
        out.write(chunk)
got = h.hexdigest()
if got != want:
    sys.exit(f"sha256 {got} != {want}")
EOF
then
    pass "boto3-put-object-get-object-sha256 ($((SECONDS - t)) s)"
else
    fail "boto3-put-object-get-object" "see above"
fi
report_mem "boto3 put_object + get_object"

peak=$(( $(hwm) / 1024 ))
say "# peak RSS (VmHWM) of serve: $peak MiB (limit $RSS_LIMIT_MIB MiB)"
if [ "$peak" -le "$RSS_LIMIT_MIB" ]; then pass "peak-rss-${peak}MiB"; else fail "peak-rss" "$peak MiB > $RSS_LIMIT_MIB MiB"; fi
exit "$failed"
