#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileutil.h"
#include "xalloc.h"

int
read_fd_capped(int fd, size_t cap, char **out, size_t *out_len)
{
    AUTOFREE char *buf = NULL;
    size_t len = 0;
    size_t alloc = 0;

    for (;;) {
        ssize_t n;

        if (alloc - len < 2) {
            size_t next = alloc ? alloc * 2 : 65536;

            /* One byte over the cap tells "exactly cap" from "more". */
            if (next > cap + 2)
                next = cap + 2;
            if (next <= alloc)
                return -EFBIG;
            buf = xreallocarray(buf, next, 1);
            alloc = next;
        }
        n = read(fd, buf + len, alloc - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > cap)
            return -EFBIG;
    }
    buf[len] = '\0';
    *out = steal_pointer(&buf);
    if (out_len)
        *out_len = len;
    return 0;
}

int
read_file_capped(const char *path, size_t cap, char **out, size_t *out_len)
{
    AUTOCLOSE int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return -errno;
    return read_fd_capped(fd, cap, out, out_len);
}

int
drain_fd(int fd, size_t cap)
{
    char buf[65536];
    size_t total = 0;

    while (total <= cap) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return 0;
        total += (size_t)n;
    }
    return -EFBIG;
}

int
write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
fsync_parent_dir(const char *path)
{
    AUTOFREE char *copy = xstrdup(path);
    AUTOCLOSE int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dfd < 0)
        return -errno;
    if (fsync(dfd) < 0 && errno != EINVAL)
        return -errno;
    return 0;
}

/* 32 random bits (getrandom), or a mix of time and @attempt where that fails. */
static unsigned int
temp_suffix(int attempt)
{
    unsigned int r = 0;
    struct timespec ts;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
        return r;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned int)ts.tv_nsec ^ ((unsigned int)ts.tv_sec << 20) ^ (unsigned int)attempt;
}

int
write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    AUTOFREE char *tmp = NULL;
    AUTOCLOSE int fd = -1;
    int rc;

    /*
     * O_EXCL|O_NOFOLLOW: a file or symlink planted at the temp name (in a
     * world-writable directory) is never written through; an unpredictable
     * suffix means nobody can plant all the names we would try either.
     * "PATH.tmp.PID." stays the prefix, for cleaning up after a crash.
     */
    for (int attempt = 0; fd < 0; attempt++) {
        free(tmp);
        tmp = xasprintf("%s.tmp.%ld.%08x", path, (long)getpid(), temp_suffix(attempt));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0 && (errno != EEXIST || attempt >= 16))
            return -errno;
    }
    /* O_CREAT honours the umask; the caller asked for exactly @mode. */
    if (fchmod(fd, mode) < 0)
        goto fail;
    if ((rc = write_all(fd, data, len)) < 0) {
        errno = -rc;
        goto fail;
    }
    if (fsync(fd) < 0)
        goto fail;
    if (close(steal_fd(&fd)) < 0)
        goto fail;
    if (rename(tmp, path) < 0)
        goto fail;
    return fsync_parent_dir(path);

 fail:
    rc = -errno;
    unlink(tmp);
    return rc;
}

int
check_file_secrecy(int fd)
{
    struct stat sb;

    if (fstat(fd, &sb) < 0)
        return -errno;
    if (!S_ISREG(sb.st_mode))
        return -EPERM;
    if (sb.st_uid != 0 && sb.st_uid != geteuid())
        return -EPERM;
    if (sb.st_mode & (S_IWGRP | S_IWOTH))
        return -EPERM;
    return 0;
}

int
fd_set_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);

    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
        return -errno;
    return 0;
}

int
fd_set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}
