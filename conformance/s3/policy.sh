#!/usr/bin/env bash
# Bucket policies with aws cli: put-bucket-policy (a Deny of DeleteObject on a prefix, then a
# Deny of reads without aws:SecureTransport, then one outside a source network),
# get-bucket-policy, get-bucket-policy-status, delete-bucket-policy; `aws s3 rm` refused with
# AccessDenied where the policy denies it; a policy naming another bucket refused with
# MalformedPolicy. Over HTTPS (the TLS lane) the SecureTransport Deny does not apply.
# Env: S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
require_cmd aws python3
# rclone serve s3 (the --peer run) has no bucket policies.
[ -n "${GATEWAY_BIN:-}" ] || { skip "policy" "not a scaidrive-gateway (peer run)"; exit 0; }

s3() { aws --endpoint-url "$S3_ENDPOINT" s3 "$@"; }
s3api() { aws --endpoint-url "$S3_ENDPOINT" s3api "$@"; }
P="conformance-policy-$RUN_ID"
URI="s3://$BUCKET/$P"
# The policy goes first: the other scripts share the bucket.
on_exit "aws --endpoint-url '$S3_ENDPOINT' s3api delete-bucket-policy --bucket '$BUCKET'"
on_exit "aws --endpoint-url '$S3_ENDPOINT' s3 rm --recursive --quiet '$URI/'"

# policy FILE EFFECT ACTION RESOURCE [CONDITION-JSON]: writes a one-statement policy.
policy() {
    python3 - "$@" <<'PY'
import json, sys
path, effect, action, resource = sys.argv[1:5]
st = {"Sid": "conformance", "Effect": effect, "Principal": "*", "Action": action,
      "Resource": resource}
if len(sys.argv) > 5:
    st["Condition"] = json.loads(sys.argv[5])
open(path, "w").write(json.dumps({"Version": "2012-10-17", "Statement": [st]}))
PY
}

echo keep >"$WORK/keep.txt"
check "cp-keep-up" s3 cp "$WORK/keep.txt" "$URI/keep/a.txt"
check "cp-scratch-up" s3 cp "$WORK/keep.txt" "$URI/scratch/b.txt"

# --- no policy yet
if run s3api get-bucket-policy --bucket "$BUCKET"; then
    fail "get-bucket-policy-none" "a policy was found before any was put"
elif grep -q NoSuchBucketPolicy "$LOG"; then pass "get-bucket-policy-none"
else fail "get-bucket-policy-none" "expected NoSuchBucketPolicy"; fi

# --- a policy naming another bucket is malformed
policy "$WORK/other.json" Deny s3:DeleteObject "arn:aws:s3:::not-$BUCKET/*"
if run s3api put-bucket-policy --bucket "$BUCKET" --policy "file://$WORK/other.json"; then
    fail "put-bucket-policy-other-bucket-refused" "accepted"
elif grep -q MalformedPolicy "$LOG"; then pass "put-bucket-policy-other-bucket-refused"
else fail "put-bucket-policy-other-bucket-refused" "expected MalformedPolicy"; fi

# --- Deny DeleteObject on keep/
policy "$WORK/keep.json" Deny s3:DeleteObject "arn:aws:s3:::$BUCKET/$P/keep/*"
check "put-bucket-policy" s3api put-bucket-policy --bucket "$BUCKET" --policy "file://$WORK/keep.json"
check "get-bucket-policy" s3api get-bucket-policy --bucket "$BUCKET" --query Policy --output text
python3 - "$LOG" "$WORK/keep.json" <<'PY' && pass "get-bucket-policy-as-put" || fail "get-bucket-policy-as-put" "the policy read back differs"
import json, sys
got = json.loads(open(sys.argv[1]).read())
want = json.loads(open(sys.argv[2]).read())
sys.exit(0 if got == want else 1)
PY
check "get-bucket-policy-status" s3api get-bucket-policy-status --bucket "$BUCKET" --query PolicyStatus.IsPublic --output text
expect_eq "policy-status-not-public" "$(tail -n1 "$LOG")" "False"
if run s3 rm "$URI/keep/a.txt"; then
    fail "rm-denied-by-policy" "the object was deleted"
elif grep -q AccessDenied "$LOG"; then pass "rm-denied-by-policy"
else fail "rm-denied-by-policy" "expected AccessDenied"; fi
check "denied-object-still-there" s3api head-object --bucket "$BUCKET" --key "$P/keep/a.txt"
check "rm-elsewhere-allowed" s3 rm "$URI/scratch/b.txt"

# --- Deny reads without TLS
policy "$WORK/tls.json" Deny s3:GetObject "arn:aws:s3:::$BUCKET/$P/*" '{"Bool":{"aws:SecureTransport":"false"}}'
check "put-bucket-policy-secure-transport" s3api put-bucket-policy --bucket "$BUCKET" --policy "file://$WORK/tls.json"
case "$S3_ENDPOINT" in
    https://*) check "get-over-https-allowed" s3 cp "$URI/keep/a.txt" "$WORK/a.out" ;;
    *)
        if run s3 cp "$URI/keep/a.txt" "$WORK/a.out"; then
            fail "get-over-http-denied" "downloaded over plain HTTP"
        elif grep -qE 'AccessDenied|Forbidden|403' "$LOG"; then pass "get-over-http-denied"
        else fail "get-over-http-denied" "expected AccessDenied"; fi
        ;;
esac

# --- Deny reads from outside 10.0.0.0/8 (the client is on the loopback), then outside 127/8
policy "$WORK/ip.json" Deny s3:GetObject "arn:aws:s3:::$BUCKET/$P/*" '{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}'
check "put-bucket-policy-source-ip" s3api put-bucket-policy --bucket "$BUCKET" --policy "file://$WORK/ip.json"
if run s3api get-object --bucket "$BUCKET" --key "$P/keep/a.txt" "$WORK/a.out"; then
    fail "get-from-outside-network-denied" "downloaded"
elif grep -q AccessDenied "$LOG"; then pass "get-from-outside-network-denied"
else fail "get-from-outside-network-denied" "expected AccessDenied"; fi
policy "$WORK/ip.json" Deny s3:GetObject "arn:aws:s3:::$BUCKET/$P/*" '{"NotIpAddress":{"aws:SourceIp":["127.0.0.0/8","::1/128"]}}'
check "put-bucket-policy-loopback" s3api put-bucket-policy --bucket "$BUCKET" --policy "file://$WORK/ip.json"
check "get-from-inside-network-allowed" s3api get-object --bucket "$BUCKET" --key "$P/keep/a.txt" "$WORK/a.out"

# --- delete the policy: everything is allowed again
check "delete-bucket-policy" s3api delete-bucket-policy --bucket "$BUCKET"
if run s3api get-bucket-policy --bucket "$BUCKET"; then
    fail "get-bucket-policy-after-delete" "still there"
elif grep -q NoSuchBucketPolicy "$LOG"; then pass "get-bucket-policy-after-delete"
else fail "get-bucket-policy-after-delete" "expected NoSuchBucketPolicy"; fi
check "rm-after-policy-deleted" s3 rm "$URI/keep/a.txt"
finish
