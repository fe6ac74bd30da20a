#!/bin/bash
# tests/e2e/run.sh: end-to-end suite with a real libvirtd, real QEMU (TCG)
# guests and real guest panics (issue 5). Runs as root on Debian 12.
#
#   tests/e2e/run.sh [--builddir DIR] [--list] [SCENARIO...]
#   make check-e2e [E2E_SCENARIOS="baseline_nmi ..."]     (from a build dir)
#
# Without SCENARIO arguments every scenario runs, in the order of --list.
# Scenarios that need a product binary that is not built yet are SKIPPED
# (not-built); with CI=true a skip of any kind is a failure.
# Environment:
#   E2E_TIMEOUT=S       global time limit (default 1200)
#   E2E_KEEP=1          keep the work dir (logs, consoles) even on success
#   E2E_ARTIFACTS=DIR   where a failing run leaves its logs (default: the
#                       work dir's artifacts/, printed at the end)
#   PVPANIC_E2E_CACHE   guest kernel cache (default /var/cache/pvpanic-tools-e2e)
# Exit: 0 all passed (skips allowed unless CI=true), 1 a failure, 77 all skipped.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/e2e/scenarios.sh
. "$here/scenarios.sh"

usage() {
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
    local list=0 want=() s
    while [ $# -gt 0 ]; do
        case $1 in
        --builddir) E2E_BUILDDIR=$(cd "$2" && pwd) || exit 2; shift 2 ;;
        --builddir=*) E2E_BUILDDIR=$(cd "${1#*=}" && pwd) || exit 2; shift ;;
        --list) list=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) want+=("$1"); shift ;;
        esac
    done
    if [ "$list" = 1 ]; then
        printf '%s\n' $E2E_ALL_SCENARIOS
        exit 0
    fi
    for s in "${want[@]}"; do
        s=${s#scenario_}
        declare -F "scenario_$s" >/dev/null ||
            { echo "run.sh: no scenario '$s' (see --list)" >&2; exit 2; }
    done
    [ ${#want[@]} -gt 0 ] || read -r -a want <<<"$(echo $E2E_ALL_SCENARIOS)"

    e2e_paths
    # a missing prerequisite ends the run here with 77 (skip), or 1 if CI=true
    check_prereqs
    take_lock
    e2e_setup
    log "source $E2E_SRCDIR, build $E2E_BUILDDIR, CI=${CI:-}"
    log "hook: $(binary_status "$HOOK_BIN"), watch: $(binary_status "$WATCH_BIN")"
    snapshot_host_files
    ensure_qemu_user
    ensure_kvm_node_access
    write_qemu_conf
    prepare_guest
    start_daemon shipped
    sweep_leftover_domains
    start_global_follower

    local t_all rc n_pass=0 n_fail=0 n_skip=0 t0 results=()
    t_all=$(now_ms)
    mkdir -p "$E2E_WORK/scenario-logs"
    for s in "${want[@]}"; do
        s=${s#scenario_}
        log "==== scenario $s"
        t0=$(now_ms)
        # Each scenario runs as a background job in its own process group
        # (set -m), so that a signal or the global timeout can end all of it
        # at once (e2e_on_signal) while this shell waits.
        rm -f "$E2E_WORK/state/scenario-rc"
        set -m
        { ( set -eE; trap 'log "error at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"' ERR
            "scenario_$s" )
          echo $? >"$E2E_WORK/state/scenario-rc"; } 2>&1 |
            tee "$E2E_WORK/scenario-logs/$s.log" >&2 &
        E2E_SCENARIO_PGID=$(ps -o pgid= "$!" | tr -d ' ')
        wait "$!"
        set +m
        E2E_SCENARIO_PGID=
        rc=$(cat "$E2E_WORK/state/scenario-rc" 2>/dev/null || echo 1)
        local dur
        dur=$(ms_to_s $(($(now_ms) - t0)))
        case $rc in
        0) results+=("PASS  $s (${dur}s)"); n_pass=$((n_pass + 1)) ;;
        77) results+=("SKIP  $s (${dur}s): $(grep -a 'SKIP: ' "$E2E_WORK/scenario-logs/$s.log" | tail -n 1 | sed 's/.*SKIP: //')")
            n_skip=$((n_skip + 1)) ;;
        *) results+=("FAIL  $s (${dur}s)"); n_fail=$((n_fail + 1)) ;;
        esac
        log "==== scenario $s: ${results[-1]%% *} in ${dur}s"
        [ -e "$E2E_WORK/state/timed-out" ] && break
    done
    record_time "all_scenarios" "$(ms_to_s $(($(now_ms) - t_all)))"

    {
        echo "==== end-to-end summary ($n_pass passed, $n_fail failed, $n_skip skipped)"
        printf '  %s\n' "${results[@]}"
        echo "---- timings (seconds; *_ms in milliseconds)"
        awk -F '\t' '{ printf "  %-40s %s\n", $1, $2 }' "$E2E_WORK/timings"
    } >&2
    cp "$E2E_WORK/timings" "$E2E_WORK/timings.txt" 2>/dev/null
    if [ "$n_fail" -gt 0 ] || [ -e "$E2E_WORK/state/timed-out" ]; then
        E2E_FAILED=1
        exit 1
    fi
    if [ "$n_skip" -gt 0 ] && [ "${CI:-}" = true ]; then
        E2E_FAILED=1
        exit 1
    fi
    [ "$n_pass" -gt 0 ] || exit 77
    exit 0
}

main "$@"
