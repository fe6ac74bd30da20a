/*
 * qmpjson.h: read the one QMP message shape we need, a guest crash event:
 *
 *   {"timestamp": {"seconds": S, "microseconds": U},
 *    "event": "GUEST_PANICKED" | "GUEST_CRASHLOADED",
 *    "data": {"action": "pause", "info": {"type": "hyper-v", "arg1": 62, ...}}}
 *
 * Keys may come in any order (QEMU's order differs from the QAPI docs).
 * Only the top-level "event" key counts: a reply that merely contains the
 * text "GUEST_PANICKED" inside a string is not an event. A small recursive
 * descent parser with a depth limit; no allocation except the strings kept
 * in the panic info. Pure code.
 */
#ifndef PVPANIC_QMPJSON_H
#define PVPANIC_QMPJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct qmp_event {
    enum pv_event_type type;    /* PANIC or CRASHLOADED when the result is 1 */
    bool has_time;
    uint64_t sec;
    uint32_t usec;
    bool has_action;
    char action[16];            /* "pause", "poweroff", "run" (NUL-terminated) */
    struct pv_panic_info info;  /* owned: release with pv_panic_info_clear() */
};

/*
 * Parse @len bytes holding one JSON object. Returns 1 for a GUEST_PANICKED
 * or GUEST_CRASHLOADED event (fields in *@out), 0 for valid JSON that is not
 * one of those, -EINVAL for text that is not a JSON object (trailing bytes
 * after the object are allowed and ignored). *@out is always initialised.
 */
int qmpjson_parse_event(const char *json, size_t len, struct qmp_event *out);

#endif /* PVPANIC_QMPJSON_H */
