/* Growable strings: doubling, NUL kept after the contents. */
#include "common/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *strbuf_room(struct strbuf *sb, size_t n)
{
    if (sb->failed)
        return NULL;
    if (sb->cap - sb->len <= n) {
        size_t cap = sb->cap ? sb->cap : 256;
        while (cap - sb->len <= n) {
            if (cap > ((size_t)-1) / 2) {
                sb->failed = true;
                return NULL;
            }
            cap *= 2;
        }
        char *grown = realloc(sb->p, cap);
        if (!grown) {
            sb->failed = true;
            return NULL;
        }
        sb->p = grown;
        sb->cap = cap;
    }
    return sb->p + sb->len;
}

void strbuf_commit(struct strbuf *sb, size_t n)
{
    sb->len += n;
    sb->p[sb->len] = '\0';
}

void strbuf_add(struct strbuf *sb, const void *data, size_t n)
{
    char *q = strbuf_room(sb, n);
    if (!q)
        return;
    memcpy(q, data, n);
    strbuf_commit(sb, n);
}

void strbuf_adds(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->failed = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        strbuf_add(sb, small, (size_t)n);
        return;
    }
    char *q = strbuf_room(sb, (size_t)n);
    if (!q)
        return;
    va_start(ap, fmt);
    vsnprintf(q, (size_t)n + 1, fmt, ap);
    va_end(ap);
    strbuf_commit(sb, (size_t)n);
}

void strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    sb->failed = false;
    if (sb->p)
        sb->p[0] = '\0';
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
    char *p = sb->p;
    if (len)
        *len = sb->len;
    *sb = (struct strbuf){0};
    return p;
}

void strbuf_release(struct strbuf *sb)
{
    free(sb->p);
    *sb = (struct strbuf){0};
}
