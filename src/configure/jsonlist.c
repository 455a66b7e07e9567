/* yajl-driven extraction of one list's elements. yajl checks the syntax and
 * UTF-8 and keeps no tree; this file only tracks where in the document the
 * parser is and copies the few wanted values into fixed buffers. */
#include "configure/jsonlist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

struct jlist {
    yajl_handle h;
    const char *list_key;
    struct jlist_fields *f;
    jlist_element_fn fn;
    void *ctx;
    size_t depth;     /* open maps and arrays */
    bool top_is_map;  /* the document is an object */
    bool expect_list; /* the last top-level key was list_key */
    bool in_list;     /* inside the list: elements sit at depth 2 */
    bool list_seen;   /* the list was found */
    bool elem_object; /* the current element is an object */
    bool any_token;   /* something other than blanks came in */
    int pending;      /* wanted-key slot of the current member, -1 for none */
    size_t index;     /* next element's position in the list */
    int rc;           /* why a callback stopped the parse */
    char why[96];     /* reason for -EINVAL set by a callback */
    size_t line, col; /* position of the input consumed so far */
    char buf[JLIST_MAX_KEYS][JLIST_MAX_STRING + 1];
};

static void reset_fields(struct jlist *j)
{
    struct jlist_fields *f = j->f;
    for (size_t k = 0; k < f->nkeys; k++) {
        f->str[k] = NULL;
        f->too_long[k] = false;
        f->is_true[k] = false;
    }
    f->is_object = false;
}

/* Hands the finished element to the caller; a negative answer cancels. */
static int report(struct jlist *j)
{
    j->f->is_object = j->elem_object;
    int rc = j->fn(j->index++, j->f, j->ctx);
    reset_fields(j);
    if (rc < 0) {
        j->rc = rc;
        return 0;
    }
    return 1;
}

/* A scalar value; `s` is non-NULL for strings only. */
static int scalar(struct jlist *j, const unsigned char *s, size_t len, bool is_true)
{
    j->any_token = true;
    if (j->depth == 1)
        j->expect_list = false;
    if (j->in_list && j->depth == 2) {
        j->elem_object = false;
        return report(j);
    }
    if (!j->in_list || j->depth != 3 || j->pending < 0)
        return 1;
    int k = j->pending;
    struct jlist_fields *f = j->f;
    f->str[k] = NULL;
    f->too_long[k] = false;
    f->is_true[k] = is_true;
    if (!s)
        return 1;
    if (memchr(s, '\0', len)) {
        snprintf(j->why, sizeof(j->why), "member \"%s\" holds \\u0000", f->keys[k]);
        j->rc = -EINVAL;
        return 0;
    }
    f->too_long[k] = len > JLIST_MAX_STRING;
    if (len > JLIST_MAX_STRING)
        len = JLIST_MAX_STRING;
    memcpy(j->buf[k], s, len);
    j->buf[k][len] = '\0';
    f->str[k] = j->buf[k];
    return 1;
}

static int open_container(struct jlist *j, bool is_map)
{
    j->any_token = true;
    if (j->depth == 0)
        j->top_is_map = is_map;
    else if (j->depth == 1 && j->expect_list && !is_map)
        j->in_list = j->list_seen = true;
    else if (j->in_list && j->depth == 2) {
        reset_fields(j);
        j->elem_object = is_map;
        j->pending = -1;
    } else if (j->in_list && j->depth == 3 && j->pending >= 0)
        scalar(j, NULL, 0, false); /* a wanted member that is not a string */
    if (j->depth == 1)
        j->expect_list = false;
    if (++j->depth > JLIST_MAX_DEPTH) {
        snprintf(j->why, sizeof(j->why), "nested too deeply (more than %d levels)",
                 JLIST_MAX_DEPTH);
        j->rc = -EINVAL;
        return 0;
    }
    return 1;
}

static int close_container(struct jlist *j)
{
    j->depth--;
    if (j->in_list && j->depth == 2)
        return report(j);
    if (j->in_list && j->depth == 1)
        j->in_list = false;
    return 1;
}

static int on_key(void *ctx, const unsigned char *key, size_t len)
{
    struct jlist *j = ctx;
    if (j->depth == 1 && j->top_is_map)
        j->expect_list = strlen(j->list_key) == len && memcmp(key, j->list_key, len) == 0;
    else if (j->in_list && j->depth == 3 && j->elem_object) {
        j->pending = -1;
        for (size_t k = 0; k < j->f->nkeys; k++)
            if (strlen(j->f->keys[k]) == len && memcmp(key, j->f->keys[k], len) == 0)
                j->pending = (int)k;
    }
    return 1;
}

static int on_null(void *ctx)
{
    return scalar(ctx, NULL, 0, false);
}

static int on_bool(void *ctx, int value)
{
    return scalar(ctx, NULL, 0, value != 0);
}

static int on_number(void *ctx, const char *s, size_t len)
{
    (void)s;
    (void)len;
    return scalar(ctx, NULL, 0, false);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    return scalar(ctx, s, len, false);
}

static int on_start_map(void *ctx)
{
    return open_container(ctx, true);
}

static int on_start_array(void *ctx)
{
    return open_container(ctx, false);
}

static int on_end(void *ctx)
{
    return close_container(ctx);
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

int jlist_open(struct jlist **out, const char *list_key, struct jlist_fields *f,
               jlist_element_fn fn, void *ctx)
{
    struct jlist *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->h = yajl_alloc(&callbacks, NULL, j);
    if (!j->h) {
        free(j);
        return -ENOMEM;
    }
    j->list_key = list_key;
    j->f = f;
    j->fn = fn;
    j->ctx = ctx;
    j->pending = -1;
    j->line = 1;
    reset_fields(j);
    *out = j;
    return 0;
}

/* Moves the line/column position over `n` consumed bytes. */
static void advance(struct jlist *j, const char *p, size_t n)
{
    const char *end = p + n, *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        j->line++;
        j->col = 0;
        p = nl + 1;
    }
    j->col += (size_t)(end - p);
}

/* yajl's "parse error: premature EOF.\n" to "unexpected end of input". */
static void yajl_reason(struct jlist *j, char *out, size_t outlen)
{
    unsigned char *e = yajl_get_error(j->h, 0, NULL, 0);
    const char *s = e ? (const char *)e : "invalid JSON";
    const char *colon = strstr(s, "error: ");
    if (colon)
        s = colon + 7;
    size_t n = strcspn(s, "\n");
    while (n > 0 && s[n - 1] == '.')
        n--;
    if (strncmp(s, "premature EOF", 13) == 0)
        snprintf(out, outlen, "unexpected end of input");
    else
        snprintf(out, outlen, "%.*s", (int)n, s);
    if (e)
        yajl_free_error(j->h, e);
}

/* `at_end`: the input ended early; otherwise yajl has consumed the offending
 * byte, so the column is the one of the last byte consumed. */
static int failed(struct jlist *j, yajl_status st, bool at_end, char *err, size_t errlen)
{
    char reason[160];
    if (j->rc == -ENOMEM) {
        snprintf(err, errlen, "out of memory");
        return j->rc;
    }
    if (st == yajl_status_client_canceled && j->rc != -EINVAL)
        return j->rc; /* the caller's own error */
    if (st == yajl_status_client_canceled)
        snprintf(reason, sizeof(reason), "%s", j->why);
    else
        yajl_reason(j, reason, sizeof(reason));
    snprintf(err, errlen, "malformed JSON at line %zu column %zu: %s", j->line,
             at_end || j->col == 0 ? j->col + 1 : j->col, reason);
    return -EINVAL;
}

int jlist_feed(struct jlist *j, const char *data, size_t len, char *err, size_t errlen)
{
    yajl_status st = yajl_parse(j->h, (const unsigned char *)data, len);
    if (st == yajl_status_ok) {
        advance(j, data, len);
        return 0;
    }
    size_t used = yajl_get_bytes_consumed(j->h);
    advance(j, data, used < len ? used : len);
    return failed(j, st, false, err, errlen);
}

int jlist_finish(struct jlist *j, char *err, size_t errlen)
{
    if (!j->any_token) {
        snprintf(err, errlen, "empty response body (expected JSON with a \"%s\" list)",
                 j->list_key);
        return -EINVAL;
    }
    yajl_status st = yajl_complete_parse(j->h);
    if (st != yajl_status_ok)
        return failed(j, st, true, err, errlen);
    if (!j->list_seen) {
        snprintf(err, errlen, "JSON has no \"%s\" list", j->list_key);
        return -EINVAL;
    }
    return 0;
}

void jlist_close(struct jlist *j)
{
    if (!j)
        return;
    yajl_free(j->h);
    free(j);
}

int jlist_parse(const char *body, size_t len, const char *list_key, struct jlist_fields *f,
                jlist_element_fn fn, void *ctx, char *err, size_t errlen)
{
    struct jlist *j = NULL;
    int rc = jlist_open(&j, list_key, f, fn, ctx);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    rc = jlist_feed(j, body, len, err, errlen);
    if (rc == 0)
        rc = jlist_finish(j, err, errlen);
    jlist_close(j);
    return rc;
}
