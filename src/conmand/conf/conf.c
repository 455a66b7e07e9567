/* conman.conf(5) parser. Lines are "SERVER|GLOBAL|CONSOLE key=value ...";
 * keywords are case-insensitive, values are bare words or '...'/"..." and
 * '#' starts a comment outside quotes. A bad line is reported and skipped. */
#include "conmand/conf/conf.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "common/hostport.h"
#include "common/numparse.h"
#include "common/secret.h"
#include "conmand/consoles/types.h"

#define CONF_MAX_TOKENS 64
#define CONF_ERR_LEN 512
#define CONF_LINE_MAX 8192

enum tok_kind { TOK_WORD, TOK_STRING, TOK_EQUALS };

struct tok {
    enum tok_kind kind;
    char *text; /* owned by the line buffer */
};

/* A console's log name as resolve_log() keys it, and who writes it. */
struct log_user {
    char *key; /* owned */
    const char *name;
    int line;
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
    char *g_opts[CONSOLE_TYPES_MAX]; /* per type (console_types' order) */
    /* Console names seen so far (borrowed from out), open addressing: a
     * duplicate check per line must not scan 10,000 earlier names. */
    const char **names;
    size_t names_cap, names_used;
    /* Log names in use (log_key), the same way. */
    struct log_user *logs;
    size_t logs_cap, logs_used;
};

static void report(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const struct console_type *dev_type_guess(const char *dev);
static int expand_fmt(const char *fmt, const struct conf_fmt *v, bool keep_time, char *out,
                      size_t outlen);

/* "FILE:LINE: text" to the caller. A long path truncates the message; the
 * text goes after the prefix only while there is room for it. */
static void deliver(struct parser *p, bool warning, const char *fmt, va_list ap)
{
    char msg[CONF_ERR_LEN];
    int n = snprintf(msg, sizeof(msg), "%s:%d: ", p->path, p->line);
    if (n >= 0 && (size_t)n < sizeof(msg) - 1)
        vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    if (p->report)
        p->report(p->ctx, warning, msg);
}

static void report(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    deliver(p, false, fmt, ap);
    va_end(ap);
    p->out->nerrors++;
}

/* Something conman itself only warns about: the line still applies. */
static void warn(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    deliver(p, true, fmt, ap);
    va_end(ap);
    p->out->nwarnings++;
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
    int unknown = 0;
    for (char *w = strtok_r(buf, " \t.,;", &save); w; w = strtok_r(NULL, " \t.,;", &save)) {
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
        else if (!unknown++)
            snprintf(err, errlen, "ignoring unrecognized logopts word '%s'", w);
    }
    *opts = tmp;
    return unknown ? 1 : 0;
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

int conf_check_hostport(const char *s)
{
    struct hostport hp;
    char why[300];
    return hostport_parse(s, HOSTPORT_PORT_REQUIRED, &hp, why, sizeof(why));
}

/* SERVER logship="tcp:HOST:PORT" or "file:PATH"; one of each may be given
 * (a second of the same kind replaces the first). */
static int parse_logship(struct parser *p, const char *val)
{
    struct conf_server *s = &p->out->server;
    if (!strncmp(val, "tcp:", 4) && conf_check_hostport(val + 4) == 0)
        return set_str(&s->logship_tcp, val + 4);
    if (!strncmp(val, "file:", 5) && val[5])
        return set_str(&s->logship_file, val + 5);
    report(p, "invalid value '%s' for SERVER logship: want \"tcp:HOST:PORT\" or \"file:PATH\"",
           val);
    return -EINVAL;
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
        if (!strcasecmp(val, "max"))
            s->nofile = -1;
        else
            rc = numparse_int(val, -1, CONF_NOFILE_MAX, &s->nofile);
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
    else if (!strcasecmp(key, "httpport"))
        rc = numparse_int(val, 0, 65535, &s->httpport);
    else if (!strcasecmp(key, "httpaddr")) {
        struct in6_addr a;
        if (inet_pton(AF_INET, val, &a) != 1 && inet_pton(AF_INET6, val, &a) != 1) {
            report(p, "invalid value '%s' for SERVER httpaddr: not an IP address", val);
            return -EINVAL;
        }
        return set_str(&s->httpaddr, val);
    } else if (!strcasecmp(key, "logsize"))
        rc = numparse_bytes(val, 1ULL << 50, &s->logsize);
    else if (!strcasecmp(key, "logkeep"))
        rc = numparse_int(val, 0, CONF_LOGKEEP_MAX, &s->logkeep);
    else if (!strcasecmp(key, "logbudget"))
        rc = numparse_bytes(val, 1ULL << 60, &s->logbudget);
    else if (!strcasecmp(key, "logship"))
        return parse_logship(p, val);
    else if (!strcasecmp(key, "eventrules"))
        return set_str(&s->eventrules, val);
    else if (!strcasecmp(key, "eventexec"))
        return set_str(&s->eventexec, val);
    else if (!strcasecmp(key, "httptokenfile"))
        return set_str(&s->httptokenfile, val);
    else if (!strcasecmp(key, "httpjoin"))
        rc = conf_parse_bool(val, &s->httpjoin);
    else if (!strcasecmp(key, "httpcert"))
        return set_str(&s->httpcert, val);
    else if (!strcasecmp(key, "httpkey"))
        return set_str(&s->httpkey, val);
    else {
        report(p, "unrecognized SERVER keyword '%s'", key);
        return -EINVAL;
    }
    if (rc < 0)
        report(p, "invalid value '%s' for SERVER %s", val, key);
    return rc;
}

char *conf_join_values(const char *a, char sep, const char *b)
{
    if (!a || !b)
        return a || b ? strdup(a ? a : b) : NULL;
    size_t len = strlen(a) + strlen(b) + 2;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s%c%s", a, sep, b);
    return s;
}

/* GLOBAL options of a type: layered over the GLOBAL ones before, as the
 * type checks them; a bad value is reported and ignored. */
static int global_opts(struct parser *p, int type, const char *val)
{
    char err[256], *next = NULL;
    int rc = console_types[type]->opts_layer(p->g_opts[type], val, &next, err, sizeof(err));
    if (rc == -EINVAL)
        report(p, "GLOBAL %s: ignored", err);
    if (rc < 0)
        return rc;
    secret_free(p->g_opts[type]);
    p->g_opts[type] = next;
    return 0;
}

/* logopts: an unknown word is a warning and the known ones apply, as in
 * conman; only a value too long to read is an error. */
static int logopts_kv(struct parser *p, const char *val, struct conf_logopts *opts)
{
    char err[256];
    int rc = conf_parse_logopts(val, opts, err, sizeof(err));
    if (rc > 0)
        warn(p, "%s", err);
    else if (rc < 0)
        report(p, "%s", err);
    return rc < 0 ? rc : 0;
}

static int global_kv(struct parser *p, const char *key, const char *val)
{
    if (!strcasecmp(key, "log")) {
        /* One name for every console must tell them apart (conman refuses
         * it the same way; "" turns the default off). */
        if (*val && !strstr(val, "%N") && !strstr(val, "%D")) {
            report(p, "GLOBAL log \"%s\" has neither %%N nor %%D: ignored", val);
            return -EINVAL;
        }
        p->g_log_set = true;
        return set_str(&p->g_log, val);
    }
    if (!strcasecmp(key, "logopts"))
        return logopts_kv(p, val, &p->g_logopts);
    int type = console_type_with_opts(key);
    if (type >= 0)
        return global_opts(p, type, val);
    report(p, "unrecognized GLOBAL keyword '%s'", key);
    return -EINVAL;
}

/* %N in a dev string becomes the console's name, as in conman, for every
 * type, except inside '...' (conman leaves single-quoted words alone). A
 * name with blanks stays one word of a process console's command line. */
static int expand_dev_name(struct conf_console *c)
{
    if (!strstr(c->dev, "%N"))
        return 0;
    bool blanks = strpbrk(c->name, " \t'\"") != NULL;
    size_t nlen = strlen(c->name), len = strlen(c->dev) + 1, n = 0;
    for (const char *d = strstr(c->dev, "%N"); d; d = strstr(d + 2, "%N"))
        len += nlen + 2;
    char *out = malloc(len), quote = 0;
    if (!out)
        return -ENOMEM;
    for (const char *d = c->dev; *d; d++) {
        if ((*d == '\'' || *d == '"') && (!quote || quote == *d))
            quote = quote ? 0 : *d;
        if (d[0] == '%' && d[1] == 'N' && quote != '\'') {
            bool wrap = blanks && !quote && !strchr(c->name, '"');
            n += (size_t)snprintf(out + n, len - n, wrap ? "\"%s\"" : "%s", c->name);
            d++;
        } else {
            out[n++] = *d;
        }
    }
    out[n] = '\0';
    free(c->dev);
    c->dev = out;
    return 0;
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

/* ipmiopts and sshopts may hold passwords and K_g keys, and a process
 * console's dev is a command line that may carry one (ipmitool -P): wiped. */
void conf_console_release(struct conf_console *c)
{
    free(c->name);
    secret_free(c->dev);
    free(c->log);
    secret_free(c->opts); /* ipmiopts and sshopts may hold a password */
    memset(c, 0, sizeof(*c));
}

/* The type a dev string will have, without looking at the file system: a
 * bare absolute path is taken for a character device (a program without
 * arguments has an empty %D at run time either way). */
static const struct console_type *dev_type_guess(const char *dev)
{
    return console_type_for(dev, dev[0] == '/' && !strpbrk(dev, " \t"));
}

/* The console's log name with %N and %D expanded and the time left as
 * written: two consoles with the same key would write one file. */
static int log_key(const char *fmt, const struct conf_console *c, char *out, size_t outlen)
{
    char devid[4096];
    conf_dev_id(c->dev, dev_type_guess(c->dev), devid, sizeof(devid));
    struct conf_fmt v = {.name = c->name, .devid = devid};
    return expand_fmt(fmt, &v, true, out, outlen);
}

static struct log_user *log_slot(struct log_user *tab, size_t cap, const char *key)
{
    size_t i = name_hash(key) & (cap - 1);
    while (tab[i].key && strcmp(tab[i].key, key))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

/* Remembers who writes `key` (taking it); kept at most half full. Returns
 * 0 or -ENOMEM (key freed). */
static int log_add(struct parser *p, char *key, const struct conf_console *c)
{
    if (2 * (p->logs_used + 1) > p->logs_cap) {
        size_t cap = p->logs_cap ? 2 * p->logs_cap : 256;
        struct log_user *tab = calloc(cap, sizeof(*tab));
        if (!tab) {
            free(key);
            return -ENOMEM;
        }
        for (size_t i = 0; i < p->logs_cap; i++)
            if (p->logs[i].key)
                *log_slot(tab, cap, p->logs[i].key) = p->logs[i];
        free(p->logs);
        p->logs = tab;
        p->logs_cap = cap;
    }
    *log_slot(p->logs, p->logs_cap, key) = (struct log_user){key, c->name, c->line};
    p->logs_used++;
    return 0;
}

static void logs_release(struct parser *p)
{
    for (size_t i = 0; i < p->logs_cap; i++)
        free(p->logs[i].key);
    free(p->logs);
}

/* Fills the console's log name from its own or the GLOBAL log setting. A
 * name another console already writes is reported and the console left
 * unlogged, as conman does. */
static int resolve_log(struct parser *p, struct conf_console *c, const char *log, bool log_set)
{
    const char *fmt = log_set ? log : (p->g_log_set ? p->g_log : NULL);
    if (!fmt || !*fmt)
        return 0; /* log="" disables logging for this console */
    char key[4096];
    if (log_key(fmt, c, key, sizeof(key)) < 0) {
        report(p, "log name too long for console '%s'", c->name);
        return -EINVAL;
    }
    const struct log_user *u = p->logs ? log_slot(p->logs, p->logs_cap, key) : NULL;
    if (u && u->key) {
        report(p,
               "console [%s]: log \"%s\" is already written by console [%s] (line %d): "
               "not logged",
               c->name, key, u->name, u->line);
        return 0;
    }
    char *k = strdup(key);
    if (!k || !(c->log = strdup(fmt))) {
        free(k);
        return -ENOMEM;
    }
    return log_add(p, k, c);
}

/* A CONSOLE line's values; the options per type, as given. */
struct console_values {
    const char *log;
    bool log_set;
    const char *opts[CONSOLE_TYPES_MAX];
};

static int console_kvs(struct parser *p, struct kv *kv, int nkv, struct conf_console *c,
                       struct console_values *vals)
{
    for (int i = 0; i < nkv; i++) {
        const char *k = kv[i].key, *v = kv[i].val;
        int rc = 0, type = console_type_with_opts(k);
        if (!strcasecmp(k, "name"))
            rc = set_str(&c->name, v);
        else if (!strcasecmp(k, "dev"))
            rc = set_str(&c->dev, v);
        else if (!strcasecmp(k, "log"))
            vals->log = v, vals->log_set = true;
        else if (!strcasecmp(k, "logopts"))
            rc = logopts_kv(p, v, &c->logopts);
        else if (type >= 0)
            vals->opts[type] = v;
        else {
            report(p, "unrecognized CONSOLE keyword '%s'", k);
            return -EINVAL;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The console's options: its type's, its own value layered over the
 * GLOBAL ones (a bad value drops the console, as conman's); another
 * type's options are not read by this console (conman ignores them), so a
 * bad one is only a warning. Then %N in its dev. Returns 0, -EINVAL
 * (reported) or -ENOMEM. */
static int console_options(struct parser *p, struct conf_console *c,
                           const struct console_values *vals)
{
    const struct console_type *type = dev_type_guess(c->dev);
    for (int i = 0; console_types[i]; i++) {
        char err[256], *layered = NULL;
        bool own_type = console_types[i] == type;
        if (!vals->opts[i]) {
            if (own_type && p->g_opts[i] && !(c->opts = strdup(p->g_opts[i])))
                return -ENOMEM;
            continue;
        }
        int rc =
            console_types[i]->opts_layer(p->g_opts[i], vals->opts[i], &layered, err, sizeof(err));
        if (rc == -ENOMEM)
            return rc;
        if (rc < 0 && own_type) {
            report(p, "console [%s]: %s", c->name, err);
            return -EINVAL;
        }
        if (rc < 0)
            warn(p, "console [%s]: %s: ignored", c->name, err);
        if (own_type)
            c->opts = layered;
        else
            secret_free(layered);
    }
    return expand_dev_name(c);
}

static int console_line(struct parser *p, struct kv *kv, int nkv)
{
    struct conf_console c = {0};
    struct console_values vals = {0};
    c.logopts = p->g_logopts;
    c.line = p->line;
    int rc = console_kvs(p, kv, nkv, &c, &vals);
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
    if (rc == 0)
        rc = console_options(p, &c, &vals);
    /* After console_options(): the dev with %N expanded. */
    const struct console_type *type = rc == 0 ? dev_type_guess(c.dev) : NULL;
    char err[400];
    if (type && type->check_dev && type->check_dev(c.dev, err, sizeof(err)) < 0) {
        report(p, "console [%s]: %s", c.name, err);
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = resolve_log(p, &c, vals.log, vals.log_set);
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

/* True when a backslash ends `s[0..len)` outside quotes and comments: the
 * line goes on, as conman's lexer reads it. */
static bool continues(const char *s, size_t len)
{
    char quote = 0;
    for (size_t i = 0; i < len; i++) {
        if (quote) {
            quote = s[i] == quote ? 0 : quote;
        } else if (s[i] == '"' || s[i] == '\'') {
            quote = s[i];
        } else if (s[i] == '#') {
            return false;
        } else if (s[i] == '\\' && (i + 1 == len || (i + 2 == len && s[i + 1] == '\r'))) {
            return true;
        }
    }
    return false;
}

/* Copies one logical line of `s` into `out` (NUL-terminated), each
 * backslash-newline as a blank, and counts its physical lines. Returns the
 * bytes consumed; *fits is false when it did not fit in `out`. */
static size_t logical_line(const char *s, char *out, size_t outlen, int *lines, bool *fits)
{
    size_t used = 0, o = 0;
    *fits = true;
    for (;;) {
        const char *nl = strchr(s + used, '\n');
        size_t len = nl ? (size_t)(nl - (s + used)) : strlen(s + used);
        bool more = nl && continues(s + used, len);
        size_t take = more ? len - (s[used + len - 1] == '\r' ? 2 : 1) : len;
        (*lines)++;
        if (*fits && o + take + 1 < outlen) {
            memcpy(out + o, s + used, take);
            o += take;
            out[o++] = ' ';
        } else {
            *fits = false;
        }
        used += len + (nl ? 1 : 0);
        if (!more)
            break;
    }
    if (*fits)
        out[o - 1] = '\0';
    return used;
}

static void server_defaults(struct conf_server *s)
{
    memset(s, 0, sizeof(*s));
    s->keepalive = true;
    s->loopback = true; /* conman 0.2.8 on: 127.0.0.1 unless loopback=off */
    s->nofile = 0;      /* conman 0.2.8 on: keep the soft limit */
    s->port = CONF_DEFAULT_PORT;
    s->logfile_priority = LOG_INFO;
    s->logkeep = 2;
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
        int lines = 0;
        bool fits;
        size_t len = logical_line(s, line, sizeof(line), &lines, &fits);
        p.line++;
        if (!fits)
            report(&p, "line longer than %zu bytes", sizeof(line) - 2);
        else
            rc = parse_line(&p, line);
        p.line += lines - 1;
        s += len;
    }
    explicit_bzero(line, sizeof(line)); /* the last line may hold a password */
    if (rc == 0 && !out->server.httpcert != !out->server.httpkey)
        report(&p, "SERVER %s is set without %s: HTTPS needs both the certificate and the key",
               out->server.httpcert ? "httpcert" : "httpkey",
               out->server.httpcert ? "httpkey" : "httpcert");
    free(p.g_log);
    for (size_t i = 0; i < CONSOLE_TYPES_MAX; i++)
        secret_free(p.g_opts[i]);
    free(p.names);
    logs_release(&p);
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
    secret_free(s->resetcmd); /* a command line, like a process dev */
    free(s->syslog);
    free(s->httpaddr);
    free(s->logship_tcp);
    free(s->logship_file);
    free(s->eventrules);
    free(s->eventexec);
    free(s->httptokenfile);
    free(s->httpcert);
    free(s->httpkey);
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
    c.opts = dup_or_null(src->opts, &failed);
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
           a->logopts.timestamp == b->logopts.timestamp && str_eq(a->opts, b->opts);
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

/* Appends `s` (sanitized: what is not a visible ASCII character, and '/',
 * becomes '_', so a name cannot leave the log directory). */
static bool put_str(const char *s, bool sanitize, char *out, size_t outlen, size_t *o)
{
    size_t len = strlen(s);
    if (*o + len >= outlen)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[(*o)++] = sanitize && (ch <= ' ' || ch >= 0x7F || ch == '/') ? '_' : (char)ch;
    }
    return true;
}

static bool is_time_spec(char ch)
{
    return ch && strchr("dgGHjmMsSuUVwWyY", ch);
}

/* One time specifier through strftime (they are all strftime's own). */
static bool put_time(char spec, const struct tm *tm, char *out, size_t outlen, size_t *o)
{
    char f[3] = {'%', spec, '\0'};
    size_t n = *o < outlen ? strftime(out + *o, outlen - *o, f, tm) : 0;
    *o += n;
    return n > 0 && *o < outlen;
}

/* The format with `keep_time`: time specifiers and %P left as written, so
 * two consoles' names can be compared once for all times. */
static int expand_fmt(const char *fmt, const struct conf_fmt *v, bool keep_time, char *out,
                      size_t outlen)
{
    struct tm tm;
    char num[32];
    size_t o = 0;
    bool ok = outlen > 0;
    if (!keep_time)
        localtime_r(&v->now, &tm);
    for (const char *f = fmt; ok && *f; f++) {
        if (*f != '%') {
            char one[2] = {*f, '\0'};
            ok = put_str(one, false, out, outlen, &o);
            continue;
        }
        char spec = f[1];
        const char *val = NULL;
        if (spec == 'N' && v->name)
            val = v->name;
        else if (spec == 'D' && v->devid)
            val = v->devid;
        if (val) {
            ok = put_str(val, true, out, outlen, &o);
        } else if (spec == '%') {
            ok = put_str("%", false, out, outlen, &o);
        } else if ((spec == 'P' || is_time_spec(spec)) && !keep_time) {
            if (spec == 'P' || spec == 's') {
                snprintf(num, sizeof(num), "%lld",
                         spec == 'P' ? (long long)v->pid : (long long)v->now);
                ok = put_str(num, false, out, outlen, &o);
            } else {
                ok = put_time(spec, &tm, out, outlen, &o);
            }
        } else {
            /* Unknown (or kept) specifiers stay as written, as conman's; a
             * '%' that ends the string is itself. */
            char two[3] = {'%', spec, '\0'};
            ok = put_str(spec ? two : "%", false, out, outlen, &o);
        }
        if (spec)
            f++;
    }
    if (!ok)
        return -ENAMETOOLONG;
    out[o] = '\0';
    return 0;
}

int conf_format(const char *fmt, const struct conf_fmt *v, char *out, size_t outlen)
{
    return expand_fmt(fmt, v, false, out, outlen);
}

const char *conf_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void conf_dev_id(const char *dev, const struct console_type *type, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", type && type->dev_id ? type->dev_id(dev) : "");
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
