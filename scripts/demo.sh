#!/usr/bin/env bash
# The demo: the console service on one machine, on loopback only.
#   hsm-sim (HSM inventory) -> configure_conman -> conmand -> 8 simulated BMCs
#   (ipmi_sim, IPMI 2.0 Serial-over-LAN) whose consoles (console-sim) boot.
# With our conmand it is a mixed cluster in CONSOLE_MODE=node: the River nodes
# behind those BMCs over IPMI, plus a Mountain blade (ssh-bmc-sim) whose nodes
# are reached over SSH with a key.
# The nodes crash now and then (kernel panic, Oops, OOM kill, machine check,
# soft lockup) and reboot; our conmand recognises those as console events
# (etc/conman-events.rules) and serves them on /events and /metrics.
# Everything lives under a scratch directory with free ports; Ctrl-C stops it all.
#
# usage: scripts/demo.sh [--check]
#   --check      run, check that every console's log file holds SOL output,
#                print the result and exit 0 or 1 (same as DEMO_SECONDS=N)
# environment:
#   DEMO_DIR     scratch directory (default ./demo-run; emptied first)
#   DEMO_BMCS    number of simulated BMCs (default 8)
#   DEMO_BLADE_NODES Mountain nodes on the SSH blade, with our conmand (default 2)
#   DEMO_SECONDS non-interactive: give the check this long (default 60 with --check)
#   DEMO_PANIC_EVERY a River node crashes and reboots after every N of its
#                numbered lines (default 16: every 8 s at 2 lines/s; 0: never)
#   BIN_DIR      where our programs are (default ./build/bin; built when missing)
#   CONMAND      the conmand to supervise (default: ours; /usr/sbin/conmand for Debian's)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${BIN_DIR:-$root/build/bin}"
demo="${DEMO_DIR:-$root/demo-run}"
count="${DEMO_BMCS:-8}"
blade_nodes="${DEMO_BLADE_NODES:-2}"
seconds="${DEMO_SECONDS:-}"
panic_every="${DEMO_PANIC_EVERY:-16}"
[ "${1:-}" = --check ] && seconds="${seconds:-60}"
[ "${1:-}" = -h ] || [ "${1:-}" = --help ] && { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
[ $# -eq 0 ] || [ "$1" = --check ] || { echo "demo: unknown argument '$1' (see --help)" >&2; exit 2; }

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# 1. Build what is missing (make demo has built already; this is for direct runs).
need=(console-sim hsm-sim configure_conman conmand ssh-bmc-sim)
for p in "${need[@]}"; do
  if [ ! -x "$bin/$p" ]; then
    [ -z "${BIN_DIR:-}" ] || die "$bin/$p is missing (BIN_DIR=$BIN_DIR)"
    say "building into $root/build ..."
    bash "$root/scripts/deps.sh"
    cmake -S "$root" -B "$root/build" >/dev/null
    cmake --build "$root/build" -j 2 >/dev/null
    break
  fi
done
for p in "${need[@]}"; do [ -x "$bin/$p" ] || die "$bin/$p did not build"; done
# Our conmand, the default everywhere; CONMAND=/usr/sbin/conmand runs Debian's.
CONMAND=${CONMAND:-$bin/conmand}
[ -x "$CONMAND" ] || die "CONMAND=$CONMAND is not executable"
[[ "$blade_nodes" =~ ^[0-9]+$ ]] && [ "$blade_nodes" -le 64 ] ||
  die "DEMO_BLADE_NODES '$blade_nodes': expected a whole number from 0 to 64"
# Debian's conmand has no ssh: console type and no HTTP endpoints: with it
# the demo stays in bmc mode and only configure_conman serves /metrics.
ours=0
timeout 5 "$CONMAND" -V 2>&1 | grep -q "conmand (conman-service)" && ours=1
mode=bmc
[ "$ours" = 1 ] && [ "$blade_nodes" -gt 0 ] && mode=node
blade=x1000c0s0b0
[[ "$panic_every" =~ ^[0-9]+$ ]] ||
  die "DEMO_PANIC_EVERY '$panic_every': expected a whole number of lines"
crash=()
[ "$panic_every" -gt 0 ] && crash=(--panic-every "$panic_every")
rules="$root/etc/conman-events.rules"

# 2. A fresh scratch directory. Only a directory we made earlier is emptied.
if [ -e "$demo" ]; then
  [ -f "$demo/.demo-run" ] || die "$demo exists and is not a demo scratch directory; set DEMO_DIR"
  rm -rf "$demo"
fi
mkdir -p "$demo/logs"
touch "$demo/.demo-run"
demo="$(cd "$demo" && pwd)"

free_tcp_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Every process runs in its own session, so stopping one group also stops
# what it started (configure_conman's conmand, bmc-sim's ipmi_sims).
groups=()
stop_all() {
  trap - EXIT INT TERM
  [ ${#groups[@]} -eq 0 ] && return
  say "stopping ..."
  local g i alive
  for ((i = ${#groups[@]} - 1; i >= 0; i--)); do kill -TERM -- "-${groups[$i]}" 2>/dev/null || true; done
  # configure_conman gives conmand 10 s before SIGKILL (Debian's conmand
  # takes over a minute to exit with IPMI consoles); wait a little longer.
  for _ in $(seq 120); do
    alive=0
    for g in "${groups[@]}"; do kill -0 -- "-$g" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  say "stopped; files are in $demo"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

start() { # logfile argv...
  local log="$1"
  shift
  setsid "$@" </dev/null >"$log" 2>&1 &
  groups+=($!)
}

# await WHAT SECONDS LOG CMD...: runs CMD every 0.1 s until it succeeds,
# while the process started last lives; else stops, naming WHAT and LOG.
await() {
  local what="$1" secs="$2" log="$3" i
  shift 3
  for ((i = 0; i < secs * 10; i++)); do
    "$@" && return 0
    kill -0 "${groups[-1]}" 2>/dev/null || die "$what exited: $(tail -n 5 "$log")"
    sleep 0.1
  done
  "$@" || die "$what not ready after $secs s; see $log"
}

# 3. Simulated BMCs and their consoles.
say "starting $count simulated BMCs (ipmi_sim + console-sim) ..."
CONSOLE_SIM="$bin/console-sim" start "$demo/bmc-sim.log" \
  bash "$root/scripts/bmc-sim.sh" --dir "$demo/bmc" --count "$count" --rate 2 "${crash[@]}"
await "the simulated BMCs (bmc-sim)" 30 "$demo/bmc-sim.log" test -f "$demo/bmc/ready"

# 3b. Node mode: a Mountain blade BMC serving its nodes' consoles over SSH
# (user n<K> is node K), with a key made for this run.
inventory="$demo/bmc/inventory.json"
if [ "$mode" = node ]; then
  mkdir -p "$demo/ssh"
  ssh-keygen -q -t ed25519 -N "" -C demo -f "$demo/ssh/id_ed25519" || die "ssh-keygen failed"
  cp "$demo/ssh/id_ed25519.pub" "$demo/ssh/authorized_keys"
  ssh_port="$(free_tcp_port)"
  say "starting a Mountain blade BMC with $blade_nodes nodes (ssh-bmc-sim) ..."
  start "$demo/ssh-bmc-sim.log" "$bin/ssh-bmc-sim" --port "$ssh_port" \
    --host-key "$demo/ssh/host_key" --authorized-keys "$demo/ssh/authorized_keys" \
    --consoles "$blade_nodes" --prefix "$blade" --rate 2
  await ssh-bmc-sim 10 "$demo/ssh-bmc-sim.log" grep -qs "serving" "$demo/ssh-bmc-sim.log"
  # HSM's view: each River BMC has node n0; the blade has n0..n(K-1), Class Mountain.
  inventory="$demo/inventory-node.json"
  /usr/bin/python3 - "$demo/bmc/inventory.json" "$inventory" "$blade" "127.0.0.1:$ssh_port" \
    "$blade_nodes" <<'PY' || die "cannot write $inventory"
import json, sys
src, dst, blade, address, nodes = sys.argv[1:6]
inv = json.load(open(src))
eps = inv["RedfishEndpoints"]
def node(xname, cls):
    return {"ID": xname, "Type": "Node", "State": "Ready", "Flag": "OK", "Enabled": True,
            "Role": "Compute", "NetType": "Sling", "Arch": "X86", "Class": cls}
comps = [node(e["ID"] + "n0", "River") for e in eps]
comps += [node(f"{blade}n{k}", "Mountain") for k in range(int(nodes))]
eps.append({"ID": blade, "Type": "NodeBMC", "Name": "", "Hostname": blade, "Domain": "",
            "FQDN": "", "Enabled": True, "User": "root", "Password": "", "IPAddress": address})
json.dump({"RedfishEndpoints": eps, "Components": comps}, open(dst, "w"), indent=1)
PY
fi

# Console name, then the name its lines carry, one pair a line.
consoles() {
  local name
  for name in $(cut -f1 "$demo/bmc/bmcs.tsv"); do
    if [ "$mode" = node ]; then echo "${name}n0 $name"; else echo "$name $name"; fi
  done
  if [ "$mode" = node ]; then
    for ((k = 0; k < blade_nodes; k++)); do echo "${blade}n$k ${blade}n$k"; done
  fi
}
total="$(consoles | wc -l)"

# 4. HSM with those BMCs as NodeBMC RedfishEndpoints (and in node mode the nodes).
hsm_port="$(free_tcp_port)"
start "$demo/hsm-sim.log" "$bin/hsm-sim" --port "$hsm_port" --inventory "$inventory"
await hsm-sim 10 "$demo/hsm-sim.log" grep -qs "listening on" "$demo/hsm-sim.log"

# 5. configure_conman: discovers the BMCs, writes conman.conf, runs conmand.
# Both serve /healthz, /readyz and /metrics (conmand also /consoles).
conman_port="$(free_tcp_port)"
configure_http_port="$(free_tcp_port)"
conmand_http_port=""
conmand_http=""
if [ "$ours" = 1 ]; then
  conmand_http_port="$(free_tcp_port)"
  # On loopback only: the browser may join consoles (SERVER httpjoin).
  conmand_http="server httpport=$conmand_http_port httpjoin=ON"
fi
cat >"$demo/conman_base.conf" <<EOF
# UPDATE_CONFIG=TRUE
# Base configuration of the demo (scripts/demo.sh).
server keepalive=on
server logdir="$demo/logs"
server logfile="conmand.log"
server pidfile="$demo/conmand.pid"
server port=$conman_port
server timestamp=1h
$conmand_http
global log="console.%N"
global logopts="nolock,sanitize,timestamp"
global seropts="115200,8n1"
# FreeIPMI needs these for OpenIPMI's ipmi_sim (0x08000000: skip the channel
# payload support query, which crashes ipmi_sim; conman has no name for it).
global ipmiopts="W:opensesspriv,W:solpayloadsize,W:0x08000000"
EOF
node_env=()
if [ "$mode" = node ]; then
  node_env=(CONSOLE_MODE=node SSH_KEY_FILE="$demo/ssh/id_ed25519")
fi
# Our conmand recognises console events; configure_conman passes the rules
# on as "server eventrules=". Debian's conmand has no such keyword.
[ "$ours" = 1 ] && node_env+=(EVENT_RULES="$rules")
say "starting configure_conman (CONSOLE_MODE=$mode) with $CONMAND ..."
API_GATEWAY="http://127.0.0.1:$hsm_port" USER_FILE="$demo/bmc/secrets/user" \
  PWD_FILE="$demo/bmc/secrets/password" CONMAN_BASE_CONF="$demo/conman_base.conf" \
  CONMAN_CONF="$demo/conman.conf" CONMAND="$CONMAND" DISCOVERY_RETRY_SEC=2 \
  HTTP_PORT="$configure_http_port" HTTP_ADDR=127.0.0.1 \
  start "$demo/configure_conman.log" env "${node_env[@]}" "$bin/configure_conman"

all_listed() { [ "$(/usr/bin/conman -d "127.0.0.1:$conman_port" -q 2>/dev/null | wc -w)" -eq "$total" ]; }
await "configure_conman (conmand listing all $total consoles)" 30 "$demo/configure_conman.log" all_listed
first="$(consoles | awk 'NR == 1 {print $1; exit}')"
first_ssh="${blade}n0"

# 6a. Non-interactive: every console's log file must hold its own numbered lines.
lines_in() { # console, the name its lines carry
  grep -Eac "\] $2 #[0-9]{8} " "$demo/logs/console.$1" 2>/dev/null || true
}
check_logs() {
  local ok=0 console tag n
  while read -r console tag; do
    n="$(lines_in "$console" "$tag")"
    [ "${n:-0}" -ge 3 ] && ok=$((ok + 1))
  done < <(consoles)
  echo "$ok"
}
# Whether conmand's /events holds every rule named (e.g. kernel_panic boot).
events_include() {
  /usr/bin/python3 - "$conmand_http_port" "$@" <<'PY'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/events", timeout=5) as r:
        seen = {e["rule"] for e in json.load(r)}
except (OSError, ValueError):
    sys.exit(1)
sys.exit(0 if set(sys.argv[2:]) <= seen else 1)
PY
}
# What an operator's probes and Prometheus see: health, a few metrics,
# conmand's /consoles and /events as tables.
show_operations() {
  /usr/bin/python3 - "$configure_http_port" "$conmand_http_port" <<'PY' ||
import json, sys, urllib.error, urllib.request
def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
configure, conmand = sys.argv[1], sys.argv[2]
for name, port in (("configure_conman", configure), ("conmand", conmand)):
    if port:
        health = ", ".join(f"{p} {get(port, p)[0]}" for p in ("/healthz", "/readyz"))
        print(f"demo: {name} on 127.0.0.1:{port}: {health}")
def samples(port, prefixes):
    print(f"demo: curl -s http://127.0.0.1:{port}/metrics (some of it):")
    for line in get(port, "/metrics")[1].splitlines():
        if line.startswith(prefixes):
            print(f"demo:   {line}")
samples(configure, ("conman_configure_consoles_discovered", "conman_configure_conmand_up",
                    "conman_configure_last_discovery_success"))
if conmand:
    samples(conmand, ("conman_console_up{", "conman_consoles{", "conman_console_events_total{"))
    print(f"demo: curl -s http://127.0.0.1:{conmand}/consoles (as a table):")
    for c in json.loads(get(conmand, "/consoles")[1]):
        print(f"demo:   {c['name']:<16} {c['type']:<5} {c['state']:<10} "
              f"connects={c['connects']} log={c['log']}")
    events = json.loads(get(conmand, "/events")[1])
    shown = events[-12:]
    last = f", the last {len(shown)}" if len(shown) < len(events) else ""
    print(f"demo: curl -s http://127.0.0.1:{conmand}/events ({len(events)} console events"
          f"{last}, as a table):")
    for e in shown:
        print(f"demo:   {e['console']:<16} {e['rule']:<14} {e['severity']:<8} {e['time']} "
              f"{e['log']}:{e['offset']}")
    # The web console: what a browser's terminal gets for the first console.
    import asyncio, re, websockets
    first = json.loads(get(conmand, "/consoles")[1])[0]["name"]
    async def view(seconds=2.0):
        got, loop = b"", asyncio.get_running_loop()
        async with websockets.connect(f"ws://127.0.0.1:{conmand}/consoles/{first}/ws",
                                      max_size=None, open_timeout=5) as ws:
            end = loop.time() + seconds
            while loop.time() < end:
                try:
                    got += await asyncio.wait_for(ws.recv(), timeout=end - loop.time())
                except asyncio.TimeoutError:
                    break
        return got
    got = asyncio.run(view())
    numbered = len(re.findall(rb" #\d{8,} ", got))
    print(f"demo: web console: http://127.0.0.1:{conmand}/ lists every console; "
          f"/console.html?name={first} is its terminal")
    print(f"demo:   its WebSocket /consoles/{first}/ws sent {len(got)} bytes "
          f"({numbered} numbered lines: the log's tail, then live)")
PY
    say "the operations endpoints did not answer"
}

if [ -n "$seconds" ]; then
  [[ "$seconds" =~ ^[0-9]+$ ]] || die "DEMO_SECONDS '$seconds': expected a whole number of seconds"
  end=$((SECONDS + seconds))
  while [ "$(check_logs)" -lt "$total" ] && [ $SECONDS -lt $end ]; do sleep 0.5; done
  # The first crashes come after DEMO_PANIC_EVERY lines: wait for a panic
  # and the reboot after it to be events.
  if [ "$ours" = 1 ] && [ "$panic_every" -gt 0 ]; then
    while ! events_include kernel_panic boot && [ $SECONDS -lt $end ]; do sleep 0.5; done
  fi
  while read -r console tag; do
    kind=SOL
    [ "$mode" = node ] && [[ "$console" == "$blade"n* ]] && kind=SSH
    printf 'demo: %-14s %4s numbered %s lines in logs/console.%s\n' "$console" \
      "$(lines_in "$console" "$tag")" "$kind" "$console"
  done < <(consoles)
  ok="$(check_logs)"
  what="SOL output"
  [ "$mode" = node ] &&
    what="output ($count River nodes over IPMI SOL, $blade_nodes Mountain nodes over SSH)"
  show_operations
  if [ "$ok" -ne "$total" ]; then
    say "FAIL: only $ok of $total consoles logged $what within ${seconds}s (see $demo)"
    exit 1
  fi
  if [ "$ours" = 1 ] && [ "$panic_every" -gt 0 ] && ! events_include kernel_panic boot; then
    say "FAIL: no kernel_panic and boot console events on /events within ${seconds}s (see $demo)"
    exit 1
  fi
  say "PASS: all $total consoles logged $what through $CONMAND"
  exit 0
fi

# 6b. Interactive: say what to try, then wait for Ctrl-C.
cat <<EOF

The console service is running on loopback ($total consoles, CONSOLE_MODE=$mode,
conmand: $CONMAND).
Scratch directory: $demo

Try (in another terminal):
  conman -d 127.0.0.1:$conman_port -q
      list the consoles
  conman -d 127.0.0.1:$conman_port -m $first
      watch one (leave with '&.')
  conman -d 127.0.0.1:$conman_port -j $first
      join it: what you type reaches the console over SOL and is echoed
EOF
if [ "$mode" = node ]; then
  cat <<EOF
  conman -d 127.0.0.1:$conman_port -j $first_ssh
      join a Mountain node: conmand reaches it over SSH (user n0, key $demo/ssh/id_ed25519)
EOF
fi
cat <<EOF
  ls $demo/logs/
      one log file per console; e.g. tail -f $demo/logs/console.$first
  curl -s http://127.0.0.1:$configure_http_port/metrics
      configure_conman's health and metrics (also /healthz, /readyz)
EOF
if [ "$ours" = 1 ]; then
  cat <<EOF
  http://127.0.0.1:$conmand_http_port/
      every console in a browser: state, last output, last event; filter and sort
  http://127.0.0.1:$conmand_http_port/console.html?name=$first
      one console in the browser's terminal: the end of its log, then live; Join types into it
  curl -s http://127.0.0.1:$conmand_http_port/metrics
  curl -s http://127.0.0.1:$conmand_http_port/consoles
      conmand's per-console metrics, and every console's state as JSON
  curl -s http://127.0.0.1:$conmand_http_port/events
      console events: the nodes' kernel panics, Oopses, OOM kills, machine checks
      and boots, found in their output by $rules
EOF
fi
cat <<EOF
  cat $demo/conman.conf
      written by configure_conman from HSM (mode 0600: it holds the BMC password as hex)
  kill \$(cat $demo/conmand.pid); tail -f $demo/configure_conman.log
      configure_conman logs how conmand exited and starts it again
  curl -s http://127.0.0.1:$hsm_port/apis/smd/hsm/v2/Inventory/RedfishEndpoints
  curl -s 'http://127.0.0.1:$hsm_port/apis/smd/hsm/v2/State/Components?type=Node'
      what HSM (hsm-sim) tells configure_conman

(Debian's conmand can take up to a minute to exit after SIGTERM with IPMI
consoles. Prefer SIGTERM to kill -9: after a SIGKILL, ipmi_sim sometimes keeps
a console's SOL stream on the dead session, and that console stays silent.)

Ctrl-C stops everything.
EOF
while true; do
  for g in "${groups[@]}"; do
    kill -0 "$g" 2>/dev/null || die "a demo process (pid $g) exited; see the logs in $demo"
  done
  sleep 1
done
