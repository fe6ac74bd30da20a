# hooks/: pvpanic-hook (libvirt qemu hook + define-time <panic> patcher),
# its internal library, tests, man page, sample config and install-hook.

noinst_LIBRARIES += hooks/libhook.a
hooks_libhook_a_SOURCES = \
	hooks/domxml.c hooks/domxml.h \
	$(NULL)
hooks_libhook_a_CFLAGS = $(AM_CFLAGS) $(LIBXML2_CFLAGS)

if HAVE_CMOCKA
HOOK_TEST_LIBS = hooks/libhook.a $(TEST_LIBS) $(LIBXML2_LIBS)

check_PROGRAMS += tests/test_domxml
TESTS += tests/test_domxml
tests_test_domxml_SOURCES = tests/test_domxml.c
tests_test_domxml_CFLAGS = $(TEST_CFLAGS) $(LIBXML2_CFLAGS)
tests_test_domxml_LDADD = $(HOOK_TEST_LIBS)
endif
