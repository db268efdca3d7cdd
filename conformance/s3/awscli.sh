#!/usr/bin/env bash
# aws cli (v1, from the venv) against an S3 endpoint: listing, small and multipart uploads, sync
# idempotence, downloads compared byte for byte, ranges, versions listing, awkward key names,
# a sync of empty files (no 30 s stall after an empty PUT).
# Env: S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
require_cmd aws cmp python3

s3() { aws --endpoint-url "$S3_ENDPOINT" s3 "$@"; }
s3api() { aws --endpoint-url "$S3_ENDPOINT" s3api "$@"; }
P="conformance-awscli-$RUN_ID"
URI="s3://$BUCKET/$P"
on_exit "aws --endpoint-url '$S3_ENDPOINT' s3 rm --recursive --quiet '$URI/'"

# --- bucket listing (creating the bucket where the server allows it)
if run s3api head-bucket --bucket "$BUCKET"; then
    pass "head-bucket"
elif grep -qE '\(404\)|Not Found|NoSuchBucket' "$LOG"; then
    check "create-bucket" s3 mb "s3://$BUCKET"
else
    fail "head-bucket" "neither 200 nor 404"
fi
check "ls-buckets" s3 ls
grep -qE "[[:space:]]$BUCKET\$" "$LOG" && pass "ls-buckets-lists-$BUCKET" || fail "ls-buckets-lists-$BUCKET" "bucket not in 's3 ls' output"

# --- small object
rand_file "$WORK/small.bin" 4097
check "cp-small-up" s3 cp "$WORK/small.bin" "$URI/small.bin"
check "ls-small" s3 ls "$URI/small.bin"
grep -qE "[[:space:]]4097 small\.bin\$" "$LOG" && pass "ls-small-size" || fail "ls-small-size" "expected '4097 small.bin' in listing"
check "cp-small-down" s3 cp "$URI/small.bin" "$WORK/small.out"
check "cmp-small" cmp "$WORK/small.bin" "$WORK/small.out"

# --- head-object
check "head-object" s3api head-object --bucket "$BUCKET" --key "$P/small.bin" --query '[ContentLength,ETag]' --output text
read -r len etag <"$LOG"
expect_eq "head-object-length" "$len" "4097"
md5="$(md5sum "$WORK/small.bin" | cut -d' ' -f1)"
expect_eq "head-object-etag-is-md5" "$etag" "\"$md5\""

# --- ranges
check "get-object-range" s3api get-object --bucket "$BUCKET" --key "$P/small.bin" --range bytes=0-9 \
    --query ContentRange --output text "$WORK/range.out"
expect_eq "get-object-range-content-range" "$(tail -n1 "$LOG")" "bytes 0-9/4097"
expect_eq "get-object-range-size" "$(stat -c %s "$WORK/range.out")" "10"
check "get-object-range-bytes" cmp "$WORK/range.out" <(head -c 10 "$WORK/small.bin")

# --- 100 MiB multipart upload (aws cli splits above 8 MiB into 8 MiB parts: 13 parts)
rand_file "$WORK/big.bin" $((100 * 1024 * 1024))
check "cp-100MiB-multipart-up" s3 cp --only-show-errors "$WORK/big.bin" "$URI/big.bin"
check "head-100MiB" s3api head-object --bucket "$BUCKET" --key "$P/big.bin" --query '[ContentLength,ETag]' --output text
read -r len etag <"$LOG"
expect_eq "head-100MiB-length" "$len" "$((100 * 1024 * 1024))"
# Either S3's multipart form (md5 of the part md5s, "-13") or the whole object's MD5: clients
# treat a plain 32-hex ETag as the content MD5, so anything else reads as corruption to them.
want_mp="$(s3_multipart_etag "$WORK/big.bin" $((8 * 1024 * 1024)))"
want_md5="\"$(md5sum "$WORK/big.bin" | cut -d' ' -f1)\""
if [ "$etag" == "$want_mp" ]; then pass "multipart-etag-is-s3-multipart-form"
elif [ "$etag" == "$want_md5" ]; then pass "multipart-etag-is-content-md5"
else fail "multipart-etag" "ETag $etag is neither $want_mp nor $want_md5"; fi
check "cp-100MiB-down" s3 cp --only-show-errors "$URI/big.bin" "$WORK/big.out"
check "cmp-100MiB" cmp "$WORK/big.bin" "$WORK/big.out"
rm -f "$WORK/big.bin" "$WORK/big.out"

# --- sync a tree twice; the second must upload nothing
make_tree "$WORK/tree"
check "sync-tree-1" s3 sync --no-progress "$WORK/tree" "$URI/tree"
n="$(grep -c '^upload:' "$LOG" || true)"
expect_eq "sync-tree-1-uploads-all" "$n" "$(find "$WORK/tree" -type f | wc -l)"
check "sync-tree-2" s3 sync --no-progress "$WORK/tree" "$URI/tree"
[ ! -s "$LOG" ] && pass "sync-tree-2-uploads-nothing" || fail "sync-tree-2-uploads-nothing" "second sync printed output"
check "ls-recursive-tree" s3 ls --recursive "$URI/tree/"
got="$(awk '{ $1=$2=""; sub(/^  /, ""); print }' "$LOG" | awk '{ s=$1; $1=""; sub(/^ /, ""); print $0, s }' \
    | sed "s|^$P/tree/||" | LC_ALL=C sort)"
expect_eq "ls-recursive-tree-matches" "$got" "$(tree_listing "$WORK/tree")"
check "cp-recursive-down" s3 cp --recursive --no-progress "$URI/tree" "$WORK/tree.out"
check "diff-tree" diff -r "$WORK/tree" "$WORK/tree.out"

# --- list-object-versions (an unversioned bucket lists each key once, VersionId null allowed)
check "list-object-versions" s3api list-object-versions --bucket "$BUCKET" --prefix "$P/tree/" \
    --query 'Versions[].[Key,VersionId,IsLatest]' --output text
n="$(grep -c "^$P/tree/" "$LOG" || true)"
expect_eq "list-object-versions-count" "$n" "$(find "$WORK/tree" -type f | wc -l)"

# --- rm --recursive
check "rm-recursive" s3 rm --recursive --only-show-errors "$URI/tree/"
check "ls-after-rm" s3api list-objects-v2 --bucket "$BUCKET" --prefix "$P/tree/" --query 'length(Contents || `[]`)' --output text
expect_eq "ls-after-rm-empty" "$(tail -n1 "$LOG")" "0"

# --- awkward key names: each with distinct content; listed exactly, downloaded byte-identical
nfc="$(printf 'caf\xc3\xa9.txt')"   # é as one code point (U+00E9)
nfd="$(printf 'cafe\xcc\x81.txt')"  # e + combining acute (U+0065 U+0301)
names=("with space.txt" "ünïcödé-日本語.txt" "$nfc" "$nfd" '&+-é".txt' 'per%cent%20.txt' "it's.txt" 'hash#tag.txt' "dir with space/nested file.txt")
labels=("space" "unicode" "nfc-e-acute" "nfd-e-combining" '&+-é"' "percent" "quote" "hash" "nested-space")
i=0
for name in "${names[@]}"; do
    i=$((i + 1))
    printf 'content %d of %s\n' "$i" "$name" >"$WORK/k$i"
    check "key-put[${labels[i-1]}]" s3 cp "$WORK/k$i" "$URI/keys/$name"
done
check "key-list" s3api list-objects-v2 --bucket "$BUCKET" --prefix "$P/keys/" --query 'Contents[].Key' --output json
got="$(python3 -c 'import json,sys; print("\n".join(sorted(json.load(open(sys.argv[1])))))' "$LOG")"
want="$(for n in "${names[@]}"; do echo "$P/keys/$n"; done | python3 -c 'import sys; print("\n".join(sorted(sys.stdin.read().splitlines())))')"
[ "$got" == "$want" ] && pass "key-list-exact" || { echo "got:"; echo "$got"; echo "want:"; echo "$want"; fail "key-list-exact" "listed keys differ (NFC/NFD kept distinct?)"; }
i=0
for name in "${names[@]}"; do
    i=$((i + 1))
    check "key-get[${labels[i-1]}]" s3 cp "$URI/keys/$name" "$WORK/k$i.out"
    check "key-cmp[${labels[i-1]}]" cmp "$WORK/k$i" "$WORK/k$i.out"
done

# --- sync of a tree with empty files. botocore sends `Expect: 100-continue` with every PUT; an
# empty one answered without `100 Continue` left botocore's pooled connection out of step, and
# the next PUT waited 30 s for an answer and reported no ETag (botocore issue 3755).
mkdir -p "$WORK/empties/sub"
for i in $(seq 1 30); do : >"$WORK/empties/$( [ $((i % 3)) = 0 ] && echo sub/ )empty-$i.txt"; done
for i in 1 2 3 4 5; do rand_file "$WORK/empties/data-$i.bin" $((1000 * i)); done
t0="$(date +%s%N)"
check "sync-empty-files" s3 sync --no-progress --debug "$WORK/empties" "$URI/empties"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
seen="$(grep -c '100 Continue response seen' "$LOG" || true)"
without="$(grep -c 'Received a non 100 Continue response' "$LOG" || true)"
echo "sync of 35 files (30 empty): ${ms} ms; PUTs answered 100 Continue: $seen, answered without: $without"
expect_eq "sync-empty-files-100-continue" "$without" "0"
[ "$ms" -le 20000 ] && pass "sync-empty-files-under-20s" || fail "sync-empty-files-under-20s" "took ${ms} ms (a stalled PUT waits 30 s)"
missing=""
while IFS= read -r f; do
    rel="${f#"$WORK/empties/"}"
    want="\"$(md5sum "$f" | cut -d' ' -f1)\""
    if ! run s3api head-object --bucket "$BUCKET" --key "$P/empties/$rel" --query ETag --output text \
        || [ "$(tail -n1 "$LOG")" != "$want" ]; then
        missing="$missing $rel"
    fi
done < <(find "$WORK/empties" -type f | LC_ALL=C sort)
[ -z "$missing" ] && pass "sync-empty-files-etags" || fail "sync-empty-files-etags" "no or wrong ETag for:$missing"

# --- 0-byte object
: >"$WORK/zero"
check "zero-put" s3 cp "$WORK/zero" "$URI/zero"
check "zero-head" s3api head-object --bucket "$BUCKET" --key "$P/zero" --query ContentLength --output text
expect_eq "zero-head-length" "$(tail -n1 "$LOG")" "0"
check "zero-get" s3 cp "$URI/zero" "$WORK/zero.out"
expect_eq "zero-get-size" "$(stat -c %s "$WORK/zero.out")" "0"

check "rm-all" s3 rm --recursive --only-show-errors "$URI/"
finish
