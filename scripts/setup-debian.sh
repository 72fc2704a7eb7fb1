#!/usr/bin/env bash
# Sets up a Debian 12 (bookworm) machine for hpcbench, as root. Idempotent:
# every step checks first and skips what is already there, so a second run
# takes seconds.
#
# Steps:
#   1. Debian packages (MPI, PMI, HPL, container runtimes, Slurm, build tools)
#   2. Go 1.26 at /usr/local/go (checked, never installed from Debian)
#   3. the Docker daemon, started in the background when none answers
#   4. Podman's containers.conf for this kind of host (runc, no default ulimits)
#   5. Apptainer, built from Debian sid's source package when absent
#   6. Apptainer configured for root without CAP_SYS_RESOURCE, checked by a
#      real exec of a tiny busybox SIF
#   7. Charliecloud's ch-run checked by a real run of the busybox folder
#   8. hpcbench's three MPICH 4.0.2 builds, one per PMI flavour, under
#      /opt/hpcbench (scripts/build-mpich.sh; skipped when complete). They
#      build in the background from step 3 on: their configure scripts are
#      mostly one process at a time, so on 2 cores they overlap the Apptainer
#      build well. Log lines of that build start with "build-mpich:".
# Slurm is installed but not started: tests start their own (scripts/slurm-up.sh).
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts daemons)"
export DEBIAN_FRONTEND=noninteractive
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE_DIR=/var/cache/hpcbench
DOCKERD_LOG=/var/log/hpcbench-dockerd.log
APPTAINER_CONF=/usr/local/etc/apptainer/apptainer.conf
started=$SECONDS

mkdir -p "$STATE_DIR"
# Two setups at once (several checkouts running `make test`) would fight over
# dpkg and dockerd; the second one waits here.
exec 9>"$STATE_DIR/setup.flock"
flock 9

PACKAGES=(
  build-essential pkg-config git make ca-certificates curl
  mpich libmpich-dev openmpi-bin libopenmpi-dev libpmix-dev libpmi2-0-dev
  hpcc libopenblas0-pthread
  docker.io podman runc crun charliecloud-runtime charliecloud-builders
  slurm-wlm slurm-client munge
  debootstrap squashfs-tools busybox-static jq poppler-utils iproute2 procps
  libcap2-bin
  # MPICH build dependencies (scripts/build-mpich.sh)
  gfortran libucx-dev libhwloc-dev ccache
  # Apptainer build dependencies
  libseccomp-dev libfuse3-dev libsubid-dev uidmap squashfuse fuse3 fuse-overlayfs cryptsetup-bin dpkg-dev
)

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "Debian packages: all ${#PACKAGES[@]} present"; return; fi
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

check_go() {
  local go=/usr/local/go/bin/go v minor
  [ -x "$go" ] || die "Go not found at $go. Install the official Go 1.26 release tarball for linux-amd64 into /usr/local/go. Do not install Debian's golang package: it is 1.19, too old for hpcbench's modules."
  v=$("$go" env GOVERSION)          # e.g. go1.26.8
  minor=$(printf '%s' "$v" | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
  [ -n "$minor" ] && [ "$minor" -ge 26 ] || die "$go is $v; hpcbench needs Go 1.26 or newer in /usr/local/go"
  log "Go: $v"
}

start_docker() {
  if docker info >/dev/null 2>&1; then log "Docker: daemon answers"; return; fi
  command -v dockerd >/dev/null || die "dockerd not found (Debian package docker.io)"
  log "Docker: starting dockerd in the background (log: $DOCKERD_LOG)"
  # 9>&- : the daemon must not inherit (and hold) the setup lock.
  setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
  local i
  for i in $(seq 1 120); do
    if [ -S /var/run/docker.sock ] && docker info >/dev/null 2>&1; then
      log "Docker: daemon up after $((i / 2)) s"; return
    fi
    sleep 0.5
  done
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer within 60 s; see $DOCKERD_LOG"
}

# A minimal rootfs (busybox-static only) used to check Podman and Apptainer
# for real without any image registry.
busybox_rootfs() {
  local dir=$STATE_DIR/busybox-rootfs
  if [ ! -x "$dir/bin/busybox" ]; then
    mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/proc" "$dir/sys" "$dir/dev"
    cp /bin/busybox "$dir/bin/busybox"
    ln -sf busybox "$dir/bin/sh"
    ln -sf busybox "$dir/bin/true"
  fi
  printf '%s' "$dir"
}

PODMAN_SETTINGS='# Written by hpcbench scripts/setup-debian.sh.
# crun fails on this kind of host ("cgroups in hybrid mode not supported") and
# the default ulimits fail because root lacks CAP_SYS_RESOURCE.
[containers]
default_ulimits = []

[engine]
runtime = "runc"'

configure_podman() {
  local main=/etc/containers/containers.conf dropin=/etc/containers/containers.conf.d/hpcbench.conf target
  if [ ! -e "$main" ] || grep -q 'hpcbench scripts/setup-debian.sh' "$main"; then
    target=$main
  else
    target=$dropin   # someone else's containers.conf: leave it, add a drop-in
  fi
  if [ "$(cat "$target" 2>/dev/null)" != "$PODMAN_SETTINGS" ]; then
    mkdir -p "$(dirname "$target")"
    printf '%s\n' "$PODMAN_SETTINGS" >"$target.tmp" && mv "$target.tmp" "$target"
    log "Podman: wrote $target"
  fi
  local runtime
  runtime=$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>&1) || die "podman info fails: $runtime"
  [ "$runtime" = runc ] || die "podman uses OCI runtime '$runtime', expected runc from $target"
  local out rootfs
  rootfs=$(busybox_rootfs)
  out=$(podman run --rm --rootfs "$rootfs" /bin/busybox echo podman-ok 2>&1 9>&-) || die "podman run fails: $out"
  [ "$out" = podman-ok ] || die "podman run printed '$out', expected podman-ok"
  log "Podman: runtime runc, podman run works"
}

build_apptainer() {
  if apptainer version >/dev/null 2>&1; then log "Apptainer: $(apptainer version) installed"; return; fi
  local work=$STATE_DIR/apptainer aptdir src version mirror
  local t0=$SECONDS
  aptdir=$work/apt
  mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/parts" "$work/src"
  mirror=$("$SCRIPT_DIR/debian-mirror.sh") || die "cannot fetch Apptainer's source without a Debian mirror"
  printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s sid main\n' "$mirror" >"$aptdir/sid-src.list"
  # A private apt state: the machine's own sources and lists stay bookworm only.
  local apt_private=(
    -o "Dir::Etc::SourceList=$aptdir/sid-src.list"
    -o "Dir::Etc::SourceParts=$aptdir/parts"
    -o "Dir::State::Lists=$aptdir/lists"
    -o "Dir::Cache=$aptdir/cache"
    -o "APT::Sandbox::User=root"
  )
  src=$(find "$work/src" -maxdepth 1 -type d -name 'apptainer-*' | head -n 1)
  if [ -z "$src" ]; then
    log "Apptainer: fetching the source package from Debian sid"
    apt-get "${apt_private[@]}" -qq update
    (cd "$work/src" && apt-get "${apt_private[@]}" -qq --download-only source apptainer >"$work/source.log" 2>&1) \
      || { tail -n 20 "$work/source.log" >&2; die "apt-get source apptainer failed; see $work/source.log"; }
    local dsc
    dsc=$(find "$work/src" -maxdepth 1 -name 'apptainer_*.dsc' | sort | tail -n 1)
    [ -n "$dsc" ] || die "apt-get source apptainer left no apptainer_*.dsc in $work/src"
    # Upstream source without Debian's patches: those switch imports to
    # Debian's own Go packages without updating go.mod, which breaks a
    # module-mode build.
    (cd "$work/src" && dpkg-source -x --skip-patches "$dsc" >>"$work/source.log" 2>&1) \
      || { tail -n 20 "$work/source.log" >&2; die "dpkg-source -x $dsc failed; see $work/source.log"; }
    src=$(find "$work/src" -maxdepth 1 -type d -name 'apptainer-*' | head -n 1)
    [ -n "$src" ] || die "dpkg-source left no apptainer-* folder in $work/src"
  fi
  version=${src##*/apptainer-}
  version=${version%%+*}
  # The release tarball has no VERSION file and no .git to take it from.
  [ -s "$src/VERSION" ] || printf '%s\n' "$version" >"$src/VERSION"
  log "Apptainer: building $version from $src (about 10 minutes cold; log: $work/build.log)"
  (
    cd "$src"
    # The build runs `go clean -cache`: keep that away from everyone else's cache.
    export GOCACHE=$work/gocache GOTOOLCHAIN=local
    # A builddir without a Makefile is what a failed mconfig leaves behind.
    if [ ! -f builddir/Makefile ]; then
      rm -rf builddir
      ./mconfig -b builddir --prefix=/usr/local --without-network
    fi
    make -C builddir -j2
    make -C builddir install
  ) >"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log" >&2; die "Apptainer build failed; see $work/build.log"; }
  hash -r
  apptainer version >/dev/null 2>&1 || die "Apptainer installed but 'apptainer version' does not answer"
  log "Apptainer: $(apptainer version) built and installed in $((SECONDS - t0)) s"
}

# Root here lacks CAP_SYS_RESOURCE, and Apptainer by default asks for every
# capability for root, so every exec fails. Root gets the capabilities this
# machine has, minus CAP_SYS_RESOURCE, from Apptainer's capability file.
configure_apptainer() {
  [ -f "$APPTAINER_CONF" ] || die "$APPTAINER_CONF missing after the Apptainer install"
  if ! grep -q '^root default capabilities = file$' "$APPTAINER_CONF"; then
    sed -i 's/^root default capabilities = .*/root default capabilities = file/' "$APPTAINER_CONF"
    grep -q '^root default capabilities = file$' "$APPTAINER_CONF" \
      || printf 'root default capabilities = file\n' >>"$APPTAINER_CONF"
    log "Apptainer: root default capabilities = file in $APPTAINER_CONF"
  fi
  local bounding wanted have
  bounding=$(capsh --decode="$(awk '/^CapBnd:/ {print $2}' /proc/self/status)" | sed 's/.*=//' | tr 'a-z' 'A-Z' | tr ',' '\n')
  wanted=$(apptainer capability avail 2>/dev/null | sed -n 's/^\(CAP_[A-Z_]*\):.*/\1/p' \
    | grep -vx CAP_SYS_RESOURCE | grep -Fx -f <(printf '%s\n' "$bounding") | sort -u)
  [ -n "$wanted" ] || die "found no capabilities to grant root (apptainer capability avail / CapBnd)"
  # `apptainer capability list root` prints "root [user]: CAP_A,CAP_B,..."
  have=$(apptainer capability list root 2>/dev/null | sed -n 's/^root \[user\]: *//p' | tr ',' '\n' | grep -x 'CAP_[A-Z_]*' | sort -u || true)
  if [ "$wanted" != "$have" ]; then
    apptainer capability drop --user root all >/dev/null 2>&1 || true
    # It warns once per capability that root may escalate: root already can.
    apptainer capability add --user root "$(printf '%s' "$wanted" | paste -sd, -)" >/dev/null 2>&1 \
      || die "apptainer capability add --user root failed"
    log "Apptainer: granted root $(printf '%s\n' "$wanted" | wc -l) capabilities (all available but CAP_SYS_RESOURCE)"
  fi
  local sif=$STATE_DIR/busybox.sif out
  if [ ! -s "$sif" ]; then
    out=$(apptainer -s build "$sif.tmp" "$(busybox_rootfs)" 2>&1) || die "apptainer build of $sif failed: $out"
    mv "$sif.tmp" "$sif"
  fi
  out=$(apptainer -s exec "$sif" /bin/busybox echo apptainer-ok 2>&1) || die "apptainer exec $sif fails: $out"
  [ "$out" = apptainer-ok ] || die "apptainer exec printed '$out', expected apptainer-ok"
  log "Apptainer: exec of $sif works as root"
}

# ch-run needs $USER, and runs a folder image as it is: the busybox folder
# (which has no /etc/passwd for ch-run to bind over, hence --no-passwd).
check_charliecloud() {
  local out version
  version=$(USER=${USER:-root} ch-run --version 2>&1) || die "ch-run --version fails: $version"
  out=$(cd / && USER=${USER:-root} ch-run --no-passwd "$(busybox_rootfs)" -- /bin/busybox echo ch-run-ok 2>&1) \
    || die "ch-run of $(busybox_rootfs) fails: $out"
  [ "$out" = ch-run-ok ] || die "ch-run printed '$out', expected ch-run-ok"
  log "Charliecloud: ch-run $version runs a folder image"
}

# The MPICH builds run beside the other steps; a failed step ends them too.
mpich_pid=
# setsid: the build is a process group of its own, ended whole.
stop_mpich() { [ -z "$mpich_pid" ] || kill -- "-$mpich_pid" 2>/dev/null || true; }
start_mpich() {
  setsid bash "$SCRIPT_DIR/build-mpich.sh" &
  mpich_pid=$!
  trap stop_mpich EXIT
}
wait_mpich() {
  local t0=$SECONDS rc=0
  wait "$mpich_pid" || rc=$?
  mpich_pid=
  trap - EXIT
  [ "$rc" -eq 0 ] || die "the MPICH builds failed (scripts/build-mpich.sh; logs under $STATE_DIR/mpich)"
  [ $((SECONDS - t0)) -lt 2 ] || log "waited $((SECONDS - t0)) s for the MPICH builds"
}

install_packages
check_go
start_mpich
start_docker
configure_podman
build_apptainer
configure_apptainer
check_charliecloud
wait_mpich
log "done in $((SECONDS - started)) s"
