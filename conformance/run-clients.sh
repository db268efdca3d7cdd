#!/usr/bin/env bash
# Runs the real-client scripts against a freshly started scaidrive-gateway (embedded emulator,
# temporary data dir, free ports), or with --peer against rclone serve s3 / rclone serve webdav.
#
#   conformance/run-clients.sh [--peer] [--keep-going] [s3|webdav|https|all]
#
# `all` ends with the HTTPS lane (`https` runs only it): a second gateway with a self-signed
# certificate (openssl) on its S3 and WebDAV listeners, AWS_CA_BUNDLE pointing at it, and
# s3/https.sh (aws cli, WebDAV Basic over TLS with curl), s3/https_trailers.py (boto3:
# CRC32/CRC64NVME trailers, multipart, a corrupted trailer) and s3/policy.sh (bucket policies,
# aws:SecureTransport true). Not run with --peer.
#
# GATEWAY_BIN: the gateway binary (default target/debug/scaidrive-gateway under the repo root, or
# under $CARGO_TARGET_DIR); this script builds nothing. ONLY="awscli cadaver": run only the scripts
# whose names contain one of these words. --keep-going: scripts go on after a failed check.
# Output: conformance/results/clients-<suite>.txt (peer: conformance/results/peer/...), litmus.txt,
# the gateway's log; exit 1 if any script failed. The last line reads "N passed, M failed" (checks).
set -euo pipefail
CONF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$CONF/.." && pwd)"

peer=""; suite="all"
for a in "$@"; do
    case "$a" in
        --peer) peer=1 ;;
        --keep-going) export KEEP_GOING=1 ;;
        s3|webdav|https|all) suite="$a" ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "run-clients.sh: unknown argument '$a'" >&2; exit 2 ;;
    esac
done

"$CONF/install.sh" >/dev/null || { echo "run-clients.sh: install.sh failed" >&2; exit 2; }
export PATH="$CONF/.venv/bin:$CONF/bin:$PATH"
unset AWS_CA_BUNDLE AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_SESSION_TOKEN
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

results="$CONF/results${peer:+/peer}"
mkdir -p "$results"
out="$results/clients-$suite.txt"
tmp="$(mktemp -d /tmp/run-clients.XXXXXX)"
chmod 711 "$tmp"
pids=()
stop_all() {
    local p
    for p in "${pids[@]+"${pids[@]}"}"; do
        kill -TERM "$p" 2>/dev/null || continue
        for _ in $(seq 1 70); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$p" 2>/dev/null || true
    done
    pids=()
}
trap 'stop_all; rm -rf "$tmp"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
    local port="$1" deadline=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$deadline" ]; do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

if [ -n "$peer" ]; then
    rc_bin="$CONF/bin/rclone"
    key="PEERKEY$RANDOM"; secret="peersecret$RANDOM$RANDOM"
    mkdir -p "$tmp/s3root/documents" "$tmp/davroot"
    s3port="$(free_port)"; davport="$(free_port)"
    "$rc_bin" serve s3 "$tmp/s3root" --config /dev/null --addr "127.0.0.1:$s3port" \
        --auth-key "$key,$secret" >"$results/peer-s3.log" 2>&1 &
    pids+=($!)
    "$rc_bin" serve webdav "$tmp/davroot" --config /dev/null --addr "127.0.0.1:$davport" \
        --user "$key" --pass "$secret" >"$results/peer-webdav.log" 2>&1 &
    pids+=($!)
    wait_port "$s3port" 30 && wait_port "$davport" 30 || { echo "run-clients.sh: peers did not start" >&2; exit 2; }
    export S3_ENDPOINT="http://127.0.0.1:$s3port" AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret"
    export BUCKET=documents WEBDAV_URL="http://127.0.0.1:$davport/" WEBDAV_USER="$key" WEBDAV_PASS="$secret"
    target="peer: $("$rc_bin" version 2>/dev/null | sed -n 1p) serve s3 / serve webdav"
else
    bin="${GATEWAY_BIN:-}"
    if [ -z "$bin" ]; then
        bin="$ROOT/target/debug/scaidrive-gateway"
        [ -x "$bin" ] || bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/scaidrive-gateway"
    fi
    [ -x "$bin" ] || { echo "run-clients.sh: gateway binary '$bin' not found (cargo build, or set GATEWAY_BIN)" >&2; exit 2; }
    # start_gateway NAME [FLAGS...]: `serve` on a fresh data dir with free ports (empty
    # SCAIDRIVE_URL: the embedded emulator); sets s3url davurl admin key secret from its banner.
    # Its log is results/gateway[-NAME].log, its banner (secret redacted) gateway-banner[-NAME].txt.
    start_gateway() {
        local name="${1:+-$1}"; shift
        local vars
        vars="$(SCAIDRIVE_URL= "$CONF/lib/start-gateway.sh" "$bin" "$tmp/data$name" \
            "$tmp/banner$name.txt" "$results/gateway$name.log" "$@")" || exit 2
        eval "$vars"
        pids+=("$pid")
        [ -n "$key" ] && [ -n "$secret" ] || { echo "run-clients.sh: the banner printed no key pair" >&2; exit 2; }
        sed 's/^export AWS_SECRET_ACCESS_KEY=.*/export AWS_SECRET_ACCESS_KEY=<redacted>/' \
            "$tmp/banner$name.txt" >"$results/gateway-banner$name.txt"
    }
    s3url=""; davurl=""; key=""; secret=""; scaidrive=""
    # One-second STS sessions, so s3/sts*.{sh,py} can see one expire.
    export SCAIDRIVE_GATEWAY_STS_MIN_SESSION_SECS=1
    # The admin listener's POST /lifecycle/run?now=…, so s3/bucketcfg.sh can move the lifecycle
    # worker's clock forward.
    export SCAIDRIVE_GATEWAY_LIFECYCLE_ADMIN_RUN=true
    [ "$suite" = https ] || start_gateway ""
    export S3_ENDPOINT="$s3url" AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret"
    # The embedded seed's shares "Documents" and "Photos" are buckets documents, photos and the
    # WebDAV top-level collections Documents/, Photos/; WebDAV Basic auth takes the S3 key pair.
    export BUCKET="${BUCKET:-documents}" WEBDAV_URL="$davurl/${WEBDAV_COLLECTION:-Documents}/"
    export WEBDAV_USER="$key" WEBDAV_PASS="$secret"
    # For the scripts that count upstream calls or start a gateway of their own.
    export ADMIN_URL="$admin" GATEWAY_BIN="$bin"
    # The STS scripts write tokens into the embedded emulator's database (as ScaiKey would);
    # s3/public.sh calls the emulator's API (as ScaiDrive's web UI would).
    export GATEWAY_DATA_DIR="$tmp/data" SCAIDRIVE_API="$scaidrive"
    target="gateway: $bin ($("$bin" --version 2>/dev/null || echo '?'))"
fi
export RUN_ID="$(date +%s)-$$" RESULTS_DIR="$results"

scripts=()
case "$suite" in
    s3) scripts=(s3/awscli.sh s3/s3cmd.sh s3/rclone.sh s3/restic.sh s3/boto3_workflow.py
                s3/sts.sh s3/sts_boto3.py s3/public.sh s3/bucketcfg.sh s3/versions.sh
                s3/checksums_boto3.py s3/policy.sh s3/rclone-economy.sh s3/rclone-ratelimit.sh) ;;
    webdav) scripts=(webdav/rclone.sh webdav/cadaver.sh webdav/davfs2.sh webdav/litmus.sh
                    webdav/windows-miniredir.sh webdav/macos-finder.sh webdav/browser.sh
                    webdav/nextcloud.sh) ;;
    https) scripts=() ;;
    all) scripts=(s3/awscli.sh s3/s3cmd.sh s3/rclone.sh s3/restic.sh s3/boto3_workflow.py
                  s3/sts.sh s3/sts_boto3.py s3/public.sh s3/bucketcfg.sh s3/versions.sh
                  s3/checksums_boto3.py s3/policy.sh s3/rclone-economy.sh s3/rclone-ratelimit.sh
                  webdav/rclone.sh webdav/cadaver.sh webdav/davfs2.sh webdav/litmus.sh
                  webdav/windows-miniredir.sh webdav/macos-finder.sh webdav/browser.sh
                  webdav/nextcloud.sh) ;;
esac
if [ -n "${ONLY:-}" ]; then
    keep=()
    for s in "${scripts[@]}"; do for w in $ONLY; do [[ "$s" == *"$w"* ]] && { keep+=("$s"); break; }; done; done
    scripts=("${keep[@]+"${keep[@]}"}")
fi

{
    echo "# run-clients.sh $suite — $target — $(date -u +%FT%TZ)"
    echo "# S3 $S3_ENDPOINT bucket $BUCKET; WebDAV $WEBDAV_URL"
} | tee "$out"
failed_scripts=(); total_pass=0; total_fail=0; total_skip=0
run_scripts() {
local s log cmd start rc p f k
for s in "$@"; do
    echo "== $s" | tee -a "$out"
    log="$tmp/$(basename "$s").out"
    case "$s" in
        *.py) cmd=("$CONF/.venv/bin/python" "$CONF/$s") ;;
        *) cmd=(bash "$CONF/$s") ;;
    esac
    start=$SECONDS
    set +e
    timeout "${SCRIPT_TIMEOUT:-1200}" "${cmd[@]}" </dev/null 2>&1 | tee "$log" | tee -a "$out"
    rc=${PIPESTATUS[0]}
    set -e
    p="$(grep -c '^PASS ' "$log" || true)"; f="$(grep -c '^FAIL ' "$log" || true)"; k="$(grep -c '^SKIP ' "$log" || true)"
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + k))
    if [ "$rc" != 0 ] || [ "$f" != 0 ] || { [ "$p" = 0 ] && [ "$k" = 0 ]; }; then
        failed_scripts+=("$s")
        [ "$rc" = 124 ] && echo "FAIL $s: timed out" | tee -a "$out"
        [ "$p" = 0 ] && [ "$k" = 0 ] && [ "$f" = 0 ] && { echo "FAIL $s: no check ran (exit $rc)" | tee -a "$out"; total_fail=$((total_fail + 1)); }
        echo "== $s: FAILED (exit $rc, $p passed, $f failed, $((SECONDS - start)) s)" | tee -a "$out"
    else
        echo "== $s: ok ($p passed, $k skipped, $((SECONDS - start)) s)" | tee -a "$out"
    fi
done
}
run_scripts "${scripts[@]+"${scripts[@]}"}"

# The HTTPS lane: a second gateway with a self-signed certificate; the SDKs send their checksums
# in aws-chunked trailers only over TLS.
https_scripts=(s3/https.sh s3/https_trailers.py s3/policy.sh)
if [ -n "${ONLY:-}" ]; then
    keep=()
    for s in "${https_scripts[@]}"; do for w in $ONLY; do [[ "$s" == *"$w"* ]] && { keep+=("$s"); break; }; done; done
    https_scripts=("${keep[@]+"${keep[@]}"}")
fi
if [ -z "$peer" ] && { [ "$suite" = all ] || [ "$suite" = https ]; } && [ ${#https_scripts[@]} -gt 0 ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$tmp/tls.key" -out "$tmp/tls.crt" >/dev/null 2>&1 \
        || { echo "run-clients.sh: openssl could not make a certificate" >&2; exit 2; }
    start_gateway tls --tls-cert "$tmp/tls.crt" --tls-key "$tmp/tls.key"
    case "$s3url" in https://*) ;; *) echo "run-clients.sh: the TLS gateway printed $s3url" >&2; exit 2 ;; esac
    export S3_ENDPOINT="$s3url" AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret"
    export BUCKET="${BUCKET:-documents}" WEBDAV_URL="$davurl/${WEBDAV_COLLECTION:-Documents}/"
    export WEBDAV_USER="$key" WEBDAV_PASS="$secret" AWS_CA_BUNDLE="$tmp/tls.crt"
    echo "# HTTPS lane: S3 $S3_ENDPOINT, WebDAV $WEBDAV_URL (self-signed, AWS_CA_BUNDLE)" | tee -a "$out"
    run_scripts "${https_scripts[@]}"
    unset AWS_CA_BUNDLE
fi
stop_all
{
    echo
    if [ ${#failed_scripts[@]} -gt 0 ]; then echo "# failed scripts: ${failed_scripts[*]}"; fi
    echo "# results: $out"
    echo "$total_pass passed, $total_fail failed, $total_skip skipped"
} | tee -a "$out"
[ ${#failed_scripts[@]} -eq 0 ]
