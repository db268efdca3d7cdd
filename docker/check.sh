#!/usr/bin/env bash
# Builds the image and checks it end to end with real clients, on a machine with Docker:
#   1. docker build; the image's size;
#   2. the container runs as the unprivileged user (id), and `--help` works;
#   3. `docker run` in embedded mode: /readyz, then aws cli with the printed credentials;
#   4. docker compose (the plugin, or docker-compose): emulator + gateway healthy, then aws cli
#      and rclone over S3, rclone over WebDAV, a curl PROPFIND, /metrics; then `down -v`.
#
#   docker/check.sh [docker build arguments, e.g. --network host]
#
# Clients: aws, rclone and curl from PATH, conformance/.venv/bin or conformance/bin
# (conformance/install.sh installs them). Host ports are free ones picked at start.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export PATH="$repo/conformance/bin:$repo/conformance/.venv/bin:$PATH"
for tool in docker aws rclone curl python3; do
    command -v "$tool" >/dev/null || { echo "check.sh: $tool not found (conformance/install.sh)" >&2; exit 1; }
done
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null; then
    compose=(docker-compose)
else
    echo "check.sh: neither 'docker compose' nor docker-compose found" >&2
    exit 1
fi

image=scaidrive-gateway:compose   # the compose file's image: built once, used by both
project="sdgw-check-$$"
single="sdgw-check-single-$$"
tmp="$(mktemp -d)"
cleanup() {
    docker rm -f "$single" >/dev/null 2>&1 || true
    docker volume rm "$single-data" >/dev/null 2>&1 || true
    "${compose[@]}" -f docker/compose.yaml -p "$project" down -v >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { # URL: until it answers 200, at most 120 tries a second apart
    for _ in $(seq 120); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 1
    done
    return 1
}
wait_healthy() { # CONTAINER
    local state
    for _ in $(seq 120); do
        state="$(docker inspect -f '{{.State.Health.Status}}' "$1")"
        [ "$state" = healthy ] && return 0
        sleep 1
    done
    docker logs "$1" >&2 || true
    fail "$1 is $state"
}

# 1. Build.
docker build "$@" -f docker/Dockerfile -t "$image" .
size="$(docker image inspect -f '{{.Size}}' "$image")"
ok "image $image: $size bytes ($((size / 1024 / 1024)) MiB)"

# 2. Non-root, help.
who="$(docker run --rm --entrypoint id "$image")"
[ "$who" = "uid=10001(scaidrive) gid=10001(scaidrive) groups=10001(scaidrive)" ] || fail "id: $who"
ok "runs as: $who"
docker run --rm "$image" --help | grep -q 'Usage: scaidrive-gateway' || fail "--help"
ok "--help"

# 3. docker run, embedded emulator.
s3="$(free_port)"; admin="$(free_port)"
docker run -d --name "$single" -v "$single-data:/data" \
    -p "127.0.0.1:$s3:9000" -p "127.0.0.1:$admin:9090" "$image" >/dev/null
wait_http "http://127.0.0.1:$admin/readyz" || { docker logs "$single" >&2; fail "embedded /readyz"; }
[ "$(docker inspect -f '{{.Config.User}}' "$single")" = 10001:10001 ] || fail "user"
key="$(docker logs "$single" 2>/dev/null | sed -n 's/^export AWS_ACCESS_KEY_ID=//p')"
secret="$(docker logs "$single" 2>/dev/null | sed -n 's/^export AWS_SECRET_ACCESS_KEY=//p')"
if [ -z "$key" ] || [ -z "$secret" ]; then fail "no credentials in the output of serve"; fi
AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_DEFAULT_REGION=us-east-1 \
    aws --endpoint-url "http://127.0.0.1:$s3" s3 ls >"$tmp/single-ls"
grep -q " documents$" "$tmp/single-ls" || fail "embedded: no bucket documents"
ok "docker run (embedded emulator): /readyz 200, aws s3 ls lists documents"
wait_healthy "$single"
ok "docker run: health check healthy"
docker stop -t 40 "$single" >/dev/null
[ "$(docker inspect -f '{{.State.ExitCode}}' "$single")" = 0 ] || fail "exit code after docker stop"
ok "docker stop: exit code 0"

# 4. Compose.
SDGW_S3_PORT="$(free_port)"; SDGW_WEBDAV_PORT="$(free_port)"
SDGW_ADMIN_PORT="$(free_port)"; SDGW_EMULATOR_PORT="$(free_port)"
export SDGW_S3_PORT SDGW_WEBDAV_PORT SDGW_ADMIN_PORT SDGW_EMULATOR_PORT
"${compose[@]}" -f docker/compose.yaml -p "$project" up -d --no-build
gw="$("${compose[@]}" -f docker/compose.yaml -p "$project" ps -q gateway)"
emu="$("${compose[@]}" -f docker/compose.yaml -p "$project" ps -q emulator)"
wait_healthy "$emu"
ok "compose: emulator healthy (/api/v1/ready)"
wait_healthy "$gw"
ok "compose: gateway healthy (/readyz)"

export AWS_ACCESS_KEY_ID=compose-access-key AWS_SECRET_ACCESS_KEY=compose-secret-key
export AWS_DEFAULT_REGION=us-east-1
endpoint="http://127.0.0.1:$SDGW_S3_PORT"
head -c $((12 * 1024 * 1024)) /dev/urandom >"$tmp/big.bin"
aws --endpoint-url "$endpoint" s3 ls | grep -q " photos$" || fail "compose: no bucket photos"
aws --endpoint-url "$endpoint" s3 cp "$tmp/big.bin" s3://documents/check/big.bin >/dev/null
aws --endpoint-url "$endpoint" s3 cp s3://documents/check/big.bin "$tmp/big.back" >/dev/null
cmp "$tmp/big.bin" "$tmp/big.back" || fail "aws round trip differs"
ok "compose: aws s3 cp 12 MiB up (multipart) and back, identical"

cat >"$tmp/rclone.conf" <<CONF
[gw]
type = s3
provider = Other
access_key_id = compose-access-key
secret_access_key = compose-secret-key
endpoint = $endpoint
region = us-east-1

[dav]
type = webdav
url = http://127.0.0.1:$SDGW_WEBDAV_PORT/
vendor = other
user = compose-access-key
pass = $(rclone obscure compose-secret-key)
CONF
mkdir -p "$tmp/tree/sub"
echo "hello from rclone" >"$tmp/tree/a.txt"
echo "é & + name" >"$tmp/tree/sub/b c.txt"
rclone --config "$tmp/rclone.conf" copy "$tmp/tree" gw:photos/tree
rclone --config "$tmp/rclone.conf" check --download "$tmp/tree" dav:Photos/tree
ok "compose: rclone copy over S3, rclone check --download over WebDAV of the same files"

code="$(curl -s -o "$tmp/propfind.xml" -w '%{http_code}' -X PROPFIND -H 'Depth: 1' \
    -u compose-access-key:compose-secret-key "http://127.0.0.1:$SDGW_WEBDAV_PORT/Documents/check/")"
[ "$code" = 207 ] || fail "PROPFIND: $code"
grep -q 'big.bin' "$tmp/propfind.xml" || fail "PROPFIND does not list big.bin"
ok "compose: curl PROPFIND Depth 1 → 207 listing big.bin"

curl -fsS -o "$tmp/metrics" "http://127.0.0.1:$SDGW_ADMIN_PORT/metrics" || fail "/metrics"
grep -q '^scaidrive_gateway_requests_total{protocol="webdav",operation="PROPFIND",status="207"}' \
    "$tmp/metrics" || fail "/metrics does not count the PROPFIND"
ok "compose: /metrics counts the PROPFIND"

"${compose[@]}" -f docker/compose.yaml -p "$project" down -v
ok "compose down -v"
echo "all checks passed"
