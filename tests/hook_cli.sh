#!/bin/bash
# hook_cli: pvpanic-hook's command line - patch, check, enable (against a
# fake virsh), check-config, help and version - and its exit statuses.
. "$abs_top_srcdir/tests/hook_testlib.sh"

D="$DATA/domxml"
: > "$T/null"

# ---- patch -----------------------------------------------------------------
run_cli "$T/null" patch "$D/x86-q35.in.xml"
check_eq "patch FILE: exit 0" 0 "$rc"
check "patch FILE: the golden output" cmp -s "$T/out" "$D/x86-q35.out.xml"
check_empty "patch FILE: quiet" "$T/err"
run_cli "$D/x86-q35.in.xml" patch -
check "patch -: same from stdin" cmp -s "$T/out" "$D/x86-q35.out.xml"
run_cli "$D/x86-q35.in.xml" patch
check "patch (no file): stdin" cmp -s "$T/out" "$D/x86-q35.out.xml"
cp "$T/out" "$T/once.xml"
run_cli "$T/once.xml" patch
check "patch is idempotent" cmp -s "$T/out" "$T/once.xml"
run_cli "$T/null" patch --model hyperv "$D/windows-hyperv.in.xml"
check "patch --model hyperv" cmp -s "$T/out" "$D/windows-hyperv-model.out.xml"
run_cli "$T/null" patch --iobase 0x600 "$D/x86-pc.in.xml"
check "patch --iobase 0x600" cmp -s "$T/out" "$D/iobase.out.xml"
run_cli "$T/null" patch --on-crash preserve "$D/x86-q35.in.xml"
check "patch --on-crash preserve" cmp -s "$T/out" "$D/on-crash-replace.out.xml"
run_cli "$T/null" -v patch "$D/x86-q35.in.xml"
check_grep "patch -v: says what it added" "added <panic model='isa'>" "$T/err"

run_cli "$T/null" patch "$D/unknown-arch.in.xml"
check_eq "patch unknown arch: exit 3" 3 "$rc"
check_empty "patch unknown arch: nothing on stdout" "$T/out"
check_grep "patch unknown arch: says why" "left unchanged: no panic device model is known for arch 'riscv64'" "$T/err"
run_cli "$T/null" patch --model isa "$D/aarch64-virt.in.xml"
check_eq "patch model that does not fit: exit 3" 3 "$rc"
check_empty "patch model that does not fit: no stdout" "$T/out"
run_cli "$T/null" patch --iobase 0x600 "$D/aarch64-virt.in.xml"
check_eq "patch --iobase for pvpanic: exit 3" 3 "$rc"

printf 'garbage' > "$T/garbage.xml"
printf '<!DOCTYPE domain [<!ENTITY x SYSTEM "file:///etc/passwd">]><domain>&x;</domain>' > "$T/xxe.xml"
printf '<network><name>default</name></network>' > "$T/network.xml"
{ printf '<domain><description>'; head -c $((50 * 1024 * 1024)) /dev/zero | tr '\0' 'x'; printf '</description></domain>'; } > "$T/huge.xml"
for bad in garbage xxe network huge; do
    run_cli "$T/null" patch "$T/$bad.xml"
    check_eq "patch $bad: exit 2" 2 "$rc"
    check_empty "patch $bad: nothing on stdout" "$T/out"
    check_eq "patch $bad: one error line" 1 "$(wc -l < "$T/err")"
done
check_grep "patch 50 MB: size named" "input is larger than 16 MiB" "$T/err"
run_cli "$T/null" patch "$T/no-such-file.xml"
check_eq "patch missing file: exit 2" 2 "$rc"
check_grep "patch missing file: says so" "cannot read '$T/no-such-file.xml': No such file or directory" "$T/err"

$PVPANIC_VALGRIND "$HOOK_BIN" patch "$D/x86-q35.in.xml" >&- 2> "$T/err"
check_eq "patch, stdout closed: exit 74" 74 "$?"
if [ -w /dev/full ]; then
    $PVPANIC_VALGRIND "$HOOK_BIN" patch "$D/x86-q35.in.xml" > /dev/full 2> "$T/err"
    check_eq "patch, stdout full: exit 74" 74 "$?"
    check_grep "patch, stdout full: says so" "cannot write standard output" "$T/err"
fi
for bad in "--model" "--model default" "--model foo" "--iobase 505" "--iobase 0x10000" \
           "--on-crash rename-restart" "--bogus" "a.xml b.xml" "--model hyperv --iobase 0x505"; do
    # shellcheck disable=SC2086
    run_cli "$T/null" patch $bad
    check_eq "patch $bad: usage error 64" 64 "$rc"
    check_empty "patch $bad: no stdout" "$T/out"
done

# ---- check -----------------------------------------------------------------
run_cli "$T/null" check "$D/existing-panic.in.xml"
check_eq "check with a device: 0" 0 "$rc"
check_grep "check with a device: present" "existing-panic.in.xml: present" "$T/out"
run_cli "$T/null" check "$D/x86-q35.in.xml"
check_eq "check without: 1" 1 "$rc"
check_grep "check without: says what patch would add" "missing (patch would add <panic model='isa'>)" "$T/out"
run_cli "$T/null" check "$D/aarch64-isa-unusable.in.xml"
check_eq "check with a misfit model: 1" 1 "$rc"
run_cli "$T/null" check "$T/garbage.xml"
check_eq "check garbage: 2" 2 "$rc"
run_cli "$T/null" check -q "$D/existing-panic.in.xml" "$D/x86-q35.in.xml"
check_eq "check two files: worst status" 1 "$rc"
check_empty "check -q: silent" "$T/out"
run_cli "$T/null" check "$D/existing-panic.in.xml" "$T/garbage.xml" "$D/x86-q35.in.xml"
check_eq "check three files: 2 wins" 2 "$rc"
check_eq "check three files: two result lines" 2 "$(wc -l < "$T/out")"
run_cli "$D/existing-panic.in.xml" check
check_eq "check stdin: 0" 0 "$rc"
check_grep "check stdin: labelled" "(stdin): present" "$T/out"

# ---- help and version ----------------------------------------------------------
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$abs_top_builddir/config.h")
run_cli "$T/null" --version
check_eq "--version: 0" 0 "$rc"
check_grep "--version: PACKAGE_VERSION" "pvpanic-hook (pvpanic-tools) $version" "$T/out"
for args in "--help" "-h" "help" "help --help"; do
    # shellcheck disable=SC2086
    run_cli "$T/null" $args
    check_eq "$args: 0" 0 "$rc"
    check_grep "$args: lists commands" "check-config  validate the hook configuration" "$T/out"
done
for cmd in patch check enable check-config hook; do
    run_cli "$T/null" help "$cmd"
    check_grep "help $cmd" "Usage: pvpanic-hook $cmd" "$T/out"
    run_cli "$T/null" "$cmd" --help
    check_eq "$cmd --help: 0" 0 "$rc"
    check_grep "$cmd --help" "Usage: pvpanic-hook $cmd" "$T/out"
done
run_cli "$T/null"
check_eq "no command: 64" 64 "$rc"
run_cli "$T/null" frobnicate
check_eq "unknown command: 64" 64 "$rc"
check_grep "unknown command: named" "unknown command 'frobnicate'" "$T/err"
run_cli "$T/null" --frob
check_eq "unknown option: 64" 64 "$rc"

# ---- enable, against the fake virsh ------------------------------------------
U1=6f1c2b0e-3d4a-4b8e-9a51-2c7d8e9f0a12
U2=0b7d1f64-9a3e-4c1b-8d2f-6e5a4c3b2a19
U3=7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b
U4=3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f
add_fake_domain "$U1" web-01 "$D/x86-q35.in.xml" yes
sed "s/db-02/--help/" "$D/x86-pc.in.xml" > "$T/help.xml"
add_fake_domain "$U2" --help "$T/help.xml" yes
add_fake_domain "$U3" riscv-sandbox "$D/unknown-arch.in.xml" yes
add_fake_domain "$U4" arm-worker-03 "$D/aarch64-virt.in.xml" no

run_cli "$T/null" enable --connect test:///cli --dry-run web-01
check_eq "enable --dry-run: 0" 0 "$rc"
check_grep "enable --dry-run: would add" "web-01: would add <panic model='isa'>" "$T/out"
check "enable --dry-run: defined nothing" bash -c "! grep -q define '$T/store/calls.log'"
run_cli "$T/null" enable --connect test:///cli -- web-01 --help
check_eq "enable two domains: 0" 0 "$rc"
check_grep "enable: web-01 added" "web-01: added <panic model='isa'>" "$T/out"
check_grep "enable: --help is a domain after --" "--help: added <panic model='isa'>" "$T/out"
run_cli "$T/null" enable --connect test:///cli web-01 --help
check_grep "enable NAME --help: --help is a domain too" "--help: present" "$T/out"
check_grep "enable: the name went to virsh after --" "-c test:///cli domuuid -- --help" "$T/store/calls.log"
check "enable: web-01 defined with the golden XML" cmp -s "$T/store/dom/$U1/xml" "$D/x86-q35.out.xml"
run_cli "$T/null" enable --connect test:///cli web-01
check_eq "enable again: 0" 0 "$rc"
check_eq "enable again: present" "web-01: present" "$(cat "$T/out")"
run_cli "$T/null" enable --connect test:///cli riscv-sandbox
check_eq "enable unknown arch: 5 (skipped)" 5 "$rc"
check_grep "enable unknown arch: skipped: why" "riscv-sandbox: skipped: no panic device model is known" "$T/out"
run_cli "$T/null" enable --connect test:///cli arm-worker-03
check_eq "enable transient: 5 (skipped)" 5 "$rc"
check_grep "enable transient: skipped" "arm-worker-03: skipped: transient domain" "$T/out"
run_cli "$T/null" enable --connect test:///cli nope web-01
check_eq "enable a missing domain: 4 (failed)" 4 "$rc"
check_grep "enable missing: failed: why" "nope: failed: virsh domuuid: failed to get domain 'nope'" "$T/out"
check_grep "enable missing: the other is still done" "web-01: present" "$T/out"
FAKE_VIRSH_FAIL_DEFINE=1 run_cli "$T/null" enable --connect test:///cli --on-crash preserve web-01
check_eq "enable, define fails: 4" 4 "$rc"
check_grep "enable, define fails: virsh's reason" "web-01: failed: virsh define: Failed to define domain" "$T/out"
run_cli "$T/null" enable --connect test:///cli --on-crash preserve web-01
check_eq "enable --on-crash on a domain with a device: 0" 0 "$rc"
check_grep "enable --on-crash: updated" "web-01: updated: on_crash set to preserve" "$T/out"
: > "$T/store/calls.log"
run_cli "$T/null" enable --connect test:///cli --all
check_eq "enable --all: 5 (some skipped)" 5 "$rc"
check_eq "enable --all: one line per domain" 4 "$(wc -l < "$T/out")"
check_grep "enable --all: listed by UUID" "-c test:///cli list --all --uuid" "$T/store/calls.log"
for bad in "" "--all web-01" "--model foo x" "--timeout 0 x" "--uuid nope x" "--bogus x"; do
    # shellcheck disable=SC2086
    run_cli "$T/null" enable $bad
    check_eq "enable [$bad]: usage error 64" 64 "$rc"
done

# ---- check-config ------------------------------------------------------------
write_conf "$T/good.conf" "on_missing = warn" "exclude = test-*"
run_cli "$T/null" check-config "$T/good.conf"
check_eq "check-config good: 0" 0 "$rc"
check_grep "check-config good: OK" "# $T/good.conf: configuration OK" "$T/out"
check_grep "check-config good: settings" "on_missing = warn" "$T/out"
check_grep "check-config good: defaults" "connect = qemu:///system" "$T/out"
write_conf "$T/bad.conf" "on_missing = sometimes" "" "modle = isa"
run_cli "$T/null" check-config "$T/bad.conf"
check_eq "check-config bad: 78" 78 "$rc"
check_grep "check-config bad: line 1" "$T/bad.conf:1: invalid on_missing 'sometimes'" "$T/err"
check_grep "check-config bad: line 3" "$T/bad.conf:3: unknown key 'modle'" "$T/err"
PVPANIC_HOOK_CONF=$T/good.conf run_cli "$T/null" check-config
check_grep "check-config uses PVPANIC_HOOK_CONF" "# $T/good.conf: configuration OK" "$T/out"
run_cli "$T/null" check-config "$T/absent.conf"
check_eq "check-config absent: 0" 0 "$rc"
check_grep "check-config absent: defaults" "does not exist; defaults apply" "$T/out"

# The shipped sample: every key, valid once uncommented, and in the man page.
sed 's/^#\([a-z_]* = \)/\1/' "$abs_top_srcdir/share/hook.conf.sample" > "$T/sample.conf"
chmod 644 "$T/sample.conf"
run_cli "$T/null" check-config "$T/sample.conf"
check_eq "hook.conf.sample, all keys set: valid" 0 "$rc"
for key in on_missing model include include_uuid exclude exclude_uuid log connect verbose stdin_timeout metadata; do
    check_grep "hook.conf.sample sets $key" "$key = " "$T/sample.conf"
    check "pvpanic-hook(8) documents $key" grep -qE "^\.B[IR] $key \" = " "$abs_top_srcdir/share/man/pvpanic-hook.8"
done
run_cli "$T/null" patch "$abs_top_srcdir/share/samples/domain-nopanic.xml"
check_eq "the quickstart sample patches" 0 "$rc"
check_grep "the quickstart sample gets a device" "<panic model='isa'>" "$T/out"

finish
