/*
 * test_fileutil: capped reads, atomic replacement and the secrecy check.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileutil.h"
#include "testutil.h"
#include "xalloc.h"

static void
test_read_capped(void **state)
{
    int fds[2];
    char *buf = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write_all(fds[1], "hello", 5), 0);
    close(fds[1]);
    assert_int_equal(read_fd_capped(fds[0], 5, &buf, &len), 0);
    close(fds[0]);
    assert_int_equal(len, 5);
    assert_string_equal(buf, "hello");
    free(buf);

    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write_all(fds[1], "hello!", 6), 0);
    close(fds[1]);
    buf = NULL;
    assert_int_equal(read_fd_capped(fds[0], 5, &buf, &len), -EFBIG);
    assert_null(buf);
    close(fds[0]);

    assert_int_equal(read_file_capped("/nonexistent/x", 10, &buf, &len), -ENOENT);
}

static void
test_read_large(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *path = xasprintf("%s/big", dir);
    AUTOFREE char *data = xmalloc(3 << 20);
    char *buf = NULL;
    size_t len = 0;

    (void)state;
    for (size_t i = 0; i < (3u << 20); i++)
        data[i] = (char)('a' + i % 26);
    assert_int_equal(write_file_atomic(path, data, 3u << 20, 0600), 0);
    assert_int_equal(read_file_capped(path, 3u << 20, &buf, &len), 0);
    assert_int_equal(len, 3u << 20);
    assert_memory_equal(buf, data, len);
    free(buf);
    assert_int_equal(read_file_capped(path, (3u << 20) - 1, &buf, &len), -EFBIG);
    testutil_rmtree(dir);
}

static void
test_atomic_write(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *path = xasprintf("%s/state", dir);
    AUTOFREE char *link = xasprintf("%s/link", dir);
    char *buf = NULL;
    size_t len = 0;
    struct stat sb;
    DIR *d;
    struct dirent *de;
    int entries = 0;

    (void)state;
    assert_int_equal(write_file_atomic(path, "one", 3, 0600), 0);
    assert_int_equal(write_file_atomic(path, "two!", 4, 0600), 0);
    assert_int_equal(read_file_capped(path, 100, &buf, &len), 0);
    assert_string_equal(buf, "two!");
    free(buf);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    /* No temp files left behind. */
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d)))
        entries += de->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 1);

    /* A symlink at the target is replaced, never followed. */
    assert_int_equal(symlink("/etc/passwd-should-not-be-touched", link), 0);
    assert_int_equal(write_file_atomic(link, "x", 1, 0600), 0);
    assert_int_equal(lstat(link, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));

    /* Unwritable directory: error, nothing created. */
    assert_true(write_file_atomic("/nonexistent-dir/state", "x", 1, 0600) < 0);
    testutil_rmtree(dir);
}

static void
test_secrecy(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *path = xasprintf("%s/conf", dir);
    AUTOCLOSE int fd = -1;

    (void)state;
    assert_int_equal(write_file_atomic(path, "x", 1, 0644), 0);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(check_file_secrecy(fd), 0);
    assert_int_equal(fchmod(fd, 0664), 0);
    assert_int_equal(check_file_secrecy(fd), -EPERM);
    assert_int_equal(fchmod(fd, 0646), 0);
    assert_int_equal(check_file_secrecy(fd), -EPERM);
    close(steal_fd(&fd));
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_int_equal(check_file_secrecy(fd), -EPERM);
    testutil_rmtree(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_capped),
        cmocka_unit_test(test_read_large),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_secrecy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
