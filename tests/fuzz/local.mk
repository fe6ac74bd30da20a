# tests/fuzz/: one libFuzzer target per parser of untrusted bytes, each with
# a seed corpus in tests/fuzz/corpus/NAME/ (also where findings go, as
# regression seeds).
#
#   logparse     record splitter + classifier + event detector (fuzz_logparse.c)
#   resolve      monitor -> domain resolver, driven op by op against a model
#   domxml       domain XML parser + <panic> patcher (hooks/fuzz_domxml.c)
#   conf         the config reader through every door (conf.c, watch.conf
#                with follow's keys and sinks, hook.conf)
#   tailstate    the tail follower's position-state file
#   followstate  follow's state blob + the detector state it restores
#
# `make check` replays every corpus through tests/fuzz/standalone.c with any
# compiler (tests/fuzz/replay_NAME). With `./configure --enable-fuzzing
# CC=clang`, `make fuzz FUZZ_SECONDS=N` runs every target for N seconds
# (FUZZ_ONLY="resolve conf" for some), keeps what it learns in
# fuzz-corpus/NAME, crashes in fuzz-artifacts/, logs in fuzz-logs/, and
# prints execs and coverage per target.

FUZZ_NAMES = logparse resolve domxml conf tailstate followstate
FUZZ_SECONDS = 60
FUZZ_ONLY =
FUZZ_JOBS = 1
FUZZ_MAX_LEN = 65536

# Programs and libraries each target needs, as sources (the libFuzzer build
# compiles them instrumented) and as libraries (the replay build links them).
FUZZ_PARSER_SOURCES = $(parser_libpvparse_a_SOURCES) $(common_libcommon_a_SOURCES)
FUZZ_FOLLOW_SOURCES = \
	parser/follow.c \
	$(parser_libtail_a_SOURCES) \
	$(parser_libsink_a_SOURCES) \
	$(NULL)
FUZZ_FOLLOW_LIBS = parser/libpvparse.a parser/libtail.a parser/libsink.a common/libcommon.a \
	$(PCRE2_LIBS)

EXTRA_DIST += \
	tests/fuzz/corpus \
	tests/fuzz/logparse.dict \
	tests/fuzz/domxml.dict \
	tests/fuzz/conf.dict \
	$(NULL)

# ---- make check: replay every seed corpus -------------------------------

check_PROGRAMS += \
	tests/fuzz/replay_logparse \
	tests/fuzz/replay_resolve \
	tests/fuzz/replay_domxml \
	tests/fuzz/replay_conf \
	tests/fuzz/replay_tailstate \
	tests/fuzz/replay_followstate \
	$(NULL)
TESTS += \
	tests/fuzz/replay_logparse \
	tests/fuzz/replay_resolve \
	tests/fuzz/replay_domxml \
	tests/fuzz/replay_conf \
	tests/fuzz/replay_tailstate \
	tests/fuzz/replay_followstate \
	$(NULL)

tests_fuzz_replay_logparse_SOURCES = tests/fuzz/fuzz_logparse.c tests/fuzz/standalone.c
tests_fuzz_replay_logparse_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS_NAME='"logparse"'
tests_fuzz_replay_logparse_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS)
tests_fuzz_replay_logparse_LDADD = $(PVPARSE_LIBS)

# The resolver with small tables (eviction in a few hundred ops), built in.
FUZZ_RESOLVE_SOURCES = parser/resolve.c parser/pmap.c
FUZZ_RESOLVE_BOUNDS = -DRESOLVE_MAX_MONITORS=64 -DRESOLVE_MAX_VMS=64 -DRESOLVE_MAX_THREADS=16
tests_fuzz_replay_resolve_SOURCES = tests/fuzz/fuzz_resolve.c tests/fuzz/standalone.c \
	$(FUZZ_RESOLVE_SOURCES)
tests_fuzz_replay_resolve_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS_NAME='"resolve"' \
	$(FUZZ_RESOLVE_BOUNDS)
tests_fuzz_replay_resolve_LDADD = common/libcommon.a

tests_fuzz_replay_domxml_SOURCES = hooks/fuzz_domxml.c tests/fuzz/standalone.c
tests_fuzz_replay_domxml_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS_NAME='"domxml"'
tests_fuzz_replay_domxml_CFLAGS = $(AM_CFLAGS) $(LIBXML2_CFLAGS)
tests_fuzz_replay_domxml_LDADD = hooks/libhook.a common/libcommon.a $(LIBXML2_LIBS)

tests_fuzz_replay_conf_SOURCES = tests/fuzz/fuzz_conf.c tests/fuzz/standalone.c parser/follow.c
tests_fuzz_replay_conf_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS_NAME='"conf"'
tests_fuzz_replay_conf_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS) $(LIBXML2_CFLAGS)
tests_fuzz_replay_conf_LDADD = hooks/libhook.a $(FUZZ_FOLLOW_LIBS) $(LIBXML2_LIBS)

tests_fuzz_replay_tailstate_SOURCES = tests/fuzz/fuzz_tailstate.c tests/fuzz/standalone.c
tests_fuzz_replay_tailstate_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS_NAME='"tailstate"'
tests_fuzz_replay_tailstate_LDADD = parser/libtail.a common/libcommon.a

tests_fuzz_replay_followstate_SOURCES = tests/fuzz/fuzz_followstate.c tests/fuzz/standalone.c \
	parser/follow.c
tests_fuzz_replay_followstate_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_CORPUS_NAME='"followstate"'
tests_fuzz_replay_followstate_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS)
tests_fuzz_replay_followstate_LDADD = $(FUZZ_FOLLOW_LIBS)

# ---- libFuzzer builds ----------------------------------------------------

if ENABLE_FUZZING
# -fno-sanitize-recover: undefined behaviour is a crash the fuzzer keeps.
FUZZ_FLAGS = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -g -O1
FUZZ_PROGS = \
	tests/fuzz/fuzz_logparse \
	tests/fuzz/fuzz_resolve \
	tests/fuzz/fuzz_domxml \
	tests/fuzz/fuzz_conf \
	tests/fuzz/fuzz_tailstate \
	tests/fuzz/fuzz_followstate \
	$(NULL)
noinst_PROGRAMS += $(FUZZ_PROGS)

tests_fuzz_fuzz_logparse_SOURCES = tests/fuzz/fuzz_logparse.c $(FUZZ_PARSER_SOURCES)
tests_fuzz_fuzz_logparse_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_logparse_LDFLAGS = $(FUZZ_FLAGS)
tests_fuzz_fuzz_logparse_LDADD = $(PCRE2_LIBS)

tests_fuzz_fuzz_resolve_SOURCES = tests/fuzz/fuzz_resolve.c $(FUZZ_RESOLVE_SOURCES) \
	$(common_libcommon_a_SOURCES)
tests_fuzz_fuzz_resolve_CPPFLAGS = $(AM_CPPFLAGS) $(FUZZ_RESOLVE_BOUNDS)
tests_fuzz_fuzz_resolve_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_resolve_LDFLAGS = $(FUZZ_FLAGS)

tests_fuzz_fuzz_domxml_SOURCES = hooks/fuzz_domxml.c hooks/domxml.c $(common_libcommon_a_SOURCES)
tests_fuzz_fuzz_domxml_CFLAGS = $(AM_CFLAGS) $(LIBXML2_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_domxml_LDFLAGS = $(FUZZ_FLAGS)
tests_fuzz_fuzz_domxml_LDADD = $(LIBXML2_LIBS)

tests_fuzz_fuzz_conf_SOURCES = tests/fuzz/fuzz_conf.c $(FUZZ_FOLLOW_SOURCES) \
	$(hooks_libhook_a_SOURCES) $(FUZZ_PARSER_SOURCES)
tests_fuzz_fuzz_conf_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS) $(LIBXML2_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_conf_LDFLAGS = $(FUZZ_FLAGS)
tests_fuzz_fuzz_conf_LDADD = $(PCRE2_LIBS) $(LIBXML2_LIBS)

tests_fuzz_fuzz_tailstate_SOURCES = tests/fuzz/fuzz_tailstate.c parser/tailstate.c \
	$(common_libcommon_a_SOURCES)
tests_fuzz_fuzz_tailstate_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_tailstate_LDFLAGS = $(FUZZ_FLAGS)

tests_fuzz_fuzz_followstate_SOURCES = tests/fuzz/fuzz_followstate.c $(FUZZ_FOLLOW_SOURCES) \
	$(FUZZ_PARSER_SOURCES)
tests_fuzz_fuzz_followstate_CFLAGS = $(AM_CFLAGS) $(PCRE2_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_followstate_LDFLAGS = $(FUZZ_FLAGS)
tests_fuzz_fuzz_followstate_LDADD = $(PCRE2_LIBS)
endif

# ---- make fuzz -----------------------------------------------------------

EXTRA_DIST += tests/fuzz/run-fuzz.sh
if ENABLE_FUZZING
fuzz: $(FUZZ_PROGS)
	@FUZZ_SECONDS='$(FUZZ_SECONDS)' FUZZ_JOBS='$(FUZZ_JOBS)' FUZZ_MAX_LEN='$(FUZZ_MAX_LEN)' \
		bash $(srcdir)/tests/fuzz/run-fuzz.sh '$(srcdir)' $(or $(FUZZ_ONLY),$(FUZZ_NAMES))
else
fuzz:
	@echo "fuzz: configure with --enable-fuzzing CC=clang first" >&2; exit 1
endif
# The name the hook's fragment used to offer.
fuzz-domxml:
	@$(MAKE) $(AM_MAKEFLAGS) fuzz FUZZ_ONLY=domxml
.PHONY: fuzz fuzz-domxml
