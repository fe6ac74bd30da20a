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

#endif /* PVPANIC_FOLLOW_H */
