#!/usr/bin/env bash
# Replays the request sequence of the macOS Finder WebDAV client (WebDAVFS, User-Agent
# "WebDAVFS/3.0.0 (03008000) Darwin/22.1.0 (x86_64)") with curl, from its documented behaviour:
# OPTIONS, PROPFIND Depth 0/1, the AppleDouble probes (PROPFIND of ._name -> 404, PUT of ._name
# accepted but not stored), .DS_Store likewise, a file written with LOCK, a chunked PUT carrying
# X-Expected-Entity-Length, UNLOCK, and a rename with MOVE. Junk files must not show in listings
# nor over S3 (SKIP of the S3 check when S3_ENDPOINT is not set, e.g. against a peer).
# Env: WEBDAV_URL (a collection the scripts may write under) WEBDAV_USER WEBDAV_PASS;
# optional S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET (the same collection).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env WEBDAV_URL WEBDAV_USER WEBDAV_PASS
require_cmd curl grep sed cmp

UA="WebDAVFS/3.0.0 (03008000) Darwin/22.1.0 (x86_64)"
base="${WEBDAV_URL%/}/"
T="conformance-finder-$RUN_ID"
U="$base$T/"
HDR="$WORK/headers"; BODY="$WORK/body"

# req METHOD URL [curl args...]: prints the status; headers in $HDR, body in $BODY, trace in $LOG.
req() {
    local m="$1" url="$2"; shift 2
    # An empty -H "Content-Type:" first drops the form type curl gives --data-binary (these
    # clients send none); a later -H "Content-Type: ..." in the arguments still wins.
    curl -sS -X "$m" -A "$UA" -u "$WEBDAV_USER:$WEBDAV_PASS" -D "$HDR" -o "$BODY" -H "Content-Type:" \
        -w '%{http_code}' "$@" "$url" 2>>"$LOG" || echo "curl-failed"
    { echo "> $m $url"; cat "$HDR" "$BODY" 2>/dev/null; echo; } >>"$LOG"
}
header() { sed -nE "s/^$1:[[:space:]]*(.*)\r?$/\1/Ip" "$HDR" | tr -d '\r' | sed -n 1p; }
status_in() {
    local name="$1" got="$2"; shift 2
    local w
    for w in "$@"; do [ "$got" = "$w" ] && { pass "$name"; return 0; }; done
    fail "$name" "status $got, want one of: $*"
}
s3_list() { # PREFIX: the keys under PREFIX over S3 ListObjectsV2 (AWS CLI), one a line
    aws --endpoint-url "$S3_ENDPOINT" s3api list-objects-v2 --bucket "$BUCKET" --prefix "$1" \
        --query "Contents[].Key" --output text 2>>"$LOG" | tr '	' '
' | sed '/^None$/d'
}
on_exit "curl -s -X DELETE -u '$WEBDAV_USER:$WEBDAV_PASS' '$U'"
: >"$LOG"

pf='<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getlastmodified/><D:getcontentlength/><D:creationdate/><D:resourcetype/></D:prop></D:propfind>'
st="$(req OPTIONS "$base")"
status_in "finder OPTIONS" "$st" 200
if [[ "$(header DAV)" == *2* ]]; then pass "finder OPTIONS advertise class 2 (locking)"; else fail "finder OPTIONS advertise class 2 (locking)" "DAV: '$(header DAV)'"; fi
st="$(req PROPFIND "$base" -H "Depth: 0" -H "Content-Type: text/xml" --data-binary "$pf")"
status_in "finder PROPFIND depth 0 (mount)" "$st" 207
st="$(req MKCOL "$U")"
status_in "finder new folder (MKCOL)" "$st" 201
st="$(req PROPFIND "$U" -H "Depth: 1" -H "Content-Type: text/xml" --data-binary "$pf")"
status_in "finder PROPFIND depth 1" "$st" 207

name="report.txt"
F="$U$name"; AD="$U._$name"; DS="$U.DS_Store"
st="$(req PROPFIND "$AD" -H "Depth: 0" --data-binary "$pf")"
status_in "finder PROPFIND of ._$name -> 404" "$st" 404
st="$(req PROPFIND "$DS" -H "Depth: 0" --data-binary "$pf")"
status_in "finder PROPFIND of .DS_Store -> 404" "$st" 404
st="$(req PROPFIND "$F" -H "Depth: 0" --data-binary "$pf")"
status_in "finder PROPFIND of the new name -> 404" "$st" 404

# Finder creates the file empty, locks it, writes it chunked, unlocks.
st="$(req PUT "$F" -H "Content-Length: 0" --data-binary "")"
status_in "finder 0-byte create" "$st" 201 200 204
lockinfo='<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>http://www.apple.com/webdav_fs/</D:href></D:owner></D:lockinfo>'
st="$(req LOCK "$F" -H "Depth: 0" -H "Timeout: Second-600" -H "Content-Type: text/xml; charset=\"utf-8\"" --data-binary "$lockinfo")"
status_in "finder LOCK" "$st" 200 201
token="$(header Lock-Token)"
if [[ "$token" == "<"*">" ]]; then pass "finder LOCK answers a Lock-Token"; else fail "finder LOCK answers a Lock-Token" "'$token'"; fi
rand_file "$WORK/content.bin" 200000
st="$(req PUT "$F" -H "If: <$F> ($token)" -H "Transfer-Encoding: chunked" -H "X-Expected-Entity-Length: 200000" \
    -H "Content-Type: application/octet-stream" -T "$WORK/content.bin")"
status_in "finder chunked PUT with X-Expected-Entity-Length" "$st" 200 201 204
rand_file "$WORK/toolong.bin" 300000
st="$(req PUT "$F" -H "If: <$F> ($token)" -H "Transfer-Encoding: chunked" -H "X-Expected-Entity-Length: 1000" -T "$WORK/toolong.bin")"
if [ "$st" != 200 ] && [ "$st" != 201 ] && [ "$st" != 204 ]; then pass "finder chunked PUT longer than announced is refused"
else fail "finder chunked PUT longer than announced is refused" "status $st"; fi
st="$(req UNLOCK "$F" -H "Lock-Token: $token")"
status_in "finder UNLOCK" "$st" 204
st="$(req GET "$F")"
status_in "finder GET" "$st" 200
if cmp -s "$BODY" "$WORK/content.bin"; then pass "finder content round trip"; else fail "finder content round trip"; fi

# AppleDouble and .DS_Store: accepted, never stored.
head -c 4096 /dev/urandom >"$WORK/appledouble"
st="$(req PUT "$AD" --data-binary @"$WORK/appledouble")"
status_in "finder PUT of ._$name accepted" "$st" 200 201 204
st="$(req PUT "$DS" -H "Transfer-Encoding: chunked" -H "X-Expected-Entity-Length: 4096" -T "$WORK/appledouble")"
status_in "finder PUT of .DS_Store accepted" "$st" 200 201 204
st="$(req PROPFIND "$AD" -H "Depth: 0" --data-binary "$pf")"
status_in "finder ._$name still 404 after PUT" "$st" 404
st="$(req GET "$DS")"
status_in "finder .DS_Store still 404 after PUT" "$st" 404
st="$(req PROPFIND "$U" -H "Depth: 1" -H "Content-Type: text/xml" --data-binary "$pf")"
if [ "$st" = 207 ] && grep -q "$T/$name</D:href>" "$BODY" && ! grep -q "\._$name\|\.DS_Store" "$BODY"; then
    pass "finder listing shows the file, not the junk"
else fail "finder listing shows the file, not the junk" "status $st"; fi
if [ -n "${S3_ENDPOINT:-}" ] && [ -n "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "${BUCKET:-}" ] && command -v aws >/dev/null; then
    keys="$(s3_list "$T/" | tr '\n' ' ')"
    expect_eq "finder S3 listing has only the real file" "$keys" "$T/$name "
else
    skip "finder S3 listing has only the real file" "S3_ENDPOINT or aws not available"
fi

# Rename: Finder MOVEs the file (and its AppleDouble companion, which is not there).
R="${U}final.txt"
st="$(req MOVE "$F" -H "Destination: $R" -H "Overwrite: F")"
status_in "finder rename (MOVE)" "$st" 201
st="$(req PROPFIND "$F" -H "Depth: 0" --data-binary "$pf")"
status_in "finder old name gone" "$st" 404
st="$(req GET "$R")"
if [ "$st" = 200 ] && cmp -s "$BODY" "$WORK/content.bin"; then pass "finder renamed content"; else fail "finder renamed content" "status $st"; fi
st="$(req MOVE "$AD" -H "Destination: ${U}._final.txt" -H "Overwrite: F")"
status_in "finder MOVE of the absent ._ companion -> 404" "$st" 404

st="$(req DELETE "$R")"
status_in "finder delete" "$st" 204
st="$(req DELETE "$U")"
status_in "finder delete folder" "$st" 204
finish
