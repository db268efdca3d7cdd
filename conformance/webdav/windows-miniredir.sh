#!/usr/bin/env bash
# Replays the request sequence of the Windows WebDAV redirector (Explorer, "Map network drive";
# User-Agent Microsoft-WebDAV-MiniRedir/10.0.19045) with curl, from its documented behaviour:
# OPTIONS on the server root, PROPFIND Depth 0 then 1, creating a file (LOCK on the unmapped
# URL -> 201 with a lock token, 0-byte PUT with the If: token, the content PUT, PROPPATCH of the
# Win32* properties in urn:schemas-microsoft-com:, UNLOCK), rename (MOVE, Overwrite: F),
# save-over (PUT onto the existing file: a new version, new ETag) and delete. The create must
# leave exactly one version upstream, checked over S3 ListObjectVersions (SKIP when S3_ENDPOINT
# is not set, e.g. against a peer).
# Env: WEBDAV_URL (a collection the scripts may write under) WEBDAV_USER WEBDAV_PASS;
# optional S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET (the same collection).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env WEBDAV_URL WEBDAV_USER WEBDAV_PASS
require_cmd curl grep sed

UA="Microsoft-WebDAV-MiniRedir/10.0.19045"
base="${WEBDAV_URL%/}/"
root="$(echo "$base" | sed -E 's|^([a-z]+://[^/]+)/.*|\1/|')"
T="conformance-miniredir-$RUN_ID"
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
# status_in NAME GOT WANTED...: PASS when GOT is one of WANTED.
status_in() {
    local name="$1" got="$2"; shift 2
    local w
    for w in "$@"; do [ "$got" = "$w" ] && { pass "$name"; return 0; }; done
    fail "$name" "status $got, want one of: $*"
}
etag_of() { req HEAD "$1" --head >/dev/null; header ETag; }
# s3_versions KEY: how many versions of KEY ListObjectVersions reports (AWS CLI).
s3_versions() {
    aws --endpoint-url "$S3_ENDPOINT" s3api list-object-versions --bucket "$BUCKET" --prefix "$1" \
        --query "length(Versions[?Key=='$1'])" --output text 2>>"$LOG"
}
on_exit "curl -s -X DELETE -u '$WEBDAV_USER:$WEBDAV_PASS' '$U'"
: >"$LOG"

st="$(req OPTIONS "$root")"
status_in "miniredir options on the server root" "$st" 200
dav="$(header DAV)"
if [[ "$dav" == *2* ]] && [ "$(header MS-Author-Via)" = "DAV" ]; then pass "miniredir options advertise DAV 1,2 and MS-Author-Via"
else fail "miniredir options advertise DAV 1,2 and MS-Author-Via" "DAV: '$dav', MS-Author-Via: '$(header MS-Author-Via)'"; fi

st="$(req MKCOL "$U")"
status_in "miniredir new folder (MKCOL)" "$st" 201

propfind_body='<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:prop><D:creationdate/><D:displayname/><D:getcontentlength/><D:getcontenttype/><D:getetag/><D:getlastmodified/><D:resourcetype/><D:iscollection/><D:isFolder/><D:ishidden/><D:isreadonly/><D:Win32FileAttributes xmlns:D="urn:schemas-microsoft-com:"/></D:prop></D:propfind>'
st="$(req PROPFIND "$U" -H "Depth: 0" -H "Content-Type: text/xml" --data-binary "$propfind_body")"
status_in "miniredir PROPFIND depth 0" "$st" 207
st="$(req PROPFIND "$U" -H "Depth: 1" -H "Content-Type: text/xml" --data-binary "$propfind_body")"
status_in "miniredir PROPFIND depth 1" "$st" 207
if grep -Eq "<D:collection(/>|></D:collection>)" "$BODY"; then pass "miniredir folder is a collection"; else fail "miniredir folder is a collection"; fi
st="$(req PROPFIND "$U" -H "Depth: 0" -H "Content-Type: text/xml" --data-binary "$propfind_body")"
if grep -q "1970" "$BODY"; then fail "miniredir folder date is not 1970" "$(grep -o '<D:getlastmodified>[^<]*' "$BODY")"
else pass "miniredir folder date is not 1970"; fi
# Free space (GetDiskFreeSpaceEx on the mapped drive): RFC 4331 properties of the share.
quota_body='<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>'
if [ "$(req PROPFIND "${base}.scaidrive-versions/" -H "Depth: 0")" = 207 ]; then
    st="$(req PROPFIND "$base" -H "Depth: 0" -H "Content-Type: text/xml" --data-binary "$quota_body")"
    status_in "miniredir quota PROPFIND" "$st" 207
    if grep -q "<D:quota-used-bytes>[0-9]*</D:quota-used-bytes>" "$BODY"; then pass "miniredir quota-used-bytes"
    else fail "miniredir quota-used-bytes" "$(tr -d '\n' <"$BODY" | head -c 300)"; fi
else
    skip "miniredir quota" "not the gateway (no .scaidrive-versions view)"
fi

F="${U}New Text Document.txt"
F="${F// /%20}"
st="$(req PROPFIND "$F" -H "Depth: 0" --data-binary "$propfind_body")"
status_in "miniredir PROPFIND of the new name -> 404" "$st" 404

lockinfo='<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>WIN10\tester</D:href></D:owner></D:lockinfo>'
st="$(req LOCK "$F" -H "Depth: 0" -H "Timeout: Second-3600" -H "Content-Type: text/xml" --data-binary "$lockinfo")"
status_in "miniredir LOCK of an unmapped URL -> 201" "$st" 201
token="$(header Lock-Token)"
if [[ "$token" == "<"*">" ]]; then pass "miniredir LOCK answers a Lock-Token"; else fail "miniredir LOCK answers a Lock-Token" "'$token'"; fi
if grep -q "<D:locktoken>" "$BODY"; then pass "miniredir LOCK body has lockdiscovery"; else fail "miniredir LOCK body has lockdiscovery"; fi

st="$(req PUT "$F" -H "If: ($token)" -H "Content-Length: 0" --data-binary "")"
status_in "miniredir 0-byte PUT with the lock token" "$st" 200 201 204
st="$(req PUT "$F" -H "Content-Length: 0" --data-binary "")"
status_in "miniredir PUT without the token -> 423" "$st" 423
printf 'Hello from Windows Explorer\r\n' >"$WORK/content.txt"
st="$(req PUT "$F" -H "If: ($token)" --data-binary @"$WORK/content.txt")"
status_in "miniredir content PUT with the lock token" "$st" 200 201 204

patch='<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32CreationTime>Mon, 20 Nov 2023 10:00:00 GMT</Z:Win32CreationTime><Z:Win32LastAccessTime>Mon, 20 Nov 2023 10:00:01 GMT</Z:Win32LastAccessTime><Z:Win32LastModifiedTime>Mon, 20 Nov 2023 10:00:02 GMT</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>'
st="$(req PROPPATCH "$F" -H "If: ($token)" -H "Content-Type: text/xml; charset=\"utf-8\"" --data-binary "$patch")"
status_in "miniredir PROPPATCH Win32* properties" "$st" 207
n_ok="$(grep -o "HTTP/1.1 200" "$BODY" | wc -l)"
if [ "$n_ok" -ge 1 ] && ! grep -Eq "HTTP/1.1 (4|5)[0-9][0-9]" "$BODY"; then pass "miniredir PROPPATCH every property 200"
else fail "miniredir PROPPATCH every property 200" "$(tr -d '\n' <"$BODY" | head -c 400)"; fi

st="$(req UNLOCK "$F" -H "Lock-Token: $token")"
status_in "miniredir UNLOCK" "$st" 204

st="$(req GET "$F")"
status_in "miniredir GET after create" "$st" 200
if cmp -s "$BODY" "$WORK/content.txt"; then pass "miniredir content round trip"; else fail "miniredir content round trip"; fi
st="$(req PROPFIND "$F" -H "Depth: 0" --data-binary "$propfind_body")"
if [ "$st" = 207 ] && grep -q "Mon, 20 Nov 2023 10:00:02 GMT" "$BODY"; then pass "miniredir Win32LastModifiedTime becomes getlastmodified"
else fail "miniredir Win32LastModifiedTime becomes getlastmodified" "status $st"; fi

key="$T/New Text Document.txt"
if [ -n "${S3_ENDPOINT:-}" ] && [ -n "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "${BUCKET:-}" ] && command -v aws >/dev/null; then
    # The key in the XML is not encoded; query with the encoded prefix, count the plain key.
    n="$(s3_versions "$key")"
    expect_eq "miniredir create (empty PUT then content) leaves one version" "$n" 1
else
    skip "miniredir create (empty PUT then content) leaves one version" "S3_ENDPOINT or aws not available"
fi

R="${U}Renamed.txt"
st="$(req MOVE "$F" -H "Destination: $R" -H "Overwrite: F")"
status_in "miniredir rename (MOVE, Overwrite: F)" "$st" 201
st="$(req PROPFIND "$F" -H "Depth: 0")"
status_in "miniredir old name gone after rename" "$st" 404
printf 'other\r\n' >"$WORK/other.txt"
req PUT "${U}Other.txt" --data-binary @"$WORK/other.txt" >/dev/null
st="$(req MOVE "${U}Other.txt" -H "Destination: $R" -H "Overwrite: F")"
status_in "miniredir rename onto an existing name with Overwrite: F -> 412" "$st" 412

old_etag="$(etag_of "$R")"
printf 'Saved again by Notepad\r\nwith a second line\r\n' >"$WORK/v2.txt"
st="$(req PUT "$R" --data-binary @"$WORK/v2.txt")"
status_in "miniredir save-over (PUT onto the existing file)" "$st" 200 204
new_etag="$(etag_of "$R")"
if [ -n "$old_etag" ] && [ -n "$new_etag" ] && [ "$old_etag" != "$new_etag" ]; then pass "miniredir save-over changes the ETag"
else fail "miniredir save-over changes the ETag" "'$old_etag' -> '$new_etag'"; fi
req GET "$R" >/dev/null
if cmp -s "$BODY" "$WORK/v2.txt"; then pass "miniredir save-over content"; else fail "miniredir save-over content"; fi
if [ -n "${S3_ENDPOINT:-}" ] && [ -n "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "${BUCKET:-}" ] && command -v aws >/dev/null; then
    n="$(s3_versions "$T/Renamed.txt")"
    expect_eq "miniredir save-over is a second version" "$n" 2
else
    skip "miniredir save-over is a second version" "S3_ENDPOINT or aws not available"
fi

st="$(req DELETE "$R")"
status_in "miniredir delete" "$st" 204
st="$(req PROPFIND "$R" -H "Depth: 0")"
status_in "miniredir deleted file is gone" "$st" 404
st="$(req DELETE "$U")"
status_in "miniredir delete folder" "$st" 204
finish
