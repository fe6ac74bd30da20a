/*
 * test_resolve: monitor pointer -> domain name, lifetimes, conflicts,
 * heuristics, bounds and the state text.
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

#include "cleanup.h"
#include "resolve.h"
#include "strbuf.h"
#include "xalloc.h"

#define MON_A 0x7f3a24011010ULL
#define MON_B 0x7f3a240112f0ULL
#define VM_A 0x7f3a2c006c00ULL
#define VM_B 0x7f3a2c006cf0ULL
#define T0 1795627644000LL

static void
connect(struct resolve *r, uint64_t tid, uint64_t vm, const char *name, int64_t t)
{
    resolve_connect(r, tid, vm, name, strlen(name), false, t);
}

/* The name found for @mon/@vm, or "(null)", plus how. */
static char *
lookup(struct resolve *r, uint64_t mon, uint64_t vm)
{
    struct resolve_result res;

    if (!resolve_lookup(r, mon, vm, &res))
        return xstrdup(res.conflict ? "(conflict)" : "(null)");
    return xasprintf("%.*s/%s", (int)res.name_len, res.name, pv_resolved_by_str(res.by));
}

#define ASSERT_NAME(r, mon, vm, want) \
    do { \
        AUTOFREE char *got_ = lookup((r), (mon), (vm)); \
        assert_string_equal(got_, (want)); \
    } while (0)

static void
test_connect_then_new(void **state)
{
    struct resolve *r = resolve_new();

    (void)state;
    connect(r, 7498, VM_A, "panictest", T0);
    /* NEW on another thread does not take it */
    resolve_monitor_new(r, 7499, MON_B, T0 + 1);
    ASSERT_NAME(r, MON_B, 0, "(null)");
    resolve_monitor_new(r, 7498, MON_A, T0 + 1);
    ASSERT_NAME(r, MON_A, 0, "panictest/connect");
    /* consumed: the next NEW on that thread is not panictest */
    resolve_monitor_new(r, 7498, MON_B, T0 + 2);
    ASSERT_NAME(r, MON_B, 0, "(null)");
    /* vm pointer from the Connect line names the vm too */
    ASSERT_NAME(r, 0, VM_A, "panictest/vm");
    resolve_free(r);
}

static void
test_reuse_after_close(void **state)
{
    struct resolve *r = resolve_new();

    (void)state;
    connect(r, 1, VM_A, "panictest", T0);
    resolve_monitor_new(r, 1, MON_A, T0);
    resolve_monitor_close(r, MON_A);
    ASSERT_NAME(r, MON_A, 0, "(null)");
    connect(r, 2, VM_B, "win2016", T0 + 90000);
    resolve_monitor_new(r, 2, MON_A, T0 + 90001);
    ASSERT_NAME(r, MON_A, 0, "win2016/connect");
    /* NEW without CLOSE in between also starts a new lifetime */
    resolve_monitor_new(r, 3, MON_A, T0 + 90002);
    ASSERT_NAME(r, MON_A, 0, "(null)");
    resolve_free(r);
}

static void
test_direct_lines_and_conflicts(void **state)
{
    struct resolve *r = resolve_new();

    (void)state;
    connect(r, 1, VM_A, "good", T0);
    resolve_monitor_new(r, 1, MON_A, T0);
    resolve_monitor_name(r, 1, MON_A, VM_A, "good", 4);
    ASSERT_NAME(r, MON_A, 0, "good/connect");
    resolve_monitor_name(r, 1, MON_A, VM_A, "other", 5);
    ASSERT_NAME(r, MON_A, 0, "(conflict)");
    /* a conflict lasts for the lifetime */
    resolve_monitor_name(r, 1, MON_A, VM_A, "good", 4);
    ASSERT_NAME(r, MON_A, 0, "(conflict)");

    /* Entering monitor names a monitor whose NEW was never seen */
    resolve_monitor_name(r, 5, MON_B, VM_B, "late", 4);
    ASSERT_NAME(r, MON_B, 0, "late/monitor");
    /* the event's own vm pointer must agree with the monitor's */
    ASSERT_NAME(r, MON_B, VM_A, "(conflict)");
    ASSERT_NAME(r, MON_B, VM_B, "late/monitor");
    /* monitor name and vm name disagree */
    resolve_vm_name(r, VM_B, "renamed", 7);
    ASSERT_NAME(r, MON_B, 0, "(conflict)");
    resolve_free(r);
}

static void
test_vm_pointer_path(void **state)
{
    struct resolve *r = resolve_new();

    (void)state;
    resolve_monitor_new(r, 9, MON_A, T0);
    resolve_monitor_vm(r, 9, MON_A, VM_A);
    ASSERT_NAME(r, MON_A, 0, "(null)");
    resolve_vm_name(r, VM_A, "by-vm", 5);
    ASSERT_NAME(r, MON_A, 0, "by-vm/vm");
    /* two vm pointers for one monitor: the vm path is not trusted any more */
    resolve_monitor_vm(r, 9, MON_A, VM_B);
    ASSERT_NAME(r, MON_A, 0, "(null)");
    resolve_free(r);
}

static void
test_weak_names(void **state)
{
    struct resolve *r = resolve_new();

    (void)state;
    resolve_start_taint(r, 1, "web-01", 6, T0);
    resolve_start_taint(r, 1, "web-01", 6, T0 + 30);
    resolve_monitor_new(r, 1, MON_A, T0 + 40);
    ASSERT_NAME(r, MON_A, 0, "web-01/taint");
    /* used once */
    resolve_monitor_new(r, 1, MON_B, T0 + 50);
    ASSERT_NAME(r, MON_B, 0, "(null)");
    /* two different names before one NEW: neither */
    resolve_start_taint(r, 2, "a", 1, T0);
    resolve_start_taint(r, 2, "b", 1, T0 + 1);
    resolve_monitor_new(r, 2, MON_B, T0 + 2);
    ASSERT_NAME(r, MON_B, 0, "(null)");
    /* too old */
    resolve_start_taint(r, 3, "old", 3, T0);
    resolve_monitor_new(r, 3, MON_B, T0 + RESOLVE_WEAK_WINDOW_MS + 1);
    ASSERT_NAME(r, MON_B, 0, "(null)");
    /* a start that failed before its NEW, then another guest on that thread */
    resolve_start_taint(r, 6, "failed", 6, T0);
    resolve_start_taint(r, 6, "next", 4, T0 + 2000);
    resolve_monitor_new(r, 6, MON_B, T0 + 2005);
    ASSERT_NAME(r, MON_B, 0, "(null)");
    /* a direct line replaces a guess instead of conflicting with it */
    resolve_start_taint(r, 4, "guess", 5, T0);
    resolve_monitor_new(r, 4, MON_B, T0 + 5);
    ASSERT_NAME(r, MON_B, 0, "guess/taint");
    resolve_monitor_name(r, 4, MON_B, VM_B, "real", 4);
    ASSERT_NAME(r, MON_B, 0, "real/monitor");
    /* a strong Connect beats a weak name on the same thread */
    resolve_start_taint(r, 5, "weak", 4, T0);
    connect(r, 5, VM_A, "strong", T0 + 1);
    resolve_monitor_new(r, 5, MON_A, T0 + 2);
    ASSERT_NAME(r, MON_A, 0, "strong/connect");
    resolve_free(r);
}

static void
test_implicit_new(void **state)
{
    struct resolve *r = resolve_new();

    (void)state;
    /* debug-only log: no NEW/CLOSE lines at all, pointer reused */
    connect(r, 1, VM_A, "first", T0);
    resolve_monitor_name(r, 1, MON_A, VM_A, "first", 5);
    ASSERT_NAME(r, MON_A, 0, "first/connect");
    connect(r, 2, VM_B, "second", T0 + 1000);
    resolve_monitor_vm(r, 2, MON_A, VM_B);
    ASSERT_NAME(r, MON_A, 0, "second/connect");
    resolve_monitor_name(r, 2, MON_A, VM_B, "second", 6);
    ASSERT_NAME(r, MON_A, 0, "second/connect");
    resolve_free(r);
}

static void
test_bounded(void **state)
{
    struct resolve *r = resolve_new();
    char name[32];

    (void)state;
    for (uint64_t i = 1; i <= 3 * RESOLVE_MAX_MONITORS; i++) {
        snprintf(name, sizeof(name), "guest-%llu", (unsigned long long)i);
        connect(r, i, 0x1000 + i, name, T0);
        resolve_monitor_new(r, i, 0x7f0000000000ULL + i * 16, T0);
        resolve_monitor_name(r, i, 0x7f0000000000ULL + i * 16, 0x1000 + i, name, strlen(name));
    }
    assert_true(resolve_monitor_count(r) <= RESOLVE_MAX_MONITORS);
    /* the newest survive */
    snprintf(name, sizeof(name), "guest-%llu/connect", (unsigned long long)(3 * RESOLVE_MAX_MONITORS));
    ASSERT_NAME(r, 0x7f0000000000ULL + 3 * RESOLVE_MAX_MONITORS * 16, 0, name);
    resolve_free(r);
}

static void
test_state_roundtrip(void **state)
{
    struct resolve *r = resolve_new();
    struct resolve *r2 = resolve_new();
    struct strbuf a = STRBUF_INIT;
    struct strbuf b = STRBUF_INIT;
    static const char odd[] = "we ird%name\twith\x01 bytes \xe6\x95\xb0";

    (void)state;
    connect(r, 1, VM_A, odd, T0);
    resolve_monitor_new(r, 1, MON_A, T0);
    resolve_monitor_name(r, 3, MON_B, VM_B, "x", 1);
    resolve_monitor_name(r, 3, MON_B, VM_B, "y", 1);
    connect(r, 7, VM_B, "pending", T0);
    resolve_start_taint(r, 8, "weak", 4, T0);
    resolve_save(r, &a);
    assert_int_equal(resolve_load(r2, a.buf, a.len), 0);
    resolve_save(r2, &b);
    assert_string_equal(a.buf, b.buf);
    {
        AUTOFREE char *want = xasprintf("%s/connect", odd);

        ASSERT_NAME(r2, MON_A, 0, want);
    }
    ASSERT_NAME(r2, MON_B, 0, "(conflict)");
    /* the pending Connect of thread 7 survives too */
    resolve_monitor_new(r2, 7, 0x7f99, T0 + 5);
    ASSERT_NAME(r2, 0x7f99, 0, "pending/connect");
    /* malformed */
    assert_int_equal(resolve_load(r2, "resolve-mon zz\n", 15), -EINVAL);
    assert_int_equal(resolve_monitor_count(r2), 0);
    assert_int_equal(resolve_load(r2, "resolve-vm 1 2 bad%zzescape\n", 28), -EINVAL);
    /* lines of other modules are ignored */
    assert_int_equal(resolve_load(r2, "detect-clock 1 2 3\n", 19), 0);
    strbuf_release(&a);
    strbuf_release(&b);
    resolve_free(r);
    resolve_free(r2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_then_new),
        cmocka_unit_test(test_reuse_after_close),
        cmocka_unit_test(test_direct_lines_and_conflicts),
        cmocka_unit_test(test_vm_pointer_path),
        cmocka_unit_test(test_weak_names),
        cmocka_unit_test(test_implicit_new),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_state_roundtrip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
