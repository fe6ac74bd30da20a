/*
 * bugcheck.h: names of Windows bugcheck (STOP) codes.
 *
 * A guest with <panic model='hyperv'/> reports its crash through the
 * Hyper-V crash MSRs; QEMU passes them on as GUEST_PANICKED info
 * "hyper-v" arg1..arg5 and libvirt writes them to the per-domain log
 * ("panic hyper-v: arg1='0x80', ..."). For a Windows guest arg1 is the
 * bugcheck code and arg2..arg5 its four parameters. A Linux guest using
 * hv-crash puts an error code in arg1 instead, and nothing in the event says
 * which kind of guest sent it: so a name is given only for codes in the
 * table below (and labelled as the Windows reading of arg1 by the callers).
 *
 * Pure code: a sorted static table and a binary search.
 */
#ifndef PVPANIC_BUGCHECK_H
#define PVPANIC_BUGCHECK_H

#include <stddef.h>
#include <stdint.h>

/*
 * Bugcheck codes are 32-bit. Windows sets this bit on some codes ("_M"
 * variants, e.g. 0x1000007E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M) that mean
 * the same as the code without it.
 */
#define BUGCHECK_M_FLAG 0x10000000u

struct bugcheck_entry {
    uint32_t code;
    const char *name;
};

/*
 * Symbolic name of @code ("NMI_HARDWARE_FAILURE" for 0x80), or NULL when the
 * code is not in the table or does not fit in 32 bits. A code with
 * BUGCHECK_M_FLAG that has no "_M" entry of its own is named after the code
 * without the flag (same meaning, same parameters).
 */
const char *bugcheck_name(uint64_t code);

/* The table, sorted by code (for the tests). */
const struct bugcheck_entry *bugcheck_table(size_t *count);

#endif /* PVPANIC_BUGCHECK_H */
