#!/usr/bin/env bash
# Bootstrap the Docker engine for the docker track on a fresh Debian 12 machine (run as root).
# Idempotent: installs only missing Debian packages and starts dockerd only when `docker info`
# fails, so a second run does nothing. The images themselves are built by
# `python -m harness.docker.images` (the tests call it too); this script only provides the engine.
#
# What we found in the CI sandbox (Firecracker VM, kernel 6.x, no systemd as PID 1, cgroup v1
# hybrid, ext4 root, iptables 1.8.9 on nf_tables):
#   * a plain `dockerd` works: storage driver overlay2 (extfs backing, d_type ok), cgroupfs
#     driver, iptables via the nft backend. No extra flags are needed.
#   * containers on a user-defined bridge network reach each other by network alias through
#     Docker's embedded DNS (127.0.0.11) — the pod-to-pod path of the docker track.
#   * `--iptables=false` is NOT a safe fallback on its own: br_netfilter is loaded
#     (net.bridge.bridge-nf-call-iptables=1) and any dockerd that ever ran with iptables sets
#     the FORWARD policy to DROP, so bridged container-to-container traffic is silently dropped
#     (DNS still resolves the alias, the TCP connect times out). When we must fall back to it,
#     we also turn bridge-nf-call-iptables off so the bridge forwards on its own.
#   * systemd is not PID 1, so `systemctl start docker` cannot work; dockerd is started in the
#     background (setsid, log in /tmp/dockerd.log) and spawns its own containerd.
# Fallback ladder when the default start fails: `--storage-driver=vfs` (overlay unavailable,
# e.g. nested overlayfs), then also `--iptables=false`. DOCKERD_FLAGS overrides the ladder.
set -euo pipefail

PKGS=(docker.io docker-registry busybox-static debootstrap)
APT_LOG=/tmp/apt.log
DOCKERD_LOG=/tmp/dockerd.log
DOCKERD_WAIT_S=60

say() { echo "docker-setup: $*" >&2; }
die() { say "error: $*"; exit 1; }

missing_packages() {
  local p missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$p")
  done
  echo "${missing[@]:-}"
}

# Another process (the machine's provisioning) may be running apt right now and logs to
# /tmp/apt.log, ending with a line `done`. Wait for it rather than fight over the dpkg lock.
wait_for_background_apt() {
  local waited=0
  while apt_busy; do
    [ "$waited" -ge 900 ] && die "apt/dpkg still busy after 900 s (see $APT_LOG); retry later"
    [ "$waited" -eq 0 ] && say "waiting for a running apt/dpkg to finish (see $APT_LOG)"
    sleep 5
    waited=$((waited + 5))
  done
}

# Busy = an apt/dpkg process runs, or the provisioning log is unfinished and was written in
# the last two minutes (it may be between two apt commands).
apt_busy() {
  pgrep -x 'apt-get|apt|dpkg' >/dev/null 2>&1 && return 0
  [ -f "$APT_LOG" ] || return 1
  [ "$(tail -n 1 "$APT_LOG")" = "done" ] && return 1
  [ $(($(date +%s) - $(stat -c %Y "$APT_LOG"))) -lt 120 ]
}

install_packages() {
  local missing
  missing="$(missing_packages)"
  [ -z "$missing" ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages: $missing (run this script as root)"
  wait_for_background_apt
  missing="$(missing_packages)"
  [ -z "$missing" ] && return 0
  say "installing:$missing"
  # DPkg::Lock::Timeout makes apt wait for the lock instead of failing if we still race.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  # shellcheck disable=SC2086  # word splitting of the package list is intended
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends $missing >/dev/null
}

docker_up() { docker info >/dev/null 2>&1; }

# Start dockerd with the given flags in its own session (it must outlive this script) and
# wait until the API answers. Returns non-zero, leaving no daemon behind, if it never does.
try_dockerd() {
  local flags="$1" waited=0 pid
  say "starting dockerd ${flags:-(default flags)}; log: $DOCKERD_LOG"
  # shellcheck disable=SC2086  # flags are a word list
  setsid dockerd $flags >>"$DOCKERD_LOG" 2>&1 </dev/null &
  pid=$!
  while [ "$waited" -lt "$DOCKERD_WAIT_S" ]; do
    docker_up && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
    waited=$((waited + 1))
  done
  say "dockerd ${flags:-(default flags)} did not come up; last log lines:"
  tail -n 15 "$DOCKERD_LOG" >&2 || true
  kill "$pid" 2>/dev/null || true
  # dockerd removes its pidfile on exit; wait for it so the next attempt does not collide.
  for _ in $(seq 1 15); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  return 1
}

start_engine() {
  docker_up && { say "docker engine already running"; return 0; }
  command -v dockerd >/dev/null || die "dockerd not found (apt-get install docker.io)"
  [ "$(id -u)" -eq 0 ] || die "docker engine not running and we are not root to start it"
  if [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ]; then
    systemctl start docker && docker_up && return 0
    say "systemctl start docker failed; starting dockerd by hand"
  fi
  if pgrep -x dockerd >/dev/null; then
    say "a dockerd is running but not answering yet; waiting"
    for _ in $(seq 1 "$DOCKERD_WAIT_S"); do docker_up && return 0; sleep 1; done
    die "dockerd runs but \`docker info\` fails; see $DOCKERD_LOG"
  fi
  if [ -n "${DOCKERD_FLAGS:-}" ]; then
    try_dockerd "$DOCKERD_FLAGS" && return 0
    die "dockerd with DOCKERD_FLAGS='$DOCKERD_FLAGS' failed; see $DOCKERD_LOG"
  fi
  try_dockerd "" && return 0
  try_dockerd "--storage-driver=vfs" && return 0
  sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
  try_dockerd "--storage-driver=vfs --iptables=false" && return 0
  die "could not start dockerd with any known flags; see $DOCKERD_LOG"
}

install_packages
start_engine
say "ready: $(docker version --format 'engine {{.Server.Version}}' 2>/dev/null)"
