/*
 * tailstate.h: the position-state file of the tail follower, as pure
 * functions (text <-> struct, no I/O) so they can be unit-tested and fuzzed.
 *
 * The file is line-oriented text, then a raw opaque blob, then a checksum:
 *
 *   # pvpanic tail state: written atomically by the follower, do not edit
 *   version 1
 *   saved 1727713849
 *   watch /var/log/libvirt/libvirtd.log
 *   watch /var/log/libvirt/qemu/[a-z]*.log
 *   file active 2049 131081 52311 64:9ae16a3b2f90404f 32:0c1b7dbe2f5e0a11 1727713000.123456789 0 /var/log/libvirt/libvirtd.log
 *   file rotated 2049 131077 9001 64:... 32:... 1727700000.5 1727713840250 /var/log/libvirt/libvirtd.log.1
 *   anchor 1727713000.123456789 /var/log/libvirt/qemu/vm1.log
 *   blob 11
 *   <11 raw bytes>
 *   checksum 5f0c9a31be2d41c7
 *
 * "file" fields: role, st_dev, st_ino, committed offset, head fingerprint
 * (FNV-1a 64 of the first LEN bytes of the file), offset marker (FNV-1a 64
 * of the LEN bytes just before the committed offset), birth time (statx
 * btime, "-" if unknown), when it was rotated away (Unix ms, 0 if active),
 * then its path. An "anchor" says: the file last followed at PATH was born
 * at BTIME and was rotated away, and no file has been followed there since
 * (files born after it were never read). Paths and patterns are
 * percent-escaped (bytes <= 0x20, '%', 0x7f and above become %XX). The
 * checksum is FNV-1a 64 over every byte before the "checksum" line, so a
 * torn or edited file is recognised.
 *
 * Compatibility: another "version" is refused; unknown keywords inside
 * version 1 are skipped, so version-1 readers accept additive extensions.
 */
#ifndef PVPANIC_TAILSTATE_H
#define PVPANIC_TAILSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAILSTATE_VERSION 1
/* Hard limits the parser enforces (a bigger file is "corrupt"). */
#define TAILSTATE_MAX_SIZE  (64u << 20)   /* whole file */
#define TAILSTATE_MAX_BLOB  (32u << 20)
#define TAILSTATE_MAX_FILES 65536u
#define TAILSTATE_MAX_WATCH 4096u
#define TAILSTATE_MAX_ANCHORS 65536u
/* Fingerprint sizes the follower uses (the parser accepts 0..these). */
#define TAILSTATE_HEAD_MAX 64u
#define TAILSTATE_MARK_MAX 32u

struct tailstate_btime {
    int64_t sec;
    uint32_t nsec;           /* < 1e9 */
    bool known;
};

enum tailstate_role {
    TAILSTATE_ACTIVE,   /* the file currently at its path */
    TAILSTATE_ROTATED,  /* renamed/deleted away, still being drained */
};

struct tailstate_file {
    char *path;              /* owned */
    enum tailstate_role role;
    uint64_t dev;
    uint64_t ino;
    uint64_t offset;         /* everything before it was processed */
    uint32_t head_len;
    uint64_t head_hash;
    uint32_t mark_len;
    uint64_t mark_hash;
    struct tailstate_btime btime;
    int64_t rotated_ms;      /* Unix ms when rotated away; 0 when active */
};

struct tailstate_anchor {
    char *path;              /* owned */
    struct tailstate_btime btime;
};

struct tailstate {
    int64_t saved_at;        /* time(2) when written; informational */
    char **watch;            /* paths and glob patterns followed when saved */
    size_t nwatch;
    struct tailstate_file *files;
    size_t nfiles;
    struct tailstate_anchor *anchors;
    size_t nanchors;
    char *blob;              /* the caller's opaque bytes (owned, may be NULL) */
    size_t blob_len;
};

/* 64-bit FNV-1a: the fingerprint and checksum hash (not cryptographic). */
uint64_t tailstate_hash(const void *data, size_t len);

/* A new empty state (free with tailstate_free). */
struct tailstate *tailstate_new(void);
void tailstate_free(struct tailstate *st);

/* Append a copy of @pattern / of @f (its path is copied too). */
void tailstate_add_watch(struct tailstate *st, const char *pattern);
void tailstate_add_file(struct tailstate *st, const struct tailstate_file *f);
void tailstate_add_anchor(struct tailstate *st, const char *path,
                          const struct tailstate_btime *btime);

/*
 * Serialize @st. Returns a new buffer (caller frees) of *@out_len bytes.
 */
char *tailstate_format(const struct tailstate *st, size_t *out_len);

/*
 * Parse @len bytes of @text (need not be NUL-terminated; any bytes at all).
 * Returns 0 and a new state in *@out (caller frees with tailstate_free), or
 * -EINVAL (malformed, truncated, checksum mismatch, over a limit) or
 * -ENOTSUP (another version) with a one-line reason in *@errmsg (caller
 * frees; "line N: ..."). Nothing is logged. Never reads outside @text.
 */
int tailstate_parse(const char *text, size_t len, struct tailstate **out, char **errmsg);

/* Does @st list @pattern among its "watch" lines? */
bool tailstate_has_watch(const struct tailstate *st, const char *pattern);

#endif /* PVPANIC_TAILSTATE_H */
