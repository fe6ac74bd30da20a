/*
 * hookmode.h: pvpanic-hook running as libvirt's qemu hook.
 *
 * libvirt runs the hook synchronously, with no timeout, for every
 * operation of every domain, and holds the domain's job meanwhile. So this
 * path reads stdin with a size cap and a time bound, never talks to
 * libvirt, never writes to stdout (empty output = unchanged XML for
 * migrate/restore), and exits 0 on any internal problem (fail open) - the
 * only non-zero exit is a refusal under on_missing=refuse.
 */
#ifndef PVPANIC_HOOKMODE_H
#define PVPANIC_HOOKMODE_H

#include <stddef.h>

/* Beyond DOMXML_MAX_SIZE we stop keeping input but keep draining up to this. */
#define HOOK_DRAIN_CAP ((size_t)64 << 20)

/* Exit statuses in hook mode. */
#define HOOK_EXIT_ALLOW 0
#define HOOK_EXIT_REFUSE 1

/*
 * Read @fd to EOF within @timeout_ms. Keeps at most @cap bytes in *@out
 * (NUL-terminated, caller frees); with @out NULL just discards. Returns 0,
 * -EFBIG (more than @cap; drained up to @drain_cap), -ETIMEDOUT or -errno.
 */
int hook_read_input(int fd, size_t cap, size_t drain_cap, unsigned long long timeout_ms,
                    char **out, size_t *out_len);

/*
 * Hook mode. @args are libvirt's DOMAIN OP SUBOP EXTRA (@nargs of them,
 * 4 when libvirt calls). Returns the exit status.
 */
int hook_main(int nargs, char **args);

#endif /* PVPANIC_HOOKMODE_H */
