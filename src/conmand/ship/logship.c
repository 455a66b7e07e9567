/* Log shipping, pure part: line assembly and the JSON encoding of a line. */
#include "conmand/ship/logship.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/textenc.h"

static void emit_line(struct logship_line *l, logship_emit_fn emit, void *arg)
{
    size_t n = l->len;
    if (n > 0 && l->buf[n - 1] == '\r')
        n--;
    emit(arg, l->buf, n);
    l->len = 0;
}

void logship_line_feed(struct logship_line *l, const unsigned char *buf, size_t len,
                       logship_emit_fn emit, void *arg)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            emit_line(l, emit, arg);
            continue;
        }
        if (l->len == LOGSHIP_LINE_MAX)
            emit_line(l, emit, arg);
        l->buf[l->len++] = buf[i];
    }
}

size_t logship_encoded_max(size_t namelen, size_t linelen)
{
    /* 6 bytes per input byte at worst (\u00XX), plus the fixed frame. */
    return 6 * (namelen + linelen) + 128;
}

static char *put_time(char *o, const struct timespec *t)
{
    struct tm tm;
    time_t sec = t->tv_sec;
    if (!gmtime_r(&sec, &tm))
        memset(&tm, 0, sizeof(tm));
    long ns = t->tv_nsec;
    if (ns < 0 || ns > 999999999)
        ns = 0;
    int n = snprintf(o, 48, "\"%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ\"", (tm.tm_year + 1900) % 10000,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ns);
    return o + (n > 0 && n < 48 ? n : 0);
}

size_t logship_encode(char *out, size_t outlen, const char *name, size_t namelen,
                      const struct timespec *t, const unsigned char *line, size_t len)
{
    if (outlen < logship_encoded_max(namelen, len))
        return 0;
    char *o = out;
    memcpy(o, "{\"console\":", 11);
    o = textenc_json(o + 11, (const unsigned char *)name, namelen);
    memcpy(o, ",\"time\":", 8);
    o = put_time(o + 8, t);
    memcpy(o, ",\"line\":", 8);
    o = textenc_json(o + 8, line, len);
    memcpy(o, "}\n", 3);
    return (size_t)(o + 2 - out);
}
