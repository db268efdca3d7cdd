#!/usr/bin/env bash
# restic (Debian 0.14, minio-go) against an S3 endpoint: init a repository, back up a generated
# tree twice (the second after a change), check --read-data, restore both snapshots and compare.
# Env: S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
require_cmd restic diff

P="conformance-restic-$RUN_ID"
export RESTIC_REPOSITORY="s3:$S3_ENDPOINT/$BUCKET/$P/repo"
export RESTIC_PASSWORD="conformance-$RUN_ID"
export RESTIC_CACHE_DIR="$WORK/cache"
if command -v aws >/dev/null; then
    on_exit "aws --endpoint-url '$S3_ENDPOINT' s3 rm --recursive --quiet 's3://$BUCKET/$P/'"
fi

# restic retries failed requests for up to 15 minutes; bound each command instead (init gets less:
# a repository that cannot even be created will not come right by waiting).
RESTIC_BIN="$(command -v restic)"
restic() { timeout "${RESTIC_TIMEOUT:-600}" "$RESTIC_BIN" "$@"; }

src="$WORK/src"
make_tree "$src"
rand_file "$src/big.bin" $((20 * 1024 * 1024))
for i in $(seq 1 50); do echo "small file $i" >"$src/sub/small-$i.txt"; done

check "init" timeout 120 "$RESTIC_BIN" init
check "backup-1" restic backup --host conformance "$src"
# A change between snapshots: one file edited, one removed, one added.
cp -a "$src" "$WORK/src.v1"
echo "edited" >>"$src/b.txt"
rm "$src/sub/small-7.txt"
rand_file "$src/sub/new.bin" 65536
check "backup-2" restic backup --host conformance "$src"
grep -qE 'Files: +1 new, +1 changed' "$LOG" && pass "backup-2-sees-changes" || fail "backup-2-sees-changes" "expected '1 new, 1 changed'"
check "snapshots" restic snapshots --json
n="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$LOG" 2>/dev/null || echo unparsable)"
expect_eq "snapshots-count" "$n" "2"
check "check-read-data" restic check --read-data
grep -q 'no errors were found' "$LOG" && pass "check-no-errors" || fail "check-no-errors" "restic check did not report 'no errors were found'"

check "restore-latest" restic restore latest --target "$WORK/restore2"
check "diff-latest" diff -r "$src" "$WORK/restore2$src"
check "snapshots-again" restic snapshots --json
first="$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sorted(s, key=lambda x: x["time"])[0]["short_id"])' "$LOG" 2>/dev/null || echo unparsable)"
check "restore-first" restic restore "$first" --target "$WORK/restore1"
check "diff-first" diff -r "$WORK/src.v1" "$WORK/restore1$src"

check "forget-prune" restic forget --keep-last 1 --prune
check "check-after-prune" restic check
check "snapshots-after-prune" restic snapshots --json
n="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$LOG" 2>/dev/null || echo unparsable)"
expect_eq "snapshots-after-prune-count" "$n" "1"
finish
