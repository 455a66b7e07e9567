#!/bin/bash
# Container test: builds the service image from the repository's Dockerfile
# without any registry (the debian:bookworm base is made from Debian
# packages with mmdebstrap and imported into podman), then runs it with
# configure_conman as PID 1 against hsm-sim and simulated IPMI BMCs on the
# host's loopback (--network=host), and runs ct-tests/ inside it.
#
#   sudo bash scripts/container-test.sh
#
# Needs root, podman, runc and mmdebstrap (scripts/deps.sh container) and a
# build of the simulators (BUILD_DIR, default build/; built when missing).
# Settings (environment):
#   CONTAINER_STATE_DIR  podman store and base rootfs, kept between runs so
#                        a warm run reuses layers (default /var/tmp/conman-container)
#   BUILD_DIR            host build directory with hsm-sim and console-sim
#   CT_NODES             simulated BMCs (default 4)
#   CT_SOURCE            worktree (default): build the image from the work
#                        tree as it is; head: from the last commit only
#                        (git archive), leaving uncommitted edits out
# Prints one line per scenario and "container-test: N passed, N failed";
# exits 0 when all passed. Every container, simulator and temp dir it
# starts is removed on exit; the image and the layer cache are kept.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
STATE=${CONTAINER_STATE_DIR:-/var/tmp/conman-container}
BUILD_DIR=${BUILD_DIR:-$SRC/build}
NODES=${CT_NODES:-4}
BASE_IMAGE=localhost/debian:bookworm
IMAGE=localhost/cray_conman:test
TAG="ct$$"

passed=0
failed=0
containers=()
pids=()
T=""
CONTEXT=$SRC # the build context: the work tree, or HEAD exported

say() { echo "container-test: $*"; }
die() {
  say "error: $*" >&2
  exit 2
}
pass() {
  echo "PASS $1: $2"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL $1: $2"
  failed=$((failed + 1))
}

pm() {
  podman --root "$STATE/storage" --runroot "$STATE/run" \
    --storage-driver=overlay "$@"
}

cleanup() {
  local c p
  # Each container's output stays in $STATE/logs for a look after the run.
  mkdir -p "$STATE/logs"
  for c in "${containers[@]}"; do
    pm logs "$c" >"$STATE/logs/${c#"$TAG"-}.log" 2>&1 || true
    pm rm -f -t 0 "$c" >/dev/null 2>&1 || true
  done
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  done
  [ -n "$T" ] && rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.5 s, bounded in time.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# Lists every package of deploy/*-packages.txt (one list, comments dropped).
packages() { grep -v -e '^#' -e '^[[:space:]]*$' "$CONTEXT/deploy/$1-packages.txt"; }

preflight() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (podman with runc and cgroupfs)"
  bash "$SRC/scripts/deps.sh" container
  mkdir -p "$STATE"
  # What this machine needs (reference: crun and the default ulimits fail).
  cat >"$STATE/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  export CONTAINERS_CONF="$STATE/containers.conf"
  if [ ! -x "$BUILD_DIR/bin/hsm-sim" ] || [ ! -x "$BUILD_DIR/bin/console-sim" ]; then
    cmake -S "$SRC" -B "$BUILD_DIR" >/dev/null
    cmake --build "$BUILD_DIR" -j 2 --target hsm-sim console-sim >/dev/null
  fi
}

# The base image from Debian packages: no registry is involved.
base_image() {
  local t0=$SECONDS
  if pm image exists "$BASE_IMAGE"; then
    say "base image $BASE_IMAGE present"
    return
  fi
  # shellcheck disable=SC2016 # $1 is the hook's argument, expanded by mmdebstrap
  mmdebstrap --quiet --variant=minbase --include=ca-certificates \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$STATE/rootfs.tar" >"$STATE/mmdebstrap.log" 2>&1 ||
    die "mmdebstrap failed, see $STATE/mmdebstrap.log"
  pm import -q "$STATE/rootfs.tar" "$BASE_IMAGE" >/dev/null
  rm -f "$STATE/rootfs.tar"
  say "base image $BASE_IMAGE made with mmdebstrap in $((SECONDS - t0)) s"
}

build_image() {
  local t0=$SECONDS targets="configure_conman conmand"
  CONTEXT=$SRC
  case "${CT_SOURCE:-worktree}" in
  worktree) ;;
  head)
    CONTEXT="$T/context"
    mkdir -p "$CONTEXT"
    git -C "$SRC" archive HEAD | tar -x -C "$CONTEXT"
    ;;
  *) die "CT_SOURCE='$CT_SOURCE': expected worktree or head" ;;
  esac
  # Until our conmand lands in the tree the image ships Debian's only.
  grep -qs 'conmand' "$CONTEXT/src/conmand/CMakeLists.txt" || targets=configure_conman
  if ! pm build --network=host --format docker \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg TARGETS="$targets" \
    -t "$IMAGE" -f "$CONTEXT/Dockerfile" "$CONTEXT" >"$STATE/build.log" 2>&1; then
    tail -n 20 "$STATE/build.log"
    die "image build failed, see $STATE/build.log"
  fi
  say "image $IMAGE built from the ${CT_SOURCE:-worktree} in $((SECONDS - t0)) s ($targets)," \
    "$(pm image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}')"
}

# The image is what the Dockerfile promises: entrypoint, port, volume,
# layout, the shared package list, and no configuration or secret baked in.
check_image_layout() {
  local meta out
  meta=$(pm image inspect --format \
    '{{json .Config.Entrypoint}} {{json .Config.ExposedPorts}} {{json .Config.Volumes}}' "$IMAGE")
  case "$meta" in
  '["/app/configure_conman"] {"7890/tcp":{}} {"/var/log/conman":{}}') ;;
  *)
    fail image_layout "entrypoint/ports/volumes are $meta"
    return
    ;;
  esac
  # shellcheck disable=SC2016 # the script runs inside the image
  if ! out=$(pm run --rm --no-healthcheck --network=none --entrypoint /bin/bash "$IMAGE" -c '
      set -e
      test ! -e /secrets || { echo "/secrets is in the image"; exit 1; }
      test ! -e /etc/conman.conf || { echo "/etc/conman.conf is in the image"; exit 1; }
      test -x /app/ct-tests/ct-tests.sh && test -x /usr/sbin/conmand
      sha256sum /app/conman_base.conf | cut -d" " -f1
      dpkg-query -W -f="\${Package}\n" '"$(packages runtime | tr '\n' ' ')"' | wc -l
      ' 2>&1); then
    fail image_layout "$out"
    return
  fi
  if [ "$(echo "$out" | head -n 1)" != "$(sha256sum "$CONTEXT/etc/conman_base.conf" | cut -d' ' -f1)" ]; then
    fail image_layout "/app/conman_base.conf differs from etc/conman_base.conf"
    return
  fi
  if [ "$(echo "$out" | tail -n 1)" != "$(packages runtime | wc -l)" ]; then
    fail image_layout "the image lacks packages of deploy/runtime-packages.txt"
    return
  fi
  pass image_layout "entrypoint /app/configure_conman, 7890/tcp, volume /var/log/conman, no /secrets or /etc/conman.conf, runtime packages installed"
}

# BMCs (ipmi_sim + console-sim) and HSM on the host's loopback.
start_simulators() {
  local hsm_port
  mkdir -p "$T/bmc" "$T/hsm"
  "$SRC/scripts/bmc-sim.sh" --dir "$T/bmc" --count "$NODES" \
    --console-sim "$BUILD_DIR/bin/console-sim" >"$T/bmc-sim.log" 2>&1 &
  pids+=($!)
  wait_until 60 test -e "$T/bmc/ready" || die "bmc-sim not ready in 60 s: $(tail -n 3 "$T/bmc-sim.log")"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$T/hsm/token"
  hsm_port=$(free_port)
  "$BUILD_DIR/bin/hsm-sim" --port "$hsm_port" --inventory "$T/bmc/inventory.json" \
    --token-file "$T/hsm/token" >"$T/hsm-sim.log" 2>&1 &
  pids+=($!)
  wait_until 10 grep -q listening "$T/hsm-sim.log" || die "hsm-sim did not start: $(cat "$T/hsm-sim.log")"
  HSM_URL="http://127.0.0.1:$hsm_port"
  say "$NODES simulated BMCs; hsm-sim at $HSM_URL"
}

# A base file like the shipped one, on a free port (the host network is
# shared) and with the workaround flags ipmi_sim needs.
write_base_conf() {
  CONMAN_PORT=$(free_port)
  mkdir -p "$T/config"
  sed -e "s/^server port=.*/server port=$CONMAN_PORT/" "$SRC/etc/conman_base.conf" >"$T/config/base.conf"
  echo 'global ipmiopts="W:opensesspriv,W:solpayloadsize,W:0x08000000"' >>"$T/config/base.conf"
  chmod 0644 "$T/config/base.conf"
}

listed_count() {
  timeout 5 conman -d "127.0.0.1:$CONMAN_PORT" -q 2>/dev/null | grep -c .
}
all_listed() { [ "$(listed_count)" -eq "$NODES" ]; }

# run_service NAME [podman run options...]: starts the image against the
# simulators with secrets bind-mounted read-only; sets C to its name.
run_service() {
  C="$TAG-$1"
  shift
  containers+=("$C")
  pm run -d --no-healthcheck --name "$C" --network=host \
    -v "$T/config:/ct-config:ro" -e CONMAN_BASE_CONF=/ct-config/base.conf \
    -e API_GATEWAY="$HSM_URL" -e HSM_TOKEN_FILE=/hsm/token \
    -e DISCOVERY_RETRY_SEC=2 "$@" "$IMAGE" >/dev/null
}

# rss_kb PID: resident memory of a host process.
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

report_memory() {
  local c=$1 pid child
  pid=$(pm inspect --format '{{.State.Pid}}' "$c")
  child=$(awk '{print $1}' "/proc/$pid/task/$pid/children" 2>/dev/null)
  say "memory ($2, $NODES consoles): configure_conman $(rss_kb "$pid") kB," \
    "conmand $(rss_kb "${child:-0}") kB RSS"
}

# run_ct NAME CONTAINER: the CT tests inside the live container must pass.
run_ct() {
  local out rc=0
  out=$(pm exec "$2" /app/ct-tests/ct-tests.sh 2>&1) || rc=$?
  printf '%s\n' "$out" | while IFS= read -r l; do echo "    $l"; done
  if [ "$rc" -eq 0 ]; then
    pass "$1" "ct-tests passed: $(echo "$out" | tail -n 1)"
  else
    fail "$1" "ct-tests exited $rc"
  fi
}

# probe NAME CONTAINER: what deploy/k8s probes (/healthz and /readyz on
# HTTP_PORT) and the image's HEALTHCHECK ask pass on a healthy container.
probe() {
  local out
  if out=$(pm exec "$2" /app/ct-tests/ct-tests.sh pid1 healthz 2>&1) &&
    out=$(pm exec "$2" /app/ct-tests/ct-tests.sh readyz metrics 2>&1); then
    pass "$1_probes" "liveness (/healthz), readiness (/readyz) and /metrics pass"
  else
    fail "$1_probes" "$out"
  fi
}

scenario_live_root() {
  local c t0=$SECONDS rc=0 out
  run_service live -v "$T/bmc/secrets:/secrets:ro" -v "$T/hsm:/hsm:ro" \
    -v "$T/logs-root:/var/log/conman"
  c=$C
  if ! wait_until 90 all_listed; then
    fail live_root "conmand listed $(listed_count) of $NODES consoles after 90 s; $(pm logs "$c" 2>&1 | tail -n 3)"
    return
  fi
  say "all $NODES consoles listed $((SECONDS - t0)) s after start"
  run_ct live_root "$c"
  probe live_root "$c"
  report_memory "$c" "root, our conmand (the default)"

  # The CT secret check must catch a secret on a command line: start a
  # process inside whose argv[0] is the password (read inside, so the host's
  # argv never holds it).
  # shellcheck disable=SC2016 # expanded inside the container
  pm exec -d "$c" /bin/bash -c 'exec -a "$(cat /secrets/password)" sleep 30' >/dev/null
  out=$(pm exec "$c" /app/ct-tests/ct-tests.sh cmdline_secrets 2>&1) || rc=$?
  if [ "$rc" -eq 1 ] && echo "$out" | grep -q '^FAIL cmdline_secrets'; then
    pass ct_detects_secret "a password in a process's argv fails cmdline_secrets"
  else
    fail ct_detects_secret "exit $rc: $out"
  fi

  t0=$SECONDS
  pm stop -t 30 "$c" >/dev/null
  rc=$(pm inspect --format '{{.State.ExitCode}}' "$c")
  if [ "$rc" -eq 0 ]; then
    pass sigterm "podman stop: configure_conman exited 0 in $((SECONDS - t0)) s"
  else
    fail sigterm "exit code $rc after podman stop"
  fi
}

scenario_live_debian() {
  local c t0=$SECONDS
  if ! pm run --rm --no-healthcheck --network=none --entrypoint /bin/test "$IMAGE" -x /usr/sbin/conmand; then
    fail live_debian "the image has no /usr/sbin/conmand (Debian's must stay selectable)"
    return
  fi
  run_service debian -e CONMAND=/usr/sbin/conmand -v "$T/bmc/secrets:/secrets:ro" \
    -v "$T/hsm:/hsm:ro" -v "$T/logs-debian:/var/log/conman"
  c=$C
  if ! wait_until 90 all_listed; then
    fail live_debian "Debian's conmand listed $(listed_count) of $NODES consoles after 90 s; $(pm logs "$c" 2>&1 | tail -n 3)"
    return
  fi
  say "all $NODES consoles listed $((SECONDS - t0)) s after start (Debian's conmand)"
  run_ct live_debian "$c"
  report_memory "$c" "root, Debian's conmand"
  pm stop -t 15 "$c" >/dev/null
}

# Consoles the daemon inside container $1 lists on the default port 7890.
listed_inside() { pm exec "$1" timeout 5 conman -q 2>/dev/null | grep -c .; }
all_listed_inside() { [ "$(listed_inside "$1")" -eq "$NODES" ]; }

# The image as shipped: its own base file (port 7890), /etc/conman.conf,
# Debian's conmand, in a network namespace of its own (so 7890 is free
# whatever the host runs); HSM and the BMCs are started inside that
# namespace, on its loopback. The shipped base file lacks the workaround
# flags ipmi_sim needs, so consoles do not connect: logs_grow is left out.
scenario_shipped() {
  local c pid dir="$T/shipped" hsm_port=8080 out rc=0
  mkdir -p "$dir/secrets" "$dir/hsm" "$dir/bmc"
  echo admin >"$dir/secrets/user"
  od -An -N8 -tx1 /dev/urandom | tr -d ' \n' >"$dir/secrets/password"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$dir/hsm/token"
  chmod 0600 "$dir"/secrets/* "$dir/hsm/token"
  C="$TAG-shipped"
  containers+=("$C")
  pm run -d --no-healthcheck --name "$C" --network=none \
    -v "$dir/secrets:/secrets:ro" -v "$dir/hsm:/hsm:ro" \
    -e API_GATEWAY="http://127.0.0.1:$hsm_port" -e HSM_TOKEN_FILE=/hsm/token \
    -e DISCOVERY_RETRY_SEC=2 "$IMAGE" >/dev/null
  c=$C
  pid=$(pm inspect --format '{{.State.Pid}}' "$c")
  nsenter --target "$pid" --net "$SRC/scripts/bmc-sim.sh" --dir "$dir/bmc" --count "$NODES" \
    --user-file "$dir/secrets/user" --password-file "$dir/secrets/password" \
    --console-sim "$BUILD_DIR/bin/console-sim" >"$dir/bmc-sim.log" 2>&1 &
  pids+=($!)
  if ! wait_until 60 test -e "$dir/bmc/ready"; then
    fail shipped "bmc-sim in the container's network namespace: $(tail -n 3 "$dir/bmc-sim.log")"
    return
  fi
  nsenter --target "$pid" --net "$BUILD_DIR/bin/hsm-sim" --port "$hsm_port" \
    --inventory "$dir/bmc/inventory.json" --token-file "$dir/hsm/token" >"$dir/hsm-sim.log" 2>&1 &
  pids+=($!)
  if ! wait_until 60 all_listed_inside "$c"; then
    fail shipped "conman -q inside listed $(listed_inside "$c") of $NODES consoles; $(pm logs "$c" 2>&1 | tail -n 3)"
    return
  fi
  out=$(pm exec "$c" /app/ct-tests/ct-tests.sh pid1 conmand port hsm logs_exist \
    cmdline_secrets environ_secrets 2>&1) || rc=$?
  printf '%s\n' "$out" | while IFS= read -r l; do echo "    $l"; done
  if [ "$rc" -eq 0 ] && echo "$out" | grep -q '^PASS port: 127.0.0.1:7890 ' &&
    echo "$out" | grep -q '^PASS conmand: .* -c /etc/conman.conf '; then
    pass shipped "defaults: 7890, /etc/conman.conf, Debian's conmand; $(echo "$out" | tail -n 1)"
  else
    fail shipped "ct-tests exited $rc"
  fi
  pm stop -t 15 "$c" >/dev/null
}

# As deploy/k8s runs it: the StatefulSet's user, read-only root, environment
# and volumes (Secrets as files, emptyDirs, the log claim), translated to
# podman options from the manifest itself.
scenario_k8s_like() {
  local c t0=$SECONDS name="$TAG-k8s" args
  mkdir -p "$T/k8s"
  if ! args=$(/usr/bin/python3 "$SRC/deploy/k8s_to_podman.py" \
    --manifest "$SRC/deploy/k8s/statefulset.yaml" --dir "$T/k8s" \
    --secret "cray-conman-bmc-credentials/user=$T/bmc/secrets/user" \
    --secret "cray-conman-bmc-credentials/password=$T/bmc/secrets/password" \
    --secret "cray-conman-hsm-token/token=$T/hsm/token" \
    --set-env API_GATEWAY="$HSM_URL" --set-env CONMAN_BASE_CONF=/ct-config/base.conf \
    --set-env DISCOVERY_RETRY_SEC=2); then
    fail k8s_like "deploy/k8s/statefulset.yaml cannot be run: $args"
    return
  fi
  mapfile -t args <<<"$args"
  containers+=("$name")
  pm run -d --no-healthcheck --name "$name" --network=host \
    -v "$T/config:/ct-config:ro" "${args[@]}" "$IMAGE" >/dev/null
  c=$name
  if ! wait_until 90 all_listed; then
    fail k8s_like "listed $(listed_count) of $NODES consoles after 90 s; $(pm logs "$c" 2>&1 | tail -n 3)"
    return
  fi
  say "all $NODES consoles listed $((SECONDS - t0)) s after start (as deploy/k8s: ${args[0]}, read-only root)"
  run_ct k8s_like "$c"
  probe k8s_like "$c"
  report_memory "$c" "as deploy/k8s"
}

# The README's promise: with no HSM reachable configure_conman stays up,
# logs why nothing runs, and retries.
scenario_no_hsm() {
  local c logs rc=0
  run_service nohsm -e API_GATEWAY="http://127.0.0.1:$(free_port)" \
    -v "$T/bmc/secrets:/secrets:ro" -v "$T/hsm:/hsm:ro"
  c=$C
  sleep 6
  logs=$(pm logs "$c" 2>&1)
  if [ "$(pm inspect --format '{{.State.Running}}' "$c")" != true ]; then
    fail no_hsm "the container exited: $(echo "$logs" | tail -n 3)"
    return
  fi
  if [ "$(echo "$logs" | grep -c 'HSM discovery failed')" -lt 2 ] ||
    ! echo "$logs" | grep -q 'conmand not started'; then
    fail no_hsm "no repeated discovery failure / no 'conmand not started' in: $(echo "$logs" | tail -n 5)"
    return
  fi
  pm exec "$c" /app/ct-tests/ct-tests.sh pid1 conmand >/dev/null 2>&1 || rc=$?
  if [ "$rc" -ne 1 ]; then
    fail no_hsm "ct-tests should fail 'conmand' with no conmand running, exit $rc"
    return
  fi
  pass no_hsm "stays up, logs '$(echo "$logs" | grep -m 1 'HSM discovery failed' | cut -c1-100)...', retries; ct-tests fail as they should"
  pm stop -t 5 "$c" >/dev/null
}

scenario_no_secrets() {
  local c logs
  run_service nosecrets
  c=$C
  sleep 4
  logs=$(pm logs "$c" 2>&1)
  if [ "$(pm inspect --format '{{.State.Running}}' "$c")" = true ] &&
    echo "$logs" | grep -q '/secrets/user'; then
    pass no_secrets "stays up and names /secrets/user: $(echo "$logs" | grep -m 1 '/secrets/user' | cut -c1-100)"
  else
    fail no_secrets "running=$(pm inspect --format '{{.State.Running}}' "$c"), logs: $(echo "$logs" | tail -n 3)"
  fi
  pm stop -t 5 "$c" >/dev/null
}

main() {
  local t0=$SECONDS
  preflight
  T=$(mktemp -d /tmp/container-test.XXXXXX)
  chmod 0755 "$T"
  mkdir -p "$T/logs-root" "$T/logs-debian"
  base_image
  build_image
  check_image_layout
  start_simulators
  write_base_conf
  scenario_no_secrets
  scenario_no_hsm
  scenario_shipped
  scenario_live_root
  scenario_live_debian
  scenario_k8s_like
  say "done in $((SECONDS - t0)) s"
  echo "container-test: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

main "$@"
