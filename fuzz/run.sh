#!/usr/bin/env bash
# Fuzzes unipet's readers: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Builds the "fuzz" preset (clang, libFuzzer, ASan + UBSan) in build-fuzz/, writes each target's
# seeds with unipet_make_seeds, then runs the targets one after the other (one core) for
# SECONDS_PER_TARGET each (default 60). Corpora persist under build-fuzz/corpus/<target>, so every
# run continues the last; findings land in build-fuzz/artifacts/<target>. Prints executions,
# exec/s, coverage (cov, ft), corpus size and findings per target, and appends them to
# build-fuzz/stats.tsv. Targets: fuzz_safetensors fuzz_dataset_json fuzz_image fuzz_dicom_series.
# JOBS sets the build parallelism (default 2), FORKS the fuzzing processes per target (default 1).
# Several run.sh may run at once (one target each): the build step takes a lock.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_safetensors fuzz_dataset_json fuzz_image fuzz_dicom_series)
build=build-fuzz

mkdir -p "$build"
# Another run.sh relinking unipet_make_seeds while this one runs it fails with "Text file busy".
exec 9>"$build/.build.lock"
flock 9
cmake --preset fuzz >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target unipet_make_seeds "${targets[@]}"

# Scratch files of the harnesses (one folder per process): in memory where possible, since
# every input is written to disk before it is read.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm/unipet-fuzz-$$
else
  export TMPDIR="$PWD/$build/tmp-$$"
fi
trap 'rm -rf "$TMPDIR"' EXIT
mkdir -p "$TMPDIR" "$build/logs"
# One thread per fuzzer; stop on the first UBSan report (as a crash, with a stack).
export OMP_NUM_THREADS=1 ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# Known third-party leaks (see the file) would otherwise end every job that finds them again.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp}

summary=()
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target" seeds="$build/seeds/$target" artifacts="$build/artifacts/$target"
  mkdir -p "$corpus" "$seeds" "$artifacts"
  "$build/unipet_make_seeds" "$target" "$seeds"
  [ "$target" = "${targets[-1]}" ] && flock -u 9  # seeds written: other runs may build now
  dict=()
  [ -f "fuzz/dict/$target.dict" ] && dict=(-dict="fuzz/dict/$target.dict")
  log="$build/logs/$target-$(date +%Y%m%d-%H%M%S).log"
  echo "== $target: ${seconds}s, log $log"
  # Fork mode (FORKS children at a time) keeps fuzzing after a crash, timeout or OOM and saves each
  # one under artifacts/; findings are crashes, sanitizer reports, leaks, -timeout and the limits.
  "$build/$target" "$corpus" "$seeds" "${dict[@]}" -fork="${FORKS:-1}" -ignore_crashes=1 -ignore_timeouts=1 \
    -ignore_ooms=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -max_len=16384 -print_funcs=0 -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || true
  # The fork-mode parent's last status line: "#RUNS: cov: C ft: F corp: N exec/s E oom/timeout/crash: o/t/c time: Ts ..."
  last=$(grep -E '^#[0-9]+: cov: ' "$log" | tail -1 || true)
  runs=$(sed -nE 's/^#([0-9]+):.*/\1/p' <<<"$last")
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  execs=$(sed -nE 's/.* exec\/s:? ([0-9]+).*/\1/p' <<<"$last")
  otc=$(sed -nE 's/.*oom\/timeout\/crash: ([0-9\/]+).*/\1/p' <<<"$last")
  corp=$(find "$corpus" -type f | wc -l)
  found=$(find "$artifacts" -type f | wc -l)
  line=$(printf '%-18s %6ss  runs %-10s exec/s %-6s cov %-6s ft %-6s corpus %-5s oom/timeout/crash %-7s artifacts %s' \
    "$target" "$seconds" "${runs:-?}" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corp" "${otc:-?}" "$found")
  echo "$line"
  summary+=("$line")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -Is)" "$target" "$seconds" "${runs:-}" \
    "${execs:-}" "${cov:-}" "${ft:-}" "$corp" "${otc:-}" "$found" >>"$build/stats.tsv"
done

echo "== summary (findings: $build/artifacts/<target>/; totals over all runs: $build/stats.tsv)"
printf '%s\n' "${summary[@]}"
