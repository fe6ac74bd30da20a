/*
 * test_domxml: parse / inspect / patch / serialize of domain XML.
 *
 * Golden cases: tests/data/domxml/<case>.in.xml (or the input named by
 * "input=" in <case>.opts) is patched with the options in <case>.opts and
 * compared with <case>.out.xml (the document) and <case>.result (what the
 * patcher reported). REGENERATE_OUTPUT=1 rewrites both.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "domxml.h"
#include "strbuf.h"
#include "testutil.h"
#include "xalloc.h"

static const char *const golden_cases[] = {
    "x86-pc",
    "x86-q35",
    "x86-i686",
    "windows-hyperv",
    "windows-hyperv-model",
    "aarch64-virt",
    "ppc64-pseries",
    "s390x",
    "existing-panic",
    "existing-panic-on-crash",
    "comments-metadata-qemu",
    "no-devices",
    "unknown-arch",
    "aarch64-raspi",
    "aarch64-isa-unusable",
    "x86-hyperv-existing",
    "x86-pvpanic-pci",
    "on-crash-replace",
    "on-crash-insert",
    "empty-devices",
    "iobase",
    "iobase-misfit",
    "model-misfit",
    "compact",
    "tabs",
    "crlf",
};

struct case_opts {
    char *input;
    struct domxml_patch_opts patch;
    char *on_crash;
};

static void
read_opts(const char *name, struct case_opts *o)
{
    AUTOFREE char *rel = xasprintf("domxml/%s.opts", name);
    AUTOFREE char *path = testutil_datapath(rel);
    AUTOFREE char *text = NULL;
    size_t len = 0;
    char *line;
    char *save = NULL;

    o->input = xstrdup(name);
    o->patch = (struct domxml_patch_opts){ PANIC_MODEL_AUTO, -1, NULL };
    o->on_crash = NULL;
    if (access(path, F_OK) != 0)
        return;
    text = testutil_read_file(path, &len);
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');

        assert_non_null(eq);
        *eq = '\0';
        if (strcmp(line, "input") == 0) {
            free(o->input);
            o->input = xstrdup(eq + 1);
        } else if (strcmp(line, "model") == 0) {
            int m = panic_model_from_string(eq + 1);

            assert_true(m >= 0);
            o->patch.model = (enum panic_model)m;
        } else if (strcmp(line, "on_crash") == 0) {
            o->on_crash = xstrdup(eq + 1);
            o->patch.on_crash = o->on_crash;
        } else if (strcmp(line, "iobase") == 0) {
            unsigned int v;

            assert_int_equal(domxml_parse_iobase(eq + 1, &v), 0);
            o->patch.iobase = (int)v;
        } else {
            fail_msg("%s: unknown option '%s'", path, line);
        }
    }
}

static const char *
errno_name(int rc)
{
    switch (-rc) {
    case ENOTSUP: return "ENOTSUP";
    case EINVAL: return "EINVAL";
    case EPROTO: return "EPROTO";
    case EFBIG: return "EFBIG";
    default: return "other";
    }
}

static struct domxml *
parse_ok(const char *text, size_t len)
{
    struct domxml *d = NULL;
    AUTOFREE char *err = NULL;
    int rc = domxml_parse(text, len, &d, &err);

    if (rc != 0)
        fail_msg("parse failed: %s", err);
    return d;
}

static void
test_golden(void **state)
{
    const char *name = *state;
    struct case_opts o;
    AUTOFREE char *in_rel = NULL;
    AUTOFREE char *in_path = NULL;
    AUTOFREE char *input = NULL;
    AUTOFREE char *out_rel = xasprintf("domxml/%s.out.xml", name);
    AUTOFREE char *out_path = testutil_datapath(out_rel);
    AUTOFREE char *res_rel = xasprintf("domxml/%s.result", name);
    AUTOFREE char *res_path = testutil_datapath(res_rel);
    AUTOFREE char *why = NULL;
    AUTOPTR(domxml) d = NULL;
    struct domxml_patch_report rep = { false, PANIC_MODEL_AUTO, false };
    struct strbuf result = STRBUF_INIT;
    const char *text;
    size_t in_len = 0;
    size_t len = 0;
    int rc;

    read_opts(name, &o);
    in_rel = xasprintf("domxml/%s.in.xml", o.input);
    in_path = testutil_datapath(in_rel);
    input = testutil_read_file(in_path, &in_len);
    d = parse_ok(input, in_len);

    rc = domxml_patch(d, &o.patch, &rep, &why);
    if (rc >= 0)
        strbuf_addf(&result, "rc=%d added=%s on_crash=%s\n", rc,
                    rep.added_panic ? panic_model_to_string(rep.model) : "no",
                    rep.changed_on_crash ? "changed" : "unchanged");
    else
        strbuf_addf(&result, "rc=-%s why=%s\n", errno_name(rc), why);
    text = domxml_text(d, &len);
    assert_int_equal(testutil_compare_to_file(text, len, out_path), 0);
    assert_int_equal(testutil_compare_to_file(strbuf_str(&result), result.len, res_path), 0);

    if (rc <= 0) {
        /* Nothing to do, or refused: the text is exactly the input. */
        assert_int_equal(len, in_len);
        assert_memory_equal(text, input, len);
    } else {
        /* The result is a document a second patch leaves alone. */
        AUTOPTR(domxml) again = parse_ok(text, len);
        AUTOFREE char *why2 = NULL;
        const char *text2;
        size_t len2 = 0;

        assert_int_equal(domxml_patch(again, &o.patch, NULL, &why2), 0);
        text2 = domxml_text(again, &len2);
        assert_int_equal(len2, len);
        assert_memory_equal(text2, text, len);
        if (o.patch.model == PANIC_MODEL_AUTO)
            assert_true(domxml_has_usable_panic(again));
        else
            assert_true(domxml_has_panic_model(again, o.patch.model));
        if (o.on_crash)
            assert_string_equal(domxml_on_crash(again), o.on_crash);
    }
    strbuf_release(&result);
    free(o.input);
    free(o.on_crash);
}

/* ---- rejected input --------------------------------------------------- */

/* Parse must fail with @want_rc and a message containing @needle; libxml2
 * itself must print nothing. */
static void
expect_reject(const char *text, size_t len, int want_rc, const char *needle)
{
    struct domxml *d = NULL;
    AUTOFREE char *err = NULL;
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *errfile = xasprintf("%s/stderr", dir);
    AUTOFREE char *printed = NULL;
    size_t plen = 0;
    int saved = dup(2);
    int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc;

    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    rc = domxml_parse(text, len, &d, &err);
    dup2(saved, 2);
    close(saved);
    printed = testutil_read_file(errfile, &plen);
    testutil_rmtree(dir);

    assert_null(d);
    assert_int_equal(rc, want_rc);
    assert_non_null(err);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
    for (const unsigned char *p = (const unsigned char *)err; *p; p++)
        assert_true(*p >= 0x20 && *p != 0x7f);
    if (plen != 0)
        fail_msg("libxml2 printed on stderr: %s", printed);
}

static void
expect_reject_str(const char *text, int want_rc, const char *needle)
{
    expect_reject(text, strlen(text), want_rc, needle);
}

static void
test_reject_xxe(void **state)
{
    expect_reject_str("<?xml version=\"1.0\"?>\n"
                      "<!DOCTYPE domain [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
                      "<domain><name>&xxe;</name></domain>\n", -EINVAL, "DOCTYPE");
    expect_reject_str("<!DOCTYPE domain SYSTEM \"http://127.0.0.1:9/evil.dtd\">\n"
                      "<domain><name>x</name></domain>", -EINVAL, "DOCTYPE");
    expect_reject_str("<!DOCTYPE domain [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/x\"> %p;]>"
                      "<domain/>", -EINVAL, "DOCTYPE");
    /* Even a harmless DOCTYPE: libvirt never writes one. */
    expect_reject_str("<!DOCTYPE domain>\n<domain><name>x</name></domain>", -EINVAL, "DOCTYPE");
}

static void
test_reject_billion_laughs(void **state)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addstr(&sb, "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
                       " <!ENTITY lol \"lol\">\n");
    for (int i = 1; i <= 9; i++) {
        strbuf_addf(&sb, " <!ENTITY lol%d \"", i);
        for (int k = 0; k < 10; k++) {
            if (i == 1)
                strbuf_addstr(&sb, "&lol;");
            else
                strbuf_addf(&sb, "&lol%d;", i - 1);
        }
        strbuf_addstr(&sb, "\">\n");
    }
    strbuf_addstr(&sb, "]>\n<domain><name>&lol9;</name></domain>\n");
    expect_reject(sb.buf, sb.len, -EINVAL, "DOCTYPE");
    strbuf_release(&sb);
}

static void
test_reject_entity_refs(void **state)
{
    /* Without a DOCTYPE every entity is undeclared; only the five
     * predefined ones and character references are allowed. */
    expect_reject_str("<domain><name>&foo;</name></domain>", -EINVAL, "&foo;");
    expect_reject_str("<domain><name a='&bar;'>x</name></domain>", -EINVAL, "entity");
}

static void
test_predefined_entities_ok(void **state)
{
    static const char xml[] =
        "<domain><name>a&amp;b&lt;c&#x41;&#66;&quot;&apos;&gt;</name>"
        "<os><type arch='x86_64'>hvm</type></os></domain>";
    AUTOPTR(domxml) d = parse_ok(xml, strlen(xml));

    assert_string_equal(domxml_name(d), "a&b<cAB\"'>");
}

static void
test_reject_size(void **state)
{
    size_t big = 50u << 20;
    AUTOFREE char *buf = xmalloc(big);
    static const char head[] = "<domain><description>";

    memset(buf, 'A', big);
    memcpy(buf, head, strlen(head));
    expect_reject(buf, big, -EFBIG, "larger than 16 MiB");
    expect_reject(buf, (size_t)DOMXML_MAX_SIZE + 1, -EFBIG, "larger than");
}

static void
test_at_size_cap(void **state)
{
    /* Exactly the cap is still accepted. */
    static const char head[] = "<domain><name>big</name><description>";
    static const char tail[] = "</description></domain>";
    size_t len = DOMXML_MAX_SIZE;
    AUTOFREE char *buf = xmalloc(len);
    AUTOPTR(domxml) d = NULL;

    memset(buf, 'x', len);
    memcpy(buf, head, strlen(head));
    memcpy(buf + len - strlen(tail), tail, strlen(tail));
    d = parse_ok(buf, len);
    assert_string_equal(domxml_name(d), "big");
}

static void
test_reject_deep_nesting(void **state)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addstr(&sb, "<domain>");
    for (int i = 0; i < 20000; i++)
        strbuf_addstr(&sb, "<a>");
    for (int i = 0; i < 20000; i++)
        strbuf_addstr(&sb, "</a>");
    strbuf_addstr(&sb, "</domain>");
    expect_reject(sb.buf, sb.len, -EINVAL, "not well-formed");
    strbuf_release(&sb);
}

static void
test_reject_bad_bytes(void **state)
{
    static const char nul[] = "<domain><name>a\0b</name></domain>";
    static const char utf16[] = "\xff\xfe<\0d\0o\0m\0a\0i\0n\0/\0>\0";

    expect_reject_str("<domain><name>\xff\xfe\x80</name></domain>", -EINVAL, "not well-formed");
    expect_reject_str("<domain><name>\xc3\x28</name></domain>", -EINVAL, "not well-formed");
    expect_reject(nul, sizeof(nul) - 1, -EINVAL, "NUL byte at offset 15");
    expect_reject(utf16, sizeof(utf16) - 1, -EINVAL, "NUL byte");
    expect_reject_str("<?xml version='1.0' encoding='ISO-8859-1'?><domain/>", -EINVAL,
                      "encoding 'ISO-8859-1'");
    /* A control character in a tag name comes back escaped. */
    expect_reject_str("<domain><na\x01me/></domain>", -EINVAL, "not well-formed");
}

static void
test_reject_not_domain(void **state)
{
    expect_reject_str("", -EINVAL, "empty input");
    expect_reject_str(" \n\t ", -EINVAL, "empty input");
    expect_reject_str("hello, world\n", -EINVAL, "not well-formed");
    expect_reject_str("<domain><name>x</name>", -EINVAL, "not well-formed");
    expect_reject_str("<domain><name>x</nam></domain>", -EINVAL, "line 1");
    expect_reject_str("<network><name>default</name></network>", -EINVAL,
                      "root element is <network>, not <domain>");
    expect_reject_str("<x:domain xmlns:x='urn:x'/>", -EINVAL, "not <domain>");
    expect_reject_str("<domain/><domain/>", -EINVAL, "not well-formed");
    expect_reject_str("{\"domain\": \"json\"}", -EINVAL, "not well-formed");
}

/* ---- inspection --------------------------------------------------------- */

static struct domxml *
make_domain(const char *arch, const char *machine, const char *panics)
{
    struct strbuf sb = STRBUF_INIT;
    struct domxml *d;

    strbuf_addstr(&sb, "<domain type='kvm'><name>t</name><os><type");
    if (arch)
        strbuf_addf(&sb, " arch='%s'", arch);
    if (machine)
        strbuf_addf(&sb, " machine='%s'", machine);
    strbuf_addf(&sb, ">hvm</type></os><devices>%s</devices></domain>", panics);
    d = parse_ok(sb.buf, sb.len);
    strbuf_release(&sb);
    return d;
}

static void
test_usable_matrix(void **state)
{
    static const struct {
        const char *arch;
        const char *machine;
        const char *panics;
        bool usable;
    } cases[] = {
        { "x86_64", "pc-q35-7.2", "", false },
        { "x86_64", "pc-q35-7.2", "<panic model='isa'/>", true },
        { "x86_64", "pc", "<panic model='hyperv'/>", true },
        { "i686", "pc", "<panic/>", true },
        { "x86_64", "q35", "<panic model='pvpanic'/>", true },
        { "x86_64", "q35", "<panic model='s390'/>", false },
        { "x86_64", "q35", "<panic model='pseries'/>", false },
        { "aarch64", "virt", "<panic model='isa'/>", false },
        { "aarch64", "virt", "<panic model='hyperv'/>", false },
        { "aarch64", "virt-7.2", "<panic model='pvpanic'/>", true },
        { "aarch64", "virt", "<panic/>", true },
        { "aarch64", "raspi3b", "<panic/>", false },
        { "ppc64le", "pseries-7.2", "<panic model='pseries'/>", true },
        { "ppc64", "powernv", "<panic model='pseries'/>", false },
        { "s390x", "s390-ccw-virtio", "<panic model='s390'/>", true },
        { "s390x", "s390-ccw-virtio", "<panic model='pvpanic'/>", false },
        { "riscv64", "virt", "<panic/>", false },
        { "riscv64", "virt", "<panic model='pvpanic'/>", true },
        /* a model from a future libvirt: trusted */
        { "x86_64", "q35", "<panic model='tdx'/>", true },
        { NULL, NULL, "<panic model='isa'/>", false },
        { "x86_64", "q35", "<panic model='s390'/><panic model='isa'/>", true },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        AUTOPTR(domxml) d = make_domain(cases[i].arch, cases[i].machine, cases[i].panics);

        if (domxml_has_usable_panic(d) != cases[i].usable)
            fail_msg("case %zu (%s %s %s): expected usable=%d", i, cases[i].arch,
                     cases[i].machine, cases[i].panics, cases[i].usable);
    }
}

static void
test_auto_model(void **state)
{
    static const struct {
        const char *arch;
        const char *machine;
        int model;      /* -1: ENOTSUP */
    } cases[] = {
        { "x86_64", "pc-i440fx-7.2", PANIC_MODEL_ISA },
        { "i686", "pc", PANIC_MODEL_ISA },
        { "aarch64", "virt", PANIC_MODEL_PVPANIC },
        { "aarch64", "virt-8.2", PANIC_MODEL_PVPANIC },
        { "armv7l", "virt", PANIC_MODEL_PVPANIC },
        { "aarch64", "virtual", -1 },
        { "aarch64", NULL, -1 },
        { "ppc64", "pseries", PANIC_MODEL_PSERIES },
        { "ppc64le", "pseries-7.2", PANIC_MODEL_PSERIES },
        { "ppc64", "powernv9", -1 },
        { "s390x", "s390-ccw-virtio-7.2", PANIC_MODEL_S390 },
        { "riscv64", "virt", -1 },
        { "mips64el", "malta", -1 },
        { NULL, NULL, -1 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        AUTOPTR(domxml) d = make_domain(cases[i].arch, cases[i].machine, "");
        AUTOFREE char *why = NULL;
        enum panic_model m = PANIC_MODEL_LAST;
        int rc = domxml_auto_model(d, &m, &why);

        if (cases[i].model < 0) {
            assert_int_equal(rc, -ENOTSUP);
            assert_non_null(why);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(m, cases[i].model);
        }
    }
}

static void
test_info(void **state)
{
    static const char xml[] =
        "<domain type='kvm'>\n  <name>数据库 x\"$(id)`x`</name>\n"
        "  <uuid> 6F1C2B0E-3D4A-4B8E-9A51-2C7D8E9F0A12 </uuid>\n"
        "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
        "  <on_crash>preserve</on_crash>\n"
        "  <devices><panic model='isa'/><panic model='hyperv'/></devices>\n"
        "  <devices><panic/></devices>\n</domain>\n";
    AUTOPTR(domxml) d = parse_ok(xml, strlen(xml));

    assert_string_equal(domxml_name(d), "数据库 x\"$(id)`x`");
    assert_string_equal(domxml_uuid(d), "6F1C2B0E-3D4A-4B8E-9A51-2C7D8E9F0A12");
    assert_string_equal(domxml_arch(d), "x86_64");
    assert_string_equal(domxml_machine(d), "pc");
    assert_string_equal(domxml_on_crash(d), "preserve");
    assert_int_equal(domxml_panic_count(d), 3);
    assert_true(domxml_has_panic_model(d, PANIC_MODEL_HYPERV));
    assert_true(domxml_has_panic_model(d, PANIC_MODEL_DEFAULT));
    assert_false(domxml_has_panic_model(d, PANIC_MODEL_S390));
}

static void
test_metadata(void **state)
{
    static const char ours[] =
        "<domain><metadata>\n"
        "  <other:hook xmlns:other='urn:someone-else' on_missing='refuse'/>\n"
        "  <pv:hook xmlns:pv='" DOMXML_METADATA_NS "' on_missing='ignore'/>\n"
        "</metadata></domain>";
    static const char theirs[] =
        "<domain><metadata><hook on_missing='ignore'/>"
        "<x:hook xmlns:x='urn:pvpanic-tools:hook:2' on_missing='ignore'/></metadata></domain>";
    AUTOPTR(domxml) a = parse_ok(ours, strlen(ours));
    AUTOPTR(domxml) b = parse_ok(theirs, strlen(theirs));

    assert_string_equal(domxml_metadata_on_missing(a), "ignore");
    assert_null(domxml_metadata_on_missing(b));
}

static void
test_values(void **state)
{
    unsigned int v = 0;

    assert_int_equal(domxml_parse_iobase("0x505", &v), 0);
    assert_int_equal(v, 0x505);
    assert_int_equal(domxml_parse_iobase("0XFFFF", &v), 0);
    assert_int_equal(v, 0xffff);
    assert_int_equal(domxml_parse_iobase("0x10000", &v), -EINVAL);
    assert_int_equal(domxml_parse_iobase("505", &v), -EINVAL);
    assert_int_equal(domxml_parse_iobase("0x", &v), -EINVAL);
    assert_int_equal(domxml_parse_iobase("0x5g5", &v), -EINVAL);
    assert_int_equal(domxml_parse_iobase("0x00000000000000000000505", &v), 0);
    assert_true(domxml_on_crash_valid("coredump-restart"));
    assert_false(domxml_on_crash_valid("rename-restart"));
    assert_false(domxml_on_crash_valid(""));
    assert_int_equal(panic_model_from_string("hyperv"), PANIC_MODEL_HYPERV);
    assert_int_equal(panic_model_from_string("ISA"), -1);
    assert_string_equal(panic_model_to_string(PANIC_MODEL_S390), "s390");
}

static void
test_patch_bad_options(void **state)
{
    static const char xml[] = "<domain><os><type arch='x86_64'>hvm</type></os></domain>";
    AUTOPTR(domxml) d = parse_ok(xml, strlen(xml));
    struct domxml_patch_opts o = { PANIC_MODEL_DEFAULT, -1, NULL };
    AUTOFREE char *why = NULL;
    size_t len = 0;

    assert_int_equal(domxml_patch(d, &o, NULL, &why), -EINVAL);
    free(why);
    why = NULL;
    o = (struct domxml_patch_opts){ PANIC_MODEL_AUTO, -1, "rename-restart" };
    assert_int_equal(domxml_patch(d, &o, NULL, &why), -EINVAL);
    assert_non_null(strstr(why, "rename-restart"));
    free(why);
    why = NULL;
    o = (struct domxml_patch_opts){ PANIC_MODEL_HYPERV, 0x600, NULL };
    assert_int_equal(domxml_patch(d, &o, NULL, &why), -EINVAL);
    assert_non_null(strstr(why, "--iobase"));
    assert_string_equal(domxml_text(d, &len), xml);
}

/* A comment or a text node between devices must not confuse placement. */
static void
test_patch_odd_devices(void **state)
{
    static const char xml[] =
        "<domain>\n  <os><type arch='x86_64'>hvm</type></os>\n  <devices>\n"
        "    <!-- <panic model='isa'/> in a comment does not count -->\n"
        "    <disk device='disk'><![CDATA[ </devices> ]]></disk>\n"
        "    <shmem name='ivshmem'/>\n  </devices>\n</domain>\n";
    static const char want[] =
        "<domain>\n  <os><type arch='x86_64'>hvm</type></os>\n  <devices>\n"
        "    <!-- <panic model='isa'/> in a comment does not count -->\n"
        "    <disk device='disk'><![CDATA[ </devices> ]]></disk>\n"
        "    <panic model='isa'>\n      <address type='isa' iobase='0x505'/>\n    </panic>\n"
        "    <shmem name='ivshmem'/>\n  </devices>\n</domain>\n";
    AUTOPTR(domxml) d = parse_ok(xml, strlen(xml));
    struct domxml_patch_opts o = { PANIC_MODEL_AUTO, -1, NULL };
    AUTOFREE char *why = NULL;

    assert_int_equal(domxml_panic_count(d), 0);
    assert_int_equal(domxml_patch(d, &o, NULL, &why), 1);
    assert_string_equal(domxml_text(d, NULL), want);
}

/*
 * Robustness: every prefix of a real document, and documents with bytes
 * flipped, either fail to parse cleanly or parse and patch to something
 * that verifies. Under ASan/valgrind this is the cheap fuzzer.
 */
static void
test_truncations_and_flips(void **state)
{
    AUTOFREE char *path = testutil_datapath("domxml/comments-metadata-qemu.in.xml");
    size_t len = 0;
    AUTOFREE char *text = testutil_read_file(path, &len);
    AUTOFREE char *copy = xmalloc(len);
    unsigned int seed = 12345;
    unsigned int parsed = 0;

    for (size_t cut = 0; cut <= len; cut += 7) {
        struct domxml *d = NULL;
        AUTOFREE char *err = NULL;

        if (domxml_parse(text, cut, &d, &err) == 0)
            parsed++;
        domxml_free(d);
    }
    for (int iter = 0; iter < 3000; iter++) {
        struct domxml *d = NULL;
        AUTOFREE char *err = NULL;
        AUTOFREE char *why = NULL;
        struct domxml_patch_opts o = { PANIC_MODEL_AUTO, -1, iter % 2 ? "preserve" : NULL };

        memcpy(copy, text, len);
        for (int f = 0; f < 3; f++) {
            seed = seed * 1103515245u + 12345u;
            copy[(seed >> 8) % len] = (char)(seed >> 20);
        }
        if (domxml_parse(copy, len, &d, &err) == 0) {
            int rc = domxml_patch(d, &o, NULL, &why);

            parsed++;
            assert_true(rc >= 0 || rc == -ENOTSUP || rc == -EINVAL);
        }
        domxml_free(d);
    }
    /* Some mutations keep the document valid: the sweep did reach patch. */
    assert_true(parsed > 0);
}

/*
 * The fuzz harness (hooks/fuzz_domxml.c) over every golden input with every
 * option byte, whole and cut short: it aborts when the patcher breaks its
 * contract (idempotence, verified output, untouched text on failure).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
test_fuzz_harness_on_golden_inputs(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(golden_cases); i++) {
        AUTOFREE char *rel = xasprintf("domxml/%s.in.xml", golden_cases[i]);
        AUTOFREE char *path = testutil_datapath(rel);
        AUTOFREE uint8_t *buf = NULL;
        AUTOFREE char *text = NULL;
        size_t len = 0;

        if (access(path, F_OK) != 0)
            continue;   /* a case that reuses another's input */
        text = testutil_read_file(path, &len);
        buf = xmalloc(len + 1);
        memcpy(buf + 1, text, len);
        for (unsigned int opt = 0; opt < 32; opt++) {
            buf[0] = (uint8_t)opt;
            assert_int_equal(LLVMFuzzerTestOneInput(buf, len + 1), 0);
            assert_int_equal(LLVMFuzzerTestOneInput(buf, 1 + len / 2), 0);
        }
    }
}

int
main(void)
{
    struct CMUnitTest tests[ARRAY_SIZE(golden_cases) + 18];
    size_t n = 0;

    for (size_t i = 0; i < ARRAY_SIZE(golden_cases); i++) {
        tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_golden,
                                                                (void *)golden_cases[i]);
        tests[n].name = golden_cases[i];
        n++;
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reject_xxe);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reject_billion_laughs);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reject_entity_refs);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_predefined_entities_ok);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reject_size);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_at_size_cap);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reject_deep_nesting);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reject_bad_bytes);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reject_not_domain);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_usable_matrix);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_auto_model);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_info);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_metadata);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_values);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_patch_bad_options);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_patch_odd_devices);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_truncations_and_flips);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_fuzz_harness_on_golden_inputs);
    return _cmocka_run_group_tests("domxml", tests, n, NULL, NULL);
}
