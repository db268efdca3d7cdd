#!/usr/bin/env bash
# davfs2 1.6 (FUSE) against a WebDAV endpoint: mount, copy a tree in, unmount (which uploads),
# mount again and compare with diff -r, delete, unmount, and confirm the deletion over HTTP.
# Where the server has the gateway's versions view (WEBDAV_URL is a share), a second mount of
# `.scaidrive-versions/` lists a file's versions with `ls`, and `cp` of an old one restores it.
# Needs root and /dev/fuse; prints SKIP and exits 0 when mounting is not possible here.
# Env: WEBDAV_URL (a collection the scripts may write under) WEBDAV_USER WEBDAV_PASS
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env WEBDAV_URL WEBDAV_USER WEBDAV_PASS
require_cmd curl diff

if [ "$(id -u)" != 0 ]; then skip "davfs2" "needs root to mount"; exit 0; fi
if [ ! -x /sbin/mount.davfs ] && ! command -v mount.davfs >/dev/null; then skip "davfs2" "davfs2 is not installed"; exit 0; fi
if [ ! -c /dev/fuse ]; then skip "davfs2" "/dev/fuse is missing"; exit 0; fi

base="${WEBDAV_URL%/}/"
T="conformance-davfs2-$RUN_ID"
U="$base$T/"
mnt="$WORK/mnt"
mkdir -p "$mnt"
# mount.davfs drops privileges to the davfs2 user, which must reach and write its cache.
chmod 711 "$WORK"
# davfs2 runs as its own user and insists on secrets files owned by root, mode 600.
V="$base.scaidrive-versions/$T/"
printf '%s %s %s\n%s %s %s\n' "$U" "$WEBDAV_USER" "$WEBDAV_PASS" "$V" "$WEBDAV_USER" "$WEBDAV_PASS" >"$WORK/secrets"
chmod 600 "$WORK/secrets"
# write_conf N: a davfs2.conf with its own, empty cache directory, so that the second mount reads
# from the server and not from what the first one cached.
write_conf() {
    mkdir -p "$WORK/cache$1"
    if getent group davfs2 >/dev/null; then chgrp davfs2 "$WORK/cache$1"; chmod 775 "$WORK/cache$1"; fi
    cat >"$WORK/davfs2-$1.conf" <<CONF
secrets $WORK/secrets
cache_dir $WORK/cache$1
buf_size 64
use_locks 0
delay_upload 0
gui_optimize 0
CONF
}
netrc="$WORK/netrc"
printf 'machine %s\nlogin %s\npassword %s\n' "$(echo "$base" | sed -E 's|^[a-z]+://([^/:]+).*|\1|')" "$WEBDAV_USER" "$WEBDAV_PASS" >"$netrc"
chmod 600 "$netrc"
http_status() { curl -sS --netrc-file "$netrc" -o /dev/null -w '%{http_code}' "$@" || true; }
unmount() { umount "$mnt" 2>&1 || { sleep 2; umount "$mnt"; }; }
on_exit "mountpoint -q '$mnt' && umount -l '$mnt'"
on_exit "curl -sS --netrc-file '$netrc' -X DELETE '$U'"

# The collection to mount.
code="$(http_status -X MKCOL "$U")"
expect_eq "mkcol-mount-root" "$code" "201"

dav_mount() { write_conf "$1"; mount -t davfs -o "conf=$WORK/davfs2-$1.conf,uid=0,gid=0" "$U" "$mnt"; }
if ! run dav_mount 1; then
    if grep -qiE 'fuse|not supported|permission denied|operation not permitted' "$LOG"; then
        skip "davfs2" "mount failed: $(head -n1 "$LOG")"; exit 0
    fi
    KEEP_GOING= fail "mount-1"
fi
pass "mount-1"
mountpoint -q "$mnt" && pass "mount-1-is-mountpoint" || KEEP_GOING= fail "mount-1-is-mountpoint"

make_tree "$WORK/tree"
rand_file "$WORK/tree/big.bin" $((8 * 1024 * 1024))
check "copy-tree-in" cp -r "$WORK/tree/." "$mnt/"
check "listing-while-mounted" diff <(tree_listing "$WORK/tree") <(tree_listing "$mnt" | grep -v '^lost+found')
check "umount-1" unmount

# What went over the wire: a file is there over plain HTTP.
code="$(http_status "${U}sub/deeper/hello.txt")"
expect_eq "uploaded-file-visible-over-http" "$code" "200"

# Two versions of hist.txt, written before the second mount so that it knows the file.
history=""
if [ "$(http_status -X PROPFIND -H 'Depth: 0' "$base.scaidrive-versions/")" = 207 ]; then
    history=1
    printf 'first\n' | curl -sS --netrc-file "$netrc" -T - "${U}hist.txt" -o /dev/null
    printf 'second, longer\n' | curl -sS --netrc-file "$netrc" -T - "${U}hist.txt" -o /dev/null
fi
run dav_mount 2 && mountpoint -q "$mnt" && pass "mount-2" || KEEP_GOING= fail "mount-2"
check "diff-after-remount" diff -r --exclude=lost+found --exclude=hist.txt "$WORK/tree" "$mnt"

# Versions: a mount of the versions view, `ls` of hist.txt's versions and a restore by
# `cp` of version 1 onto the live file through the share's mount.
vmnt="$WORK/vmnt"
mkdir -p "$vmnt"
on_exit "mountpoint -q '$vmnt' && umount -l '$vmnt'"
if [ -n "$history" ]; then
    write_conf v
    if run mount -t davfs -o "conf=$WORK/davfs2-v.conf,uid=0,gid=0,ro" "$V" "$vmnt"; then
        pass "mount-versions"
        versions="$(ls "$vmnt/hist.txt/" 2>>"$LOG" || true)"
        echo "$versions" >>"$LOG"
        expect_eq "ls-versions" "$(echo "$versions" | grep -c '^v[0-9]* ')" "2"
        v1="$(echo "$versions" | grep '^v1 ' | head -n1)"
        check "read-version-1" grep -qx first "$vmnt/hist.txt/$v1"
        check "restore-by-cp" cp "$vmnt/hist.txt/$v1" "$mnt/hist.txt"
        check "umount-versions" umount "$vmnt"
    else
        fail "mount-versions"
    fi
else
    skip "davfs2-versions" "no .scaidrive-versions view at $base"
fi

check "delete-file" rm "$mnt/a.bin"
check "delete-tree" rm -r "$mnt/sub"
check "umount-2" unmount
expect_eq "deleted-file-404" "$(http_status "${U}a.bin")" "404"
expect_eq "deleted-tree-404" "$(http_status -X PROPFIND -H 'Depth: 0' "${U}sub/")" "404"
expect_eq "kept-file-200" "$(http_status "${U}b.txt")" "200"
if [ -n "${v1:-}" ]; then
    restored="$(curl -sS --netrc-file "$netrc" "${U}hist.txt" || true)"
    expect_eq "restored-content" "$restored" "first"
fi
finish
