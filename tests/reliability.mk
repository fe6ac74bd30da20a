# Process-level tests of hostile input and hostile environments (issue 6):
# tests/sec_*.sh (config and state files of a root daemon), tests/res_*.sh
# (resource exhaustion: inotify, fds, disk full, read-only state, memory)
# and tests/follow_injection.sh (names and log content reaching every
# sink). They drive the real binaries (under $PVPANIC_VALGRIND when set);
# the ones that need root, a private mount namespace or python3 skip
# outside CI and fail under CI=true. The fuzz targets: tests/fuzz/local.mk.

reliability_shell_tests = \
	tests/sec_files.sh \
	tests/sec_hook.sh \
	tests/sec_valgrind.sh \
	tests/follow_injection.sh \
	tests/res_fdlimit.sh \
	tests/res_inotify.sh \
	tests/res_diskfull.sh \
	tests/res_rostate.sh \
	tests/res_memory.sh \
	$(NULL)
TESTS += $(reliability_shell_tests)
EXTRA_DIST += $(reliability_shell_tests)

# A program with a memory error on purpose, for tests/sec_valgrind.sh.
check_PROGRAMS += tests/vg_canary
tests_vg_canary_SOURCES = tests/vg_canary.c
