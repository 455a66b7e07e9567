#!/usr/bin/env bash
# Runs one libFuzzer harness for SECONDS from a scratch copy of its seed
# corpus (the committed corpus is never written). Fails on any crash, leak,
# UBSan report or input slower than 10 s; the input that did it is saved in
# $FUZZ_ARTIFACTS (default: fuzz-artifacts/<harness>/ beside the binary).
# Usage: scripts/fuzz.sh BINARY CORPUS_DIR [SECONDS] [extra libFuzzer flags]
# FUZZ_KEEP_CORPUS=DIR keeps the grown corpus in DIR.
set -euo pipefail

bin=$1 seeds=$2 secs=${3:-60}
shift $(($# < 3 ? $# : 3))
name=$(basename "$bin")
name=${name#fuzz_}
artifacts=${FUZZ_ARTIFACTS:-$(dirname "$bin")/fuzz-artifacts/$name}
mkdir -p "$artifacts"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$name.XXXXXX")
trap 'rm -rf "$scratch" "$scratch.log"' EXIT
[ -d "$seeds" ] && cp -r "$seeds"/. "$scratch"/
dict=()
src_dict=$(dirname "$seeds")/../$name.dict
[ -f "$src_dict" ] && dict=(-dict="$src_dict")

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rc=0
"$bin" "$scratch" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$@" 2>"$scratch.log" || rc=$?
# libFuzzer's summary: the last status line (execs, cov, ft, corp) and stats.
grep -E '^#[0-9]+.*(DONE|cov:)' "$scratch.log" | tail -n 1 || true
grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$scratch.log" || true
echo "corpus: $(find "$scratch" -type f | wc -l) files"
if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
  mkdir -p "$FUZZ_KEEP_CORPUS"
  cp -r "$scratch"/. "$FUZZ_KEEP_CORPUS"/
fi
if [ "$rc" -ne 0 ]; then
  echo "fuzz_$name FAILED (exit $rc); input saved in $artifacts/:" >&2
  cp "$scratch.log" "$artifacts/fuzz.log"
  grep -E 'ERROR|SUMMARY|runtime error|Test unit written|^    #[0-9]' "$scratch.log" | head -n 40 >&2 || true
  echo "full log: $artifacts/fuzz.log" >&2
  exit 1
fi
