/* The conman client protocol: request parsing and response formatting. */
#include "conmand/clients/proto.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/strbuf.h"

void proto_req_release(struct proto_req *r)
{
    for (size_t i = 0; i < r->npatterns; i++)
        free(r->patterns[i]);
    free(r->patterns);
    r->patterns = NULL;
    r->npatterns = r->cappatterns = 0;
}

int proto_req_add_pattern(struct proto_req *r, const char *pat, size_t len)
{
    if (r->npatterns == r->cappatterns) {
        size_t cap = r->cappatterns ? r->cappatterns * 2 : 8;
        char **grown = realloc(r->patterns, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        r->patterns = grown;
        r->cappatterns = cap;
    }
    char *copy = strndup(pat, len);
    if (!copy)
        return -ENOMEM;
    r->patterns[r->npatterns++] = copy;
    return 0;
}

/* One token of a request line: a bare word, or KEY=VALUE where VALUE is a
 * bare word or '...' quoted. Both point into the line (no copy, so a token
 * is as long as the line allows). */
struct ptok {
    const char *key, *val;
    size_t keylen, vallen;
    bool has_val;
};

/* The next token of `*s` into `t`; `*s` advances past it. Returns false at
 * the end of the line. */
static bool next_tok(const char **s, struct ptok *t)
{
    const char *p = *s;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return false;
    t->key = p;
    while (*p && !isspace((unsigned char)*p) && *p != '=')
        p++;
    t->keylen = (size_t)(p - t->key);
    t->has_val = *p == '=';
    t->val = p;
    t->vallen = 0;
    if (t->has_val) {
        p++;
        if (*p == '\'' || *p == '"') {
            char q = *p++;
            t->val = p;
            while (*p && *p != q)
                p++;
            t->vallen = (size_t)(p - t->val);
            if (*p == q)
                p++;
        } else {
            t->val = p;
            while (*p && !isspace((unsigned char)*p))
                p++;
            t->vallen = (size_t)(p - t->val);
        }
    }
    *s = p;
    return true;
}

static bool is_word(const char *s, size_t len, const char *word)
{
    return len == strlen(word) && !strncasecmp(s, word, len);
}

static void copy_value(char *out, size_t outlen, const struct ptok *t)
{
    size_t n = t->vallen < outlen - 1 ? t->vallen : outlen - 1;
    memcpy(out, t->val, n);
    out[n] = '\0';
}

int proto_parse_hello(const char *line, struct proto_req *r, char *msg, size_t msglen)
{
    struct ptok t;
    bool hello = false;
    r->user[0] = r->tty[0] = r->via[0] = '\0';
    for (const char *s = line; next_tok(&s, &t);) {
        if (!t.has_val && is_word(t.key, t.keylen, "HELLO"))
            hello = true;
        else if (hello && t.has_val && t.vallen && is_word(t.key, t.keylen, "USER"))
            copy_value(r->user, sizeof(r->user), &t);
        else if (hello && t.has_val && t.vallen && is_word(t.key, t.keylen, "TTY"))
            copy_value(r->tty, sizeof(r->tty), &t);
        else if (hello && t.has_val && t.vallen && is_word(t.key, t.keylen, "VIA"))
            copy_value(r->via, sizeof(r->via), &t);
    }
    if (!r->user[0]) {
        snprintf(msg, msglen, "Invalid greeting: no user specified");
        return PROTO_ERR_BAD_REQUEST;
    }
    return 0;
}

static void set_option(struct proto_req *r, const struct ptok *t)
{
    if (is_word(t->val, t->vallen, "BROADCAST"))
        r->broadcast = true;
    else if (is_word(t->val, t->vallen, "FORCE"))
        r->force = true;
    else if (is_word(t->val, t->vallen, "JOIN"))
        r->join = true;
    else if (is_word(t->val, t->vallen, "REGEX"))
        r->regex = true;
    else if (is_word(t->val, t->vallen, "QUIET"))
        r->quiet = true;
}

static enum proto_cmd command_of(const struct ptok *t)
{
    if (is_word(t->key, t->keylen, "QUERY"))
        return PROTO_CMD_QUERY;
    if (is_word(t->key, t->keylen, "MONITOR"))
        return PROTO_CMD_MONITOR;
    if (is_word(t->key, t->keylen, "CONNECT"))
        return PROTO_CMD_CONNECT;
    return PROTO_CMD_NONE;
}

int proto_parse_request(const char *line, struct proto_req *r)
{
    struct ptok t;
    r->cmd = PROTO_CMD_NONE;
    for (const char *s = line; next_tok(&s, &t);) {
        if (!t.has_val) {
            if (r->cmd == PROTO_CMD_NONE)
                r->cmd = command_of(&t);
        } else if (r->cmd != PROTO_CMD_NONE && is_word(t.key, t.keylen, "OPTION")) {
            set_option(r, &t);
        } else if (r->cmd != PROTO_CMD_NONE && is_word(t.key, t.keylen, "CONSOLE") && t.vallen) {
            if (proto_req_add_pattern(r, t.val, t.vallen) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

struct proto_matcher {
    bool all, none;
    pcre2_code *re;
    pcre2_match_context *mctx;
    pcre2_match_data *md;
    /* Globs without a wildcard match by name: sorted, found by bsearch, so
     * thousands of names cost a lookup each, not a pass each. Both point
     * into the request's patterns. */
    const char **literals, **globs;
    size_t nliterals, nglobs;
};

void proto_matcher_free(struct proto_matcher *m)
{
    if (!m)
        return;
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mctx);
    pcre2_code_free(m->re);
    free(m->literals);
    free(m->globs);
    free(m);
}

static bool compile_too_large(int err)
{
    return err == PCRE2_ERROR_PATTERN_TOO_LARGE || err == PCRE2_ERROR_PATTERN_TOO_COMPLICATED ||
           err == PCRE2_ERROR_PARENTHESES_NEST_TOO_DEEP || err == PCRE2_ERROR_HEAP_FAILED ||
           err == PCRE2_ERROR_PATTERN_STRING_TOO_LONG;
}

/* The patterns joined by '|', as conman joins them, or NULL (msg set). */
static char *join_patterns(const struct proto_req *r, char *msg, size_t msglen)
{
    size_t len = 0; /* the NUL, or a '|' after each but the last */
    for (size_t i = 0; i < r->npatterns; i++)
        len += strlen(r->patterns[i]) + 1;
    if (len - 1 > PROTO_REGEX_MAX_LEN) {
        snprintf(msg, msglen, "Regular expression too long: %zu bytes, the limit is %d", len - 1,
                 PROTO_REGEX_MAX_LEN);
        return NULL;
    }
    char *pat = malloc(len);
    if (!pat) {
        snprintf(msg, msglen, "Insufficient resources to process request");
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < r->npatterns; i++) {
        size_t n = strlen(r->patterns[i]);
        if (i)
            pat[o++] = '|';
        memcpy(pat + o, r->patterns[i], n);
        o += n;
    }
    pat[o] = '\0';
    return pat;
}

static int compile_regex(struct proto_matcher *m, const struct proto_req *r, char *msg,
                         size_t msglen)
{
    char *pat = join_patterns(r, msg, msglen);
    if (!pat)
        return strstr(msg, "resources") ? -PROTO_ERR_NO_RESOURCES : -PROTO_ERR_BAD_REGEX;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    int err = PCRE2_ERROR_HEAP_FAILED;
    PCRE2_SIZE off = 0;
    if (cc) {
        pcre2_set_max_pattern_length(cc, PROTO_REGEX_MAX_LEN);
        /* Whole name, case-insensitive, bytes (a "(*UTF)" in the pattern
         * is refused: names are not checked for UTF-8). */
        m->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                              PCRE2_CASELESS | PCRE2_ANCHORED | PCRE2_ENDANCHORED |
                                  PCRE2_NEVER_UTF | PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C,
                              &err, &off, cc);
        pcre2_compile_context_free(cc);
    }
    free(pat);
    if (!m->re) {
        if (compile_too_large(err))
            snprintf(msg, msglen, "Regular expression too large to compile");
        else
            snprintf(msg, msglen, "Invalid regular expression");
        return -PROTO_ERR_BAD_REGEX;
    }
    m->mctx = pcre2_match_context_create(NULL);
    m->md = pcre2_match_data_create(1, NULL);
    if (!m->mctx || !m->md) {
        snprintf(msg, msglen, "Insufficient resources to process request");
        return -PROTO_ERR_NO_RESOURCES;
    }
    pcre2_set_match_limit(m->mctx, PROTO_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(m->mctx, PROTO_REGEX_DEPTH_LIMIT);
    pcre2_set_heap_limit(m->mctx, PROTO_REGEX_HEAP_KIB);
    return 0;
}

static bool is_literal(const char *glob)
{
    return !strpbrk(glob, "*?[\\");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int split_globs(struct proto_matcher *m, const struct proto_req *r, char *msg, size_t msglen)
{
    m->literals = malloc(r->npatterns * sizeof(*m->literals));
    m->globs = malloc(r->npatterns * sizeof(*m->globs));
    if (!m->literals || !m->globs) {
        snprintf(msg, msglen, "Insufficient resources to process request");
        return -PROTO_ERR_NO_RESOURCES;
    }
    for (size_t i = 0; i < r->npatterns; i++) {
        if (is_literal(r->patterns[i]))
            m->literals[m->nliterals++] = r->patterns[i];
        else
            m->globs[m->nglobs++] = r->patterns[i];
    }
    qsort(m->literals, m->nliterals, sizeof(*m->literals), cmp_str);
    return 0;
}

int proto_matcher_create(const struct proto_req *r, struct proto_matcher **out, char *msg,
                         size_t msglen)
{
    struct proto_matcher *m = calloc(1, sizeof(*m));
    int rc = 0;
    *out = NULL;
    if (!m) {
        snprintf(msg, msglen, "Insufficient resources to process request");
        return -PROTO_ERR_NO_RESOURCES;
    }
    if (r->npatterns == 0)
        m->all = r->cmd == PROTO_CMD_QUERY, m->none = !m->all;
    else if (r->regex)
        rc = compile_regex(m, r, msg, msglen);
    else
        rc = split_globs(m, r, msg, msglen);
    if (rc < 0) {
        proto_matcher_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static int test_regex(struct proto_matcher *m, const char *name, char *msg, size_t msglen)
{
    int rc = pcre2_match(m->re, (PCRE2_SPTR)name, strlen(name), 0, 0, m->md, m->mctx);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
        snprintf(msg, msglen, "Regular expression too complex: over the match limit on [%.200s]",
                 name);
    else
        snprintf(msg, msglen, "Regular expression failed on [%.200s] (PCRE2 error %d)", name, rc);
    return -PROTO_ERR_BAD_REGEX;
}

int proto_matcher_test(struct proto_matcher *m, const char *name, char *msg, size_t msglen)
{
    if (m->all || m->none)
        return m->all;
    if (m->re)
        return test_regex(m, name, msg, msglen);
    if (m->nliterals && bsearch(&name, m->literals, m->nliterals, sizeof(*m->literals), cmp_str))
        return 1;
    for (size_t j = 0; j < m->nglobs; j++)
        if (fnmatch(m->globs[j], name, 0) == 0)
            return 1;
    return 0;
}

int proto_match(const struct proto_req *r, const char *const *names, size_t n, bool *match,
                char *msg, size_t msglen)
{
    struct proto_matcher *m;
    int rc = proto_matcher_create(r, &m, msg, msglen);
    if (rc < 0)
        return rc;
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        rc = proto_matcher_test(m, names[i], msg, msglen);
        if (rc < 0) {
            proto_matcher_free(m);
            return rc;
        }
        match[i] = rc;
        count += rc;
    }
    proto_matcher_free(m);
    return count;
}

size_t proto_format_ok_fit(char *out, size_t outlen, const char *const *names, size_t n, bool reset,
                           size_t *fitted)
{
    const char *head = reset ? "OK OPTION=RESET" : "OK";
    size_t o = strlen(head), i = 0;
    if (fitted)
        *fitted = 0;
    if (o + 2 > outlen) { /* not even the bare line: none at all */
        if (outlen)
            out[0] = '\0';
        return 0;
    }
    memcpy(out, head, o);
    for (; i < n; i++) {
        size_t need = strlen(names[i]) + sizeof(" CONSOLE=''") - 1;
        if (o + need + 2 > outlen) /* the name, then "\n" and the NUL */
            break;
        o += (size_t)snprintf(out + o, outlen - o, " CONSOLE='%s'", names[i]);
    }
    o += (size_t)snprintf(out + o, outlen - o, "\n");
    if (fitted)
        *fitted = i;
    return o;
}

size_t proto_ok_size(const char *const *names, size_t n, bool reset)
{
    size_t len = strlen(reset ? "OK OPTION=RESET" : "OK") + 2;
    for (size_t i = 0; i < n; i++)
        len += strlen(names[i]) + sizeof(" CONSOLE=''") - 1;
    return len;
}

size_t proto_format_ok(char *out, size_t outlen, const char *const *names, size_t n, bool reset)
{
    return proto_format_ok_fit(out, outlen, names, n, reset, NULL);
}

/* Appends ` KEY='value'` (or "value" when it holds a '). Returns false
 * when it cannot be quoted. */
static bool add_quoted(struct strbuf *b, const char *key, const char *val)
{
    char q = strchr(val, '\'') ? '"' : '\'';
    if ((q == '"' && strchr(val, '"')) || strpbrk(val, "\r\n"))
        return false;
    strbuf_addf(b, " %s=%c%s%c", key, q, val, q);
    return true;
}

int proto_format_relay(const struct proto_req *r, const char *client_host, const char *const *names,
                       size_t n, char **out, size_t *len)
{
    struct strbuf b = {0};
    strbuf_adds(&b, "HELLO");
    bool ok = add_quoted(&b, "USER", r->user) && (!r->tty[0] || add_quoted(&b, "TTY", r->tty)) &&
              (!client_host || add_quoted(&b, "VIA", client_host));
    strbuf_adds(&b, r->cmd == PROTO_CMD_CONNECT ? "\nCONNECT" : "\nMONITOR");
    if (r->join)
        strbuf_adds(&b, " OPTION=JOIN");
    if (r->force)
        strbuf_adds(&b, " OPTION=FORCE");
    if (r->broadcast)
        strbuf_adds(&b, " OPTION=BROADCAST");
    if (r->quiet)
        strbuf_adds(&b, " OPTION=QUIET");
    for (size_t i = 0; ok && i < n; i++)
        ok = add_quoted(&b, "CONSOLE", names[i]);
    strbuf_adds(&b, "\n");
    if (!ok || b.failed) {
        strbuf_release(&b);
        return ok ? -ENOMEM : -EINVAL;
    }
    *out = strbuf_detach(&b, len);
    return 0;
}

size_t proto_format_error(char *out, size_t outlen, int code, const char *text)
{
    int n = snprintf(out, outlen, "ERROR CODE=%d MESSAGE='%s'\n", code, text);
    return n < 0 ? 0 : (size_t)n >= outlen ? outlen - 1 : (size_t)n;
}

int proto_parse_reply(const char *line, char *msg, size_t msglen)
{
    static const char err[] = "ERROR CODE=", text[] = " MESSAGE='";
    size_t len = strcspn(line, "\r");
    if (msglen)
        msg[0] = '\0';
    if (len >= 2 && !strncmp(line, "OK", 2) && (len == 2 || line[2] == ' '))
        return 0;
    if (strncmp(line, err, sizeof(err) - 1))
        return -1;
    const char *p = line + sizeof(err) - 1;
    size_t digits = strspn(p, "0123456789");
    if (digits < 1 || digits > 3 || p + digits > line + len)
        return -1;
    int code = atoi(p);
    p += digits;
    const char *end = line + len;
    if (code < 1 || (size_t)(end - p) < sizeof(text) || strncmp(p, text, sizeof(text) - 1) ||
        end[-1] != '\'')
        return -1;
    p += sizeof(text) - 1;
    if (msglen)
        snprintf(msg, msglen, "%.*s", (int)(end - 1 - p), p);
    return code;
}

void proto_who(const struct proto_req *r, const char *host, char *out, size_t outlen)
{
    snprintf(out, outlen, "<%s@%s>%s%s", r->user, host, r->tty[0] ? " on " : "", r->tty);
}

size_t proto_unescape(struct proto_unescape *st, const unsigned char *in, size_t len,
                      unsigned char *out, size_t *outlen, int *cmd)
{
    size_t o = 0;
    *cmd = -1;
    for (size_t i = 0; i < len; i++) {
        if (st->got_esc) {
            st->got_esc = false;
            if (in[i] != PROTO_ESC) {
                *cmd = in[i];
                *outlen = o;
                return i + 1;
            }
            out[o++] = in[i];
        } else if (in[i] == PROTO_ESC) {
            st->got_esc = true;
        } else {
            out[o++] = in[i];
        }
    }
    *outlen = o;
    return len;
}
