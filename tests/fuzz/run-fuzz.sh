#!/bin/bash
# run-fuzz.sh SRCDIR NAME...: run the libFuzzer programs tests/fuzz/fuzz_NAME
# (built by ./configure --enable-fuzzing CC=clang) from the build directory,
# each for $FUZZ_SECONDS, $FUZZ_JOBS at a time, then print one line per
# target with what libFuzzer reported at the end: executions, coverage
# (cov = edges, ft = features), corpus size. Used by `make fuzz`.
#
# Seeds come from SRCDIR/tests/fuzz/corpus/NAME (never written to); what
# the fuzzer learns goes to fuzz-corpus/NAME, crashes to fuzz-artifacts/,
# the full output to fuzz-logs/NAME.log. Exit status 1 if any target found
# a crash, leak, timeout or sanitizer report.
set -u

srcdir=${1:?usage: run-fuzz.sh SRCDIR NAME...}
shift
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
max_len=${FUZZ_MAX_LEN:-65536}
mkdir -p fuzz-corpus fuzz-artifacts fuzz-logs || exit 1

run_one() {
    local name=$1 prog=tests/fuzz/fuzz_$1 dict=()
    local seeds=$srcdir/tests/fuzz/corpus/$name
    if [ ! -x "$prog" ]; then
        echo "fuzz: $prog is not built (./configure --enable-fuzzing CC=clang)" >&2
        return 1
    fi
    [ -f "$srcdir/tests/fuzz/$name.dict" ] && dict=(-dict="$srcdir/tests/fuzz/$name.dict")
    mkdir -p "fuzz-corpus/$name"
    echo "fuzz: $name for ${seconds}s (log: fuzz-logs/$name.log)"
    local t0=$SECONDS rc
    "./$prog" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="fuzz-artifacts/$name-" "${dict[@]}" \
        "fuzz-corpus/$name" "$seeds" > "fuzz-logs/$name.log" 2>&1
    rc=$?
    echo $((SECONDS - t0)) > "fuzz-logs/$name.seconds"
    return $rc
}

summary() {
    local name=$1 rc=$2 log=fuzz-logs/$1.log last execs cov ft corp
    last=$(grep -aE '^#[0-9]+' "$log" | grep -a 'cov:' | tail -n 1)
    execs=$(grep -a '^stat::number_of_executed_units:' "$log" | sed 's/.*: *//' | tail -n 1)
    cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
    printf 'fuzz: %-12s %s  time=%ss execs=%s cov=%s ft=%s corpus=%s\n' "$name" \
        "$([ "$rc" -eq 0 ] && echo ok || echo FAILED)" "$(cat "fuzz-logs/$name.seconds" 2>/dev/null)" \
        "${execs:-?}" "${cov:-?}" \
        "${ft:-?}" "${corp:-?}"
    if [ "$rc" -ne 0 ]; then
        grep -aE 'ERROR: |SUMMARY: |^fuzz_|Test unit written|abort' "$log" | head -n 20 >&2
    fi
}

# Up to $jobs at a time (wait -n -p: bash >= 5.1).
declare -A name_of=()
declare -A rc_of=()
reap_one() {
    local done_pid=
    wait -n -p done_pid
    local rc=$?
    rc_of[${name_of[$done_pid]}]=$rc
    unset "name_of[$done_pid]"
}
for name in "$@"; do
    while [ "${#name_of[@]}" -ge "$jobs" ]; do
        reap_one
    done
    run_one "$name" &
    name_of[$!]=$name
done
while [ "${#name_of[@]}" -gt 0 ]; do
    reap_one
done

status=0
for name in "$@"; do
    summary "$name" "${rc_of[$name]}"
    [ "${rc_of[$name]}" -eq 0 ] || status=1
done
exit $status
