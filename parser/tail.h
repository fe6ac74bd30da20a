/*
 * tail.h: follow a set of log files the way `tail -F` should, and hand their
 * bytes to a consumer. Knows nothing about the log syntax.
 *
 * Model
 *   A *name* is a path to follow (tail_add_path) or a file name found by a
 *   glob whose directory is watched (tail_add_glob). A *source* is one byte
 *   stream: one file (st_dev, st_ino) read from a starting offset until it
 *   is truncated, or rotated away and drained. Every source has an id that is
 *   never reused within one struct tail; the consumer keys its partial-line
 *   buffer on it. The engine does no buffering of its own: bytes are handed
 *   out as they are read, with their absolute offset in the file.
 *
 *   The consumer says what it has fully processed with tail_commit(source,
 *   offset) (normally: the start of its last incomplete record). Only
 *   committed offsets are saved in the state file, so after a restart the
 *   uncommitted bytes are delivered again.
 *
 * What it survives (tested in tests/test_tail.c and tests/tail_*.sh):
 *   rename rotation (the old file is drained to EOF, late writes included
 *   for rotate_wait ms, then the new file is read from 0), double rotation,
 *   copytruncate (size below the offset, or content before the offset /
 *   at the head changed: a 64-byte head and a 32-byte offset marker),
 *   delete + recreate, files and directories appearing later, the directory
 *   removed and recreated, symlink retargeting, non-regular files at the
 *   path (diagnosed, not opened), NUL runs at line starts (copytruncate with
 *   a writer that lacks O_APPEND). inotify is a hint: every wake-up fstat()s
 *   and compares; a periodic reconcile and IN_Q_OVERFLOW re-check everything.
 *   Where inotify cannot be used (inotify_init1 fails, ENOSPC/ENOMEM from
 *   inotify_add_watch, remote file systems by fstatfs f_type) the file is
 *   polled, and that is logged once per file and reason (the watch limit,
 *   a host setting, is warned about once; each further file or directory
 *   it keeps out is noted at info level). Log files never take the last
 *   32 descriptors (the state file, sinks and exec children need some);
 *   files the open file limit keeps out are retried, and that is warned
 *   about once.
 *   Files rotated away before the engine saw them (two rotations between
 *   two looks, or while stopped) are found among the siblings named
 *   "P.N" / "P-N" by birth time (statx btime) and read from 0, oldest first.
 *
 * Limits (by design): lines written between copy and truncate of a
 *   copytruncate are lost (inherent, logrotate(8)); a rotated file moved to
 *   another directory, compressed or deleted while we were stopped cannot
 *   be finished; writes to a rotated file after rotate_wait are not read;
 *   a symlink whose target changes in a directory we do not watch is
 *   noticed at the next reconcile (reconcile_ms), not at once; the
 *   "missed files" search needs btime (ext4, xfs, btrfs, tmpfs >= 6.x) and
 *   is not kept for a glob match whose name stays missing.
 *
 * Concurrency: a struct tail is used by one thread. Callbacks are called
 * only from tail_process() and may call tail_commit() and the read-only
 * getters, but not tail_process(), tail_add_*() or tail_free().
 *
 * Errors: functions return 0 or a negative errno. Problems with the
 * followed files are logged (once) and never returned: the engine keeps
 * following everything else.
 */
#ifndef PVPANIC_TAIL_H
#define PVPANIC_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tail;

struct tail_opts {
    size_t read_chunk;              /* bytes per read(2) (4 KiB .. 64 MiB) */
    size_t read_budget;             /* max bytes per file per tail_process() */
    unsigned int poll_interval_ms;  /* polled files/dirs are checked this often */
    unsigned int reconcile_ms;      /* safety-net re-check of everything */
    unsigned int rotate_wait_ms;    /* keep reading a rotated file this long */
    unsigned int max_rotated;       /* rotated files kept open at once */
    bool start_at_head;             /* no usable state: read existing files from 0 */
    bool force_poll;                /* never use inotify */
    bool keep_nul;                  /* deliver NUL runs at line starts as is */
};

/*
 * Defaults: read_chunk 256 KiB, read_budget 1 MiB, poll_interval_ms 500,
 * reconcile_ms 1000, rotate_wait_ms 5000, max_rotated 64, start at the END
 * of existing files (the start of their last incomplete line), inotify on,
 * NUL runs skipped.
 */
void tail_opts_init(struct tail_opts *opts);

/*
 * Create an engine. Returns 0 and *@out (free with tail_free), or -EINVAL
 * for out-of-range options, or -errno when epoll/timerfd cannot be created.
 * An inotify failure is not an error: everything is polled (logged once).
 */
int tail_new(const struct tail_opts *opts, struct tail **out);

/* Closes every fd and watch. No callback is called. NULL is a no-op. */
void tail_free(struct tail *t);

/*
 * Follow @path (copied; a relative path is made absolute against the
 * current directory now). The file, and any of its parent directories, may
 * not exist yet: the nearest existing ancestor is watched. A symlink is
 * followed; retargeting it counts as a rotation.
 * Returns 0, -EEXIST (already followed), -EINVAL (empty or too long).
 */
int tail_add_path(struct tail *t, const char *path);

/*
 * Follow every regular file in a directory whose name matches a
 * fnmatch(3) pattern, now and whenever one appears (read from 0 when it
 * appears after the start). Only the last component may contain wildcards
 * (libvirt's per-domain logs: directory /var/log/libvirt/qemu, last
 * component "*.log"). Leading dots must be matched explicitly (FNM_PERIOD).
 * Returns 0, -EEXIST, or -EINVAL (wildcards in the directory part, empty).
 *
 * Both tail_add_* may be called after the first tail_process(): the new
 * name then starts like at startup (existing file: at its end).
 */
int tail_add_glob(struct tail *t, const char *pattern);

/* Why a source was opened. */
enum tail_open_reason {
    TAIL_OPEN_START,      /* existed at start, no usable state: at its end (or 0) */
    TAIL_OPEN_RESUME,     /* state matched: at the committed offset */
    TAIL_OPEN_NEW,        /* appeared after the start (or while we were down): 0 */
    TAIL_OPEN_ROTATED,    /* the path now names another file (rename/symlink): 0 */
    TAIL_OPEN_RECREATED,  /* the old file was deleted and a new one created: 0 */
    TAIL_OPEN_TRUNCATED,  /* same file, truncated or rewritten: 0 */
    TAIL_OPEN_LAST
};

/* Why a source ended. */
enum tail_close_reason {
    TAIL_CLOSE_DRAINED,    /* rotated/deleted file read to its end (grace over) */
    TAIL_CLOSE_TRUNCATED,  /* content replaced; a TRUNCATED source follows */
    TAIL_CLOSE_EVICTED,    /* too many rotated files open: read to EOF and closed */
    TAIL_CLOSE_ERROR,      /* read error (logged); the name is re-opened later */
    TAIL_CLOSE_LAST
};

/* "start", "resume", ... / "drained", ... (static strings). */
const char *tail_open_reason_str(enum tail_open_reason r);
const char *tail_close_reason_str(enum tail_close_reason r);

struct tail_source {
    uint64_t id;
    const char *path;      /* name it was found under (borrowed, valid in the callback) */
    dev_t dev;
    ino_t ino;
    off_t offset;          /* first offset that will be delivered */
    enum tail_open_reason reason;
    bool polled;           /* followed by polling, not inotify */
};

/*
 * The consumer. @data gets @len > 0 bytes found at @offset of source @id.
 * Offsets of one source only grow; they may jump forward (skipped NUL runs)
 * and a source always starts at tail_source.offset. @closed is called after
 * the last @data of a source; an unterminated last line of a rotated file
 * will never be completed, so the consumer should flush it then. Any member
 * may be NULL. @buf is valid only during the call.
 */
struct tail_callbacks {
    void (*opened)(void *opaque, const struct tail_source *src);
    void (*data)(void *opaque, uint64_t id, off_t offset, const char *buf, size_t len);
    void (*closed)(void *opaque, uint64_t id, enum tail_close_reason reason);
};

/*
 * One pollable fd (an epoll set of the inotify fd and an internal timer):
 * readable whenever tail_process() has work. The engine owns it.
 */
int tail_get_fd(const struct tail *t);

/*
 * Milliseconds until tail_process() should run again even if the fd stays
 * quiet (0 = now), for callers that poll with a timeout instead of the fd.
 */
int tail_next_timeout_ms(const struct tail *t);

/*
 * Do everything that is due: the first call opens all names (using a loaded
 * state, see tail_state_load), later calls read inotify events, reconcile,
 * read new bytes, close drained files. Never blocks. Returns 0, or -errno
 * only for a failure of the engine itself (reading its inotify fd).
 */
int tail_process(struct tail *t, const struct tail_callbacks *cb, void *opaque);

/*
 * Everything before @offset of source @id is processed. Call it from the
 * data callback or later. @offset may lag behind what was delivered (the
 * engine keeps no copy; only the saved position depends on it).
 * Returns 0, -ENOENT (unknown or already closed source: harmless), -EINVAL
 * (@offset beyond the delivered bytes, before the source start, or before
 * the previous commit).
 */
int tail_commit(struct tail *t, uint64_t id, off_t offset);

/*
 * Position state: path, dev, ino, committed offset and the two fingerprints
 * of every open source (active and rotated-being-drained), the followed
 * names, and @blob (the caller's opaque bytes, e.g. the detector's resolver
 * state and recently alerted event ids, so both are saved together).
 * Written with write_file_atomic() (temp + fsync + rename + dir fsync), mode
 * 0600; a symlink at @path is replaced, never followed. Returns 0 or -errno
 * (logged once per failure streak).
 */
int tail_state_save(struct tail *t, const char *path, const void *blob, size_t blob_len);

/*
 * Read the state at @path (O_NOFOLLOW; must be a regular file not writable
 * by group/others). Must be called before the first tail_process(). On
 * success returns 0 and the blob in *@out_blob / *@out_len (caller frees;
 * NULL/0 when empty); the first tail_process() resumes every file whose
 * identity and fingerprints match, drains files that were rotated while we
 * were down (found by dev/ino among the siblings of their old path), and
 * reads from 0 files that changed or appeared while we were down.
 * On failure nothing is restored and existing files start per
 * opts.start_at_head: -ENOENT (no file; logged at info), -EINVAL/-ENOTSUP
 * (corrupt / other version; logged once as a warning), -EPERM (unsafe
 * owner/mode), -ELOOP (a symlink), -EBUSY (called after tail_process).
 */
int tail_state_load(struct tail *t, const char *path, char **out_blob, size_t *out_len);

/* Is there something new to save (a commit or an open/close since the last save)? */
bool tail_state_dirty(const struct tail *t);

struct tail_stats {
    uint64_t files_open;       /* sources open now (active + rotated) */
    uint64_t files_rotated_open;
    uint64_t names;            /* names followed now (paths + glob matches) */
    uint64_t sources_opened;   /* cumulative from here on */
    uint64_t bytes_read;
    uint64_t reads;
    uint64_t rotations;
    uint64_t truncations;
    uint64_t polled_files;     /* now */
    uint64_t queue_overflows;
    uint64_t nul_bytes_skipped;
    uint64_t errors;
};
void tail_get_stats(const struct tail *t, struct tail_stats *out);

#endif /* PVPANIC_TAIL_H */
