#!/usr/bin/env bash
# The benchmark, one command: Debian's conmand and ours side by side on the
# same generated configuration and console sources, then the HSM parse bench.
#   bench/run.sh                          default: sizes 100,1000,5000, 3 reps (~15 min)
#   bench/run.sh --sizes 100,1000,5000,10000 --change-sizes 1000,10000 --window 30
# Flags go to bench/harness.py (see --help). BIN_DIR picks the build (default build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=${BIN_DIR:-$PWD/build/bin}
export BENCH_COMMAND="bench/run.sh $*"
/usr/bin/python3 bench/harness.py --ours "$BIN_DIR/conmand" "$@"
echo
echo "HSM side: configure_conman's records_from_json + confgen_render (median of 5):"
"$BIN_DIR/hsm_bench" 1000,3000,10000,30000,100000 5
