# hooks/: pvpanic-hook (libvirt qemu hook + define-time <panic> patcher),
# its internal library, tests, man page, sample config and install-hook.

noinst_LIBRARIES += hooks/libhook.a
hooks_libhook_a_SOURCES = \
	hooks/cli.c hooks/cli.h \
	hooks/domxml.c hooks/domxml.h \
	hooks/enroll.c hooks/enroll.h \
	hooks/hookconf.c hooks/hookconf.h \
	hooks/hookmode.c hooks/hookmode.h \
	hooks/hookops.c hooks/hookops.h \
	$(NULL)
hooks_libhook_a_CFLAGS = $(AM_CFLAGS) $(LIBXML2_CFLAGS)

sbin_PROGRAMS += hooks/pvpanic-hook
hooks_pvpanic_hook_SOURCES = hooks/main.c
hooks_pvpanic_hook_CFLAGS = $(AM_CFLAGS) $(LIBXML2_CFLAGS)
hooks_pvpanic_hook_LDADD = hooks/libhook.a common/libcommon.a $(LIBXML2_LIBS)

if HAVE_CMOCKA
HOOK_TEST_LIBS = hooks/libhook.a $(TEST_LIBS) $(LIBXML2_LIBS)

check_PROGRAMS += tests/test_domxml
TESTS += tests/test_domxml
tests_test_domxml_SOURCES = tests/test_domxml.c hooks/fuzz_domxml.c
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

check_PROGRAMS += tests/test_enroll
TESTS += tests/test_enroll
tests_test_enroll_SOURCES = tests/test_enroll.c
tests_test_enroll_CFLAGS = $(TEST_CFLAGS) $(LIBXML2_CFLAGS)
tests_test_enroll_LDADD = $(HOOK_TEST_LIBS)
endif

# Shell tests drive the real binary (under $PVPANIC_VALGRIND when set).
hook_shell_tests = tests/hook_mode.sh tests/hook_cli.sh tests/hook_install.sh tests/hook_manpage.sh
TESTS += $(hook_shell_tests)
EXTRA_DIST += $(hook_shell_tests) tests/hook_testlib.sh

# Documentation and data
dist_man_MANS += share/man/pvpanic-hook.8
hooksampledir = $(pkgdatadir)
dist_hooksample_DATA = share/hook.conf.sample
EXTRA_DIST += share/samples/domain-nopanic.xml

# make install-hook: install the program, then link it into libvirt's hook
# directory (qemu.d/50-pvpanic, or qemu on libvirt < 6.5 if that is free).
# make uninstall-hook (also part of make uninstall): remove our link only.
# LIBVIRT_VERSION=x.y skips the detection of the installed libvirt.
EXTRA_DIST += hooks/install-hook.sh
HOOK_INSTALL_ENV = \
	DESTDIR='$(DESTDIR)' \
	HOOKDIR='$(libvirthookdir)' \
	TARGET='$(sbindir)/pvpanic-hook' \
	LIBVIRT_VERSION='$(LIBVIRT_VERSION)'
# Automake reserves the literal name "install-hook" (it would run after
# "make install"); reached through a variable it stays a plain target of
# our own, run only when asked for.
hook_install_target = install-hook
$(hook_install_target): install-sbinPROGRAMS install-man install-dist_hooksampleDATA
	@$(HOOK_INSTALL_ENV) $(SHELL) $(srcdir)/hooks/install-hook.sh install
uninstall-libvirt-hook:
	@$(HOOK_INSTALL_ENV) $(SHELL) $(srcdir)/hooks/install-hook.sh uninstall
UNINSTALL_HOOKS += uninstall-libvirt-hook
.PHONY: $(hook_install_target) uninstall-libvirt-hook

# The libFuzzer target for domxml (hooks/fuzz_domxml.c) is built and run
# by tests/fuzz/local.mk (make fuzz, or make fuzz-domxml for this one).
EXTRA_DIST += hooks/fuzz_domxml.c
