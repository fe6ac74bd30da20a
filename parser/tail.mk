# parser/tail.*, parser/tailstate.*: the file-following engine under
# `pvpanic-watch follow` (no knowledge of the log syntax) and its tests.

noinst_LIBRARIES += parser/libtail.a
parser_libtail_a_SOURCES = \
	parser/tailstate.c parser/tailstate.h \
	$(NULL)

if HAVE_CMOCKA
check_PROGRAMS += tests/test_tailstate
TESTS += tests/test_tailstate

tests_test_tailstate_SOURCES = tests/test_tailstate.c
tests_test_tailstate_CFLAGS = $(TEST_CFLAGS)
tests_test_tailstate_LDADD = parser/libtail.a $(TEST_LIBS)
endif
