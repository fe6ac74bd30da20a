# parser/: libpvparse.a (pure log parsing: splitter, classifier, resolver,
# detector, event JSON, watch.conf) and the pvpanic-watch program.

noinst_LIBRARIES += parser/libpvparse.a
parser_libpvparse_a_SOURCES = \
	parser/classify.c parser/classify.h \
	parser/detect.c parser/detect.h \
	parser/event.c parser/event.h \
	parser/logrec.c parser/logrec.h \
	parser/pmap.c parser/pmap.h \
	parser/qmpjson.c parser/qmpjson.h \
	parser/resolve.c parser/resolve.h \
	parser/watchconf.c parser/watchconf.h \
	$(NULL)
parser_libpvparse_a_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS)

PVPARSE_LIBS = parser/libpvparse.a common/libcommon.a $(PCRE2_LIBS)

sbin_PROGRAMS += parser/pvpanic-watch
parser_pvpanic_watch_SOURCES = \
	parser/main.c \
	parser/audit.c parser/audit.h \
	$(NULL)
parser_pvpanic_watch_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS) $(ZLIB_CFLAGS)
parser_pvpanic_watch_LDADD = parser/libpvparse.a parser/libsink.a common/libcommon.a \
	$(PCRE2_LIBS) $(ZLIB_LIBS)

if HAVE_CMOCKA
PARSER_TEST_LIBS = parser/libpvparse.a $(TEST_LIBS) $(PCRE2_LIBS) $(ZLIB_LIBS)

check_PROGRAMS += tests/test_logrec tests/test_classify tests/test_resolve tests/test_detect tests/test_watchconf
TESTS += tests/test_logrec tests/test_classify tests/test_resolve tests/test_detect tests/test_watchconf

tests_test_logrec_SOURCES = tests/test_logrec.c
tests_test_logrec_CFLAGS = $(TEST_CFLAGS) $(ZLIB_CFLAGS)
tests_test_logrec_LDADD = $(PARSER_TEST_LIBS)

tests_test_classify_SOURCES = tests/test_classify.c
tests_test_classify_CFLAGS = $(TEST_CFLAGS)
tests_test_classify_LDADD = $(PARSER_TEST_LIBS)

tests_test_resolve_SOURCES = tests/test_resolve.c
tests_test_resolve_CFLAGS = $(TEST_CFLAGS)
tests_test_resolve_LDADD = $(PARSER_TEST_LIBS)

tests_test_watchconf_SOURCES = tests/test_watchconf.c
tests_test_watchconf_CFLAGS = $(TEST_CFLAGS)
tests_test_watchconf_LDADD = $(PARSER_TEST_LIBS)

tests_test_detect_SOURCES = tests/test_detect.c
tests_test_detect_CFLAGS = $(TEST_CFLAGS) $(ZLIB_CFLAGS)
tests_test_detect_LDADD = $(PARSER_TEST_LIBS)
endif

# Shell tests of the audit command (they run the built program).
audit_shell_tests = tests/audit_cli.sh tests/audit_rotation.sh tests/audit_manpage.sh
TESTS += $(audit_shell_tests)
EXTRA_DIST += $(audit_shell_tests) tests/audit_lib.sh

# Installed data: the libvirt logging snippet, the config sample, the demo log.
dist_man_MANS += share/man/pvpanic-watch.8
watchdatadir = $(pkgdatadir)
dist_watchdata_DATA = share/libvirtd-logging.conf share/watch.conf.sample
watchsamplesdir = $(pkgdatadir)/samples
dist_watchsamples_DATA = share/samples/libvirtd-sample.log.gz

# Fuzzing (the replay of the seed corpus in make check, and make fuzz):
# tests/fuzz/local.mk.
