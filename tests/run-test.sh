#!/bin/sh
# Test launcher used by automake for every entry in TESTS.
# Binaries run under $PVPANIC_VALGRIND when it is set (make check-valgrind);
# shell tests get it in their environment and apply it to our binaries.
test="$1"
shift
case "$test" in
    *.sh) exec bash "$test" "$@" ;;
    *) exec $PVPANIC_VALGRIND "$test" "$@" ;;
esac
