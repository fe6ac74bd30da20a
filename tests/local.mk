# Shared test support and the tests of common/. Module tests of hooks/ and
# parser/ are declared in their own fragments.

EXTRA_DIST += \
	tests/run-test.sh \
	tests/testlib.sh \
	tests/valgrind.supp \
	tests/data \
	$(NULL)

if HAVE_CMOCKA
noinst_LIBRARIES += tests/libtestutil.a
tests_libtestutil_a_SOURCES = tests/testutil.c tests/testutil.h
tests_libtestutil_a_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)

TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -Wno-error=deprecated-declarations
TEST_LIBS = tests/libtestutil.a common/libcommon.a $(CMOCKA_LIBS)

check_PROGRAMS += tests/test_conf tests/test_strbuf tests/test_fileutil
TESTS += tests/test_conf tests/test_strbuf tests/test_fileutil

tests_test_conf_SOURCES = tests/test_conf.c
tests_test_conf_CFLAGS = $(TEST_CFLAGS)
tests_test_conf_LDADD = $(TEST_LIBS)

tests_test_strbuf_SOURCES = tests/test_strbuf.c
tests_test_strbuf_CFLAGS = $(TEST_CFLAGS)
tests_test_strbuf_LDADD = $(TEST_LIBS)

tests_test_fileutil_SOURCES = tests/test_fileutil.c
tests_test_fileutil_CFLAGS = $(TEST_CFLAGS)
tests_test_fileutil_LDADD = $(TEST_LIBS)
endif
