#!/usr/bin/env bash
# STS and self-service keys with aws cli, rclone and curl: a ScaiDrive token becomes temporary
# credentials (aws sts assume-role-with-web-identity) that list, upload and download with aws
# cli and rclone (session_token); a session is refused without its token and, once expired,
# with ExpiredToken; revoking the ScaiDrive token stops its credentials at once; a user makes,
# lists and revokes their own keys through /.well-known/scaidrive-gateway/keys with curl, and
# another user neither sees nor revokes them.
#
# The embedded emulator stands in for ScaiDrive/ScaiKey: new tokens (and a second user) are
# written into its database and a token is revoked by deleting its row there, as ScaiKey would.
# Env: S3_ENDPOINT BUCKET WEBDAV_URL GATEWAY_DATA_DIR (the gateway's --data-dir; unset: the
# target is not this gateway and every check is skipped). The gateway must allow 1-second
# sessions (SCAIDRIVE_GATEWAY_STS_MIN_SESSION_SECS=1; run-clients.sh starts it so).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env S3_ENDPOINT BUCKET WEBDAV_URL
if [ -z "${GATEWAY_DATA_DIR:-}" ]; then
    skip "sts" "not a scaidrive-gateway with an embedded emulator"
    exit 0
fi
require_cmd aws curl python3 rclone

EMU_DB="$GATEWAY_DATA_DIR/emulator/scaidrive.db"
ARN=arn:aws:iam::scaidrive:role/user
KEYS=/.well-known/scaidrive-gateway/keys
DAV_BASE="${WEBDAV_URL%/}"; DAV_BASE="${DAV_BASE%/*}"
P="conformance-sts-$RUN_ID"

# emu SQL ARGS...: runs one statement on the emulator's database; prints the first column.
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
# new_token USER_ID: a fresh ScaiDrive token of that user.
new_token() {
    local t="sdconf_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    emu "INSERT INTO tokens (token, user_id, scopes, expires_at) VALUES (?, ?, NULL, NULL)" "$t" "$1"
    echo "$t"
}
DEMO_USER="$(emu "SELECT id FROM users ORDER BY rowid LIMIT 1")"
TOKEN="$(new_token "$DEMO_USER")"
REVOKED="$(new_token "$DEMO_USER")"
on_exit "python3 -c 'import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); d.execute(\"DELETE FROM tokens WHERE token LIKE ?\", (\"sdconf_%\",)); d.commit()' '$EMU_DB'"

# assume TOKEN: aws cli AssumeRoleWithWebIdentity (no key pair set); credentials as JSON.
assume() {
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
        aws --endpoint-url "$S3_ENDPOINT" sts assume-role-with-web-identity \
        --role-arn "$ARN" --role-session-name conformance --web-identity-token "$1" \
        --query Credentials --output json
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# with CREDS_JSON CMD...: CMD with those temporary credentials.
with() {
    local f="$1"; shift
    AWS_ACCESS_KEY_ID="$(field "$f" AccessKeyId)" AWS_SECRET_ACCESS_KEY="$(field "$f" SecretAccessKey)" \
        AWS_SESSION_TOKEN="$(field "$f" SessionToken)" "$@"
}
s3() { aws --endpoint-url "$S3_ENDPOINT" s3 "$@"; }

# --- aws cli: STS, then s3 ls / cp with the temporary credentials
if run assume "$TOKEN"; then cp "$LOG" "$WORK/creds.json"; pass "aws-sts-assume-role-with-web-identity"
else fail "aws-sts-assume-role-with-web-identity" "aws sts failed"; fi
case "$(field "$WORK/creds.json" AccessKeyId)" in ASIA*) pass "temporary-key-id-is-ASIA" ;; *) fail "temporary-key-id-is-ASIA" ;; esac
check "aws-sts-get-caller-identity" with "$WORK/creds.json" aws --endpoint-url "$S3_ENDPOINT" sts get-caller-identity --query Arn --output text
expect_eq "caller-is-assumed-role" "$(cat "$LOG")" "arn:aws:sts::scaidrive:assumed-role/user/conformance"
check "temporary-s3-ls" with "$WORK/creds.json" s3 ls
grep -qE "[[:space:]]$BUCKET\$" "$LOG" && pass "temporary-s3-ls-lists-$BUCKET" || fail "temporary-s3-ls-lists-$BUCKET"
rand_file "$WORK/up.bin" 300000
on_exit "aws --endpoint-url '$S3_ENDPOINT' s3 rm --recursive --quiet 's3://$BUCKET/$P/'"
check "temporary-s3-cp-up" with "$WORK/creds.json" s3 cp "$WORK/up.bin" "s3://$BUCKET/$P/up.bin"
check "temporary-s3-cp-down" with "$WORK/creds.json" s3 cp "s3://$BUCKET/$P/up.bin" "$WORK/down.bin"
check "temporary-cmp" cmp "$WORK/up.bin" "$WORK/down.bin"

# --- rclone with session_token
AK="$(field "$WORK/creds.json" AccessKeyId)"; SK="$(field "$WORK/creds.json" SecretAccessKey)"; ST="$(field "$WORK/creds.json" SessionToken)"
check "rclone-session-token-cat" rclone --config /dev/null cat \
    ":s3,provider=Other,endpoint='$S3_ENDPOINT',access_key_id=$AK,secret_access_key=$SK,session_token=$ST:$BUCKET/$P/up.bin" \
    --s3-force-path-style
python3 - "$LOG" "$WORK/up.bin" <<'PY' && pass "rclone-session-token-bytes" || fail "rclone-session-token-bytes" "rclone cat differs"
import sys
sys.exit(0 if open(sys.argv[1], "rb").read() == open(sys.argv[2], "rb").read() else 1)
PY

# --- the session token is verified
if run env AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" AWS_SESSION_TOKEN=wrong aws --endpoint-url "$S3_ENDPOINT" s3 ls; then
    fail "wrong-session-token-refused" "listing worked"
else grep -q InvalidToken "$LOG" && pass "wrong-session-token-refused" || fail "wrong-session-token-refused" "not InvalidToken"; fi
if run env -u AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" aws --endpoint-url "$S3_ENDPOINT" s3 ls; then
    fail "missing-session-token-refused" "listing worked"
else grep -q InvalidToken "$LOG" && pass "missing-session-token-refused" || fail "missing-session-token-refused" "not InvalidToken"; fi

# --- an expired session is refused with ExpiredToken (aws cli asks at least 900 s; curl asks 1)
run curl -sS -X POST "$S3_ENDPOINT/" --data-urlencode Action=AssumeRoleWithWebIdentity \
    --data-urlencode Version=2011-06-15 --data-urlencode DurationSeconds=1 \
    --data-urlencode "WebIdentityToken=$TOKEN"
x() { sed -n "s|.*<$1>\([^<]*\)</$1>.*|\1|p" "$WORK/short.xml"; }
cp "$LOG" "$WORK/short.xml"
[ -n "$(x SessionToken)" ] && pass "one-second-session" || fail "one-second-session" "no credentials"
sleep 2
if run env AWS_ACCESS_KEY_ID="$(x AccessKeyId)" AWS_SECRET_ACCESS_KEY="$(x SecretAccessKey)" AWS_SESSION_TOKEN="$(x SessionToken)" aws --endpoint-url "$S3_ENDPOINT" s3 ls; then
    fail "expired-session-refused" "listing worked"
else grep -q ExpiredToken "$LOG" && pass "expired-session-refused-ExpiredToken" || fail "expired-session-refused-ExpiredToken" "not ExpiredToken"; fi

# --- a revoked ScaiDrive token stops its temporary credentials at once (within the second)
if run assume "$REVOKED"; then cp "$LOG" "$WORK/revoked.json"; pass "assume-second-token"; else fail "assume-second-token"; fi
check "before-revocation-ls" with "$WORK/revoked.json" s3 ls "s3://$BUCKET/$P/"
emu "DELETE FROM tokens WHERE token = ?" "$REVOKED"
# The gateway re-checks the token of temporary credentials at most once a second.
sleep 1.1
if run with "$WORK/revoked.json" s3 ls "s3://$BUCKET/$P/"; then
    fail "revoked-token-refused-at-once" "listing worked after the ScaiDrive token was revoked"
else grep -q AccessDenied "$LOG" && pass "revoked-token-refused-at-once" || fail "revoked-token-refused-at-once" "not AccessDenied"; fi
if run assume "$REVOKED"; then fail "revoked-token-gets-no-credentials"
else grep -q InvalidIdentityToken "$LOG" && pass "revoked-token-gets-no-credentials" || fail "revoked-token-gets-no-credentials" "not InvalidIdentityToken"; fi

# --- self-service keys with curl: the owner's own keys, invisible to another user
TENANT="$(emu "SELECT tenant_id FROM users WHERE id = ?" "$DEMO_USER")"
OTHER_USER="usr_CONF$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
emu "INSERT INTO users (id, tenant_id, email, name, display_name, is_admin, quota_bytes) VALUES (?, ?, ?, 'Other', 'Other', 0, NULL)" \
    "$OTHER_USER" "$TENANT" "$OTHER_USER@example.com"
on_exit "python3 -c 'import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); d.execute(\"DELETE FROM users WHERE id = ?\", (sys.argv[2],)); d.commit()' '$EMU_DB' '$OTHER_USER'"
OTHER="$(new_token "$OTHER_USER")"

code() { curl -sS -o "$WORK/body" -w '%{http_code}' "$@"; }
expect_eq "keys-without-token-401" "$(code "$S3_ENDPOINT$KEYS")" "401"
expect_eq "keys-create-201" "$(code -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"label":"conformance"}' "$S3_ENDPOINT$KEYS")" "201"
NEW_KEY="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_key_id"])' "$WORK/body")"
NEW_SECRET="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_access_key"])' "$WORK/body")"
check "new-key-s3-ls" env -u AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID="$NEW_KEY" AWS_SECRET_ACCESS_KEY="$NEW_SECRET" \
    aws --endpoint-url "$S3_ENDPOINT" s3 ls
expect_eq "keys-list-webdav-basic-200" "$(code -u "me:$TOKEN" "$DAV_BASE$KEYS")" "200"
grep -q "\"$NEW_KEY\"" "$WORK/body" && pass "keys-list-has-own-key" || fail "keys-list-has-own-key" "$(cat "$WORK/body")"
grep -q "$NEW_SECRET" "$WORK/body" && fail "keys-list-hides-secret" || pass "keys-list-hides-secret"
expect_eq "other-user-list-200" "$(code -H "Authorization: Bearer $OTHER" "$DAV_BASE$KEYS")" "200"
grep -q "$NEW_KEY" "$WORK/body" && fail "other-user-does-not-see-key" "$(cat "$WORK/body")" || pass "other-user-does-not-see-key"
expect_eq "other-user-revoke-404" "$(code -X DELETE -H "Authorization: Bearer $OTHER" "$DAV_BASE$KEYS/$NEW_KEY")" "404"
expect_eq "cross-origin-revoke-403" "$(code -X DELETE -H "Authorization: Bearer $TOKEN" -H 'Origin: https://elsewhere.example' "$DAV_BASE$KEYS/$NEW_KEY")" "403"
expect_eq "own-revoke-204" "$(code -X DELETE -H "Authorization: Bearer $TOKEN" "$DAV_BASE$KEYS/$NEW_KEY")" "204"
if run env -u AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID="$NEW_KEY" AWS_SECRET_ACCESS_KEY="$NEW_SECRET" aws --endpoint-url "$S3_ENDPOINT" s3 ls; then
    fail "revoked-key-refused" "listing worked"
else grep -q InvalidAccessKeyId "$LOG" && pass "revoked-key-refused" || fail "revoked-key-refused" "not InvalidAccessKeyId"; fi
finish
