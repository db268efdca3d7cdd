#!/usr/bin/env bash
# The cluster lane: three `serve` instances behind HAProxy (round-robin, no stickiness, GET /readyz
# health checks), one standalone emulator behind them, a throwaway PostgreSQL cluster as their
# shared state DB, and then, through the balancer or against the instances directly:
#   1. the real clients: aws cli, s3cmd, rclone S3, restic, boto3 workflow, rclone WebDAV,
#      litmus (all suites, locks included), cadaver; then rclone `vendor=nextcloud` (chunked
#      upload, 24 MiB in 5 MiB chunks spread over the instances, MOVE on any);
#   2. conformance/cluster/consistency.py: PUT-then-GET/HEAD/LIST and DELETE-then-LIST/HEAD pairs,
#      WebDAV PUT-then-PROPFIND and LOCK, each pair through two different instances: 0 stale;
#   3. faults: kill -9 of one instance during a restic backup and during a multipart upload (and
#      a restart), a PostgreSQL restart during PUT traffic, and a write made straight into
#      ScaiDrive seen by every live instance within the change-feed bound after an instance died.
#
#   conformance/cluster.sh            # needs `cargo build` first; builds nothing
#
# Installs haproxy and postgresql from Debian when missing (never starts a system service).
# Until the gateway knows `state.url` (`serve --help` lists --state-url) the instances run on
# their own SQLite files, and the lane says so. GATEWAY_BIN picks the binary. PAIRS,
# DELETE_PAIRS, WEBDAV_PAIRS size the consistency check (1000, 200, 50); CLUSTER_ONLY="clients
# nextcloud consistency faults" picks phases.
# Output: conformance/results/cluster.txt (`== script` headers, one PASS/FAIL/SKIP line per check),
# compared by tests/run.sh with conformance/baselines/cluster.txt; logs in
# conformance/results/cluster/. Exit 1 if any check failed.
set -euo pipefail
CONF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$CONF/.." && pwd)"
lane_start=$SECONDS
phase_start=$SECONDS
phase() { # NAME: prints the wall time of the phase that ends here
    echo "# phase $1: $((SECONDS - phase_start)) s" | tee -a "$timings"
    phase_start=$SECONDS
}

# --- what the lane needs ------------------------------------------------------------------------
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
. "$CONF/lib/pg.sh"
apt_pkgs=()
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || apt_pkgs+=(haproxy)
pg_find || apt_pkgs+=(postgresql)
command -v psql >/dev/null || apt_pkgs+=(postgresql-client)
if ((${#apt_pkgs[@]})); then
    echo "cluster.sh: installing ${apt_pkgs[*]}"
    # Packages start their service on install unless policy-rc.d forbids it: forbid it for the
    # length of the install when nothing else does (the lane never runs a system service).
    policy_added=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee /usr/sbin/policy-rc.d >/dev/null
        $sudo_cmd chmod 755 /usr/sbin/policy-rc.d
        policy_added=1
    fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${apt_pkgs[@]}" >/dev/null
    [ -z "$policy_added" ] || $sudo_cmd rm -f /usr/sbin/policy-rc.d
    pg_find || { echo "cluster.sh: no initdb/pg_ctl after installing postgresql" >&2; exit 2; }
fi
haproxy_bin="$(command -v haproxy || echo /usr/sbin/haproxy)"
"$CONF/install.sh" >/dev/null || { echo "cluster.sh: install.sh failed" >&2; exit 2; }
export PATH="$CONF/.venv/bin:$CONF/bin:$PATH"
py="$CONF/.venv/bin/python"
unset AWS_CA_BUNDLE AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_SESSION_TOKEN
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

bin="${GATEWAY_BIN:-}"
if [ -z "$bin" ]; then
    bin="$ROOT/target/debug/scaidrive-gateway"
    [ -x "$bin" ] || bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/scaidrive-gateway"
fi
[ -x "$bin" ] || { echo "cluster.sh: gateway binary '$bin' not found (cargo build, or set GATEWAY_BIN)" >&2; exit 2; }

results="$CONF/results"
logs="$results/cluster"
out="$results/cluster.txt"
rm -rf "$logs"
mkdir -p "$logs"
timings="$logs/timings.txt"
: >"$timings"
tmp="$(mktemp -d /tmp/cluster-lane.XXXXXX)"
chmod 755 "$tmp"

# --- processes, stopped on exit ------------------------------------------------------------------
declare -A gw_pid=()
emu_pid=""; lb_pid=""; pg_started=""
bg_pids=()   # clients the fault phase runs in the background
stop_pid() { # PID: TERM, up to 10 s, then KILL
    local p="$1"
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
cleanup() {
    local i
    for i in "${bg_pids[@]+"${bg_pids[@]}"}"; do kill -TERM "$i" 2>/dev/null || true; done
    for i in "${!gw_pid[@]}"; do stop_pid "${gw_pid[$i]}"; done
    stop_pid "$lb_pid"
    stop_pid "$emu_pid"
    [ -z "$pg_started" ] || pg_stop "$tmp/pg"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { # URL SECONDS: until URL answers 2xx
    local url="$1" deadline=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$deadline" ]; do
        curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

{
    echo "# cluster.sh — gateway: $bin ($("$bin" --version 2>/dev/null || echo '?')) — $(date -u +%FT%TZ)"
} | tee "$out"
note() { echo "# $*" | tee -a "$out"; }

# --- PostgreSQL: a throwaway cluster in the temp dir, its own port and socket dir -----------------
pg_start "$tmp/pg" "$(free_port)" "$logs/initdb.log" || exit 2
pg_started=1
pg_psql -d postgres -c "CREATE ROLE scaidrive LOGIN PASSWORD 'scaidrive'" \
    -c "CREATE DATABASE scaidrive OWNER scaidrive" >/dev/null
pg_version="$(pg_psql -d postgres -At -c 'SHOW server_version')"
state_url="postgres://scaidrive:scaidrive@127.0.0.1:$pg_port/scaidrive"
if "$bin" serve --help 2>/dev/null | grep -q -- '--state-url'; then
    note "state DB: PostgreSQL $pg_version on port $pg_port (state.url), shared by the three instances"
else
    note "NOTE: this gateway does not know state.url (no --state-url in 'serve --help'):"
    note "NOTE: each instance runs on its own SQLite state DB; PostgreSQL $pg_version runs unused"
    state_url=""
fi

# --- the emulator ---------------------------------------------------------------------------------
emu_port="$(free_port)"
"$bin" emulator --listen "127.0.0.1:$emu_port" --data "$tmp/emulator" \
    >"$tmp/emulator.banner" 2>"$logs/emulator.log" &
emu_pid=$!
wait_http "http://127.0.0.1:$emu_port/api/v1/ready" 60 || { echo "cluster.sh: the emulator is not ready" >&2; exit 2; }
until grep -q '^export SCAIDRIVE_TOKEN=' "$tmp/emulator.banner"; do sleep 0.1; done
SCAIDRIVE_URL="http://127.0.0.1:$emu_port"
SCAIDRIVE_TOKEN="$(sed -n 's/^export SCAIDRIVE_TOKEN=//p' "$tmp/emulator.banner")"
export SCAIDRIVE_URL SCAIDRIVE_TOKEN

# --- three gateway instances ----------------------------------------------------------------------
# One static credential shared by all; each its own data dir and ports (kept across restarts).
key="AKIACLUSTERLANE00001"
secret="$(python3 -c 'import secrets; print(secrets.token_hex(20))')"
export AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret"
# The change feed is what makes writes made straight in ScaiDrive visible: a TTL longer than the
# feed bound keeps the cache TTL from hiding a feed nobody follows.
feed_ms=2000
ttl_secs=30
feed_bound=$((2 * feed_ms / 1000 + 1))
declare -A s3p=() davp=() admp=()
for i in 1 2 3; do s3p[$i]="$(free_port)"; davp[$i]="$(free_port)"; admp[$i]="$(free_port)"; done
start_gw() { # N: start instance N (same ports and data dir as before), wait for /readyz
    local i="$1"
    env SCAIDRIVE_GATEWAY_ACCESS_KEY_ID="$key" SCAIDRIVE_GATEWAY_SECRET_ACCESS_KEY="$secret" \
        ${state_url:+SCAIDRIVE_GATEWAY_STATE_URL="$state_url"} \
        "$bin" --data-dir "$tmp/gw$i" --s3-listen "127.0.0.1:${s3p[$i]}" \
        --webdav-listen "127.0.0.1:${davp[$i]}" --admin-listen "127.0.0.1:${admp[$i]}" \
        --cache-ttl-secs "$ttl_secs" --cache-change-feed-interval-ms "$feed_ms" \
        --log-level "${GATEWAY_LOG_LEVEL:-info}" serve >>"$logs/gw$i.out" 2>>"$logs/gw$i.log" &
    gw_pid[$i]=$!
    wait_http "http://127.0.0.1:${admp[$i]}/readyz" 60 || {
        echo "cluster.sh: instance $i never became ready; its log:" >&2
        tail -n 30 "$logs/gw$i.log" >&2; exit 2; }
}
kill_gw() { # N: kill -9, no grace
    kill -KILL "${gw_pid[$1]}" 2>/dev/null || true
    wait "${gw_pid[$1]}" 2>/dev/null || true
    unset "gw_pid[$1]"
}
for i in 1 2 3; do start_gw "$i"; done

# --- HAProxy from docker/haproxy.cfg ----------------------------------------------------------------
lb_s3="$(free_port)"; lb_dav="$(free_port)"; lb_stats="$(free_port)"
export SDGW_LB_BIND=127.0.0.1 SDGW_LB_S3_PORT="$lb_s3" SDGW_LB_WEBDAV_PORT="$lb_dav" SDGW_LB_STATS_PORT="$lb_stats"
for i in 1 2 3; do
    export "SDGW_GW${i}_HOST=127.0.0.1" "SDGW_GW${i}_S3_PORT=${s3p[$i]}"
    export "SDGW_GW${i}_WEBDAV_PORT=${davp[$i]}" "SDGW_GW${i}_ADMIN_PORT=${admp[$i]}"
done
"$haproxy_bin" -c -q -f "$ROOT/docker/haproxy.cfg" || { echo "cluster.sh: docker/haproxy.cfg is not valid" >&2; exit 2; }
"$haproxy_bin" -db -f "$ROOT/docker/haproxy.cfg" >"$logs/haproxy.log" 2>&1 &
lb_pid=$!
lb_up() { # how many servers of both backends the balancer reports UP
    curl -fsS --max-time 2 "http://127.0.0.1:$lb_stats/stats;csv" 2>/dev/null \
        | awk -F, '$1 ~ /^gateways_/ && $2 ~ /^gw/ && $18 == "UP"' | wc -l
}
wait_lb() { # N SECONDS: until N servers are UP
    local deadline=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$deadline" ]; do
        [ "$(lb_up)" -ge "$1" ] && return 0
        sleep 0.2
    done
    return 1
}
wait_lb 6 30 || { echo "cluster.sh: HAProxy does not see the three instances UP" >&2; exit 2; }
export S3_ENDPOINT="http://127.0.0.1:$lb_s3" BUCKET=documents
export WEBDAV_URL="http://127.0.0.1:$lb_dav/Documents/" WEBDAV_USER="$key" WEBDAV_PASS="$secret"
export RUN_ID="$(date +%s)-$$" RESULTS_DIR="$logs" KEEP_GOING=1
direct_s3="" direct_dav=""
for i in 1 2 3; do
    direct_s3+="http://127.0.0.1:${s3p[$i]} "; direct_dav+="http://127.0.0.1:${davp[$i]} "
done
note "HAProxy $("$haproxy_bin" -v | sed -n '1s/HAProxy version \([^ ]*\).*/\1/p'): S3 $S3_ENDPOINT, WebDAV $WEBDAV_URL (stats :$lb_stats/stats)"
note "instances (S3): $direct_s3; emulator $SCAIDRIVE_URL"
phase setup

# --- results ---------------------------------------------------------------------------------------
total_pass=0; total_fail=0; total_skip=0
count() { # LOG: add its PASS/FAIL/SKIP lines to the totals
    local p f k
    p="$(grep -c '^PASS ' "$1" || true)"; f="$(grep -c '^FAIL ' "$1" || true)"; k="$(grep -c '^SKIP ' "$1" || true)"
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + k))
}
pass() { echo "PASS $1" | tee -a "$out"; total_pass=$((total_pass + 1)); }
fail() { echo "FAIL $1: $2" | tee -a "$out"; total_fail=$((total_fail + 1)); }
run_script() { # NAME CMD...: runs a client script, its lines under `== NAME`
    local name="$1" log="$tmp/$(basename "$1").out" start=$SECONDS rc; shift
    echo "== $name" | tee -a "$out"
    set +e
    timeout "${SCRIPT_TIMEOUT:-600}" "$@" </dev/null 2>&1 | tee "$log" | grep -E '^(PASS|FAIL|SKIP|#) ' | tee -a "$out"
    rc=${PIPESTATUS[0]}
    set -e
    [ "$rc" = 124 ] && echo "FAIL $name: timed out" | tee -a "$out" "$log"
    if ! grep -qE '^(PASS|FAIL|SKIP) ' "$log"; then echo "FAIL $name: no check ran (exit $rc)" | tee -a "$out" "$log"; fi
    cp "$log" "$logs/$(basename "$name").out"
    count "$log"
    echo "# $name: exit $rc, $((SECONDS - start)) s" | tee -a "$out" "$timings"
}
phases="${CLUSTER_ONLY:-clients nextcloud consistency faults}"

# --- 1. real clients through the balancer -----------------------------------------------------------
if [[ " $phases " == *" clients "* ]]; then
    for s in s3/awscli.sh s3/s3cmd.sh s3/rclone.sh s3/restic.sh webdav/rclone.sh webdav/cadaver.sh webdav/litmus.sh; do
        run_script "$s" bash "$CONF/$s"
    done
    run_script s3/boto3_workflow.py "$py" "$CONF/s3/boto3_workflow.py"
    phase clients
fi

# --- 1b. rclone vendor=nextcloud through the balancer ----------------------------------------------
# rclone sends its chunks without the length or the target, so they wait until MOVE; round-robin
# spreads the chunk PUTs and the MOVE over the instances, which works only when the waiting pieces
# are kept in ScaiDrive (s3.multipart_staging, "scaidrive" by default with PostgreSQL).
if [[ " $phases " == *" nextcloud "* ]]; then
    echo "== cluster/nextcloud" | tee -a "$out"
    ncsrc="$tmp/nextcloud-src"
    mkdir -p "$ncsrc"
    head -c $((24 * 1024 * 1024)) /dev/urandom >"$ncsrc/nc.bin"
    nc_dir="cluster-nextcloud-$RUN_ID"
    nc_remote=":webdav,url='http://127.0.0.1:$lb_dav/remote.php/dav/files/$key',vendor=nextcloud:"
    nc_rc() { # rclone with the lane's credential, no retries (a failed MOVE must show)
        RCLONE_WEBDAV_USER="$key" RCLONE_WEBDAV_PASS="$(rclone obscure "$secret")" \
            timeout 600 rclone --config /dev/null --retries 1 --low-level-retries 1 \
            --webdav-pacer-min-sleep 0 --webdav-nextcloud-chunk-size 5M "$@"
    }
    dav_puts() { # N: WebDAV PUTs instance N answered
        curl -sf "http://127.0.0.1:${admp[$1]}/metrics" \
            | awk '/^scaidrive_gateway_requests_total\{/ && /protocol="webdav"/ && /operation="PUT"/ { n += $NF } END { printf "%d\n", n }'
    }
    declare -A puts0=()
    for i in 1 2 3; do puts0[$i]="$(dav_puts "$i")"; done
    if nc_rc copyto "$ncsrc/nc.bin" "${nc_remote}Documents/$nc_dir/nc.bin" -v >"$logs/nextcloud-copy.log" 2>&1 \
        && grep -q 'Copied (new)' "$logs/nextcloud-copy.log"; then
        pass "nextcloud-copy"
    else
        fail "nextcloud-copy" "rclone failed (see cluster/nextcloud-copy.log)"
    fi
    spread=0
    for i in 1 2 3; do [ "$(dav_puts "$i")" -gt "${puts0[$i]}" ] && spread=$((spread + 1)); done
    [ "$spread" -ge 2 ] && pass "nextcloud-chunks-spread" \
        || fail "nextcloud-chunks-spread" "the chunk PUTs reached $spread instance(s)"
    want="$(sha256sum <"$ncsrc/nc.bin" | cut -d' ' -f1)"
    got="$({ curl -sf -u "$key:$secret" "${WEBDAV_URL}$nc_dir/nc.bin" || true; } | sha256sum | cut -d' ' -f1)"
    [ "$got" = "$want" ] && pass "nextcloud-sha256" || fail "nextcloud-sha256" "got $got, want $want"
    if nc_rc check "$ncsrc" "${nc_remote}Documents/$nc_dir" >"$logs/nextcloud-check.log" 2>&1; then
        pass "nextcloud-rclone-check"
    else
        fail "nextcloud-rclone-check" "see cluster/nextcloud-check.log"
    fi
    left="$("$py" "$CONF/cluster/staged.py" 2>&1)" || left="staged.py failed: $left"
    [ -z "$left" ] && pass "nextcloud-staging-empty" || fail "nextcloud-staging-empty" "$(echo "$left" | head -n 3 | tr '\n' ' ')"
    nc_rc purge "${nc_remote}Documents/$nc_dir" >/dev/null 2>&1 || true
    phase nextcloud
fi

# --- 2. consistency, instance against instance --------------------------------------------------------
if [[ " $phases " == *" consistency "* ]]; then
    CLUSTER_S3_ENDPOINTS="$direct_s3" CLUSTER_WEBDAV_ENDPOINTS="$direct_dav" \
        run_script cluster/consistency.py "$py" "$CONF/cluster/consistency.py"
    phase consistency
fi

# --- 3. faults ----------------------------------------------------------------------------------------
wait_file() { # PATH SECONDS [PID]: until PATH exists (or PID ended)
    local deadline=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$deadline" ]; do
        [ -e "$1" ] && return 0
        if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then return 1; fi
        sleep 0.05
    done
    return 1
}
# restart_gw N LABEL: start instance N again and wait until the balancer sees all six servers UP;
# the check line goes to $fdir/LABEL.restart (printed after the client's own lines).
restart_gw() {
    start_gw "$1"
    if wait_lb 6 30; then
        echo "PASS $2-instance-back" >"$fdir/$2.restart"
    else
        echo "FAIL $2-instance-back: the balancer does not see it UP" >"$fdir/$2.restart"
    fi
}
restart_result() { # LABEL: prints and counts restart_gw's line
    [ -e "$fdir/$1.restart" ] || return 0
    tee -a "$out" <"$fdir/$1.restart"
    count "$fdir/$1.restart"
}
if [[ " $phases " == *" faults "* ]]; then
    fdir="$tmp/faults"; mkdir -p "$fdir"
    export FAULT_DIR="$fdir"

    # restic: kill -9 instance 2 when a third of the backup is done, start it again.
    echo "== cluster/faults-restic" | tee -a "$out"
    rsrc="$tmp/restic-src"
    mkdir -p "$rsrc/many"
    for i in $(seq 1 8); do head -c $((6 * 1024 * 1024)) /dev/urandom >"$rsrc/big-$i.bin"; done
    for i in $(seq 1 200); do head -c $((i * 97 + 1)) /dev/urandom >"$rsrc/many/f-$i.bin"; done
    export RESTIC_REPOSITORY="s3:$S3_ENDPOINT/$BUCKET/cluster-faults-$RUN_ID/restic"
    export RESTIC_PASSWORD="cluster-$RUN_ID" RESTIC_CACHE_DIR="$tmp/restic-cache" RESTIC_PROGRESS_FPS=10
    if timeout 120 restic init >"$logs/restic-init.log" 2>&1; then
        pass "restic-init"
        timeout 600 restic backup --json --host cluster "$rsrc" >"$logs/restic-backup.json" 2>"$logs/restic-backup.log" &
        rpid=$!
        bg_pids+=("$rpid")
        killed=""
        deadline=$((SECONDS + 120))
        while kill -0 "$rpid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
            done_pct="$(grep '"message_type":"status"' "$logs/restic-backup.json" 2>/dev/null | tail -n 1 \
                | sed -n 's/.*"percent_done":\([0-9.e-]*\).*/\1/p' | awk '{ printf "%d", $1 * 100 }' || true)"
            if [ "${done_pct:-0}" -ge 30 ]; then kill_gw 2; killed="$done_pct"; break; fi
            sleep 0.1
        done
        if [ -n "$killed" ]; then
            pass "restic-instance-killed-mid-backup"
            note "restic: instance 2 killed at ${killed}% of the backup"
            restart_gw 2 restic
            restart_result restic
        else
            fail "restic-instance-killed-mid-backup" "the backup ended before a third was done"
        fi
        if wait "$rpid"; then pass "restic-backup-finishes"; else fail "restic-backup-finishes" "exit $?"; fi
        if timeout 600 restic check --read-data >"$logs/restic-check.log" 2>&1 \
            && grep -q 'no errors were found' "$logs/restic-check.log"; then
            pass "restic-check-read-data"
        else
            fail "restic-check-read-data" "$(tail -n 1 "$logs/restic-check.log")"
        fi
        if timeout 600 restic restore latest --target "$tmp/restic-restore" >"$logs/restic-restore.log" 2>&1 \
            && diff -r "$rsrc" "$tmp/restic-restore$rsrc" >"$logs/restic-diff.log" 2>&1; then
            pass "restic-restore-identical"
        else
            fail "restic-restore-identical" "restore failed or differs ($logs/restic-diff.log)"
        fi
    else
        fail "restic-init" "$(tail -n 1 "$logs/restic-init.log")"
    fi
    [ -n "${gw_pid[2]:-}" ] || start_gw 2
    aws --endpoint-url "$S3_ENDPOINT" s3 rm --recursive --quiet "s3://$BUCKET/cluster-faults-$RUN_ID/restic/" >/dev/null 2>&1 || true
    rm -rf "$rsrc" "$tmp/restic-restore" "$tmp/restic-cache"
    phase faults-restic

    # boto3 multipart: kill -9 instance 3 after a third of the parts, start it again meanwhile.
    echo "== cluster/faults-multipart" | tee -a "$out"
    "$py" "$CONF/cluster/faults.py" multipart >"$logs/faults-multipart.out" 2>&1 &
    fpid=$!
    bg_pids+=("$fpid")
    if wait_file "$fdir/multipart.half" 120 "$fpid"; then
        kill_gw 3
        touch "$fdir/multipart.go"
        restart_gw 3 multipart
    fi
    wait "$fpid" || true
    grep -E '^(PASS|FAIL|SKIP|#) ' "$logs/faults-multipart.out" | tee -a "$out" || true
    count "$logs/faults-multipart.out"
    restart_result multipart
    phase faults-multipart

    # PostgreSQL restart during PUT traffic through the balancer.
    echo "== cluster/faults-postgres" | tee -a "$out"
    [ -n "$state_url" ] || note "state DB not on PostgreSQL: the restart does not touch the instances"
    "$py" "$CONF/cluster/faults.py" traffic >"$logs/faults-traffic.out" 2>&1 &
    fpid=$!
    bg_pids+=("$fpid")
    if wait_file "$fdir/traffic.half" 120 "$fpid"; then
        touch "$fdir/traffic.go"
        if as_pg "$pg_bin/pg_ctl" -D "$tmp/pg/data" -m fast -w -t 60 restart \
            -o "-p $pg_port -k $tmp/pg -c listen_addresses=127.0.0.1 -c fsync=off" >>"$logs/pg_ctl.log" 2>&1; then
            pass "postgres-restarted"
        else
            fail "postgres-restarted" "pg_ctl restart failed"
        fi
    fi
    wait "$fpid" || true
    grep -E '^(PASS|FAIL|SKIP|#) ' "$logs/faults-traffic.out" | tee -a "$out" || true
    count "$logs/faults-traffic.out"
    if wait_lb 6 30; then pass "postgres-instances-ready-after"; else fail "postgres-instances-ready-after" "not every instance is UP"; fi
    phase faults-postgres

    # Change-feed takeover: instance 1 dies; a write straight into ScaiDrive reaches 2 and 3.
    echo "== cluster/faults-feed" | tee -a "$out"
    kill_gw 1
    CLUSTER_S3_ENDPOINTS="http://127.0.0.1:${s3p[2]} http://127.0.0.1:${s3p[3]}" FEED_BOUND_SECS="$feed_bound" \
        "$py" "$CONF/cluster/faults.py" feed >"$logs/faults-feed.out" 2>&1 || true
    grep -E '^(PASS|FAIL|SKIP|#) ' "$logs/faults-feed.out" | tee -a "$out" || true
    count "$logs/faults-feed.out"
    restart_gw 1 feed
    restart_result feed
    phase faults-feed
fi

# --- end ------------------------------------------------------------------------------------------
{
    echo
    echo "# wall time per phase:"
    sed 's/^# /#   /' "$timings"
    echo "# lane wall time: $((SECONDS - lane_start)) s"
    echo "# results: $out (logs: $logs)"
    echo "$total_pass passed, $total_fail failed, $total_skip skipped"
} | tee -a "$out"
[ "$total_fail" -eq 0 ]
