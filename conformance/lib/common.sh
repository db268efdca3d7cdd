# Shared helpers for the client scripts. Source it; it sets `set -euo pipefail`.
#
# Every check prints exactly one line, `PASS name` or `FAIL name: why`; the first FAIL ends the
# script with exit code 1 (after printing the tail of the failing command's log). With KEEP_GOING=1
# the script goes on after a FAIL (later checks may then fail as a consequence) and exits 1 at the
# end. `SKIP name: why` marks a check that cannot run here (and does not fail the script).
set -euo pipefail

CONF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$CONF_DIR/.venv/bin:$CONF_DIR/bin:$PATH"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_EC2_METADATA_DISABLED=true
export AWS_PAGER=""
# The image points AWS_CA_BUNDLE at the system store; some clients refuse it or use it against
# plain-HTTP endpoints. Nothing here speaks HTTPS unless the caller says so.
case "${S3_ENDPOINT:-}${WEBDAV_URL:-}" in
    *https://*) ;;
    *) unset AWS_CA_BUNDLE ;;
esac

SCRIPT_NAME="$(basename "$0")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/conformance.${SCRIPT_NAME%.*}.XXXXXX")"
LOG="$WORK/last.log"
# A prefix unique to this run, so repeated runs and parallel scripts never collide.
RUN_ID="${RUN_ID:-$(date +%s)-$$}"
_cleanup_hooks=()
on_exit() { _cleanup_hooks+=("$1"); }
_run_cleanup() {
    local rc=$?
    local h
    if [ "$rc" = 0 ] && [ "$FAILS" -gt 0 ]; then rc=1; fi
    if [ "$FAILS" -gt 0 ]; then echo "# $SCRIPT_NAME: $FAILS check(s) failed"; fi
    for h in "${_cleanup_hooks[@]+"${_cleanup_hooks[@]}"}"; do eval "$h" >/dev/null 2>&1 || true; done
    if [ -n "${KEEP_WORK:-}" ]; then echo "# work dir kept: $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap _run_cleanup EXIT

FAILS=0
pass() { echo "PASS $1"; }
skip() { echo "SKIP $1${2:+: $2}"; }
fail() {
    echo "FAIL $1${2:+: $2}"
    if [ -s "$LOG" ]; then
        echo "---- last command output (tail) ----"
        tail -n 25 "$LOG" | sed 's/^/    /'
        echo "------------------------------------"
    fi
    FAILS=$((FAILS + 1))
    if [ -n "${KEEP_GOING:-}" ]; then return 0; fi
    exit 1
}

# run CMD...: run a command with stdout+stderr to $LOG; returns its exit code.
run() { "$@" >"$LOG" 2>&1; }

# check NAME CMD...: PASS if CMD exits 0, else FAIL (with the log).
check() {
    local name="$1"; shift
    if run "$@"; then pass "$name"; else fail "$name" "exit code $? from: $*"; fi
}

# expect NAME WHAT ACTUAL WANTED: compare two strings.
expect_eq() {
    local name="$1" actual="$2" wanted="$3"
    if [ "$actual" == "$wanted" ]; then pass "$name"; else fail "$name" "got '$actual', want '$wanted'"; fi
}

require_env() {
    local v
    for v in "$@"; do
        if [ -z "${!v:-}" ]; then echo "FAIL setup: environment variable $v is required"; exit 2; fi
    done
}

require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || { echo "FAIL setup: '$c' not found (run conformance/install.sh)"; exit 2; }
    done
}

# rand_file PATH BYTES: a file of random bytes (not compressible, so sizes are real).
rand_file() { head -c "$2" /dev/urandom >"$1"; }

# make_tree DIR: a small tree with nested folders, awkward names and sizes from 0 B to 1 MiB.
make_tree() {
    local d="$1"
    mkdir -p "$d/sub/deeper" "$d/with space" "$d/ünïcödé"
    rand_file "$d/a.bin" 1024
    rand_file "$d/b.txt" 13
    : >"$d/empty.txt"
    rand_file "$d/sub/c.bin" 300000
    rand_file "$d/sub/deeper/d.bin" 1048576
    rand_file "$d/with space/e f.txt" 777
    rand_file "$d/ünïcödé/ü.bin" 4096
    echo "hello" >"$d/sub/deeper/hello.txt"
}

# tree_listing DIR: sorted relative file paths with sizes, for comparing listings.
tree_listing() { (cd "$1" && find . -type f -printf '%P %s\n' | LC_ALL=C sort); }

# s3_host_port: host:port of $S3_ENDPOINT.
s3_host_port() { local u="${S3_ENDPOINT#*://}"; echo "${u%%/*}"; }

# finish: the closing line of a script whose checks all ran.
finish() {
    if [ "$FAILS" = 0 ]; then echo "# $SCRIPT_NAME: all checks passed"; fi
}

# s3_multipart_etag FILE PART_BYTES: the ETag S3 gives a multipart upload of FILE in parts of
# PART_BYTES: md5 of the concatenated binary part md5s, "-" and the part count.
s3_multipart_etag() {
    python3 - "$1" "$2" <<'PY'
import hashlib, sys
path, size = sys.argv[1], int(sys.argv[2])
digests = []
with open(path, "rb") as f:
    while chunk := f.read(size):
        digests.append(hashlib.md5(chunk).digest())
print(f'"{hashlib.md5(b"".join(digests)).hexdigest()}-{len(digests)}"')
PY
}
