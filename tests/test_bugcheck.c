/*
 * test_bugcheck: Windows bugcheck names, and how they reach an event's JSON
 * details and its human details line (so every sink and the audit table),
 * from real-format input: the per-domain log line libvirt writes
 * (reference/libvirt.md 3.1) and the QMP event with decimal args (6.2).
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bugcheck.h"
#include "cleanup.h"
#include "detect.h"
#include "event.h"
#include "strbuf.h"
#include "xalloc.h"

static void
test_table_sorted_and_wellformed(void **state)
{
    size_t n = 0;
    const struct bugcheck_entry *t = bugcheck_table(&n);

    (void)state;
    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            assert_true(t[i - 1].code < t[i].code);
        assert_true(strlen(t[i].name) > 3);
        for (const char *p = t[i].name; *p; p++)
            assert_true(isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_');
        /* every entry is found by the search */
        assert_string_equal(bugcheck_name(t[i].code), t[i].name);
    }
}

static void
test_names(void **state)
{
    static const struct {
        uint64_t code;
        const char *name;
    } cases[] = {
        { 0x0A, "IRQL_NOT_LESS_OR_EQUAL" },
        { 0x1E, "KMODE_EXCEPTION_NOT_HANDLED" },
        { 0x3B, "SYSTEM_SERVICE_EXCEPTION" },
        { 0x3E, "MULTIPROCESSOR_CONFIGURATION_NOT_SUPPORTED" },
        { 0x50, "PAGE_FAULT_IN_NONPAGED_AREA" },
        { 0x7A, "KERNEL_DATA_INPAGE_ERROR" },
        { 0x7B, "INACCESSIBLE_BOOT_DEVICE" },
        { 0x7E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED" },
        { 0x7F, "UNEXPECTED_KERNEL_MODE_TRAP" },
        { 0x80, "NMI_HARDWARE_FAILURE" },
        { 0x9F, "DRIVER_POWER_STATE_FAILURE" },
        { 0xC2, "BAD_POOL_CALLER" },
        { 0xD1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL" },
        { 0xEF, "CRITICAL_PROCESS_DIED" },
        { 0xF4, "CRITICAL_OBJECT_TERMINATION" },
        { 0x101, "CLOCK_WATCHDOG_TIMEOUT" },
        { 0x124, "WHEA_UNCORRECTABLE_ERROR" },
        { 0x133, "DPC_WATCHDOG_VIOLATION" },
        { 0x139, "KERNEL_SECURITY_CHECK_FAILURE" },
        /* the _M codes Windows documents by their own names */
        { 0x1000007E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M" },
        { 0x1000008E, "KERNEL_MODE_EXCEPTION_NOT_HANDLED_M" },
        /* other 0x1xxxxxxx codes: the same meaning as without the flag */
        { 0x10000050, "PAGE_FAULT_IN_NONPAGED_AREA" },
        { 0x100000D1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL" },
        { 0xDEADDEAD, "MANUALLY_INITIATED_CRASH1" },
        { 0xC000021A, "WINLOGON_FATAL_ERROR" },
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        assert_string_equal(bugcheck_name(cases[i].code), cases[i].name);
}

static void
test_unknown_codes(void **state)
{
    (void)state;
    assert_null(bugcheck_name(0));              /* a Linux hv-crash error code of 0 */
    assert_null(bugcheck_name(0x3));
    assert_null(bugcheck_name(0xC0000218));
    assert_null(bugcheck_name(0x1000000000080ULL));     /* not a 32-bit code */
    assert_null(bugcheck_name(0xFFFFFFFF00000080ULL));
    assert_null(bugcheck_name(0x10000003));     /* flag on an unknown code */
    assert_null(bugcheck_name(0xD0000080));     /* bit 28, but not a 0x1xxxxxxx code */
    assert_null(bugcheck_name(UINT64_MAX));
}

/* ---- through the detector ------------------------------------------------ */

struct got {
    unsigned int n;
    struct strbuf json;
    struct strbuf details;
};

static void
on_event(const struct pv_event *ev, void *opaque)
{
    struct got *g = opaque;

    g->n++;
    strbuf_reset(&g->json);
    strbuf_reset(&g->details);
    pv_event_to_json(ev, &g->json);
    pv_event_details_line(ev, &g->details);
}

/* Feed @daemon and @domlog (either may be NULL) and return the one event. */
static void
detect_one(const char *daemon, const char *domlog, struct got *g)
{
    struct detect *det = detect_new(NULL, on_event, g);
    int dsrc = detect_add_source(det, "libvirtd.log", DETECT_SOURCE_DAEMON, NULL);
    int qsrc = detect_add_source(det, "qemu/win-hv.log", DETECT_SOURCE_DOMAIN, "win-hv");

    *g = (struct got){ 0, STRBUF_INIT, STRBUF_INIT };
    if (daemon)
        detect_feed(det, dsrc, daemon, strlen(daemon));
    if (domlog)
        detect_feed(det, qsrc, domlog, strlen(domlog));
    detect_source_eof(det, dsrc);
    detect_source_eof(det, qsrc);
    detect_finish(det);
    detect_free(det);
    assert_int_equal(g->n, 1);
}

static void
got_release(struct got *g)
{
    strbuf_release(&g->json);
    strbuf_release(&g->details);
}

/* What libvirt writes for an NMI to a Windows guest with <panic model='hyperv'/>. */
static const char domain_line_nmi[] =
    "2026-11-25 23:00:10.000+0000: panic hyper-v: arg1='0x80', arg2='0x4f4454', "
    "arg3='0x0', arg4='0x0', arg5='0x0'\n";

static void
test_domain_log_line(void **state)
{
    struct got g;

    (void)state;
    detect_one(NULL, domain_line_nmi, &g);
    assert_non_null(strstr(g.json.buf,
                           "\"details\":{\"type\":\"hyper-v\",\"bugcheck\":\"0x80\","
                           "\"bugcheck_name\":\"NMI_HARDWARE_FAILURE\",\"arg1\":\"0x80\","
                           "\"arg2\":\"0x4f4454\",\"arg3\":\"0x0\",\"arg4\":\"0x0\",\"arg5\":\"0x0\"}"));
    assert_string_equal(g.details.buf, "bugcheck 0x80 NMI_HARDWARE_FAILURE args 0x4f4454,0x0,0x0,0x0");
    got_release(&g);
}

/* The real report quoted in reference/libvirt.md 3.1 (vCPU hotplug, 0x3E). */
static void
test_domain_log_line_real_report(void **state)
{
    struct got g;

    (void)state;
    detect_one(NULL,
               "2025-06-09 12:34:56.789+0000: panic hyper-v: arg1='0x3e', arg2='0x46d359bbdff', "
               "arg3='0x56d359bbdff', arg4='0x0', arg5='0x0'\n", &g);
    assert_non_null(strstr(g.json.buf, "\"bugcheck\":\"0x3e\",\"bugcheck_name\":"
                                       "\"MULTIPROCESSOR_CONFIGURATION_NOT_SUPPORTED\""));
    assert_string_equal(g.details.buf, "bugcheck 0x3e MULTIPROCESSOR_CONFIGURATION_NOT_SUPPORTED "
                                       "args 0x46d359bbdff,0x56d359bbdff,0x0,0x0");
    got_release(&g);
}

/* The daemon log: QMP numbers are decimal (128 = 0x80, 5194836 = 0x4f4454). */
static const char daemon_nmi[] =
    "2026-11-25 23:00:00.000+0000: 10: debug : qemuProcessWaitForMonitor:2291 : "
    "Connect monitor to vm=0x5600000e0020 name='win-hv'\n"
    "2026-11-25 23:00:00.001+0000: 10: info : qemuMonitorOpenInternal:647 : "
    "QEMU_MONITOR_NEW: mon=0x7f00000e0010 fd=20\n"
    "2026-11-25 23:00:10.000+0000: 11: info : qemuMonitorJSONIOProcessLine:203 : "
    "QEMU_MONITOR_RECV_EVENT: mon=0x7f00000e0010 event={\"timestamp\": {\"seconds\": 1795632010, "
    "\"microseconds\": 5}, \"event\": \"GUEST_PANICKED\", \"data\": {\"action\": \"pause\", "
    "\"info\": {\"type\": \"hyper-v\", \"arg1\": 128, \"arg2\": 5194836, \"arg3\": 0, "
    "\"arg4\": 0, \"arg5\": 0}}}\n";

static void
test_qmp_decimal_args(void **state)
{
    struct got g;

    (void)state;
    detect_one(daemon_nmi, NULL, &g);
    assert_non_null(strstr(g.json.buf, "\"domain\":\"win-hv\""));
    assert_non_null(strstr(g.json.buf, "\"bugcheck\":\"0x80\",\"bugcheck_name\":\"NMI_HARDWARE_FAILURE\""));
    assert_string_equal(g.details.buf, "bugcheck 0x80 NMI_HARDWARE_FAILURE args 0x4f4454,0x0,0x0,0x0");
    got_release(&g);

    /* both logs: still one event, same details */
    detect_one(daemon_nmi, domain_line_nmi, &g);
    assert_string_equal(g.details.buf, "bugcheck 0x80 NMI_HARDWARE_FAILURE args 0x4f4454,0x0,0x0,0x0");
    got_release(&g);
}

/*
 * A Linux guest with hv-crash: arg1 is its error code (0 here), arg2 the
 * guest OS id. No Windows name is claimed, and the line says "hyper-v crash".
 */
static void
test_not_a_known_bugcheck(void **state)
{
    struct got g;

    (void)state;
    detect_one(NULL,
               "2026-11-25 23:05:00.000+0000: panic hyper-v: arg1='0x0', arg2='0x8100000000000000', "
               "arg3='0xffffffff81234567', arg4='0x0', arg5='0xffffc90000003e58'\n", &g);
    assert_non_null(strstr(g.json.buf, "\"bugcheck\":\"0x0\",\"arg1\":\"0x0\""));
    assert_null(strstr(g.json.buf, "bugcheck_name"));
    assert_string_equal(g.details.buf, "hyper-v crash 0x0 args 0x8100000000000000,0xffffffff81234567,"
                                       "0x0,0xffffc90000003e58");
    got_release(&g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_sorted_and_wellformed),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_domain_log_line),
        cmocka_unit_test(test_domain_log_line_real_report),
        cmocka_unit_test(test_qmp_decimal_args),
        cmocka_unit_test(test_not_a_known_bugcheck),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
