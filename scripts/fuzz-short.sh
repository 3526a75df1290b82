#!/usr/bin/env bash
# A short fuzz run of every target (60 s each by default), one after another; not part of CI.
# The long runs recorded in fuzz/README.md were this script with more time:
#   FUZZ_SECONDS=1800 FUZZ_RUNS=10000000 scripts/fuzz-short.sh
# Environment:
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_RUNS     stop a target after this many executions (default: no limit, time only)
#   FUZZ_TARGETS  space-separated subset of: npy_header npy_bytes cache_parse onnx_reader
#                 onnx_import_10 onnx_import_8 npy_open
#   FUZZ_JOBS     libFuzzer -fork=N processes per target (default 1: the CI-sized machine has 2 cores)
# Needs: rustup with a nightly toolchain (else stable with RUSTC_BOOTSTRAP=1 is tried),
# cargo-fuzz (cargo install cargo-fuzz), clang++ with libFuzzer (apt-get install clang) and
# python3 for the C++ targets (onnx_reader: trtsim's ONNX reader; onnx_import_8/10: the whole
# simulated IParser::parse of trtsim's 8.x and 10.x libraries). Working corpora grow in fuzz/corpus/<target>/ and crashes land in
# fuzz/artifacts/<target>/ (both git-ignored); the committed seeds are fixtures/ and fuzz/seeds/.
# Logs: target/fuzz-logs/<target>.log; the last lines of each are printed at the end.
# Exit status: 1 when any target found a crash (its input is named in the log).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
secs="${FUZZ_SECONDS:-60}"
runs="${FUZZ_RUNS:-0}"
targets="${FUZZ_TARGETS:-npy_header npy_bytes cache_parse onnx_reader onnx_import_10 onnx_import_8 npy_open}"
jobs="${FUZZ_JOBS:-1}"
logs="$root/target/fuzz-logs"
mkdir -p "$logs"

# cargo-fuzz needs nightly-only rustc flags; fall back to unlocking them on stable.
if rustup run nightly rustc --version >/dev/null 2>&1; then
  cargo_fuzz=(cargo +nightly fuzz)
else
  echo "note: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1" >&2
  export RUSTC_BOOTSTRAP=1
  cargo_fuzz=(cargo fuzz)
fi

seeds() {
  local d
  case "$1" in
    npy_*) set -- "$root/fixtures/npy" "$root/fuzz/seeds/npy" ;;
    cache_parse) set -- "$root/fixtures/caches" "$root/fuzz/seeds/cache" ;;
    onnx_*) set -- "$root/fixtures/onnx" "$root/fuzz/seeds/onnx" ;;
  esac
  for d in "$@"; do [ -d "$d" ] && echo "$d"; done
  return 0
}
# Safe-Rust targets run without a sanitizer (nothing for ASan to see; panics and overflow
# checks still fire, debug assertions are on) at several times the speed. npy_open goes
# through unsafe code (the memory map and the typed view) and runs under AddressSanitizer.
sanitizer() {
  case "$1" in
    npy_open) echo address ;;
    *) echo none ;;
  esac
}

failed=0
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t"
  flags=(-max_total_time="$secs" -print_final_stats=1 -artifact_prefix="artifacts/$t/")
  [ "$runs" != 0 ] && flags+=(-runs="$runs")
  [ "$jobs" -gt 1 ] && flags+=(-fork="$jobs")
  echo "== $t: ${secs}s$( [ "$runs" != 0 ] && echo ", at most $runs runs")"
  # shellcheck disable=SC2046
  if [ "${t#onnx_}" != "$t" ]; then
    mode=import; [ "$t" = onnx_reader ] && mode=fuzzer
    if ! bash cpp/build.sh "$mode" >"$logs/$t.build.log" 2>&1; then
      echo "could not build $t (see $logs/$t.build.log)"
      failed=1
      continue
    fi
    "$root/target/fuzz-cpp/$t" "${flags[@]}" "corpus/$t" $(seeds "$t") >"$logs/$t.log" 2>&1 || failed=1
  else
    s="$(sanitizer "$t")"
    # Separate target folders so switching sanitizers does not rebuild everything.
    dir=(); [ "$s" = none ] && dir=(--target-dir target/none)
    "${cargo_fuzz[@]}" run -s "$s" "${dir[@]}" "$t" "corpus/$t" $(seeds "$t") -- "${flags[@]}" \
      >"$logs/$t.log" 2>&1 || failed=1
  fi
  # The last status line (inputs run, coverage, corpus) and the total.
  grep -E "^#[0-9]+" "$logs/$t.log" | tail -n 1 || true
  grep -E "^Done [0-9]+ runs" "$logs/$t.log" || true
  grep -E "Test unit written to|SUMMARY" "$logs/$t.log" || true
done
# npy_open's scratch files (one per fuzzing process; see fuzz/fuzz_targets/npy_open.rs).
rm -f /dev/shm/trtq-fuzz-npy-open-*.npy "${TMPDIR:-/tmp}"/trtq-fuzz-npy-open-*.npy
[ "$failed" = 0 ] && echo "fuzz: no crashes" || echo "fuzz: a target failed; see $logs/"
exit "$failed"
