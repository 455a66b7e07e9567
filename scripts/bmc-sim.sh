#!/usr/bin/env bash
# Simulated BMCs on loopback: one console-sim process serving every node's
# serial console, and one OpenIPMI ipmi_sim per BMC speaking IPMI 2.0 SOL on
# its own UDP port of 127.0.0.1, wired to that console. Runs in the
# foreground until SIGINT/SIGTERM and stops every process it started.
#
# usage: scripts/bmc-sim.sh --dir DIR [--count N] [--rate LPS] [--panic-every N]
#                           [--user-file F] [--password-file F] [--console-sim PATH]
#                           [--ipv6]
#   --ipv6           the BMCs listen on ::1 instead (addresses [::1]:UDPPORT)
#   --panic-every N  each node crashes (kernel panic, OOM kill, ...) and reboots
#                    after every N numbered lines (console-sim --panic-every)
# Writes under DIR:
#   secrets/user, secrets/password   (created when no files are given; mode 0600)
#   bmc/<name>/{lan.conf,emu.cmd,state/,ipmi_sim.log}
#   console-sim.log, console-sim.out
#   bmcs.tsv        one line per BMC: NAME  127.0.0.1:UDPPORT  SOL-BACKEND-TCP-PORT
#                   ([::1]:UDPPORT with --ipv6)
#   inventory.json  HSM RedfishEndpoints + Components for hsm-sim --inventory
#   ready           appears when every BMC is up (then "ready N bmcs" on stdout)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dir="" count=8 rate=2 panic_every="" user_file="" pwd_file="" bmc_host=127.0.0.1
console_sim="${CONSOLE_SIM:-$here/../build/bin/console-sim}"

die() { echo "bmc-sim: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
    --count) count="${2:?--count needs a value}"; shift 2 ;;
    --rate) rate="${2:?--rate needs a value}"; shift 2 ;;
    --panic-every) panic_every="${2:?--panic-every needs a value}"; shift 2 ;;
    --user-file) user_file="${2:?--user-file needs a value}"; shift 2 ;;
    --password-file) pwd_file="${2:?--password-file needs a value}"; shift 2 ;;
    --console-sim) console_sim="${2:?--console-sim needs a value}"; shift 2 ;;
    --ipv6) bmc_host=::1; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$dir" ] || die "--dir is required"
[[ "$count" =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le 64 ] ||
  die "--count '$count': expected 1-64 (one ipmi_sim process per BMC)"
[ -x "$console_sim" ] || die "console-sim not found at $console_sim (build first, or --console-sim PATH)"
command -v ipmi_sim >/dev/null || die "ipmi_sim not found (Debian package openipmi; run scripts/deps.sh)"

mkdir -p "$dir/secrets" "$dir/bmc"
dir="$(cd "$dir" && pwd)"
umask 077

# Credentials: the given files, or fresh ones. The password goes into each
# lan.conf (ipmi_sim reads it from there), never onto a command line.
if [ -z "$user_file" ]; then
  user_file="$dir/secrets/user"
  echo admin >"$user_file"
fi
if [ -z "$pwd_file" ]; then
  pwd_file="$dir/secrets/password"
  od -An -N8 -tx1 /dev/urandom | tr -d ' \n' >"$pwd_file"
  echo >>"$pwd_file"
fi
IFS= read -r user <"$user_file" || true
IFS= read -r pass <"$pwd_file" || true
user="${user%$'\r'}" pass="${pass%$'\r'}"
# lan.conf quotes the values: keep to characters that need no escaping.
[[ "$user" =~ ^[A-Za-z0-9._-]{1,16}$ ]] ||
  die "$user_file: the user name must be 1-16 characters [A-Za-z0-9._-]"
[[ "$pass" =~ ^[A-Za-z0-9._+=@%-]{1,20}$ ]] ||
  die "$pwd_file: the password must be 1-20 characters [A-Za-z0-9._+=@%-]"

pids=()
stop_all() {
  trap - EXIT INT TERM
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -f "$dir/ready"
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

names=()
for i in $(seq 1 "$count"); do names+=("x3000c0s${i}b0"); done

# 1. The consoles, on kernel-picked TCP ports (no race for free ports).
specs=()
for n in "${names[@]}"; do specs+=("$n=tcp:0"); done
rm -f "$dir/ready" "$dir/console-sim.out"
crash=()
[ -n "$panic_every" ] && crash=(--panic-every "$panic_every")
"$console_sim" --rate "$rate" "${crash[@]}" "${specs[@]}" >"$dir/console-sim.out" \
  2>"$dir/console-sim.log" &
pids+=($!)
for _ in $(seq 100); do
  grep -q '^ready ' "$dir/console-sim.out" 2>/dev/null && break
  kill -0 "${pids[0]}" 2>/dev/null || die "console-sim failed: $(tail -n 3 "$dir/console-sim.log")"
  sleep 0.05
done
grep -q '^ready ' "$dir/console-sim.out" || die "console-sim did not get ready in 5 s"

# 2. Distinct free UDP ports for the BMCs, all held at once while chosen.
# Below 32768: FreeIPMI 1.6.10 keeps the port of "host:port" in a signed
# 16-bit integer, so libipmiconsole asks getaddrinfo for service "-26535"
# instead of 39001 and fails with "hostname invalid". The kernel's
# ephemeral range (32768-60999) is therefore no use here.
mapfile -t udp_ports < <(/usr/bin/python3 - "$count" "$bmc_host" <<'EOF'
import random, socket, sys
want, host, socks = int(sys.argv[1]), sys.argv[2], []
family = socket.AF_INET6 if ":" in host else socket.AF_INET
for port in random.sample(range(20000, 32768), 2000):
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
    except OSError:
        s.close()
        continue
    socks.append(s)
    if len(socks) == want:
        break
for s in socks:
    print(s.getsockname()[1])
EOF
)
[ "${#udp_ports[@]}" -eq "$count" ] || die "found only ${#udp_ports[@]} free UDP ports below 32768"

write_bmc_files() { # name udp_port console_port
  local d="$dir/bmc/$1"
  mkdir -p "$d/state"
  cat >"$d/lan.conf" <<EOF
name "$1"
set_working_mc 0x20
  startlan 1
    addr $bmc_host $2
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid $(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  endlan
  sol "telnet:127.0.0.1:$3" 115200
user 2 true "$user" "$pass" admin 10 none md2 md5 straight
EOF
  cat >"$d/emu.cmd" <<'EOF'
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
EOF
}

# 3. One ipmi_sim per BMC. It connects to its SOL backend at start.
bmc_url_host="$bmc_host"
[[ "$bmc_host" == *:* ]] && bmc_url_host="[$bmc_host]"
: >"$dir/bmcs.tsv.tmp"
for i in "${!names[@]}"; do
  n="${names[$i]}"
  cport="$(awk -v n="$n" '$1 == "console" && $2 == n {split($4, a, ":"); print a[2]}' \
    "$dir/console-sim.out")"
  write_bmc_files "$n" "${udp_ports[$i]}" "$cport"
  ipmi_sim -c "$dir/bmc/$n/lan.conf" -f "$dir/bmc/$n/emu.cmd" -s "$dir/bmc/$n/state" -n \
    </dev/null >"$dir/bmc/$n/ipmi_sim.log" 2>&1 &
  pids+=($!)
  printf '%s\t%s:%s\t%s\n' "$n" "$bmc_url_host" "${udp_ports[$i]}" "$cport" >>"$dir/bmcs.tsv.tmp"
done
mv "$dir/bmcs.tsv.tmp" "$dir/bmcs.tsv"

# 4. The HSM view of these BMCs, for hsm-sim --inventory.
{
  echo '{"RedfishEndpoints": ['
  sep=""
  while IFS=$'\t' read -r n addr _; do
    printf '%s  {"ID": "%s", "Type": "NodeBMC", "Name": "", "Hostname": "%s", "Domain": "", ' \
      "$sep" "$n" "$n"
    printf '"FQDN": "%s", "Enabled": true, "IPAddress": "%s"}' "$n" "$addr"
    sep=$',\n'
  done <"$dir/bmcs.tsv"
  printf '\n], "Components": [\n'
  sep="" nid=1
  while IFS=$'\t' read -r n _ _; do
    printf '%s  {"ID": "%sn0", "Type": "Node", "State": "Ready", "Flag": "OK", ' "$sep" "$n"
    printf '"Enabled": true, "Role": "Compute", "NID": %d, "Arch": "X86", "Class": "River"}' "$nid"
    sep=$',\n' nid=$((nid + 1))
  done <"$dir/bmcs.tsv"
  printf '\n]}\n'
} >"$dir/inventory.json"

# 5. Ready when every ipmi_sim listens on its UDP port and has connected to
# its console (console-sim logs one "client connected" per console).
for _ in $(seq 200); do
  up=0
  for p in "${udp_ports[@]}"; do
    [ -n "$(ss -Hlun "sport = :$p" 2>/dev/null)" ] && up=$((up + 1))
  done
  conn="$(grep -c 'client connected' "$dir/console-sim.log" || true)"
  [ "$up" -eq "$count" ] && [ "$conn" -ge "$count" ] && break
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null || die "a simulator exited early; see $dir/bmc/*/ipmi_sim.log"
  done
  sleep 0.05
done
[ "$up" -eq "$count" ] && [ "$conn" -ge "$count" ] ||
  die "only $up of $count BMCs listening and $conn consoles connected after 10 s"

touch "$dir/ready"
echo "ready $count bmcs"
wait
