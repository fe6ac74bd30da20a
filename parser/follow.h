/*
 * follow.h: `pvpanic-watch follow`, the daemon.
 *
 *   tail engine (tail.h)  ->  detector (detect.h)  ->  sinks (sink.h)
 *        ^ positions              ^ resolver state         ^ alerted ids
 *        +------------- one state file (tail_state_save) --+
 *
 * Exactly-once: the detector re-reads, after a restart or kill -9, from the
 * start of the first record that was not complete when the state was last
 * saved. Events found again there have the same content-derived id; ids
 * already alerted (kept in the state and read back from the json sink's own
 * output) are not alerted again. The json sink is written and synced before
 * the state that moves past its event is saved, so no event is lost either.
 * Around a kill -9, syslog/exec alerts are at most once.
 */
#ifndef PVPANIC_FOLLOW_H
#define PVPANIC_FOLLOW_H

#include <stdint.h>

#include "conf.h"
#include "sink.h"

/* argv[0] is "follow". Returns the process exit status. */
int follow_main(int argc, char **argv);

/*
 * The keys of watch.conf that belong to the daemon: its own (state,
 * start_at, state_interval) and the sinks' ([sink ...], throttle_*).
 * watchconf_load_*() hands them over through follow_conf_entry(), so
 * `audit -c` and `follow -c` accept and check the same file.
 */
struct follow_conf {
    struct sinkset *ss;         /* borrowed: [sink] sections go here */
    char *state;                /* owned, NULL when not set */
    int start_at_head;          /* -1 not set, 0 end, 1 start */
    uint64_t state_interval_ms;
};

void follow_conf_init(struct follow_conf *fc, struct sinkset *ss);
void follow_conf_clear(struct follow_conf *fc);
/* A watchconf_extra_fn; @opaque is a struct follow_conf. */
int follow_conf_entry(const struct conf_entry *e, void *opaque, char **errmsg);

/*
 * The daemon's own part of the opaque blob in the state file: the paths
 * and how many detector sources each had ("path PATH N"; a line without N,
 * from an older state, means one), committed positions, recently alerted
 * ids; then
 * "end" and the detector's state (detect_save_state()) from
 * @detector_offset on. Parsed by a pure function so it can be fuzzed
 * (tests/fuzz/fuzz_followstate.c); follow_main() applies the result.
 */
struct follow_blob_pos {
    uint64_t dev;
    uint64_t ino;
    uint64_t offset;
    uint64_t line;
};

/* More detector sources than this for one path is a corrupt state. */
#define FOLLOW_MAX_SOURCES_PER_PATH 4096

struct follow_blob {
    char **paths;               /* non-empty, NUL-free */
    size_t *path_sources;       /* detector sources saved for each path (>= 1) */
    size_t npaths;
    struct follow_blob_pos *pos;
    size_t npos;
    char **alerted;             /* as written; the caller ignores malformed ids */
    size_t nalerted;
    size_t detector_offset;     /* where the detector's part starts (<= len) */
};

/* 0, or -EINVAL (wrong magic, malformed line): then *@out is empty. */
int follow_blob_parse(const char *blob, size_t len, struct follow_blob *out);
void follow_blob_clear(struct follow_blob *b);

#endif /* PVPANIC_FOLLOW_H */
