#!/usr/bin/env bash
# Side-by-side benchmark, one run on this machine. Targets, each its own process:
#
#   direct     the ScaiDrive API itself (the emulator, straight): the limit a gateway can reach
#   s3, dav    the gateway over S3 and over WebDAV, in front of the same emulator
#   rclone-s3, rclone-dav
#              `rclone serve s3` / `rclone serve webdav` over a local directory: the peer a user
#              could run on a synced folder
#
# Workloads: SIZE_MIB single PUT and GET (curl); SIZE_MIB multipart upload (aws cli, 8 MiB
# parts); SMALL_COUNT x 4 KiB PUT, GET, HEAD with SMALL_PARALLEL concurrent clients
# (bench/load.py, keep-alive connections); ListObjectsV2 (all pages) and PROPFIND Depth 1 of a
# LIST_COUNT-entry folder, cold (first listing after the server started) and warm.
#
# Reports throughput or ops/s, p50/p99 latency, the gateway's peak RSS per phase (VmHWM, reset
# between phases) and upstream calls per operation (the gateway's admin /metrics), as ratios to
# the direct API measured in the same run, into bench/results/report.md, report.json, chart.png.
#
#   bench/run.sh            # SIZE_MIB=1024 SMALL_COUNT=1000 LIST_COUNT=10000 (about 10 minutes)
#   bench/run.sh --quick    # SIZE_MIB=64 SMALL_COUNT=200 LIST_COUNT=1000, to try it out
#
# Needs: cargo, curl, python3 (Debian 12). Installs rclone and aws cli (conformance/install.sh)
# and matplotlib (a venv in bench/.venv). Never run in CI: numbers depend on the machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "${1:-}" = "--quick" ]; then
    : "${SIZE_MIB:=64}" "${SMALL_COUNT:=200}" "${LIST_COUNT:=1000}" "${RESULTS:=$ROOT/bench/results/quick}"
fi
SIZE_MIB="${SIZE_MIB:-1024}"
SMALL_COUNT="${SMALL_COUNT:-1000}"
SMALL_PARALLEL="${SMALL_PARALLEL:-8}"
LIST_COUNT="${LIST_COUNT:-10000}"
LIST_WARM="${LIST_WARM:-5}"   # warm listings after each cold one
LIST_COLD="${LIST_COLD:-3}"   # cold listings (each on a freshly started server)
RESULTS="${RESULTS:-$ROOT/bench/results}"
mkdir -p "$RESULTS"

# --- tools and build ---------------------------------------------------------------------------
"$ROOT/conformance/install.sh" >/dev/null
rclone="$ROOT/conformance/bin/rclone"
aws="$ROOT/conformance/.venv/bin/aws"
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
    for p in "${pid_of[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
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
start_gw() {
    SCAIDRIVE_URL="$emu" SCAIDRIVE_TOKEN="$token" SCAIDRIVE_GATEWAY_ACCESS_KEY_ID="$key" \
        SCAIDRIVE_GATEWAY_SECRET_ACCESS_KEY="$secret" \
        "$bin" --data-dir "$tmp/gw" --s3-listen "127.0.0.1:$s3_port" --webdav-listen "127.0.0.1:$dav_port" \
        --admin-listen "127.0.0.1:$admin_port" --log-level warn serve >>"$tmp/gw.out" 2>>"$tmp/gw.log" &
    pid_of[gw]=$!
    wait_up "$admin/readyz" -f
}
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
mkdir -p "$tmp/peer-s3/documents" "$tmp/peer-dav/Documents"
start_gw
start_rclone_s3
start_rclone_dav

# Gateway peak RSS per phase: VmHWM, reset through clear_refs at the start of each phase.
rss_reset() { echo 5 >"/proc/${pid_of[gw]}/clear_refs"; }
rss_peak() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/${pid_of[gw]}/status"; }
# Upstream calls made for the requests: the change-feed polls the gateway makes in the background
# (every 2 s per share in use) are left out.
upstream_calls() { curl -fsS "$admin/metrics" | awk '/^scaidrive_gateway_upstream_requests_total/ && !/sync\/changes/ {n += $NF} END {print n+0}'; }
# gateway_phase WORKLOAD VIA OPS cmd...: runs cmd, records its JSON (stdout) plus the gateway's
# peak RSS and upstream calls per operation.
gateway_phase() {
    local workload="$1" via="$2" ops="$3"; shift 3
    local before res
    before="$(upstream_calls)"; rss_reset
    res="$("$@")"
    res="$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(rss_mib=float(sys.argv[2]), upstream_per_op=(int(sys.argv[4])-int(sys.argv[3]))/int(sys.argv[5])); print(json.dumps(d))' \
        "$res" "$(rss_peak)" "$before" "$(upstream_calls)" "$ops")"
    record "$workload" "$via" "$res"
}

sig=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
basic=(-u "$key:$secret")

# --- large objects -----------------------------------------------------------------------------
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

# --- small objects -----------------------------------------------------------------------------
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

# --- listings ----------------------------------------------------------------------------------
echo "bench: listing a folder of $LIST_COUNT entries" >&2
printf 'x' >"$tmp/tiny.bin"
list_folder="$(mkfolder list)"
load small direct "$emu" put "$LIST_COUNT" "$SMALL_PARALLEL" "${d[@]}" --folder "$list_folder" --body "$tmp/tiny.bin" >/dev/null
"$py" - "$tmp/peer-s3/documents/list" "$tmp/peer-dav/Documents/list" "$LIST_COUNT" <<'PY'
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
# warm listings (for the gateway with its peak RSS and upstream calls per listing).
list_round() {
    local name="$1" via="$2" dialect="$3" endpoint="$4" prefix="$5" res
    stop "$name"
    "start_${name//-/_}"
    if [ "$name" = gw ]; then
        gateway_phase list_cold "$via" 1 load list "$dialect" "$endpoint" 1 "${k[@]}" --prefix "$prefix"
        gateway_phase list_warm "$via" "$LIST_WARM" load list "$dialect" "$endpoint" "$LIST_WARM" "${k[@]}" --prefix "$prefix"
    else
        record list_cold "$via" "$(load list "$dialect" "$endpoint" 1 "${k[@]}" --prefix "$prefix")"
        record list_warm "$via" "$(load list "$dialect" "$endpoint" "$LIST_WARM" "${k[@]}" --prefix "$prefix")"
    fi
}
for _ in $(seq 1 "$LIST_COLD"); do
    list_round gw s3 s3 "$s3" documents/list
    list_round gw dav dav "$dav" Documents/list
    list_round rclone-s3 rclone-s3 s3 "$rs3" documents/list
    list_round rclone-dav rclone-dav dav "$rdav" Documents/list
done

# --- report ------------------------------------------------------------------------------------
"$py" "$ROOT/bench/report.py" "$out" "$RESULTS" \
    "size_mib=$SIZE_MIB" "small_count=$SMALL_COUNT" "small_parallel=$SMALL_PARALLEL" "list_count=$LIST_COUNT" \
    "rclone=$("$rclone" version 2>/dev/null | head -n1)" "aws=$("$aws" --version 2>&1)"
