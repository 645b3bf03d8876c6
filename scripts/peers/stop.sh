#!/usr/bin/env bash
# Stop peers started by scripts/peers/start.sh:  scripts/peers/stop.sh PID [PID...]
# SIGTERM, then SIGKILL after 5 s. A zombie (State Z in /proc/PID/status) counts as gone: stopped daemons
# linger as zombies for a moment and `kill -0` still succeeds on them. Refuses PIDs that are not peers.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 PID [PID...]" >&2
  exit 2
fi

gone() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

wait_gone() { # PID SECONDS
  local end=$((SECONDS + $2))
  while ! gone "$1"; do
    [ "$SECONDS" -ge "$end" ] && return 1
    sleep 0.05
  done
}

rc=0
for pid in "$@"; do
  if ! [[ "$pid" =~ ^[0-9]+$ ]]; then
    echo "not a PID: $pid" >&2; rc=1; continue
  fi
  if gone "$pid"; then continue; fi
  exe="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -d' ' -f1)"
  case "$(basename "$exe")" in
    etcd | prometheus | prometheus-node-exporter | victoria-metrics | prometheus-alertmanager) ;;
    *)
      echo "pid $pid is '$exe', not a peer; not stopping it" >&2; rc=1; continue
      ;;
  esac
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" 5; then
    echo "pid $pid ($exe) ignored SIGTERM for 5 s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 5; then
      echo "pid $pid survived SIGKILL" >&2; rc=1
    fi
  fi
done
exit "$rc"
