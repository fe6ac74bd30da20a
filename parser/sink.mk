# parser/sink.c: alert sinks (json, syslog, exec, prometheus) and throttling.
noinst_LIBRARIES += parser/libsink.a
parser_libsink_a_SOURCES = parser/sink.c parser/sink.h

if HAVE_CMOCKA
check_PROGRAMS += tests/test_sink
TESTS += tests/test_sink
tests_test_sink_SOURCES = tests/test_sink.c
tests_test_sink_CFLAGS = $(TEST_CFLAGS)
tests_test_sink_LDADD = parser/libsink.a $(TEST_LIBS)
endif
