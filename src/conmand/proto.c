/* The conman client protocol: request parsing and response formatting. */
#include "conmand/proto.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void proto_req_release(struct proto_req *r)
{
    for (int i = 0; i < r->npatterns; i++)
        free(r->patterns[i]);
    r->npatterns = 0;
}

/* One token of a request line: a bare word, or KEY=VALUE where VALUE is a
 * bare word or '...' quoted. `*s` advances past it. Returns false at end. */
struct ptok {
    char key[64];
    char val[PROTO_MAX_LINE];
    bool has_val;
};

static bool next_tok(const char **s, struct ptok *t)
{
    const char *p = *s;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return false;
    size_t k = 0;
    while (*p && !isspace((unsigned char)*p) && *p != '=') {
        if (k + 1 < sizeof(t->key))
            t->key[k++] = *p;
        p++;
    }
    t->key[k] = '\0';
    t->has_val = false;
    t->val[0] = '\0';
    if (*p == '=') {
        size_t v = 0;
        t->has_val = true;
        p++;
        if (*p == '\'' || *p == '"') {
            char q = *p++;
            while (*p && *p != q) {
                if (v + 1 < sizeof(t->val))
                    t->val[v++] = *p;
                p++;
            }
            if (*p == q)
                p++;
        } else {
            while (*p && !isspace((unsigned char)*p)) {
                if (v + 1 < sizeof(t->val))
                    t->val[v++] = *p;
                p++;
            }
        }
        t->val[v] = '\0';
    }
    *s = p;
    return true;
}

int proto_parse_hello(const char *line, struct proto_req *r, char *msg, size_t msglen)
{
    struct ptok *t = malloc(sizeof(*t));
    bool hello = false;
    if (!t) {
        snprintf(msg, msglen, "Insufficient resources to process request.");
        return PROTO_ERR_NO_RESOURCES;
    }
    r->user[0] = r->tty[0] = '\0';
    for (const char *s = line; next_tok(&s, t);) {
        if (!t->has_val && !strcasecmp(t->key, "HELLO"))
            hello = true;
        else if (hello && t->has_val && !strcasecmp(t->key, "USER") && t->val[0])
            snprintf(r->user, sizeof(r->user), "%.*s", (int)sizeof(r->user) - 1, t->val);
        else if (hello && t->has_val && !strcasecmp(t->key, "TTY") && t->val[0])
            snprintf(r->tty, sizeof(r->tty), "%.*s", (int)sizeof(r->tty) - 1, t->val);
    }
    free(t);
    if (!r->user[0]) {
        snprintf(msg, msglen, "Invalid greeting: no user specified");
        return PROTO_ERR_BAD_REQUEST;
    }
    return 0;
}

static void set_option(struct proto_req *r, const char *v)
{
    if (!strcasecmp(v, "BROADCAST"))
        r->broadcast = true;
    else if (!strcasecmp(v, "FORCE"))
        r->force = true;
    else if (!strcasecmp(v, "JOIN"))
        r->join = true;
    else if (!strcasecmp(v, "REGEX"))
        r->regex = true;
    else if (!strcasecmp(v, "QUIET"))
        r->quiet = true;
}

int proto_parse_request(const char *line, struct proto_req *r)
{
    struct ptok *t = malloc(sizeof(*t));
    int rc = 0;
    if (!t)
        return -ENOMEM;
    r->cmd = PROTO_CMD_NONE;
    for (const char *s = line; rc == 0 && next_tok(&s, t);) {
        if (!t->has_val) {
            if (r->cmd == PROTO_CMD_NONE && !strcasecmp(t->key, "QUERY"))
                r->cmd = PROTO_CMD_QUERY;
            else if (r->cmd == PROTO_CMD_NONE && !strcasecmp(t->key, "MONITOR"))
                r->cmd = PROTO_CMD_MONITOR;
            else if (r->cmd == PROTO_CMD_NONE && !strcasecmp(t->key, "CONNECT"))
                r->cmd = PROTO_CMD_CONNECT;
        } else if (r->cmd != PROTO_CMD_NONE && !strcasecmp(t->key, "OPTION")) {
            set_option(r, t->val);
        } else if (r->cmd != PROTO_CMD_NONE && !strcasecmp(t->key, "CONSOLE") && t->val[0]) {
            if (r->npatterns < PROTO_MAX_PATTERNS) {
                if (!(r->patterns[r->npatterns] = strdup(t->val)))
                    rc = -ENOMEM;
                else
                    r->npatterns++;
            }
        }
    }
    free(t);
    return rc;
}

static int match_regex(const struct proto_req *r, const char *const *names, size_t n, bool *match,
                       char *msg, size_t msglen)
{
    size_t len = 1;
    for (int i = 0; i < r->npatterns; i++)
        len += strlen(r->patterns[i]) + 3;
    char *pat = malloc(len + 4);
    if (!pat)
        return -PROTO_ERR_NO_RESOURCES;
    size_t o = 0;
    if (r->npatterns == 0)
        o += (size_t)sprintf(pat, ".*");
    for (int i = 0; i < r->npatterns; i++)
        o += (size_t)sprintf(pat + o, "%s%s", i ? "|" : "", r->patterns[i]);
    regex_t re;
    int rc = regcomp(&re, pat, REG_EXTENDED | REG_ICASE);
    free(pat);
    if (rc != 0) {
        snprintf(msg, msglen, "Invalid regular expression");
        return -PROTO_ERR_BAD_REGEX;
    }
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        regmatch_t m;
        match[i] = regexec(&re, names[i], 1, &m, 0) == 0 && m.rm_so == 0 &&
                   (size_t)m.rm_eo == strlen(names[i]);
        count += match[i];
    }
    regfree(&re);
    return count;
}

int proto_match(const struct proto_req *r, const char *const *names, size_t n, bool *match,
                char *msg, size_t msglen)
{
    if (r->regex)
        return match_regex(r, names, n, match, msg, msglen);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        match[i] = r->npatterns == 0 && r->cmd == PROTO_CMD_QUERY;
        for (int j = 0; j < r->npatterns && !match[i]; j++)
            match[i] = fnmatch(r->patterns[j], names[i], 0) == 0;
        count += match[i];
    }
    return count;
}

size_t proto_format_ok_fit(char *out, size_t outlen, const char *const *names, size_t n, bool reset,
                           size_t *fitted)
{
    size_t o = (size_t)snprintf(out, outlen, "OK%s", reset ? " OPTION=RESET" : "");
    size_t i = 0;
    for (; i < n; i++) {
        size_t need = strlen(names[i]) + 12;
        if (o + need + 2 > outlen)
            break;
        o += (size_t)snprintf(out + o, outlen - o, " CONSOLE='%s'", names[i]);
    }
    o += (size_t)snprintf(out + o, outlen - o, "\n");
    if (fitted)
        *fitted = i;
    return o;
}

size_t proto_format_ok(char *out, size_t outlen, const char *const *names, size_t n, bool reset)
{
    return proto_format_ok_fit(out, outlen, names, n, reset, NULL);
}

size_t proto_format_error(char *out, size_t outlen, int code, const char *text)
{
    int n = snprintf(out, outlen, "ERROR CODE=%d MESSAGE='%s'\n", code, text);
    return n < 0 ? 0 : (size_t)n >= outlen ? outlen - 1 : (size_t)n;
}

size_t proto_format_msg(char *out, size_t outlen, const char *text)
{
    int n = snprintf(out, outlen, "\r\n<ConMan> %s.\r\n", text);
    return n < 0 ? 0 : (size_t)n >= outlen ? outlen - 1 : (size_t)n;
}

void proto_short_time(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, outlen, "%m-%d %H:%M", &tm);
}

void proto_long_time(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

void proto_delta(long secs, char *out, size_t outlen)
{
    long d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60, s = secs % 60;
    if (d)
        snprintf(out, outlen, "%ldd%ldh%ldm%lds", d, h, m, s);
    else if (h)
        snprintf(out, outlen, "%ldh%ldm%lds", h, m, s);
    else if (m)
        snprintf(out, outlen, "%ldm%lds", m, s);
    else
        snprintf(out, outlen, "%lds", s);
}

void proto_who(const struct proto_req *r, const char *host, char *out, size_t outlen)
{
    snprintf(out, outlen, "<%s@%s>%s%s", r->user, host, r->tty[0] ? " on " : "", r->tty);
}
