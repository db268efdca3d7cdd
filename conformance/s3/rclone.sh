#!/usr/bin/env bash
# rclone 1.75 (s3 backend, provider Other) against an S3 endpoint: copy a tree, sync twice (the
# second transfers nothing), check by size and hash, lsf, a 64 MiB multipart copyto, cat and cmp.
# Env: S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
require_cmd rclone cmp

P="conformance-rclone-$RUN_ID"
R=":s3,provider=Other,endpoint='$S3_ENDPOINT',access_key_id='$AWS_ACCESS_KEY_ID',secret_access_key='$AWS_SECRET_ACCESS_KEY',region='$AWS_DEFAULT_REGION',force_path_style=true:$BUCKET/$P"
rc() { rclone --config /dev/null --retries 1 --low-level-retries 2 "$@"; }
on_exit "rclone --config /dev/null purge \"$R\""

# transfers_of: how many files the last command (run with --use-json-log -v) copied.
transfers_of() {
    python3 - "$LOG" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    if isinstance(rec, dict) and str(rec.get("msg", "")).startswith("Copied ("):
        n += 1
print(n)
PY
}
STATS=(--use-json-log -v)

make_tree "$WORK/tree"
nfiles="$(find "$WORK/tree" -type f | wc -l)"
check "copy-tree" rc copy "$WORK/tree" "$R/tree" "${STATS[@]}"
expect_eq "copy-tree-transfers-all" "$(transfers_of)" "$nfiles"
rand_file "$WORK/tree/added-later.bin" 2048
check "sync-1" rc sync "$WORK/tree" "$R/tree" "${STATS[@]}"
expect_eq "sync-1-transfers-only-new" "$(transfers_of)" "1"
check "sync-2" rc sync "$WORK/tree" "$R/tree" "${STATS[@]}"
expect_eq "sync-2-transfers-nothing" "$(transfers_of)" "0"
grep -q 'Updated modification time' "$LOG" && fail "sync-2-mtimes-kept" "rclone had to fix mtimes (x-amz-meta-mtime lost?)" || pass "sync-2-mtimes-kept"

check "check-size-and-hash" rc check "$WORK/tree" "$R/tree"
grep -q 'No common hash found' "$LOG" && fail "check-used-hash" "no common hash: only sizes were compared" || pass "check-used-hash"
grep -q ' 0 differences found' "$LOG" && pass "check-0-differences" || fail "check-0-differences" "differences found"
check "check-download" rc check --download "$WORK/tree" "$R/tree"

check "lsf" rc lsf -R --files-only --format ps --separator ' ' "$R/tree"
got="$(LC_ALL=C sort "$LOG")"
expect_eq "lsf-matches-tree" "$got" "$(tree_listing "$WORK/tree")"

mkdir -p "$WORK/big"
rand_file "$WORK/big/big.bin" $((64 * 1024 * 1024))
check "copyto-64MiB-multipart" rc copyto "$WORK/big/big.bin" "$R/big/big.bin" \
    --s3-upload-cutoff 5M --s3-chunk-size 5M --s3-upload-concurrency 4
rc cat "$R/big/big.bin" >"$WORK/big.out" 2>"$LOG" && pass "cat-64MiB-to-file" || fail "cat-64MiB-to-file"
check "cmp-64MiB" cmp "$WORK/big/big.bin" "$WORK/big.out"
check "check-64MiB" rc check "$WORK/big" "$R/big"
check "copyto-64MiB-back" rc copyto "$R/big/big.bin" "$WORK/big.back"
check "cmp-64MiB-back" cmp "$WORK/big/big.bin" "$WORK/big.back"
rm -rf "$WORK/big" "$WORK/big.out" "$WORK/big.back"

check "purge" rc purge "$R"
check "lsf-after-purge" rc lsf -R "$R"
[ ! -s "$LOG" ] && pass "lsf-after-purge-empty" || fail "lsf-after-purge-empty" "objects left"
finish
