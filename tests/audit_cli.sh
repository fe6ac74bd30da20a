#!/bin/bash
# audit_cli: pvpanic-watch audit as a user runs it: exit codes, stdin (plain
# and gzip), unreadable and corrupt input, --since, --json validity,
# configuration errors, the "log filters too low" warning, the demo sample.
. "$abs_top_srcdir/tests/audit_lib.sh"
need_python
CORPUS="$DATA/libvirt-9.0-debug.log.gz"

watch --help
expect_rc 0 "--help"
expect_out "audit    scan libvirt logs once" "--help lists the commands"
watch audit --help
expect_rc 0 "audit --help"
expect_out "Exit status: 0 no event, 1 events found, 2 error." "audit --help documents the exit codes"
watch help follow
expect_rc 0 "help follow"
expect_out "Usage: pvpanic-watch follow" "help COMMAND is COMMAND --help"
watch help frobnicate
expect_rc 2 "help of an unknown command"
expect_err "unknown command 'frobnicate'" "help of an unknown command names it"
watch --version
expect_rc 0 "--version"
expect_out "pvpanic-watch " "--version prints the version"
watch audit --version
expect_rc 0 "audit --version"
watch
expect_rc 2 "no command"
watch frobnicate
expect_rc 2 "unknown command"
expect_err "unknown command 'frobnicate'" "unknown command is named"
watch audit --no-such-option "$CORPUS"
expect_rc 2 "unknown option"
expect_err "pvpanic-watch audit: unrecognized option '--no-such-option'" "getopt names the command"

# the shared corpus: exactly panictest then win2016, both via 0x7f3a24011010
watch audit "$CORPUS"
expect_rc 1 "corpus: events found"
expect_out "2026-11-25T17:27:29.975Z  panictest  panic  pause" "corpus: panictest row"
expect_out "2026-11-25T17:28:58.496Z  win2016    panic  pause" "corpus: win2016 row"
expect_out "2 events (2 panic, 0 crashloaded, 0 custom) for 2 domains in 1 file" "corpus: summary"
expect_no_err "corpus: nothing on stderr"

watch audit --json "$CORPUS"
expect_rc 1 "--json: events found"
if [ "$(json_summary)" = "1795627649.975098 panictest
1795627738.496675 win2016" ]; then ok "--json: valid JSON, the two events in order"; else fail "--json content: $(json_summary)"; fi
if grep -c '"monitor":"0x7f3a24011010"' "$TMP/out" | grep -qx 2; then ok "--json: both via 0x7f3a24011010"; else fail "--json monitor"; fi

# stdin, compressed and not; the same events
gzip -dc "$CORPUS" >"$TMP/plain.log"
rc=0; $PVPANIC_VALGRIND "$W" audit --json - <"$TMP/plain.log" >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 1 "stdin plain"
if [ "$(json_summary | wc -l)" -eq 2 ]; then ok "stdin plain: two events"; else fail "stdin plain events"; fi
expect_out '"file":"(stdin)"' "stdin is reported as (stdin)"
rc=0; $PVPANIC_VALGRIND "$W" audit --json - <"$CORPUS" >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 1 "stdin gzip (detected by magic)"
if [ "$(json_summary | wc -l)" -eq 2 ]; then ok "stdin gzip: two events"; else fail "stdin gzip events"; fi
# a .gz name on plain text and plain text without a name: content decides
cp "$TMP/plain.log" "$TMP/lying.log.gz"
watch audit "$TMP/lying.log.gz"
expect_rc 1 "plain file named .gz"

# --since: the first event is before, the second after
watch audit --json --since "2026-11-25 17:28" "$CORPUS"
expect_rc 1 "--since keeps the later event"
if [ "$(json_summary)" = "1795627738.496675 win2016" ]; then ok "--since: only win2016"; else fail "--since content"; fi
watch audit --since 2026-11-25T17:30:00Z "$CORPUS"
expect_rc 0 "--since after every event: exit 0"
expect_out "no guest crash events in 1 file" "--since: says nothing was found"
watch audit --since @1795627700 --json "$CORPUS"
if [ "$(json_summary)" = "1795627738.496675 win2016" ]; then ok "--since @EPOCH"; else fail "--since @EPOCH"; fi
watch audit --since 100000d "$CORPUS"
expect_rc 1 "--since as an age"
watch audit --since yesterday "$CORPUS"
expect_rc 2 "--since garbage"
expect_err "invalid --since 'yesterday'" "--since garbage is explained"

# errors: missing, unreadable, corrupt gzip, truncated gzip; other files still reported
watch audit /nonexistent/libvirtd.log "$CORPUS"
expect_rc 2 "missing file"
expect_err "cannot read '/nonexistent/libvirtd.log': No such file or directory" "missing file is named"
expect_out "panictest" "events of the readable file are still printed"
printf '\037\213garbage that is not deflate' >"$TMP/corrupt.gz"
watch audit "$TMP/corrupt.gz"
expect_rc 2 "corrupt gzip"
expect_err "corrupt.gz'" "corrupt gzip is named"
head -c 20000 "$CORPUS" >"$TMP/truncated.gz"
watch audit "$TMP/truncated.gz"
expect_rc 2 "truncated gzip"
expect_err "truncated .gz" "truncated gzip is explained"
watch audit "$TMP"
expect_rc 2 "directory without libvirt logs"

# a log without monitor lines: warn and point to the snippet
printf '%s\n' "2026-11-25 17:00:00.000+0000: 1: info : libvirt version: 9.0.0" \
    "2026-11-25 17:00:01.000+0000: 2: error : virNetSocketReadWire:1791 : End of file while reading data" \
    >"$TMP/quiet.log"
watch audit "$TMP/quiet.log"
expect_rc 0 "quiet log: no event"
expect_err 'no QEMU_MONITOR_* line' "quiet log: warning"
expect_err 'log_filters="1:qemu.qemu_process 2:qemu 3:*"' "quiet log: warning says what to set"
expect_err "libvirtd-logging.conf" "quiet log: warning points to the snippet"
watch audit "$CORPUS"
expect_no_err "no warning for a log with monitor lines"

# odd bytes: every line valid JSON, control bytes escaped in the table
watch audit --json "$DATA/odd-names.log" "$DATA/bytes-crlf-nul-truncated.log" "$DATA/garbage.log"
expect_rc 1 "odd names"
if json_summary >/dev/null 2>&1 && [ "$(json_summary | wc -l)" -eq 8 ]; then ok "odd names: 8 valid JSON lines"; else fail "odd names JSON"; fi
expect_out '"domain":"evil\"$(id)`x`"' "odd names: quotes and \$() escaped in JSON"
watch audit "$DATA/odd-names.log"
expect_out 'tab\x09here' "table: a tab in a name is shown as \\x09"

# configuration: errors are file:line and exit 2; a good one adds rules
printf '[rule broken]\nregex = mon=(0x\n' >"$TMP/bad.conf"
watch audit -c "$TMP/bad.conf" "$CORPUS"
expect_rc 2 "bad config"
expect_err "bad.conf:2: rule 'broken': regex error at offset" "bad regex reported with file:line and offset"
watch audit -c "$TMP/missing.conf" "$CORPUS"
expect_rc 2 "missing config given with -c"
printf '[rule restart-loop]\nregex = qemuProcessFakeReboot:\\d+ : vm=(?<vm>0x[0-9a-f]+)\nseverity = warning\n' >"$TMP/rules.conf"
watch audit --json -c "$TMP/rules.conf" "$DATA/v2.0.0-centos7.3-restart-loop.log"
expect_rc 1 "rule config"
if [ "$(grep -c '"rule":"restart-loop"' "$TMP/out")" -eq 2 ]; then ok "rule: two custom events"; else fail "rule events"; fi
expect_out '"event":"custom","domain":"web\"$(id)`x`"' "rule: domain resolved through the vm pointer"
# the shipped sample config loads (its example rules too, uncommented)
sed 's/^#\(\[rule\|regex\|severity\|event\)/\1/' "$abs_top_srcdir/share/watch.conf.sample" >"$TMP/sample.conf"
watch audit -c "$TMP/sample.conf" "$CORPUS"
expect_rc 1 "shipped watch.conf.sample (rules uncommented) is valid"
expect_no_err "shipped sample: no diagnostics"

# a file truncated while audit maps it (logrotate copytruncate): never a
# crash; either audit finished first or it says so and reports nothing.
# Not under valgrind: its leak check would count the allocation the fault
# interrupted (audit exits at once after that fault, on purpose).
for ((i = 0; i < 5; i++)); do cat "$TMP/plain.log"; done >"$TMP/big.log"
[ -n "$PVPANIC_VALGRIND" ] && tries=0 || tries=3
for ((try = 0; try < tries; try++)); do
    cp "$TMP/big.log" "$TMP/shrinking.log"
    rc=0
    $PVPANIC_VALGRIND "$W" audit "$TMP/shrinking.log" >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    sleep 0.0$((try * 3 + 1))
    : >"$TMP/shrinking.log"
    wait "$pid" || rc=$?
    if [ "$rc" -le 1 ] || { [ "$rc" -eq 2 ] && grep -q "shrank while it was being read" "$TMP/err" &&
                             [ ! -s "$TMP/out" ]; }; then
        ok "file truncated during the audit (try $try, exit $rc)"
    else
        fail "file truncated during the audit: exit $rc"
    fi
done

# the demo sample shipped for ./quickstart.sh demo
watch audit "$abs_top_srcdir/share/samples/libvirtd-sample.log.gz"
expect_rc 1 "demo sample: events found"
expect_out "4 events (4 panic, 0 crashloaded, 0 custom) for 4 domains in 1 file" "demo sample: summary"
expect_out 'web 01 "x" $(id)' "demo sample: odd name from a real run"

finish
