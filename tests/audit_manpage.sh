#!/bin/bash
# audit_manpage: pvpanic-watch(8) renders without a man/groff warning and
# documents what audit does.
set -u
page="$abs_top_srcdir/share/man/pvpanic-watch.8"
if ! command -v man >/dev/null 2>&1; then
    [ "${CI:-}" = true ] && { echo "FAIL - man is not installed (CI)"; exit 1; }
    echo "SKIP - man is not installed"
    exit 77
fi
warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
if [ -n "$warnings" ]; then
    echo "FAIL - man --warnings:"
    printf '%s\n' "$warnings"
    exit 1
fi
text=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l "$page" 2>/dev/null)
for section in "COMMANDS" "LIBVIRT LOGGING" "DETECTION" "OUTPUT" "CONFIGURATION" "EXIT STATUS"; do
    if ! grep -q "^$section" <<<"$text"; then
        echo "FAIL - section $section missing"
        exit 1
    fi
done
# every long option of audit --help is documented
help=$("$abs_top_builddir/parser/pvpanic-watch" audit --help)
for opt in $(grep -o -- '--[a-z][a-z-]*' <<<"$help" | sort -u); do
    if ! grep -qF -- "$opt" <<<"$text"; then
        echo "FAIL - $opt is in --help but not in the man page"
        exit 1
    fi
done
echo "ok - pvpanic-watch(8) renders cleanly and documents audit"
