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

/* argv[0] is "follow". Returns the process exit status. */
int follow_main(int argc, char **argv);

#endif /* PVPANIC_FOLLOW_H */
