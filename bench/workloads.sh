# The workloads users run, sourced by bench/run.sh (its servers, helpers and variables): each
# against the gateway (S3 or WebDAV) and the `rclone serve` peer over a local directory.
#
#   rclone sync of a WL_FILES-file tree (bench/tree.py small: 0-64 KiB, one in ten empty, four
#   levels deep, seeded), then the no-op re-sync; aws s3 sync of the same tree; restic backup of a
#   WL_RESTIC_MIB tree (bench/tree.py large) to an S3 repository, then restic check --read-data;
#   davfs2: cp -r of the tree onto a mount, then umount (which uploads what davfs2 cached).
#   Memory under concurrency: CONC_MIB x 16 transfers at once through the gateway (4 S3 PUT,
#   4 WebDAV PUT, 4 S3 GET, 4 WebDAV GET), its peak RSS.
#
# Every tool with its defaults (rclone, aws cli, restic, davfs2), except where a flag is needed to
# reach the server. Each row records seconds, and for the gateway its upstream calls per file of
# the tree (gateway_phase in run.sh).

WL_FILES="${WL_FILES:-3000}"
WL_RESTIC_MIB="${WL_RESTIC_MIB:-400}"
CONC_MIB="${CONC_MIB:-$SIZE_MIB}"
# a peer's workload that has not finished by then is stopped and recorded as not finished (aws cli's
# sync against `rclone serve s3` 1.75 hangs on the tree's empty files)
WL_PEER_TIMEOUT="${WL_PEER_TIMEOUT:-120}"
wl_log="$tmp/workloads.log"

# wl_timed FILES cmd...: runs cmd (output to the log), prints its seconds and files/s as JSON;
# with WL_LIMIT set, stops cmd after WL_LIMIT seconds and prints {"timed_out": WL_LIMIT}
wl_timed() {
    local files="$1" t0 t1 rc=0; shift
    t0="$(date +%s.%N)"
    if [ -n "${WL_LIMIT:-}" ]; then timeout "$WL_LIMIT" "$@" >>"$wl_log" 2>&1 || rc=$?; else "$@" >>"$wl_log" 2>&1 || rc=$?; fi
    if [ "$rc" = 124 ] && [ -n "${WL_LIMIT:-}" ]; then
        echo "bench: not finished after $WL_LIMIT s, stopped: $*" >&2
        echo "{\"timed_out\": $WL_LIMIT, \"seconds\": null}"; return 0
    elif [ "$rc" != 0 ]; then
        echo "bench: failed: $*" >&2; tail -n 30 "$wl_log" >&2; return 1
    fi
    t1="$(date +%s.%N)"
    python3 -c 'import json,sys; t=float(sys.argv[2])-float(sys.argv[1]); print(json.dumps({"seconds": round(t, 3), "files_per_s": round(int(sys.argv[3]) / t, 1)}))' "$t0" "$t1" "$files"
}
# wl_row WORKLOAD VIA FILES cmd...: a gateway row (with its upstream calls per file) when VIA is
# the gateway's, a plain timed row for the peer
wl_row() {
    local workload="$1" via="$2" files="$3"; shift 3
    case "$via" in
        s3 | dav) gateway_phase "$workload" "$via" "$files" wl_timed "$files" "$@" ;;
        *) WL_LIMIT="$WL_PEER_TIMEOUT" wl_peer_row "$workload" "$via" wl_timed "$files" "$@" ;;
    esac
}
# wl_peer_row WORKLOAD VIA cmd...: records cmd's JSON with the ERROR lines the peer logged meanwhile
wl_peer_row() {
    local workload="$1" via="$2" plog="$tmp/$2.log" before res; shift 2
    before="$(grep -c ' ERROR ' "$plog" || true)"
    res="$("$@")"
    record "$workload" "$via" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["peer_errors"]=int(sys.argv[3])-int(sys.argv[2]); print(json.dumps(d))' \
        "$res" "$before" "$(grep -c ' ERROR ' "$plog" || true)")"
}
wl_unfinished() { # WORKLOAD VIA: true when that row was stopped unfinished
    grep -q "\"timed_out\".*\"workload\": \"$1\", \"via\": \"$2\"" "$out"
}
wl_count() { # DIR: the number of files below it
    find "$1" -type f | wc -l
}

echo "bench: workloads: trees ($WL_FILES files; $WL_RESTIC_MIB MiB)" >&2
"$py" "$ROOT/bench/tree.py" small "$tmp/tree" "$WL_FILES" >"$tmp/tree.json"
"$py" "$ROOT/bench/tree.py" large "$tmp/rtree" "$WL_RESTIC_MIB" >"$tmp/rtree.json"
restic_files="$(wl_count "$tmp/rtree")"
aws_env=(env -u AWS_CA_BUNDLE AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_DEFAULT_REGION=us-east-1
    AWS_EC2_METADATA_DISABLED=true)

# --- rclone sync, then the no-op re-sync ---------------------------------------------------------
echo "bench: workloads: rclone sync" >&2
rclone_env() { # ENDPOINT: rclone's `wl` remote on it
    echo RCLONE_CONFIG_WL_TYPE=s3 RCLONE_CONFIG_WL_PROVIDER=Other RCLONE_CONFIG_WL_ENDPOINT="$1" \
        RCLONE_CONFIG_WL_ACCESS_KEY_ID="$key" RCLONE_CONFIG_WL_SECRET_ACCESS_KEY="$secret"
}
for t in "s3 $s3" "rclone-s3 $rs3"; do
    set -- $t
    # shellcheck disable=SC2046
    wl_row rclone_sync "$1" "$WL_FILES" env $(rclone_env "$2") "$rclone" --config /dev/null sync "$tmp/tree" wl:documents/wl-rclone
    # shellcheck disable=SC2046
    wl_row rclone_resync "$1" "$WL_FILES" env $(rclone_env "$2") "$rclone" --config /dev/null sync "$tmp/tree" wl:documents/wl-rclone
    # shellcheck disable=SC2046
    n="$(env $(rclone_env "$2") "$rclone" --config /dev/null lsf -R --files-only wl:documents/wl-rclone | wc -l)"
    [ "$n" = "$WL_FILES" ] || wl_unfinished rclone_resync "$1" || { echo "bench: rclone sync to $1 left $n files, not $WL_FILES" >&2; exit 1; }
done

# --- aws s3 sync ---------------------------------------------------------------------------------
echo "bench: workloads: aws s3 sync" >&2
for t in "s3 $s3" "rclone-s3 $rs3"; do
    set -- $t
    wl_row aws_sync "$1" "$WL_FILES" "${aws_env[@]}" "$aws" --endpoint-url "$2" s3 sync --only-show-errors "$tmp/tree" s3://documents/wl-aws/
    n="$("${aws_env[@]}" "$aws" --endpoint-url "$2" s3 ls --recursive s3://documents/wl-aws/ | wc -l)"
    [ "$n" = "$WL_FILES" ] || wl_unfinished aws_sync "$1" || { echo "bench: aws s3 sync to $1 left $n objects, not $WL_FILES" >&2; exit 1; }
done

# --- restic backup, then check --read-data -----------------------------------------------------
echo "bench: workloads: restic backup of $WL_RESTIC_MIB MiB" >&2
for t in "s3 $s3" "rclone-s3 $rs3"; do
    set -- $t
    r=("${aws_env[@]}" RESTIC_PASSWORD=bench restic --cache-dir "$tmp/restic-cache-$1" -r "s3:$2/documents/wl-restic")
    "${r[@]}" init >>"$wl_log" 2>&1 || { echo "bench: restic init on $1 failed" >&2; tail -n 20 "$wl_log" >&2; exit 1; }
    wl_row restic_backup "$1" "$restic_files" "${r[@]}" backup "$tmp/rtree"
    wl_row restic_check "$1" "$restic_files" "${r[@]}" check --read-data
done

# --- davfs2: cp -r onto a mount, then umount ---------------------------------------------------
# davfs2's defaults, with a cache of its own per mount; mount.davfs runs as the davfs2 user.
echo "bench: workloads: davfs2 cp -r and umount" >&2
dav_mount() { # NAME URL: mounts URL at $tmp/mnt-NAME
    local m="$tmp/mnt-$1" c="$tmp/davcache-$1"
    mkdir -p "$m" "$c"
    if getent group davfs2 >/dev/null; then chgrp davfs2 "$c"; chmod 775 "$c"; fi
    printf '%s %s %s\n' "$2" "$key" "$secret" >"$tmp/davsecrets-$1"
    chmod 600 "$tmp/davsecrets-$1"
    printf 'secrets %s\ncache_dir %s\n' "$tmp/davsecrets-$1" "$c" >"$tmp/davfs2-$1.conf"
    mount -t davfs -o "conf=$tmp/davfs2-$1.conf,uid=0,gid=0" "$2" "$m" >>"$wl_log" 2>&1
}
dav_copy() { # NAME: cp -r of the tree onto the mount, then umount; seconds of each as JSON
    local m="$tmp/mnt-$1" t0 t1 t2
    t0="$(date +%s.%N)"
    cp -r "$tmp/tree/." "$m/" >>"$wl_log" 2>&1 || { echo "bench: cp -r onto $m failed" >&2; return 1; }
    t1="$(date +%s.%N)"
    # umount.davfs waits until mount.davfs has uploaded every file it cached
    umount "$m" >>"$wl_log" 2>&1 || { echo "bench: umount $m failed" >&2; return 1; }
    t2="$(date +%s.%N)"
    python3 -c 'import json,sys; a,b,c=map(float,sys.argv[1:4]); print(json.dumps({"seconds": round(c-a, 3), "cp_seconds": round(b-a, 3), "umount_seconds": round(c-b, 3), "files_per_s": round(int(sys.argv[4]) / (c-a), 1)}))' "$t0" "$t1" "$t2" "$WL_FILES"
}
if [ "$(id -u)" = 0 ] && command -v mount.davfs >/dev/null && [ -c /dev/fuse ]; then
    last_file="$(cd "$tmp/tree" && find . -type f | sort | tail -n1)"
    for t in "dav $dav" "rclone-dav $rdav"; do
        set -- $t
        url="$2/Documents/wl-davfs/"
        curl -fsS -o /dev/null "${basic[@]}" -X MKCOL "$url"
        dav_mount "$1" "$url" || { echo "bench: mount.davfs of $url failed" >&2; tail -n 20 "$wl_log" >&2; exit 1; }
        case "$1" in
            dav) gateway_phase davfs2_cp dav "$WL_FILES" dav_copy "$1" ;;
            *) wl_peer_row davfs2_cp "$1" dav_copy "$1" ;;
        esac
        # the last file copied, deepest in the tree, is there over plain HTTP
        curl -fsS -o /dev/null "${basic[@]}" "$url${last_file#./}" || { echo "bench: davfs2 did not upload ${last_file#./} to $1" >&2; exit 1; }
    done
else
    echo "bench: davfs2 skipped (needs root, mount.davfs and /dev/fuse)" >&2
fi

# --- memory under concurrency ------------------------------------------------------------------
# 16 transfers of CONC_MIB at once: 4 S3 PUT, 4 WebDAV PUT, 4 S3 GET, 4 WebDAV GET of one object
# written before the phase. The uploads land in Documents/conc, removed for good afterwards.
echo "bench: workloads: 16 concurrent $CONC_MIB MiB transfers" >&2
cbig="$tmp/conc.bin"
head -c "$((CONC_MIB * 1024 * 1024))" /dev/urandom >"$cbig"
curl -fsS -o /dev/null "${sig[@]}" -T "$cbig" "$s3/documents/conc/src.bin"
conc_run() { # the 16 transfers; seconds and aggregate MiB/s as JSON
    local t0 t1 i pids=() bad=0 want=$((CONC_MIB * 1024 * 1024))
    t0="$(date +%s.%N)"
    for i in 1 2 3 4; do
        curl -fsS -o /dev/null "${sig[@]}" -T "$cbig" "$s3/documents/conc/up-s3-$i.bin" & pids+=($!)
        curl -fsS -o /dev/null "${basic[@]}" -T "$cbig" "$dav/Documents/conc/up-dav-$i.bin" & pids+=($!)
        curl -fsS -o /dev/null -w '%{size_download}\n' "${sig[@]}" "$s3/documents/conc/src.bin" >>"$tmp/conc.sizes" & pids+=($!)
        curl -fsS -o /dev/null -w '%{size_download}\n' "${basic[@]}" "$dav/Documents/conc/src.bin" >>"$tmp/conc.sizes" & pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || bad=1; done
    t1="$(date +%s.%N)"
    [ "$bad" = 0 ] || { echo "bench: a concurrent transfer failed" >&2; return 1; }
    [ "$(grep -cx "$want" "$tmp/conc.sizes")" = 8 ] || { echo "bench: a concurrent GET came back short" >&2; return 1; }
    python3 -c 'import json,sys; t=float(sys.argv[2])-float(sys.argv[1]); print(json.dumps({"seconds": round(t, 3), "mib_per_s": round(16 * int(sys.argv[3]) / t, 1)}))' "$t0" "$t1" "$CONC_MIB"
}
: >"$tmp/conc.sizes"
gateway_phase concurrent_16 s3+dav 16 conc_run
rm -f "$cbig"
conc_id="$(curl -fsS "${auth[@]}" "$emu/api/v1/folders/root/children?share_id=$share" |
    python3 -c 'import json,sys; print([i["id"] for i in json.load(sys.stdin)["items"] if i["name"]=="conc"][0])')"
curl -fsS -o /dev/null "${auth[@]}" -X DELETE "$emu/api/v1/folders/$conc_id?permanent=true"
