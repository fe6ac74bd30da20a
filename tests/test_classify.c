/*
 * test_classify: header parsing, every line form of reference/libvirt.md
 * 2.3/2.8/3.1 (and look-alikes that must NOT match), the QMP JSON reader,
 * per-domain panic text and operator rule compilation.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "cleanup.h"
#include "qmpjson.h"
#include "strbuf.h"
#include "xalloc.h"

static void
test_logline_shapes(void **state)
{
    static const char daemon[] =
        "2026-11-25 17:27:29.975+0000: 10213: debug : qemuMonitorEmitGuestPanic:1116 : mon=0x7f3a24011010";
    static const char header[] = "2026-11-25 17:25:36.065+0000: 7491: info : hostname: vm";
    static const char domain[] = "2026-11-25 17:31:32.129+0000: shutting down, reason=crashed";
    static const char qemu[] = "2026-11-25T17:31:32.130083Z qemu-system-x86_64: terminating";
    struct logline ll;

    (void)state;
    logline_parse(daemon, sizeof(daemon) - 1, &ll);
    assert_int_equal(ll.shape, LOGLINE_DAEMON);
    assert_int_equal(ll.tid, 10213);
    assert_int_equal(ll.level, LOGLINE_LEVEL_DEBUG);
    assert_int_equal(ll.func_len, strlen("qemuMonitorEmitGuestPanic"));
    assert_memory_equal(ll.func, "qemuMonitorEmitGuestPanic", ll.func_len);
    assert_int_equal(ll.msg_len, strlen("mon=0x7f3a24011010"));
    assert_memory_equal(ll.msg, "mon=0x7f3a24011010", ll.msg_len);
    assert_int_equal(logline_time_ms(ll.ts, ll.ts_len), 1795627649975LL);

    logline_parse(header, sizeof(header) - 1, &ll);
    assert_int_equal(ll.shape, LOGLINE_DAEMON_HEADER);
    assert_int_equal(ll.level, LOGLINE_LEVEL_INFO);
    assert_memory_equal(ll.msg, "hostname: vm", ll.msg_len);

    logline_parse(domain, sizeof(domain) - 1, &ll);
    assert_int_equal(ll.shape, LOGLINE_DOMAIN);
    assert_memory_equal(ll.msg, "shutting down, reason=crashed", ll.msg_len);

    logline_parse(qemu, sizeof(qemu) - 1, &ll);
    assert_int_equal(ll.shape, LOGLINE_QEMU);
    assert_int_equal(logline_time_ms(ll.ts, ll.ts_len), 1795627892130LL);

    logline_parse(" fd=-1", 6, &ll);
    assert_int_equal(ll.shape, LOGLINE_NONE);
    /* an offset other than +0000 is applied */
    assert_int_equal(logline_time_ms("2026-11-25 18:27:29.975+0100", 28), 1795627649975LL);
    assert_int_equal(logline_time_ms("2026-13-25 18:27:29.975+0000", 28), -1);
    assert_int_equal(logline_time_ms("garbage", 7), -1);
}

struct form_case {
    const char *line;
    enum pvform form;
    uint64_t mon;
    uint64_t vm;
    const char *name;
};

#define TS "2026-11-25 17:27:29.975+0000: 10213: "

static const struct form_case form_cases[] = {
    { TS "info : qemuMonitorOpenInternal:647 : QEMU_MONITOR_NEW: mon=0x7f3a24011010 fd=28",
      PVF_MON_NEW, 0x7f3a24011010, 0, NULL },
    { TS "debug : qemuMonitorOpenInternal:789 : QEMU_MONITOR_NEW: mon=0x7f1c1c001c50 refs=2 fd=23",
      PVF_MON_NEW, 0x7f1c1c001c50, 0, NULL },
    { TS "info : qemuMonitorClose:782 : QEMU_MONITOR_CLOSE: mon=0x7f3a24011010",
      PVF_MON_CLOSE, 0x7f3a24011010, 0, NULL },
    { TS "info : qemuMonitorSend:861 : QEMU_MONITOR_SEND_MSG: mon=0x1 msg={}",
      PVF_MONITOR_OTHER, 0, 0, NULL },
    { TS "info : qemuMonitorJSONIOProcessLine:203 : QEMU_MONITOR_RECV_EVENT: mon=0x7f3a24011010 "
      "event={\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"GUEST_PANICKED\"}",
      PVF_RECV_EVENT, 0x7f3a24011010, 0, NULL },
    { TS "info : qemuMonitorJSONIOProcessLine:203 : QEMU_MONITOR_RECV_EVENT: mon=0x7f3a24011010 "
      "event={\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}",
      PVF_MONITOR_OTHER, 0, 0, NULL },
    { TS "info : qemuMonitorIOProcess:432 : QEMU_MONITOR_IO_PROCESS: mon=0x7f5d2c0033e0 buf={}",
      PVF_IO_PROCESS, 0x7f5d2c0033e0, 0, NULL },
    { TS "debug : qemuMonitorJSONIOProcessLine:189 : Line [{\"event\": \"GUEST_PANICKED\"}]",
      PVF_QMP_LINE, 0, 0, NULL },
    /* the guest agent's own "Line [" carries guest-controlled text */
    { TS "debug : qemuAgentIOProcessLine:303 : Line [{\"event\": \"GUEST_PANICKED\"}]",
      PVF_NONE, 0, 0, NULL },
    { TS "debug : qemuMonitorEmitEvent:1069 : mon=0x7f3a24011010 event=GUEST_PANICKED",
      PVF_EMIT_EVENT, 0x7f3a24011010, 0, NULL },
    { TS "debug : qemuMonitorEmitEvent:1069 : mon=0x7f3a24011010 event=STOP",
      PVF_NONE, 0, 0, NULL },
    { TS "debug : qemuMonitorEmitGuestPanic:1116 : mon=0x7f3a24011010",
      PVF_EMIT_GUEST, 0x7f3a24011010, 0, NULL },
    { TS "debug : qemuMonitorEmitStop:1097 : mon=0x7f3a24011010",
      PVF_NONE, 0, 0, NULL },
    { TS "debug : qemuMonitorEmitGuestCrashloaded:1401 : mon=0x7f3a24011010",
      PVF_EMIT_GUEST, 0x7f3a24011010, 0, NULL },
    { TS "debug : qemuMonitorJSONIOProcessEvent:175 : handle GUEST_PANICKED handler=0x1 data=0x2",
      PVF_HANDLE_EVENT, 0, 0, NULL },
    { TS "debug : qemuMonitorJSONHandleGuestCrashloaded:1350 : qemuMonitorJSONHandleGuestCrashloaded "
      "event, mon 0x7f3c18003290, data 0x7f3c2c004000",
      PVF_JSON_CRASHLOADED, 0x7f3c18003290, 0, NULL },
    { TS "debug : qemuProcessHandleEvent:546 : vm=0x7f3a2c006c00",
      PVF_PROCESS_HANDLE_EVENT, 0, 0x7f3a2c006c00, NULL },
    { TS "debug : qemuProcessEventHandler:3959 : vm=0x7f3a2c006c00, event=1",
      PVF_EVENT_HANDLER, 0, 0x7f3a2c006c00, NULL },
    { TS "debug : qemuProcessEventHandler:4551 : vm=0x7f3a2c006c00",
      PVF_EVENT_HANDLER, 0, 0x7f3a2c006c00, NULL },
    { TS "debug : processGuestPanicEvent:3545 : Preserving lock state '<null>'",
      PVF_PANIC_WORKER, 0, 0, NULL },
    { TS "debug : qemuProcessHandleStop:678 : Preserving lock state '<null>'",
      PVF_NONE, 0, 0, NULL },
    { TS "debug : processGuestPanicEvent:3525 : Ignoring GUEST_PANICKED event from inactive domain a b",
      PVF_PANIC_IGNORED, 0, 0, "a b" },
    { TS "debug : qemuProcessWaitForMonitor:2291 : Connect monitor to vm=0x5625600b8cf0 name='数据库-主'",
      PVF_CONNECT, 0, 0x5625600b8cf0, "数据库-主" },
    { TS "debug : qemuConnectMonitor:1411 : Connect monitor to 0x7f1c2c1b5d60 'it's'",
      PVF_CONNECT, 0, 0x7f1c2c1b5d60, "it's" },
    { TS "debug : qemuProcessReconnect:9366 : Reconnect monitor to def=0x55d1c3a5a030 name='x' retry=1",
      PVF_RECONNECT, 0, 0x55d1c3a5a030, "x" },
    { TS "debug : qemuDomainObjEnterMonitorInternal:6107 : Entering monitor (mon=0x7f3a20005740 "
      "vm=0x7f3a200065d0 name=win 2016 (prod))",
      PVF_MONITOR_NAME, 0x7f3a20005740, 0x7f3a200065d0, "win 2016 (prod)" },
    { TS "debug : qemuDomainObjExitMonitor:6136 : Exited monitor (mon=0x7f3a20005740 "
      "vm=0x7f3a200065d0 name=a)b)",
      PVF_MONITOR_NAME, 0x7f3a20005740, 0x7f3a200065d0, "a)b" },
    { TS "debug : qemuProcessHandleMonitorEOF:300 : Triggering EOF callback mon=0x1 vm=0x2 name=n n",
      PVF_MONITOR_NAME, 0x1, 0x2, "n n" },
    { TS "debug : qemuMonitorSetCapabilities:1409 : mon:0x7f3a20005740 vm:0x7f3a200065d0 fd:28",
      PVF_CHECK_MONITOR, 0x7f3a20005740, 0x7f3a200065d0, NULL },
    { TS "debug : qemuProcessInit:5700 : vm=0x7f3a2c006c00 name=panic test id=-1 migration=0",
      PVF_VM_NAME, 0, 0x7f3a2c006c00, "panic test" },
    { TS "debug : qemuProcessKill:8268 : vm=0x5625600b8a20 name=win2016 pid=14363 flags=0x5",
      PVF_VM_NAME, 0, 0x5625600b8a20, "win2016" },
    { TS "debug : qemuProcessStop:8352 : Shutting down vm=0x5625600b8a20 name=win2016 id=7 "
      "pid=14363, reason=crashed, asyncJob=dump, flags=0x0",
      PVF_VM_NAME, 0, 0x5625600b8a20, "win2016" },
    { TS "debug : qemuProcessLaunch:7890 : QEMU vm=0x7f3a2c006c00 name=x running with pid=9447",
      PVF_VM_NAME, 0, 0x7f3a2c006c00, "x" },
    { TS "debug : virDomainObjBeginJobInternal:368 : Starting job: API=remoteDispatchDomainGetState "
      "job=none agentJob=none asyncJob=dump (vm=0x55d1c3a5a030 name=y, z, current job=none "
      "agentJob=none async=none)",
      PVF_VM_NAME, 0, 0x55d1c3a5a030, "y, z" },
    { TS "debug : qemuDomainObjBeginAsyncJob:500 : Started async job: dump (vm=0x1 name=(a))",
      PVF_VM_NAME, 0, 0x1, "(a)" },
    /* define, not start: never evidence (see classify.h) */
    { TS "info : qemuDomainDefineXMLFlags:6441 : Creating domain 'web-01'",
      PVF_NONE, 0, 0, NULL },
    { TS "debug : qemuProcessLaunch:7685 : Creating domain log file",
      PVF_NONE, 0, 0, NULL },
    { TS "warning : qemuDomainObjTaintMsg:6603 : Domain id=12 name='a' b' "
      "uuid=b8e8e855-74bb-4249-a470-91b2d567f1b7 is tainted: high-privileges",
      PVF_TAINTED, 0, 0, "a' b" },
    { TS "debug : qemuDomainLogAppendMessage:6975 : Append log message (vm='w' message='2026-11-25 "
      "17:31:32.129+0000: panic hyper-v: arg1='0x3e', arg2='0x1', arg3='0x2', arg4='0x3', arg5='0x4'",
      PVF_APPEND_LOG_PANIC, 0, 0, "w" },
    { TS "debug : qemuDomainLogAppendMessage:6975 : Append log message (vm='w' message='2026-11-25 "
      "17:31:32.129+0000: shutting down, reason=crashed",
      PVF_NONE, 0, 0, NULL },
    { "2026-11-25 17:31:32.129+0000: panic s390: core='0' psw-mask='0x1' psw-addr='0x2' reason='x'",
      PVF_DOMLOG_PANIC, 0, 0, NULL },
    { "2026-11-25 17:31:32.129+0000: shutting down, reason=crashed", PVF_NONE, 0, 0, NULL },
    /* the same messages with a corrupt header are nothing */
    { "2026-11-25 17:27:29.975+0000: x: info : qemuMonitorClose:782 : QEMU_MONITOR_CLOSE: mon=0x1",
      PVF_NONE, 0, 0, NULL },
    { TS "info : qemuMonitorClose:782 : QEMU_MONITOR_CLOSE: mon=0x12345678901234567",
      PVF_MONITOR_OTHER, 0, 0, NULL },
};

static void
test_forms(void **state)
{
    struct classify *cls = classify_new();

    (void)state;
    assert_non_null(cls);
    for (size_t i = 0; i < ARRAY_SIZE(form_cases); i++) {
        const struct form_case *fc = &form_cases[i];
        struct logline ll;
        struct pvclass c;

        logline_parse(fc->line, strlen(fc->line), &ll);
        classify_line(cls, &ll, &c);
        if (c.form != fc->form)
            print_error("case %zu: got %s, want %s: %s\n", i, pvform_str(c.form),
                        pvform_str(fc->form), fc->line);
        assert_int_equal(c.form, fc->form);
        assert_int_equal(c.mon, fc->mon);
        assert_int_equal(c.vm, fc->vm);
        if (fc->name) {
            assert_non_null(c.name);
            assert_int_equal(c.name_len, strlen(fc->name));
            assert_memory_equal(c.name, fc->name, c.name_len);
        }
    }
    assert_int_equal(classify_regex_errors(cls), 0);
    assert_string_equal(pvform_str(PVF_RECV_EVENT), "recv-event");
    classify_free(cls);
}

static int
parse(const char *json, struct qmp_event *q)
{
    return qmpjson_parse_event(json, strlen(json), q);
}

static void
test_qmpjson(void **state)
{
    struct qmp_event q;

    (void)state;
    /* QAPI doc order: event first, timestamp last */
    assert_int_equal(parse("{\"event\": \"GUEST_CRASHLOADED\", \"data\": {\"action\": "
                           "\"run\"}, \"timestamp\": {\"seconds\": 1648245259, "
                           "\"microseconds\": 893771}}", &q), 1);
    assert_int_equal(q.type, PV_EVENT_CRASHLOADED);
    assert_true(q.has_time);
    assert_int_equal(q.sec, 1648245259);
    assert_int_equal(q.usec, 893771);
    assert_string_equal(q.action, "run");
    pv_panic_info_clear(&q.info);

    {
        static const char hv[] = "{\"timestamp\": {\"seconds\": 5, \"microseconds\": 6}, \"event\": "
            "\"GUEST_PANICKED\", \"data\": {\"action\": \"pause\", \"info\": {\"type\": \"hyper-v\", "
            "\"arg1\": 62, \"arg2\": 4867097345535, \"arg3\": 5966608973311, \"arg4\": 0, "
            "\"arg5\": 18446744073709551615}}}";

        assert_int_equal(qmpjson_parse_event(hv, sizeof(hv) - 1, &q), 1);
        assert_int_equal(q.info.kind, PV_INFO_HYPERV);
        assert_int_equal(q.info.hv_arg[0], 0x3e);
        assert_int_equal(q.info.hv_arg[1], 0x46d359bbdffULL);
        assert_int_equal(q.info.hv_arg[4], UINT64_MAX);
        pv_panic_info_clear(&q.info);
    }
    {
        /* hyper-v with a missing arg is kept raw, not invented */
        static const char hv[] = "{\"event\": \"GUEST_PANICKED\", \"data\": {\"info\": {\"type\": "
            "\"hyper-v\", \"arg1\": 1}}}";

        assert_int_equal(qmpjson_parse_event(hv, sizeof(hv) - 1, &q), 1);
        assert_int_equal(q.info.kind, PV_INFO_OTHER);
        assert_string_equal(q.info.type, "hyper-v");
        assert_false(q.has_time);
        assert_false(q.has_action);
        pv_panic_info_clear(&q.info);
    }
    {
        static const char esc[] = "{\"event\": \"GUEST_PANICKED\", \"data\": {\"info\": {\"type\": "
            "\"t\\u00e9\\\"dx\", \"message\": \"a\\nb\\ud800\"}}}";

        assert_int_equal(qmpjson_parse_event(esc, sizeof(esc) - 1, &q), 1);
        assert_string_equal(q.info.type, "t\xc3\xa9\"dx");
        assert_string_equal(q.info.message, "a\nb\xef\xbf\xbd");
        pv_panic_info_clear(&q.info);
    }
    /* not events, or not ours */
    assert_int_equal(parse("{\"event\": \"STOP\"}", &q), 0);
    assert_int_equal(parse("{\"return\": \"\\\"event\\\": \\\"GUEST_PANICKED\\\"\"}", &q), 0);
    assert_int_equal(parse("{\"data\": {\"event\": \"GUEST_PANICKED\"}}", &q), 0);
    assert_int_equal(parse("{\"event\": \"GUEST_PANICKED\"", &q), -EINVAL);
    assert_int_equal(parse("[1]", &q), -EINVAL);
    assert_int_equal(parse("", &q), -EINVAL);
    {
        /* nesting deeper than the limit is refused, not a stack overflow */
        struct strbuf deep = STRBUF_INIT;

        strbuf_addstr(&deep, "{\"event\": \"GUEST_PANICKED\", \"x\": ");
        for (int i = 0; i < 10000; i++)
            strbuf_addch(&deep, '[');
        assert_int_equal(qmpjson_parse_event(deep.buf, deep.len, &q), -EINVAL);
        strbuf_release(&deep);
    }
}

static void
test_panic_text(void **state)
{
    static const char hv[] = "hyper-v: arg1='0x3e', arg2='0x46d359bbdff', arg3='0x56d359bbdff', "
                             "arg4='0x0', arg5='0x0'";
    static const char s390[] = "s390: core='2' psw-mask='0x0002000180000000' "
                               "psw-addr='0x000000000000dead' reason='disabled-wait'";
    struct pv_panic_info info;

    (void)state;
    classify_panic_text(hv, sizeof(hv) - 1, &info);
    assert_int_equal(info.kind, PV_INFO_HYPERV);
    assert_int_equal(info.hv_arg[2], 0x56d359bbdffULL);
    pv_panic_info_clear(&info);
    classify_panic_text(s390, sizeof(s390) - 1, &info);
    assert_int_equal(info.kind, PV_INFO_S390);
    assert_int_equal(info.s390_core, 2);
    assert_int_equal(info.s390_psw_addr, 0xdead);
    assert_string_equal(info.s390_reason, "disabled-wait");
    pv_panic_info_clear(&info);
    classify_panic_text("hyper-v: arg1='zz'", 18, &info);
    assert_int_equal(info.kind, PV_INFO_OTHER);
    assert_string_equal(info.type, "hyper-v");
    assert_string_equal(info.raw, "hyper-v: arg1='zz'");
    pv_panic_info_clear(&info);
}

static void
rule_cb(const struct rule_match *m, void *opaque)
{
    struct strbuf *out = opaque;

    strbuf_addf(out, "%s %s %d %.*s|", m->rule, m->severity, (int)m->event,
                (int)m->domain_len, m->domain ? m->domain : "");
}

static void
test_rules(void **state)
{
    struct classify_rules *rules = classify_rules_new();
    struct strbuf out = STRBUF_INIT;
    char *err = NULL;

    (void)state;
    assert_int_equal(classify_rules_add(rules, "r1", "oops (?<domain>[a-z]+)", PV_EVENT_PANIC,
                                        "critical", &err), 0);
    assert_int_equal(classify_rules_add(rules, "r2", "[z-a]", PV_EVENT_CUSTOM, NULL, &err), -EINVAL);
    assert_string_equal(err, "regex error at offset 3: range out of order in character class");
    free(err);
    assert_int_equal(classify_rules_count(rules), 1);
    /* invalid UTF-8 in the subject is no obstacle */
    assert_int_equal(classify_rules_match(rules, "x oops guest \xff\xfe", 15, rule_cb, &out), 1);
    assert_string_equal(out.buf, "r1 critical 0 guest|");
    assert_int_equal(classify_rules_match(rules, "nothing here", 12, rule_cb, &out), 0);
    strbuf_release(&out);
    classify_rules_free(rules);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logline_shapes),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_qmpjson),
        cmocka_unit_test(test_panic_text),
        cmocka_unit_test(test_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
