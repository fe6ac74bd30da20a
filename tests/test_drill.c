/*
 * test_drill: the pure parts of `pvpanic-watch drill` (parser/drillcheck.h)
 * and the domxml feature lookup it uses. The command itself is driven by
 * tests/drill_*.sh with a fake virsh.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "domxml.h"
#include "drillcheck.h"
#include "strbuf.h"
#include "xalloc.h"

/* ---- libvirt daemon config ------------------------------------------------ */

static void
test_lvconf_parse(void **state)
{
    static const char text[] =
        "# libvirtd.conf\n"
        "#log_filters=\"1:*\"\n"
        "listen_tls = 0\n"
        "  log_filters = \"1:qemu.qemu_process 2:qemu 3:*\"   # recommended\n"
        "access_drivers = [ \"polkit\", 'x]y',\n"
        "                   \"log_outputs\" ]\n"
        "log_outputs='1:file:/var/log/libvirt/libvirtd.log'\n"
        "log_outputs=\"3:journald\"\n"     /* the first assignment counts */
        "log_level = 2\n"
        "unix_sock_dir = \"\"\"/run/x\"\"\"\n"
        "broken line without equals\n"
        "host_uuid = \"unterminated\n"
        "= \"no key\"\n";
    struct lvconf c;

    (void)state;
    lvconf_parse(text, sizeof(text) - 1, &c);
    assert_string_equal(c.log_filters, "1:qemu.qemu_process 2:qemu 3:*");
    assert_string_equal(c.log_outputs, "1:file:/var/log/libvirt/libvirtd.log");
    assert_int_equal(c.log_level, 2);
    assert_string_equal(c.unix_sock_dir, "/run/x");
    lvconf_clear(&c);

    lvconf_parse("", 0, &c);
    assert_null(c.log_outputs);
    assert_null(c.log_filters);
    assert_int_equal(c.log_level, -1);
    lvconf_clear(&c);

    /* no trailing newline, value cut at the end of the buffer */
    lvconf_parse("log_filters = \"2:qemu\"", 22, &c);
    assert_string_equal(c.log_filters, "2:qemu");
    lvconf_clear(&c);
    lvconf_parse("log_filters = \"2:qemu", 20, &c);
    assert_null(c.log_filters);
    lvconf_clear(&c);
    lvconf_parse("log_level = 9\n", 14, &c);
    assert_int_equal(c.log_level, -1);
    lvconf_clear(&c);
}

static void
test_lvlog_outputs(void **state)
{
    struct lvoutput *o = NULL;
    size_t n;

    (void)state;
    n = lvlog_parse_outputs("  3:journald 1:file:/var/log/libvirt/libvirtd.log\t2:syslog:libvirtd "
                            "4:stderr 5:file:/x 1:file: 2:bogus x", &o);
    assert_int_equal(n, 6);
    assert_int_equal(o[0].dest, LVOUT_JOURNALD);
    assert_int_equal(o[0].level, 3);
    assert_int_equal(o[1].dest, LVOUT_FILE);
    assert_string_equal(o[1].path, "/var/log/libvirt/libvirtd.log");
    assert_int_equal(o[2].dest, LVOUT_SYSLOG);
    assert_int_equal(o[3].dest, LVOUT_STDERR);
    assert_int_equal(o[4].dest, LVOUT_OTHER);       /* "1:file:" without a path */
    assert_int_equal(o[5].dest, LVOUT_OTHER);
    lvoutputs_free(o, n);
    assert_int_equal(lvlog_parse_outputs(NULL, &o), 0);
    lvoutputs_free(o, 0);
}

static void
test_lvlog_priority(void **state)
{
    static const char shipped[] = "1:qemu.qemu_process 2:qemu 3:*";

    (void)state;
    /* first matching filter wins, patterns match as *PATTERN* */
    assert_int_equal(lvlog_source_priority(shipped, 3, LVLOG_SOURCE_NAMES), 1);
    assert_int_equal(lvlog_source_priority(shipped, 3, LVLOG_SOURCE_EVENTS), 2);
    assert_int_equal(lvlog_source_priority(shipped, 3, "rpc.server"), 3);
    assert_int_equal(lvlog_source_priority("3:* 1:qemu", 3, LVLOG_SOURCE_EVENTS), 3);
    assert_int_equal(lvlog_source_priority("1:monitor_json", 3, LVLOG_SOURCE_EVENTS), 1);
    assert_int_equal(lvlog_source_priority("1:qemu.qemu_monitor", 3, LVLOG_SOURCE_EVENTS), 1);
    assert_int_equal(lvlog_source_priority("2:qemu?qemu_mon*json", 4, LVLOG_SOURCE_EVENTS), 2);
    assert_int_equal(lvlog_source_priority("2:qemu.qemu_driver", 4, LVLOG_SOURCE_EVENTS), 4);
    /* legacy "+" flag, junk entries skipped, no filters */
    assert_int_equal(lvlog_source_priority("1:+qemu", 3, LVLOG_SOURCE_EVENTS), 1);
    assert_int_equal(lvlog_source_priority("x 9:qemu 1 2:", 3, LVLOG_SOURCE_EVENTS), 3);
    assert_int_equal(lvlog_source_priority(NULL, 2, LVLOG_SOURCE_EVENTS), 2);
}

static void
plan_of(const char *outputs, const char *filters, int level, bool journald, struct log_plan *p)
{
    struct lvconf c = { .log_outputs = outputs ? xstrdup(outputs) : NULL,
                        .log_filters = filters ? xstrdup(filters) : NULL,
                        .log_level = level, .unix_sock_dir = NULL };

    lvlog_plan(&c, "libvirtd", journald, p);
    lvconf_clear(&c);
}

static void
test_lvlog_plan(void **state)
{
    struct log_plan p;

    (void)state;
    /* the shipped snippet */
    plan_of("1:file:/var/log/libvirt/libvirtd.log", "1:qemu.qemu_process 2:qemu 3:*", -1, true, &p);
    assert_string_equal(p.file, "/var/log/libvirt/libvirtd.log");
    assert_true(p.records_events && p.records_sends && p.records_names);
    log_plan_clear(&p);
    /* info only: events, no names */
    plan_of("1:file:/l", "2:qemu 3:*", -1, true, &p);
    assert_true(p.records_events && !p.records_names);
    log_plan_clear(&p);
    /* the lowest-level file output is the one to read; its level limits */
    plan_of("3:file:/warn.log 3:journald", "1:*", -1, true, &p);
    assert_string_equal(p.file, "/warn.log");
    assert_false(p.records_events);
    log_plan_clear(&p);
    plan_of("3:file:/warn.log 2:file:/info.log", "1:*", -1, true, &p);
    assert_string_equal(p.file, "/info.log");
    assert_true(p.records_events);
    assert_false(p.records_names);
    log_plan_clear(&p);
    /* defaults: warning level; journald when its socket exists */
    plan_of(NULL, NULL, -1, true, &p);
    assert_null(p.file);
    assert_true(p.default_output);
    log_plan_clear(&p);
    plan_of(NULL, NULL, -1, false, &p);
    assert_string_equal(p.file, "/var/log/libvirt/libvirtd.log");
    assert_false(p.records_events);
    log_plan_clear(&p);
    plan_of(NULL, NULL, 1, false, &p);      /* log_level = 1, default file output */
    assert_true(p.records_events && p.records_names);
    log_plan_clear(&p);
    plan_of("1:file:/l", "3:*", -1, false, &p);
    assert_false(p.records_events);
    assert_int_equal(p.events_priority, 3);
    log_plan_clear(&p);
}

/* ---- the log ---------------------------------------------------------------- */

static int64_t
marker(const char *buf, bool start, const char *name)
{
    return drill_last_start_marker(buf, strlen(buf), start, name, strlen(name));
}

static void
test_start_marker(void **state)
{
    static const char log[] =
        "2026-11-25 19:16:30.576+0000: 21822: debug : qemuProcessWaitForMonitor:2291 : "
        "Connect monitor to vm=0x7f75b042b5f0 name='web-01'\n"
        "2026-11-25 19:16:30.576+0000: 21822: info : qemuMonitorOpenInternal:647 : QEMU_MONITOR_NEW: "
        "mon=0x7f75b0004740 fd=29\n"
        "2026-11-25 19:16:31.000+0000: 21821: debug : qemuMonitorSend : Append log message (vm='web-01' "
        "message='x\n"
        "2026-11-25 19:17:00.000+0000: 21821: warning : qemuDomainObjTaintMsg:6603 : Domain id=1 "
        "name='web-01' uuid=6734dc2b-d2b8-494f-a46e-6b14aa8503ed is tainted: custom-monitor\n";
    static const char reconnect[] =
        "x\n2026-11-25 19:16:30.576+0000: 1: debug : qemuProcessReconnect:9 : "
        "Reconnect monitor to def=0x1 name='web-01'\n";
    static const char old[] =
        "2014-01-01 00:00:00.000+0000: 1: debug : qemuProcessWaitForMonitor:1 : "
        "Connect monitor to 0x7f00 'web-01'\n";
    static const char taint[] =
        "2026-11-25 19:16:30.561+0000: 21822: warning : qemuDomainObjTaintMsg:6603 : Domain id=1 "
        "name='web-01' uuid=6734dc2b-d2b8-494f-a46e-6b14aa8503ed is tainted: high-privileges\n"
        "2026-11-25 19:16:30.561+0000: 21822: warning : qemuDomainObjTaintMsg:6603 : Domain id=1 "
        "name='web-01' uuid=6734dc2b-d2b8-494f-a46e-6b14aa8503ed is tainted: custom-argv\n";
    static const char cut[] = "Connect monitor to vm=0x1 name='web-01'\nmore\n";

    (void)state;
    assert_int_equal(marker(log, true, "web-01"), 0);
    /* names are compared whole, with their quotes */
    assert_int_equal(marker(log, true, "web-0"), -1);
    assert_int_equal(marker(log, true, "eb-01"), -1);
    assert_int_equal(marker(reconnect, true, "web-01"), 2);
    assert_int_equal(marker(old, true, "web-01"), 0);
    /* the last start-time taint wins; custom-monitor never counts */
    assert_int_equal(marker(taint, true, "web-01"), (int64_t)strchr(taint, '\n') + 1 - (int64_t)taint);
    assert_int_equal(marker(log + strlen(log) - 150, true, "web-01"), -1);
    /* a line that began before the buffer is not looked at */
    assert_int_equal(marker(cut, false, "web-01"), -1);
    assert_int_equal(marker(cut, true, "web-01"), 0);
    assert_int_equal(marker("", true, "web-01"), -1);
    /* odd names are bytes */
    assert_int_equal(marker("Connect monitor to vm=0x1 name='a'b c'\n", true, "a'b c"), 0);
}

static void
test_nmi_send(void **state)
{
    static const char line[] =
        "2026-11-25 19:16:39.086+0000: 21821: info : qemuMonitorSend:861 : QEMU_MONITOR_SEND_MSG: "
        "mon=0x7f75b0004740 msg={\"execute\":\"inject-nmi\",\"id\":\"libvirt-411\"}";
    static const char other[] =
        "2026-11-25 19:16:39.086+0000: 21821: info : qemuMonitorSend:861 : QEMU_MONITOR_SEND_MSG: "
        "mon=0x7f75b0004740 msg={\"execute\":\"query-status\",\"id\":\"libvirt-412\"}";
    static const char write[] =
        "2026-11-25 19:16:39.086+0000: 21947: info : qemuMonitorIOWrite:366 : QEMU_MONITOR_IO_WRITE: "
        "mon=0x7f75b0004740 buf={\"execute\":\"inject-nmi\",\"id\":\"libvirt-411\"}";
    uint64_t mon = 0;
    int64_t t = 0;

    (void)state;
    assert_true(drill_parse_nmi_send(line, strlen(line), &mon, &t));
    assert_int_equal(mon, 0x7f75b0004740ULL);
    assert_int_equal(t, 1795634199086LL);
    assert_false(drill_parse_nmi_send(other, strlen(other), &mon, &t));
    assert_false(drill_parse_nmi_send(write, strlen(write), &mon, &t));
    assert_false(drill_parse_nmi_send(line, 100, &mon, &t));
    assert_false(drill_parse_nmi_send("", 0, &mon, &t));
    {
        static const char nohex[] = "QEMU_MONITOR_SEND_MSG: mon=0x msg={\"inject-nmi\"}";

        assert_false(drill_parse_nmi_send(nohex, strlen(nohex), &mon, &t));
    }
}

/* ---- virsh answers ------------------------------------------------------------ */

static void
test_virsh_answers(void **state)
{
    AUTOFREE char *a = drill_first_line("running (booted)\n\n");
    AUTOFREE char *b = drill_first_line("\n  shut off (crashed)  \r\nmore");
    AUTOFREE char *c = drill_first_line(NULL);

    (void)state;
    assert_string_equal(a, "running (booted)");
    assert_string_equal(b, "shut off (crashed)");
    assert_string_equal(c, "");
    assert_int_equal(drill_dom_state("running (booted)"), DOM_STATE_RUNNING);
    assert_int_equal(drill_dom_state("running (crashed)"), DOM_STATE_RUNNING);
    assert_int_equal(drill_dom_state("idle"), DOM_STATE_RUNNING);
    assert_int_equal(drill_dom_state("paused (user)"), DOM_STATE_PAUSED);
    assert_int_equal(drill_dom_state("shut off (destroyed)"), DOM_STATE_SHUTOFF);
    assert_int_equal(drill_dom_state("crashed (panicked)"), DOM_STATE_CRASHED);
    assert_int_equal(drill_dom_state("in shutdown"), DOM_STATE_OTHER);
    assert_int_equal(drill_dom_state("runningx"), DOM_STATE_OTHER);
    assert_int_equal(drill_dom_state(NULL), DOM_STATE_OTHER);

    assert_string_equal(drill_on_crash_state(NULL), "shut off (crashed)");
    assert_string_equal(drill_on_crash_state("restart"), "running (crashed)");
    assert_string_equal(drill_on_crash_state("preserve"), "crashed (panicked)");
    assert_string_equal(drill_on_crash_state("coredump-destroy"), "shut off (crashed)");
    assert_null(drill_on_crash_state("rename-restart"));
    assert_non_null(strstr(drill_on_crash_effect("coredump-restart"), "auto_dump_path"));
    assert_non_null(strstr(drill_on_crash_effect("bogus"), "does not know"));
}

/* ---- /proc/PID/cmdline ------------------------------------------------------- */

static char **
argv_of(const char *nul_separated, size_t len, int *argc)
{
    return drill_split_cmdline(nul_separated, len, argc);
}

#define ARGV(lit, argc) argv_of(lit, sizeof(lit) - 1, argc)

static void
test_cmdlines(void **state)
{
    struct follow_args fa;
    const char *binary;
    const char *config;
    char **v;
    int argc;

    (void)state;
    v = ARGV("/usr/sbin/pvpanic-watch\0follow\0-v\0--json=/var/log/pvpanic/ev.json\0-c\0w.conf\0"
             "--state\0/s\0/var/log/libvirt/libvirtd.log\0/x/qemu/*.log\0", &argc);
    assert_int_equal(argc, 10);
    assert_true(drill_parse_follow_argv(argc, v, &fa));
    assert_string_equal(fa.json, "/var/log/pvpanic/ev.json");
    assert_string_equal(fa.config, "w.conf");
    assert_int_equal(fa.nfiles, 2);
    assert_string_equal(fa.files[0], "/var/log/libvirt/libvirtd.log");
    assert_string_equal(fa.files[1], "/x/qemu/*.log");
    drill_free_argv(v);

    v = ARGV("pvpanic-watch\0follow\0-vcmy.conf\0--\0-odd-file\0", &argc);
    assert_true(drill_parse_follow_argv(argc, v, &fa));
    assert_string_equal(fa.config, "my.conf");
    assert_null(fa.json);
    assert_int_equal(fa.nfiles, 1);
    assert_string_equal(fa.files[0], "-odd-file");
    drill_free_argv(v);

    v = ARGV("pvpanic-watch\0follow\0", &argc);
    assert_true(drill_parse_follow_argv(argc, v, &fa));
    assert_int_equal(fa.nfiles, 0);
    drill_free_argv(v);

    /* not a running daemon */
    v = ARGV("pvpanic-watch\0follow\0-n\0", &argc);
    assert_false(drill_parse_follow_argv(argc, v, &fa));
    drill_free_argv(v);
    v = ARGV("pvpanic-watch\0follow\0-vn\0", &argc);
    assert_false(drill_parse_follow_argv(argc, v, &fa));
    drill_free_argv(v);
    v = ARGV("pvpanic-watch\0audit\0x\0", &argc);
    assert_false(drill_parse_follow_argv(argc, v, &fa));
    drill_free_argv(v);
    v = ARGV("vi\0pvpanic-watch\0follow\0", &argc);
    assert_false(drill_parse_follow_argv(argc, v, &fa));
    drill_free_argv(v);
    /* a cut option argument at the end */
    v = ARGV("pvpanic-watch\0follow\0--json\0", &argc);
    assert_true(drill_parse_follow_argv(argc, v, &fa));
    assert_null(fa.json);
    drill_free_argv(v);

    v = ARGV("/usr/sbin/libvirtd\0--timeout\0120\0-f\0/etc/x.conf\0", &argc);
    assert_true(drill_parse_daemon_argv(argc, v, &binary, &config));
    assert_string_equal(binary, "libvirtd");
    assert_string_equal(config, "/etc/x.conf");
    drill_free_argv(v);
    v = ARGV("virtqemud\0--config=rel.conf\0--timeout\0", &argc);
    assert_true(drill_parse_daemon_argv(argc, v, &binary, &config));
    assert_string_equal(binary, "virtqemud");
    assert_string_equal(config, "rel.conf");
    drill_free_argv(v);
    v = ARGV("libvirtd\0-d\0", &argc);
    assert_true(drill_parse_daemon_argv(argc, v, &binary, &config));
    assert_null(config);
    drill_free_argv(v);
    v = ARGV("virtlogd\0-f\0x\0", &argc);
    assert_false(drill_parse_daemon_argv(argc, v, &binary, &config));
    drill_free_argv(v);
    v = drill_split_cmdline("", 0, &argc);
    assert_int_equal(argc, 0);
    assert_false(drill_parse_daemon_argv(argc, v, &binary, &config));
    assert_false(drill_parse_follow_argv(argc, v, &fa));
    drill_free_argv(v);
}

static void
test_uri_socket(void **state)
{
    AUTOFREE char *a = drill_uri_socket("qemu:///system?socket=/run/x/libvirt-sock");
    AUTOFREE char *b = drill_uri_socket("qemu+unix:///system?mode=legacy&socket=/a%20b/sock&x=1");
    AUTOFREE char *c = drill_uri_socket("qemu:///system");
    AUTOFREE char *d = drill_uri_socket(NULL);
    AUTOFREE char *e = drill_uri_socket("qemu:///system?socketx=/y");

    (void)state;
    assert_string_equal(a, "/run/x/libvirt-sock");
    assert_string_equal(b, "/a b/sock");
    assert_null(c);
    assert_null(d);
    assert_null(e);
}

/* ---- explanations ------------------------------------------------------------- */

static void
test_explain(void **state)
{
    struct drill_guest g = { .linux_likely = true, .has_isa = true, .acpi = true };
    struct strbuf out = STRBUF_INIT;
    const char *lin;
    const char *win;

    (void)state;
    drill_explain_no_event(&g, "running (booted)", &out);
    lin = strstr(out.buf, "kernel.unknown_nmi_panic=1");
    win = strstr(out.buf, "QEMU PVPanic Device");
    assert_non_null(lin);
    assert_non_null(win);
    assert_true(lin < win);
    assert_non_null(strstr(out.buf, "pvpanic_mmio"));
    assert_non_null(strstr(out.buf, "crash_kexec_post_notifiers"));
    assert_non_null(strstr(out.buf, "pvpanic\\<os>\\amd64\\pvpanic.inf"));
    assert_non_null(strstr(out.buf, "NMICrashDump = 1"));
    assert_non_null(strstr(out.buf, "still shows the guest as 'running (booted)'"));
    assert_null(strstr(out.buf, "ACPI is off"));
    strbuf_release(&out);

    g = (struct drill_guest){ .windows_likely = true, .has_pci = true, .has_hyperv = true };
    drill_explain_no_event(&g, "crashed (panicked)", &out);
    lin = strstr(out.buf, "kernel.unknown_nmi_panic=1");
    win = strstr(out.buf, "QEMU PVPanic Device");
    assert_true(win < lin);
    assert_non_null(strstr(out.buf, "pvpanic-pci.inf"));
    assert_non_null(strstr(out.buf, "pvpanic_pci"));
    assert_non_null(strstr(out.buf, "<panic model='hyperv'>"));
    assert_non_null(strstr(out.buf, "the daemon log does not record it"));
    strbuf_release(&out);

    g = (struct drill_guest){ .has_isa = true, .acpi = false };
    drill_explain_no_event(&g, NULL, &out);
    assert_true(strncmp(out.buf, "- ACPI is off", 13) == 0);
    strbuf_release(&out);
}

static void
test_domxml_feature(void **state)
{
    static const char xml[] =
        "<domain type='kvm'><name>w</name><features><acpi/><apic/>"
        "<hyperv mode='custom'><relaxed state='on'/></hyperv></features>"
        "<features><pae/></features><devices/></domain>";
    static const char bare[] = "<domain type='kvm'><name>w</name><devices/></domain>";
    AUTOPTR(domxml) d = NULL;
    AUTOPTR(domxml) b = NULL;
    AUTOFREE char *err = NULL;

    (void)state;
    assert_int_equal(domxml_parse(xml, sizeof(xml) - 1, &d, &err), 0);
    assert_true(domxml_has_feature(d, "acpi"));
    assert_true(domxml_has_feature(d, "hyperv"));
    assert_true(domxml_has_feature(d, "pae"));     /* a second <features> counts too */
    assert_false(domxml_has_feature(d, "relaxed"));
    assert_false(domxml_has_feature(d, "smm"));
    assert_int_equal(domxml_parse(bare, sizeof(bare) - 1, &b, &err), 0);
    assert_false(domxml_has_feature(b, "acpi"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lvconf_parse),
        cmocka_unit_test(test_lvlog_outputs),
        cmocka_unit_test(test_lvlog_priority),
        cmocka_unit_test(test_lvlog_plan),
        cmocka_unit_test(test_start_marker),
        cmocka_unit_test(test_nmi_send),
        cmocka_unit_test(test_virsh_answers),
        cmocka_unit_test(test_cmdlines),
        cmocka_unit_test(test_uri_socket),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_domxml_feature),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
