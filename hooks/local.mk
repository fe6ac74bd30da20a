# hooks/: pvpanic-hook (libvirt qemu hook + define-time <panic> patcher),
# its internal library, tests, man page, sample config and install-hook.

noinst_LIBRARIES += hooks/libhook.a
hooks_libhook_a_SOURCES = \
	hooks/domxml.c hooks/domxml.h \
	hooks/hookconf.c hooks/hookconf.h \
	hooks/hookops.c hooks/hookops.h \
	$(NULL)
hooks_libhook_a_CFLAGS = $(AM_CFLAGS) $(LIBXML2_CFLAGS)

if HAVE_CMOCKA
HOOK_TEST_LIBS = hooks/libhook.a $(TEST_LIBS) $(LIBXML2_LIBS)

check_PROGRAMS += tests/test_domxml
TESTS += tests/test_domxml
tests_test_domxml_SOURCES = tests/test_domxml.c
tests_test_domxml_CFLAGS = $(TEST_CFLAGS) $(LIBXML2_CFLAGS)
tests_test_domxml_LDADD = $(HOOK_TEST_LIBS)

check_PROGRAMS += tests/test_hookops
TESTS += tests/test_hookops
tests_test_hookops_SOURCES = tests/test_hookops.c
tests_test_hookops_CFLAGS = $(TEST_CFLAGS) $(LIBXML2_CFLAGS)
tests_test_hookops_LDADD = $(HOOK_TEST_LIBS)

check_PROGRAMS += tests/test_hookconf
TESTS += tests/test_hookconf
tests_test_hookconf_SOURCES = tests/test_hookconf.c
tests_test_hookconf_CFLAGS = $(TEST_CFLAGS) $(LIBXML2_CFLAGS)
tests_test_hookconf_LDADD = $(HOOK_TEST_LIBS)
endif
