#!/usr/bin/env bash
# Delete markers from ScaiDrive's trash, with aws cli and rclone: `aws s3 rm` answers a delete
# marker; list-object-versions shows it as latest over the deleted content (noncurrent); GET
# answers 404 with x-amz-delete-marker, the marker's own version id 405; `delete-object
# --version-id <marker>` brings the object back byte-identical, its folder too; a key deleted,
# re-created and deleted again has two markers, newest latest; `rclone lsf --s3-versions` lists
# the noncurrent versions. Upstream cost from the admin /metrics counters: a HEAD of a missing key
# in a listed folder makes no listing; a GET of a deleted key one listing with the trash per folder
# that had the key's path.
# Env: S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET ADMIN_URL
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
# Markers are the gateway's mapping of ScaiDrive's trash; a peer has neither.
[ -n "${ADMIN_URL:-}" ] || { skip "versions" "no gateway admin /metrics (peer run)"; exit 0; }
require_cmd aws rclone cmp python3

s3() { aws --endpoint-url "$S3_ENDPOINT" s3 "$@"; }
s3api() { aws --endpoint-url "$S3_ENDPOINT" s3api "$@"; }
P="conformance-versions-$RUN_ID"
URI="s3://$BUCKET/$P"
M="$CONF_DIR/lib/metrics.py"
on_exit "aws --endpoint-url '$S3_ENDPOINT' s3 rm --recursive --quiet '$URI/'"

# --- two versions, then `aws s3 rm`
rand_file "$WORK/v1.bin" 3000
rand_file "$WORK/v2.bin" 5000
check "put-v1" s3 cp "$WORK/v1.bin" "$URI/dir/obj.bin"
check "put-v2" s3 cp "$WORK/v2.bin" "$URI/dir/obj.bin"
check "rm" s3 rm "$URI/dir/obj.bin"

# --- the listing: one marker, latest, over the deleted content
check "list-object-versions" s3api list-object-versions --bucket "$BUCKET" --prefix "$P/dir/" --output json
cp "$LOG" "$WORK/versions.json"
read -r markers marker latest noncurrent size < <(python3 - "$WORK/versions.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
ms = v.get("DeleteMarkers", [])
vs = v.get("Versions", [])
m = ms[0] if ms else {}
old = [x for x in vs if not x["IsLatest"]]
print(len(ms), m.get("VersionId", "-"), m.get("IsLatest"), len(old), old[0]["Size"] if old else "-")
PY
)
expect_eq "list-shows-one-marker" "$markers" "1"
expect_eq "marker-is-latest" "$latest" "True"
expect_eq "deleted-content-listed-noncurrent" "$noncurrent" "1"
expect_eq "deleted-content-size" "$size" "5000"

# --- GET of the key: 404 saying a delete marker is latest; the marker's id: 405
aws --endpoint-url "$S3_ENDPOINT" --debug s3api get-object --bucket "$BUCKET" --key "$P/dir/obj.bin" "$WORK/none" >"$LOG" 2>&1 || true
grep -q "'x-amz-delete-marker': 'true'" "$LOG" && pass "get-deleted-key-404-delete-marker" \
    || fail "get-deleted-key-404-delete-marker" "no x-amz-delete-marker: true on the 404"
if run s3api head-object --bucket "$BUCKET" --key "$P/dir/obj.bin" --version-id "$marker"; then
    fail "head-marker-version-405" "HEAD of the marker's version id succeeded"
else
    grep -q "405" "$LOG" && pass "head-marker-version-405" || fail "head-marker-version-405" "not 405"
fi

# --- deleting the marker brings the object back, byte-identical
check "delete-marker" s3api delete-object --bucket "$BUCKET" --key "$P/dir/obj.bin" --version-id "$marker"
check "get-after-undelete" s3 cp "$URI/dir/obj.bin" "$WORK/back.bin"
check "undeleted-byte-identical" cmp "$WORK/v2.bin" "$WORK/back.bin"
check "list-after-undelete" s3api list-object-versions --bucket "$BUCKET" --prefix "$P/dir/" \
    --query 'length(DeleteMarkers || `[]`)' --output text
expect_eq "no-marker-after-undelete" "$(tail -n1 "$LOG")" "0"

# --- deleted, re-created, deleted again: two markers, the newest latest
check "rm-again" s3 rm "$URI/dir/obj.bin"
check "put-v3" s3 cp "$WORK/v1.bin" "$URI/dir/obj.bin"
check "rm-third" s3 rm "$URI/dir/obj.bin"
check "list-two-markers" s3api list-object-versions --bucket "$BUCKET" --prefix "$P/dir/" \
    --query 'DeleteMarkers[].IsLatest' --output text
expect_eq "two-markers-newest-latest" "$(tail -n1 "$LOG" | tr -s '\t ' ' ')" "True False"

# --- rclone lists the noncurrent versions (the two trashed files of dir/obj.bin)
export RCLONE_S3_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_S3_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
R=":s3,provider=Other,endpoint='$S3_ENDPOINT',region='$AWS_DEFAULT_REGION',force_path_style=true:$BUCKET/$P"
check "rclone-lsf-versions" rclone --config /dev/null lsf -R --s3-versions "$R"
n="$(grep -cE '^dir/obj-v[0-9-]+\.bin$' "$LOG" || true)"
expect_eq "rclone-lists-noncurrent-versions" "$n" "2"
check "rclone-lsf-plain" rclone --config /dev/null lsf -R "$R"
grep -q 'obj' "$LOG" && fail "rclone-plain-hides-deleted" "a deleted key is listed" || pass "rclone-plain-hides-deleted"

# --- upstream cost: HEAD of a missing key in a listed folder makes no listing; GET of a
# deleted key looks into the trash, one listing per folder that had the key's path. boto3 in one
# process, so the warm-up and the measured call fall within the listing TTL.
check "put-probe" s3 cp "$WORK/v1.bin" "$URI/probe.bin"
run python3 - "$M" "$ADMIN_URL" "$S3_ENDPOINT" "$BUCKET" "$P" <<'PY' || fail "count-listings" "the counting script failed"
import importlib.util, sys
import boto3
from botocore.config import Config
spec = importlib.util.spec_from_file_location("metrics", sys.argv[1])
metrics = importlib.util.module_from_spec(spec); spec.loader.exec_module(metrics)
admin, endpoint, bucket, p = sys.argv[2:6]
s3 = boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))
def listings(fn):
    before = metrics.totals(metrics.snapshot(admin))
    try:
        fn()
    except Exception:
        pass
    after = metrics.totals(metrics.snapshot(admin))
    return sum(n - before.get(k, 0) for k, n in after.items() if k[1].endswith("/children"))
head = lambda: s3.head_object(Bucket=bucket, Key=f"{p}/missing.bin")
get = lambda: s3.get_object(Bucket=bucket, Key=f"{p}/dir/obj.bin")
for warm in (head, get):
    try:
        warm()
    except Exception:
        pass
print("head", listings(head))
print("get", listings(get))
PY
sed "s/^/# listings: /" "$LOG"
expect_eq "head-missing-key-no-listing" "$(sed -n 's/^head //p' "$LOG")" "0"
listings="$(sed -n 's/^get //p' "$LOG")"
# Folders that had the key's path, each listed with its trash: the bucket root, $P (live, and the
# one in the trash: pruned when its last key went), the two trashed $P/dir. Measured: 6.
if [ "${listings:-99}" -le 6 ]; then pass "get-deleted-key-listings-at-most-6"; else
    fail "get-deleted-key-listings-at-most-6" "$listings listings"; fi
finish
