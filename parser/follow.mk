# parser/: the follow daemon (follow.c) and its alert sinks (sink.c), linked
# into pvpanic-watch next to audit (parser/local.mk defines the program).
noinst_LIBRARIES += parser/libsink.a
parser_libsink_a_SOURCES = parser/sink.c parser/sink.h

parser_pvpanic_watch_SOURCES += parser/follow.c parser/follow.h
parser_pvpanic_watch_LDADD += parser/libtail.a parser/libsink.a common/libcommon.a

# Process-level tests of `pvpanic-watch follow` with real files, inotify,
# rotation, kill -9 and every sink. They need python3 (log generator).
follow_shell_tests = \
	tests/follow_basic.sh \
	tests/follow_rotate.sh \
	tests/follow_state.sh \
	tests/follow_sinks.sh \
	tests/follow_kill9.sh \
	$(NULL)
TESTS += $(follow_shell_tests)
EXTRA_DIST += $(follow_shell_tests) tests/follow_lib.sh tests/gen-panics.py

if HAVE_CMOCKA
check_PROGRAMS += tests/test_sink
TESTS += tests/test_sink
tests_test_sink_SOURCES = tests/test_sink.c
tests_test_sink_CFLAGS = $(TEST_CFLAGS)
tests_test_sink_LDADD = parser/libsink.a $(TEST_LIBS)
endif
