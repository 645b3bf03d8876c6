#!/usr/bin/env bash
# Start one real peer by hand (the tests use test/support/peers.ts instead):
#   scripts/peers/start.sh etcd|prometheus|node-exporter|victoria-metrics [STATEDIR]
# Binds 127.0.0.1 on a free port, keeps state and its log (NAME.log) in STATEDIR (a new temp dir when not
# given) and prints one line on stdout:  URL PID STATEDIR
# Stop it with scripts/peers/stop.sh PID (then remove STATEDIR if you like).
set -euo pipefail

name="${1:-}"
case "$name" in
  etcd | prometheus | node-exporter | victoria-metrics) ;;
  *)
    echo "usage: $0 etcd|prometheus|node-exporter|victoria-metrics [statedir]" >&2
    exit 2
    ;;
esac

if [ -n "${2:-}" ]; then
  dir="$2"
  mkdir -p "$dir"
else
  dir="$(mktemp -d "${TMPDIR:-/tmp}/argus-peer-$name-XXXXXX")"
fi
dir="$(cd "$dir" && pwd)"

# Debian executable names (see ../shared/PEERS.md); /usr/bin first, then PATH.
find_bin() {
  if [ -x "/usr/bin/$1" ]; then echo "/usr/bin/$1"; else command -v "$1" || true; fi
}

# The kernel's pick of a free loopback port.
free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

port="$(free_port)"
url="http://127.0.0.1:$port"
case "$name" in
  etcd)
    bin="$(find_bin etcd)"; pkg=etcd-server
    # A restart on an existing data dir must keep the member's peer URL: reuse the recorded peer port.
    if [ -f "$dir/peer-port" ] && [ -d "$dir/data" ]; then peer_port="$(cat "$dir/peer-port")"; else peer_port="$(free_port)"; fi
    echo "$peer_port" >"$dir/peer-port"
    peer="http://127.0.0.1:$peer_port"
    # 10 ms ticks: a lone member is ready in ~0.1 s instead of up to 1 s (randomised election timeout).
    args=(--name=e1 "--data-dir=$dir/data" "--listen-client-urls=$url" "--advertise-client-urls=$url"
      "--listen-peer-urls=$peer" "--initial-advertise-peer-urls=$peer" "--initial-cluster=e1=$peer"
      --initial-cluster-state=new --heartbeat-interval=10 --election-timeout=100)
    ready_path=/health; ready_match='"health":"true"'
    ;;
  prometheus)
    bin="$(find_bin prometheus)"; pkg=prometheus
    if [ ! -f "$dir/prometheus.yml" ]; then
      # Default: scrape itself, so there is something to query.
      cat >"$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:$port']
YAML
    fi
    args=("--config.file=$dir/prometheus.yml" "--storage.tsdb.path=$dir/data"
      "--web.listen-address=127.0.0.1:$port" --web.enable-remote-write-receiver)
    ready_path=/-/ready; ready_match=''
    ;;
  node-exporter)
    bin="$(find_bin prometheus-node-exporter)"; pkg=prometheus-node-exporter
    args=("--web.listen-address=127.0.0.1:$port" --no-collector.systemd)
    ready_path=/metrics; ready_match=''
    ;;
  victoria-metrics)
    bin="$(find_bin victoria-metrics)"; pkg=victoria-metrics
    args=("-storageDataPath=$dir/data" "-httpListenAddr=127.0.0.1:$port" -retentionPeriod=100y)
    ready_path=/health; ready_match=''
    ;;
esac

if [ -z "$bin" ]; then
  echo "PEER MISSING: $name not installed (apt-get install $pkg)" >&2
  exit 1
fi

# Own session, so it outlives this shell and a terminal hangup; stopped by PID with stop.sh.
cd "$dir"
setsid "$bin" "${args[@]}" >"$dir/$name.log" 2>&1 </dev/null &
pid=$!

gone() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

deadline=$((SECONDS + 15))
while :; do
  if gone "$pid"; then
    echo "$name exited before it was ready; last log lines ($dir/$name.log):" >&2
    tail -n 30 "$dir/$name.log" >&2
    exit 1
  fi
  if body="$(curl -fsS --max-time 1 "$url$ready_path" 2>/dev/null)"; then
    if [ -z "$ready_match" ] || [[ "$body" == *"$ready_match"* ]]; then break; fi
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "$name not ready after 15 s at $url$ready_path; stopping it. Last log lines:" >&2
    tail -n 30 "$dir/$name.log" >&2
    kill -KILL "$pid" 2>/dev/null || true
    exit 1
  fi
  sleep 0.1
done

echo "$url $pid $dir"
