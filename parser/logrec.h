/*
 * logrec.h: streaming record splitter for libvirt logs.
 *
 * A record is one line that starts with a timestamp plus every following
 * line that does not (libvirt writes multi-line messages such as
 * "QEMU_MONITOR_SEND_MSG ... msg={...}\n fd=-1"). Two timestamp shapes
 * start a record:
 *
 *   2026-11-25 17:27:29.975+0000: ...     libvirt (daemon and per-domain logs)
 *   2026-11-25T17:31:32.130083Z ...       QEMU's own -msg timestamp=on lines
 *
 * Bytes go in as arbitrary chunks; the callback sees exactly the same
 * records, offsets and line numbers whatever the chunking (feeding byte by
 * byte or 1 MB at a time gives identical results). Memory is bounded: at
 * most @max_keep bytes of a record are kept, the rest is skipped but
 * counted, and the record after a huge one is never lost. A CR right before
 * a LF is dropped; NUL bytes and invalid UTF-8 pass through untouched.
 *
 * Each record is reported twice:
 *   LOGREC_HEAD    as soon as its first line is complete (text = that line),
 *                  so a follower reacts without waiting for the next line;
 *   LOGREC_RECORD  once it is complete, i.e. when the next record's first
 *                  line is complete or at logrec_finish() (text = all lines
 *                  joined with '\n').
 * Leading lines without a timestamp (a file opened mid-record) form one
 * record with has_timestamp == false.
 *
 * No I/O, no logging: a pure function of the bytes fed.
 */
#ifndef PVPANIC_LOGREC_H
#define PVPANIC_LOGREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default cap on the bytes kept of one record (the rest is counted only). */
#define LOGREC_DEFAULT_MAX_KEEP (64 * 1024)
/* Smallest accepted cap: a timestamp and a message prefix must always fit. */
#define LOGREC_MIN_KEEP 128

enum logrec_ts {
    LOGREC_TS_NONE = 0,
    LOGREC_TS_LIBVIRT,      /* "YYYY-MM-DD HH:MM:SS.mmm+0000: " */
    LOGREC_TS_ISO,          /* "YYYY-MM-DDTHH:MM:SS[.frac]Z " */
};

enum logrec_what {
    LOGREC_HEAD,
    LOGREC_RECORD,
};

struct logrec {
    /*
     * Borrowed, valid only during the callback; NOT NUL-terminated and may
     * contain NUL bytes. At most max_keep bytes.
     */
    const char *text;
    size_t len;
    /* Length of the whole text before truncation (== len unless truncated). */
    uint64_t full_len;
    bool truncated;
    enum logrec_ts ts;      /* LOGREC_TS_NONE: orphan continuation lines */
    uint64_t start;         /* stream offset of the first byte */
    /*
     * Stream offset just past the record's last byte (past its last '\n',
     * or the end of input for an unterminated last line). For LOGREC_HEAD:
     * past the first line.
     */
    uint64_t end;
    uint64_t line;          /* 1-based line number of the first line */
    unsigned int nlines;    /* lines in the record (1 for LOGREC_HEAD) */
};

typedef void (*logrec_fn)(enum logrec_what what, const struct logrec *rec, void *opaque);

struct logrec_splitter;

/*
 * New splitter calling @fn for every record. @max_keep: bytes kept per
 * record (0 = LOGREC_DEFAULT_MAX_KEEP, raised to LOGREC_MIN_KEEP). Free with
 * logrec_free().
 */
struct logrec_splitter *logrec_new(size_t max_keep, logrec_fn fn, void *opaque);
void logrec_free(struct logrec_splitter *sp);

/* Feed the next @len bytes of the stream (any chunk size, including 0). */
void logrec_feed(struct logrec_splitter *sp, const void *data, size_t len);

/*
 * End of input: an unterminated last line counts as a line and the last
 * record is delivered. The splitter is then ready for a new stream that
 * continues at the same offset (as after logrec_set_position()).
 */
void logrec_finish(struct logrec_splitter *sp);

/*
 * Offset and line number of the start of the first record that is not yet
 * complete (LOGREC_RECORD not delivered). Re-feeding the stream from there
 * with logrec_set_position() reproduces every record not yet completed. When
 * nothing is pending this is the current stream offset.
 */
uint64_t logrec_pending_offset(const struct logrec_splitter *sp);
uint64_t logrec_pending_line(const struct logrec_splitter *sp);

/* Bytes fed so far (stream offset of the next byte). */
uint64_t logrec_offset(const struct logrec_splitter *sp);

/*
 * Forget any partial record and continue as if the stream started at
 * @offset with line number @line (1-based line number of the line that
 * starts there). Used to resume at a persisted position or after a file was
 * truncated (offset 0, line 1).
 */
void logrec_set_position(struct logrec_splitter *sp, uint64_t offset, uint64_t line);

/*
 * Which timestamp, if any, starts the line at @p (@len bytes available).
 * Returns LOGREC_TS_NONE when the bytes do not form one; needs at most
 * LOGREC_TS_PROBE bytes to decide.
 */
#define LOGREC_TS_PROBE 32
enum logrec_ts logrec_timestamp_kind(const char *p, size_t len);

#endif /* PVPANIC_LOGREC_H */
