/*
 * test_hookops: the hook protocol tables, mode detection, the policy
 * decision (every plan x policy x selection x verdict against a table
 * written out by hand) and the quoting helpers.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "hookops.h"
#include "xalloc.h"

static void
test_op_tables(void **state)
{
    static const char *const ops[] = {
        "start", "stopped", "prepare", "release", "migrate", "started", "reconnect",
        "attach", "restore",
    };

    for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
        int op = hook_op_from_string(ops[i]);

        assert_true(op >= 0);
        assert_string_equal(hook_op_to_string((enum hook_op)op), ops[i]);
    }
    assert_int_equal(hook_op_from_string("prepare"), HOOK_OP_PREPARE);
    assert_int_equal(hook_op_from_string("restore"), HOOK_OP_RESTORE);
    /* future or bogus words */
    assert_int_equal(hook_op_from_string("define"), -1);
    assert_int_equal(hook_op_from_string("PREPARE"), -1);
    assert_int_equal(hook_op_from_string(""), -1);
    assert_int_equal(hook_subop_from_string("-"), HOOK_SUBOP_NONE);
    assert_int_equal(hook_subop_from_string("begin"), HOOK_SUBOP_BEGIN);
    assert_int_equal(hook_subop_from_string("end"), HOOK_SUBOP_END);
    assert_int_equal(hook_subop_from_string("middle"), -1);
    assert_int_equal(on_missing_from_string("refuse"), ON_MISSING_REFUSE);
    assert_int_equal(on_missing_from_string("ignore"), -1);
    assert_string_equal(on_missing_to_string(ON_MISSING_ENROLL), "enroll");
}

static void
test_mode_detection(void **state)
{
    assert_false(hook_mode_for_argv0("pvpanic-hook"));
    assert_false(hook_mode_for_argv0("/usr/sbin/pvpanic-hook"));
    assert_false(hook_mode_for_argv0("./hooks/pvpanic-hook"));
    assert_true(hook_mode_for_argv0("/etc/libvirt/hooks/qemu"));
    assert_true(hook_mode_for_argv0("/etc/libvirt/hooks/qemu.d/50-pvpanic"));
    assert_true(hook_mode_for_argv0("qemu"));
    assert_true(hook_mode_for_argv0("pvpanic-hook.old"));
    assert_true(hook_mode_for_argv0("/usr/sbin/pvpanic-hook/"));
    assert_true(hook_mode_for_argv0(""));
    assert_true(hook_mode_for_argv0(NULL));
}

static void
test_plan(void **state)
{
    for (int op = -1; op < HOOK_OP_LAST; op++) {
        for (int sub = -1; sub < HOOK_SUBOP_LAST; sub++) {
            enum hook_plan want = HOOK_PLAN_DRAIN;

            if (op == HOOK_OP_PREPARE && sub == HOOK_SUBOP_BEGIN)
                want = HOOK_PLAN_CHECK;
            if ((op == HOOK_OP_MIGRATE || op == HOOK_OP_RESTORE) && sub == HOOK_SUBOP_BEGIN)
                want = HOOK_PLAN_FILTER;
            if (hook_plan_for(op, sub) != want)
                fail_msg("op %d subop %d: plan %d, want %d", op, sub, hook_plan_for(op, sub),
                         want);
        }
    }
}

/* One letter per verdict: U(sable) M(issing) N(o model) X (unverifiable). */
static const struct {
    enum hook_plan plan;
    enum on_missing policy;
    bool selected;
    const char *actions;    /* for verdicts U M N X */
} decisions[] = {
    { HOOK_PLAN_DRAIN, ON_MISSING_ENROLL, true, "----" },
    { HOOK_PLAN_DRAIN, ON_MISSING_WARN, true, "----" },
    { HOOK_PLAN_DRAIN, ON_MISSING_REFUSE, true, "----" },
    { HOOK_PLAN_DRAIN, ON_MISSING_REFUSE, false, "----" },
    { HOOK_PLAN_CHECK, ON_MISSING_ENROLL, true, "-EWW" },
    { HOOK_PLAN_CHECK, ON_MISSING_WARN, true, "-WWW" },
    { HOOK_PLAN_CHECK, ON_MISSING_REFUSE, true, "-RRR" },
    { HOOK_PLAN_CHECK, ON_MISSING_ENROLL, false, "----" },
    { HOOK_PLAN_CHECK, ON_MISSING_WARN, false, "----" },
    { HOOK_PLAN_CHECK, ON_MISSING_REFUSE, false, "----" },
    { HOOK_PLAN_FILTER, ON_MISSING_ENROLL, true, "-NNN" },
    { HOOK_PLAN_FILTER, ON_MISSING_WARN, true, "-NNN" },
    { HOOK_PLAN_FILTER, ON_MISSING_REFUSE, true, "-NNN" },
    { HOOK_PLAN_FILTER, ON_MISSING_REFUSE, false, "----" },
};

static char
action_letter(enum hook_action a)
{
    switch (a) {
    case HOOK_ACTION_NOTHING: return '-';
    case HOOK_ACTION_NOTE: return 'N';
    case HOOK_ACTION_WARN: return 'W';
    case HOOK_ACTION_REFUSE: return 'R';
    case HOOK_ACTION_ENROLL: return 'E';
    }
    return '?';
}

static void
test_decide(void **state)
{
    static const enum hook_verdict verdicts[] = {
        HOOK_VERDICT_USABLE, HOOK_VERDICT_MISSING, HOOK_VERDICT_NO_MODEL,
        HOOK_VERDICT_UNVERIFIABLE,
    };

    for (size_t i = 0; i < ARRAY_SIZE(decisions); i++) {
        for (size_t v = 0; v < ARRAY_SIZE(verdicts); v++) {
            char got = action_letter(hook_decide(decisions[i].plan, decisions[i].policy,
                                                 decisions[i].selected, verdicts[v]));

            if (got != decisions[i].actions[v])
                fail_msg("row %zu verdict %zu: got %c, want %c", i, v, got,
                         decisions[i].actions[v]);
        }
    }
    assert_string_equal(hook_action_to_string(HOOK_ACTION_REFUSE), "refuse");
}

static void
test_metadata_policy(void **state)
{
    enum on_missing p = ON_MISSING_REFUSE;
    bool selected = true;

    assert_int_equal(hook_apply_metadata("warn", &p, &selected), 0);
    assert_int_equal(p, ON_MISSING_WARN);
    assert_true(selected);
    assert_int_equal(hook_apply_metadata("enroll", &p, &selected), 0);
    assert_int_equal(p, ON_MISSING_ENROLL);
    assert_int_equal(hook_apply_metadata("ignore", &p, &selected), 0);
    assert_false(selected);
    assert_int_equal(p, ON_MISSING_ENROLL);
    selected = true;
    assert_int_equal(hook_apply_metadata("Refuse", &p, &selected), -1);
    assert_int_equal(hook_apply_metadata("", &p, &selected), -1);
    assert_int_equal(p, ON_MISSING_ENROLL);
    assert_true(selected);
}

/* What bash reads back from @quoted as one word. */
static char *
bash_reads(const char *quoted)
{
    AUTOFREE char *script = xasprintf("printf '%%s' %s", quoted);
    int fds[2];
    char buf[4096];
    size_t len = 0;
    ssize_t n;
    int status = 0;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execlp("bash", "bash", "-c", script, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while ((n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    close(fds[0]);
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    buf[len] = '\0';
    return xstrdup(buf);
}

static void
test_shell_quote(void **state)
{
    static const char *const names[] = {
        "web-01", "patch", "--help", "-", "a b", "数据库", "x\"$(id)`x`", "it's",
        "tab\there", "new\nline", "back\\slash", "*", "~root", "a;rm -rf /", "$HOME",
        "'", "''", "",
    };

    static const char *const expected[][2] = {
        { "web-01", "web-01" },
        { "数据库", "数据库" },
        { "--help", "'--help'" },
        { "a b", "'a b'" },
        { "it's", "'it'\\''s'" },
        { "new\nline", "$'new\\x0aline'" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
        AUTOFREE char *q = shell_quote(expected[i][0]);

        assert_string_equal(q, expected[i][1]);
    }
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        AUTOFREE char *q = shell_quote(names[i]);
        AUTOFREE char *back = bash_reads(q);

        if (strcmp(back, names[i]) != 0)
            fail_msg("'%s' quoted as %s reads back as '%s'", names[i], q, back);
    }
}

static void
test_display_name(void **state)
{
    AUTOFREE char *a = display_name("web-01");
    AUTOFREE char *b = display_name("数据库");
    AUTOFREE char *c = display_name("new\nline\x7f");
    AUTOFREE char *d = display_name("bad\xff utf8");
    AUTOFREE char *e = display_name("");

    assert_string_equal(a, "web-01");
    assert_string_equal(b, "数据库");
    assert_string_equal(c, "new\\x0aline\\x7f");
    assert_string_equal(d, "bad\\xff utf8");
    assert_string_equal(e, "");
}

int
main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_tables),
        cmocka_unit_test(test_mode_detection),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_metadata_policy),
        cmocka_unit_test(test_shell_quote),
        cmocka_unit_test(test_display_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
