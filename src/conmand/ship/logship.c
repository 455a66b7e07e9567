/* Log shipping, pure part: line assembly and the JSON encoding of a line. */
#include "conmand/ship/logship.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

static char *put_escaped(char *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '\\';
    switch (c) {
    case '"':
        *o++ = '"';
        return o;
    case '\\':
        *o++ = '\\';
        return o;
    case '\n':
        *o++ = 'n';
        return o;
    case '\r':
        *o++ = 'r';
        return o;
    case '\t':
        *o++ = 't';
        return o;
    case '\b':
        *o++ = 'b';
        return o;
    case '\f':
        *o++ = 'f';
        return o;
    default:
        break;
    }
    memcpy(o, "u00", 3);
    o[3] = hex[c >> 4];
    o[4] = hex[c & 15];
    return o + 5;
}

/* Writes s as a quoted JSON string; out has room (checked by the caller). */
static char *put_string(char *o, const unsigned char *s, size_t n)
{
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            o = put_escaped(o, c);
            i++;
            continue;
        }
        size_t k = utf8_len(s + i, n - i);
        if (k == 0) {
            o = put_escaped(o, c);
            i++;
            continue;
        }
        memcpy(o, s + i, k);
        o += k;
        i += k;
    }
    *o++ = '"';
    return o;
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
    o = put_string(o + 11, (const unsigned char *)name, namelen);
    memcpy(o, ",\"time\":", 8);
    o = put_time(o + 8, t);
    memcpy(o, ",\"line\":", 8);
    o = put_string(o + 8, line, len);
    memcpy(o, "}\n", 3);
    return (size_t)(o + 2 - out);
}
