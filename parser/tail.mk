# parser/tail.*, parser/tailstate.*: the file-following engine under
# `pvpanic-watch follow` (no knowledge of the log syntax), its tests and
# tests/tailcat, a small follower the shell tests drive as a real process.

noinst_LIBRARIES += parser/libtail.a
parser_libtail_a_SOURCES = \
	parser/tail.c parser/tail.h parser/tail-priv.h \
	parser/tailstate.c parser/tailstate.h \
	$(NULL)

# tailcat needs no cmocka: the process-level tests run everywhere.
check_PROGRAMS += tests/tailcat
tests_tailcat_SOURCES = tests/tailcat.c
tests_tailcat_LDADD = parser/libtail.a common/libcommon.a

# Process-level tests: tailcat killed, restarted, raced by other processes.
tail_shell_tests = \
	tests/tail_follow.sh \
	tests/tail_kill9.sh \
	tests/tail_state_kill.sh \
	$(NULL)
TESTS += $(tail_shell_tests)
EXTRA_DIST += $(tail_shell_tests) tests/tail_lib.sh

if HAVE_CMOCKA
check_PROGRAMS += tests/test_tailstate tests/test_tail
TESTS += tests/test_tailstate tests/test_tail

tests_test_tailstate_SOURCES = tests/test_tailstate.c
tests_test_tailstate_CFLAGS = $(TEST_CFLAGS)
tests_test_tailstate_LDADD = parser/libtail.a $(TEST_LIBS)

# Fault injection at the syscall edge (style.md 6.7): --wrap, not LD_PRELOAD.
tests_test_tail_SOURCES = tests/test_tail.c
tests_test_tail_CFLAGS = $(TEST_CFLAGS)
tests_test_tail_LDFLAGS = -Wl,--wrap=inotify_add_watch -Wl,--wrap=inotify_init1 \
	-Wl,--wrap=fstatfs
tests_test_tail_LDADD = parser/libtail.a $(TEST_LIBS)
endif
