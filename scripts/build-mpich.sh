#!/usr/bin/env bash
# Builds MPICH 4.0.2 from Debian bookworm's source package three times, with
# identical flags except the PMI layer, so that PMI-1, PMI-2 and PMIx can be
# compared with the MPI library held constant:
#
#   /opt/hpcbench/mpich-pmi1   --with-pmi=simple
#   /opt/hpcbench/mpich-pmi2   --with-pmi=pmi2/simple
#   /opt/hpcbench/mpich-pmix   --with-pmix=<libpmix-dev>
#
# None of them builds a process manager (--with-pm=no): hpcbench (or
# Slurm) is the process manager, and the PMIx build cannot have one, so
# leaving hydra out of all three keeps their flags identical but for the
# PMI layer. Debian's mpiexec.mpich stays the machine's hydra.
#
# Each prefix holds lib/libmpich.so.12 and lib/libmpichfort.so.12, the
# names Debian's mpicc.mpich and mpif90.mpich link against, so a binary
# built with Debian's wrappers runs on any of them through
# LD_LIBRARY_PATH=/opt/hpcbench/mpich-<flavour>/lib. Each prefix also holds
# hpcbench-build.txt (key=value lines: flavour, version, configure flags,
# timings), written last: a prefix without it is incomplete and is rebuilt;
# one whose recorded flags differ from this script's is rebuilt too.
#
# Run as root (writes /opt/hpcbench and /var/cache/hpcbench). Idempotent.
# Logs: /var/cache/hpcbench/mpich/<flavour>.log.
#
# Speed (2 cores): the three builds run one after another in the same build
# folder with ccache, and a filter in ccache's preprocessor step
# (scripts/mpich-ccache-cpp.sh) hides the PMI headers from ccache's hash:
# the second and third builds compile only the files that really depend on
# the PMI layer. The top-level configure shares one cache file and does
# not configure MPICH's test suite (--no-recursion: only test/mpi is an
# autoconf subdirectory; MPICH's own libraries are configured in any case).
# Trims, the same for all three: no yaksa (dataloop datatype engine), no Fortran 2008
# bindings (mpif.h and `use mpi` stay; 4.0.2 has no Fortran-77-only switch),
# no C++ bindings, no ROMIO, no static libraries, no debug information.
set -euo pipefail

log() { printf 'build-mpich: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs into /opt/hpcbench)"
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX_ROOT=/opt/hpcbench
WORK=/var/cache/hpcbench/mpich
SRC_PARENT=$WORK/src
BUILD_DIR=$WORK/build      # one path for all three builds: ccache needs it
CONFIG_CACHE=$WORK/config.cache
HEADERS_ID=$WORK/headers.id
MPICH_VERSION=4.0.2
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
PMIX_DIR=/usr/lib/$MULTIARCH/pmix2    # Debian's libpmix-dev
FLAVOURS=(pmi1 pmi2 pmix)

# Debian's own flags (debian/rules for amd64) that matter here, plus the
# trims listed above. MPILIBNAME=mpich (also Debian's) names the libraries
# libmpich/libmpichfort instead of upstream's libmpi/libmpifort.
COMMON_FLAGS=(
  --with-device=ch4:ucx --with-ucx=/usr
  --with-hwloc=/usr
  --with-wrapper-dl-type=none
  --enable-shared --disable-static
  --with-datatype-engine=dataloop
  --enable-fortran=all --disable-f08 --disable-cxx --disable-romio
  --with-pm=no
)
# gfortran 12 rejects MPICH's Fortran tests without these (Debian adds them).
FORTRAN_FLAGS="-fallow-argument-mismatch -fallow-invalid-boz"
BUILD_ENV=(MPILIBNAME=mpich F77=gfortran FC=gfortran "FFLAGS=$FORTRAN_FLAGS" "FCFLAGS=$FORTRAN_FLAGS")

pmi_flags() {
  case $1 in
    pmi1) echo "--with-pmi=simple" ;;
    pmi2) echo "--with-pmi=pmi2/simple" ;;
    pmix) echo "--with-pmix=$PMIX_DIR" ;;
    *) die "unknown flavour $1" ;;
  esac
}

# The define configure must have written into mpichconf.h for each flavour
# (configure falls back to the built-in PMI-1 silently when pmix.h is not
# found, so this is checked).
expected_define() {
  case $1 in
    pmi1) echo "" ;;               # PMI-1 is the default: no define
    pmi2) echo USE_PMI2_API ;;
    pmix) echo USE_PMIX_API ;;
  esac
}

configure_line() { # the flags recorded in the manifest and compared on reruns
  printf '%s ' "${BUILD_ENV[@]}" "${COMMON_FLAGS[@]}" $(pmi_flags "$1") "--prefix=$PREFIX_ROOT/mpich-$1"
}

manifest_of() { printf '%s/mpich-%s/hpcbench-build.txt' "$PREFIX_ROOT" "$1"; }

is_complete() {
  local manifest
  manifest=$(manifest_of "$1")
  [ -f "$manifest" ] && [ -e "$PREFIX_ROOT/mpich-$1/lib/libmpich.so.12" ] \
    && [ "$(sed -n 's/^configure_flags=//p' "$manifest")" = "$(configure_line "$1")" ]
}

fetch_source() {
  # (On a fresh machine $SRC_PARENT does not exist yet: find fails, which
  # under pipefail must not end the script.)
  SRC=$(find "$SRC_PARENT" -maxdepth 1 -type d -name "mpich-$MPICH_VERSION" 2>/dev/null | head -n 1 || true)
  [ -n "$SRC" ] && [ -x "$SRC/configure" ] && return
  local aptdir=$WORK/apt mirror
  mirror=$("$SCRIPT_DIR/debian-mirror.sh") || die "cannot fetch MPICH's source without a Debian mirror"
  rm -rf "$SRC_PARENT"
  mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/parts" "$SRC_PARENT"
  printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s bookworm main\n' "$mirror" \
    >"$aptdir/bookworm-src.list"
  # A private apt state: the machine's own sources stay binary-only.
  local apt_private=(
    -o "Dir::Etc::SourceList=$aptdir/bookworm-src.list"
    -o "Dir::Etc::SourceParts=$aptdir/parts"
    -o "Dir::State::Lists=$aptdir/lists"
    -o "Dir::Cache=$aptdir/cache"
    -o "APT::Sandbox::User=root"
  )
  log "fetching the mpich source package from Debian bookworm"
  apt-get "${apt_private[@]}" -qq update
  (cd "$SRC_PARENT" && apt-get "${apt_private[@]}" -qq source mpich >"$WORK/source.log" 2>&1) \
    || { tail -n 20 "$WORK/source.log" >&2; die "apt-get source mpich failed; see $WORK/source.log"; }
  SRC=$SRC_PARENT/mpich-$MPICH_VERSION
  [ -x "$SRC/configure" ] || die "apt-get source mpich left no $SRC/configure"
}

# ccache settings for make (configure runs the plain compiler: its tests are
# many, tiny and not worth caching).
setup_ccache() {
  command -v ccache >/dev/null || die "ccache not found (Debian package ccache)"
  [ -d /usr/lib/ccache ] || die "/usr/lib/ccache (ccache's compiler links) missing"
  [ -f "$PMIX_DIR/include/pmix.h" ] || die "$PMIX_DIR/include/pmix.h missing (Debian package libpmix-dev)"
  local pmi_dirs=("$SRC/src/pmi/include" "$SRC/src/pmi/pmi2/include" "$PMIX_DIR/include") dir header system_headers
  # The system headers the PMI headers include directly (see the filter).
  system_headers=$(
    for dir in "${pmi_dirs[@]}"; do
      for header in "$dir"/*.h; do
        printf '#include "%s"\n' "$header" | gcc -E -H -I"$dir" -x c - -o /dev/null 2>&1 \
          | awk -v pmi="$dir/" '/^\.+ / { n = length($1); stack[n] = $2
              if (n > 1 && index(stack[n - 1], pmi) == 1 && index($2, pmi) != 1) print $2 }'
      done
    done | sort -u | paste -sd:)
  {
    printf 'mpich source %s\n' "$(find "$SRC_PARENT" -maxdepth 1 -name 'mpich_*.dsc' -printf '%f\n')"
    dpkg-query -W gcc-12 libc6-dev linux-libc-dev libpmix-dev libucx-dev libhwloc-dev 2>/dev/null || true
    printf 'filter %s\n' "$(sha256sum "$SCRIPT_DIR/mpich-ccache-cpp.sh" | cut -c1-64)"
  } >"$HEADERS_ID"
  export CCACHE_DIR=$WORK/ccache CCACHE_MAXSIZE=2G CCACHE_NODIRECT=1 CCACHE_NOHASHDIR=1
  export CCACHE_PREFIX_CPP=$SCRIPT_DIR/mpich-ccache-cpp.sh CCACHE_EXTRAFILES=$HEADERS_ID
  HPCBENCH_PMI_HEADER_DIRS=$(IFS=:; printf '%s' "${pmi_dirs[*]}")
  export HPCBENCH_PMI_HEADER_DIRS HPCBENCH_PMI_SYSTEM_HEADERS=$system_headers
}

# CPU seconds (user + system) used so far by this script's finished
# children: on a shared machine a build's wall time says little, its CPU time
# says what it costs.
children_cpu_s() {
  # Fields after "PID (COMM) ": cutime and cstime are the 14th and 15th.
  sed 's/^.*) //' "/proc/$$/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) / hz }'
}

# Checks that a build speaks its own PMI and none of the others. The
# built-in PMI clients are hidden symbols of libmpich (hence nm without -D);
# the PMIx build calls into libpmix.
check_pmi_symbols() {
  local flavour=$1 lib=$PREFIX_ROOT/mpich-$1/lib/libmpich.so.12 defined undefined
  defined=$(nm --defined-only "$lib" | awk '{print $NF}')
  undefined=$(nm -D --undefined-only "$lib" | awk '{print $NF}')
  has() { grep -qx "$1" <<<"$2"; }
  case $flavour in
    pmi1) has PMI_Init "$defined" && ! has PMI2_Init "$defined" && ! has PMIx_Init "$undefined" ;;
    pmi2) has PMI2_Init "$defined" && ! has PMI_Init "$defined" && ! has PMIx_Init "$undefined" ;;
    pmix) has PMIx_Init "$undefined" && ! has PMI2_Init "$defined" && ! has PMI_Init "$defined" ;;
  esac || die "$lib does not have the PMI symbols of $flavour (PMI_Init/PMI2_Init/PMIx_Init)"
}

build_flavour() {
  local flavour=$1 prefix=$PREFIX_ROOT/mpich-$1 logfile=$WORK/$1.log define
  if is_complete "$flavour"; then log "$flavour: $prefix complete, skipped"; return; fi
  local t0=$SECONDS t1 t2 t3 cpu0 cpu stats
  cpu0=$(children_cpu_s)
  log "$flavour: building into $prefix (log: $logfile)"
  rm -rf "$BUILD_DIR" "$prefix"
  mkdir -p "$BUILD_DIR"
  # The cached pmix checks depend on --with-pmix: never carry them over.
  [ -f "$CONFIG_CACHE" ] && sed -i '/pmix/d' "$CONFIG_CACHE"
  ccache --zero-stats >/dev/null
  (
    cd "$BUILD_DIR"
    # shellcheck disable=SC2046 # pmi_flags is a list of words
    env "${BUILD_ENV[@]}" nice -n 19 "$SRC/configure" --cache-file="$CONFIG_CACHE" --no-recursion \
      "${COMMON_FLAGS[@]}" $(pmi_flags "$flavour") --prefix="$prefix"
  ) >"$logfile" 2>&1 || { tail -n 30 "$logfile" >&2; die "$flavour: configure failed; see $logfile"; }
  t1=$SECONDS
  define=$(expected_define "$flavour")
  if [ -n "$define" ]; then
    grep -q "^#define $define 1" "$BUILD_DIR/src/include/mpichconf.h" \
      || die "$flavour: configure did not define $define (see $logfile)"
  fi
  (
    cd "$BUILD_DIR"
    PATH=/usr/lib/ccache:$PATH nice -n 19 make -j2
  ) >>"$logfile" 2>&1 || { tail -n 30 "$logfile" >&2; die "$flavour: make failed; see $logfile"; }
  t2=$SECONDS
  (cd "$BUILD_DIR" && nice -n 19 make install) >>"$logfile" 2>&1 \
    || { tail -n 30 "$logfile" >&2; die "$flavour: make install failed; see $logfile"; }
  t3=$SECONDS
  cpu=$(( $(children_cpu_s) - cpu0 ))
  [ -e "$prefix/lib/libmpich.so.12" ] || die "$flavour: $prefix/lib/libmpich.so.12 missing after install"
  [ -e "$prefix/lib/libmpichfort.so.12" ] || die "$flavour: $prefix/lib/libmpichfort.so.12 missing after install"
  check_pmi_symbols "$flavour"
  stats=$(ccache --print-stats 2>/dev/null | awk -F'\t' '
    $1 == "direct_cache_hit" || $1 == "preprocessed_cache_hit" { hits += $2 }
    $1 == "cache_miss" { misses = $2 } END { printf "%d hits, %d misses", hits, misses }')
  {
    printf 'flavour=%s\n' "$flavour"
    printf 'mpich_version=%s\n' "$MPICH_VERSION"
    printf 'source=%s\n' "$(find "$SRC_PARENT" -maxdepth 1 -name 'mpich_*.dsc' -printf '%f\n')"
    printf 'pmi_flags=%s\n' "$(pmi_flags "$flavour")"
    printf 'configure_flags=%s\n' "$(configure_line "$flavour")"
    printf 'libraries=%s\n' "$(cd "$prefix/lib" && ls libmpich*.so.* | paste -sd' ')"
    printf 'built_at=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'configure_s=%d\nmake_s=%d\ninstall_s=%d\ncpu_s=%d\n' $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) "$cpu"
    printf 'ccache=%s\n' "$stats"
  } >"$(manifest_of "$flavour").tmp"
  mv "$(manifest_of "$flavour").tmp" "$(manifest_of "$flavour")"
  log "$flavour: done in $((t3 - t0)) s (configure $((t1 - t0)) s, make $((t2 - t1)) s, install $((t3 - t2)) s; $cpu CPU s; ccache $stats)"
}

all_complete=1
for f in "${FLAVOURS[@]}"; do is_complete "$f" || all_complete=0; done
if [ "$all_complete" = 1 ]; then
  log "MPICH $MPICH_VERSION: ${FLAVOURS[*]} complete under $PREFIX_ROOT"
  exit 0
fi
started=$SECONDS
mkdir -p "$WORK" "$PREFIX_ROOT"
# One build folder serves all builds: a second run waits for the first.
exec 8>"$WORK/build.flock"
flock 8
fetch_source
setup_ccache
for f in "${FLAVOURS[@]}"; do build_flavour "$f"; done
rm -rf "$BUILD_DIR"
log "MPICH $MPICH_VERSION: ${FLAVOURS[*]} built in $((SECONDS - started)) s"
