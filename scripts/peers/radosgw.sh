#!/usr/bin/env bash
# A real S3 for tests and by hand: single-node Ceph (1 mon + 1 memstore OSD, no mgr) and radosgw, all on
# 127.0.0.1 with every file (config, mon store, logs, sockets, PIDs) under STATE_DIR.
#
#   scripts/peers/radosgw.sh start STATE_DIR PORT   # prints one line: ENDPOINT ACCESS_KEY SECRET_KEY
#   scripts/peers/radosgw.sh stop STATE_DIR         # radosgw, then the OSD, then the mon
#
# STATE_DIR must be empty or absent at start (memstore keeps the data in memory: a restart starts empty).
# The S3 user has fixed keys (below, or ARGUS_RGW_ACCESS_KEY / ARGUS_RGW_SECRET_KEY). See ../shared/PEERS.md
# for why each setting is there.
set -euo pipefail

ACCESS_KEY="${ARGUS_RGW_ACCESS_KEY:-argus-test-access}"
SECRET_KEY="${ARGUS_RGW_SECRET_KEY:-argus-test-secret-0123456789abcdef}"
RGW_NAME=client.rgw.argus
READY_TIMEOUT=60

usage() {
  echo "usage: $0 start STATE_DIR PORT | $0 stop STATE_DIR" >&2
  exit 2
}

find_bin() {
  if [ -x "/usr/bin/$1" ]; then echo "/usr/bin/$1"; else command -v "$1" || true; fi
}

# The kernel's pick of a free loopback port (for the mon; the caller picks the S3 port).
free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

gone() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# Stops the daemon whose PID is in STATE/pids/NAME: SIGTERM, SIGKILL after 10 s. Zombies count as gone.
stop_one() { # STATE NAME
  local f="$1/pids/$2" pid end
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && ! gone "$pid"; then
    # Only ever signal the daemon we started: its command line names this state dir's config.
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1/ceph.conf"; then
      kill -TERM "$pid" 2>/dev/null || true
      end=$((SECONDS + 10))
      while ! gone "$pid"; do
        if [ "$SECONDS" -ge "$end" ]; then
          echo "radosgw.sh: $2 (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL" >&2
          kill -KILL "$pid" 2>/dev/null || true
          end=$((SECONDS + 5))
          while ! gone "$pid"; do
            [ "$SECONDS" -ge "$end" ] && { echo "radosgw.sh: $2 (pid $pid) survived SIGKILL" >&2; return 1; }
            sleep 0.05
          done
          break
        fi
        sleep 0.05
      done
    else
      echo "radosgw.sh: pid $pid in $f is not our $2; not signalling it" >&2
    fi
  fi
  rm -f "$f"
}

stop_all() { # STATE
  local rc=0
  stop_one "$1" radosgw || rc=1
  stop_one "$1" osd || rc=1 # while the mon is up, so the OSD can say goodbye
  stop_one "$1" mon || rc=1
  return "$rc"
}

# Starts a daemon in the foreground of its own session, logging to STATE/log/NAME.out; records its PID.
launch() { # STATE NAME CMD...
  local state="$1" name="$2"
  shift 2
  setsid "$@" >"$state/log/$name.out" 2>&1 </dev/null &
  echo "$!" >"$state/pids/$name"
}

fail() { # STATE MESSAGE
  echo "radosgw.sh: $2" >&2
  for f in "$1"/log/*; do
    [ -f "$f" ] || continue
    echo "--- last lines of $f ---" >&2
    tail -n 15 "$f" >&2
  done
  stop_all "$1" || true
  exit 1
}

# Runs CHECK (a shell function) every 50 ms until it succeeds; fails after READY_TIMEOUT s.
wait_for() { # STATE WHAT CHECK
  local end=$((SECONDS + READY_TIMEOUT))
  until "$3"; do
    [ "$SECONDS" -ge "$end" ] && fail "$1" "$2 not ready after $READY_TIMEOUT s"
    for p in "$1"/pids/*; do
      [ -f "$p" ] || continue
      gone "$(cat "$p")" && fail "$1" "$(basename "$p") exited while waiting for $2"
    done
    sleep 0.05
  done
}

start() { # STATE PORT
  local state="$1" port="$2"
  [[ "$port" =~ ^[0-9]+$ ]] || usage
  for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool; do
    if [ -z "$(find_bin "$b")" ]; then
      echo "PEER MISSING: radosgw needs $b (apt-get install ceph-mon ceph-osd radosgw ceph-common)" >&2
      exit 1
    fi
  done
  mkdir -p "$state"
  state="$(cd "$state" && pwd)"
  if [ -n "$(ls -A "$state")" ]; then
    echo "radosgw.sh: state dir $state is not empty" >&2
    exit 1
  fi
  mkdir -p "$state/mon/ceph-a" "$state/osd/ceph-0" "$state/run" "$state/log" "$state/pids" "$state/rgw"
  local fsid mon_port conf="$state/ceph.conf"
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  mon_port="$(free_port)"
  cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
run dir = $state/run
admin socket = $state/run/\$name.asok
pid file = $state/run/\$name.pid
log file = $state/log/\$name.log
mon data = $state/mon/\$cluster-\$id
osd data = $state/osd/\$cluster-\$id
keyring = $state/keyring

[mon]
paxos propose interval = 0.05
paxos min wait = 0.01

[osd]
osd objectstore = memstore
memstore device bytes = 4294967296

[$RGW_NAME]
ms mon client mode = crc
client mount timeout = 30
rgw data = $state/rgw
# Index shards in several PGs: puts to one bucket are not serialised on one index object (~2x faster here).
rgw override bucket index max shards = 8
rgw frontends = beast endpoint=127.0.0.1:$port
CONF
  local C=(-c "$conf")
  monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" "$state/monmap" >"$state/log/setup.out" 2>&1 ||
    fail "$state" "monmaptool failed"
  ceph-authtool --create-keyring "$state/keyring" --gen-key -n mon. --cap mon 'allow *' >>"$state/log/setup.out" 2>&1 ||
    fail "$state" "ceph-authtool failed"
  ceph-mon "${C[@]}" --mkfs -i a --monmap "$state/monmap" --keyring "$state/keyring" >>"$state/log/setup.out" 2>&1 ||
    fail "$state" "ceph-mon --mkfs failed"
  launch "$state" mon ceph-mon "${C[@]}" -f -i a

  mon_ready() { ceph "${C[@]}" --connect-timeout 2 mon stat >/dev/null 2>&1; }
  wait_for "$state" "the mon" mon_ready

  local osd_uuid osd_id
  osd_uuid="$(cat /proc/sys/kernel/random/uuid)"
  osd_id="$(ceph "${C[@]}" --connect-timeout 5 osd new "$osd_uuid" 2>>"$state/log/setup.out")" ||
    fail "$state" "ceph osd new failed"
  [ "$osd_id" = 0 ] || fail "$state" "expected OSD id 0, the mon gave '$osd_id'"
  ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$state/log/setup.out" 2>&1 ||
    fail "$state" "ceph-osd --mkfs failed"
  launch "$state" osd ceph-osd "${C[@]}" -f -i 0

  osd_up() { ceph "${C[@]}" --connect-timeout 2 osd stat 2>/dev/null | grep -q '1 up'; }
  wait_for "$state" "the OSD" osd_up

  launch "$state" radosgw radosgw "${C[@]}" -f -n "$RGW_NAME"
  # radosgw creates its pools at startup; the user can be created once the gateway has them.
  rgw_up() { curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; }
  wait_for "$state" "radosgw on 127.0.0.1:$port" rgw_up

  radosgw-admin "${C[@]}" -n "$RGW_NAME" user create --uid=argus --display-name=argus \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >>"$state/log/setup.out" 2>&1 ||
    fail "$state" "radosgw-admin user create failed"

  echo "http://127.0.0.1:$port $ACCESS_KEY $SECRET_KEY"
}

case "${1:-}" in
  start)
    [ "$#" -eq 3 ] || usage
    start "$2" "$3"
    ;;
  stop)
    [ "$#" -eq 2 ] || usage
    [ -d "$2" ] || exit 0
    stop_all "$(cd "$2" && pwd)"
    ;;
  *) usage ;;
esac
