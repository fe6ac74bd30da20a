#!/bin/bash
# pkg_manpage: pvpanic.conf(5) renders without a man/groff warning and
# documents every config key the code accepts, and its examples are
# accepted by the programs; the FOLLOW section of pvpanic-watch(8)
# documents every follow option, metric, PVPANIC_* field and MESSAGE_ID.
set -u
: "${abs_top_srcdir:?run through make check}" "${abs_top_builddir:?run through make check}"
S=$abs_top_srcdir
HOOK="$abs_top_builddir/hooks/pvpanic-hook"
WATCH="$abs_top_builddir/parser/pvpanic-watch"
if ! command -v man >/dev/null 2>&1; then
    [ "${CI:-}" = true ] && { echo "FAIL - man is not installed (CI)"; exit 1; }
    echo "SKIP - man is not installed"
    exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/pvpanic-man.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
render() { LC_ALL=C.UTF-8 MANWIDTH=200 man -E UTF-8 -l "$1" 2>/dev/null; }

for page in share/man/pvpanic.conf.5 share/man/pvpanic-watch.8 share/man/pvpanic-hook.8; do
    warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$S/$page" 2>&1 >/dev/null)
    [ -z "$warnings" ] || fail "man --warnings $page: $warnings"
done

conf=$(render "$S/share/man/pvpanic.conf.5")
for section in FORMAT HOOK.CONF WATCH.CONF EXAMPLES FILES "SEE ALSO"; do
    grep -q "^$section" <<<"$conf" || fail "pvpanic.conf(5): section $section missing"
done

# Every key the readers accept, taken from the code, is documented as "key = ".
keys=$( { grep -ho '\[KEY_[A-Z_]*\] = "[a-z_]*"' "$S/hooks/hookconf.c" | cut -d'"' -f2
          grep -ho 'strcmp(e->key, "[a-z_]*")' "$S/hooks/hookconf.c" "$S/parser/follow.c" "$S/parser/sink.c" | cut -d'"' -f2
          grep -ho 'strcmp(key, "[a-z_]*")' "$S/parser/sink.c" | cut -d'"' -f2
          grep -ho '"[a-z_]*", set_' "$S/parser/watchconf.c" | cut -d'"' -f2
        } | sort -u)
nkeys=$(wc -w <<<"$keys")
[ "$nkeys" -ge 25 ] || fail "found only $nkeys config keys in the code (extraction broken?)"
for k in $keys; do
    grep -qE "^ +$k = " <<<"$conf" || fail "pvpanic.conf(5) does not document key '$k'"
done
for s in json syslog exec prometheus; do
    grep -q "^ *\[sink $s\]" <<<"$conf" || fail "pvpanic.conf(5) has no [sink $s] section"
done

# The examples are valid configurations.
sed -n '/^ *# \/etc\/pvpanic\/hook.conf$/,/^$/p' <<<"$conf" | sed 's/^ *//' > "$T/hook.conf"
# (it ends where the indented example block ends: at a line of body text)
on=0
while IFS= read -r line; do
    [[ $line =~ ^\ *#\ /etc/pvpanic/watch.conf$ ]] && on=1
    [ "$on" = 1 ] || continue
    [[ $line =~ ^\ {1,7}[^\ ] ]] && break
    printf '%s\n' "${line#"${line%%[! ]*}"}"
done <<<"$conf" > "$T/watch.conf"
chmod 600 "$T/hook.conf" "$T/watch.conf"
[ "$(grep -c '^\[' "$T/watch.conf")" -ge 5 ] || fail "watch.conf example not found"
"$HOOK" check-config "$T/hook.conf" > "$T/hook.out" 2>&1 || fail "hook.conf example rejected: $(cat "$T/hook.out")"
grep -q '^on_missing = refuse$' "$T/hook.out" || fail "hook.conf example not read: $(cat "$T/hook.out")"
"$WATCH" follow -n -c "$T/watch.conf" > "$T/watch.out" 2>&1 || fail "watch.conf example rejected: $(cat "$T/watch.out")"

# pvpanic-watch(8) FOLLOW section.
watch=$(render "$S/share/man/pvpanic-watch.8")
follow=$(sed -n '/^FOLLOW/,/^[A-Z]/p' <<<"$watch")
[ -n "$follow" ] || fail "pvpanic-watch(8) has no FOLLOW section"
for opt in $("$WATCH" follow --help | sed -nE 's/^ +(-[a-zA-Z], +)?(--[a-z][a-z-]*).*/\2/p'); do
    grep -qF -- "$opt" <<<"$follow" || fail "follow $opt is in --help but not in FOLLOW"
done
for name in $(grep -o '# TYPE pvpanic_[a-z_]*' "$S/parser/sink.c" | cut -d' ' -f3 | sort -u) \
            $(grep -o '"PVPANIC_[A-Z]*"' "$S/parser/sink.c" | tr -d '"' | sort -u) \
            $(grep -o '"[0-9a-f]\{32\}"' "$S/parser/sink.c" | tr -d '"') \
            SIGHUP SIGTERM "journalctl -t pvpanic-watch" "journalctl PVPANIC_DOMAIN=" "kill -9"; do
    [ "$name" = PVPANIC_JOURNAL_SOCKET ] && continue   # a test-only knob
    grep -qF -- "$name" <<<"$follow" || fail "FOLLOW does not mention '$name'"
done

if [ "$fails" -gt 0 ]; then
    echo "FAIL - $fails man page check(s) failed"
    exit 1
fi
echo "ok - pvpanic.conf(5) documents $nkeys keys with valid examples; pvpanic-watch(8) documents follow"
