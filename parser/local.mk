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
TESTS += tests/audit_cli.sh tests/audit_rotation.sh tests/audit_manpage.sh
EXTRA_DIST += \
	tests/audit_lib.sh \
	tests/audit_cli.sh \
	tests/audit_rotation.sh \
	tests/audit_manpage.sh \
	$(NULL)

# Installed data: the libvirt logging snippet, the config sample, the demo log.
dist_man_MANS += share/man/pvpanic-watch.8
watchdatadir = $(pkgdatadir)
dist_watchdata_DATA = share/libvirtd-logging.conf share/watch.conf.sample
watchsamplesdir = $(pkgdatadir)/samples
dist_watchsamples_DATA = share/samples/libvirtd-sample.log.gz

# Fuzzing. `make check` replays the seed corpus through the standalone
# replayer with any compiler; `./configure --enable-fuzzing CC=clang` builds
# libFuzzer binaries (library sources compiled in, so they are instrumented)
# and `make fuzz FUZZ_SECONDS=N` runs each program of FUZZ_TARGETS for N
# seconds (other parts of the tree may append to FUZZ_TARGETS).
check_PROGRAMS += tests/fuzz/replay_logparse
TESTS += tests/fuzz/replay_logparse
tests_fuzz_replay_logparse_SOURCES = tests/fuzz/fuzz_logparse.c tests/fuzz/standalone.c
tests_fuzz_replay_logparse_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS_NAME='"logparse"'
tests_fuzz_replay_logparse_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS)
tests_fuzz_replay_logparse_LDADD = $(PVPARSE_LIBS)
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/logparse.dict

FUZZ_SECONDS = 60
FUZZ_TARGETS =
if ENABLE_FUZZING
FUZZ_FLAGS = -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -g -O1
noinst_PROGRAMS += tests/fuzz/fuzz_logparse
FUZZ_TARGETS += tests/fuzz/fuzz_logparse
tests_fuzz_fuzz_logparse_SOURCES = \
	tests/fuzz/fuzz_logparse.c \
	$(parser_libpvparse_a_SOURCES) \
	$(common_libcommon_a_SOURCES) \
	$(NULL)
tests_fuzz_fuzz_logparse_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_logparse_LDFLAGS = $(FUZZ_FLAGS)
tests_fuzz_fuzz_logparse_LDADD = $(PCRE2_LIBS)
endif

fuzz: $(FUZZ_TARGETS)
	@if test -z "$(FUZZ_TARGETS)"; then \
		echo "fuzz: configure with --enable-fuzzing CC=clang first" >&2; exit 1; \
	fi
	@for prog in $(FUZZ_TARGETS); do \
		name=$${prog##*/fuzz_}; \
		work=fuzz-corpus/$$name; \
		$(MKDIR_P) $$work fuzz-artifacts || exit 1; \
		dict=; test -f $(srcdir)/tests/fuzz/$$name.dict && dict=-dict=$(srcdir)/tests/fuzz/$$name.dict; \
		echo "fuzz: $$prog for $(FUZZ_SECONDS)s"; \
		./$$prog -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
			-artifact_prefix=fuzz-artifacts/ $$dict \
			$$work $(srcdir)/tests/fuzz/corpus/$$name || exit 1; \
	done
.PHONY: fuzz
