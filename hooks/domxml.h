/*
 * domxml.h: libvirt domain XML - safe parse, inspect, patch, serialize.
 *
 * Pure: no I/O and no logging. Failures come back as a negative errno plus
 * a one-line message in *errmsg (a new string the caller frees).
 *
 * Parsing uses libxml2 with network access off, entity substitution off and
 * a private error handler (libxml2 prints nothing). Documents with a
 * DOCTYPE, an entity reference, a NUL byte, an encoding other than UTF-8,
 * more than DOMXML_MAX_SIZE bytes or a root other than <domain> are
 * rejected. libvirt never produces any of these.
 *
 * Editing never re-serializes the tree: a patch splices new text into the
 * original bytes, so quotes, attribute order, comments, namespaces and
 * whitespace of everything else stay byte-for-byte identical, and the new
 * element is indented like its siblings. After every edit the new text is
 * parsed again and checked, so a document object always describes its text.
 */
#ifndef PVPANIC_DOMXML_H
#define PVPANIC_DOMXML_H

#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"

#define DOMXML_MAX_SIZE (16u << 20)

/* libvirt's <panic model=...> values, plus AUTO (choose) and DEFAULT (none). */
enum panic_model {
    PANIC_MODEL_AUTO,       /* not a libvirt value: pick by arch/machine */
    PANIC_MODEL_DEFAULT,    /* <panic> without a model attribute */
    PANIC_MODEL_ISA,
    PANIC_MODEL_PVPANIC,
    PANIC_MODEL_HYPERV,
    PANIC_MODEL_PSERIES,
    PANIC_MODEL_S390,
    PANIC_MODEL_LAST
};

/* "auto", "default", "isa", ... ; panic_model_from_string() returns -1 if unknown. */
const char *panic_model_to_string(enum panic_model m);
int panic_model_from_string(const char *s);

/* The <on_crash> actions the QEMU driver accepts (rename-restart is not one). */
bool domxml_on_crash_valid(const char *action);

/* "0x505"-style ISA port: 0 and *out set, or -EINVAL. */
int domxml_parse_iobase(const char *s, unsigned int *out);

struct domxml;

/*
 * Parse @len bytes of @text (need not be NUL-terminated; copied). Returns 0
 * and *@out (free with domxml_free), -EFBIG (too large) or -EINVAL (not a
 * usable domain XML); on error *@errmsg explains why.
 */
int domxml_parse(const char *text, size_t len, struct domxml **out, char **errmsg);
void domxml_free(struct domxml *d);

/* For AUTOPTR(domxml) only (cleanup.h needs a one-word type name). */
typedef struct domxml domxml;
DEFINE_AUTOPTR(domxml, domxml_free)

/* Borrowed strings from the document (trimmed), or NULL when absent. */
const char *domxml_name(const struct domxml *d);
const char *domxml_uuid(const struct domxml *d);
const char *domxml_arch(const struct domxml *d);
const char *domxml_machine(const struct domxml *d);
const char *domxml_on_crash(const struct domxml *d);

/*
 * Per-domain hook policy, set by the domain's owner with
 *   virsh metadata DOM --uri urn:pvpanic-tools:hook:1 --key pvpanic \
 *         --set '<hook on_missing="ignore"/>' --config
 * The on_missing attribute of <metadata><x:hook xmlns:x=DOMXML_METADATA_NS>,
 * or NULL when absent.
 */
#define DOMXML_METADATA_NS "urn:pvpanic-tools:hook:1"
const char *domxml_metadata_on_missing(const struct domxml *d);

/*
 * Whether <features> has the element @name (e.g. "acpi": without it libvirt
 * passes -no-acpi and a guest cannot see the ISA pvpanic device, whose only
 * description is the ACPI device QEMU0001).
 */
bool domxml_has_feature(const struct domxml *d, const char *name);

/* Number of <devices><panic> elements. */
unsigned int domxml_panic_count(const struct domxml *d);

/*
 * True when the domain has a panic device whose model fits its arch and
 * machine (hyperv on x86 counts; isa on aarch64 does not). A model this
 * code does not know is trusted (libvirt accepted it).
 */
bool domxml_has_usable_panic(const struct domxml *d);
bool domxml_has_panic_model(const struct domxml *d, enum panic_model m);

/*
 * The model "auto" picks for this domain: 0 and *@out, or -ENOTSUP with
 * *@why (e.g. unknown arch). x86 -> isa, ARM virt -> pvpanic, ppc64
 * pseries -> pseries, s390 -> s390.
 */
int domxml_auto_model(const struct domxml *d, enum panic_model *out, char **why);

/* Whether @m (not AUTO) is valid for this domain's arch/machine; else *@why. */
bool domxml_model_fits(const struct domxml *d, enum panic_model m, char **why);

struct domxml_patch_opts {
    enum panic_model model;     /* AUTO or an explicit model (not DEFAULT) */
    int iobase;                 /* ISA port, -1 for the default 0x505 */
    const char *on_crash;       /* set/replace <on_crash>; NULL: leave it */
};

struct domxml_patch_report {
    bool added_panic;
    enum panic_model model;     /* the model added (valid if added_panic) */
    bool changed_on_crash;
};

/*
 * Add a panic device unless one is already there (with AUTO: any usable
 * one; with an explicit model: one of that model), and set <on_crash> if
 * asked. Creates <devices> when missing. Returns 1 if the text changed,
 * 0 if it was already as asked, -ENOTSUP (AUTO found no model for this
 * arch; nothing changed), -EINVAL (options do not fit this domain) or
 * -EPROTO (internal: the edit did not verify; the document may then hold
 * the <on_crash> edit only - do not output it). *@why is set for errors.
 * @report (may be NULL) says what was done.
 */
int domxml_patch(struct domxml *d, const struct domxml_patch_opts *opts,
                 struct domxml_patch_report *report, char **why);

/* The current document text (borrowed; NUL-terminated; *@len if non-NULL). */
const char *domxml_text(const struct domxml *d, size_t *len);

#endif /* PVPANIC_DOMXML_H */
