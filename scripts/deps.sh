#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the demo and the tests need.
# Idempotent: only missing packages are installed (apt-get, via sudo when not root).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libcurl4-openssl-dev libjansson-dev libuv1-dev
  libipmiconsole-dev libfreeipmi-dev libssh-dev libmicrohttpd-dev
  libcmocka-dev libyajl-dev libpcre2-dev liburing-dev
  python3 python3-pytest python3-pytest-timeout python3-pytest-xdist
  conman openipmi freeipmi-tools ipmitool dnsmasq-base
  openssh-server openssh-client
  procps iproute2 ca-certificates
  curl jq python3-yaml python3-prometheus-client
  chromium chromium-driver python3-selenium
  libwslay-dev libgnutls28-dev node-xterm libjs-xterm esbuild python3-websockets
)
# Extra groups, selected by the caller: `deps.sh container` adds what
# scripts/container-test.sh needs.
if [ "${1:-}" = container ]; then
  PACKAGES+=(podman mmdebstrap runc uidmap fuse-overlayfs)
fi
# `deps.sh fuzz` adds clang and libFuzzer for tests/fuzz (cmake -DFUZZ=ON).
if [ "${1:-}" = fuzz ]; then
  PACKAGES+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
