#!/usr/bin/env bash
# Bucket configuration the gateway keeps and applies itself, with aws cli and curl: a lifecycle
# rule with a 1-day expiration put, read back and applied by the gateway's worker with its
# clock moved two days on (the admin listener's POST /lifecycle/run?now=…, on when
# lifecycle.admin_run is set), the object gone from S3 and present in ScaiDrive's trash (the
# WebDAV trash view); the rule deleted; CORS rules put and read back, a browser's preflight
# OPTIONS answered from them (200 with the Access-Control headers; 403 for another origin);
# bucket tags put, read back and deleted.
# Env: S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET WEBDAV_URL ADMIN_URL (unset,
# or a gateway without lifecycle.admin_run: the worker checks are skipped).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET WEBDAV_URL
require_cmd aws curl python3

s3api() { aws --endpoint-url "$S3_ENDPOINT" s3api "$@"; }
P="lc-$RUN_ID"
on_exit "aws --endpoint-url '$S3_ENDPOINT' s3api delete-bucket-lifecycle --bucket '$BUCKET'"
on_exit "aws --endpoint-url '$S3_ENDPOINT' s3api delete-bucket-cors --bucket '$BUCKET'"
on_exit "aws --endpoint-url '$S3_ENDPOINT' s3api delete-bucket-tagging --bucket '$BUCKET'"
on_exit "aws --endpoint-url '$S3_ENDPOINT' s3 rm --quiet 's3://$BUCKET/$P-keep.txt'"

# --- lifecycle: put, get, applied as of two days on
cat >"$WORK/lifecycle.json" <<JSON
{"Rules": [{"ID": "expire-$P", "Filter": {"Prefix": "$P-old"}, "Status": "Enabled",
            "Expiration": {"Days": 1}}]}
JSON
check "put-bucket-lifecycle-configuration" s3api put-bucket-lifecycle-configuration \
    --bucket "$BUCKET" --lifecycle-configuration "file://$WORK/lifecycle.json"
check "get-bucket-lifecycle-configuration" s3api get-bucket-lifecycle-configuration \
    --bucket "$BUCKET" --query 'Rules[0].[ID,Expiration.Days,Status]' --output text
expect_eq "get-bucket-lifecycle-configuration-rule" "$(cat "$LOG")" "$(printf 'expire-%s\t1\tEnabled' "$P")"
cat >"$WORK/noncurrent.json" <<JSON
{"Rules": [{"ID": "nc", "Filter": {}, "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 2}}]}
JSON
if run s3api put-bucket-lifecycle-configuration --bucket "$BUCKET" \
    --lifecycle-configuration "file://$WORK/noncurrent.json"; then
    fail "put-bucket-lifecycle-noncurrent-refused" "NoncurrentVersionExpiration was accepted"
elif grep -q NotImplemented "$LOG"; then
    pass "put-bucket-lifecycle-noncurrent-refused"
else
    fail "put-bucket-lifecycle-noncurrent-refused" "not NotImplemented"
fi

echo "expires" >"$WORK/old.txt"
echo "stays" >"$WORK/keep.txt"
check "put-object-to-expire" s3api put-object --bucket "$BUCKET" --key "$P-old.txt" --body "$WORK/old.txt"
check "put-object-to-keep" s3api put-object --bucket "$BUCKET" --key "$P-keep.txt" --body "$WORK/keep.txt"

if [ -z "${ADMIN_URL:-}" ] || [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$ADMIN_URL/lifecycle/run?now=2000-01-01T00:00:00Z")" = 404 ]; then
    skip "lifecycle-worker" "no admin listener with lifecycle.admin_run here"
else
    later="$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) + d.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))')"
    check "lifecycle-run-two-days-on" curl -fsS -X POST "$ADMIN_URL/lifecycle/run?now=$later"
    expired="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["expired"])' "$LOG")"
    [ "$expired" -ge 1 ] && pass "lifecycle-run-expired-the-object" \
        || fail "lifecycle-run-expired-the-object" "report: $(cat "$LOG")"
    if run s3api head-object --bucket "$BUCKET" --key "$P-old.txt"; then
        fail "expired-object-gone-from-s3" "head-object still 200"
    else
        grep -qE '404|Not Found' "$LOG" && pass "expired-object-gone-from-s3" \
            || fail "expired-object-gone-from-s3" "not a 404"
    fi
    check "list-objects-after-expiry" s3api list-objects-v2 --bucket "$BUCKET" --prefix "$P-" \
        --query 'Contents[].Key' --output text
    expect_eq "list-objects-after-expiry-keeps-the-other" "$(cat "$LOG")" "$P-keep.txt"
    # ScaiDrive's trash, as the WebDAV trash view shows it.
    dav_root="${WEBDAV_URL%/}"
    check "trash-propfind" curl -fsS -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -X PROPFIND \
        -H 'Depth: 1' "$dav_root/.scaidrive-trash/"
    grep -q "$P-old" "$LOG" && pass "expired-object-in-scaidrive-trash" \
        || fail "expired-object-in-scaidrive-trash" "not in the trash listing"
fi
check "delete-bucket-lifecycle" s3api delete-bucket-lifecycle --bucket "$BUCKET"
if run s3api get-bucket-lifecycle-configuration --bucket "$BUCKET"; then
    fail "get-bucket-lifecycle-after-delete" "still there"
else
    grep -q NoSuchLifecycleConfiguration "$LOG" && pass "get-bucket-lifecycle-after-delete" \
        || fail "get-bucket-lifecycle-after-delete" "not NoSuchLifecycleConfiguration"
fi

# --- CORS: put, get, preflight
cat >"$WORK/cors.json" <<JSON
{"CORSRules": [{"AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["PUT", "GET"],
                "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 300}]}
JSON
check "put-bucket-cors" s3api put-bucket-cors --bucket "$BUCKET" --cors-configuration "file://$WORK/cors.json"
check "get-bucket-cors" s3api get-bucket-cors --bucket "$BUCKET" --query 'CORSRules[0].MaxAgeSeconds' --output text
expect_eq "get-bucket-cors-max-age" "$(cat "$LOG")" "300"
preflight() {
    curl -sS -o /dev/null -D "$WORK/preflight.h" -w '%{http_code}' -X OPTIONS \
        -H "Origin: $1" -H 'Access-Control-Request-Method: PUT' \
        -H 'Access-Control-Request-Headers: content-type, x-amz-date' \
        "$S3_ENDPOINT/$BUCKET/$P-upload.txt"
}
expect_eq "preflight-allowed-origin-status" "$(preflight https://app.example.com)" "200"
allow_origin="$(tr -d '\r' <"$WORK/preflight.h" | sed -n 's/^access-control-allow-origin: //Ip')"
expect_eq "preflight-allow-origin" "$allow_origin" "https://app.example.com"
allow_methods="$(tr -d '\r' <"$WORK/preflight.h" | sed -n 's/^access-control-allow-methods: //Ip')"
expect_eq "preflight-allow-methods" "$allow_methods" "PUT, GET"
expect_eq "preflight-other-origin-refused" "$(preflight https://evil.example.net)" "403"

# --- bucket tagging
check "put-bucket-tagging" s3api put-bucket-tagging --bucket "$BUCKET" \
    --tagging "TagSet=[{Key=project,Value=$P},{Key=team,Value=blue}]"
check "get-bucket-tagging" s3api get-bucket-tagging --bucket "$BUCKET" \
    --query "TagSet[?Key=='project'].Value" --output text
expect_eq "get-bucket-tagging-value" "$(cat "$LOG")" "$P"
check "delete-bucket-tagging" s3api delete-bucket-tagging --bucket "$BUCKET"
if run s3api get-bucket-tagging --bucket "$BUCKET"; then
    fail "get-bucket-tagging-after-delete" "still there"
else
    grep -q NoSuchTagSet "$LOG" && pass "get-bucket-tagging-after-delete" \
        || fail "get-bucket-tagging-after-delete" "not NoSuchTagSet"
fi
finish
