# share/: data files (systemd unit, examples, Prometheus rules).

examplesdir = $(pkgdatadir)/examples
dist_examples_SCRIPTS = share/examples/webhook-curl.sh
prometheusdir = $(pkgdatadir)/prometheus
dist_prometheus_DATA = share/prometheus/pvpanic.rules.yml

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
