#!/usr/bin/env bash
# s3cmd (Debian 2.3) against an S3 endpoint: put (single and multipart), get, ls, sync twice, del.
# s3cmd compares ETags with MD5s and warns when they differ: any such warning fails the script.
# Env: S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
require_cmd s3cmd cmp

hp="$(s3_host_port)"
cfg="$WORK/s3cfg"
cat >"$cfg" <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $hp
host_bucket = $hp
use_https = $([[ "$S3_ENDPOINT" == https://* ]] && echo True || echo False)
signature_v2 = False
bucket_location = ${AWS_DEFAULT_REGION}
multipart_chunk_size_mb = 5
progress_meter = False
CFG
chmod 600 "$cfg"
s3c() { s3cmd -c "$cfg" "$@"; }
P="conformance-s3cmd-$RUN_ID"
URI="s3://$BUCKET/$P"
on_exit "s3cmd -c '$cfg' del --recursive --force '$URI/'"

# no_md5_warning NAME: fail if the last command warned about MD5s or ETags.
no_md5_warning() {
    if grep -iE 'warning.*(md5|etag)|md5.*(not match|mismatch|differ)' "$LOG" >/dev/null; then
        fail "$1-no-md5-warning" "$(grep -iE 'md5|etag' "$LOG" | head -n1)"
    else
        pass "$1-no-md5-warning"
    fi
}

check "ls-buckets" s3c ls
grep -qE "s3://$BUCKET\$" "$LOG" && pass "ls-buckets-lists-$BUCKET" || fail "ls-buckets-lists-$BUCKET" "bucket not listed"

rand_file "$WORK/small.bin" 12345
check "put-small" s3c put "$WORK/small.bin" "$URI/small.bin"
no_md5_warning "put-small"
rand_file "$WORK/mp.bin" $((12 * 1024 * 1024))   # 3 parts of 5 MiB max
check "put-multipart" s3c put "$WORK/mp.bin" "$URI/mp.bin"
no_md5_warning "put-multipart"
check "ls" s3c ls "$URI/"
grep -qE "[[:space:]]12345[[:space:]]+$URI/small.bin\$" "$LOG" && pass "ls-small-size" || fail "ls-small-size" "expected 12345 $URI/small.bin"
grep -qE "[[:space:]]$((12 * 1024 * 1024))[[:space:]]+$URI/mp.bin\$" "$LOG" && pass "ls-multipart-size" || fail "ls-multipart-size" "expected mp.bin size"
check "get-small" s3c get "$URI/small.bin" "$WORK/small.out"
no_md5_warning "get-small"
check "cmp-small" cmp "$WORK/small.bin" "$WORK/small.out"
check "get-multipart" s3c get "$URI/mp.bin" "$WORK/mp.out"
no_md5_warning "get-multipart"
check "cmp-multipart" cmp "$WORK/mp.bin" "$WORK/mp.out"

make_tree "$WORK/tree"
check "sync-up-1" s3c sync "$WORK/tree/" "$URI/tree/"
no_md5_warning "sync-up-1"
n="$(grep -c '^upload:' "$LOG" || true)"
expect_eq "sync-up-1-uploads-all" "$n" "$(find "$WORK/tree" -type f | wc -l)"
check "sync-up-2" s3c sync "$WORK/tree/" "$URI/tree/"
n="$(grep -c '^upload:' "$LOG" || true)"
expect_eq "sync-up-2-uploads-nothing" "$n" "0"
check "sync-down" s3c sync "$URI/tree/" "$WORK/tree.out/"
no_md5_warning "sync-down"
check "diff-tree" diff -r "$WORK/tree" "$WORK/tree.out"

check "del-small" s3c del "$URI/small.bin"
check "ls-after-del" s3c ls "$URI/small.bin"
grep -q 'small.bin' "$LOG" && fail "ls-after-del-gone" "small.bin still listed" || pass "ls-after-del-gone"
check "del-recursive" s3c del --recursive --force "$URI/"
check "ls-after-del-recursive" s3c ls --recursive "$URI/"
grep -q "$P/" "$LOG" && fail "ls-after-del-recursive-empty" "objects still listed" || pass "ls-after-del-recursive-empty"
finish
