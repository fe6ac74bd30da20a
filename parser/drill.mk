# parser/: Windows bugcheck names (bugcheck.c, part of libpvparse so every
# sink and audit show them) and `pvpanic-watch drill` (drill.c), the fire
# drill that crashes one guest on purpose and times the alert.

parser_libpvparse_a_SOURCES += parser/bugcheck.c parser/bugcheck.h

if HAVE_CMOCKA
check_PROGRAMS += tests/test_bugcheck
TESTS += tests/test_bugcheck
tests_test_bugcheck_SOURCES = tests/test_bugcheck.c
tests_test_bugcheck_CFLAGS = $(TEST_CFLAGS)
tests_test_bugcheck_LDADD = $(PARSER_TEST_LIBS)
endif
