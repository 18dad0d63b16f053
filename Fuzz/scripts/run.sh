#!/usr/bin/env bash
# Runs one harness. Called by Fuzz/Makefile; usable by hand from Fuzz/:
#   scripts/run.sh fuzz  HARNESS SECONDS   grow .corpus/HARNESS (seeded from corpus/HARNESS) for SECONDS
#   scripts/run.sh smoke HARNESS SECONDS   fuzz from the committed seeds only, in a throw-away corpus
#   scripts/run.sh regress HARNESS         run every file of regressions/HARNESS and corpus/HARNESS once
# Exit status: 0 when libFuzzer found nothing, non-zero on any finding (crash, failed check, leak, timeout, OOM).
# Findings are written to .build/artifacts/HARNESS/; a line per run is appended to .build/results.tsv.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=$1
harness=$2
seconds=${3:-20}
bin=.build/$harness
[ -x "$bin" ] || { echo "run.sh: $bin is not built (make -C Fuzz build)" >&2; exit 2; }

# The Swift runtime's crash backtracer fights ASan over the crashed process; libFuzzer and ASan report instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
artifacts=.build/artifacts/$harness
mkdir -p "$artifacts" .build/logs
# Per-input budgets: -timeout catches super-linear work (inputs are at most max_len bytes), -rss_limit_mb and
# -malloc_limit_mb catch allocations sized from what a header claims rather than from what was received.
options=(-max_len=4096 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 -print_final_stats=1
         -dict="dict/$harness.dict" -artifact_prefix="$artifacts/" -jobs=0 -workers=0)

case $mode in
regress)
    # Each regression file on its own (libFuzzer stops at the first failing input), then the seeds in one go.
    log=.build/logs/$harness-regress.log
    : >"$log"
    rc=0
    count=0
    failed=0
    if [ -d "regressions/$harness" ]; then
        while IFS= read -r f; do
            count=$((count + 1))
            one=$(mktemp)
            if ! "$bin" "${options[@]}" "$f" >"$one" 2>&1; then
                rc=1
                failed=$((failed + 1))
                echo "regress $harness: FAILS $f: $(grep -aE 'FUZZ CHECK FAILED|ERROR: AddressSanitizer|ERROR: libFuzzer' "$one" | head -1 | cut -c1-220)"
            fi
            cat "$one" >>"$log"
            rm -f "$one"
        done < <(find "regressions/$harness" -type f ! -name '*.md' | sort)
    fi
    seeds=$(find "corpus/$harness" -type f | wc -l)
    if ! "$bin" "${options[@]}" -runs=0 "corpus/$harness" >>"$log" 2>&1; then
        rc=1
        echo "regress $harness: a seed of corpus/$harness fails: $(grep -aE 'FUZZ CHECK FAILED|ERROR: AddressSanitizer|ERROR: libFuzzer' "$log" | tail -2 | head -1 | cut -c1-220)"
    fi
    echo "regress $harness: $count regression inputs ($failed failing), $seeds seeds; log Fuzz/$log"
    exit $rc
    ;;
fuzz)
    corpus=.corpus/$harness
    mkdir -p "$corpus"
    dirs=("$corpus" "corpus/$harness")
    extra=(-use_value_profile=1)
    ;;
smoke)
    # Reproducible for CI: a fixed seed and a fixed number of runs (about SECONDS at this machine's speed), so the
    # same inputs are tried on every run and a failure means a regression, not a lucky new discovery. The time
    # limit below only caps a much slower machine.
    corpus=.build/smoke/$harness
    rm -rf "$corpus"
    mkdir -p "$corpus"
    dirs=("$corpus" "corpus/$harness")
    extra=(-seed=1 -runs=$((seconds * 4000)))
    seconds=$((seconds * 3))
    ;;
*)
    echo "run.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac

log=.build/logs/$harness-$mode.log
start=$(date +%s)
"$bin" "${options[@]}" "${extra[@]}" -max_total_time="$seconds" "${dirs[@]}" >"$log" 2>&1
rc=$?
elapsed=$(( $(date +%s) - start ))
last=$(grep -E '^#[0-9]+' "$log" | tail -1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
units=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
findings=$(ls "$artifacts" 2>/dev/null | wc -l)
status=ok
[ $rc -ne 0 ] && status="FINDING (exit $rc)"
printf '%s\t%s\t%s\t%ss\t%s execs\t%s exec/s\tcov %s\tft %s\tcorpus %s\t%s\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$mode" "$harness" "$elapsed" "${execs:-?}" "${speed:-?}" "${cov:-?}" \
    "${ft:-?}" "${units:-?}" "$status" | tee -a .build/results.tsv
if [ $rc -ne 0 ]; then
    grep -E "FUZZ CHECK FAILED|ERROR: |SUMMARY|Test unit written" "$log" | tail -20
    echo "log: Fuzz/$log; artifacts in Fuzz/$artifacts (${findings} files)"
fi
exit $rc
