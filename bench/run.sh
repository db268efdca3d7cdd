#!/usr/bin/env bash
# Side-by-side benchmark, one run on this machine. Targets, each its own process:
#
#   direct     the ScaiDrive API itself (the emulator, straight): the limit a gateway can reach
#   s3, dav    the gateway over S3 and over WebDAV, in front of the same emulator
#   rclone-s3, rclone-dav
#              `rclone serve s3` / `rclone serve webdav` over a local directory: the peer a user
#              could run on a synced folder
#   s3-pg      the gateway over S3 with its state DB on PostgreSQL (state.url; a throwaway cluster
#              started for the run, conformance/lib/pg.sh), one instance: beside `s3` (SQLite)
#   s3-pg3     three gateway instances sharing that PostgreSQL, the requests spread round-robin
#              over their three S3 endpoints (bench/load.py; a GET or HEAD goes to another
#              instance than the PUT of its object)
#
# Workloads: SIZE_MIB single PUT and GET (curl); SIZE_MIB multipart upload (aws cli, 8 MiB
# parts); SMALL_COUNT x 4 KiB PUT, GET, HEAD with SMALL_PARALLEL concurrent clients
# (bench/load.py, keep-alive connections); ListObjectsV2 (all pages) and PROPFIND Depth 1 of a
# LIST_COUNT-entry folder, cold (first listing after the server started) and warm.
#
# The workloads users run (bench/workloads.sh, bench/notes.md): rclone sync of a 3,000-file tree and
# its no-op re-sync, aws s3 sync of it, restic backup of 400 MiB and restic check --read-data
# (S3), a davfs2 cp -r and umount (WebDAV), each beside the rclone serve peer; and 16 concurrent
# SIZE_MIB transfers through the gateway (S3 and WebDAV, up and down) for its peak RSS.
#
# Reports throughput or ops/s, p50/p99 latency, the gateway's peak RSS per phase (VmHWM, reset
# between phases), upstream calls and state-DB operations per operation (the gateway's admin
# /metrics, summed over the instances), as ratios to the direct API measured in the same run, and
# for the PostgreSQL targets as ratios to SQLite, into bench/results/report.md, report.json,
# chart.png. The SQLite and PostgreSQL small-object phases run STATE_ROUNDS (2) times,
# alternating, each on a freshly started gateway; the report keeps the best round.
#
#   bench/run.sh            # SIZE_MIB=1024 SMALL_COUNT=1000 LIST_COUNT=10000 (about 10 minutes)
#   bench/run.sh --quick    # SIZE_MIB=64 SMALL_COUNT=200 LIST_COUNT=1000, to try it out
#   BENCH_ONLY=state bench/run.sh
#                           # only direct, s3, s3-pg, s3-pg3: small objects and the S3 listing
#                           # (SMALL_COUNT=1000 LIST_COUNT=2000), into bench/results/state/
#   BENCH_ONLY=workloads bench/run.sh
#                           # only the workloads users run and the 16 concurrent transfers (about
#                           # 7 minutes, also what they add to the full run), into
#                           # bench/results/workloads/
#
# Needs: cargo, curl, python3 (Debian 12), PostgreSQL's server binaries (initdb, pg_ctl: Debian's
# postgresql package; as root they run as the postgres user; not for BENCH_ONLY=workloads). Installs
# rclone, aws cli, restic and davfs2 (conformance/install.sh; not for BENCH_ONLY=state) and
# matplotlib (a venv in bench/.venv). The davfs2 workload needs root and /dev/fuse (skipped without).
# Never run in CI: numbers depend on the machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_ONLY="${BENCH_ONLY:-}"
# full: the synthetic phases of every target; st: the small-object, state-DB and listing phases
# (also BENCH_ONLY=state); wl: the workloads users run (bench/workloads.sh; also
# BENCH_ONLY=workloads)
case "$BENCH_ONLY" in
    "") full=1; st=1; wl=1 ;;
    state) full=""; st=1; wl=""; : "${SMALL_COUNT:=1000}" "${LIST_COUNT:=2000}" "${RESULTS:=$ROOT/bench/results/state}" ;;
    workloads) full=""; st=""; wl=1; : "${RESULTS:=$ROOT/bench/results/workloads}" ;;
    *) echo "bench: BENCH_ONLY is empty, 'state' or 'workloads', not '$BENCH_ONLY'" >&2; exit 2 ;;
esac
if [ "${1:-}" = "--quick" ]; then
    : "${SIZE_MIB:=64}" "${SMALL_COUNT:=200}" "${LIST_COUNT:=1000}" "${RESULTS:=$ROOT/bench/results/quick}"
fi
SIZE_MIB="${SIZE_MIB:-1024}"
SMALL_COUNT="${SMALL_COUNT:-1000}"
SMALL_PARALLEL="${SMALL_PARALLEL:-8}"
LIST_COUNT="${LIST_COUNT:-10000}"
LIST_WARM="${LIST_WARM:-5}"   # warm listings after each cold one
LIST_COLD="${LIST_COLD:-3}"   # cold listings (each on a freshly started server)
STATE_ROUNDS="${STATE_ROUNDS:-2}"
RESULTS="${RESULTS:-$ROOT/bench/results}"
mkdir -p "$RESULTS"

# --- tools and build ---------------------------------------------------------------------------
[ -z "$full$wl" ] || "$ROOT/conformance/install.sh" >/dev/null
rclone="$ROOT/conformance/bin/rclone"
aws="$ROOT/conformance/.venv/bin/aws"
. "$ROOT/conformance/lib/pg.sh"
pg_find || { echo "bench: no initdb/pg_ctl (apt-get install postgresql)" >&2; exit 2; }
venv="$ROOT/bench/.venv"
if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check matplotlib
fi
py="$venv/bin/python"
load() { "$py" "$ROOT/bench/load.py" "$@"; }

cargo build --release --locked --bin scaidrive-gateway --manifest-path "$ROOT/Cargo.toml" >&2
bin="${CARGO_TARGET_DIR:-$ROOT/target}/release/scaidrive-gateway"

tmp="$(mktemp -d /tmp/scaidrive-bench.XXXXXX)"
declare -A pid_of=()
cleanup() {
    local m status=$?
    for m in "$tmp"/mnt-*; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
    for p in "${pid_of[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pg_stop "$tmp/pg"
    # A run that failed keeps the servers' logs for a look (gateways, emulator, peers).
    if [ "$status" -ne 0 ]; then
        mkdir -p "$RESULTS/failed-logs"
        cp "$tmp"/*.log "$tmp"/*.out "$RESULTS/failed-logs/" 2>/dev/null || true
        echo "bench: failed; the servers' logs are in $RESULTS/failed-logs/" >&2
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp"
out="$tmp/results.jsonl"
: >"$out"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_up() { # url [curl options]
    local url="$1"; shift
    for _ in $(seq 1 300); do curl -sS -o /dev/null "$@" "$url" 2>/dev/null && return 0; sleep 0.1; done
    echo "bench: $url did not come up" >&2; exit 1
}
# record WORKLOAD VIA JSON: one result line
record() { python3 -c 'import json,sys; d=json.loads(sys.argv[3]); d.update(workload=sys.argv[1], via=sys.argv[2]); print(json.dumps(d))' "$1" "$2" "$3" >>"$out"; }
stop() { # name
    local p="${pid_of[$1]:-}"
    if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
    unset "pid_of[$1]"
}

# --- servers -----------------------------------------------------------------------------------
emu_port="$(free_port)"
"$bin" emulator --listen "127.0.0.1:$emu_port" --data "$tmp/emu" >"$tmp/emu.out" 2>"$tmp/emu.log" &
pid_of[emu]=$!
emu="http://127.0.0.1:$emu_port"
wait_up "$emu/api/v1/health"
token="$(sed -n 's/^export SCAIDRIVE_TOKEN=//p' "$tmp/emu.out" | tr -d "'")"
auth=(-H "Authorization: Bearer $token")
share="$(curl -fsS "${auth[@]}" "$emu/api/v1/users/me/shares" |
    python3 -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin)["shares"] if s["name"]=="Documents"][0])')"

key=benchaccesskey; secret=benchsecretkey
s3_port="$(free_port)"; dav_port="$(free_port)"; admin_port="$(free_port)"
rs3_port="$(free_port)"; rdav_port="$(free_port)"
s3="http://127.0.0.1:$s3_port"; dav="http://127.0.0.1:$dav_port"; admin="http://127.0.0.1:$admin_port"
rs3="http://127.0.0.1:$rs3_port"; rdav="http://127.0.0.1:$rdav_port"
# Gateway targets: gw (SQLite, the `s3` and `dav` rows), pg1 and pg3 (PostgreSQL, one and three
# instances); each instance its own data dir and ports, kept across restarts.
declare -A members=([gw]=gw [pg1]=pg1-1 [pg3]="pg3-1 pg3-2 pg3-3") state_url_of=([gw]="")
declare -A s3_of=([gw]="$s3_port") dav_of=([gw]="$dav_port") admin_of=([gw]="$admin_port")
for m in pg1-1 pg3-1 pg3-2 pg3-3; do s3_of[$m]="$(free_port)"; dav_of[$m]="$(free_port)"; admin_of[$m]="$(free_port)"; done
start_target() { # TARGET: start its instances, wait until each is ready
    local m
    for m in ${members[$1]}; do
        env SCAIDRIVE_URL="$emu" SCAIDRIVE_TOKEN="$token" SCAIDRIVE_GATEWAY_ACCESS_KEY_ID="$key" \
            SCAIDRIVE_GATEWAY_SECRET_ACCESS_KEY="$secret" ${state_url_of[$1]:+SCAIDRIVE_GATEWAY_STATE_URL="${state_url_of[$1]}"} \
            "$bin" --data-dir "$tmp/$m" --s3-listen "127.0.0.1:${s3_of[$m]}" --webdav-listen "127.0.0.1:${dav_of[$m]}" \
            --admin-listen "127.0.0.1:${admin_of[$m]}" --log-level warn serve >>"$tmp/$m.out" 2>>"$tmp/$m.log" &
        pid_of[$m]=$!
    done
    for m in ${members[$1]}; do wait_up "http://127.0.0.1:${admin_of[$m]}/readyz" -f; done
}
stop_target() { local m; for m in ${members[$1]}; do stop "$m"; done; }
s3_endpoints() { # TARGET: its S3 endpoints, comma-separated (bench/load.py)
    local m eps=""
    for m in ${members[$1]}; do eps+="${eps:+,}http://127.0.0.1:${s3_of[$m]}"; done
    echo "$eps"
}
start_gw() { start_target gw; }
start_rclone_s3() {
    "$rclone" --config /dev/null serve s3 "$tmp/peer-s3" --addr "127.0.0.1:$rs3_port" \
        --auth-key "$key,$secret" >>"$tmp/rclone-s3.log" 2>&1 &
    pid_of[rclone-s3]=$!
    wait_up "$rs3/"
}
start_rclone_dav() {
    "$rclone" --config /dev/null serve webdav "$tmp/peer-dav" --addr "127.0.0.1:$rdav_port" \
        --user "$key" --pass "$secret" >>"$tmp/rclone-dav.log" 2>&1 &
    pid_of[rclone-dav]=$!
    wait_up "$rdav/"
}
# PostgreSQL: a throwaway cluster, one database per PostgreSQL target.
pg_rtt1_ms=""; pg_tps1=""; pg_rttn_ms=""; pg_tpsn=""; pg_version=""
if [ -n "$st" ]; then
pg_start "$tmp/pg" "$(free_port)" "$tmp/initdb.log"
pg_psql -d postgres -c "CREATE ROLE bench LOGIN PASSWORD 'bench'" \
    -c "CREATE DATABASE bench_pg1 OWNER bench" -c "CREATE DATABASE bench_pg3 OWNER bench" >/dev/null
pg_version="$(pg_psql -d postgres -At -c 'SHOW server_version')"
for t in pg1 pg3; do state_url_of[$t]="postgres://bench:bench@127.0.0.1:$pg_port/bench_$t"; done
# The cost of one trivial round trip on this machine (pgbench, `SELECT 1` over TCP, 3 s), with one
# client and with SMALL_PARALLEL: what a state-DB operation costs at least.
echo 'SELECT 1;' >"$tmp/select1.sql"
chmod 644 "$tmp/select1.sql"
pg_rtt() { # CLIENTS: "latency_ms tps"
    as_pg "$pg_bin/pgbench" -n -h 127.0.0.1 -p "$pg_port" -U postgres -f "$tmp/select1.sql" -c "$1" -j "$1" -T 3 postgres 2>/dev/null |
        awk '/^latency average/ {l = $4} /^tps/ {t = $3} END {printf "%s %.0f", l, t}'
}
read -r pg_rtt1_ms pg_tps1 <<<"$(pg_rtt 1)"
read -r pg_rttn_ms pg_tpsn <<<"$(pg_rtt "$SMALL_PARALLEL")"
fi

if [ -n "$full$wl" ]; then
    mkdir -p "$tmp/peer-s3/documents" "$tmp/peer-dav/Documents"
    start_gw
    start_rclone_s3
    start_rclone_dav
fi

# The gateway target the phases measure (its instances' metrics summed, their RSS peaks maxed).
cur=gw
cur_admins() { local m; for m in ${members[$cur]}; do echo "http://127.0.0.1:${admin_of[$m]}"; done; }
# Gateway peak RSS per phase: VmHWM, reset through clear_refs at the start of each phase.
rss_reset() { local m; for m in ${members[$cur]}; do echo 5 >"/proc/${pid_of[$m]}/clear_refs"; done; }
rss_now() { # the instances' resident set now (VmRSS, the largest), MiB
    local m
    for m in ${members[$cur]}; do cat "/proc/${pid_of[$m]}/status"; done |
        awk '/VmRSS/ && $2 > max {max = $2} END {printf "%.1f", max/1024}'
}
rss_peak() {
    local m
    for m in ${members[$cur]}; do cat "/proc/${pid_of[$m]}/status"; done |
        awk '/VmHWM/ && $2 > max {max = $2} END {printf "%.1f", max/1024}'
}
# Upstream calls made for the requests: the change-feed polls the gateway makes in the background
# (every 2 s per share in use) are left out. State-DB operations: every one, background work
# (feed leadership, maintenance) included. metrics_snapshot FILE: the instances' /metrics.
metrics_snapshot() { local a; for a in $(cur_admins); do curl -fsS "$a/metrics"; done >"$1"; }
# gateway_phase WORKLOAD VIA OPS cmd...: runs cmd, records its JSON (stdout) plus the gateway's
# peak RSS, upstream calls and state-DB operations per operation, and the upstream calls by
# method and endpoint.
gateway_phase() {
    local workload="$1" via="$2" ops="$3"; shift 3
    local res
    local rss_start
    metrics_snapshot "$tmp/metrics.before"; rss_reset; rss_start="$(rss_now)"
    res="$("$@")"
    metrics_snapshot "$tmp/metrics.after"
    res="$(python3 - "$res" "$(rss_peak)" "$ops" "$tmp/metrics.before" "$tmp/metrics.after" "$rss_start" <<'PY'
import json, re, sys
UP = re.compile(r'^scaidrive_gateway_upstream_requests_total\{method="([^"]*)",endpoint="([^"]*)",status="[^"]*"\} (\d+)$')
def read(path):
    calls, db = {}, 0
    for line in open(path):
        m = UP.match(line.strip())
        if m and m.group(2) != "/api/v1/sync/changes":
            k = f"{m.group(1)} {m.group(2)}"
            calls[k] = calls.get(k, 0) + int(m.group(3))
        elif line.startswith("scaidrive_gateway_state_db_operations_total"):
            db += int(line.split()[-1])
    return calls, db
d = json.loads(sys.argv[1]); n = int(sys.argv[3])
(b, db_b), (a, db_a) = read(sys.argv[4]), read(sys.argv[5])
by = {k: v - b.get(k, 0) for k, v in sorted(a.items()) if v - b.get(k, 0)}
d.update(rss_mib=float(sys.argv[2]), rss_start_mib=float(sys.argv[6]), upstream_per_op=sum(by.values()) / n, state_db_per_op=(db_a - db_b) / n,
         upstream_by_endpoint=by)
print(json.dumps(d))
PY
)"
    record "$workload" "$via" "$res"
}

sig=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
basic=(-u "$key:$secret")

# --- large objects -----------------------------------------------------------------------------
if [ -n "$full" ]; then
    echo "bench: $SIZE_MIB MiB PUT and GET" >&2
    big="$tmp/big.bin"
    head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$big"
    want="$(sha256sum "$big" | cut -d' ' -f1)"
    # curl_timed cmd...: the transfer's seconds and MiB/s as JSON
    curl_timed() {
        local t
        t="$(curl -fsS -w '%{time_total}' "$@")"
        python3 -c 'import json,sys; t=float(sys.argv[1]); print(json.dumps({"seconds": round(t, 3), "mib_per_s": round(int(sys.argv[2]) / t, 1)}))' "$t" "$SIZE_MIB"
    }
    check_sha() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$want" ] || { echo "bench: $1 differs from what was sent" >&2; exit 1; }; rm -f "$1"; }
    # one direct round first (warms the page cache and the emulator)
    curl -fsS -o /dev/null "${auth[@]}" -F "share_id=$share" -F "name=warmup.bin" -F "file=@$big" "$emu/api/v1/files"
    # large VIA PUT-ARGS GET-URL-FOR...: PUT then GET, once per target
    for round in 1 2; do
        record put_large direct "$(curl_timed -o "$tmp/direct.json" "${auth[@]}" -F "share_id=$share" -F "name=direct-$round.bin" -F "file=@$big" "$emu/api/v1/files")"
        fid="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/direct.json")"
        record get_large direct "$(curl_timed -o "$tmp/got" "${auth[@]}" "$emu/api/v1/files/$fid/content")"; check_sha "$tmp/got"

        gateway_phase put_large s3 1 curl_timed -o /dev/null "${sig[@]}" -T "$big" "$s3/documents/large-$round.bin"
        gateway_phase get_large s3 1 curl_timed -o "$tmp/got" "${sig[@]}" "$s3/documents/large-$round.bin"; check_sha "$tmp/got"
        gateway_phase put_large dav 1 curl_timed -o /dev/null "${basic[@]}" -T "$big" "$dav/Documents/large-dav-$round.bin"
        gateway_phase get_large dav 1 curl_timed -o "$tmp/got" "${basic[@]}" "$dav/Documents/large-dav-$round.bin"; check_sha "$tmp/got"

        record put_large rclone-s3 "$(curl_timed -o /dev/null "${sig[@]}" -T "$big" "$rs3/documents/large-$round.bin")"
        record get_large rclone-s3 "$(curl_timed -o "$tmp/got" "${sig[@]}" "$rs3/documents/large-$round.bin")"; check_sha "$tmp/got"
        record put_large rclone-dav "$(curl_timed -o /dev/null "${basic[@]}" -T "$big" "$rdav/Documents/large-$round.bin")"
        record get_large rclone-dav "$(curl_timed -o "$tmp/got" "${basic[@]}" "$rdav/Documents/large-$round.bin")"; check_sha "$tmp/got"
    done

    echo "bench: $SIZE_MIB MiB multipart upload (aws cli)" >&2
    aws_cp() { # endpoint key: aws s3 cp (multipart, 8 MiB parts, 10 in parallel), timed
        local t0 t1
        t0="$(date +%s.%N)"
        env -u AWS_CA_BUNDLE AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_DEFAULT_REGION=us-east-1 \
            AWS_EC2_METADATA_DISABLED=true "$aws" --endpoint-url "$1" s3 cp --only-show-errors "$big" "s3://documents/$2" >&2
        t1="$(date +%s.%N)"
        python3 -c 'import json,sys; t=float(sys.argv[2])-float(sys.argv[1]); print(json.dumps({"seconds": round(t, 3), "mib_per_s": round(int(sys.argv[3]) / t, 1)}))' "$t0" "$t1" "$SIZE_MIB"
    }
    check_size() { # curl args...: HEAD must report the whole size
        local n
        n="$(curl -fsS -I "$@" | tr -d '\r' | awk 'tolower($1)=="content-length:" {print $2}')"
        [ "$n" = "$((SIZE_MIB * 1024 * 1024))" ] || { echo "bench: multipart result has $n bytes" >&2; exit 1; }
    }
    gateway_phase multipart_large s3 1 aws_cp "$s3" multipart.bin
    check_size "${sig[@]}" "$s3/documents/multipart.bin"
    record multipart_large rclone-s3 "$(aws_cp "$rs3" multipart.bin)"
    check_size "${sig[@]}" "$rs3/documents/multipart.bin"
    rm -f "$big"
fi

# --- the workloads users run, and memory under concurrency -------------------------------------
[ -z "$wl" ] || . "$ROOT/bench/workloads.sh"

# --- small objects -----------------------------------------------------------------------------
if [ -n "$st" ]; then
echo "bench: $SMALL_COUNT x 4 KiB PUT, GET, HEAD with $SMALL_PARALLEL clients" >&2
head -c 4096 /dev/urandom >"$tmp/small.bin"
mkfolder() { # name: a folder in the share root, its id
    curl -fsS "${auth[@]}" -H 'Content-Type: application/json' \
        -d "{\"share_id\": \"$share\", \"name\": \"$1\"}" "$emu/api/v1/folders" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
children() { # folder id: ids of its files
    curl -fsS "${auth[@]}" "$emu/api/v1/folders/$1/children?share_id=$share" |
        python3 -c 'import json,sys; [print(i["id"]) for i in json.load(sys.stdin)["items"] if i["type"]=="file"]'
}
small_folder="$(mkfolder small-direct)"
d=(--token "$token" --share "$share")
record small_put direct "$(load small direct "$emu" put "$SMALL_COUNT" "$SMALL_PARALLEL" "${d[@]}" --folder "$small_folder" --body "$tmp/small.bin")"
children "$small_folder" >"$tmp/small-ids"
record small_get direct "$(load small direct "$emu" get "$SMALL_COUNT" "$SMALL_PARALLEL" "${d[@]}" --ids "$tmp/small-ids" --body "$tmp/small.bin")"
record small_head direct "$(load small direct "$emu" head "$SMALL_COUNT" "$SMALL_PARALLEL" "${d[@]}" --ids "$tmp/small-ids")"

k=(--key "$key" --secret "$secret")
if [ -n "$full" ]; then
    for op in put get head; do
        gateway_phase "small_$op" s3 "$SMALL_COUNT" load small s3 "$s3" "$op" "$SMALL_COUNT" "$SMALL_PARALLEL" "${k[@]}" --prefix documents/small-s3 --body "$tmp/small.bin"
    done
    curl -fsS -o /dev/null "${basic[@]}" -X MKCOL "$dav/Documents/small-dav/"
    for op in put get head; do
        gateway_phase "small_$op" dav "$SMALL_COUNT" load small dav "$dav" "$op" "$SMALL_COUNT" "$SMALL_PARALLEL" "${k[@]}" --prefix Documents/small-dav --body "$tmp/small.bin"
    done
    for op in put get head; do
        record "small_$op" rclone-s3 "$(load small s3 "$rs3" "$op" "$SMALL_COUNT" "$SMALL_PARALLEL" "${k[@]}" --prefix documents/small-s3 --body "$tmp/small.bin")"
    done
    curl -fsS -o /dev/null "${basic[@]}" -X MKCOL "$rdav/Documents/small-dav/"
    for op in put get head; do
        record "small_$op" rclone-dav "$(load small dav "$rdav" "$op" "$SMALL_COUNT" "$SMALL_PARALLEL" "${k[@]}" --prefix Documents/small-dav --body "$tmp/small.bin")"
    done
    stop_target gw
fi

# State DB: SQLite (s3) and PostgreSQL (s3-pg) alternating, each round on freshly started
# gateways, then three instances on PostgreSQL (s3-pg3) with the requests round-robin over them:
# PUT i goes to instance i mod 3, its GET to the next one, its HEAD to the one after.
echo "bench: state DB: SQLite and PostgreSQL $pg_version, 1 and 3 instances ($STATE_ROUNDS rounds)" >&2
declare -A via_of=([gw]=s3 [pg1]=s3-pg [pg3]=s3-pg3)
state_small() { # TARGET ROUND
    local op rot=0 ep
    cur="$1"; start_target "$1"
    # Each instance's first request checks the token and fetches the share list and the bucket's
    # folder: done before the phases, so that upstream calls per op compare steady states.
    for ep in ${members[$1]}; do
        curl -fsS -o /dev/null "${sig[@]}" "http://127.0.0.1:${s3_of[$ep]}/documents?list-type=2&max-keys=1"
    done
    # One instance on PostgreSQL trusts its caches unchecked a few seconds after it started
    # (docs/operations.md § Several instances): measured in that steady state.
    if [ "$1" = pg1 ]; then
        for _ in $(seq 1 150); do
            curl -fsS "http://127.0.0.1:${admin_of[pg1-1]}/metrics" | grep -qx 'scaidrive_gateway_cluster_alone 1' && break
            sleep 0.1
        done
    fi
    for op in put get head; do
        gateway_phase "small_$op" "${via_of[$1]}" "$SMALL_COUNT" load small s3 "$(s3_endpoints "$1")" "$op" "$SMALL_COUNT" \
            "$SMALL_PARALLEL" "${k[@]}" --prefix "documents/small-$1-$2" --body "$tmp/small.bin" --rotate "$rot"
        rot=$((rot + 1))
    done
    stop_target "$1"; cur=gw
}
for round in $(seq 1 "$STATE_ROUNDS"); do
    state_small gw "$round"
    state_small pg1 "$round"
done
state_small pg3 1

# --- listings ----------------------------------------------------------------------------------
echo "bench: listing a folder of $LIST_COUNT entries" >&2
printf 'x' >"$tmp/tiny.bin"
list_folder="$(mkfolder list)"
load small direct "$emu" put "$LIST_COUNT" "$SMALL_PARALLEL" "${d[@]}" --folder "$list_folder" --body "$tmp/tiny.bin" >/dev/null
[ -z "$full" ] || "$py" - "$tmp/peer-s3/documents/list" "$tmp/peer-dav/Documents/list" "$LIST_COUNT" <<'PY'
import os, sys
for d in sys.argv[1:3]:
    os.makedirs(d)
    for i in range(1, int(sys.argv[3]) + 1):
        with open(os.path.join(d, f"small-{i}.bin"), "w") as f:
            f.write("x")
PY
record list_cold direct "$(load list direct "$emu" 1 "${d[@]}" --folder "$list_folder")"
record list_warm direct "$(load list direct "$emu" "$LIST_WARM" "${d[@]}" --folder "$list_folder")"
# list_round NAME VIA DIALECT ENDPOINT PREFIX: restart the server, then one cold and LIST_WARM
# warm listings (for a gateway target with its peak RSS, upstream calls and state-DB operations
# per listing; its instances are stopped afterwards). With pg3 the pages go round-robin over the
# three instances.
list_round() {
    local name="$1" via="$2" dialect="$3" endpoint="$4" prefix="$5" res
    if [ -n "${members[$name]:-}" ]; then
        stop_target "$name"
        start_target "$name"
        cur="$name"
        gateway_phase list_cold "$via" 1 load list "$dialect" "$endpoint" 1 "${k[@]}" --prefix "$prefix"
        gateway_phase list_warm "$via" "$LIST_WARM" load list "$dialect" "$endpoint" "$LIST_WARM" "${k[@]}" --prefix "$prefix"
        stop_target "$name"
        cur=gw
    else
        stop "$name"
        "start_${name//-/_}"
        record list_cold "$via" "$(load list "$dialect" "$endpoint" 1 "${k[@]}" --prefix "$prefix")"
        record list_warm "$via" "$(load list "$dialect" "$endpoint" "$LIST_WARM" "${k[@]}" --prefix "$prefix")"
    fi
}
for _ in $(seq 1 "$LIST_COLD"); do
    list_round gw s3 s3 "$s3" documents/list
    if [ -n "$full" ]; then
        list_round gw dav dav "$dav" Documents/list
        list_round rclone-s3 rclone-s3 s3 "$rs3" documents/list
        list_round rclone-dav rclone-dav dav "$rdav" Documents/list
    fi
    list_round pg1 s3-pg s3 "$(s3_endpoints pg1)" documents/list
    list_round pg3 s3-pg3 s3 "$(s3_endpoints pg3)" documents/list
done
fi

# --- report ------------------------------------------------------------------------------------
tools="$full$wl"
"$py" "$ROOT/bench/report.py" "$out" "$RESULTS" \
    "size_mib=$SIZE_MIB" "small_count=$SMALL_COUNT" "small_parallel=$SMALL_PARALLEL" "list_count=$LIST_COUNT" \
    ${st:+"state_rounds=$STATE_ROUNDS" "postgresql=$pg_version" \
        "pg_select1_1_client=$pg_rtt1_ms ms, $pg_tps1/s" "pg_select1_${SMALL_PARALLEL}_clients=$pg_rttn_ms ms, $pg_tpsn/s"} \
    ${tools:+"rclone=$("$rclone" version 2>/dev/null | head -n1)" "aws=$("$aws" --version 2>&1)"} \
    ${wl:+"restic=$(restic version 2>/dev/null | cut -d' ' -f2)" "davfs2=$(dpkg-query -W -f='${Version}' davfs2 2>/dev/null)" \
        "wl_files=$WL_FILES" "wl_restic_mib=$WL_RESTIC_MIB" "conc_mib=$CONC_MIB"}
