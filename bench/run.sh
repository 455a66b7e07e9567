#!/usr/bin/env bash
# The benchmark, one command: Debian's conmand and ours side by side on the
# same generated configuration and console sources, then the HSM parse bench
# and the boot storm (bench/storm.py, about 70 s more).
#   bench/run.sh                   default: 100 to 10,000 consoles, 3 reps, 10 s CPU window (~15 min)
#   bench/run.sh --window 30       as recorded in bench/RESULTS.md (~25 min)
#   bench/run.sh --sizes 100 --change-sizes 100 --reps 1     a quick look (~1 min)
# The daemons and console sources get the whole hard open-file limit (soft
# limit raised to the hard one, 20,000 here) so 10,000 consoles can fit.
# Flags go to bench/harness.py (see --help). BIN_DIR picks the build (default build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=${BIN_DIR:-$PWD/build/bin}
export BENCH_COMMAND="bench/run.sh $*"
/usr/bin/python3 bench/harness.py --ours "$BIN_DIR/conmand" "$@"
echo
echo "HSM side: configure_conman's records_from_json + confgen_render (median of 5):"
"$BIN_DIR/hsm_bench" 1000,3000,10000,30000,100000 5
echo
echo "Boot storm: minlog and ours at 10,000 consoles, Debian's at 1,000, each console 64 KiB at once:"
/usr/bin/python3 bench/storm.py --ours "$BIN_DIR/conmand" --minlog "$BIN_DIR/minlog"
