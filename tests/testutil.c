#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileutil.h"
#include "log.h"
#include "strbuf.h"
#include "testutil.h"
#include "xalloc.h"

char *
testutil_datapath(const char *rel)
{
    const char *top = getenv("abs_top_srcdir");

    return xasprintf("%s/tests/data/%s", top ? top : ".", rel);
}

char *
testutil_read_file(const char *path, size_t *len)
{
    char *buf = NULL;
    int rc = read_file_capped(path, 256u << 20, &buf, len);

    if (rc < 0)
        fail_msg("cannot read '%s': %s", path, strerror(-rc));
    return buf;
}

int
testutil_compare_to_file(const char *actual, size_t len, const char *expected_path)
{
    const char *regen = getenv("REGENERATE_OUTPUT");
    char *expected = NULL;
    size_t elen = 0;
    size_t i;
    size_t line = 1;
    int rc;

    if (regen && strcmp(regen, "1") == 0) {
        FILE *f = fopen(expected_path, "w");

        if (!f || fwrite(actual, 1, len, f) != len || fclose(f) != 0)
            fail_msg("cannot write '%s'", expected_path);
        return 0;
    }
    rc = read_file_capped(expected_path, 256u << 20, &expected, &elen);
    if (rc < 0) {
        print_error("cannot read expected output '%s': %s\n", expected_path, strerror(-rc));
        return -1;
    }
    for (i = 0; i < len && i < elen && actual[i] == expected[i]; i++) {
        if (actual[i] == '\n')
            line++;
    }
    if (i == len && i == elen) {
        free(expected);
        return 0;
    }
    print_error("%s: output differs at line %zu (expected %zu bytes, got %zu)\n",
                expected_path, line, elen, len);
    {
        size_t ls = i;

        while (ls > 0 && actual[ls - 1] != '\n')
            ls--;
        print_error("  expected: %.*s\n", (int)strcspn(expected + ls, "\n"),
                    ls <= elen ? expected + ls : "");
        print_error("  actual:   %.*s\n", (int)strcspn(actual + ls, "\n"), actual + ls);
    }
    free(expected);
    return -1;
}

char *
testutil_mkdtemp(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = xasprintf("%s/pvpanic-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");

    if (!mkdtemp(dir))
        fail_msg("mkdtemp: %s", strerror(errno));
    return dir;
}

static int
rmtree_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
testutil_rmtree(const char *dir)
{
    if (dir)
        nftw(dir, rmtree_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct strbuf captured = STRBUF_INIT;

static void
capture_cb(int priority, const char *msg, void *opaque)
{
    (void)priority;
    (void)opaque;
    strbuf_addstr(&captured, msg);
    strbuf_addch(&captured, '\n');
}

void
testutil_log_capture_begin(void)
{
    strbuf_reset(&captured);
    log_set_capture(capture_cb, NULL);
}

const char *
testutil_log_captured(void)
{
    return strbuf_str(&captured);
}

void
testutil_log_capture_end(void)
{
    log_set_capture(NULL, NULL);
    strbuf_release(&captured);
}
