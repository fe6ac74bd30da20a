# bench/: pvpanic-tools against what an admin would use instead (issue 7).
# Not part of make check or CI (slow, noisy; tests/bench_smoke.sh keeps the
# harness from rotting):
#   make bench                  every workload, about 15 minutes on 2 cores
#   make bench BENCH_QUICK=1    the same at small sizes, about 2 minutes
#   make bench BENCH_ARGS='--only hook --hook-rounds 300'  (partial: not saved;
#                               options: bench/bench.py --help)
# It apt-get installs missing peers when run as root or with password-less
# sudo (otherwise their rows say what is missing), prints one table and
# writes it with the raw figures to bench/results/latest.md and latest.json
# (BENCH_QUICK=1: latest-quick.md and .json, not committed)
# in the SOURCE tree (committed: the README quotes it). Generated logs go to
# bench-data/ in the build directory and are removed at the end.

EXTRA_DIST += \
	bench/bench.py \
	bench/bench-follow.py \
	bench/gen-biglog.py \
	bench/bench-audit.sh \
	bench/bench-hook.sh \
	bench/results/latest.md \
	bench/results/latest.json \
	tests/bench_smoke.sh \
	$(NULL)
TESTS += tests/bench_smoke.sh

BENCH_ARGS =
bench: all
	@quick=; cmd='make bench'; \
	if test -n "$(BENCH_QUICK)" && test "$(BENCH_QUICK)" != 0; then \
	    quick=--quick; cmd='make bench BENCH_QUICK=1'; fi; \
	python3 '$(abs_top_srcdir)/bench/bench.py' --build '$(abs_top_builddir)' \
	    --data '$(abs_builddir)/bench-data' --results '$(abs_top_srcdir)/bench/results' \
	    --install-peers --command "$$cmd" $$quick $(BENCH_ARGS)
.PHONY: bench
