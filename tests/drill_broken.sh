#!/bin/bash
# pvpanic-watch drill, broken links: each is reported with its fix BEFORE
# anything is injected (the fake virsh must never see inject-nmi or
# qemu-monitor-command), exit 1. No terminal and no --yes: refused, exit 2,
# virsh never run.
. "$abs_top_srcdir/tests/drill_lib.sh"
watchdog 60

no_nmi() {
    [ "$(nmi_calls)" -eq 0 ] || fail "$1: an NMI was sent although a link is broken"
}

# no panic device
fake_domain "db-02" ""
run_drill --yes --timeout 5 --log "$LOG" db-02
[ "$RC" -eq 1 ] || fail "no panic device: exit $RC"
grep -q '^  BROKEN  panic device  no <panic> device in the live definition$' "$T/out" || fail "no panic device: line"
grep -q '^                        fix: add one: pvpanic-hook enable db-02, then cold-boot the guest' "$T/out" ||
    fail "no panic device: fix"
grep -q '^RESULT: broken link(s) above; no NMI was injected\.$' "$T/out" || fail "no panic device: result"
no_nmi "no panic device"
grep -q '^dumpxml --inactive -- 6734dc2b' "$FAKE/calls" || fail "the persistent definition was not looked at"
ok "no panic device: broken before injecting"
sed 's/^/    | /' "$T/out"

# the persistent definition has one, the running guest does not
fake_domain "db-02" ""
sed 's|</devices>|<panic model="isa"/></devices>|' "$FAKE/xml" > "$FAKE/xml.inactive"
run_drill --yes --timeout 5 --log "$LOG" db-02
[ "$RC" -eq 1 ] || fail "live lacks device: exit $RC"
grep -q 'fix: the persistent definition has one but the running guest was not cold-booted since' "$T/out" ||
    fail "live lacks device: fix should say cold-boot"
no_nmi "live lacks device"
rm -f "$FAKE/xml.inactive"
ok "device only in the persistent definition: cold-boot fix"

# ISA model without ACPI
fake_domain "db-02" "<panic model='isa'/>" "<apic/>"
run_drill --yes --timeout 5 --log "$LOG" db-02
[ "$RC" -eq 1 ] || fail "no ACPI: exit $RC"
grep -q "^  BROKEN  panic device  <panic model='isa'> but no <features><acpi/>: libvirt passes -no-acpi" "$T/out" ||
    fail "no ACPI: line"
grep -q 'fix: add <acpi/> under <features> (virsh edit), then cold-boot the guest' "$T/out" || fail "no ACPI: fix"
no_nmi "no ACPI"
ok "ISA device without ACPI: broken"

# ... the same without model (ISA is the x86 default)
fake_domain "db-02" "<panic/>" ""
run_drill --yes --timeout 5 --log "$LOG" db-02
[ "$RC" -eq 1 ] || fail "default model, no ACPI: exit $RC"
grep -q "^  BROKEN  panic device  <panic> (no model) but no <features><acpi/>" "$T/out" || fail "default model line"
no_nmi "default model, no ACPI"
ok "model-less device without ACPI: broken"

# hyperv needs no ACPI
fake_domain "win-hv" "<panic model='hyperv'/>" "<hyperv mode='custom'><relaxed state='on'/></hyperv>"
run_drill --yes --dry-run --log "$LOG" win-hv
[ "$RC" -eq 0 ] || fail "hyperv without ACPI: exit $RC"
grep -q "^  ok      panic device  <panic model='hyperv'> fits x86_64$" "$T/out" || fail "hyperv line"
ok "hyperv model without ACPI: ok"

# a model that does not fit the arch
fake_domain "db-02" "<panic model='s390'/>"
run_drill --yes --timeout 5 --log "$LOG" db-02
[ "$RC" -eq 1 ] || fail "s390 on x86: exit $RC"
grep -q "^  BROKEN  panic device  <panic model='s390'> does not fit this guest (panic model 's390' is only valid for s390 guests" "$T/out" ||
    fail "s390 on x86: line"
no_nmi "s390 on x86"
ok "model that does not fit: broken"

# not running
fake_domain "db-02"
echo "shut off (destroyed)" > "$FAKE/state"
run_drill --yes --timeout 5 --log "$LOG" db-02
[ "$RC" -eq 1 ] || fail "shut off: exit $RC"
grep -q '^  BROKEN  domain        shut off (destroyed): an NMI needs a running guest$' "$T/out" || fail "shut off: line"
grep -q 'fix: start it: virsh start db-02$' "$T/out" || fail "shut off: fix"
no_nmi "shut off"
echo "paused (user)" > "$FAKE/state"
run_drill --yes --timeout 5 --connect 'qemu:///system' --log "$LOG" db-02
[ "$RC" -eq 1 ] || fail "paused: exit $RC"
grep -q "fix: resume it: virsh -c qemu:///system resume db-02$" "$T/out" || fail "paused: fix"
grep -q '^-c qemu:///system dumpxml -- db-02 ' "$FAKE/calls" || fail "--connect not passed to virsh"
no_nmi "paused"
ok "domain not running: broken, with start/resume fix"

# no such domain
fake_domain "db-02"
run_drill --yes --timeout 5 --log "$LOG" nosuch
[ "$RC" -eq 1 ] || fail "no such domain: exit $RC"
grep -q "^  BROKEN  domain        no such domain: failed to get domain 'nosuch'" "$T/err" "$T/out" ||
    fail "no such domain: line"
no_nmi "no such domain"
ok "no such domain: broken"

# the daemon log records nothing: a log without a single QEMU_MONITOR_ line
fake_domain "db-02"
grep -v QEMU_MONITOR_ "$LOG" > "$T/quiet.log"
run_drill --yes --timeout 5 --log "$T/quiet.log" db-02
[ "$RC" -eq 1 ] || fail "quiet log: exit $RC"
grep -q '^  BROKEN  daemon log    .*quiet.log (--log); not one QEMU_MONITOR_ line in the last 1 MB read$' "$T/out" ||
    fail "quiet log: line"
grep -q 'fix: set log_filters="1:qemu.qemu_process 2:qemu 3:\*"' "$T/out" || fail "quiet log: fix"
no_nmi "quiet log"
run_drill --yes --timeout 5 --log "$T/missing.log" db-02
[ "$RC" -eq 1 ] || fail "missing log: exit $RC"
grep -q '^  BROKEN  daemon log    cannot read .*missing.log (No such file or directory; from --log)' "$T/out" ||
    fail "missing log: line"
no_nmi "missing log"
ok "daemon log without monitor lines / missing: broken"

# no terminal, no --yes: refused before virsh runs
fake_domain "db-02"
run_drill --timeout 5 --log "$LOG" db-02
[ "$RC" -eq 2 ] || fail "no tty: exit $RC"
grep -q "refusing to crash 'db-02' without confirmation: stdin is not a terminal; pass --yes" "$T/err" ||
    fail "no tty: message"
[ ! -s "$FAKE/calls" ] || fail "no tty: virsh was run"
run_drill --json --timeout 5 --log "$LOG" db-02
[ "$RC" -eq 2 ] || fail "no tty --json: exit $RC"
[ "$(json_get 'j["result"]')" = refused ] || fail "no tty --json: result"
ok "no terminal without --yes: refused (exit 2), virsh never run"

# usage errors
for args in "" "a b" "--timeout 0 x" "--timeout abc x" "--bogus x"; do
    # shellcheck disable=SC2086
    run_drill --yes $args
    [ "$RC" -eq 2 ] || fail "usage '$args': exit $RC"
done
ok "usage errors: exit 2"

# on a terminal the operator must type yes (script(1) gives a pty)
if command -v script >/dev/null; then
    fake_domain "db-02"
    printf 'no\n' | script -qec "$VG '$WATCH' drill --timeout 5 --log '$LOG' db-02" /dev/null > "$T/out" 2>&1
    rc=$?
    grep -q 'Type yes to go on:' "$T/out" || fail "tty: no prompt"
    grep -q 'RESULT: nothing injected (not-confirmed)' "$T/out" || fail "tty: not-confirmed result"
    [ "$rc" -eq 2 ] || fail "tty 'no': exit $rc"
    no_nmi "tty answered no"
    ok "terminal: answering 'no' injects nothing (exit 2)"
fi

# the man page documents every option of drill --help in its DRILL section
if command -v man >/dev/null 2>&1; then
    page="$abs_top_srcdir/share/man/pvpanic-watch.8"
    warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
    [ -z "$warnings" ] || fail "man --warnings: $warnings"
    section=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l "$page" 2>/dev/null | sed -n '/^DRILL/,/^[A-Z]/p')
    [ -n "$section" ] || fail "pvpanic-watch(8) has no DRILL section"
    for opt in $("$WATCH" drill --help | sed -nE 's/^ +(-[a-zA-Z], +)?(--[a-z][a-z-]*).*/\2/p'); do
        grep -qF -- "$opt" <<<"$section" || fail "drill $opt is in --help but not in DRILL"
    done
    ok "pvpanic-watch(8) DRILL documents every drill option"
fi
