#!/usr/bin/env bash
# Stops the private Slurm cluster that scripts/slurm-up.sh started: cancels its
# jobs, then stops exactly the daemons whose pids it recorded (checking that
# each pid is still the daemon it was), and removes the network namespaces
# and bridge of the two-node mode.
#
#   scripts/slurm-down.sh [STATE_DIR]   # $1, $HPCBENCH_SLURM_DIR or /tmp/hpcbench-slurm
set -euo pipefail

log() { printf 'slurm-down: %s\n' "$*" >&2; }

STATE_DIR=${1:-${HPCBENCH_SLURM_DIR:-/tmp/hpcbench-slurm}}
PIDS=$STATE_DIR/pids

if [ -s "$PIDS" ]; then
  if [ -f "$STATE_DIR/slurm.conf" ]; then
    # Jobs first, so that their slurmstepd processes end with them.
    SLURM_CONF=$STATE_DIR/slurm.conf timeout 10 scancel --quiet --full --user=root >/dev/null 2>&1 || true
  fi
  # Daemons in reverse start order: slurmd, slurmctld, munged last.
  mapfile -t entries < <(tac "$PIDS")
  stopped=()
  for entry in "${entries[@]}"; do
    read -r name pid <<<"$entry"
    daemon=${name%%-*}                    # slurmd-node1 -> slurmd
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    if [ "$comm" != "$daemon" ]; then
      [ -z "$comm" ] || log "pid $pid is now '$comm', not $daemon: left alone"
      continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
    stopped+=("$pid")
  done
  for pid in "${stopped[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid did not stop in 10 s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$PIDS"
  log "stopped ${#stopped[@]} daemon(s) of $STATE_DIR"
else
  log "no pids recorded in $STATE_DIR: nothing to stop"
fi

if [ -s "$STATE_DIR/net" ]; then
  while read -r kind name; do
    case $kind in
      netns) ip netns del "$name" 2>/dev/null || true ;;
      link|bridge) ip link del "$name" 2>/dev/null || true ;;
      iptables) iptables -D FORWARD -i "$name" -o "$name" -j ACCEPT -m comment --comment hpcbench-slurm 2>/dev/null || true ;;
    esac
  done < <(tac "$STATE_DIR/net")
  rm -f "$STATE_DIR/net"
fi
