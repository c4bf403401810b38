#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (AddressSanitizer on) and runs each for FUZZ_SECONDS
# (default 20), one after the other, in one process each. Prints executions per second per
# fuzzer; exits non-zero if any crashed, stalled past FUZZ_TIMEOUT seconds on one input, leaked
# or went over the memory limit, naming the input that did it. docs/fuzzing.md says more.
#
#   scripts/fuzz.sh                         every fuzzer, 20 s each (what scripts/test.sh runs)
#   FUZZ_SECONDS=600 scripts/fuzz.sh FuzzRegex   one fuzzer, ten minutes
#
# New inputs that reach new code go to Fuzz/.build/runs/<fuzzer>/corpus, not to the committed
# Fuzz/Corpus/<fuzzer>, which is only read; crashes go to Fuzz/.build/runs/<fuzzer>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
timeout=${FUZZ_TIMEOUT:-2}
rss_limit=${FUZZ_RSS_MB:-2048}
if [ $# -gt 0 ]; then fuzzers=("$@"); else fuzzers=(FuzzJSON FuzzYAML FuzzRegex FuzzOFREP FuzzCompiler); fi

# The largest input each fuzzer is given: a request context, a flag file, a pattern and a text.
max_len() {
    case "$1" in
    FuzzYAML | FuzzCompiler) echo 8192 ;;
    *) echo 4096 ;;
    esac
}

scratch=${FUZZ_SCRATCH:-Fuzz/.build}
runs=$scratch/runs
mkdir -p "$runs"
# SwiftPM passes `--sanitize` values as separate `-sanitize=` flags and swiftc keeps only the
# last, so the combined flag goes to swiftc directly; `--sanitize=fuzzer` is what makes SwiftPM
# link libFuzzer's main instead of the target's.
# Only the fuzzers asked for are built: FuzzJSON and FuzzRegex need FlagModel and FlagEngine
# alone, the others swift-crypto and (FuzzOFREP) Hummingbird and SwiftNIO too.
build=(swift build -c release --package-path Fuzz --scratch-path "$scratch"
    --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address)
start=$(date +%s)
: >"$runs/build.log"
for fuzzer in "${fuzzers[@]}"; do
    if ! "${build[@]}" --product "$fuzzer" >>"$runs/build.log" 2>&1; then
        grep -v "Cannot export local symbol" "$runs/build.log" | tail -40 >&2
        echo "fuzz: building $fuzzer failed; the whole log is $runs/build.log" >&2
        exit 1
    fi
done
echo "fuzz: built ${fuzzers[*]} in $(($(date +%s) - start)) s"
bin=$scratch/release

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/Fuzz/lsan.supp:print_suppressions=0}"

failed=()
for fuzzer in "${fuzzers[@]}"; do
    dir="$runs/$fuzzer"
    rm -rf "$dir/crash-"* "$dir/timeout-"* "$dir/leak-"* "$dir/oom-"* "$dir/slow-unit-"*
    mkdir -p "$dir/corpus"
    dict=()
    [ -f "Fuzz/Dictionaries/$fuzzer.dict" ] && dict=(-dict="Fuzz/Dictionaries/$fuzzer.dict")
    status=0
    timeout --kill-after=10 $((seconds + 120)) "$bin/$fuzzer" "$dir/corpus" "Fuzz/Corpus/$fuzzer" "${dict[@]}" \
        -max_total_time="$seconds" -max_len="$(max_len "$fuzzer")" -timeout="$timeout" \
        -rss_limit_mb="$rss_limit" -malloc_limit_mb="$rss_limit" -print_final_stats=1 \
        -artifact_prefix="$dir/" >"$dir/log" 2>&1 || status=$?
    runs_done=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
    coverage=$(grep -oE 'cov: [0-9]+' "$dir/log" | tail -1 || true)
    echo "fuzz: $fuzzer: ${runs_done:-?} runs, ${per_second:-?} exec/s, ${coverage:-cov: ?}, exit $status"
    if [ "$status" -ne 0 ]; then
        artifact=$(ls "$dir"/crash-* "$dir"/timeout-* "$dir"/leak-* "$dir"/oom-* 2>/dev/null | head -1 || true)
        grep -v "Cannot export local symbol" "$dir/log" | grep -E -A25 '^==[0-9]+==|Fatal error|SUMMARY|ERROR: libFuzzer' \
            | head -60 >&2 || true
        echo "fuzz: $fuzzer FAILED; input: ${artifact:-none written}; log: $dir/log" >&2
        echo "fuzz: replay with $bin/$fuzzer ${artifact:-<input>}" >&2
        failed+=("$fuzzer")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ${#fuzzers[@]} fuzzers, ${seconds} s each, no crash, stall or leak; $(($(date +%s) - start)) s in all"
