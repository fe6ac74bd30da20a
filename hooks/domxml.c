/*
 * domxml.c: see domxml.h. Three parts: the safe libxml2 parse and what is
 * read from the tree; a small scanner that finds where elements start and
 * end in the original bytes (run only on text libxml2 already accepted as
 * well-formed); and the patcher, which splices text at those offsets and
 * verifies each edit by parsing the result again.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "cleanup.h"
#include "domxml.h"
#include "strbuf.h"
#include "xalloc.h"

DEFINE_AUTOPTR(xmlParserCtxt, xmlFreeParserCtxt)
DEFINE_AUTOPTR(xmlDoc, xmlFreeDoc)

static const char *const panic_model_names[] = {
    [PANIC_MODEL_AUTO] = "auto",
    [PANIC_MODEL_DEFAULT] = "default",
    [PANIC_MODEL_ISA] = "isa",
    [PANIC_MODEL_PVPANIC] = "pvpanic",
    [PANIC_MODEL_HYPERV] = "hyperv",
    [PANIC_MODEL_PSERIES] = "pseries",
    [PANIC_MODEL_S390] = "s390",
};
_Static_assert(ARRAY_SIZE(panic_model_names) == PANIC_MODEL_LAST, "panic_model_names");

/* Device elements libvirt formats after <panic> (virDomainDefFormatInternal). */
static const char *const devices_after_panic[] = {
    "shmem", "memory", "iommu", "vsock", "crypto", "pstore",
};

#define DEFAULT_ISA_IOBASE 0x505

struct domxml {
    char *text;
    size_t len;
    xmlDoc *doc;
    xmlNode *root;
    char *name;
    char *uuid;
    char *arch;
    char *machine;
    char *on_crash;
    char *meta_on_missing;
    unsigned int panic_count;
    unsigned int panic_by_model[PANIC_MODEL_LAST];
    unsigned int panic_unknown_model;
};

const char *
panic_model_to_string(enum panic_model m)
{
    if ((unsigned int)m >= PANIC_MODEL_LAST)
        return "?";
    return panic_model_names[m];
}

int
panic_model_from_string(const char *s)
{
    for (size_t i = 0; i < ARRAY_SIZE(panic_model_names); i++) {
        if (strcmp(s, panic_model_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

bool
domxml_on_crash_valid(const char *action)
{
    /* libvirt crashOptions minus rename-restart, which the QEMU driver rejects. */
    static const char *const ok[] = {
        "destroy", "restart", "preserve", "coredump-destroy", "coredump-restart",
    };

    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        if (strcmp(action, ok[i]) == 0)
            return true;
    }
    return false;
}

int
domxml_parse_iobase(const char *s, unsigned int *out)
{
    unsigned long v = 0;
    size_t i;

    if (strncmp(s, "0x", 2) != 0 && strncmp(s, "0X", 2) != 0)
        return -EINVAL;
    for (i = 2; s[i]; i++) {
        int c = (unsigned char)s[i];
        int digit;

        if (c >= '0' && c <= '9')
            digit = c - '0';
        else if (c >= 'a' && c <= 'f')
            digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            digit = c - 'A' + 10;
        else
            return -EINVAL;
        v = v * 16 + (unsigned long)digit;
        if (v > 0xffff)
            return -EINVAL;
    }
    if (i == 2)
        return -EINVAL;
    *out = (unsigned int)v;
    return 0;
}

/* ---- safe parse ------------------------------------------------------ */

struct parse_state {
    char *reject;       /* our own reason to refuse the document */
    char *first_error;  /* libxml2's first error, as "line N: message" */
};

/* Bytes from the input end up in messages: keep them printable, one line. */
static void
add_printable(struct strbuf *sb, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = utf8_seq_len(p + i, len - i);

        if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
            strbuf_addf(sb, "\\x%02x", p[i]);
            i++;
            continue;
        }
        strbuf_add(sb, p + i, n);
        i += n;
    }
}

static char *
printable(const char *s)
{
    struct strbuf sb = STRBUF_INIT;

    add_printable(&sb, s, strlen(s));
    return strbuf_detach(&sb, NULL);
}

static struct parse_state *
state_of(void *ctx)
{
    return ((xmlParserCtxt *)ctx)->_private;
}

static void
reject_document(void *ctx, char *reason)
{
    struct parse_state *st = state_of(ctx);

    if (!st->reject)
        st->reject = reason;
    else
        free(reason);
    xmlStopParser(ctx);
}

static void
on_structured_error(void *ctx, const xmlError *err)
{
    struct parse_state *st;
    struct strbuf sb = STRBUF_INIT;
    const char *msg;
    size_t len;

    if (!ctx || !err)
        return;
    st = state_of(ctx);
    if (!st || st->first_error || err->level < XML_ERR_ERROR)
        return;
    msg = err->message ? err->message : "unknown error";
    len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    strbuf_addf(&sb, "line %d: ", err->line);
    add_printable(&sb, msg, len);
    st->first_error = strbuf_detach(&sb, NULL);
}

#if LIBXML_VERSION >= 21200
static void
on_error(void *ctx, const xmlError *err)
{
    on_structured_error(ctx, err);
}
#else
static void
on_error(void *ctx, xmlErrorPtr err)
{
    on_structured_error(ctx, err);
}
#endif

/* libxml2 calls these plain handlers from a few old code paths. */
static void
ignore_message(void *ctx, const char *msg, ...)
{
}

/*
 * Called when "<!DOCTYPE name" has been read, before any internal subset:
 * no declaration (and so no entity) is ever parsed.
 */
static void
on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
                   const xmlChar *system_id)
{
    reject_document(ctx, xstrdup("DOCTYPE declarations are not allowed in domain XML "
                                 "(they can define entities)"));
}

static xmlEntityPtr
on_get_entity(void *ctx, const xmlChar *name)
{
    AUTOFREE char *shown = printable((const char *)name);

    reject_document(ctx, xasprintf("entity reference '&%s;' is not allowed in domain XML",
                                   shown));
    return NULL;
}

static void
on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
               const xmlChar *system_id, xmlChar *content)
{
    reject_document(ctx, xstrdup("entity declarations are not allowed in domain XML"));
}

static xmlParserInputPtr
on_resolve_entity(void *ctx, const xmlChar *public_id, const xmlChar *system_id)
{
    reject_document(ctx, xstrdup("external entities are not allowed in domain XML"));
    return NULL;
}

static bool
is_element(const xmlNode *n, const char *name)
{
    /* libvirt's own elements carry no namespace prefix. */
    return n->type == XML_ELEMENT_NODE && (!n->ns || !n->ns->prefix) &&
           strcmp((const char *)n->name, name) == 0;
}

static xmlNode *
first_child(const xmlNode *parent, const char *name)
{
    for (xmlNode *n = parent->children; n; n = n->next) {
        if (is_element(n, name))
            return n;
    }
    return NULL;
}

static char *
node_text(const xmlNode *n)
{
    xmlChar *content = xmlNodeGetContent(n);
    char *s = xstrdup(content ? (const char *)content : "");

    xmlFree(content);
    return s;
}

static char *
node_attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(n, BAD_CAST name);
    char *s = v ? xstrdup((const char *)v) : NULL;

    xmlFree(v);
    return s;
}

static char *
trimmed(char *s)
{
    size_t start = strspn(s, " \t\r\n");
    size_t len = strlen(s + start);

    while (len > 0 && strchr(" \t\r\n", s[start + len - 1]))
        len--;
    memmove(s, s + start, len);
    s[len] = '\0';
    return s;
}

static void
read_info(struct domxml *d)
{
    xmlNode *n;

    if ((n = first_child(d->root, "name")))
        d->name = node_text(n);
    if ((n = first_child(d->root, "uuid")))
        d->uuid = trimmed(node_text(n));
    if ((n = first_child(d->root, "on_crash")))
        d->on_crash = trimmed(node_text(n));
    if ((n = first_child(d->root, "metadata"))) {
        for (xmlNode *m = n->children; m; m = m->next) {
            if (m->type == XML_ELEMENT_NODE && m->ns && m->ns->href &&
                strcmp((const char *)m->ns->href, DOMXML_METADATA_NS) == 0 &&
                strcmp((const char *)m->name, "hook") == 0) {
                d->meta_on_missing = node_attr(m, "on_missing");
                break;
            }
        }
    }
    if ((n = first_child(d->root, "os")) && (n = first_child(n, "type"))) {
        d->arch = node_attr(n, "arch");
        d->machine = node_attr(n, "machine");
    }
    /* libvirt reads ./devices/panic: every <devices>, not just the first. */
    for (xmlNode *dev = d->root->children; dev; dev = dev->next) {
        if (!is_element(dev, "devices"))
            continue;
        for (xmlNode *p = dev->children; p; p = p->next) {
            AUTOFREE char *model = NULL;
            int m;

            if (!is_element(p, "panic"))
                continue;
            d->panic_count++;
            model = node_attr(p, "model");
            m = model ? panic_model_from_string(model) : PANIC_MODEL_DEFAULT;
            if (m < 0 || m == PANIC_MODEL_AUTO)
                d->panic_unknown_model++;
            else
                d->panic_by_model[m]++;
        }
    }
}

static bool
encoding_is_utf8(const char *enc)
{
    return strcasecmp(enc, "UTF-8") == 0 || strcasecmp(enc, "UTF8") == 0 ||
           strcasecmp(enc, "US-ASCII") == 0 || strcasecmp(enc, "ASCII") == 0;
}

int
domxml_parse(const char *text, size_t len, struct domxml **out, char **errmsg)
{
    AUTOPTR(xmlParserCtxt) ctxt = NULL;
    AUTOPTR(xmlDoc) doc = NULL;
    struct parse_state st = { NULL, NULL };
    struct domxml *d;
    const char *nul;
    xmlNode *root;
    size_t i;
    int rc = -EINVAL;

    if (len > DOMXML_MAX_SIZE) {
        *errmsg = xasprintf("input is larger than %u MiB", DOMXML_MAX_SIZE >> 20);
        return -EFBIG;
    }
    for (i = 0; i < len && strchr(" \t\r\n", text[i]) && text[i]; i++)
        ;
    if (i == len) {
        *errmsg = xstrdup("empty input (no domain XML)");
        return -EINVAL;
    }
    /* Also catches UTF-16/32, whose ASCII characters contain NUL bytes. */
    if ((nul = memchr(text, '\0', len))) {
        *errmsg = xasprintf("input contains a NUL byte at offset %zu", (size_t)(nul - text));
        return -EINVAL;
    }

    ctxt = xmlCreateMemoryParserCtxt(text, (int)len);
    if (!ctxt) {
        *errmsg = xstrdup("cannot create an XML parser");
        return -EINVAL;
    }
    ctxt->_private = &st;
    ctxt->sax->serror = on_error;
    ctxt->sax->error = ignore_message;
    ctxt->sax->warning = ignore_message;
    ctxt->sax->fatalError = ignore_message;
    ctxt->sax->internalSubset = on_internal_subset;
    ctxt->sax->getEntity = on_get_entity;
    ctxt->sax->getParameterEntity = on_get_entity;
    ctxt->sax->entityDecl = on_entity_decl;
    ctxt->sax->resolveEntity = on_resolve_entity;
    /* No XML_PARSE_NOENT/DTDLOAD/DTDATTR/HUGE: no substitution, no fetching,
     * and libxml2's depth and size limits stay on. */
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_BIG_LINES);

    xmlParseDocument(ctxt);
    doc = ctxt->myDoc;
    ctxt->myDoc = NULL;

    if (st.reject) {
        *errmsg = steal_pointer(&st.reject);
        goto out;
    }
    if (!doc || !ctxt->wellFormed) {
        *errmsg = xasprintf("not well-formed XML: %s",
                            st.first_error ? st.first_error : "parse error");
        goto out;
    }
    if (doc->encoding && !encoding_is_utf8((const char *)doc->encoding)) {
        AUTOFREE char *enc = printable((const char *)doc->encoding);

        *errmsg = xasprintf("encoding '%s' is not supported; domain XML must be UTF-8", enc);
        goto out;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || !is_element(root, "domain")) {
        AUTOFREE char *shown = printable(root ? (const char *)root->name : "");

        *errmsg = xasprintf("not a libvirt domain XML: the root element is <%s>, not <domain>",
                            shown);
        goto out;
    }

    d = xcalloc(1, sizeof(*d));
    d->text = xmalloc(len + 1);
    memcpy(d->text, text, len);
    d->text[len] = '\0';
    d->len = len;
    d->doc = steal_pointer(&doc);
    d->root = root;
    read_info(d);
    *out = d;
    rc = 0;

 out:
    free(st.reject);
    free(st.first_error);
    return rc;
}

void
domxml_free(struct domxml *d)
{
    if (!d)
        return;
    xmlFreeDoc(d->doc);
    free(d->text);
    free(d->name);
    free(d->uuid);
    free(d->arch);
    free(d->machine);
    free(d->on_crash);
    free(d->meta_on_missing);
    free(d);
}

const char *domxml_name(const struct domxml *d) { return d->name; }
const char *domxml_uuid(const struct domxml *d) { return d->uuid; }
const char *domxml_arch(const struct domxml *d) { return d->arch; }
const char *domxml_machine(const struct domxml *d) { return d->machine; }
const char *domxml_on_crash(const struct domxml *d) { return d->on_crash; }
const char *domxml_metadata_on_missing(const struct domxml *d) { return d->meta_on_missing; }
unsigned int domxml_panic_count(const struct domxml *d) { return d->panic_count; }

const char *
domxml_text(const struct domxml *d, size_t *len)
{
    if (len)
        *len = d->len;
    return d->text;
}

/* ---- models and architectures --------------------------------------- */

static bool
arch_is(const char *arch, const char *const *names, size_t n)
{
    for (size_t i = 0; arch && i < n; i++) {
        if (strcmp(arch, names[i]) == 0)
            return true;
    }
    return false;
}

static bool
arch_is_x86(const char *arch)
{
    static const char *const names[] = { "x86_64", "i686" };

    return arch_is(arch, names, ARRAY_SIZE(names));
}

static bool
arch_is_ppc64(const char *arch)
{
    static const char *const names[] = { "ppc64", "ppc64le" };

    return arch_is(arch, names, ARRAY_SIZE(names));
}

static bool
arch_is_s390(const char *arch)
{
    static const char *const names[] = { "s390x", "s390" };

    return arch_is(arch, names, ARRAY_SIZE(names));
}

static bool
arch_is_arm(const char *arch)
{
    static const char *const names[] = { "aarch64", "armv7l", "armv6l" };

    return arch_is(arch, names, ARRAY_SIZE(names));
}

static bool
machine_is_pseries(const char *machine)
{
    return machine && strncmp(machine, "pseries", 7) == 0;
}

static bool
machine_is_virt(const char *machine)
{
    return machine && (strcmp(machine, "virt") == 0 || strncmp(machine, "virt-", 5) == 0);
}

int
domxml_auto_model(const struct domxml *d, enum panic_model *out, char **why)
{
    if (!d->arch) {
        *why = xstrdup("the domain XML has no <os><type arch='...'>, so no panic "
                       "model can be chosen (use --model)");
        return -ENOTSUP;
    }
    if (arch_is_x86(d->arch)) {
        *out = PANIC_MODEL_ISA;
        return 0;
    }
    if (arch_is_arm(d->arch) && machine_is_virt(d->machine)) {
        *out = PANIC_MODEL_PVPANIC;
        return 0;
    }
    if (arch_is_ppc64(d->arch) && machine_is_pseries(d->machine)) {
        *out = PANIC_MODEL_PSERIES;
        return 0;
    }
    if (arch_is_s390(d->arch)) {
        *out = PANIC_MODEL_S390;
        return 0;
    }
    {
        AUTOFREE char *arch = printable(d->arch);
        AUTOFREE char *machine = printable(d->machine ? d->machine : "");

        *why = xasprintf("no panic device model is known for arch '%s' machine '%s' "
                         "(use --model to force one)", arch, machine);
    }
    return -ENOTSUP;
}

bool
domxml_model_fits(const struct domxml *d, enum panic_model m, char **why)
{
    const char *need = NULL;

    switch (m) {
    case PANIC_MODEL_ISA:
    case PANIC_MODEL_HYPERV:
        if (!arch_is_x86(d->arch))
            need = "i686 and x86_64 guests";
        break;
    case PANIC_MODEL_PSERIES:
        if (!arch_is_ppc64(d->arch) || !machine_is_pseries(d->machine))
            need = "ppc64 pSeries guests";
        break;
    case PANIC_MODEL_S390:
        if (!arch_is_s390(d->arch))
            need = "s390 guests";
        break;
    case PANIC_MODEL_PVPANIC:
        /* pvpanic-pci: any machine with PCI (libvirt >= 9.1, QEMU >= 6.0). */
        if (arch_is_s390(d->arch))
            need = "guests with a PCI bus";
        break;
    case PANIC_MODEL_DEFAULT: {
        enum panic_model dummy;
        AUTOFREE char *reason = NULL;

        if (domxml_auto_model(d, &dummy, &reason) < 0)
            need = "architectures that have a default panic model";
        break;
    }
    case PANIC_MODEL_AUTO:
    case PANIC_MODEL_LAST:
        need = "nothing (not a model)";
        break;
    }
    if (!need)
        return true;
    if (why) {
        AUTOFREE char *arch = printable(d->arch ? d->arch : "(none)");

        *why = xasprintf("panic model '%s' is only valid for %s, not arch '%s'",
                         panic_model_to_string(m), need, arch);
    }
    return false;
}

bool
domxml_has_feature(const struct domxml *d, const char *name)
{
    /* libvirt reads every <features> element, as it does every <devices> above */
    for (xmlNode *f = d->root->children; f; f = f->next) {
        if (is_element(f, "features") && first_child(f, name))
            return true;
    }
    return false;
}

bool
domxml_has_panic_model(const struct domxml *d, enum panic_model m)
{
    return (unsigned int)m < PANIC_MODEL_LAST && d->panic_by_model[m] > 0;
}

bool
domxml_has_usable_panic(const struct domxml *d)
{
    if (d->panic_unknown_model > 0)
        return true;
    for (int m = PANIC_MODEL_DEFAULT; m < PANIC_MODEL_LAST; m++) {
        if (d->panic_by_model[m] > 0 && domxml_model_fits(d, (enum panic_model)m, NULL))
            return true;
    }
    return false;
}

/* ---- where elements are in the text ---------------------------------- */

/* Depth 1 is the root; we only need the root, its children and theirs. */
#define SCAN_MAX_DEPTH 3
/* libxml2 refuses more than 256 levels without XML_PARSE_HUGE. */
#define SCAN_STACK 1024

struct elem {
    size_t start;       /* '<' */
    size_t stag_end;    /* after the start tag's '>' */
    size_t etag_start;  /* '<' of the end tag (== stag_end when empty) */
    size_t end;         /* after the element */
    size_t name_off;
    size_t name_len;
    int depth;
    int parent;         /* index, -1 for the root */
    bool empty;         /* <x/> */
};

struct scan {
    struct elem *v;
    size_t n;
    size_t cap;
};

static void
scan_release(struct scan *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static bool
starts_with(const char *text, size_t len, size_t i, const char *lit)
{
    size_t n = strlen(lit);

    return len - i >= n && memcmp(text + i, lit, n) == 0;
}

static bool
is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Offset just past @lit at or after @i, or 0 if absent. */
static size_t
skip_past(const char *text, size_t len, size_t i, const char *lit)
{
    const char *p = memmem(text + i, len - i, lit, strlen(lit));

    return p ? (size_t)(p - text) + strlen(lit) : 0;
}

/*
 * Record elements down to SCAN_MAX_DEPTH. The text must be well-formed XML
 * without a DOCTYPE (domxml_parse checked), so tags, comments, CDATA and
 * processing instructions are all this needs to know. -EPROTO if the text
 * surprises us anyway.
 */
static int
scan_elements(const char *text, size_t len, struct scan *s)
{
    int stack[SCAN_STACK];
    int depth = 0;
    size_t i = 0;

    while (i < len) {
        const char *lt = memchr(text + i, '<', len - i);
        size_t j;

        if (!lt)
            break;
        i = (size_t)(lt - text);
        if (starts_with(text, len, i, "<!--")) {
            i = skip_past(text, len, i + 4, "-->");
        } else if (starts_with(text, len, i, "<![CDATA[")) {
            i = skip_past(text, len, i + 9, "]]>");
        } else if (starts_with(text, len, i, "<?")) {
            i = skip_past(text, len, i + 2, "?>");
        } else if (starts_with(text, len, i, "<!")) {
            return -EPROTO;
        } else if (starts_with(text, len, i, "</")) {
            const char *gt = memchr(text + i, '>', len - i);

            if (!gt || depth == 0)
                return -EPROTO;
            depth--;
            if (stack[depth] >= 0) {
                s->v[stack[depth]].etag_start = i;
                s->v[stack[depth]].end = (size_t)(gt - text) + 1;
            }
            i = (size_t)(gt - text) + 1;
        } else {
            struct elem e = { 0 };
            char quote = 0;

            e.start = i;
            e.name_off = i + 1;
            for (j = e.name_off; j < len && !is_xml_space(text[j]) && text[j] != '/' &&
                 text[j] != '>'; j++)
                ;
            e.name_len = j - e.name_off;
            for (; j < len; j++) {
                if (quote) {
                    if (text[j] == quote)
                        quote = 0;
                } else if (text[j] == '"' || text[j] == '\'') {
                    quote = text[j];
                } else if (text[j] == '>') {
                    break;
                }
            }
            if (j >= len || e.name_len == 0 || depth >= SCAN_STACK)
                return -EPROTO;
            e.stag_end = j + 1;
            e.empty = text[j - 1] == '/';
            e.depth = depth + 1;
            e.parent = depth > 0 ? stack[depth - 1] : -1;
            if (e.depth <= SCAN_MAX_DEPTH && (depth == 0 || stack[depth - 1] >= 0)) {
                if (s->n == s->cap) {
                    s->cap = s->cap ? s->cap * 2 : 64;
                    s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
                }
                if (e.empty)
                    e.etag_start = e.end = e.stag_end;
                s->v[s->n] = e;
                if (!e.empty)
                    stack[depth] = (int)s->n;
                s->n++;
            } else if (!e.empty) {
                stack[depth] = -1;
            }
            if (!e.empty)
                depth++;
            i = e.stag_end;
        }
        if (i == 0)
            return -EPROTO;
    }
    if (depth != 0 || s->n == 0 || s->v[0].depth != 1)
        return -EPROTO;
    return 0;
}

static bool
elem_name_is(const char *text, const struct elem *e, const char *name)
{
    return e->name_len == strlen(name) && memcmp(text + e->name_off, name, e->name_len) == 0;
}

static bool
node_matches_elem(const xmlNode *n, const char *text, const struct elem *e)
{
    const char *prefix = n->ns && n->ns->prefix ? (const char *)n->ns->prefix : NULL;
    size_t plen = prefix ? strlen(prefix) + 1 : 0;
    size_t nlen = strlen((const char *)n->name);

    if (e->name_len != plen + nlen)
        return false;
    if (prefix && (memcmp(text + e->name_off, prefix, plen - 1) != 0 ||
                   text[e->name_off + plen - 1] != ':'))
        return false;
    return memcmp(text + e->name_off + plen, n->name, nlen) == 0;
}

/*
 * Check that the scanner saw the same element children as libxml2 did
 * under @node (scan index @idx). Belt and braces before editing bytes.
 */
static bool
scan_agrees(const struct domxml *d, const struct scan *s, const xmlNode *node, int idx)
{
    size_t k = 0;

    for (const xmlNode *n = node->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        while (k < s->n && s->v[k].parent != idx)
            k++;
        if (k == s->n || !node_matches_elem(n, d->text, &s->v[k]))
            return false;
        k++;
    }
    while (k < s->n && s->v[k].parent != idx)
        k++;
    return k == s->n;
}

/* ---- the edits -------------------------------------------------------- */

struct layout {
    const char *nl;         /* "\n" or "\r\n" */
    char quote;             /* ' (libvirt) or " */
    char *step;             /* one level of indentation */
};

/*
 * Where the line holding offset @at starts, if only blanks precede @at on
 * it: returns true and sets *@ws (offset of the first blank). The root at
 * offset 0 counts as starting a line.
 */
static bool
line_start_before(const char *text, size_t at, size_t *ws)
{
    size_t k = at;

    while (k > 0 && (text[k - 1] == ' ' || text[k - 1] == '\t'))
        k--;
    if (k > 0 && text[k - 1] != '\n')
        return false;
    *ws = k;
    return true;
}

/* The blanks before the element at @at, or NULL if it does not start a line. */
static char *
indent_of(const char *text, size_t at)
{
    size_t ws;

    if (!line_start_before(text, at, &ws))
        return NULL;
    return xstrndup(text + ws, at - ws);
}

static void
layout_init(const struct domxml *d, const struct scan *s, struct layout *lay)
{
    const char *nl = memchr(d->text, '\n', d->len);
    const struct elem *root = &s->v[0];
    AUTOFREE char *root_indent = indent_of(d->text, root->start);

    lay->nl = nl && nl > d->text && nl[-1] == '\r' ? "\r\n" : "\n";
    /* Quote like the first attribute in the document (libvirt uses '). */
    lay->quote = 0;
    for (size_t e = 0; e < s->n && !lay->quote; e++) {
        for (size_t k = s->v[e].name_off + s->v[e].name_len; k < s->v[e].stag_end; k++) {
            if (d->text[k] == '\'' || d->text[k] == '"') {
                lay->quote = d->text[k];
                break;
            }
        }
    }
    if (!lay->quote)
        lay->quote = '\'';
    lay->step = NULL;
    for (size_t k = 1; k < s->n && root_indent; k++) {
        AUTOFREE char *ci = NULL;
        size_t rlen = strlen(root_indent);

        if (s->v[k].parent != 0)
            continue;
        ci = indent_of(d->text, s->v[k].start);
        if (ci && strlen(ci) > rlen && strncmp(ci, root_indent, rlen) == 0)
            lay->step = xstrdup(ci + rlen);
        break;
    }
    if (!lay->step)
        lay->step = xstrdup("  ");
}

/* Is the document laid out one element per line (virsh dumpxml) or packed? */
static bool
pretty_at(const char *text, const struct elem *e)
{
    size_t ws;

    return line_start_before(text, e->start, &ws);
}

/* Indentation for a new child of @parent: like its last child, or one step deeper. */
static char *
child_indent(const struct domxml *d, const struct scan *s, int parent_idx,
             const struct layout *lay)
{
    AUTOFREE char *pi = NULL;

    for (size_t k = s->n; k-- > 0;) {
        if (s->v[k].parent == parent_idx) {
            char *ci = indent_of(d->text, s->v[k].start);

            if (ci)
                return ci;
            break;
        }
    }
    pi = indent_of(d->text, s->v[parent_idx].start);
    return xasprintf("%s%s", pi ? pi : "", lay->step);
}

static void
add_panic_xml(struct strbuf *sb, enum panic_model model, unsigned int iobase,
              const char *indent, const struct layout *lay, bool pretty)
{
    char q = lay->quote;

    strbuf_addf(sb, "<panic model=%c%s%c", q, panic_model_to_string(model), q);
    if (model != PANIC_MODEL_ISA) {
        strbuf_addstr(sb, "/>");
        return;
    }
    strbuf_addch(sb, '>');
    if (pretty)
        strbuf_addf(sb, "%s%s%s", lay->nl, indent, lay->step);
    strbuf_addf(sb, "<address type=%cisa%c iobase=%c0x%x%c/>", q, q, q, iobase, q);
    if (pretty)
        strbuf_addf(sb, "%s%s", lay->nl, indent);
    strbuf_addstr(sb, "</panic>");
}

struct splice {
    size_t off;
    size_t del;
    struct strbuf ins;
};

/*
 * Append @content (built by @fn for a given indentation) as the last child
 * of element @idx. Pretty documents get it on its own line before the
 * parent's end-tag line; packed ones get it glued before the end tag.
 */
typedef void (*content_fn)(struct strbuf *sb, const char *indent, const struct layout *lay,
                           bool pretty, const void *arg);

static void
splice_append_child(const struct domxml *d, const struct scan *s, int idx,
                    const struct layout *lay, content_fn fn, const void *arg,
                    struct splice *sp)
{
    const struct elem *p = &s->v[idx];
    bool pretty = pretty_at(d->text, p);
    AUTOFREE char *ci = child_indent(d, s, idx, lay);
    AUTOFREE char *pi = indent_of(d->text, p->start);
    size_t ws;

    if (p->empty) {
        /* <devices/> -> <devices>NEW</devices> */
        const char *tag = d->text + p->name_off;
        int tlen = (int)p->name_len;

        sp->off = p->start;
        sp->del = p->end - p->start;
        strbuf_addf(&sp->ins, "<%.*s>", tlen, tag);
        if (pretty)
            strbuf_addf(&sp->ins, "%s%s", lay->nl, ci);
        fn(&sp->ins, ci, lay, pretty, arg);
        if (pretty)
            strbuf_addf(&sp->ins, "%s%s", lay->nl, pi ? pi : "");
        strbuf_addf(&sp->ins, "</%.*s>", tlen, tag);
        return;
    }
    sp->del = 0;
    if (pretty && line_start_before(d->text, p->etag_start, &ws)) {
        sp->off = ws;
        strbuf_addstr(&sp->ins, ci);
        fn(&sp->ins, ci, lay, true, arg);
        strbuf_addstr(&sp->ins, lay->nl);
    } else if (pretty) {
        /* e.g. "<devices></devices>" on one line */
        sp->off = p->etag_start;
        strbuf_addf(&sp->ins, "%s%s", lay->nl, ci);
        fn(&sp->ins, ci, lay, true, arg);
        strbuf_addf(&sp->ins, "%s%s", lay->nl, pi ? pi : "");
    } else {
        sp->off = p->etag_start;
        fn(&sp->ins, ci, lay, false, arg);
    }
}

/* Put @content right before sibling @e (which keeps its own indentation). */
static void
splice_insert_before(const struct domxml *d, const struct elem *e, const struct layout *lay,
                     content_fn fn, const void *arg, struct splice *sp)
{
    AUTOFREE char *indent = indent_of(d->text, e->start);

    sp->off = e->start;
    sp->del = 0;
    fn(&sp->ins, indent ? indent : "", lay, indent != NULL, arg);
    if (indent)
        strbuf_addf(&sp->ins, "%s%s", lay->nl, indent);
}

/* Put @content right after sibling @e, on its own line if @e has one. */
static void
splice_insert_after(const struct domxml *d, const struct elem *e, const struct layout *lay,
                    content_fn fn, const void *arg, struct splice *sp)
{
    AUTOFREE char *indent = indent_of(d->text, e->start);

    sp->off = e->end;
    sp->del = 0;
    if (indent)
        strbuf_addf(&sp->ins, "%s%s", lay->nl, indent);
    fn(&sp->ins, indent ? indent : "", lay, indent != NULL, arg);
}

struct panic_arg {
    enum panic_model model;
    unsigned int iobase;
};

static void
panic_content(struct strbuf *sb, const char *indent, const struct layout *lay, bool pretty,
              const void *arg)
{
    const struct panic_arg *pa = arg;

    add_panic_xml(sb, pa->model, pa->iobase, indent, lay, pretty);
}

static void
devices_content(struct strbuf *sb, const char *indent, const struct layout *lay, bool pretty,
                const void *arg)
{
    const struct panic_arg *pa = arg;
    AUTOFREE char *inner = xasprintf("%s%s", indent, lay->step);

    strbuf_addstr(sb, "<devices>");
    if (pretty)
        strbuf_addf(sb, "%s%s", lay->nl, inner);
    add_panic_xml(sb, pa->model, pa->iobase, inner, lay, pretty);
    if (pretty)
        strbuf_addf(sb, "%s%s", lay->nl, indent);
    strbuf_addstr(sb, "</devices>");
}

static void
on_crash_content(struct strbuf *sb, const char *indent, const struct layout *lay, bool pretty,
                 const void *arg)
{
    strbuf_addf(sb, "<on_crash>%s</on_crash>", (const char *)arg);
}

static int
find_child(const struct domxml *d, const struct scan *s, int parent, const char *name)
{
    for (size_t k = 0; k < s->n; k++) {
        if (s->v[k].parent == parent && elem_name_is(d->text, &s->v[k], name))
            return (int)k;
    }
    return -1;
}

static int
plan_panic(const struct domxml *d, const struct scan *s, const struct layout *lay,
           const struct panic_arg *pa, struct splice *sp)
{
    int devices = find_child(d, s, 0, "devices");

    if (devices < 0) {
        splice_append_child(d, s, 0, lay, devices_content, pa, sp);
        return 0;
    }
    /* Place it where libvirt itself formats <panic>, so a later
     * "virsh dumpxml" shows the same order. */
    for (size_t k = 0; k < s->n; k++) {
        if (s->v[k].parent != devices)
            continue;
        for (size_t a = 0; a < ARRAY_SIZE(devices_after_panic); a++) {
            if (elem_name_is(d->text, &s->v[k], devices_after_panic[a])) {
                splice_insert_before(d, &s->v[k], lay, panic_content, pa, sp);
                return 0;
            }
        }
    }
    splice_append_child(d, s, devices, lay, panic_content, pa, sp);
    return 0;
}

static int
plan_on_crash(const struct domxml *d, const struct scan *s, const struct layout *lay,
              const char *action, struct splice *sp)
{
    int existing = find_child(d, s, 0, "on_crash");
    int anchor = -1;

    if (existing >= 0) {
        const struct elem *e = &s->v[existing];

        if (e->empty) {
            sp->off = e->start;
            sp->del = e->end - e->start;
            on_crash_content(&sp->ins, "", lay, false, action);
        } else {
            sp->off = e->stag_end;
            sp->del = e->etag_start - e->stag_end;
            strbuf_addstr(&sp->ins, action);
        }
        return 0;
    }
    /* libvirt order: on_poweroff, on_reboot, on_crash, ..., devices */
    for (size_t k = 0; k < s->n; k++) {
        if (s->v[k].parent == 0 && (elem_name_is(d->text, &s->v[k], "on_poweroff") ||
                                    elem_name_is(d->text, &s->v[k], "on_reboot")))
            anchor = (int)k;
    }
    if (anchor >= 0) {
        splice_insert_after(d, &s->v[anchor], lay, on_crash_content, action, sp);
        return 0;
    }
    if ((anchor = find_child(d, s, 0, "devices")) >= 0) {
        splice_insert_before(d, &s->v[anchor], lay, on_crash_content, action, sp);
        return 0;
    }
    splice_append_child(d, s, 0, lay, on_crash_content, action, sp);
    return 0;
}

enum edit_kind { EDIT_PANIC, EDIT_ON_CRASH };

/*
 * One edit: locate, splice, re-parse, verify, then swap the new document
 * into @d. On any failure @d is untouched.
 */
static int
apply_edit(struct domxml *d, enum edit_kind kind, const struct panic_arg *pa,
           const char *action, char **why)
{
    struct scan s = { NULL, 0, 0 };
    struct layout lay = { NULL, 0, NULL };
    struct splice sp = { 0, 0, STRBUF_INIT };
    struct strbuf out = STRBUF_INIT;
    AUTOPTR(domxml) fresh = NULL;
    AUTOFREE char *perr = NULL;
    AUTOFREE char *newtext = NULL;
    size_t newlen = 0;
    int devices;
    int rc = -EPROTO;

    if (scan_elements(d->text, d->len, &s) < 0 || !scan_agrees(d, &s, d->root, 0)) {
        *why = xstrdup("internal error: cannot locate elements in the document text");
        goto out;
    }
    devices = find_child(d, &s, 0, "devices");
    if (devices >= 0 &&
        !scan_agrees(d, &s, first_child(d->root, "devices"), devices)) {
        *why = xstrdup("internal error: cannot locate <devices> children in the document text");
        goto out;
    }
    layout_init(d, &s, &lay);
    if (kind == EDIT_PANIC)
        plan_panic(d, &s, &lay, pa, &sp);
    else
        plan_on_crash(d, &s, &lay, action, &sp);

    strbuf_add(&out, d->text, sp.off);
    strbuf_add(&out, strbuf_str(&sp.ins), sp.ins.len);
    strbuf_add(&out, d->text + sp.off + sp.del, d->len - sp.off - sp.del);
    newtext = strbuf_detach(&out, &newlen);

    if (domxml_parse(newtext, newlen, &fresh, &perr) < 0) {
        *why = xasprintf("internal error: the patched document does not parse: %s", perr);
        goto out;
    }
    if (kind == EDIT_PANIC) {
        if (fresh->panic_count != d->panic_count + 1 ||
            !domxml_has_panic_model(fresh, pa->model)) {
            *why = xstrdup("internal error: the patched document has no new <panic>");
            goto out;
        }
    } else if (!fresh->on_crash || strcmp(fresh->on_crash, action) != 0 ||
               fresh->panic_count != d->panic_count) {
        *why = xstrdup("internal error: <on_crash> was not set as asked");
        goto out;
    }
    /* Swap: @d takes over the verified document. */
    {
        struct domxml tmp = *d;

        *d = *fresh;
        *fresh = tmp;
    }
    rc = 0;

 out:
    scan_release(&s);
    free(lay.step);
    strbuf_release(&sp.ins);
    return rc;
}

int
domxml_patch(struct domxml *d, const struct domxml_patch_opts *opts,
             struct domxml_patch_report *report, char **why)
{
    struct panic_arg pa = { opts->model, DEFAULT_ISA_IOBASE };
    struct domxml_patch_report rep = { false, PANIC_MODEL_AUTO, false };
    bool need_panic;
    int rc;

    if (opts->model == PANIC_MODEL_DEFAULT || (unsigned int)opts->model >= PANIC_MODEL_LAST) {
        *why = xstrdup("the panic model must be auto or a libvirt model name");
        return -EINVAL;
    }
    if (opts->on_crash && !domxml_on_crash_valid(opts->on_crash)) {
        AUTOFREE char *shown = printable(opts->on_crash);

        *why = xasprintf("invalid <on_crash> action '%s' (use destroy, restart, preserve, "
                         "coredump-destroy or coredump-restart)", shown);
        return -EINVAL;
    }
    if (opts->iobase > 0xffff) {
        *why = xasprintf("ISA iobase 0x%x is out of range", (unsigned int)opts->iobase);
        return -EINVAL;
    }
    if (opts->model == PANIC_MODEL_AUTO) {
        need_panic = !domxml_has_usable_panic(d);
        if (need_panic && (rc = domxml_auto_model(d, &pa.model, why)) < 0)
            return rc;
    } else {
        if (!domxml_model_fits(d, opts->model, why))
            return -EINVAL;
        need_panic = !domxml_has_panic_model(d, opts->model);
    }
    if (need_panic && opts->iobase >= 0) {
        if (pa.model != PANIC_MODEL_ISA) {
            *why = xasprintf("--iobase applies to panic model 'isa' only, not '%s'",
                             panic_model_to_string(pa.model));
            return -EINVAL;
        }
        pa.iobase = (unsigned int)opts->iobase;
    }

    if (opts->on_crash && (!d->on_crash || strcmp(d->on_crash, opts->on_crash) != 0)) {
        if ((rc = apply_edit(d, EDIT_ON_CRASH, NULL, opts->on_crash, why)) < 0)
            return rc;
        rep.changed_on_crash = true;
    }
    if (need_panic) {
        if ((rc = apply_edit(d, EDIT_PANIC, &pa, NULL, why)) < 0)
            return rc;
        rep.added_panic = true;
        rep.model = pa.model;
    }
    if (report)
        *report = rep;
    return rep.added_panic || rep.changed_on_crash ? 1 : 0;
}
