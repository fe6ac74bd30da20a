/*
 * fuzz_followstate: what `pvpanic-watch follow` reads back from its state
 * file after a restart, on arbitrary bytes: its own part of the blob
 * (follow_blob_parse()) and the detector state behind it
 * (detect_load_state(): resolver tables, events being assembled or held,
 * panics waiting for their worker record, recent ids, positions).
 *
 * Input: byte 0 = flags, the rest = the blob.
 *   flag 1: the rest is only the detector's part (the daemon's part is
 *           "pvpanic-follow 1\n" + two paths, one with two sources, +
 *           "end\n"), so mutations go straight into detect_load_state();
 *   flag 2: hold_ms = 0.
 *
 * Checks beyond "no crash, no leak, no UB":
 *   - a refused blob leaves nothing behind; a refused detector state
 *     leaves the detector as new (it saves like a fresh one);
 *   - an accepted detector state saves, loads into a fresh detector and
 *     saves again to the same text;
 *   - both restored detectors then give the same events for the same log
 *     bytes (the restored state is usable, not only parseable).
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "follow.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char default_part[] =
    "pvpanic-follow 1\n"
    "path /var/log/libvirt/libvirtd.log 2\n"
    "path /var/log/libvirt/qemu/web%2001.log\n"
    "end\n";

/* A few records that touch every table the state restores. */
static const char sample_log[] =
    "2026-11-25 17:27:29.000+0000: 14181: debug : qemuProcessWaitForMonitor:2291 : Connect "
    "monitor to vm=0x5625600b8000 name='web 01'\n"
    "2026-11-25 17:27:29.001+0000: 14181: info : qemuMonitorOpenInternal:647 : "
    "QEMU_MONITOR_NEW: mon=0x7f3a24011010 fd=32\n"
    "2026-11-25 17:27:29.975+0000: 15000: info : qemuMonitorJSONIOProcessLine:203 : "
    "QEMU_MONITOR_RECV_EVENT: mon=0x7f3a24011010 event={\"timestamp\": {\"seconds\": "
    "1795627649, \"microseconds\": 975000}, \"event\": \"GUEST_PANICKED\", \"data\": "
    "{\"action\": \"pause\"}}\n"
    "2026-11-25 17:27:29.976+0000: 14343: debug : processGuestPanicEvent:3545 : Preserving "
    "lock state '<null>'\n"
    "2026-11-25 17:27:30.100+0000: 14181: info : qemuMonitorClose:782 : QEMU_MONITOR_CLOSE: "
    "mon=0x7f3a24011010\n";

/* The same rule as follow's domain_of_path(): qemu/NAME.log names NAME. */
static char *
domain_of(const char *path)
{
    const char *base = strrchr(path, '/');
    size_t len;

    if (!base || base - path < 5 || memcmp(base - 5, "/qemu", 5) != 0)
        return NULL;
    base++;
    len = strlen(base);
    if (len <= 4 || strcmp(base + len - 4, ".log") != 0)
        return NULL;
    return xstrndup(base, len - 4);
}

static void
collect(const struct pv_event *ev, void *opaque)
{
    pv_event_to_json(ev, opaque);
    strbuf_addch(opaque, '\n');
}

/* The detector sources follow creates from the blob: path_sources[i] per path. */
struct sources {
    char **paths;
    size_t n;
};

static struct detect *
new_detector(const struct sources *srcs, bool hold0, struct strbuf *events)
{
    struct detect_config cfg;
    struct detect *det;

    detect_config_init(&cfg);
    cfg.max_keep = 4096;
    if (hold0)
        cfg.hold_ms = 0;
    det = detect_new(&cfg, collect, events);
    for (size_t i = 0; i < srcs->n; i++) {
        char *domain = domain_of(srcs->paths[i]);

        detect_add_source(det, srcs->paths[i], domain ? DETECT_SOURCE_DOMAIN : DETECT_SOURCE_AUTO,
                          domain);
        free(domain);
    }
    return det;
}

static char *
saved(const struct detect *det)
{
    struct strbuf out = STRBUF_INIT;

    detect_save_state(det, &out);
    return strbuf_detach(&out, NULL);
}

/* Feed the sample to every source the way follow would after a restart. */
static void
run_sample(struct detect *det, size_t nsrc)
{
    for (size_t i = 0; i < nsrc; i++) {
        uint64_t line = 0;

        (void)detect_source_resume_offset(det, (int)i, &line);
        detect_feed(det, (int)i, sample_log, sizeof(sample_log) - 1);
        detect_tick(det, 1795627700000);
    }
    detect_finish(det);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool initialised;
    struct strbuf input = STRBUF_INIT;
    struct strbuf ev1 = STRBUF_INIT;
    struct strbuf ev2 = STRBUF_INIT;
    struct strbuf scratch = STRBUF_INIT;
    struct follow_blob b;
    struct sources srcs = { 0 };
    struct detect *det;
    struct detect *det2;
    struct detect *fresh;
    const char *rest;
    size_t rest_len;
    char *s1;
    char *s2;
    bool hold0;

    if (!initialised) {
        log_init("fuzz_followstate", LOG_DEST_NONE, 0);
        initialised = true;
    }
    if (size < 1)
        return 0;
    hold0 = data[0] & 2;
    if (data[0] & 1)
        strbuf_addstr(&input, default_part);
    strbuf_add(&input, data + 1, size - 1);

    if (follow_blob_parse(input.buf, input.len, &b) < 0) {
        if (b.npaths || b.npos || b.nalerted || b.paths || b.pos || b.alerted)
            abort();
        strbuf_release(&input);
        return 0;
    }
    if (b.detector_offset > input.len)
        abort();
    /*
     * As follow's blob_restore(): for each distinct path, as many detector
     * sources (sharing its name) as the blob says (a repeated path: once).
     */
    for (size_t i = 0; i < b.npaths; i++) {
        bool dup = false;

        if (!b.paths[i][0] || b.path_sources[i] < 1 ||
            b.path_sources[i] > FOLLOW_MAX_SOURCES_PER_PATH)
            abort();
        for (size_t k = 0; k < srcs.n && !dup; k++)
            dup = strcmp(srcs.paths[k], b.paths[i]) == 0;
        for (size_t k = 0; !dup && k < b.path_sources[i] && srcs.n < 64; k++) {
            srcs.paths = xreallocarray(srcs.paths, srcs.n + 1, sizeof(*srcs.paths));
            srcs.paths[srcs.n++] = b.paths[i];
        }
    }
    rest = input.buf + b.detector_offset;
    rest_len = input.len - b.detector_offset;

    det = new_detector(&srcs, hold0, &ev1);
    if (detect_load_state(det, rest, rest_len) < 0) {
        /* refused: the detector must be as new */
        fresh = new_detector(&srcs, hold0, &scratch);
        s1 = saved(det);
        s2 = saved(fresh);
        if (strcmp(s1, s2) != 0) {
            fprintf(stderr, "fuzz_followstate: a refused state left something behind:\n%s---\n%s",
                    s1, s2);
            abort();
        }
        free(s1);
        free(s2);
        detect_free(fresh);
        run_sample(det, srcs.n);
        detect_free(det);
        goto out;
    }

    s1 = saved(det);
    det2 = new_detector(&srcs, hold0, &ev2);
    if (detect_load_state(det2, s1, strlen(s1)) != 0) {
        fprintf(stderr, "fuzz_followstate: saved state refused:\n%s", s1);
        abort();
    }
    s2 = saved(det2);
    if (strcmp(s1, s2) != 0) {
        fprintf(stderr, "fuzz_followstate: save/load/save differs:\n%s---\n%s", s1, s2);
        abort();
    }
    free(s1);
    free(s2);
    run_sample(det, srcs.n);
    run_sample(det2, srcs.n);
    if (strcmp(ev1.buf ? ev1.buf : "", ev2.buf ? ev2.buf : "") != 0) {
        fprintf(stderr, "fuzz_followstate: restored detectors disagree:\n%s---\n%s", ev1.buf,
                ev2.buf);
        abort();
    }
    detect_free(det);
    detect_free(det2);
 out:
    free(srcs.paths);
    follow_blob_clear(&b);
    strbuf_release(&input);
    strbuf_release(&ev1);
    strbuf_release(&ev2);
    strbuf_release(&scratch);
    return 0;
}
