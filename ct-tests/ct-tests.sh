#!/bin/bash
# CT tests: checks an operator runs inside the live console container.
# Prints one line per check (PASS/FAIL name: detail), then a count line;
# exits 0 when every check passed and 1 otherwise.
#
#   /app/ct-tests/ct-tests.sh            every check
#   /app/ct-tests/ct-tests.sh pid1 port  only the named checks
#   /app/ct-tests/ct-tests.sh --list     the check names
#   /app/ct-tests/ct-tests.sh healthz readyz metrics
#                                        configure_conman's HTTP endpoints
#                                        (HTTP_PORT; not in the default run)
#
# Settings come from PID 1's environment (what configure_conman really
# uses), then this shell's, then the defaults of the service. Secrets are
# read from their files and only ever handed to grep through a pipe, never
# through argv or the environment.
set -u
export LC_ALL=C

CHECKS_ALL="pid1 conmand port hsm logs_exist logs_grow cmdline_secrets environ_secrets"
CHECKS_EXTRA="responsive healthz readyz metrics"
HTTP_TIMEOUT_SEC=${CT_HTTP_TIMEOUT_SEC:-5}
GROW_WAIT_SEC=${CT_GROW_WAIT_SEC:-30}
QUERY_TIMEOUT_SEC=${CT_QUERY_TIMEOUT_SEC:-10}
STARTUP_GRACE_SEC=${CT_STARTUP_GRACE_SEC:-60}

passed=0
failed=0

pass() {
  echo "PASS $1: $2"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL $1: $2"
  failed=$((failed + 1))
}

# setting NAME DEFAULT: NAME from PID 1's environment, else ours, else DEFAULT.
setting() {
  local kv
  if [ -r /proc/1/environ ]; then
    while IFS= read -r -d '' kv; do
      if [ "${kv%%=*}" = "$1" ]; then
        printf '%s' "${kv#*=}"
        return
      fi
    done </proc/1/environ
  fi
  printf '%s' "${!1:-$2}"
}

CONMAN_CONF=$(setting CONMAN_CONF /etc/conman.conf)
PWD_FILE=$(setting PWD_FILE /secrets/password)
HSM_TOKEN_FILE=$(setting HSM_TOKEN_FILE "")
HTTP_PORT=$(setting HTTP_PORT "")
HTTP_ADDR=$(setting HTTP_ADDR 0.0.0.0)

# The conmand that PID 1 supervises: its pid, or empty.
conmand_pid() {
  local d ppid comm
  for d in /proc/[0-9]*; do
    [ -r "$d/stat" ] || continue
    comm=$(cat "$d/comm" 2>/dev/null) || continue
    [ "$comm" = conmand ] || continue
    ppid=$(awk '{print $4}' "$d/stat" 2>/dev/null) || continue
    if [ "$ppid" = 1 ]; then
      echo "${d#/proc/}"
      return
    fi
  done
}

# conf_value KEYWORD NAME: value of `KEYWORD NAME=...` in CONMAN_CONF.
conf_value() {
  sed -n -E "s/^[[:space:]]*$1[[:space:]]+$2=\"?([^\" ]*)\"?.*/\\1/Ip" \
    "$CONMAN_CONF" 2>/dev/null | tail -n 1
}

server_port() {
  local p
  p=$(conf_value server port)
  echo "${p:-7890}"
}

# Console names the daemon lists, one a line (fails when it does not answer).
query_names() {
  timeout "$QUERY_TIMEOUT_SEC" conman -d "127.0.0.1:$(server_port)" -q 2>&1
}

check_pid1() {
  local exe state zombies=""
  exe=$(readlink /proc/1/exe 2>/dev/null)
  state=$(awk '{print $3}' /proc/1/stat 2>/dev/null)
  if [ "${exe##*/}" != configure_conman ]; then
    fail pid1 "PID 1 is '${exe:-unknown}', not configure_conman"
    return
  fi
  case "$state" in
  Z | T | t | X)
    fail pid1 "configure_conman (PID 1) is in state $state"
    return
    ;;
  esac
  # As PID 1 it reaps every child: a zombie child that is still there a
  # second later means reaping is broken.
  zombies=$(zombie_children)
  [ -n "$zombies" ] && sleep 1 && zombies=$(zombie_children)
  if [ -n "$zombies" ]; then
    fail pid1 "PID 1 leaves zombie children: $zombies"
    return
  fi
  pass pid1 "$exe is PID 1, state $state, no zombie children"
}

zombie_children() {
  local d
  for d in /proc/[0-9]*; do
    awk '$4 == 1 && $3 == "Z" {printf "%s ", $1}' "$d/stat" 2>/dev/null
  done
}

check_conmand() {
  local pid args console_lines mode
  pid=$(conmand_pid)
  if [ -z "$pid" ]; then
    fail conmand "no conmand process is a child of PID 1"
    return
  fi
  args=$(tr '\0' ' ' <"/proc/$pid/cmdline")
  case " $args " in
  *" -c $CONMAN_CONF "*) ;;
  *)
    fail conmand "conmand (pid $pid) runs '$args', not with -c $CONMAN_CONF"
    return
    ;;
  esac
  if [ ! -s "$CONMAN_CONF" ]; then
    fail conmand "$CONMAN_CONF is missing or empty"
    return
  fi
  mode=$(stat -c %a "$CONMAN_CONF")
  if [ "$mode" != 600 ]; then
    fail conmand "$CONMAN_CONF has mode $mode, not 600 (it holds credentials)"
    return
  fi
  console_lines=$(grep -c -E '^[[:space:]]*console[[:space:]]' "$CONMAN_CONF")
  if [ "$console_lines" -eq 0 ]; then
    fail conmand "$CONMAN_CONF has no console line"
    return
  fi
  pass conmand "pid $pid runs '$args'; $CONMAN_CONF has $console_lines consoles"
}

check_port() {
  local out port
  port=$(server_port)
  if ! out=$(query_names); then
    fail port "conman -q on 127.0.0.1:$port failed: $(echo "$out" | head -n 1)"
    return
  fi
  pass port "127.0.0.1:$port answered a query with $(echo "$out" | grep -c .) consoles"
}

# Liveness: while conmand is starting (or not started for want of
# consoles), PID 1 alone is enough; a conmand older than the grace period
# must answer a query.
check_responsive() {
  local pid age out
  pid=$(conmand_pid)
  if [ -z "$pid" ]; then
    pass responsive "no conmand yet: configure_conman is waiting for consoles"
    return
  fi
  age=$(process_age "$pid")
  if [ "$age" -lt "$STARTUP_GRACE_SEC" ]; then
    pass responsive "conmand (pid $pid) started ${age}s ago, within the grace period"
    return
  fi
  if out=$(query_names); then
    pass responsive "conmand (pid $pid) answers on port $(server_port)"
  else
    fail responsive "conmand (pid $pid, up ${age}s) does not answer: $(echo "$out" | head -n 1)"
  fi
}

# configure_conman's own endpoint: 0.0.0.0 is reached on loopback.
http_url() {
  local addr=$HTTP_ADDR
  [ "$addr" = 0.0.0.0 ] && addr=127.0.0.1
  echo "http://$addr:$HTTP_PORT$1"
}

# http_get NAME PATH: GETs PATH into HTTP_BODY; fails check NAME unless 200.
HTTP_BODY=""
http_get() {
  local out code
  HTTP_BODY=""
  if [ -z "$HTTP_PORT" ]; then
    fail "$1" "HTTP_PORT is unset in PID 1's environment: configure_conman serves no HTTP"
    return 1
  fi
  out=$(curl -sS --max-time "$HTTP_TIMEOUT_SEC" -w '\n%{http_code}' "$(http_url "$2")" 2>&1)
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  if [ "$code" != 200 ]; then
    fail "$1" "GET $(http_url "$2") answered ${code:-nothing}: $(echo "$out" | head -n 1)"
    return 1
  fi
  HTTP_BODY=$out
}

check_healthz() {
  http_get healthz /healthz && pass healthz "$(http_url /healthz) answered 200"
}

check_readyz() {
  http_get readyz /readyz && pass readyz "$(http_url /readyz) answered 200"
}

# metric NAME: the value of an unlabelled sample of HTTP_BODY.
metric() {
  awk -v n="$1" '$1 == n {print $2}' <<<"$HTTP_BODY"
}

check_metrics() {
  local up consoles
  http_get metrics /metrics || return
  up=$(metric conman_configure_conmand_up)
  consoles=$(metric conman_configure_consoles_discovered)
  if [ -z "$up" ] || [ -z "$consoles" ]; then
    fail metrics "$(http_url /metrics) lacks conman_configure_conmand_up or _consoles_discovered"
    return
  fi
  pass metrics "$(http_url /metrics): conmand_up $up, consoles_discovered $consoles"
}

# process_age PID: seconds since PID started (stat field 22 is in ticks).
process_age() {
  local start up
  start=$(awk '{print $22}' "/proc/$1/stat" 2>/dev/null) || return 1
  up=$(cut -d' ' -f1 /proc/uptime)
  awk -v s="$start" -v u="$up" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%d\n", u - s / hz }'
}

# The inventory URL exactly as configure_conman builds it (DESIGN.md 1).
hsm_url() {
  local gw ep
  gw=$(setting API_GATEWAY api-gw-service-nmn.local)
  ep=$(setting RF_ENDPOINT apis/smd/hsm/v2/Inventory/RedfishEndpoints)
  case "$ep" in
  http://* | https://*)
    echo "$ep"
    return
    ;;
  esac
  case "$gw" in
  *://*) ;;
  *) gw="https://$gw" ;;
  esac
  echo "${gw%/}/${ep#/}"
}

# The console names HSM implies, by the rules of DESIGN.md 1.2.
hsm_expected_names() {
  local url ca timeout_sec id token=""
  url=$(hsm_url)
  ca=$(setting HSM_CA_FILE "")
  timeout_sec=$(setting HSM_TIMEOUT_SEC 10)
  id=$(setting LOG_IDENTIFIER Hostname)
  if [ -n "$HSM_TOKEN_FILE" ]; then
    token=$(head -n 1 "$HSM_TOKEN_FILE") || return 1
  fi
  # The header goes to curl on stdin so the token never reaches argv.
  { [ -n "$token" ] && printf 'Authorization: Bearer %s\n' "$token"; } |
    curl -fsS --max-time "$timeout_sec" ${ca:+--cacert "$ca"} -H @- "$url" |
    jq -r --arg id "${id:-ID}" '
      .RedfishEndpoints[]
      | select(.Enabled == true and .Type == "NodeBMC")
      | select((.IPAddress // "") != "" or (.FQDN // "") != ""
               or (.Hostname // "") != "")
      | (.[$id] // "") as $n
      | (if ($n | type) == "string" and $n != "" then $n else .ID end)
      | select(type == "string" and test("^[A-Za-z0-9._:-]{1,64}$"))' |
    sort -u
}

check_hsm() {
  local expected listed missing count
  if ! expected=$(set -o pipefail; hsm_expected_names 2>&1); then
    fail hsm "cannot read the inventory at $(hsm_url): $(echo "$expected" | tail -n 1)"
    return
  fi
  if ! listed=$(query_names); then
    fail hsm "conmand does not answer a query: $(echo "$listed" | head -n 1)"
    return
  fi
  count=$(echo "$expected" | grep -c .)
  if [ "$count" -eq 0 ]; then
    fail hsm "HSM at $(hsm_url) lists no usable NodeBMC endpoint"
    return
  fi
  missing=$(comm -23 <(echo "$expected") <(echo "$listed" | sort -u) | grep .)
  if [ -n "$missing" ]; then
    fail hsm "$(echo "$missing" | grep -c .) of $count HSM consoles not listed, e.g. $(echo "$missing" | head -n 5 | tr '\n' ' ')"
    return
  fi
  pass hsm "all $count consoles of $(hsm_url) are listed"
}

# Log file of each listed console: `global log=` relative to `server logdir`.
log_paths() {
  local names dir pattern name path
  names=$(query_names) || return 1
  dir=$(conf_value server logdir)
  pattern=$(conf_value global log)
  [ -n "$pattern" ] || return 1
  while IFS= read -r name; do
    [ -n "$name" ] || continue
    path=${pattern//%N/$name}
    path=${path//%%/%}
    case "$path" in
    /*) echo "$path" ;;
    *) echo "${dir:-/var/log}/$path" ;;
    esac
  done <<<"$names"
}

check_logs_exist() {
  local paths missing count
  if ! paths=$(log_paths) || [ -z "$paths" ]; then
    fail logs_exist "no console log paths (daemon silent, or no 'global log=' in $CONMAN_CONF)"
    return
  fi
  count=$(echo "$paths" | grep -c .)
  missing=$(while IFS= read -r p; do [ -f "$p" ] || echo "$p"; done <<<"$paths")
  if [ -n "$missing" ]; then
    fail logs_exist "$(echo "$missing" | grep -c .) of $count log files missing, e.g. $(echo "$missing" | head -n 3 | tr '\n' ' ')"
    return
  fi
  pass logs_exist "all $count console log files exist, e.g. $(echo "$paths" | head -n 1)"
}

sizes() {
  local p
  while IFS= read -r p; do
    stat -c %s "$p" 2>/dev/null || echo 0
  done <<<"$1"
}

# Idle nodes print nothing for hours, so the check passes when any console
# log grows within the wait, and reports how many did.
check_logs_grow() {
  local paths before after grown=0 total waited=0
  if ! paths=$(log_paths) || [ -z "$paths" ]; then
    fail logs_grow "no console log paths to watch"
    return
  fi
  total=$(echo "$paths" | grep -c .)
  before=$(sizes "$paths")
  while [ "$waited" -lt "$GROW_WAIT_SEC" ]; do
    sleep 2
    waited=$((waited + 2))
    after=$(sizes "$paths")
    grown=$(paste <(echo "$before") <(echo "$after") | awk '$2 > $1' | wc -l)
    [ "$grown" -gt 0 ] && [ "$waited" -ge 4 ] && break
  done
  if [ "$grown" -eq 0 ]; then
    fail logs_grow "none of $total console logs grew in ${GROW_WAIT_SEC}s"
    return
  fi
  pass logs_grow "$grown of $total console logs grew in ${waited}s"
}

# The secret patterns: password, its hex form (as in ipmiopts P:0x...) and
# the HSM token; written only into a pipe for grep -f.
secret_patterns() {
  local pw="" token=""
  IFS= read -r pw <"$PWD_FILE" || [ -n "$pw" ] || return 1
  pw=${pw%$'\r'}
  [ -n "$pw" ] || return 1
  printf '%s\n' "$pw"
  printf '%s' "$pw" | od -An -tx1 -v | tr -d ' \n'
  echo
  if [ -n "$HSM_TOKEN_FILE" ] && IFS= read -r token <"$HSM_TOKEN_FILE" || [ -n "$token" ]; then
    token=${token%$'\r'}
    [ -n "$token" ] && printf '%s\n' "$token"
  fi
  return 0
}

# grep_secrets FILE...: names of the FILEs that hold a secret.
grep_secrets() {
  grep -l -a -i -F -f <(secret_patterns) "$@" 2>/dev/null
}

check_cmdline_secrets() {
  local hits
  if ! secret_patterns >/dev/null; then
    fail cmdline_secrets "cannot read a password from $PWD_FILE"
    return
  fi
  hits=$(grep_secrets /proc/[0-9]*/cmdline)
  if [ -n "$hits" ]; then
    fail cmdline_secrets "a secret is on the command line of $(echo "$hits" | tr '\n' ' ')"
    return
  fi
  pass cmdline_secrets "no password, hex password or token in any /proc/*/cmdline"
}

check_environ_secrets() {
  local pid hits files="/proc/1/environ"
  if ! secret_patterns >/dev/null; then
    fail environ_secrets "cannot read a password from $PWD_FILE"
    return
  fi
  pid=$(conmand_pid)
  if [ -z "$pid" ]; then
    fail environ_secrets "no conmand process to inspect"
    return
  fi
  files="$files /proc/$pid/environ"
  # shellcheck disable=SC2086 # two known paths
  hits=$(grep_secrets $files)
  if [ -n "$hits" ]; then
    fail environ_secrets "a secret is in the environment: $(echo "$hits" | tr '\n' ' ')"
    return
  fi
  pass environ_secrets "no secret in the environment of conmand (pid $pid) or PID 1"
}

main() {
  local checks c
  if [ "${1:-}" = --list ]; then
    echo "$CHECKS_ALL $CHECKS_EXTRA" | tr ' ' '\n'
    return 0
  fi
  checks=${*:-$CHECKS_ALL}
  for c in $checks; do
    case " $CHECKS_ALL $CHECKS_EXTRA " in
    *" $c "*) "check_$c" ;;
    *) fail "$c" "no such check (see --list)" ;;
    esac
  done
  echo "ct-tests: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

main "$@"
