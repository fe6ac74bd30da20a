# tests/pkg: packaging checks. In make check (fast): the man pages, the
# install file list, the systemd unit, Prometheus rules + node_exporter,
# bash completion and --help/--version. Outside make check: the Debian
# package build-install-run-purge test (tests/pkg/deb.sh, needs root).

pkg_shell_tests = \
	tests/pkg_manpage.sh \
	tests/pkg_cli.sh \
	tests/pkg_completion.sh \
	tests/pkg_install.sh \
	tests/pkg_systemd.sh \
	tests/pkg_prometheus.sh \
	$(NULL)
TESTS += $(pkg_shell_tests)
EXTRA_DIST += $(pkg_shell_tests) share/prometheus/pvpanic.rules.test.yml

# The installation directories, for tests/pkg_install.sh.
pkg-print-dirs:
	@echo 'prefix=$(prefix)'
	@echo 'sbindir=$(sbindir)'
	@echo 'sysconfdir=$(sysconfdir)'
	@echo 'mandir=$(mandir)'
	@echo 'docdir=$(docdir)'
	@echo 'pkgdatadir=$(pkgdatadir)'
	@echo 'systemdsystemunitdir=$(systemdsystemunitdir)'
	@echo 'bashcompletiondir=$(bashcompletiondir)'
.PHONY: pkg-print-dirs
