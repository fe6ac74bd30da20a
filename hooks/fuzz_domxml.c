/*
 * fuzz_domxml: libFuzzer entry for the domain XML parser and patcher
 * (also replayed over the golden inputs in make check, any compiler).
 *
 * The first input byte picks the patch options; the rest is the document.
 * Beyond "no crash", it checks the patcher's contract: a successful patch
 * leaves a document that parses, has the device, and that a second patch
 * leaves alone; a failed one leaves the text exactly as it was.
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domxml.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum panic_model models[] = {
    PANIC_MODEL_AUTO, PANIC_MODEL_ISA, PANIC_MODEL_PVPANIC, PANIC_MODEL_HYPERV,
    PANIC_MODEL_PSERIES, PANIC_MODEL_S390, PANIC_MODEL_AUTO, PANIC_MODEL_AUTO,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct domxml_patch_opts opts = { PANIC_MODEL_AUTO, -1, NULL };
    struct domxml *d = NULL;
    char *err = NULL;
    char *why = NULL;
    char *before = NULL;
    size_t before_len = 0;
    const char *text;
    size_t len = 0;
    int rc;

    if (size < 1)
        return 0;
    opts.model = models[data[0] & 7];
    if (data[0] & 8)
        opts.on_crash = "preserve";
    if (data[0] & 16)
        opts.iobase = 0x600;
    data++;
    size--;

    if (domxml_parse((const char *)data, size, &d, &err) < 0) {
        if (!err)
            abort();
        free(err);
        return 0;
    }
    /* Inspection must hold up on anything that parsed. */
    (void)domxml_has_usable_panic(d);
    (void)domxml_metadata_on_missing(d);
    text = domxml_text(d, &before_len);
    before = xmemdup(text, before_len);

    rc = domxml_patch(d, &opts, NULL, &why);
    text = domxml_text(d, &len);
    if (rc < 0 && rc != -EPROTO && (len != before_len || memcmp(text, before, len) != 0))
        abort();
    if (rc < 0 && !why)
        abort();
    if (rc >= 0) {
        struct domxml *again = NULL;
        char *err2 = NULL;
        char *why2 = NULL;
        const char *text2;
        size_t len2 = 0;

        if (domxml_parse(text, len, &again, &err2) < 0)
            abort();
        if (opts.model == PANIC_MODEL_AUTO ? !domxml_has_usable_panic(again)
                                           : !domxml_has_panic_model(again, opts.model))
            abort();
        if (domxml_patch(again, &opts, NULL, &why2) != 0)
            abort();
        text2 = domxml_text(again, &len2);
        if (len2 != len || memcmp(text2, text, len) != 0)
            abort();
        domxml_free(again);
    }
    free(why);
    free(before);
    domxml_free(d);
    return 0;
}
