# tests/e2e: the real libvirtd + QEMU end-to-end suite (issue 5). Not part of
# `make check`: it needs root, a libvirt daemon and a few minutes.
#   make check-e2e [E2E_SCENARIOS="baseline_nmi ..."]
#   make e2e-fixtures   (regenerates tests/data/e2e in the SOURCE tree)

EXTRA_DIST += \
	tests/e2e/README.md \
	tests/e2e/lib.sh \
	tests/e2e/run.sh \
	tests/e2e/scenarios.sh \
	tests/e2e/make-fixtures.sh \
	$(NULL)

E2E_SCENARIOS =
E2E_ENV = \
	abs_top_srcdir='$(abs_top_srcdir)' \
	abs_top_builddir='$(abs_top_builddir)'

check-e2e: all
	$(E2E_ENV) bash $(abs_top_srcdir)/tests/e2e/run.sh $(E2E_SCENARIOS)

e2e-fixtures: all
	$(E2E_ENV) bash $(abs_top_srcdir)/tests/e2e/make-fixtures.sh

.PHONY: check-e2e e2e-fixtures
