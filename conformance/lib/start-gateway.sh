#!/usr/bin/env bash
# Starts `serve` in the background on free ports and waits until it is ready; the conformance
# lanes (run-clients.sh, chaos.sh and its Python checks) share it.
#
#   conformance/lib/start-gateway.sh BIN DATA_DIR BANNER LOG [GLOBAL FLAGS...]
#
# Runs `BIN --data-dir DATA_DIR --s3-listen/--webdav-listen/--admin-listen 127.0.0.1:0
# --log-level ${GATEWAY_LOG_LEVEL:-info} FLAGS serve` with stdout in BANNER and stderr in LOG.
# SCAIDRIVE_URL is passed through (empty = the embedded emulator). Waits (60 s at most) for the
# banner and for the admin listener's /readyz, then prints shell assignments on stdout:
#   pid=… s3url=… davurl=… admin=… scaidrive=… key=… secret=…
# (key and secret are empty when the banner prints none: with only static credentials).
# Exit 2 (with the tail of LOG on stderr) if the gateway died or never got ready; the process
# is then killed.
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
bin="$1" data="$2" banner="$3" log="$4"; shift 4

"$bin" --data-dir "$data" --s3-listen 127.0.0.1:0 --webdav-listen 127.0.0.1:0 \
    --admin-listen 127.0.0.1:0 --log-level "${GATEWAY_LOG_LEVEL:-info}" "$@" serve \
    >"$banner" 2>"$log" </dev/null &
pid=$!
give_up() {
    echo "start-gateway.sh: $1; the gateway's log:" >&2
    tail -n 30 "$log" >&2
    kill -KILL "$pid" 2>/dev/null || true
    exit 2
}
deadline=$((SECONDS + 60))
until grep -q '^export AWS_DEFAULT_REGION=' "$banner" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || give_up "the gateway exited before printing its banner"
    [ "$SECONDS" -lt "$deadline" ] || give_up "no banner after 60 s"
    sleep 0.2
done
field() { sed -nE "s|^$1[[:space:]]+(https?://[^ /]+).*|\1|p" "$banner" | sed -n 1p; }
s3url="$(field 'S3:')"; davurl="$(field 'WebDAV:')"; admin="$(field 'Admin:')"
scaidrive="$(field 'ScaiDrive:')"
key="$(sed -n 's/^export AWS_ACCESS_KEY_ID=//p' "$banner")"
secret="$(sed -n 's/^export AWS_SECRET_ACCESS_KEY=//p' "$banner")"
for v in s3url davurl admin scaidrive; do
    [ -n "${!v}" ] || give_up "could not read $v from the banner"
done
# Readiness: /readyz answers 2xx — never a fixed sleep.
until curl -fsS -o /dev/null --max-time 2 "$admin/readyz" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || give_up "the gateway exited before it was ready"
    [ "$SECONDS" -lt "$deadline" ] || give_up "$admin/readyz never answered 200"
    sleep 0.2
done
for v in pid s3url davurl admin scaidrive key secret; do printf '%s=%q\n' "$v" "${!v}"; done
