/*
 * strbuf.h: a growable byte string, always NUL-terminated, plus the escapers
 * every output format needs (JSON strings, Prometheus label values).
 *
 * The buffer is owned by the struct; strbuf_release() frees it and
 * strbuf_detach() hands it to the caller (who frees it with free()).
 */
#ifndef PVPANIC_STRBUF_H
#define PVPANIC_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *buf;
    size_t len;
    size_t cap;
};

#define STRBUF_INIT { NULL, 0, 0 }

void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Empty the string but keep the allocation. */
void strbuf_reset(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
/* Returns the NUL-terminated buffer (never NULL) and resets @sb. */
char *strbuf_detach(struct strbuf *sb, size_t *out_len);
/* The current contents, NUL-terminated; "" when nothing was added. */
const char *strbuf_str(const struct strbuf *sb);

/*
 * Append @s (@len bytes, any bytes at all) as a quoted JSON string. Control
 * characters, '"' and '\\' are escaped; bytes that are not valid UTF-8 become
 * U+FFFD, so the result is always valid JSON text.
 */
void strbuf_add_json_str(struct strbuf *sb, const char *s, size_t len);
/* Same, or the bare word null when @s is NULL. */
void strbuf_add_json_strz(struct strbuf *sb, const char *s);

/*
 * Append @s as the inside of a Prometheus label value (exposition format:
 * backslash, double quote and newline escaped; invalid UTF-8 -> U+FFFD).
 */
void strbuf_add_prom_label(struct strbuf *sb, const char *s, size_t len);

/*
 * Percent-escaping for one-token fields of our state files: bytes <= 0x20,
 * '%' and bytes >= 0x7f become %XX, so the result has no blank, newline or
 * NUL; the empty string becomes "%-".
 */
void strbuf_add_pct(struct strbuf *sb, const char *s, size_t len);
/*
 * Inverse of strbuf_add_pct(): a new NUL-terminated string (caller frees;
 * *@out_len = its length, which may count NUL bytes the input encoded), or
 * NULL for malformed input (a raw byte <= 0x20, a bad or cut %XX).
 */
char *pct_unescape(const char *s, size_t len, size_t *out_len);
/* 0..15 for a hex digit (either case), -1 otherwise. */
int hex_digit_value(int c);

/*
 * Length of the valid UTF-8 sequence starting at @s (1..4), or 0 if the
 * bytes at @s (at most @len of them) are not one.
 */
size_t utf8_seq_len(const unsigned char *s, size_t len);

#endif /* PVPANIC_STRBUF_H */
