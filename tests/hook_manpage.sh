#!/bin/bash
# hook_manpage: pvpanic-hook(8) renders without a single man/groff warning.
set -u
page="$abs_top_srcdir/share/man/pvpanic-hook.8"
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
for section in "HOW THE MODE IS CHOSEN" "HOOK MODE" "EXIT STATUS" "CONFIGURATION" "INSTALLATION"; do
    if ! grep -q "^$section" <<<"$text"; then
        echo "FAIL - section $section missing"
        exit 1
    fi
done
echo "ok - pvpanic-hook(8) renders cleanly"
