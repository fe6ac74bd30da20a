# parser/: Windows bugcheck names (bugcheck.c, part of libpvparse so every
# sink and audit show them) and `pvpanic-watch drill` (drill.c), the fire
# drill that crashes one guest on purpose and times the alert.

parser_libpvparse_a_SOURCES += \
	parser/bugcheck.c parser/bugcheck.h \
	parser/drillcheck.c parser/drillcheck.h \
	$(NULL)

# drill.c reads domain XML with hooks/domxml (libhook.a, libxml2) and runs
# virsh with common/runcmd.
parser_pvpanic_watch_SOURCES += parser/drill.c parser/drill.h
parser_pvpanic_watch_LDADD += parser/libpvparse.a hooks/libhook.a common/libcommon.a \
	$(PCRE2_LIBS) $(LIBXML2_LIBS)

if HAVE_CMOCKA
check_PROGRAMS += tests/test_bugcheck
TESTS += tests/test_bugcheck
tests_test_bugcheck_SOURCES = tests/test_bugcheck.c
tests_test_bugcheck_CFLAGS = $(TEST_CFLAGS)
tests_test_bugcheck_LDADD = $(PARSER_TEST_LIBS)

check_PROGRAMS += tests/test_drill
TESTS += tests/test_drill
tests_test_drill_SOURCES = tests/test_drill.c
tests_test_drill_CFLAGS = $(TEST_CFLAGS)
tests_test_drill_LDADD = parser/libpvparse.a hooks/libhook.a $(TEST_LIBS) $(PCRE2_LIBS) $(LIBXML2_LIBS)
endif

# Process-level tests of the drill with a fake virsh on PATH and a fake
# daemon log (python3 for JSON checks).
drill_shell_tests = \
	tests/drill_ok.sh \
	tests/drill_broken.sh \
	tests/drill_nmi.sh \
	tests/drill_log.sh \
	tests/drill_daemon.sh \
	$(NULL)
TESTS += $(drill_shell_tests)
EXTRA_DIST += $(drill_shell_tests) tests/drill_lib.sh
