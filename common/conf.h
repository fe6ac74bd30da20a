/*
 * conf.h: the one configuration format of pvpanic-tools (hook.conf and
 * watch.conf), read line by line through one core with two doors.
 *
 *   # comment (a line whose first non-blank character is '#' or ';')
 *   key = value                 value is the rest of the line, trimmed
 *   key = "quoted \"value\""    C-style escapes: \" \\ \n \t
 *   [section]                   starts a section
 *   [section label]             e.g. [sink exec] or [rule "my rule"]
 *
 * Keys are [A-Za-z0-9_.-]+. A key may repeat; the consumer decides what that
 * means. The reader checks syntax only; the callback checks meaning and may
 * reject an entry with a message. Every problem is reported once, as
 * "FILE:LINE: message" through log_warnx(), parsing goes on, and the parse
 * fails at the end if anything was wrong (OpenSMTPD parse.y style).
 */
#ifndef PVPANIC_CONF_H
#define PVPANIC_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define CONF_MAX_SIZE (1024 * 1024)

struct conf_entry {
    const char *file;       /* name used in diagnostics */
    unsigned int line;
    const char *section;    /* NULL before the first [section] */
    const char *label;      /* NULL when the section has none */
    const char *key;        /* NULL: the call announces a new section */
    const char *value;      /* NUL-terminated; may contain anything but NUL */
};

/*
 * Called once per section header (key == NULL) and once per key. Return 0 to
 * accept; return -1 and set *@errmsg to a new string (xasprintf) to reject.
 * The reader logs "file:line: <errmsg>" and frees it.
 */
typedef int (*conf_entry_fn)(const struct conf_entry *e, void *opaque, char **errmsg);

/*
 * Parse @path. Returns 0, -EINVAL if any line was rejected, or -errno if the
 * file cannot be read (reported as "cannot read config 'PATH': ..."). When
 * @secure is set the file must pass check_file_secrecy() (-EPERM otherwise).
 */
int conf_parse_file(const char *path, bool secure, conf_entry_fn fn, void *opaque);

/* Parse @len bytes of @text, naming it @name in diagnostics. */
int conf_parse_string(const char *name, const char *text, size_t len,
                      conf_entry_fn fn, void *opaque);

/*
 * Value helpers for callbacks: 0 on success, -1 with *@errmsg set otherwise.
 *   bool: yes/no, true/false, on/off, 1/0
 *   uint: decimal, within [min, max]
 *   duration: "250ms", "10s", "5m", "1h", "2d" or bare seconds -> milliseconds
 */
int conf_value_bool(const char *value, bool *out, char **errmsg);
int conf_value_uint(const char *value, unsigned long min, unsigned long max,
                    unsigned long *out, char **errmsg);
int conf_value_duration_ms(const char *value, unsigned long long *out, char **errmsg);

/*
 * Split @s into words the way a shell would split *literal* text: blanks
 * separate words, '...' and "..." quote, backslash escapes the next byte.
 * Nothing is expanded ($, `, *, ~ are plain bytes). On success returns 0 and
 * a NULL-terminated array in *@out_argv (free with conf_free_words()).
 */
int conf_split_words(const char *s, char ***out_argv, int *out_argc, char **errmsg);
void conf_free_words(char **argv);

#endif /* PVPANIC_CONF_H */
