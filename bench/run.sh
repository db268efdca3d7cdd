#!/usr/bin/env bash
# Side-by-side benchmark, one run on this machine: the direct ScaiDrive API (curl straight to the
# emulator: the limit a gateway can reach) against the gateway over S3 and over WebDAV (curl), with
# the gateway and the emulator as separate processes so that the gateway's own peak RSS is seen.
#
#   bench/run.sh                 # SIZE_MIB=1024 SMALL_COUNT=1000 SMALL_PARALLEL=8
#
# Workloads: one large PUT and GET (SIZE_MIB), and SMALL_COUNT × 4 KiB PUT / GET / HEAD with
# SMALL_PARALLEL concurrent clients. Writes bench/results/report.md and report.json; numbers are
# quoted as ratios to the direct API measured in the same run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE_MIB="${SIZE_MIB:-1024}"
SMALL_COUNT="${SMALL_COUNT:-1000}"
SMALL_PARALLEL="${SMALL_PARALLEL:-8}"
results="$ROOT/bench/results"
mkdir -p "$results"

cargo build --release --locked --bin scaidrive-gateway --manifest-path "$ROOT/Cargo.toml" >&2
bin="${CARGO_TARGET_DIR:-$ROOT/target}/release/scaidrive-gateway"

tmp="$(mktemp -d /tmp/scaidrive-bench.XXXXXX)"
pids=()
cleanup() {
    for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
wait_up() {
    for _ in $(seq 1 150); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done
    echo "bench: $1 did not come up" >&2; exit 1
}

# --- the emulator, then the gateway in front of it ---------------------------------------------
emu_port="$(free_port)"
"$bin" emulator --listen "127.0.0.1:$emu_port" --data "$tmp/emu" >"$tmp/emu.out" 2>"$tmp/emu.log" &
pids+=($!)
emu="http://127.0.0.1:$emu_port"
wait_up "$emu/api/v1/health"
token="$(sed -n 's/^export SCAIDRIVE_TOKEN=//p' "$tmp/emu.out" | tr -d "'")"
share="$(curl -fsS -H "Authorization: Bearer $token" "$emu/api/v1/users/me/shares" |
    python3 -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin)["shares"] if s["name"]=="Documents"][0])')"

s3_port="$(free_port)"; dav_port="$(free_port)"; admin_port="$(free_port)"
key=benchaccesskey; secret=benchsecretkey
SCAIDRIVE_URL="$emu" SCAIDRIVE_TOKEN="$token" SCAIDRIVE_GATEWAY_ACCESS_KEY_ID="$key" \
    SCAIDRIVE_GATEWAY_SECRET_ACCESS_KEY="$secret" \
    "$bin" --data-dir "$tmp/gw" --s3-listen "127.0.0.1:$s3_port" --webdav-listen "127.0.0.1:$dav_port" \
    --admin-listen "127.0.0.1:$admin_port" --log-level warn serve >"$tmp/gw.out" 2>"$tmp/gw.log" &
gw_pid=$!
pids+=($gw_pid)
wait_up "http://127.0.0.1:$admin_port/readyz"
s3="http://127.0.0.1:$s3_port"
dav="http://127.0.0.1:$dav_port/Documents"
sig=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
auth=(-H "Authorization: Bearer $token")
peak_rss_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$gw_pid/status"; }

# --- large object ------------------------------------------------------------------------------
big="$tmp/big.bin"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$big"
want="$(sha256sum "$big" | cut -d' ' -f1)"
declare -A secs
timed() { # name cmd...: runs cmd, records seconds
    local name="$1"; shift
    local t0 t1
    t0="$(now)"; "$@"; t1="$(now)"
    secs[$name]="$(python3 -c "print(round($t1 - $t0, 3))")"
}
check_sha() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$want" ] || { echo "bench: $1 differs" >&2; exit 1; }; }

put_direct() { curl -fsS -o "$tmp/direct.json" "${auth[@]}" -F "share_id=$share" -F "name=direct.bin" -F "file=@$big" "$emu/api/v1/files"; }
timed direct_put put_direct
fid="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/direct.json")"
timed direct_get curl -fsS -o "$tmp/direct.out" "${auth[@]}" "$emu/api/v1/files/$fid/content"
check_sha "$tmp/direct.out"; rm -f "$tmp/direct.out"

timed s3_put curl -fsS -o /dev/null "${sig[@]}" -T "$big" "$s3/documents/s3.bin"
timed s3_get curl -fsS -o "$tmp/s3.out" "${sig[@]}" "$s3/documents/s3.bin"
check_sha "$tmp/s3.out"; rm -f "$tmp/s3.out"
rss_after_s3="$(peak_rss_mib)"

timed dav_put curl -fsS -o /dev/null -u "$key:$secret" -T "$big" "$dav/dav.bin"
timed dav_get curl -fsS -o "$tmp/dav.out" -u "$key:$secret" "$dav/dav.bin"
check_sha "$tmp/dav.out"; rm -f "$tmp/dav.out" "$big"
rss_after_large="$(peak_rss_mib)"

# --- small objects -----------------------------------------------------------------------------
head -c 4096 /dev/urandom >"$tmp/small.bin"
small_run() { # name command-template (with {} for the index)
    local name="$1" tpl="$2" t0 t1
    t0="$(now)"
    seq 1 "$SMALL_COUNT" | xargs -P "$SMALL_PARALLEL" -I{} bash -c "$tpl" >/dev/null
    t1="$(now)"
    secs[$name]="$(python3 -c "print(round($t1 - $t0, 3))")"
}
export emu share token s3 dav key secret tmp
small_run direct_small_put 'curl -fsS -o /dev/null -H "Authorization: Bearer $token" -F "share_id=$share" -F "name=small-{}.bin" -F "file=@$tmp/small.bin" "$emu/api/v1/files"'
curl -fsS "${auth[@]}" "$emu/api/v1/folders/root/children?share_id=$share" |
    python3 -c 'import json,sys; [print(i["id"]) for i in json.load(sys.stdin)["items"] if i["name"].startswith("small-")]' >"$tmp/small-ids"
t0="$(now)"; xargs -P "$SMALL_PARALLEL" -I{} curl -fsS -o /dev/null "${auth[@]}" "$emu/api/v1/files/{}/content" <"$tmp/small-ids"; t1="$(now)"
secs[direct_small_get]="$(python3 -c "print(round($t1 - $t0, 3))")"
t0="$(now)"; xargs -P "$SMALL_PARALLEL" -I{} curl -fsS -o /dev/null "${auth[@]}" "$emu/api/v1/files/{}" <"$tmp/small-ids"; t1="$(now)"
secs[direct_small_head]="$(python3 -c "print(round($t1 - $t0, 3))")"

sigs='--aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD"'
small_run s3_small_put "curl -fsS -o /dev/null $sigs -T \$tmp/small.bin \$s3/documents/bench-small/{}.bin"
small_run s3_small_get "curl -fsS -o /dev/null $sigs \$s3/documents/bench-small/{}.bin"
small_run s3_small_head "curl -fsS -o /dev/null -I $sigs \$s3/documents/bench-small/{}.bin"
curl -fsS -o /dev/null -u "$key:$secret" -X MKCOL "$dav/bench-dav/"
small_run dav_small_put 'curl -fsS -o /dev/null -u "$key:$secret" -T "$tmp/small.bin" "$dav/bench-dav/{}.bin"'
small_run dav_small_get 'curl -fsS -o /dev/null -u "$key:$secret" "$dav/bench-dav/{}.bin"'
small_run dav_small_head 'curl -fsS -o /dev/null -I -u "$key:$secret" "$dav/bench-dav/{}.bin"'
rss_peak="$(peak_rss_mib)"
upstream_calls="$(curl -fsS "http://127.0.0.1:$admin_port/metrics" | awk '/^scaidrive_gateway_upstream_requests_total/ {n += $NF} END {print n+0}')"

# --- report ------------------------------------------------------------------------------------
python3 - "$results" "$SIZE_MIB" "$SMALL_COUNT" "$SMALL_PARALLEL" "$rss_after_s3" "$rss_after_large" "$rss_peak" "$upstream_calls" <<PY
import json, sys, platform, datetime
out, size, count, par, rss_s3, rss_large, rss_peak, calls = sys.argv[1:]
size, count = int(size), int(count)
secs = {$(for k in "${!secs[@]}"; do printf '"%s": %s, ' "$k" "${secs[$k]}"; done)}
mibps = lambda k: size / secs[k]
ops = lambda k: count / secs[k]
rows = []
for op in ("put", "get"):
    d = mibps(f"direct_{op}")
    for proto in ("s3", "dav"):
        v = mibps(f"{proto}_{op}")
        rows.append((f"{size} MiB {op.upper()}", proto, f"{v:.0f} MiB/s", f"{v / d:.2f}x", "0.9x"))
for op in ("put", "get", "head"):
    d = ops(f"direct_small_{op}")
    for proto in ("s3", "dav"):
        v = ops(f"{proto}_small_{op}")
        rows.append((f"{count} x 4 KiB {op.upper()} ({par} clients)", proto, f"{v:.0f} ops/s", f"{v / d:.2f}x", "0.7x"))
report = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": platform.platform(),
    "seconds": secs,
    "gateway_peak_rss_mib": {"after_s3_large": float(rss_s3), "after_webdav_large": float(rss_large), "end": float(rss_peak)},
    "gateway_upstream_calls_total": int(calls),
    "rows": [dict(zip(("workload", "via", "value", "ratio_to_direct", "target"), r)) for r in rows],
}
json.dump(report, open(f"{out}/report.json", "w"), indent=2)
lines = [f"# Benchmark {report['date']}", "", f"Machine: {report['machine']}. Direct = curl to the emulator's API; the gateway runs as its own process in front of it.", "",
         "| workload | via | value | ratio to direct | target |", "|---|---|---|---|---|"]
lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
lines += ["", f"Gateway peak RSS (VmHWM): {rss_s3} MiB after the S3 large PUT/GET, {rss_large} MiB after WebDAV, {rss_peak} MiB at the end (target 64 MiB).",
          f"Upstream calls made by the gateway in the whole run: {calls}.", ""]
open(f"{out}/report.md", "w").write("\n".join(lines))
print("\n".join(lines))
PY
