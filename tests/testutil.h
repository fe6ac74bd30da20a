/*
 * testutil.h: helpers shared by the cmocka test programs.
 */
#ifndef PVPANIC_TESTUTIL_H
#define PVPANIC_TESTUTIL_H

#include <stddef.h>

/* "$abs_top_srcdir/tests/data/" + @rel (caller frees). */
char *testutil_datapath(const char *rel);

/* Whole file (caller frees); fails the test when it cannot be read. */
char *testutil_read_file(const char *path, size_t *len);

/*
 * Golden-file compare. With REGENERATE_OUTPUT=1 in the environment the file
 * is (re)written and the check passes; otherwise a mismatch prints both the
 * first differing line and the expected/actual lengths. Returns 0 on match.
 */
int testutil_compare_to_file(const char *actual, size_t len, const char *expected_path);

/* A fresh directory under $TMPDIR (caller frees) and a recursive remove. */
char *testutil_mkdtemp(void);
void testutil_rmtree(const char *dir);

/* Capture everything log_*() emits until testutil_log_capture_end(). */
void testutil_log_capture_begin(void);
/* All captured messages, one per line (borrowed until the next begin/end). */
const char *testutil_log_captured(void);
void testutil_log_capture_end(void);

#endif /* PVPANIC_TESTUTIL_H */
