#!/usr/bin/env bash
# rclone 1.75 (webdav backend, vendors `other` and `owncloud`) against a WebDAV endpoint: copy a
# tree, sync twice (the second transfers nothing), check (sizes, then --download for content),
# lsf, cat, purge. Where the server has the gateway's versions view (WEBDAV_URL is a share): lsf of
# a file's versions, copyto of an old one, and a whole-share sync that never copies the view.
# Env: WEBDAV_URL (a collection the scripts may write under) WEBDAV_USER WEBDAV_PASS
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env WEBDAV_URL WEBDAV_USER WEBDAV_PASS
require_cmd rclone cmp python3

base="${WEBDAV_URL%/}"
# Credentials go through the environment (backend defaults), so no command line or log shows them.
export RCLONE_WEBDAV_USER="$WEBDAV_USER"
RCLONE_WEBDAV_PASS="$(rclone obscure "$WEBDAV_PASS")"
export RCLONE_WEBDAV_PASS
# rclone's pacer keeps retrying 5xx answers for minutes: bound every command.
rc() {
    timeout "${RCLONE_TIMEOUT:-600}" rclone --config /dev/null --retries 1 --low-level-retries 2 \
        --webdav-pacer-min-sleep 0 "$@"
}

# copies_of: how many files the last command (run with --use-json-log -v) copied.
copies_of() {
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
V=(--use-json-log -v)

make_tree "$WORK/tree"
nfiles="$(find "$WORK/tree" -type f | wc -l)"
check "reachable-lsf" timeout 90 rclone --config /dev/null --retries 1 --low-level-retries 1 lsf --max-depth 1 ":webdav,url='$base',vendor=other:"

for vendor in other owncloud; do
    R=":webdav,url='$base',vendor=$vendor:conformance-rclone-$vendor-$RUN_ID"
    on_exit "timeout 60 rclone --config /dev/null purge \"$R\""
    t="$WORK/tree-$vendor"
    cp -a "$WORK/tree" "$t"
    check "$vendor-copy-tree" rc copy "$t" "$R/tree" "${V[@]}"
    expect_eq "$vendor-copy-tree-transfers-all" "$(copies_of)" "$nfiles"
    rand_file "$t/added-later.bin" 2048
    check "$vendor-sync-1" rc sync "$t" "$R/tree" "${V[@]}"
    expect_eq "$vendor-sync-1-transfers-only-new" "$(copies_of)" "1"
    check "$vendor-sync-2" rc sync "$t" "$R/tree" "${V[@]}"
    expect_eq "$vendor-sync-2-transfers-nothing" "$(copies_of)" "0"
    if grep -q 'Updated modification time' "$LOG"; then
        fail "$vendor-sync-2-mtimes-kept" "rclone had to set mtimes again"
    else
        pass "$vendor-sync-2-mtimes-kept"
    fi
    check "$vendor-check" rc check "$t" "$R/tree"
    grep -q ' 0 differences found' "$LOG" && pass "$vendor-check-0-differences" || fail "$vendor-check-0-differences" "differences found"
    if grep -q 'No common hash found' "$LOG"; then echo "# $vendor: no common hash, check compared sizes only"; fi
    check "$vendor-check-download" rc check --download "$t" "$R/tree"
    check "$vendor-lsf" rc lsf -R --files-only --format ps --separator ' ' "$R/tree"
    expect_eq "$vendor-lsf-matches-tree" "$(LC_ALL=C sort "$LOG")" "$(tree_listing "$t")"
    rc cat "$R/tree/sub/deeper/d.bin" >"$WORK/d.out" 2>"$LOG" && pass "$vendor-cat" || fail "$vendor-cat"
    check "$vendor-cat-cmp" cmp "$t/sub/deeper/d.bin" "$WORK/d.out"
    check "$vendor-moveto" rc moveto "$R/tree/b.txt" "$R/tree/sub/b-moved.txt"
    check "$vendor-lsf-after-move" rc lsf -R --files-only "$R/tree"
    grep -qx 'sub/b-moved.txt' "$LOG" && ! grep -qx 'b.txt' "$LOG" && pass "$vendor-move-visible" || fail "$vendor-move-visible" "listing after move is wrong"
    check "$vendor-purge" rc purge "$R"
    if run rc lsf "$R" && [ -s "$LOG" ]; then fail "$vendor-gone-after-purge" "still listed"; else pass "$vendor-gone-after-purge"; fi
done

# Versions view: browsed like any folder by path, never part of a listing or a sync of the share.
R=":webdav,url='$base',vendor=other:"
H="conformance-rclone-history-$RUN_ID"
on_exit "timeout 60 rclone --config /dev/null purge \"$R$H\""
if run rc lsf "$R.scaidrive-versions/"; then
    printf 'first\n' >"$WORK/h1"; printf 'second, longer\n' >"$WORK/h2"
    check "history-put-1" rc copyto "$WORK/h1" "$R$H/h.txt"
    check "history-put-2" rc copyto "$WORK/h2" "$R$H/h.txt"
    check "history-lsf" rc lsf --format ps --separator ' ' "$R.scaidrive-versions/$H/h.txt/"
    expect_eq "history-two-versions" "$(grep -c '^v[0-9]* .*Z\.txt [0-9]*$' "$LOG")" "2"
    v1="$(grep '^v1 ' "$LOG" | sed -E 's/ [0-9]+$//')"
    check "history-copyto-v1" rc copyto "$R.scaidrive-versions/$H/h.txt/$v1" "$WORK/v1.out"
    check "history-v1-content" cmp "$WORK/h1" "$WORK/v1.out"
    check "history-share-listing" rc lsf --max-depth 1 "$R"
    grep -q 'scaidrive-versions\|scaidrive-trash' "$LOG" && fail "history-hidden" "listed in the share" || pass "history-hidden"
else
    skip "rclone-history" "no .scaidrive-versions view at $base"
fi
finish
