/* conman.conf(5) parser. Lines are "SERVER|GLOBAL|CONSOLE key=value ...";
 * keywords are case-insensitive, values are bare words or '...'/"..." and
 * '#' starts a comment outside quotes. A bad line is reported and skipped. */
#include "conmand/conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "common/numparse.h"

#define CONF_MAX_TOKENS 64
#define CONF_ERR_LEN 512
#define CONF_LINE_MAX 8192

enum tok_kind { TOK_WORD, TOK_STRING, TOK_EQUALS };

struct tok {
    enum tok_kind kind;
    char *text; /* owned by the line buffer */
};

/* Parser state for one file. */
struct parser {
    const char *path;
    int line;
    conf_report_fn report;
    void *ctx;
    struct conf *out;
    /* GLOBAL settings in force when a CONSOLE line is read. */
    char *g_log;
    bool g_log_set;
    struct conf_logopts g_logopts;
    char *g_seropts;
    char *g_ipmiopts;
    char *g_sshopts;
    /* Console names seen so far (borrowed from out), open addressing: a
     * duplicate check per line must not scan 10,000 earlier names. */
    const char **names;
    size_t names_cap, names_used;
};

static void report(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(struct parser *p, const char *fmt, ...)
{
    char msg[CONF_ERR_LEN];
    int n = snprintf(msg, sizeof(msg), "%s:%d: ", p->path, p->line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    p->out->nerrors++;
    if (p->report)
        p->report(p->ctx, msg);
}

/* Splits one line into tokens whose text is copied into `store` (as large
 * as the line plus one byte per token). Returns the count, or -EINVAL with
 * the problem in `err`. */
static int tokenize(const char *s, char *store, struct tok *toks, int max, char *err, size_t errlen)
{
    int n = 0;
    while (*s) {
        if (isspace((unsigned char)*s)) {
            s++;
            continue;
        }
        if (*s == '#')
            break;
        if (n == max) {
            snprintf(err, errlen, "too many tokens");
            return -EINVAL;
        }
        if (*s == '=') {
            s++;
            toks[n++] = (struct tok){TOK_EQUALS, NULL};
            continue;
        }
        toks[n].text = store;
        if (*s == '"' || *s == '\'') {
            char q = *s++;
            const char *end = strchr(s, q);
            if (!end) {
                snprintf(err, errlen, "unmatched quote in '%c%s'", q, s);
                return -EINVAL;
            }
            toks[n++].kind = TOK_STRING;
            memcpy(store, s, (size_t)(end - s));
            store += end - s;
            s = end + 1;
        } else {
            toks[n++].kind = TOK_WORD;
            while (*s && !isspace((unsigned char)*s) && !strchr("=#\"'", *s))
                *store++ = *s++;
        }
        *store++ = '\0';
    }
    return n;
}

int conf_parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"on", "yes", "true", "1"};
    static const char *no[] = {"off", "no", "false", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

int conf_parse_logopts(const char *s, struct conf_logopts *opts, char *err, size_t errlen)
{
    char buf[256];
    struct conf_logopts tmp = *opts;
    if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf)) {
        snprintf(err, errlen, "logopts value too long");
        return -EINVAL;
    }
    char *save = NULL;
    for (char *w = strtok_r(buf, " \t,;", &save); w; w = strtok_r(NULL, " \t,;", &save)) {
        bool on = true;
        const char *k = w;
        if (!strncasecmp(k, "no", 2)) {
            on = false;
            k += 2;
        }
        if (!strcasecmp(k, "lock"))
            tmp.lock = on;
        else if (!strcasecmp(k, "sanitize"))
            tmp.sanitize = on;
        else if (!strcasecmp(k, "timestamp"))
            tmp.timestamp = on;
        else {
            snprintf(err, errlen, "unrecognized logopts word '%s'", w);
            return -EINVAL;
        }
    }
    *opts = tmp;
    return 0;
}

/* "N", "Nm", "Nh", "Nd" (minutes by default) as conman's timestamp=. */
static int parse_minutes(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    long mul = 1;
    if (errno || end == s || v < 0)
        return -EINVAL;
    if (*end == 'm' || *end == 'M')
        end++;
    else if (*end == 'h' || *end == 'H')
        mul = 60, end++;
    else if (*end == 'd' || *end == 'D')
        mul = 1440, end++;
    if (*end || v > 525600L / mul)
        return -EINVAL;
    *out = (int)(v * mul);
    return 0;
}

static int parse_priority(const char *s, int *out)
{
    static const struct {
        const char *name;
        int prio;
    } prios[] = {{"emerg", LOG_EMERG},  {"alert", LOG_ALERT},   {"crit", LOG_CRIT},
                 {"err", LOG_ERR},      {"error", LOG_ERR},     {"warning", LOG_WARNING},
                 {"warn", LOG_WARNING}, {"notice", LOG_NOTICE}, {"info", LOG_INFO},
                 {"debug", LOG_DEBUG}};
    for (size_t i = 0; i < sizeof(prios) / sizeof(prios[0]); i++) {
        if (!strcasecmp(s, prios[i].name)) {
            *out = prios[i].prio;
            return 0;
        }
    }
    return numparse_int(s, 0, 7, out);
}

static int set_str(char **dst, const char *v)
{
    char *copy = strdup(v);
    if (!copy)
        return -ENOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

/* Applies one SERVER key=value. Returns 0, -EINVAL (reported) or -ENOMEM. */
static int server_kv(struct parser *p, const char *key, const char *val)
{
    struct conf_server *s = &p->out->server;
    int rc = 0;
    if (!strcasecmp(key, "coredump"))
        rc = conf_parse_bool(val, &s->coredump);
    else if (!strcasecmp(key, "coredumpdir"))
        return set_str(&s->coredumpdir, val);
    else if (!strcasecmp(key, "execpath"))
        return set_str(&s->execpath, val);
    else if (!strcasecmp(key, "keepalive"))
        rc = conf_parse_bool(val, &s->keepalive);
    else if (!strcasecmp(key, "logdir"))
        return set_str(&s->logdir, val);
    else if (!strcasecmp(key, "logfile")) {
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", val);
        char *comma = strrchr(buf, ',');
        int prio = LOG_INFO;
        if (comma) {
            *comma = '\0';
            if (parse_priority(comma + 1, &prio) < 0) {
                report(p, "invalid logfile priority '%s'", comma + 1);
                return -EINVAL;
            }
        }
        s->logfile_priority = prio;
        return set_str(&s->logfile, buf);
    } else if (!strcasecmp(key, "loopback"))
        rc = conf_parse_bool(val, &s->loopback);
    else if (!strcasecmp(key, "nofile")) {
        if (!strcasecmp(val, "max") || !strcasecmp(val, "0"))
            s->nofile = -1;
        else
            rc = numparse_int(val, 1, 1 << 30, &s->nofile);
    } else if (!strcasecmp(key, "pidfile"))
        return set_str(&s->pidfile, val);
    else if (!strcasecmp(key, "port"))
        rc = numparse_int(val, 1, 65535, &s->port);
    else if (!strcasecmp(key, "resetcmd"))
        return set_str(&s->resetcmd, val);
    else if (!strcasecmp(key, "syslog"))
        return set_str(&s->syslog, val);
    else if (!strcasecmp(key, "tcpwrappers"))
        rc = conf_parse_bool(val, &s->tcpwrappers);
    else if (!strcasecmp(key, "timestamp"))
        rc = parse_minutes(val, &s->timestamp_min);
    else {
        report(p, "unrecognized SERVER keyword '%s'", key);
        return -EINVAL;
    }
    if (rc < 0)
        report(p, "invalid value '%s' for SERVER %s", val, key);
    return rc;
}

static int global_kv(struct parser *p, const char *key, const char *val)
{
    char err[256];
    if (!strcasecmp(key, "log")) {
        p->g_log_set = true;
        return set_str(&p->g_log, val);
    }
    if (!strcasecmp(key, "logopts")) {
        if (conf_parse_logopts(val, &p->g_logopts, err, sizeof(err)) < 0) {
            report(p, "%s", err);
            return -EINVAL;
        }
        return 0;
    }
    if (!strcasecmp(key, "seropts"))
        return set_str(&p->g_seropts, val);
    if (!strcasecmp(key, "ipmiopts"))
        return set_str(&p->g_ipmiopts, val);
    if (!strcasecmp(key, "sshopts"))
        return set_str(&p->g_sshopts, val);
    report(p, "unrecognized GLOBAL keyword '%s'", key);
    return -EINVAL;
}

/* Key/value pairs of one line: toks[1..n) as key = value triples. */
struct kv {
    const char *key;
    const char *val;
};

static int collect_kv(struct parser *p, struct tok *t, int n, struct kv *kv, int *nkv)
{
    *nkv = 0;
    for (int i = 1; i < n; i += 3) {
        if (t[i].kind != TOK_WORD) {
            report(p, "unrecognized token '%s'", t[i].kind == TOK_EQUALS ? "=" : t[i].text);
            return -EINVAL;
        }
        if (i + 2 >= n) {
            report(p, "missing value for '%s'", t[i].text);
            return -EINVAL;
        }
        if (t[i + 1].kind != TOK_EQUALS) {
            report(p, "expected '=' after '%s'", t[i].text);
            return -EINVAL;
        }
        if (t[i + 2].kind == TOK_EQUALS) {
            report(p, "missing value for '%s'", t[i].text);
            return -EINVAL;
        }
        kv[(*nkv)++] = (struct kv){t[i].text, t[i + 2].text};
    }
    return 0;
}

static char *join_opts(const char *a, const char *b)
{
    if (!a && !b)
        return NULL;
    if (!a || !b)
        return strdup(a ? a : b);
    size_t len = strlen(a) + strlen(b) + 2;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s,%s", a, b);
    return s;
}

static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static const char **name_slot(const char **tab, size_t cap, const char *name)
{
    size_t i = name_hash(name) & (cap - 1);
    while (tab[i] && strcmp(tab[i], name))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static bool name_seen(const struct parser *p, const char *name)
{
    return p->names && *name_slot(p->names, p->names_cap, name);
}

/* Remembers a name; kept at most half full. Returns 0 or -ENOMEM. */
static int name_add(struct parser *p, const char *name)
{
    if (2 * (p->names_used + 1) > p->names_cap) {
        size_t cap = p->names_cap ? 2 * p->names_cap : 256;
        const char **tab = calloc(cap, sizeof(*tab));
        if (!tab)
            return -ENOMEM;
        for (size_t i = 0; i < p->names_cap; i++)
            if (p->names[i])
                *name_slot(tab, cap, p->names[i]) = p->names[i];
        free(p->names);
        p->names = tab;
        p->names_cap = cap;
    }
    *name_slot(p->names, p->names_cap, name) = name;
    p->names_used++;
    return 0;
}

static int add_console(struct parser *p, struct conf_console *c)
{
    if (name_add(p, c->name) < 0)
        return -ENOMEM;
    struct conf *out = p->out;
    struct conf_console *grown = realloc(out->consoles, (out->nconsoles + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    out->consoles = grown;
    out->consoles[out->nconsoles++] = *c;
    return 0;
}

void conf_console_release(struct conf_console *c)
{
    free(c->name);
    free(c->dev);
    free(c->log);
    free(c->seropts);
    free(c->ipmiopts);
    free(c->sshopts);
    memset(c, 0, sizeof(*c));
}

/* Fills the console's log path from its own or the GLOBAL log setting. */
static int resolve_log(struct parser *p, struct conf_console *c, const char *log, bool log_set)
{
    const char *fmt = log_set ? log : (p->g_log_set ? p->g_log : NULL);
    if (!fmt || !*fmt)
        return 0; /* log="" disables logging for this console */
    char path[4096];
    if (conf_expand(fmt, c->name, c->dev, path, sizeof(path)) < 0) {
        report(p, "log name too long for console '%s'", c->name);
        return -EINVAL;
    }
    c->log = strdup(path);
    return c->log ? 0 : -ENOMEM;
}

static int console_kvs(struct parser *p, struct kv *kv, int nkv, struct conf_console *c,
                       const char **log, bool *log_set, const char **ipmi, const char **ssh)
{
    char err[256];
    for (int i = 0; i < nkv; i++) {
        const char *k = kv[i].key, *v = kv[i].val;
        int rc = 0;
        if (!strcasecmp(k, "name"))
            rc = set_str(&c->name, v);
        else if (!strcasecmp(k, "dev"))
            rc = set_str(&c->dev, v);
        else if (!strcasecmp(k, "log"))
            *log = v, *log_set = true;
        else if (!strcasecmp(k, "logopts")) {
            if (conf_parse_logopts(v, &c->logopts, err, sizeof(err)) < 0) {
                report(p, "%s", err);
                return -EINVAL;
            }
        } else if (!strcasecmp(k, "seropts"))
            rc = set_str(&c->seropts, v);
        else if (!strcasecmp(k, "ipmiopts"))
            *ipmi = v;
        else if (!strcasecmp(k, "sshopts"))
            *ssh = v;
        else {
            report(p, "unrecognized CONSOLE keyword '%s'", k);
            return -EINVAL;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int console_line(struct parser *p, struct kv *kv, int nkv)
{
    struct conf_console c = {0};
    const char *log = NULL, *ipmi = NULL, *ssh = NULL;
    bool log_set = false;
    c.logopts = p->g_logopts;
    c.line = p->line;
    int rc = console_kvs(p, kv, nkv, &c, &log, &log_set, &ipmi, &ssh);
    if (rc == 0 && (!c.name || !*c.name)) {
        report(p, "CONSOLE without a name");
        rc = -EINVAL;
    } else if (rc == 0 && (!c.dev || !*c.dev)) {
        report(p, "CONSOLE '%s' without a dev", c.name);
        rc = -EINVAL;
    } else if (rc == 0 && name_seen(p, c.name)) {
        report(p, "duplicate CONSOLE name '%s'", c.name);
        rc = -EINVAL;
    }
    if (rc == 0 && !c.seropts && p->g_seropts && !(c.seropts = strdup(p->g_seropts)))
        rc = -ENOMEM;
    if (rc == 0 && (p->g_ipmiopts || ipmi) && !(c.ipmiopts = join_opts(p->g_ipmiopts, ipmi)))
        rc = -ENOMEM;
    if (rc == 0 && (p->g_sshopts || ssh) && !(c.sshopts = join_opts(p->g_sshopts, ssh)))
        rc = -ENOMEM;
    if (rc == 0)
        rc = resolve_log(p, &c, log, log_set);
    if (rc == 0)
        rc = add_console(p, &c);
    if (rc < 0)
        conf_console_release(&c);
    return rc == -ENOMEM ? rc : 0;
}

static int parse_line(struct parser *p, const char *line)
{
    struct tok t[CONF_MAX_TOKENS];
    struct kv kv[CONF_MAX_TOKENS / 3 + 1];
    char store[CONF_LINE_MAX + CONF_MAX_TOKENS];
    char err[256];
    int nkv;
    int n = tokenize(line, store, t, CONF_MAX_TOKENS, err, sizeof(err));
    if (n < 0) {
        report(p, "%s", err);
        return 0;
    }
    if (n == 0)
        return 0;
    if (t[0].kind != TOK_WORD) {
        report(p, "unrecognized token '%s'", t[0].kind == TOK_EQUALS ? "=" : t[0].text);
        return 0;
    }
    const char *kw = t[0].text;
    bool server = !strcasecmp(kw, "server"), global = !strcasecmp(kw, "global");
    bool console = !strcasecmp(kw, "console");
    if (!server && !global && !console) {
        report(p, "unrecognized token '%s'", kw);
        return 0;
    }
    if (collect_kv(p, t, n, kv, &nkv) < 0)
        return 0;
    if (console)
        return console_line(p, kv, nkv);
    for (int i = 0; i < nkv; i++) {
        int rc = server ? server_kv(p, kv[i].key, kv[i].val) : global_kv(p, kv[i].key, kv[i].val);
        if (rc == -ENOMEM)
            return rc;
    }
    return 0;
}

static void server_defaults(struct conf_server *s)
{
    memset(s, 0, sizeof(*s));
    s->keepalive = true;
    s->nofile = -1; /* as conmand: raise the soft limit to the hard one */
    s->port = CONF_DEFAULT_PORT;
    s->logfile_priority = LOG_INFO;
}

int conf_parse(const char *text, const char *path, conf_report_fn rep, void *ctx, struct conf *out)
{
    struct parser p = {.path = path, .report = rep, .ctx = ctx, .out = out};
    memset(out, 0, sizeof(*out));
    server_defaults(&out->server);
    p.g_logopts = (struct conf_logopts){.lock = true};
    int rc = 0;
    const char *s = text;
    char line[CONF_LINE_MAX];
    while (rc == 0 && *s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        p.line++;
        if (len >= sizeof(line)) {
            report(&p, "line longer than %zu bytes", sizeof(line) - 1);
        } else {
            memcpy(line, s, len);
            line[len] = '\0';
            rc = parse_line(&p, line);
        }
        s += len + (nl ? 1 : 0);
    }
    free(p.g_log);
    free(p.g_seropts);
    free(p.g_ipmiopts);
    free(p.g_sshopts);
    free(p.names);
    if (rc < 0)
        conf_release(out);
    return rc;
}

void conf_release(struct conf *c)
{
    struct conf_server *s = &c->server;
    free(s->coredumpdir);
    free(s->execpath);
    free(s->logdir);
    free(s->logfile);
    free(s->pidfile);
    free(s->resetcmd);
    free(s->syslog);
    for (size_t i = 0; i < c->nconsoles; i++)
        conf_console_release(&c->consoles[i]);
    free(c->consoles);
    memset(c, 0, sizeof(*c));
}

const struct conf_console *conf_find(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->nconsoles; i++)
        if (!strcmp(c->consoles[i].name, name))
            return &c->consoles[i];
    return NULL;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static char *dup_or_null(const char *s, bool *failed)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *failed = true;
    return d;
}

int conf_console_copy(struct conf_console *dst, const struct conf_console *src)
{
    bool failed = false;
    struct conf_console c = *src;
    c.name = dup_or_null(src->name, &failed);
    c.dev = dup_or_null(src->dev, &failed);
    c.log = dup_or_null(src->log, &failed);
    c.seropts = dup_or_null(src->seropts, &failed);
    c.ipmiopts = dup_or_null(src->ipmiopts, &failed);
    c.sshopts = dup_or_null(src->sshopts, &failed);
    if (failed) {
        conf_console_release(&c);
        return -ENOMEM;
    }
    conf_console_release(dst);
    *dst = c;
    return 0;
}

bool conf_console_equal(const struct conf_console *a, const struct conf_console *b)
{
    return str_eq(a->name, b->name) && str_eq(a->dev, b->dev) && str_eq(a->log, b->log) &&
           a->logopts.lock == b->logopts.lock && a->logopts.sanitize == b->logopts.sanitize &&
           a->logopts.timestamp == b->logopts.timestamp && str_eq(a->seropts, b->seropts) &&
           str_eq(a->ipmiopts, b->ipmiopts) && str_eq(a->sshopts, b->sshopts);
}

int conf_expand(const char *fmt, const char *name, const char *dev, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *f = fmt; *f; f++) {
        const char *ins = NULL;
        char one[2] = {*f, '\0'};
        if (*f == '%' && (f[1] == 'N' || f[1] == 'D' || f[1] == '%')) {
            ins = f[1] == 'N' ? name : f[1] == 'D' ? dev : "%";
            f++;
        } else {
            ins = one;
        }
        size_t len = strlen(ins);
        if (o + len >= outlen)
            return -ENAMETOOLONG;
        memcpy(out + o, ins, len);
        o += len;
    }
    out[o] = '\0';
    return 0;
}

int conf_split_args(const char *dev, char *buf, size_t buflen, char **argv, int max)
{
    size_t o = 0;
    int argc = 0;
    const char *s = dev;
    while (*s) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        if (argc >= max - 1)
            return -E2BIG;
        argv[argc++] = buf + o;
        while (*s && !isspace((unsigned char)*s)) {
            if (*s == '"' || *s == '\'') {
                char q = *s++;
                while (*s && *s != q) {
                    if (o + 1 >= buflen)
                        return -E2BIG;
                    buf[o++] = *s++;
                }
                if (*s != q)
                    return -EINVAL;
                s++;
                continue;
            }
            if (o + 1 >= buflen)
                return -E2BIG;
            buf[o++] = *s++;
        }
        if (o + 1 >= buflen)
            return -E2BIG;
        buf[o++] = '\0';
    }
    argv[argc] = NULL;
    return argc;
}
