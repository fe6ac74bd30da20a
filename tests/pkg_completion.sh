#!/bin/bash
# pkg_completion: the bash completions of share/completion/ offer the
# subcommands, every long option each --help lists, option values, and
# domain names from virsh for "pvpanic-hook enable" (files without virsh).
set -u
: "${abs_top_srcdir:?run through make check}" "${abs_top_builddir:?run through make check}"
HOOK="$abs_top_builddir/hooks/pvpanic-hook"
WATCH="$abs_top_builddir/parser/pvpanic-watch"
T=$(mktemp -d "${TMPDIR:-/tmp}/pvpanic-compl.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }

# complete [PATH] LINE: the candidates bash would offer at the end of LINE
# (a trailing space = a new empty word), one per line, sorted.
complete_line() {
    local path=$1 line=$2
    PATH=$path bash --norc --noprofile -c '
        . "$1"; . "$2"
        read -r -a COMP_WORDS <<< "$3"
        [[ $3 == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$3; COMP_POINT=${#3}
        "$4" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}"' _ \
        "$abs_top_srcdir/share/completion/pvpanic-hook" \
        "$abs_top_srcdir/share/completion/pvpanic-watch" "$line" \
        "$(case $line in pvpanic-hook*) echo _pvpanic_hook ;; *) echo _pvpanic_watch ;; esac)" |
        sed '/^$/d' | LC_ALL=C sort
}

# expect LINE WORD...: every WORD is among the candidates
expect() {
    local line=$1 got w
    shift
    got=$(cd "$T/cwd" && complete_line "$CPATH" "$line")
    for w in "$@"; do
        grep -qxF -- "$w" <<<"$got" || fail "'$line<TAB>' does not offer '$w' (got: $(tr '\n' ' ' <<<"$got"))"
    done
}
# expect_only LINE WORD...: exactly these candidates
expect_only() {
    local line=$1 got want
    shift
    got=$(cd "$T/cwd" && complete_line "$CPATH" "$line")
    want=$(printf '%s\n' "$@" | LC_ALL=C sort)
    [ "$got" = "$want" ] || fail "'$line<TAB>' offers '$(tr '\n' ' ' <<<"$got")', wanted '$(tr '\n' ' ' <<<"$want")'"
}

mkdir -p "$T/cwd" "$T/bin" "$T/nobin"
touch "$T/cwd/web.xml" "$T/cwd/watch.conf"
CPATH="$T/nobin:/usr/bin:/bin"

# Subcommands.
expect_only "pvpanic-hook " patch check enable check-config hook help
expect_only "pvpanic-hook ch" check check-config
expect_only "pvpanic-watch " audit follow drill help
expect_only "pvpanic-hook --ver" --verbose --version
expect_only "pvpanic-hook help " patch check enable check-config hook
expect_only "pvpanic-watch help " audit follow drill

# long_opts: the option column of a --help text (not options it mentions
# in passing, such as virsh's).
long_opts() {
    sed -nE 's/^ +(-[a-zA-Z], +)?(--[a-z][a-z-]*).*/\2/p' | sort -u | tr '\n' ' '
}

# Every long option of every --help is offered.
for cmd in patch check enable check-config hook; do
    opts=$("$HOOK" "$cmd" --help | long_opts)
    # shellcheck disable=SC2086
    [ -n "${opts// /}" ] && expect "pvpanic-hook $cmd --" $opts
done
for cmd in audit follow drill; do
    opts=$("$WATCH" "$cmd" --help | long_opts)
    [ -n "${opts// /}" ] || fail "no option found in 'pvpanic-watch $cmd --help'"
    # shellcheck disable=SC2086
    expect "pvpanic-watch $cmd --" $opts
done

# Option values and files.
expect_only "pvpanic-hook patch --model p" pvpanic pseries
expect_only "pvpanic-hook enable --on-crash coredump-r" coredump-restart
expect_only "pvpanic-watch follow --log s" stderr syslog
expect_only "pvpanic-hook patch w" web.xml watch.conf
expect_only "pvpanic-hook patch -c pre" preserve
expect_only "pvpanic-watch follow -c wa" watch.conf
expect_only "pvpanic-hook hook web-01 prep" prepare
expect_only "pvpanic-hook hook -- web-01 prepare b" begin

# Domain names from virsh (a fake one that names what it was asked), with
# the --connect URI passed on; names with blanks come back quoted.
cat > "$T/bin/virsh" <<'SH'
#!/bin/sh
case "$*" in
"--connect test:///x --quiet list --all --name") printf 'uri-vm\n' ;;
"--quiet list --all --name") printf 'web-01\nweb-02\nmy vm\n\n' ;;
*) exit 1 ;;
esac
SH
chmod 755 "$T/bin/virsh"
CPATH="$T/bin:/usr/bin:/bin"
expect_only "pvpanic-hook enable we" web-01 web-02
expect_only "pvpanic-hook enable my" 'my\ vm'
expect_only "pvpanic-hook enable --connect test:///x " uri-vm
expect_only "pvpanic-hook enable -n -- w" web-01 web-02
expect_only "pvpanic-watch drill --yes we" web-01 web-02
expect_only "pvpanic-watch drill -- my" 'my\ vm'
expect_only "pvpanic-watch drill --connect test:///x " uri-vm
# Without virsh: files.
CPATH="$T/nobin:/usr/bin:/bin"
if ! PATH=$CPATH command -v virsh >/dev/null 2>&1; then
    expect_only "pvpanic-hook enable w" web.xml watch.conf
fi

if [ "$fails" -gt 0 ]; then
    echo "FAIL - $fails completion check(s) failed"
    exit 1
fi
echo "ok - bash completion for pvpanic-hook and pvpanic-watch"
