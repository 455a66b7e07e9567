/* Streaming-style JSON validation and extraction. jansson builds a tree of
 * small allocations; for a 30,000-endpoint answer that cost far more than
 * the rest of configure_conman's work, so the one large document we read
 * is scanned here instead. Strict RFC 8259 syntax; \u0000 is refused so a
 * decoded string can never hide bytes behind a NUL. */
#include "configure/jsonscan.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256
#define KEY_MAX 64

struct js {
    const char *begin, *p, *end;
    int depth;
    const char *why; /* set with the failing position in p */
};

/* Where decoded string bytes go: a fixed buffer (keys) or a growing one. */
struct sink {
    char *buf;
    size_t len, cap;
    bool grow, overflow;
};

static int bad(struct js *j, const char *why)
{
    j->why = why;
    return -EINVAL;
}

static void skip_ws(struct js *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static int put(struct sink *s, const char *bytes, size_t n)
{
    if (!s)
        return 0;
    if (s->len + n + 1 > s->cap) {
        if (!s->grow) {
            s->overflow = true;
            return 0;
        }
        size_t cap = s->cap ? s->cap : 32;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb)
            return -ENOMEM;
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, bytes, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return 0;
}

static int hex4(struct js *j, uint32_t *out)
{
    if (j->end - j->p < 4)
        return bad(j, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = j->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return bad(j, "invalid \\u escape");
    }
    j->p += 4;
    *out = v;
    return 0;
}

static int put_utf8(struct sink *s, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return put(s, b, n);
}

/* After "\u": one code point, joining a surrogate pair. */
static int unicode_escape(struct js *j, struct sink *s)
{
    uint32_t cp, lo;
    int rc = hex4(j, &cp);
    if (rc < 0)
        return rc;
    if (cp == 0)
        return bad(j, "\\u0000 is not allowed");
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return bad(j, "lone low surrogate in \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
            return bad(j, "high surrogate without its low half");
        j->p += 2;
        if ((rc = hex4(j, &lo)) < 0)
            return rc;
        if (lo < 0xdc00 || lo > 0xdfff)
            return bad(j, "high surrogate without its low half");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    return put_utf8(s, cp);
}

static int escape_seq(struct js *j, struct sink *s)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (j->p >= j->end)
        return bad(j, "unterminated string");
    char c = *j->p++;
    if (c == 'u')
        return unicode_escape(j, s);
    const char *k = c ? strchr(from, c) : NULL;
    if (!k) {
        j->p--;
        return bad(j, "invalid escape in string");
    }
    return put(s, &to[k - from], 1);
}

/* At the opening quote; decodes into `s` when it is not NULL. */
static int string(struct js *j, struct sink *s)
{
    j->p++;
    for (;;) {
        const char *run = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20)
            j->p++;
        int rc = put(s, run, (size_t)(j->p - run));
        if (rc < 0)
            return rc;
        if (j->p >= j->end)
            return bad(j, "unterminated string");
        if (*j->p == '"') {
            j->p++;
            return 0;
        }
        if (*j->p != '\\')
            return bad(j, "control character in string");
        j->p++;
        if ((rc = escape_seq(j, s)) < 0)
            return rc;
    }
}

static bool digits(struct js *j)
{
    const char *start = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > start;
}

static int number(struct js *j)
{
    if (*j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!digits(j))
        return bad(j, "invalid number");
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!digits(j))
            return bad(j, "invalid number");
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!digits(j))
            return bad(j, "invalid number");
    }
    return 0;
}

static int literal(struct js *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return bad(j, "invalid literal");
    j->p += n;
    return 0;
}

static int value(struct js *j);

/* Walks the members of an object at '{'; `member` is called at each value
 * with the decoded key (truncated keys never match a wanted name). */
typedef int (*member_fn)(struct js *j, const char *key, bool key_fits, void *ctx);

static int object(struct js *j, member_fn member, void *ctx)
{
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        char key[KEY_MAX];
        struct sink ks = {key, 0, sizeof(key), false, false};
        key[0] = '\0';
        skip_ws(j);
        if (j->p >= j->end || *j->p != '"')
            return bad(j, "expected a member name");
        int rc = string(j, &ks);
        if (rc < 0)
            return rc;
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':')
            return bad(j, "expected ':'");
        j->p++;
        skip_ws(j);
        rc = member ? member(j, key, !ks.overflow, ctx) : value(j);
        if (rc < 0)
            return rc;
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            return 0;
        }
        return bad(j, "expected ',' or '}'");
    }
}

/* Walks an array at '['; `element` is called at each value. */
typedef int (*element_fn)(struct js *j, size_t index, void *ctx);

static int array(struct js *j, element_fn element, void *ctx)
{
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return 0;
    }
    for (size_t i = 0;; i++) {
        skip_ws(j);
        int rc = element ? element(j, i, ctx) : value(j);
        if (rc < 0)
            return rc;
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return 0;
        }
        return bad(j, "expected ',' or ']'");
    }
}

static int value(struct js *j)
{
    if (j->p >= j->end)
        return bad(j, "unexpected end of input");
    if (++j->depth > MAX_DEPTH)
        return bad(j, "nested too deeply");
    int rc;
    switch (*j->p) {
    case '{':
        rc = object(j, NULL, NULL);
        break;
    case '[':
        rc = array(j, NULL, NULL);
        break;
    case '"':
        rc = string(j, NULL);
        break;
    case 't':
        rc = literal(j, "true");
        break;
    case 'f':
        rc = literal(j, "false");
        break;
    case 'n':
        rc = literal(j, "null");
        break;
    default:
        rc = (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) ? number(j)
                                                              : bad(j, "unexpected character");
    }
    j->depth--;
    return rc;
}

struct scan {
    const char *list_key;
    struct jscan_fields *f;
    jscan_element_fn fn;
    void *ctx;
    bool found, not_list;
};

static void clear_fields(struct jscan_fields *f)
{
    for (size_t k = 0; k < f->nkeys; k++) {
        free(f->str[k]);
        f->str[k] = NULL;
        f->is_true[k] = false;
    }
    f->is_object = false;
}

static int wanted_member(struct js *j, const char *key, bool key_fits, void *ctx)
{
    struct jscan_fields *f = ctx;
    size_t k = 0;
    while (key_fits && k < f->nkeys && strcmp(f->keys[k], key) != 0)
        k++;
    if (!key_fits || k == f->nkeys)
        return value(j);
    free(f->str[k]);
    f->str[k] = NULL;
    f->is_true[k] = false;
    if (*j->p == '"') {
        struct sink s = {NULL, 0, 0, true, false};
        int rc = string(j, &s);
        f->str[k] = s.buf ? s.buf : calloc(1, 1);
        return rc < 0 ? rc : (f->str[k] ? 0 : -ENOMEM);
    }
    const char *start = j->p;
    int rc = value(j);
    f->is_true[k] = rc == 0 && j->p - start == 4 && memcmp(start, "true", 4) == 0;
    return rc;
}

static int list_element(struct js *j, size_t index, void *ctx)
{
    struct scan *sc = ctx;
    clear_fields(sc->f);
    int rc;
    if (*j->p == '{' && j->depth < MAX_DEPTH) {
        j->depth++;
        rc = object(j, wanted_member, sc->f);
        j->depth--;
        sc->f->is_object = true;
    } else
        rc = value(j);
    if (rc == 0)
        rc = sc->fn(index, sc->f, sc->ctx);
    clear_fields(sc->f);
    return rc;
}

static int top_member(struct js *j, const char *key, bool key_fits, void *ctx)
{
    struct scan *sc = ctx;
    if (!key_fits || sc->found || strcmp(key, sc->list_key) != 0)
        return value(j);
    sc->found = true;
    if (*j->p != '[') {
        sc->not_list = true;
        return value(j);
    }
    j->depth++;
    int rc = array(j, list_element, sc);
    j->depth--;
    return rc;
}

static void position(const struct js *j, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *q = j->begin; q < j->p && q < j->end; q++) {
        if (*q == '\n') {
            (*line)++;
            *col = 1;
        } else
            (*col)++;
    }
}

static int scan_document(struct js *j, struct scan *sc)
{
    skip_ws(j);
    int rc;
    if (j->p < j->end && *j->p == '{') {
        j->depth++;
        rc = object(j, top_member, sc);
        j->depth--;
    } else
        rc = value(j);
    if (rc < 0)
        return rc;
    skip_ws(j);
    return j->p == j->end ? 0 : bad(j, "data after the JSON document");
}

int jscan_list(const char *body, size_t len, const char *list_key, struct jscan_fields *f,
               jscan_element_fn fn, void *ctx, char *err, size_t errlen)
{
    struct js j = {body, body, body + len, 0, NULL};
    struct scan sc = {list_key, f, fn, ctx, false, false};
    for (size_t k = 0; k < f->nkeys; k++)
        f->str[k] = NULL;
    skip_ws(&j);
    if (j.p == j.end) {
        snprintf(err, errlen, "empty response body (expected JSON)");
        return -EINVAL;
    }
    int rc = scan_document(&j, &sc);
    clear_fields(f);
    if (rc == -EINVAL && j.why) {
        int line, col;
        position(&j, &line, &col);
        snprintf(err, errlen, "malformed JSON at line %d column %d: %s", line, col, j.why);
    } else if (rc == -ENOMEM) {
        snprintf(err, errlen, "out of memory");
    } else if (rc < 0 && !j.why) {
        snprintf(err, errlen, "scan stopped: %s", strerror(-rc));
    } else if (rc == 0 && (!sc.found || sc.not_list)) {
        snprintf(err, errlen, "JSON has no \"%s\" list", list_key);
        rc = -EINVAL;
    }
    return rc;
}
