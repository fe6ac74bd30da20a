#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "xalloc.h"

void
strbuf_grow(struct strbuf *sb, size_t extra)
{
    size_t want = sb->len + extra + 1;
    size_t cap = sb->cap ? sb->cap : 64;

    if (want <= sb->cap)
        return;
    while (cap < want)
        cap *= 2;
    sb->buf = xreallocarray(sb->buf, cap, 1);
    sb->cap = cap;
}

void
strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
    strbuf_grow(sb, len);
    if (len)
        memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void
strbuf_addstr(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void
strbuf_addch(struct strbuf *sb, char c)
{
    strbuf_grow(sb, 1);
    sb->buf[sb->len++] = c;
    sb->buf[sb->len] = '\0';
}

void
strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    strbuf_grow(sb, 64);
    va_copy(cp, ap);
    n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if ((size_t)n >= sb->cap - sb->len) {
        strbuf_grow(sb, (size_t)n);
        vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    }
    sb->len += (size_t)n;
}

void
strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
}

void
strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

void
strbuf_release(struct strbuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
}

char *
strbuf_detach(struct strbuf *sb, size_t *out_len)
{
    char *p;

    strbuf_grow(sb, 0);
    /* Nothing was ever added: the fresh allocation is not terminated yet. */
    sb->buf[sb->len] = '\0';
    p = sb->buf;
    if (out_len)
        *out_len = sb->len;
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    return p;
}

const char *
strbuf_str(const struct strbuf *sb)
{
    return sb->buf ? sb->buf : "";
}

size_t
utf8_seq_len(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    size_t i;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (len < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    }
    /* Reject overlongs, surrogates and code points above U+10FFFF. */
    if (c == 0xe0 && s[1] < 0xa0)
        return 0;
    if (c == 0xed && s[1] >= 0xa0)
        return 0;
    if (c == 0xf0 && s[1] < 0x90)
        return 0;
    if (c == 0xf4 && s[1] >= 0x90)
        return 0;
    return n;
}

void
strbuf_add_json_str(struct strbuf *sb, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    strbuf_grow(sb, len + 2);
    strbuf_addch(sb, '"');
    while (i < len) {
        unsigned char c = p[i];
        size_t n;

        switch (c) {
        case '"': strbuf_add(sb, "\\\"", 2); i++; continue;
        case '\\': strbuf_add(sb, "\\\\", 2); i++; continue;
        case '\n': strbuf_add(sb, "\\n", 2); i++; continue;
        case '\r': strbuf_add(sb, "\\r", 2); i++; continue;
        case '\t': strbuf_add(sb, "\\t", 2); i++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            strbuf_addf(sb, "\\u%04x", c);
            i++;
            continue;
        }
        n = utf8_seq_len(p + i, len - i);
        if (n == 0) {
            strbuf_add(sb, "\\ufffd", 6);
            i++;
            continue;
        }
        strbuf_add(sb, p + i, n);
        i += n;
    }
    strbuf_addch(sb, '"');
}

void
strbuf_add_json_strz(struct strbuf *sb, const char *s)
{
    if (!s)
        strbuf_add(sb, "null", 4);
    else
        strbuf_add_json_str(sb, s, strlen(s));
}

void
strbuf_add_prom_label(struct strbuf *sb, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned char c = p[i];
        size_t n;

        if (c == '\\' || c == '"') {
            strbuf_addch(sb, '\\');
            strbuf_addch(sb, (char)c);
            i++;
            continue;
        }
        if (c == '\n') {
            strbuf_add(sb, "\\n", 2);
            i++;
            continue;
        }
        n = utf8_seq_len(p + i, len - i);
        if (n == 0 || c == 0) {
            strbuf_add(sb, "\xef\xbf\xbd", 3);
            i++;
            continue;
        }
        strbuf_add(sb, p + i, n);
        i += n;
    }
}

void
strbuf_add_pct(struct strbuf *sb, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    if (len == 0) {
        strbuf_add(sb, "%-", 2);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= 0x20 || c >= 0x7f || c == '%') {
            strbuf_addch(sb, '%');
            strbuf_addch(sb, hex[c >> 4]);
            strbuf_addch(sb, hex[c & 0xf]);
        } else {
            strbuf_addch(sb, (char)c);
        }
    }
}

int
hex_digit_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *
pct_unescape(const char *s, size_t len, size_t *out_len)
{
    struct strbuf sb = STRBUF_INIT;

    if (len == 2 && s[0] == '%' && s[1] == '-') {
        *out_len = 0;
        return strbuf_detach(&sb, NULL);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            int hi = i + 2 < len ? hex_digit_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_digit_value(s[i + 2]) : -1;

            if (hi < 0 || lo < 0) {
                strbuf_release(&sb);
                return NULL;
            }
            strbuf_addch(&sb, (char)(hi << 4 | lo));
            i += 2;
        } else if (c <= 0x20) {
            strbuf_release(&sb);
            return NULL;
        } else {
            strbuf_addch(&sb, (char)c);
        }
    }
    return strbuf_detach(&sb, out_len);
}
