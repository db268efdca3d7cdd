#!/usr/bin/env bash
# cadaver 0.24 against a WebDAV endpoint: mkcol, put, get, move, copy, lock/discover/unlock,
# propset/propget, rm, rmcol. Commands go in on stdin, credentials come from a temporary ~/.netrc.
# Every step is checked twice: cadaver must report success, and curl must see the result on the
# server (content, status codes, a lock that really refuses a PUT without its token).
# Env: WEBDAV_URL (a collection the scripts may write under) WEBDAV_USER WEBDAV_PASS
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env WEBDAV_URL WEBDAV_USER WEBDAV_PASS
require_cmd cadaver curl cmp

base="${WEBDAV_URL%/}/"
hostport="${base#*://}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"
export HOME="$WORK/home"
mkdir -p "$HOME"
printf 'machine %s\nlogin %s\npassword %s\n' "$host" "$WEBDAV_USER" "$WEBDAV_PASS" >"$HOME/.netrc"
chmod 600 "$HOME/.netrc"
T="conformance-cadaver-$RUN_ID"
U="$base$T"
cd "$WORK"

http() { curl -sS --netrc-file "$HOME/.netrc" "$@"; }
# status METHOD URL [curl args...]: the HTTP status code.
status() {
    local m="$1" u="$2" code; shift 2
    code="$(http -o "$WORK/body" -w '%{http_code}' -X "$m" "$@" "$u")" || true
    { echo "curl -X $m $u -> $code"; head -c 2000 "$WORK/body"; } >"$LOG"
    echo "$code"
}
expect_status() { local name="$1" want="$2"; shift 2; local got; got="$(status "$@")"; expect_eq "$name" "$got" "$want"; }
on_exit "curl -sS --netrc-file '$HOME/.netrc' -X DELETE '$U/'"

# cad CMD...: one cadaver session (opened on WEBDAV_URL) running the commands; output in $LOG.
cad() {
    { printf '%s\n' "$@"; echo quit; } | cadaver "$base" >"$LOG" 2>&1 </dev/stdin || true
    cat "$LOG" >>"$WORK/cadaver.transcript"
}
# said NAME REGEX: cadaver's output of the last session matches REGEX.
said() { grep -qE "$2" "$LOG" && pass "$1" || fail "$1" "cadaver output does not match /$2/"; }

printf 'cadaver conformance %s\n' "$RUN_ID" >"$WORK/local.txt"

cad "mkcol $T"
said "mkcol" "Creating \`$T': succeeded"
expect_status "mkcol-propfind-207" 207 PROPFIND "$U/" -H 'Depth: 0'

cad "cd $T" "put local.txt f.txt"
said "put" "Uploading local.txt to .*f.txt': .*succeeded"
http -o "$WORK/f.srv" "$U/f.txt"
check "put-content-on-server" cmp "$WORK/local.txt" "$WORK/f.srv"

cad "cd $T" "get f.txt got.txt"
said "get" "Downloading .*f.txt' to got.txt: .*succeeded"
check "get-content" cmp "$WORK/local.txt" "$WORK/got.txt"

cad "cd $T" "move f.txt g.txt"
said "move" "Moving .*f.txt' to .*g.txt': +succeeded"
expect_status "move-source-404" 404 GET "$U/f.txt"
expect_status "move-dest-200" 200 GET "$U/g.txt"
check "move-dest-content" cmp "$WORK/local.txt" "$WORK/body"

cad "cd $T" "copy g.txt h.txt"
said "copy" "Copying .*g.txt' to .*h.txt': +succeeded"
expect_status "copy-source-200" 200 GET "$U/g.txt"
expect_status "copy-dest-200" 200 GET "$U/h.txt"
check "copy-dest-content" cmp "$WORK/local.txt" "$WORK/body"

cad "cd $T" "ls"
said "ls" "Listing collection .*succeeded"
grep -qE '^ +g\.txt ' "$LOG" && grep -qE '^ +h\.txt ' "$LOG" && ! grep -qE '^ +f\.txt ' "$LOG" \
    && pass "ls-lists-g-and-h" || fail "ls-lists-g-and-h" "listing is not {g.txt, h.txt}"

# Lock, see it, unlock, see it gone: one session (cadaver keeps the token in memory).
cad "cd $T" "lock g.txt" "discover g.txt" "unlock g.txt" "discover g.txt"
said "lock" "Locking \`g.txt': succeeded"
awk '/discover g.txt/{n++} n==1' "$LOG" | grep -qE 'Lock token <[^>]+>' && pass "lock-discovered" \
    || fail "lock-discovered" "discover after lock shows no lock token"
said "unlock" "Unlocking \`g.txt': succeeded"
awk '/discover g.txt/{n++} n==2' "$LOG" | grep -q 'no locks found' && pass "unlock-discovered" \
    || fail "unlock-discovered" "discover after unlock still shows a lock"

# A lock left behind by a session must refuse a PUT without its token, and UNLOCK with it.
cad "cd $T" "lock g.txt"
said "lock-kept" "Locking \`g.txt': succeeded"
expect_status "locked-put-without-token-423" 423 PUT "$U/g.txt" --data-binary 'overwrite'
http -X PROPFIND -H 'Depth: 0' -H 'Content-Type: application/xml' \
    --data '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>' \
    "$U/g.txt" >"$WORK/lockdisc.xml" || true
token="$(grep -oE '(opaquelocktoken|urn:uuid):[^<"]+' "$WORK/lockdisc.xml" | head -n1 || true)"
[ -n "$token" ] && pass "lockdiscovery-has-token" || fail "lockdiscovery-has-token" "no token in PROPFIND lockdiscovery"
expect_status "unlock-with-token-204" 204 UNLOCK "$U/g.txt" -H "Lock-Token: <$token>"
code="$(status PUT "$U/g.txt" --data-binary @"$WORK/local.txt")"
[[ "$code" == 2?? ]] && pass "put-after-unlock-2xx" || fail "put-after-unlock-2xx" "status $code"

cad "cd $T" "propset h.txt myprop myvalue" "propget h.txt myprop"
said "propset" "Setting property on \`h.txt': succeeded"
said "propget" "Value of myprop is: myvalue"
cad "cd $T" "propget h.txt myprop"
said "propget-new-session" "Value of myprop is: myvalue"
http -X PROPFIND -H 'Depth: 0' "$U/h.txt" >"$WORK/allprop.xml" || true
grep -q 'myvalue' "$WORK/allprop.xml" && pass "propfind-allprop-shows-dead-prop" || fail "propfind-allprop-shows-dead-prop" "myvalue not in allprop"

cad "cd $T" "rm h.txt" "rm g.txt"
said "rm" "Deleting \`h.txt': succeeded"
expect_status "rm-gone-404" 404 GET "$U/h.txt"
cad "rmcol $T"
said "rmcol" "Deleting collection \`$T': succeeded"
expect_status "rmcol-gone-404" 404 PROPFIND "$U/" -H 'Depth: 0'
finish
