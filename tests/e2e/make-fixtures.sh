#!/bin/bash
# tests/e2e/make-fixtures.sh: regenerate the real libvirt log fixtures under
# tests/data/e2e/ (see tests/data/e2e/README.md for what each one holds).
#
#   tests/e2e/make-fixtures.sh [--out DIR] [FIXTURE...]      (as root)
#   make e2e-fixtures                                        (from a build dir)
#
# Each fixture is one private libvirtd run with its own log file: guests are
# booted and made to panic (NMI or sysrq), and the GUEST_PANICKED events that
# libvirt reports through its API (`virsh qemu-monitor-event`) are written to
# FIXTURE/EXPECTED, independently of the log the parser will read.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/e2e/scenarios.sh
. "$here/scenarios.sh"

E2E_FIXTURES="
 debug-lifecycle
 info-lifecycle
 recommended-lifecycle
 debug-names
 info-names
 recommended-names
 debug-concurrent
 info-concurrent
 recommended-concurrent
 debug-reconnect
 info-reconnect
 recommended-reconnect
"
# The work dir is random; fixtures show it as this path instead.
FIXTURE_WORK_PATH=/tmp/pvpanic-e2e

# ---------------------------------------------------------------- recording

# note_domain NAME TRIGGER: what this fixture does to NAME (nmi, sysrq,
# none); the on_crash action is DOM_ONCRASH at define time
fx_define() {
    local name=$1 mode=$2 trigger
    case $mode in
    nmi) trigger=nmi ;;
    panic) trigger=sysrq ;;
    *) trigger=none ;;
    esac
    define_domain "$name" "$mode"
    printf '%s\t%s\t%s\n' "$trigger" "${DOM_ONCRASH:-preserve}" "$name" >>"$FX_DIR/domains"
}

# nmi_and_wait NAME STATE_RE: the Windows recipe, then the expected state
nmi_and_wait() {
    inject_nmi "$1"
    wait_domstate "$1" "$2" 30 >/dev/null || fail "'$1' did not reach /$2/"
}

# ---------------------------------------------------------------- fixtures

# Sequential guests in one daemon run: preserve (NMI), destroy (sysrq),
# restart loop (sysrq, 3 panics in one QEMU process), a guest that is only
# destroyed (its NMI is ignored: no panic), and a last guest that is likely
# to get a monitor pointer of an earlier one (pointer reuse).
lifecycle() {
    local p=${E2E_NAME_PREFIX}
    DOM_ONCRASH=preserve fx_define "${p}preserve" nmi
    boot_until_ready "${p}preserve"
    nmi_and_wait "${p}preserve" '^crashed \(panicked\)$'
    wait_panics "${p}preserve" 1 10 || fail "panic not reported"
    destroy_domain "${p}preserve"

    DOM_ONCRASH=destroy fx_define "${p}destroy" panic
    start_domain "${p}destroy"
    wait_domstate "${p}destroy" '^shut off \(crashed\)$' 90 >/dev/null || fail "no crash"
    wait_panics "${p}destroy" 1 10 || fail "panic not reported"

    DOM_ONCRASH=restart fx_define "${p}restart" panic
    start_domain "${p}restart"
    wait_panics "${p}restart" 3 120 || fail "no restart loop"
    destroy_domain "${p}restart"

    fx_define "${p}destroyed-only" idle
    boot_until_ready "${p}destroyed-only"
    inject_nmi "${p}destroyed-only"
    wait_console "${p}destroyed-only" 'NMI received for unknown reason' 20 >/dev/null ||
        fail "NMI not seen by the guest"
    sleep 1
    destroy_domain "${p}destroyed-only"

    DOM_ONCRASH=preserve fx_define "${p}reuse" nmi
    boot_until_ready "${p}reuse"
    nmi_and_wait "${p}reuse" '^crashed \(panicked\)$'
    wait_panics "${p}reuse" 1 10 || fail "panic not reported"
    destroy_domain "${p}reuse"
}
fixture_debug_lifecycle() { lifecycle; }
fixture_info_lifecycle() { lifecycle; }
fixture_recommended_lifecycle() { lifecycle; }

# Names that break naive parsers: spaces, quotes, $(), UTF-8.
names() {
    local evil='web 01 "x" $(id)' utf8='数据库-主'
    DOM_ONCRASH=preserve fx_define "$evil" nmi
    DOM_ONCRASH=destroy fx_define "$utf8" panic
    boot_until_ready "$evil"
    nmi_and_wait "$evil" '^crashed \(panicked\)$'
    start_domain "$utf8"
    wait_domstate "$utf8" '^shut off \(crashed\)$' 90 >/dev/null || fail "no crash"
    wait_panics "$evil" 1 10 && wait_panics "$utf8" 1 10 || fail "panic not reported"
    destroy_domain "$evil"
}
fixture_debug_names() { names; }
fixture_info_names() { names; }
fixture_recommended_names() { names; }

# Two guests panicking at the same moment: both boot, then both NMIs are
# sent at once.
concurrent() {
    local a=${E2E_NAME_PREFIX}twin-a b=${E2E_NAME_PREFIX}twin-b pa pb
    DOM_ONCRASH=preserve fx_define "$a" nmi
    DOM_ONCRASH=destroy fx_define "$b" nmi
    start_domain "$a"
    start_domain "$b"
    wait_console "$a" '^PVE2E READY' 90 >/dev/null || fail "'$a' did not boot"
    wait_console "$b" '^PVE2E READY' 90 >/dev/null || fail "'$b' did not boot"
    inject_nmi "$a" & pa=$!
    inject_nmi "$b" & pb=$!
    wait "$pa" && wait "$pb" || fail "inject-nmi failed"
    wait_domstate "$a" '^crashed \(panicked\)$' 30 >/dev/null || fail "'$a' did not crash"
    wait_domstate "$b" '^shut off \(crashed\)$' 30 >/dev/null || fail "'$b' did not crash"
    wait_panics "$a" 1 10 && wait_panics "$b" 1 10 || fail "panic not reported"
    destroy_domain "$a"
}
fixture_debug_concurrent() { concurrent; }
fixture_info_concurrent() { concurrent; }
fixture_recommended_concurrent() { concurrent; }

# libvirtd restarted while a guest runs (the log gets the Reconnect lines of
# the new daemon), then that guest panics.
reconnect() {
    local name=${E2E_NAME_PREFIX}reconnect
    DOM_ONCRASH=preserve fx_define "$name" nmi
    boot_until_ready "$name"
    restart_daemon
    [ "$(domstate "$name")" = "running (booted)" ] || fail "lost the guest over the restart"
    nmi_and_wait "$name" '^crashed \(panicked\)$'
    wait_panics "$name" 1 10 || fail "panic not reported"
    destroy_domain "$name"
}
fixture_debug_reconnect() { reconnect; }
fixture_info_reconnect() { reconnect; }
fixture_recommended_reconnect() { reconnect; }

# ---------------------------------------------------------------- output

# fx_expected: FIXTURE/EXPECTED from the API events and the domain list
fx_expected() {
    local filters=$1 trigger on_crash name n f
    {
        printf '# fixture %s: libvirt %s, QEMU %s, log_filters="%s"\n' "$FX_NAME" \
            "$(libvirtd --version | awk '{ print $NF }')" \
            "$(qemu-system-x86_64 --version | awk 'NR == 1 { print $4 }')" "$filters"
        printf '# generated by tests/e2e/make-fixtures.sh from virsh qemu-monitor-event;\n'
        printf '# columns are tab-separated, the domain name is last (it may hold spaces).\n'
        printf '# panic  QMP-timestamp  trigger  on_crash  domain\n'
        # event GUEST_PANICKED at 1795632518.695651 for domain 'NAME': {"action":"pause"}
        sed -n "s/^event GUEST_PANICKED at \([0-9.]*\) for domain '\(.*\)': {.*$/\1\t\2/p" \
            "$E2E_WORK/state/qmp-events" |
            while IFS=$'\t' read -r ts name; do
                IFS=$'\t' read -r trigger on_crash _ < <(awk -F '\t' -v n="$name" \
                    '$3 == n { print; exit }' "$FX_DIR/domains")
                printf 'panic\t%s\t%s\t%s\t%s\n' "$ts" "$trigger" "$on_crash" "$name"
            done
        printf '# domain  panics  per-domain-log  domain\n'
        while IFS=$'\t' read -r trigger on_crash name; do
            n=$(panics_seen "$name")
            f=-
            [ -f "$FX_DIR/out/qemu/$(slug "$name").log" ] && f="qemu/$(slug "$name").log"
            printf 'domain\t%s\t%s\t%s\n' "$n" "$f" "$name"
        done <"$FX_DIR/domains"
        # orientation only (read from the log itself, not ground truth)
        cat "$FX_DIR"/out/libvirtd.log.1 "$FX_DIR"/out/libvirtd.log 2>/dev/null |
            grep -ao 'QEMU_MONITOR_NEW: mon=0x[0-9a-f]*' | sed 's/.*mon=//' | sort | uniq -c |
            awk '$1 > 1 { printf "# note: monitor pointer %s is opened %d times in this log\n", $2, $1 }'
    } >"$FX_DIR/out/EXPECTED"
}

# The only edits made to the logs: the random work dir becomes
# FIXTURE_WORK_PATH, and a physical line longer than FIXTURE_MAX_LINE bytes
# (QMP replies of QEMU's capability probe, query-qmp-schema and the like,
# up to ~150 KB; they make up 80% of a debug log) is cut to that length and
# marked. No line is removed or reordered.
FIXTURE_MAX_LINE=16384
fx_filter() {
    sed "s|$E2E_WORK|$FIXTURE_WORK_PATH|g" "$1" |
        LC_ALL=C awk -v max="$FIXTURE_MAX_LINE" '
            length($0) > max {
                print substr($0, 1, max) "...[make-fixtures.sh: trimmed " length($0) - max " bytes]"
                next
            }
            { print }'
}

# fx_collect: copy the logs of the run into FIXTURE's output
fx_collect() {
    local name f
    mkdir -p "$FX_DIR/out/qemu"
    for f in "$FX_DIR"/libvirtd.log.1 "$FX_DIR"/libvirtd.log; do
        [ -f "$f" ] || continue
        fx_filter "$f" >"$FX_DIR/out/${f##*/}"
    done
    while IFS=$'\t' read -r _ _ name; do
        f="/var/log/libvirt/qemu/$name.log"
        [ -f "$f" ] && fx_filter "$f" >"$FX_DIR/out/qemu/$(slug "$name").log"
        cp "$(console_of "$name")" "$FX_DIR/console-$(slug "$name").log" 2>/dev/null
    done <"$FX_DIR/domains"
}

# fx_install OUTDIR: replace OUTDIR/FIXTURE with the new output; the daemon
# log is gzipped (it is the big one)
fx_install() {
    local dest=$1/$FX_NAME f
    rm -rf "$dest"
    mkdir -p "$dest"
    cp -a "$FX_DIR/out/." "$dest/"
    for f in "$dest"/libvirtd.log*; do
        [ -f "$f" ] && gzip -9n "$f"
    done
    rmdir "$dest/qemu" 2>/dev/null
    log "fixture $FX_NAME: $(du -sh "$dest" | cut -f1) in $dest"
}

run_fixture() {
    local fx=$1 outdir=$2 level filters
    FX_NAME=$fx
    FX_DIR=$E2E_WORK/fixtures/$fx
    mkdir -p "$FX_DIR/out"
    : >"$FX_DIR/domains"
    : >"$E2E_WORK/state/qmp-events"
    level=${fx%%-*}
    filters=$(log_filters_for "$level")
    log "==== fixture $fx ($level: $filters)"
    start_daemon "$level" "$FX_DIR/libvirtd.log"
    ( set -e; "fixture_${fx//-/_}" ) || return 1
    # undefine before stopping so the log has the whole life of each domain
    while IFS=$'\t' read -r _ _ name; do remove_domain "$name"; done <"$FX_DIR/domains"
    sleep 0.5
    stop_daemon
    fx_collect
    fx_expected "$filters"
    fx_install "$outdir"
}

main() {
    local outdir="" want=() fx rc=0
    while [ $# -gt 0 ]; do
        case $1 in
        --out) outdir=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --list) printf '%s\n' $E2E_FIXTURES; exit 0 ;;
        *) want+=("$1"); shift ;;
        esac
    done
    [ ${#want[@]} -gt 0 ] || read -r -a want <<<"$(echo $E2E_FIXTURES)"
    for fx in "${want[@]}"; do
        declare -F "fixture_${fx//-/_}" >/dev/null || { echo "no fixture '$fx'" >&2; exit 2; }
    done
    e2e_paths
    outdir=${outdir:-$E2E_SRCDIR/tests/data/e2e}
    mkdir -p "$outdir"
    outdir=$(cd "$outdir" && pwd)
    check_prereqs
    take_lock
    e2e_setup
    snapshot_host_files
    ensure_qemu_user
    ensure_kvm_node_access
    write_qemu_conf
    prepare_guest
    # a first daemon start may probe QEMU's capabilities (thousands of lines);
    # do it here so that no fixture depends on the state of the cache
    start_daemon info "$E2E_WORK/warmup.log"
    v domcapabilities --virttype qemu >/dev/null || fail "no domain capabilities"
    stop_daemon
    for fx in "${want[@]}"; do
        run_fixture "$fx" "$outdir" || { rc=1; log "fixture $fx FAILED"; break; }
    done
    [ "$rc" -eq 0 ] || E2E_FAILED=1
    exit "$rc"
}

main "$@"
