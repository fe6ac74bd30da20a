#!/bin/bash
# hook_mode: the real binary as libvirt runs it (argv[0] = .../qemu), for
# every op/subop pair x each on_missing policy, odd domain names, bad and
# hostile stdin, closed descriptors, a stdin that never closes, configs.
. "$abs_top_srcdir/tests/hook_testlib.sh"

D="$DATA/domxml"
cp "$D/existing-panic.in.xml" "$T/panic.xml"
cp "$D/x86-q35.in.xml" "$T/nopanic.xml"
cp "$D/unknown-arch.in.xml" "$T/riscv.xml"
: > "$T/empty.xml"

for policy in enroll warn refuse; do
    write_conf "$T/$policy.conf" "on_missing = $policy" "log = stderr" "connect = test:///hookmode"
done

# ---- every op/subop pair x policy x (with, without a device) ------------
ops="prepare start started stopped release migrate restore reconnect attach define"
subops="begin end - bogus"
pairs=""
if [ -n "$PVPANIC_VALGRIND" ]; then
    # under valgrind: libvirt's real pairs plus a few it never sends
    pairs="prepare:begin start:begin started:begin stopped:end release:end migrate:begin
           restore:begin reconnect:begin attach:begin prepare:end define:begin prepare:bogus"
else
    for op in $ops; do for sub in $subops; do pairs="$pairs $op:$sub"; done; done
fi
enrolls=0
for pair in $pairs; do
    op=${pair%%:*}
    sub=${pair#*:}
    for policy in enroll warn refuse; do
        # under valgrind only prepare (the one path that differs by policy)
        # runs with every policy
        [ -n "$PVPANIC_VALGRIND" ] && [ "$op" != prepare ] && [ "$policy" != refuse ] && continue
        for xml in panic nopanic; do
            run_as qemu "$T/$policy.conf" "$T/$xml.xml" web-01 "$op" "$sub" -
            what="$op $sub $policy $xml"
            want_rc=0
            if [ "$op $sub $xml" = "prepare begin nopanic" ]; then
                case $policy in
                refuse)
                    want_rc=1
                    check_grep "$what: refusal" "domain 'web-01' has no <panic> device; refusing to start (on_missing=refuse in $T/refuse.conf; run: pvpanic-hook enable web-01)" "$T/err"
                    check_eq "$what: one stderr line" 1 "$(wc -l < "$T/err")" ;;
                warn)
                    check_grep "$what: warning" "domain 'web-01' has no <panic> device: a guest crash will go unnoticed" "$T/err" ;;
                enroll)
                    enrolls=$((enrolls + 1))
                    check_grep "$what: enroll" "Adding <panic model='isa'> to its persistent definition in the background" "$T/err" ;;
                esac
            else
                check_empty "$what: quiet" "$T/err"
            fi
            check_eq "$what: exit status" "$want_rc" "$rc"
            check_empty "$what: nothing on stdout" "$T/out"
        done
    done
done
# The enroll helpers ran in the background against the fake virsh.
check "matrix: $enrolls helper(s) ran" wait_calls "$enrolls"
check_grep "helper addressed the domain by UUID after --" \
    "-c test:///hookmode dominfo -- 6f1c2b0e-3d4a-4b8e-9a51-2c7d8e9f0a12" "$T/store/calls.log"

# libvirt >= 10.5 passes a shutoff reason as EXTRA, possibly with a space
run_as qemu "$T/refuse.conf" "$T/nopanic.xml" web-01 release end "from snapshot"
check_eq "release end 'from snapshot'" 0 "$rc"

# ---- odd domain names are data ------------------------------------------
names=(patch --help "a b" 数据库 'x"$(id)`x`' - "" -- hook enable check
       "$(printf 'new\nline')" "-v" "--version" "*" "../../etc/passwd")
# valgrind costs a second per run: keep the suite short there
[ -n "$PVPANIC_VALGRIND" ] && names=(patch --help "a b" 数据库 'x"$(id)`x`' "")
for name in "${names[@]}"; do
    shown=${name//$'\n'/\\x0a}
    run_as qemu "$T/refuse.conf" "$T/nopanic.xml" "$name" prepare begin -
    check_eq "name [$shown]: refused" 1 "$rc"
    check_grep "name [$shown]: named in the refusal" "domain '$shown' has no <panic> device; refusing to start" "$T/err"
    check_eq "name [$shown]: one line" 1 "$(wc -l < "$T/err")"
    check_empty "name [$shown]: no stdout" "$T/out"
    run_as qemu "$T/refuse.conf" "$T/panic.xml" "$name" prepare begin -
    check_eq "name [$shown] with a device: allowed" 0 "$rc"
    check_empty "name [$shown] with a device: quiet" "$T/err"
    run_as qemu "$T/warn.conf" "$T/nopanic.xml" "$name" migrate begin -
    check_eq "name [$shown] migrate: allowed" 0 "$rc"
    check_empty "name [$shown] migrate: prints nothing" "$T/out"
done
check "no command substitution ran" bash -c "! grep -rq 'uid=' '$T/out' '$T/err'"
run_as qemu "$T/warn.conf" "$T/nopanic.xml" 'x"$(id)`x`' prepare begin -
check_grep "hint is shell-quoted" "to add it: pvpanic-hook enable 'x\"\$(id)\`x\`')" "$T/err"
run_as qemu "$T/warn.conf" "$T/nopanic.xml" "--help" prepare begin -
check_grep "hint puts -- before an option-like name" "pvpanic-hook enable -- '--help'" "$T/err"

# ---- stdin that is not a usable domain XML ------------------------------
printf 'this is not XML\n' > "$T/garbage.xml"
printf '<?xml version="1.0"?>\n<!DOCTYPE domain [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<domain><name>&xxe;</name><os><type arch="x86_64">hvm</type></os></domain>\n' > "$T/xxe.xml"
{
    printf '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">\n'
    prev=lol
    for i in 1 2 3 4 5 6 7 8 9; do
        printf '<!ENTITY lol%d "%s">\n' "$i" "$(printf "&$prev;%.0s" 1 2 3 4 5 6 7 8 9 10)"
        prev=lol$i
    done
    printf ']>\n<domain><name>&lol9;</name></domain>\n'
} > "$T/laughs.xml"
{ printf '<domain>'; for i in $(seq 3000); do printf '<a>'; done; } > "$T/deep.xml"
printf '<domain><name>\xff\xfe</name></domain>' > "$T/badutf8.xml"
printf '<domain><name>a\0b</name></domain>' > "$T/nul.xml"
{ printf '<domain><description>'; head -c $((50 * 1024 * 1024)) /dev/zero | tr '\0' 'x'; printf '</description></domain>'; } > "$T/huge.xml"

for input in empty garbage xxe laughs deep badutf8 nul huge; do
    run_as qemu "$T/refuse.conf" "$T/$input.xml" web-01 prepare begin -
    check_eq "$input stdin, refuse: refused" 1 "$rc"
    check_grep "$input stdin, refuse: says why" "cannot check domain 'web-01' for a <panic> device" "$T/err"
    check_eq "$input stdin, refuse: one line" 1 "$(wc -l < "$T/err")"
    fail_open_policies="warn enroll"
    [ -n "$PVPANIC_VALGRIND" ] && fail_open_policies=warn
    for policy in $fail_open_policies; do
        run_as qemu "$T/$policy.conf" "$T/$input.xml" web-01 prepare begin -
        check_eq "$input stdin, $policy: fails open" 0 "$rc"
        check_grep "$input stdin, $policy: logged" "allowing it (fail open)" "$T/err"
    done
    run_as qemu "$T/refuse.conf" "$T/$input.xml" web-01 started begin -
    check_eq "$input stdin, started: allowed" 0 "$rc"
done
run_as qemu "$T/refuse.conf" "$T/xxe.xml" web-01 prepare begin -
check_grep "XXE refusal names the DOCTYPE" "DOCTYPE declarations are not allowed" "$T/err"
check "XXE: /etc/passwd never read into output" bash -c "! grep -q 'root:' '$T/err' '$T/out'"
run_as qemu "$T/refuse.conf" "$T/huge.xml" web-01 prepare begin -
check_grep "50 MB stdin: size named" "larger than 16 MiB" "$T/err"
run_as qemu "$T/refuse.conf" "$T/riscv.xml" riscv-sandbox prepare begin -
check_eq "no model for the arch, refuse: refused" 1 "$rc"
check_grep "no model for the arch: says so" "none can be added (no panic device model is known for arch 'riscv64'" "$T/err"
run_as qemu "$T/enroll.conf" "$T/riscv.xml" riscv-sandbox prepare begin -
check_eq "no model for the arch, enroll: allowed" 0 "$rc"
check_grep "no model for the arch, enroll: warns" "none can be added" "$T/err"

# closed stdin / stdout / stderr
PVPANIC_HOOK_CONF=$T/refuse.conf $PVPANIC_VALGRIND "$T/qemu" web-01 prepare begin - <&- > "$T/out" 2> "$T/err"
check_eq "closed stdin, refuse: refused" 1 "$?"
PVPANIC_HOOK_CONF=$T/warn.conf $PVPANIC_VALGRIND "$T/qemu" web-01 prepare begin - <&- > "$T/out" 2> "$T/err"
check_eq "closed stdin, warn: allowed" 0 "$?"
PVPANIC_HOOK_CONF=$T/refuse.conf $PVPANIC_VALGRIND "$T/qemu" web-01 prepare begin - < "$T/nopanic.xml" >&- 2> "$T/err"
check_eq "closed stdout, refuse: refused" 1 "$?"
check_grep "closed stdout: message still on stderr" "refusing to start" "$T/err"
PVPANIC_HOOK_CONF=$T/refuse.conf $PVPANIC_VALGRIND "$T/qemu" web-01 migrate begin - < "$T/nopanic.xml" >&- 2> "$T/err"
check_eq "closed stdout, migrate: allowed" 0 "$?"
if [ -z "$PVPANIC_VALGRIND" ]; then
    # (valgrind itself cannot run without a stderr)
    PVPANIC_HOOK_CONF=$T/refuse.conf "$T/qemu" web-01 prepare begin - < "$T/nopanic.xml" > "$T/out" 2>&-
    check_eq "closed stderr, refuse: still refuses" 1 "$?"
fi

# a stdin that never reaches EOF: bounded by stdin_timeout
write_conf "$T/slow-refuse.conf" "on_missing = refuse" "log = stderr" "stdin_timeout = 300ms"
write_conf "$T/slow-warn.conf" "on_missing = warn" "log = stderr" "stdin_timeout = 300ms"
mkfifo "$T/fifo"
exec 7<>"$T/fifo"
printf '<domain>' >&7
start=$(date +%s%N)
run_as qemu "$T/slow-refuse.conf" "$T/fifo" web-01 prepare begin -
elapsed=$((($(date +%s%N) - start) / 1000000))
check_eq "stdin never closes, refuse: refused" 1 "$rc"
check_grep "stdin never closes: says so" "stdin did not reach end-of-file within 300 ms" "$T/err"
check "stdin never closes: bounded ($elapsed ms)" test "$elapsed" -lt 15000
run_as qemu "$T/slow-warn.conf" "$T/fifo" web-01 prepare begin -
check_eq "stdin never closes, warn: fails open" 0 "$rc"
run_as qemu "$T/slow-warn.conf" "$T/fifo" web-01 stopped end -
check_eq "stdin never closes, stopped: allowed" 0 "$rc"
exec 7>&-

# ---- configuration -------------------------------------------------------
write_conf "$T/bad.conf" "on_missing = refuse" "colour = blue" "log = stderr"
run_as qemu "$T/bad.conf" "$T/nopanic.xml" web-01 prepare begin -
check_eq "bad config: fails open" 0 "$rc"
check_grep "bad config: file:line" "$T/bad.conf:2: unknown key 'colour'" "$T/err"
check_grep "bad config: says it fails open" "the operation is allowed (fail open)" "$T/err"
chmod 666 "$T/bad.conf"
write_conf "$T/unsafe.conf" "on_missing = refuse"
chmod 666 "$T/unsafe.conf"
run_as qemu "$T/unsafe.conf" "$T/nopanic.xml" web-01 prepare begin -
check_eq "world-writable config: ignored, fails open" 0 "$rc"
check_grep "world-writable config: refused" "refusing config" "$T/err"
mkfifo "$T/fifo.conf"
run_as qemu "$T/fifo.conf" "$T/nopanic.xml" web-01 prepare begin -
check_eq "config is a FIFO: not opened (no hang), fails open" 0 "$rc"
check_grep "config is a FIFO: says so" "refusing config: not a regular file" "$T/err"
run_as qemu "$T/absent.conf" "$T/panic.xml" web-01 prepare begin -
check_eq "no config file: defaults, device present" 0 "$rc"

write_conf "$T/none.conf" "on_missing = refuse" "log = none"
run_as qemu "$T/none.conf" "$T/nopanic.xml" web-01 prepare begin -
check_eq "log = none: still refuses" 1 "$rc"
check_eq "log = none: the refusal is still on stderr" 1 "$(grep -c 'refusing to start' "$T/err")"

write_conf "$T/excl.conf" "on_missing = refuse" "log = stderr" "exclude = web-*"
run_as qemu "$T/excl.conf" "$T/nopanic.xml" web-01 prepare begin -
check_eq "excluded by name: allowed" 0 "$rc"
check_empty "excluded by name: quiet" "$T/err"
write_conf "$T/incl.conf" "on_missing = refuse" "log = stderr" "include_uuid = 6F1C2B0E3D4A4B8E9A512C7D8E9F0A12"
run_as qemu "$T/incl.conf" "$T/nopanic.xml" any-name prepare begin -
check_eq "included by UUID: refused" 1 "$rc"
run_as qemu "$T/incl.conf" "$T/riscv.xml" riscv-sandbox prepare begin -
check_eq "not included: allowed" 0 "$rc"
write_conf "$T/model.conf" "on_missing = warn" "log = stderr" "model = hyperv"
cp "$D/aarch64-virt.in.xml" "$T/arm.xml"
run_as qemu "$T/model.conf" "$T/arm.xml" arm-worker-03 prepare begin -
check_grep "configured model that does not fit: says so" "panic model 'hyperv' is only valid for i686 and x86_64 guests" "$T/err"

# a domain's own policy in its <metadata>
meta() { # VALUE OUTFILE
    sed "s|  <uuid>.*|&\n  <metadata>\n    <pvpanic:hook xmlns:pvpanic=\"urn:pvpanic-tools:hook:1\" on_missing=\"$1\"/>\n  </metadata>|" \
        "$T/nopanic.xml" > "$2"
}
meta ignore "$T/meta-ignore.xml"
meta refuse "$T/meta-refuse.xml"
meta sometimes "$T/meta-bogus.xml"
run_as qemu "$T/refuse.conf" "$T/meta-ignore.xml" web-01 prepare begin -
check_eq "metadata on_missing=ignore under refuse: allowed" 0 "$rc"
check_empty "metadata ignore: quiet" "$T/err"
run_as qemu "$T/warn.conf" "$T/meta-refuse.xml" web-01 prepare begin -
check_eq "metadata on_missing=refuse under warn: refused" 1 "$rc"
check_grep "metadata refuse: names the source" "(on_missing=refuse in its <metadata>; run: pvpanic-hook enable web-01)" "$T/err"
run_as qemu "$T/warn.conf" "$T/meta-bogus.xml" web-01 prepare begin -
check_eq "metadata with a bad value: config policy" 0 "$rc"
check_grep "metadata with a bad value: says so" "ignoring on_missing='sometimes' in its <metadata>" "$T/err"
write_conf "$T/nometa.conf" "on_missing = refuse" "log = stderr" "metadata = no"
run_as qemu "$T/nometa.conf" "$T/meta-ignore.xml" web-01 prepare begin -
check_eq "metadata = no: the domain cannot opt out" 1 "$rc"
write_conf "$T/exclmeta.conf" "on_missing = warn" "log = stderr" "exclude = web-*"
run_as qemu "$T/exclmeta.conf" "$T/meta-refuse.xml" web-01 prepare begin -
check_eq "excluded by config: metadata cannot opt back in" 0 "$rc"

write_conf "$T/verbose.conf" "on_missing = warn" "log = stderr" "verbose = yes"
run_as qemu "$T/verbose.conf" "$T/panic.xml" web-01 migrate begin -
check_grep "verbose: debug line" "called for domain 'web-01' op 'migrate' subop 'begin' extra '-'" "$T/err"
check_empty "verbose: still nothing on stdout" "$T/out"

# ---- how the program is invoked -------------------------------------------
run_as qemu.d/50-pvpanic "$T/refuse.conf" "$T/nopanic.xml" web-01 prepare begin -
check_eq "as qemu.d/50-pvpanic: hook mode" 1 "$rc"
for args in "" "web-01" "web-01 prepare begin" "web-01 prepare begin - extra"; do
    # shellcheck disable=SC2086
    run_as qemu "$T/refuse.conf" "$T/nopanic.xml" $args
    check_eq "hook with [$args]: fails open" 0 "$rc"
    check_grep "hook with [$args]: says why" "expected DOMAIN OP SUBOP EXTRA from libvirt" "$T/err"
done
PVPANIC_HOOK_CONF=$T/refuse.conf $PVPANIC_VALGRIND "$HOOK_BIN" hook -- --help prepare begin - < "$T/nopanic.xml" > "$T/out" 2> "$T/err"
check_eq "pvpanic-hook hook -- --help ...: --help is the domain" 1 "$?"
check_grep "pvpanic-hook hook: same refusal" "domain '--help' has no <panic> device" "$T/err"
PVPANIC_HOOK_CONF=$T/refuse.conf $PVPANIC_VALGRIND "$HOOK_BIN" hook patch prepare begin - < "$T/panic.xml" > "$T/out" 2> "$T/err"
check_eq "pvpanic-hook hook patch ...: allowed" 0 "$?"
PVPANIC_HOOK_CONF=$T/refuse.conf $PVPANIC_VALGRIND "$HOOK_BIN" web-01 prepare begin - < "$T/nopanic.xml" > "$T/out" 2> "$T/err"
check_eq "under its own name the words are a command line" 64 "$?"

finish
