/*
 * fileutil.h: the few file operations everything needs, done carefully.
 *
 * All functions return 0 on success or a negative errno; none of them logs
 * (the caller knows what the file is for and reports it once).
 */
#ifndef PVPANIC_FILEUTIL_H
#define PVPANIC_FILEUTIL_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Read @fd to EOF into a new NUL-terminated buffer (*@out, freed by the
 * caller; *@out_len excludes the NUL). More than @cap bytes: -EFBIG, and the
 * rest of the input is NOT consumed.
 */
int read_fd_capped(int fd, size_t cap, char **out, size_t *out_len);
/* Same for a path. */
int read_file_capped(const char *path, size_t cap, char **out, size_t *out_len);

/* Read and discard @fd to EOF (used to drain a pipe we must not leave full). */
int drain_fd(int fd, size_t cap);

/* write(2) all of @buf, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);

/*
 * Replace @path atomically with @data: a new file in the same directory
 * (O_EXCL|O_NOFOLLOW, mode @mode), fsync, rename over @path, fsync the
 * directory. On error @path is untouched and the temp file removed.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/*
 * Refuse a file that others could have written: it must be a regular file
 * owned by root or by the effective user and not writable by group or others.
 * Returns 0, -EPERM (bad owner/mode) or -errno from fstat.
 */
int check_file_secrecy(int fd);

/* Set O_CLOEXEC / O_NONBLOCK on an existing fd. */
int fd_set_cloexec(int fd);
int fd_set_nonblock(int fd);

#endif /* PVPANIC_FILEUTIL_H */
