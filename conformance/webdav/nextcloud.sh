#!/usr/bin/env bash
# Nextcloud chunked upload v2 through the gateway's /remote.php/dav/ paths.
# 1. rclone 1.75 (vendor=nextcloud, --webdav-nextcloud-chunk-size 8M) copies an NC_SIZE file
#    (CI lane: 96 MiB; NC_SIZE=1G for the documented manual run), is killed (kill -9) once a few
#    chunks are in, and runs again: the copy completes, the sha256 matches, and the upstream chunk
#    PUTs over both runs (admin /metrics) are exactly ceil(size / upstream chunk): nothing went up
#    twice. (rclone sends neither the length nor the target before MOVE and purges its upload
#    collection when it starts again, so its chunks wait on the gateway's disk until MOVE.)
# 2. curl replays the Nextcloud desktop client's sequence: MKCOL with Destination and
#    OC-Total-Length, chunks out of order (each goes upstream as it arrives), PROPFIND lists them,
#    a wrong OC-Total-Length at MOVE → 400 and nothing at the target, MOVE .file → 201.
# Env: WEBDAV_URL (…/<collection>/) WEBDAV_USER WEBDAV_PASS ADMIN_URL; optional NC_SIZE (bytes,
# or with M/G), UPSTREAM_CHUNK (the gateway's upstream.chunk_size_bytes, default 4194304),
# NC_RCLONE_TIMEOUT (seconds per rclone command, default 1800).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env WEBDAV_URL WEBDAV_USER WEBDAV_PASS ADMIN_URL
require_cmd rclone curl python3 sha256sum

base="${WEBDAV_URL%/}"
coll="${base##*/}"
root="${base%/*}"
grid="${UPSTREAM_CHUNK:-4194304}"
size_spec="${NC_SIZE:-96M}"
case "$size_spec" in
    *G) size=$(( ${size_spec%G} << 30 )) ;;
    *M) size=$(( ${size_spec%M} << 20 )) ;;
    *) size="$size_spec" ;;
esac
nc="$root/remote.php/dav/files/$WEBDAV_USER"
uploads="$root/remote.php/dav/uploads/$WEBDAV_USER"
dir="conformance-nextcloud-$RUN_ID"

export RCLONE_WEBDAV_USER="$WEBDAV_USER"
RCLONE_WEBDAV_PASS="$(rclone obscure "$WEBDAV_PASS")"
export RCLONE_WEBDAV_PASS
R=":webdav,url='$nc',vendor=nextcloud:"
rc() {
    timeout "${NC_RCLONE_TIMEOUT:-1800}" rclone --config /dev/null --retries 1 --low-level-retries 2 \
        --webdav-pacer-min-sleep 0 --webdav-nextcloud-chunk-size 8M "$@"
}
on_exit "timeout 120 rclone --config /dev/null purge \"$R$coll/$dir\""

# dav METHOD URL [curl args…]: the status code; the body lands in $WORK/body.
dav() {
    local m="$1" u="$2"; shift 2
    curl -s -o "$WORK/body" -w '%{http_code}' -u "$WEBDAV_USER:$WEBDAV_PASS" -X "$m" "$@" "$u"
}
# Upstream chunk PUTs so far.
chunk_puts() {
    curl -sf "$ADMIN_URL/metrics" | awk '/^scaidrive_gateway_upstream_requests_total\{/ && /method="PUT"/ && /chunks/ { n += $NF } END { printf "%d\n", n }'
}
# count_lengths: how many getcontentlength elements the last body has.
count_lengths() { { grep -o '<D:getcontentlength>' "$WORK/body" || true; } | wc -l; }
# chunks_of NAME-PREFIX: chunks received by the first upload collection whose name starts so.
chunks_of() {
    local code up
    code="$(dav PROPFIND "$uploads/" -H 'Depth: 1')" || { echo 0; return; }
    [ "$code" = 207 ] || { echo 0; return; }
    up="$(grep -o "<D:href>[^<]*/$1[^<]*/</D:href>" "$WORK/body" | head -n1 | sed -E 's#<D:href>(.*)</D:href>#\1#' || true)"
    [ -n "$up" ] || { echo 0; return; }
    code="$(dav PROPFIND "$root$up" -H 'Depth: 1')" || { echo 0; return; }
    count_lengths
}

# --- 1. rclone, killed midway and run again -------------------------------------------------
mkdir -p "$WORK/src"
rand_file "$WORK/src/big.bin" "$size"
want="$(sha256sum <"$WORK/src/big.bin" | cut -d' ' -f1)"
check "rclone-nextcloud-reachable" rc lsf --max-depth 1 "$R"
grep -qx "$coll/" "$LOG" && pass "rclone-nextcloud-lists-collections" || fail "rclone-nextcloud-lists-collections" "no $coll/ in the listing"
p0="$(chunk_puts)"
# The first run goes slowly (two requests a second), so it can be cut while its chunks arrive;
# rclone itself runs in the background (not under `timeout`), so kill -9 reaches it.
rclone --config /dev/null --retries 1 --low-level-retries 1 --webdav-pacer-min-sleep 0 \
    --webdav-nextcloud-chunk-size 8M --tpslimit 2 \
    copyto "$WORK/src/big.bin" "$R$coll/$dir/big.bin" >"$WORK/first.log" 2>&1 &
rpid=$!
seen=0
for _ in $(seq 1 600); do
    seen="$(chunks_of rclone-chunked-upload-)"
    [ "$seen" -ge 3 ] && break
    kill -0 "$rpid" 2>/dev/null || break
    sleep 0.05
done
if [ "$seen" -ge 3 ] && kill -9 "$rpid" 2>/dev/null; then
    echo "# rclone killed after $seen chunks"
    pass "rclone-killed-midway"
else
    LOG="$WORK/first.log"; fail "rclone-killed-midway" "rclone finished or never sent 3 chunks (saw $seen)"
fi
wait "$rpid" 2>/dev/null || true
p1="$(chunk_puts)"
expect_eq "rclone-nothing-upstream-before-move" "$((p1 - p0))" "0"
if run rc lsf "$R$coll/$dir/" && grep -qx 'big.bin' "$LOG"; then
    fail "rclone-nothing-at-target-after-kill" "big.bin is listed"
else
    pass "rclone-nothing-at-target-after-kill"
fi
start=$SECONDS
check "rclone-copy-again" rc copyto "$WORK/src/big.bin" "$R$coll/$dir/big.bin" -v
echo "# second run: $((SECONDS - start)) s for $size bytes"
grep -q 'Copied (new)' "$LOG" && pass "rclone-copied" || fail "rclone-copied" "no 'Copied (new)' in the log"
p2="$(chunk_puts)"
expect_eq "rclone-upstream-chunks-sent-once" "$((p2 - p0))" "$(( (size + grid - 1) / grid ))"
rc cat "$R$coll/$dir/big.bin" 2>"$LOG" | sha256sum | cut -d' ' -f1 >"$WORK/got.sha"
expect_eq "rclone-sha256" "$(cat "$WORK/got.sha")" "$want"
check "rclone-check" rc check "$WORK/src" "$R$coll/$dir"
expect_eq "rclone-upload-collection-gone" "$(chunks_of rclone-chunked-upload-)" "0"

# --- 2. curl replays the desktop client -----------------------------------------------------
csize=$((5 << 20))
total=$((3 * csize + (1 << 20) + 7))
rand_file "$WORK/desk.bin" "$total"
split -b "$csize" -d -a 5 "$WORK/desk.bin" "$WORK/part."
up="$uploads/desktop-$RUN_ID"
dest="$nc/$coll/$dir/desk.bin"
q0="$(chunk_puts)"
expect_eq "desktop-mkcol" "$(dav MKCOL "$up" -H "Destination: $dest" -H "OC-Total-Length: $total")" "201"
for n in 2 4 1; do
    part="$WORK/part.$(printf '%05d' $((n - 1)))"
    expect_eq "desktop-put-chunk-$n" "$(dav PUT "$up/$(printf '%05d' "$n")" --data-binary "@$part" \
        -H "Destination: $dest" -H "OC-Total-Length: $total")" "201"
done
expect_eq "desktop-propfind" "$(dav PROPFIND "$up/" -H 'Depth: 1')" "207"
expect_eq "desktop-propfind-lists-3-chunks" "$(count_lengths)" "3"
grep -q "desktop-$RUN_ID/00004</D:href>" "$WORK/body" && pass "desktop-propfind-names" || fail "desktop-propfind-names" "chunk 00004 not listed"
expect_eq "desktop-put-chunk-3" "$(dav PUT "$up/00003" --data-binary "@$WORK/part.00002" \
    -H "Destination: $dest" -H "OC-Total-Length: $total")" "201"
# Chunks 1-3 went up as they arrived (chunk 2 waited on disk until chunk 1 placed it).
q1="$(chunk_puts)"
echo "# $((q1 - q0)) upstream chunk PUTs before MOVE"
[ "$((q1 - q0))" -ge 3 ] && pass "desktop-chunks-upstream-before-move" \
    || fail "desktop-chunks-upstream-before-move" "$((q1 - q0)) upstream chunk PUTs"
expect_eq "desktop-move-wrong-total" "$(dav MOVE "$up/.file" -H "Destination: $dest" -H "OC-Total-Length: $((total + 1))")" "400"
expect_eq "desktop-nothing-at-target" "$(dav GET "$dest")" "404"
expect_eq "desktop-move" "$(dav MOVE "$up/.file" -H "Destination: $dest" -H "OC-Total-Length: $total" -D "$WORK/headers")" "201"
grep -qi '^oc-fileid:' "$WORK/headers" && grep -qi '^oc-etag:' "$WORK/headers" && pass "desktop-move-headers" || fail "desktop-move-headers" "no OC-FileId/OC-ETag"
expect_eq "desktop-get" "$(dav GET "$dest")" "200"
expect_eq "desktop-sha256" "$(sha256sum <"$WORK/body" | cut -d' ' -f1)" "$(sha256sum <"$WORK/desk.bin" | cut -d' ' -f1)"
# The session's chunk size is the largest power of two dividing the first chunk (5 MiB → 1 MiB).
dgrid="$(python3 -c "s, m = $csize, $grid; print(min(s & -s, m) if s % 65536 == 0 else m)")"
expect_eq "desktop-upstream-chunks-sent-once" "$(( $(chunk_puts) - q0 ))" "$(( (total + dgrid - 1) / dgrid ))"
finish
