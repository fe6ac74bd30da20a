/*
 * fuzz_logparse: the record splitter + detector (and the pieces under it:
 * header parser, classifier, QMP JSON reader, resolver, state loader) on
 * arbitrary bytes. Besides "no crash, no leak, no UB" it checks the
 * streaming contract: the same bytes fed whole, in small chunks, or cut in
 * two with a state save/restore in between give the same events.
 *
 * Input: byte 0 = chunk size, byte 1 = flags, the rest = log text.
 *   flag 1: the second half of the text is a per-domain log ("fuzz guest")
 *   flag 2: also feed the text to detect_load_state()
 *   flag 4: hold_ms = 0 (emit without waiting)
 *
 * Built with -fsanitize=fuzzer under --enable-fuzzing; tests/fuzz/standalone.c
 * replays the corpus with any compiler in `make check`.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "detect.h"
#include "log.h"
#include "qmpjson.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct classify_rules *rules;
static struct classify *keep_patterns;

static void
release_globals(void)
{
    classify_free(keep_patterns);
    classify_rules_free(rules);
}

static void
collect(const struct pv_event *ev, void *opaque)
{
    struct strbuf *out = opaque;

    pv_event_to_json(ev, out);
    strbuf_addch(out, '\n');
}

struct run {
    const char *text;
    size_t len;
    size_t split;           /* daemon part [0, split), per-domain part [split, len) */
    size_t chunk;
    unsigned int flags;
};

static struct detect *
new_det(const struct run *r, struct strbuf *out, int *a, int *b)
{
    struct detect_config cfg;
    struct detect *det;

    detect_config_init(&cfg);
    cfg.max_keep = 256;     /* small, so truncation paths are reached */
    cfg.rules = rules;
    if (r->flags & 4)
        cfg.hold_ms = 0;
    det = detect_new(&cfg, collect, out);
    *a = detect_add_source(det, "libvirtd.log", DETECT_SOURCE_AUTO, NULL);
    *b = detect_add_source(det, "qemu/fuzz guest.log", DETECT_SOURCE_AUTO, "fuzz guest");
    return det;
}

static void
feed(struct detect *det, int src, const char *p, size_t len, size_t chunk)
{
    for (size_t off = 0; off < len; off += chunk)
        detect_feed(det, src, p + off, len - off < chunk ? len - off : chunk);
}

/* Feed everything; @cut > 0: save and restore after @cut bytes of the daemon part. */
static char *
run_once(const struct run *r, size_t chunk, size_t cut)
{
    struct strbuf out = STRBUF_INIT;
    int a, b;
    struct detect *det = new_det(r, &out, &a, &b);

    if (cut > 0) {
        struct strbuf state = STRBUF_INIT;
        uint64_t resume;

        feed(det, a, r->text, cut, chunk);
        detect_save_state(det, &state);
        detect_free(det);
        det = new_det(r, &out, &a, &b);
        if (detect_load_state(det, state.buf, state.len) != 0)
            abort();
        resume = detect_source_resume_offset(det, a, NULL);
        if (resume > cut)
            abort();
        feed(det, a, r->text + resume, r->split - resume, chunk);
        strbuf_release(&state);
    } else {
        feed(det, a, r->text, r->split, chunk);
    }
    detect_source_eof(det, a);
    feed(det, b, r->text + r->split, r->len - r->split, chunk);
    detect_source_eof(det, b);
    detect_finish(det);
    detect_free(det);
    return strbuf_detach(&out, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run r;
    char *whole;
    char *chunked;
    char *restarted;

    if (!rules) {
        char *err = NULL;

        log_init("fuzz_logparse", LOG_DEST_NONE, 0);
        /* keeps the compiled built-in patterns alive between inputs (speed) */
        keep_patterns = classify_new();
        atexit(release_globals);
        rules = classify_rules_new();
        if (classify_rules_add(rules, "fuzz", "(?<domain>[a-z]+) crashed (?<mon>0x[0-9a-f]+)",
                               PV_EVENT_CUSTOM, "warning", &err) != 0)
            abort();
    }
    if (size < 2)
        return 0;
    r.chunk = (size_t)data[0] + 1;
    r.flags = data[1];
    r.text = (const char *)data + 2;
    r.len = size - 2;
    r.split = (r.flags & 1) ? r.len / 2 : r.len;

    whole = run_once(&r, r.len ? r.len : 1, 0);
    chunked = run_once(&r, r.chunk, 0);
    if (strcmp(whole, chunked) != 0) {
        fprintf(stderr, "chunk size %zu changed the events:\n%s---\n%s", r.chunk, whole, chunked);
        abort();
    }
    if (r.split > 1) {
        restarted = run_once(&r, r.chunk, r.split / 2);
        if (strcmp(whole, restarted) != 0) {
            fprintf(stderr, "save/restore at %zu changed the events:\n%s---\n%s", r.split / 2,
                    whole, restarted);
            abort();
        }
        free(restarted);
    }
    free(whole);
    free(chunked);

    /* the pieces on their own */
    {
        struct qmp_event q;
        struct pv_panic_info info;

        if (qmpjson_parse_event(r.text, r.len, &q) == 1)
            pv_panic_info_clear(&q.info);
        classify_panic_text(r.text, r.len, &info);
        pv_panic_info_clear(&info);
    }
    if (r.flags & 2) {
        struct strbuf out = STRBUF_INIT;
        int a, b;
        struct detect *det = new_det(&r, &out, &a, &b);

        detect_load_state(det, r.text, r.len);
        feed(det, a, r.text, r.len, r.chunk);
        detect_finish(det);
        detect_free(det);
        strbuf_release(&out);
    }
    return 0;
}
