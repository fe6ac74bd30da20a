#!/bin/bash
# pkg_cli: both programs print the version of configure.ac with --version,
# and --help works (exit 0, a Usage line on stdout, nothing on stderr) for
# the programs and for every subcommand their own --help lists.
set -u
: "${abs_top_srcdir:?run through make check}" "${abs_top_builddir:?run through make check}"
HOOK="$abs_top_builddir/hooks/pvpanic-hook"
WATCH="$abs_top_builddir/parser/pvpanic-watch"
VG=${PVPANIC_VALGRIND:-}
T=$(mktemp -d "${TMPDIR:-/tmp}/pvpanic-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }

version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$abs_top_srcdir/configure.ac")
[ -n "$version" ] || { echo "FAIL - no version in configure.ac"; exit 1; }

# run_ok DESC CMD...: exit 0, stdout in $T/out, stderr empty
run_ok() {
    local desc=$1
    shift
    # shellcheck disable=SC2086
    $VG "$@" > "$T/out" 2> "$T/err" </dev/null
    local rc=$?
    [ "$rc" -eq 0 ] || { fail "$desc: exit $rc: $(head -3 "$T/err")"; return 1; }
    [ -s "$T/err" ] && { fail "$desc: wrote to stderr: $(head -3 "$T/err")"; return 1; }
    return 0
}

for prog in "$HOOK" "$WATCH"; do
    name=${prog##*/}
    for opt in --version -V; do
        run_ok "$name $opt" "$prog" "$opt" &&
            { head -1 "$T/out" | grep -qE "^$name( \(pvpanic-tools\))? $version\$" ||
                fail "$name $opt says '$(head -1 "$T/out")', configure.ac says $version"; }
    done
    for opt in --help -h; do
        run_ok "$name $opt" "$prog" "$opt" &&
            { grep -q '^Usage: ' "$T/out" || fail "$name $opt: no Usage line"; }
    done
    # the subcommands, from the Commands: block of the program's own --help
    "$prog" --help | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^  ([a-z][a-z-]*) .*/\1/p' > "$T/cmds"
    [ "$(wc -l < "$T/cmds")" -ge 2 ] || fail "$name --help lists no commands"
    while read -r cmd; do
        [ "$cmd" = help ] && continue
        for opt in --help -h; do
            run_ok "$name $cmd $opt" "$prog" "$cmd" "$opt" || continue
            grep -q "^Usage: $name $cmd" "$T/out" ||
                fail "$name $cmd $opt does not describe '$cmd': $(head -1 "$T/out")"
        done
        n=$((${n:-0} + 1))
    done < "$T/cmds"
done
# "pvpanic-hook help COMMAND" is the other spelling of "COMMAND --help".
run_ok "pvpanic-hook help patch" "$HOOK" help patch &&
    { grep -q '^Usage: pvpanic-hook patch' "$T/out" || fail "help patch"; }

if [ "$fails" -gt 0 ]; then
    echo "FAIL - $fails --help/--version check(s) failed"
    exit 1
fi
echo "ok - --version = $version for both programs; --help on both and on ${n:-0} subcommands"
