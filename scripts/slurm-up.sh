#!/usr/bin/env bash
# Brings up a private, real Slurm 22.05 cluster on this machine for tests, as
# root: its own munged (own key and socket), slurmctld and slurmd, all
# configured from a slurm.conf in a state folder, on private ports.
#
#   eval "$(scripts/slurm-up.sh [STATE_DIR])"     # prints export lines
#   srun -n2 --mpi=pmi2 hostname
#   scripts/slurm-down.sh [STATE_DIR]
#
# STATE_DIR: $1, else $HPCBENCH_SLURM_DIR, else /tmp/hpcbench-slurm. Tests
# should pass a folder of their own (t.TempDir()), so that two test packages
# running at once get two clusters instead of stopping each other's.
# HPCBENCH_SLURM_NODES=2 runs two slurmd "nodes" (node1, node2), each in its
# own network namespace joined to a private bridge; the default is one node
# named after this host.
# HPCBENCH_SLURM_PORT fixes the slurmctld port (slurmd uses the next one);
# otherwise the first free pair from 16817 up is taken.
#
# The pids of the daemons go to STATE_DIR/pids; slurm-down.sh stops exactly
# those. Running slurm-up.sh again while the cluster answers only prints the
# export lines. Everything but the export lines goes to stderr.
set -euo pipefail

log() { printf 'slurm-up: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (slurmd and munged run as root here)"
for tool in munged slurmctld slurmd sinfo; do
  command -v "$tool" >/dev/null || die "$tool not found: install slurm-wlm and munge (scripts/setup-debian.sh)"
done

STATE_DIR=${1:-${HPCBENCH_SLURM_DIR:-/tmp/hpcbench-slurm}}
NODES=${HPCBENCH_SLURM_NODES:-1}
case $NODES in 1|2) ;; *) die "HPCBENCH_SLURM_NODES=$NODES: only 1 or 2 is supported" ;; esac
mkdir -p "$STATE_DIR"
STATE_DIR=$(cd "$STATE_DIR" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
CONF=$STATE_DIR/slurm.conf
PIDS=$STATE_DIR/pids
HOST=$(hostname -s)
CPUS=$(nproc)

print_exports() {
  printf 'export SLURM_CONF=%q\n' "$CONF"
  printf 'export HPCBENCH_SLURM_DIR=%q\n' "$STATE_DIR"
}

# Already up (all recorded daemons alive and the controller answers)?
if [ -s "$PIDS" ]; then
  alive=1
  while read -r _ pid; do kill -0 "$pid" 2>/dev/null || alive=0; done <"$PIDS"
  if [ $alive -eq 1 ] && SLURM_CONF=$CONF timeout 5 sinfo -h >/dev/null 2>&1; then
    log "already running from $STATE_DIR"
    print_exports
    exit 0
  fi
  log "stale cluster in $STATE_DIR: stopping it first"
  "$HERE/slurm-down.sh" "$STATE_DIR" >&2 || true
fi

# Clusters started at the same moment (test packages run in parallel) must
# not pick the same ports: hold a lock from choosing them until they are bound.
exec 9>/tmp/hpcbench-slurm-up.lock
flock 9

port_free() { [ -z "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; }
if [ -n "${HPCBENCH_SLURM_PORT:-}" ]; then
  PORT=$HPCBENCH_SLURM_PORT
else
  PORT=""
  for ((p = 16817; p < 17817; p += 10)); do
    if port_free "$p" && port_free $((p + 1)); then PORT=$p; break; fi
  done
  [ -n "$PORT" ] || die "no free port pair between 16817 and 17817; set HPCBENCH_SLURM_PORT"
fi
SLURMD_PORT=$((PORT + 1))

rm -rf "$STATE_DIR/ctld" "$STATE_DIR/spool" "$STATE_DIR/munge" "$STATE_DIR/log" "$STATE_DIR/tmp"
mkdir -p "$STATE_DIR/ctld" "$STATE_DIR/spool" "$STATE_DIR/log" "$STATE_DIR/munge"
chmod 700 "$STATE_DIR/munge"
: >"$PIDS"
# On any failure from here on, stop what was started and remove the network.
trap 'rc=$?; if [ $rc -ne 0 ]; then "$HERE/slurm-down.sh" "$STATE_DIR" >&2 || true; fi' EXIT

# Two-node mode: a bridge on the host and one network namespace per node, so
# each slurmd has its own address. Names carry the port so that clusters on
# different ports do not collide.
NET_TAG=hb$((PORT % 10000))
if [ "$NODES" -eq 2 ]; then
  command -v ip >/dev/null || die "ip (iproute2) not found"
  subnet=10.213.$(((PORT / 10) % 250))
  HOST_ADDR=$subnet.1
  CTLD_ADDR=$subnet.2
  BRIDGE=${NET_TAG}br
  ip link add "$BRIDGE" type bridge 2>/dev/null || die "cannot create bridge $BRIDGE (is it left from another run? scripts/slurm-down.sh)"
  printf 'bridge %s\n' "$BRIDGE" >"$STATE_DIR/net"
  # With br_netfilter loaded (Docker loads it) bridged frames pass iptables'
  # FORWARD chain, whose policy Docker sets to DROP: accept this bridge's own.
  if command -v iptables >/dev/null && iptables -S FORWARD >/dev/null 2>&1; then
    iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT -m comment --comment hpcbench-slurm
    printf 'iptables %s\n' "$BRIDGE" >>"$STATE_DIR/net"
  fi
  ip addr add "$HOST_ADDR/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # netns_join NS ADDR: a namespace with loopback and one veth on the bridge.
  netns_join() {
    local ns=$1 addr=$2 n=$3
    ip netns add "$ns"
    printf 'netns %s\n' "$ns" >>"$STATE_DIR/net"
    ip link add "${NET_TAG}h$n" type veth peer name "${NET_TAG}c$n"
    printf 'link %s\n' "${NET_TAG}h$n" >>"$STATE_DIR/net"
    ip link set "${NET_TAG}h$n" master "$BRIDGE" up
    ip link set "${NET_TAG}c$n" netns "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr/24" dev "${NET_TAG}c$n"
    ip -n "$ns" link set "${NET_TAG}c$n" up
  }
  # slurmctld gets a namespace too: Slurm 22.05 can bind a daemon only to
  # what the host name resolves to (loopback here), so each daemon listens on
  # all addresses of a namespace that has nothing but the private bridge.
  netns_join "${NET_TAG}ctl" "$CTLD_ADDR" 0
  NODE_NAMES=(node1 node2)
  NODE_ADDRS=()
  for i in 1 2; do
    netns_join "${NET_TAG}n$i" "$subnet.$((10 + i))" "$i"
    NODE_ADDRS+=("$subnet.$((10 + i))")
  done
  COMM_PARAMS=""
else
  # With NoInAddrAny slurmd binds to what this host's name resolves to; use
  # that when it is a loopback address (Debian's /etc/hosts maps the host name
  # to 127.0.0.1 or 127.0.1.1), else listen on every address of a private port.
  CTLD_ADDR=$(getent ahostsv4 "$HOST" 2>/dev/null | awk '{print $1; exit}')
  if [[ $CTLD_ADDR == 127.* ]]; then
    COMM_PARAMS=NoCtldInAddrAny,NoInAddrAny
  else
    CTLD_ADDR=127.0.0.1
    COMM_PARAMS=""
    log "note: $HOST does not resolve to a loopback address; slurmctld and slurmd listen on all addresses (ports $PORT, $SLURMD_PORT)"
  fi
  NODE_NAMES=("$HOST")
  NODE_ADDRS=("$CTLD_ADDR")
fi

MUNGE_SOCKET=$STATE_DIR/munge/munge.socket
dd if=/dev/urandom of="$STATE_DIR/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$STATE_DIR/munge/munge.key"

{
  cat <<CONF
# Private test cluster written by hpcbench scripts/slurm-up.sh; do not edit.
ClusterName=hpcbench
SlurmctldHost=$HOST($CTLD_ADDR)
SlurmctldPort=$PORT
SlurmdPort=$SLURMD_PORT
CONF
  # The daemons bind to what the host name resolves to (loopback), not to
  # every interface.
  [ -z "$COMM_PARAMS" ] || printf 'CommunicationParameters=%s\n' "$COMM_PARAMS"
  cat <<CONF
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/spool/%n
SlurmctldPidFile=$STATE_DIR/slurmctld.pidfile
SlurmdPidFile=$STATE_DIR/slurmd-%n.pidfile
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$STATE_DIR/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
MpiDefault=none
ReturnToService=2
# Finished jobs stay visible to squeue/scontrol for 5 minutes (no sacct here).
MinJobAge=300
KillWait=5
InactiveLimit=0
CONF
  if [ "$NODES" -eq 2 ]; then
    # Both nodes share /tmp, and the pmix plugin names its per-step folders
    # there by job and step only: each node needs its own base.
    printf 'TmpFS=%s/tmp/%%n\n' "$STATE_DIR"
  fi
  for i in "${!NODE_NAMES[@]}"; do
    printf 'NodeName=%s NodeAddr=%s NodeHostname=%s CPUs=%s State=UNKNOWN\n' \
      "${NODE_NAMES[$i]}" "${NODE_ADDRS[$i]}" "$HOST" "$CPUS"
  done
  printf 'PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n'
} >"$CONF"
: >"$STATE_DIR/plugstack.conf"

# start NAME CMD...: runs CMD in its own session, output to STATE_DIR/log,
# records NAME and pid. The daemons run in the foreground so that the pid is
# theirs, and they never hold this script's stdout open.
start() {
  local name=$1; shift
  setsid "$@" </dev/null >>"$STATE_DIR/log/$name.out" 2>&1 9>&- &
  printf '%s %s\n' "$name" "$!" >>"$PIDS"
}

start munged munged -F --force --key-file="$STATE_DIR/munge/munge.key" --socket="$MUNGE_SOCKET" \
  --pid-file="$STATE_DIR/munge/munged.pid" --log-file="$STATE_DIR/log/munged.log" \
  --seed-file="$STATE_DIR/munge/munged.seed"
for _ in $(seq 1 100); do [ -S "$MUNGE_SOCKET" ] && break; sleep 0.1; done
[ -S "$MUNGE_SOCKET" ] || die "munged did not create $MUNGE_SOCKET; see $STATE_DIR/log/munged.log"

export SLURM_CONF=$CONF
if [ "$NODES" -eq 2 ]; then
  start slurmctld nsenter --net="/run/netns/${NET_TAG}ctl" slurmctld -D -i -f "$CONF"
else
  start slurmctld slurmctld -D -i -f "$CONF"
fi
for i in "${!NODE_NAMES[@]}"; do
  name=${NODE_NAMES[$i]}
  mkdir -p "$STATE_DIR/spool/$name" "$STATE_DIR/tmp/$name"
  if [ "$NODES" -eq 2 ]; then
    # nsenter, not `ip netns exec`: the latter remounts /sys, which hides
    # /sys/fs/cgroup from slurmd.
    start "slurmd-$name" nsenter --net="/run/netns/${NET_TAG}n$((i + 1))" slurmd -D -N "$name" -f "$CONF"
  else
    start "slurmd-$name" slurmd -D -N "$name" -f "$CONF"
  fi
done

# Wait until every node is idle.
deadline=$((SECONDS + 60))
while :; do
  states=$(sinfo -h -N -o '%t' 2>/dev/null | sort -u | paste -sd, -) || true
  [ "$states" = idle ] && break
  while read -r name pid; do
    kill -0 "$pid" 2>/dev/null || die "$name (pid $pid) exited; see $STATE_DIR/log/"
  done <"$PIDS"
  [ $SECONDS -lt $deadline ] || die "nodes not idle after 60 s (states: ${states:-none}); see $STATE_DIR/log/"
  sleep 0.2
done
log "up: ${#NODE_NAMES[@]} node(s) (${NODE_NAMES[*]}), slurmctld on $CTLD_ADDR:$PORT, state in $STATE_DIR"
print_exports
