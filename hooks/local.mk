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
TESTS += tests/hook_mode.sh tests/hook_cli.sh tests/hook_install.sh tests/hook_manpage.sh
EXTRA_DIST += \
	tests/hook_testlib.sh \
	tests/hook_mode.sh \
	tests/hook_cli.sh \
	tests/hook_install.sh \
	tests/hook_manpage.sh \
	$(NULL)

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

# libFuzzer target for domxml (./configure --enable-fuzzing CC=clang), run
# with "make fuzz-domxml FUZZ_SECONDS=N" from seeds made of the golden
# inputs. The same harness runs in make check through tests/test_domxml.
if ENABLE_FUZZING
HOOK_FUZZ_FLAGS = -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -g -O1
noinst_PROGRAMS += hooks/fuzz_domxml
hooks_fuzz_domxml_SOURCES = \
	hooks/fuzz_domxml.c hooks/domxml.c \
	common/strbuf.c common/xalloc.c common/log.c \
	$(NULL)
hooks_fuzz_domxml_CFLAGS = $(AM_CFLAGS) $(LIBXML2_CFLAGS) $(HOOK_FUZZ_FLAGS)
hooks_fuzz_domxml_LDFLAGS = $(HOOK_FUZZ_FLAGS)
hooks_fuzz_domxml_LDADD = $(LIBXML2_LIBS)
endif
fuzz-domxml:
	@test -x hooks/fuzz_domxml || { \
		echo "fuzz-domxml: configure with --enable-fuzzing CC=clang first" >&2; exit 1; }
	@$(MKDIR_P) fuzz-corpus/domxml fuzz-artifacts
	@for f in $(srcdir)/tests/data/domxml/*.in.xml; do \
		b=$${f##*/}; \
		{ printf '\000'; cat "$$f"; } > fuzz-corpus/domxml/auto-$$b; \
		{ printf '\031'; cat "$$f"; } > fuzz-corpus/domxml/opts-$$b; \
	done
	./hooks/fuzz_domxml -max_total_time=$${FUZZ_SECONDS:-60} -max_len=65536 -timeout=10 \
		-artifact_prefix=fuzz-artifacts/ fuzz-corpus/domxml
.PHONY: fuzz-domxml
EXTRA_DIST += hooks/fuzz_domxml.c
