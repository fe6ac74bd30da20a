# share/: data files (systemd unit, examples, Prometheus rules, bash
# completion, pvpanic.conf(5)) and `make install-config`.

examplesdir = $(pkgdatadir)/examples
dist_examples_SCRIPTS = share/examples/webhook-curl.sh
prometheusdir = $(pkgdatadir)/prometheus
dist_prometheus_DATA = share/prometheus/pvpanic.rules.yml

dist_man_MANS += share/man/pvpanic.conf.5

# bash-completion's own directory for completions loaded on demand, under
# our prefix (pkg-config's completionsdir with prefix and datadir redefined,
# so distcheck and --prefix=/usr/local stay inside the prefix).
# Override with make bashcompletiondir=DIR.
bashcompletiondir = $(shell $(PKG_CONFIG) --define-variable=prefix='$(prefix)' \
	--define-variable=datadir='$(datadir)' --variable=completionsdir bash-completion \
	2>/dev/null | grep . || echo '$(datadir)/bash-completion/completions')
dist_bashcompletion_DATA = \
	share/completion/pvpanic-hook \
	share/completion/pvpanic-watch \
	$(NULL)

systemdsystemunit_DATA = share/pvpanic-watch.service
EXTRA_DIST += share/pvpanic-watch.service.in
CLEANFILES += share/pvpanic-watch.service

edit_cmd = $(SED) \
	-e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@localstatedir[@]|$(localstatedir)|g' \
	-e 's|@pkgdatadir[@]|$(pkgdatadir)|g'

share/pvpanic-watch.service: share/pvpanic-watch.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) share && $(edit_cmd) $(srcdir)/share/pvpanic-watch.service.in > $@.tmp && mv $@.tmp $@

# make install-config: put the samples in place as $(sysconfdir)/pvpanic/
# hook.conf and watch.conf, each only if there is no such file yet (an
# operator's config is never overwritten). watch.conf may hold webhook
# tokens in exec commands: mode 0640. make uninstall removes a config only
# while it is still byte-identical to its sample.
PVPANIC_CONFIGS = hook.conf:$(srcdir)/share/hook.conf.sample:0644 \
	watch.conf:$(srcdir)/share/watch.conf.sample:0640
install-config:
	@$(MKDIR_P) '$(DESTDIR)$(sysconfdir)/pvpanic'
	@for spec in $(PVPANIC_CONFIGS); do \
		name=$${spec%%:*}; rest=$${spec#*:}; sample=$${rest%%:*}; mode=$${rest#*:}; \
		dest='$(DESTDIR)$(sysconfdir)/pvpanic/'$$name; \
		if test -e "$$dest" || test -L "$$dest"; then \
			echo "install-config: keeping the existing $$dest"; \
		else \
			$(INSTALL) -m "$$mode" "$$sample" "$$dest" || exit 1; \
			echo "install-config: installed $$dest"; \
		fi; \
	done
uninstall-config:
	@for spec in $(PVPANIC_CONFIGS); do \
		name=$${spec%%:*}; rest=$${spec#*:}; sample=$${rest%%:*}; \
		dest='$(DESTDIR)$(sysconfdir)/pvpanic/'$$name; \
		test -f "$$dest" || continue; \
		if cmp -s "$$sample" "$$dest"; then \
			rm -f "$$dest" && echo "uninstall-config: removed $$dest (unchanged sample)"; \
		else \
			echo "uninstall-config: keeping $$dest (it was edited)"; \
		fi; \
	done
	@rmdir '$(DESTDIR)$(sysconfdir)/pvpanic' 2>/dev/null || :
UNINSTALL_HOOKS += uninstall-config
.PHONY: install-config uninstall-config
