# Sourced by tests/hook_*.sh: temp dir, the binary under its hook name,
# a fake virsh first in PATH, and small assertion helpers that count.
# Every check prints "ok"/"FAIL" with a name; the script fails at the end
# if any check failed.

set -u
: "${abs_top_srcdir:?run me through make check}"
: "${abs_top_builddir:?run me through make check}"
PVPANIC_VALGRIND=${PVPANIC_VALGRIND:-}

HOOK_BIN="$abs_top_builddir/hooks/pvpanic-hook"
DATA="$abs_top_srcdir/tests/data"
T=$(mktemp -d "${TMPDIR:-/tmp}/pvpanic-hooktest.XXXXXX")
trap 'rm -rf "$T"' EXIT

nchecks=0
nfailed=0

pass() { nchecks=$((nchecks + 1)); echo "ok - $1"; }
fail() { nchecks=$((nchecks + 1)); nfailed=$((nfailed + 1)); echo "FAIL - $1"; }

# check NAME COMMAND...: the command must succeed
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1"
        printf '   expected: %q\n   actual:   %q\n' "$2" "$3"
    fi
}

# check_grep NAME PATTERN FILE (fixed string)
check_grep() {
    if grep -qF -- "$2" "$3"; then
        pass "$1"
    else
        fail "$1"
        printf '   %q not in %s:\n' "$2" "$3"
        sed 's/^/   | /' "$3" | head -20
    fi
}

check_empty() {
    if [ ! -s "$2" ]; then
        pass "$1"
    else
        fail "$1"
        sed 's/^/   | /' "$2" | head -20
    fi
}

finish() {
    echo "# $nchecks checks, $nfailed failed"
    [ "$nfailed" -eq 0 ]
    exit $?
}

# The hook is the same binary under another name (as libvirt runs it).
ln -s "$HOOK_BIN" "$T/qemu"
mkdir -p "$T/qemu.d"
ln -s "$HOOK_BIN" "$T/qemu.d/50-pvpanic"

# fake virsh (see tests/data/hook/fake-virsh), first in PATH
mkdir -p "$T/bin" "$T/store/dom"
printf '#!/bin/sh\nexec bash "%s" "$@"\n' "$DATA/hook/fake-virsh" > "$T/bin/virsh"
chmod 755 "$T/bin/virsh"
export PATH="$T/bin:$PATH"
export FAKE_VIRSH_DIR="$T/store"

# add_fake_domain UUID NAME XMLFILE PERSISTENT
add_fake_domain() {
    mkdir -p "$T/store/dom/$1"
    printf '%s' "$2" > "$T/store/dom/$1/name"
    cp "$3" "$T/store/dom/$1/xml"
    printf '%s' "$4" > "$T/store/dom/$1/persistent"
}

# write_conf FILE LINES...: a config the secrecy check accepts
write_conf() {
    local f=$1
    shift
    printf '%s\n' "$@" > "$f"
    chmod 644 "$f"
}

# run_as NAME CONF STDIN-FILE ARGS...: run the binary as argv0 NAME (a
# link in $T); sets rc and leaves $T/out and $T/err
run_as() {
    local prog=$1 conf=$2 in=$3
    shift 3
    PVPANIC_HOOK_CONF=$conf $PVPANIC_VALGRIND "$T/$prog" "$@" < "$in" > "$T/out" 2> "$T/err"
    rc=$?
}

# the CLI: run_cli STDIN-FILE ARGS...
run_cli() {
    local in=$1
    shift
    $PVPANIC_VALGRIND "$HOOK_BIN" "$@" < "$in" > "$T/out" 2> "$T/err"
    rc=$?
}

# wait_calls N: until the fake virsh has been called N times (bounded),
# i.e. the detached helpers started so far have done their work.
wait_calls() {
    local i n=0
    for i in $(seq 200); do
        n=$(cat "$T/store/calls.log" 2>/dev/null | wc -l)
        [ "$n" -ge "$1" ] && return 0
        sleep 0.05
    done
    echo "   only $n virsh calls, expected $1"
    return 1
}
