#!/usr/bin/env bash
# Public objects as ScaiDrive external links, with aws cli and curl: `aws s3api put-object-acl
# --acl public-read` makes a link, an anonymous `curl` GET of the object URL answers 200 with
# the same bytes (HEAD too) while other objects and anonymous writes stay 403; revoking the link
# through ScaiDrive's API (curl to the embedded emulator) ends anonymous access within the
# gateway's cache TTL; `--acl private` revokes it at once; public-read-write is NotImplemented.
#
# Env: S3_ENDPOINT BUCKET GATEWAY_DATA_DIR SCAIDRIVE_API (the embedded emulator's URL; unset:
# the target is not this gateway and every check is skipped). A token of the gateway's user is
# written into the emulator's database, as ScaiKey would issue one, to call ScaiDrive's API.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env S3_ENDPOINT BUCKET
if [ -z "${GATEWAY_DATA_DIR:-}" ] || [ -z "${SCAIDRIVE_API:-}" ]; then
    skip "public" "not a scaidrive-gateway with an embedded emulator"
    exit 0
fi
require_cmd aws curl python3

EMU_DB="$GATEWAY_DATA_DIR/emulator/scaidrive.db"
P="conformance-public-$RUN_ID"
URL="$S3_ENDPOINT/$BUCKET/$P/photo.bin"

emu() {
    python3 - "$EMU_DB" "$@" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
rows = db.execute(sys.argv[2], sys.argv[3:]).fetchall()
db.commit()
for r in rows:
    print(r[0])
PY
}
USER_ID="$(emu "SELECT id FROM users ORDER BY rowid LIMIT 1")"
TOKEN="sdpub_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
emu "INSERT INTO tokens (token, user_id, scopes, expires_at) VALUES (?, ?, NULL, NULL)" "$TOKEN" "$USER_ID"
on_exit "python3 -c 'import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); d.execute(\"DELETE FROM tokens WHERE token = ?\", (sys.argv[2],)); d.commit()' '$EMU_DB' '$TOKEN'"
on_exit "aws --endpoint-url '$S3_ENDPOINT' s3 rm --recursive --quiet 's3://$BUCKET/$P/'"

s3api() { aws --endpoint-url "$S3_ENDPOINT" s3api "$@"; }
# status METHOD URL: the HTTP status of an unsigned request (body to $WORK/anon.out).
status() { curl -s -o "$WORK/anon.out" -w '%{http_code}' -X "$1" "$2"; }
# expect_status NAME WANT METHOD URL
expect_status() {
    local got; got="$(status "$3" "$4")"
    if [ "$got" = "$2" ]; then pass "$1"; else fail "$1" "HTTP $got, expected $2"; fi
}
# active_link: the id of the gateway-made active link named after this run's object.
active_link() {
    curl -fsS -H "Authorization: Bearer $TOKEN" "$SCAIDRIVE_API/api/v1/external/links?status=active" |
        python3 -c 'import json,sys
want = sys.argv[1]
for l in json.load(sys.stdin)["links"]:
    if l.get("status") == "active" and want in (l.get("custom_name") or ""):
        print(l["id"])' "$P/photo.bin"
}
# wait_status NAME WANT URL SECS: polls an anonymous GET until it answers WANT.
wait_status() {
    local deadline=$((SECONDS + $4)) got
    while :; do
        got="$(status GET "$3")"
        [ "$got" = "$2" ] && { pass "$1"; return; }
        [ "$SECONDS" -lt "$deadline" ] || { fail "$1" "still HTTP $got after $4 s"; return; }
        sleep 0.2
    done
}

rand_file "$WORK/photo.bin" 300000
check "upload" aws --endpoint-url "$S3_ENDPOINT" s3 cp --quiet "$WORK/photo.bin" "s3://$BUCKET/$P/photo.bin"
check "upload-other" aws --endpoint-url "$S3_ENDPOINT" s3 cp --quiet "$WORK/photo.bin" "s3://$BUCKET/$P/private.bin"
expect_status "private-anonymous-get-403" 403 GET "$URL"

check "put-object-acl-public-read" s3api put-object-acl --bucket "$BUCKET" --key "$P/photo.bin" --acl public-read
check "get-object-acl" s3api get-object-acl --bucket "$BUCKET" --key "$P/photo.bin"
grep -q 'http://acs.amazonaws.com/groups/global/AllUsers' "$LOG" && pass "acl-shows-AllUsers" || fail "acl-shows-AllUsers"
LINK="$(active_link)"
[ -n "$LINK" ] && pass "scaidrive-has-the-link" || fail "scaidrive-has-the-link" "no active link in ScaiDrive"

expect_status "anonymous-get-200" 200 GET "$URL"
cmp -s "$WORK/anon.out" "$WORK/photo.bin" && pass "anonymous-get-byte-identical" || fail "anonymous-get-byte-identical"
got="$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -I "$URL")"
[ "$got" = "200 0" ] && pass "anonymous-head-200" || fail "anonymous-head-200" "$got"
expect_status "anonymous-other-object-403" 403 GET "$S3_ENDPOINT/$BUCKET/$P/private.bin"
expect_status "anonymous-list-403" 403 GET "$S3_ENDPOINT/$BUCKET?list-type=2"
expect_status "anonymous-put-403" 403 PUT "$URL"
expect_status "anonymous-delete-403" 403 DELETE "$URL"

# Revoked in ScaiDrive (as its web UI would): no longer served, within the cache TTL (5 s).
code="$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOKEN" \
    "$SCAIDRIVE_API/api/v1/external/links/$LINK")"
[ "$code" = 204 ] && pass "revoke-through-scaidrive-api" || fail "revoke-through-scaidrive-api" "HTTP $code"
wait_status "revoked-anonymous-get-403" 403 "$URL" 15
check "get-object-acl-after-revocation" s3api get-object-acl --bucket "$BUCKET" --key "$P/photo.bin"
grep -q 'AllUsers' "$LOG" && fail "acl-after-revocation-private" "still shows AllUsers" || pass "acl-after-revocation-private"

# Public again, then private through S3: revoked at once.
check "put-object-acl-public-read-again" s3api put-object-acl --bucket "$BUCKET" --key "$P/photo.bin" --acl public-read
expect_status "anonymous-get-200-again" 200 GET "$URL"
check "put-object-acl-private" s3api put-object-acl --bucket "$BUCKET" --key "$P/photo.bin" --acl private
expect_status "private-again-anonymous-get-403" 403 GET "$URL"
[ -z "$(active_link)" ] && pass "private-revoked-the-link" || fail "private-revoked-the-link" "an active link remains"

# Anonymous writes are never granted.
if run s3api put-object-acl --bucket "$BUCKET" --key "$P/photo.bin" --acl public-read-write; then
    fail "public-read-write-refused" "accepted"
else grep -q NotImplemented "$LOG" && pass "public-read-write-refused" || fail "public-read-write-refused" "not NotImplemented"; fi

finish
