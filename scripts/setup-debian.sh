#!/usr/bin/env bash
# Sets up a Debian 12 (bookworm) machine for hpcbench, as root. Idempotent:
# every step checks first and skips what is already there, so a second run
# takes seconds.
#
# Steps: Debian packages; the Docker daemon (started in the background when
# none answers); Podman's containers.conf for this kind of host; Apptainer
# built from Debian's source package when absent; Apptainer configured for
# root without CAP_SYS_RESOURCE.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

[ "$(id -u)" -eq 0 ] || { log "run as root (it installs packages and starts daemons)"; exit 1; }
export DEBIAN_FRONTEND=noninteractive
export PATH=/usr/local/go/bin:$PATH

PACKAGES=(
  build-essential pkg-config git make ca-certificates curl
  mpich libmpich-dev openmpi-bin libopenmpi-dev libpmix-dev libpmi2-0-dev
  hpcc libopenblas0-pthread
  docker.io podman runc crun
  slurm-wlm slurm-client munge
  debootstrap squashfs-tools busybox-static jq poppler-utils iproute2 procps
  # Apptainer build dependencies
  libseccomp-dev libfuse3-dev libsubid-dev uidmap squashfuse fuse3 fuse-overlayfs cryptsetup-bin dpkg-dev
)

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "Debian packages: all present"; return; fi
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_packages
