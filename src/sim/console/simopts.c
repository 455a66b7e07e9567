/* console-sim's command line, parsed into a struct before anything runs. */
#include "sim/console/simopts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/numparse.h"

const char simopts_usage[] =
    "usage: console-sim [--rate LPS] [--burst] [--no-echo] [--lines N] [--panic-every N]\n"
    "                   [--range PREFIX:COUNT:tcp:BASEPORT | --range PREFIX:COUNT:unix:DIR]...\n"
    "                   [NAME=tcp:PORT | NAME=unix:PATH]...\n"
    "Serves simulated serial consoles on 127.0.0.1 TCP ports or unix sockets.\n"
    "Each connected console prints numbered boot-log lines and echoes input.\n"
    "  --rate LPS   lines per second per connected console (default 2; 0.1 .. 1000000)\n"
    "  --burst      write as fast as each client reads (throughput mode)\n"
    "  --no-echo    do not echo input\n"
    "  --lines N    each console goes quiet after N lines (default: never)\n"
    "  --panic-every N  after every N numbered lines a console crashes: it prints an\n"
    "               unnumbered kernel Oops/panic, OOM kill, machine check or soft\n"
    "               lockup and the next boot's kernel banner, then numbering goes on\n"
    "               (default: never)\n"
    "PORT 0 (or BASEPORT 0) lets the kernel pick; the chosen addresses are\n"
    "printed as 'console NAME tcp 127.0.0.1:PORT', then 'ready N consoles'.\n";

void simopts_init(struct sim_options *o)
{
    memset(o, 0, sizeof(*o));
    o->rate = 2.0;
    o->echo = 1;
}

void simopts_release(struct sim_options *o)
{
    free(o->specs);
    o->specs = NULL;
    o->nspecs = o->cap = 0;
}

static int valid_name(const char *s, size_t len)
{
    if (len == 0 || len > SIMOPTS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

static struct sim_spec *new_spec(struct sim_options *o)
{
    if (o->nspecs == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        struct sim_spec *p = realloc(o->specs, cap * sizeof(*p));
        if (!p)
            return NULL;
        o->specs = p;
        o->cap = cap;
    }
    struct sim_spec *s = &o->specs[o->nspecs];
    memset(s, 0, sizeof(*s));
    return s;
}

/* Fills the address part ("tcp:PORT" or "unix:PATH") of spec s. */
static int parse_address(struct sim_spec *s, const char *addr)
{
    long port;
    if (strncmp(addr, "tcp:", 4) == 0) {
        if (numparse_long(addr + 4, 0, 65535, &port) < 0)
            return -EINVAL;
        s->kind = SIM_TCP;
        s->port = (int)port;
        return 0;
    }
    if (strncmp(addr, "unix:", 5) == 0) {
        size_t len = strlen(addr + 5);
        if (len == 0 || len >= sizeof(s->path))
            return -EINVAL;
        s->kind = SIM_UNIX;
        memcpy(s->path, addr + 5, len + 1);
        return 0;
    }
    return -EINVAL;
}

int simopts_add_spec(struct sim_options *o, const char *text, char *err, size_t errlen)
{
    const char *eq = strchr(text, '=');
    if (!eq || !valid_name(text, (size_t)(eq - text))) {
        snprintf(err, errlen,
                 "console spec '%s': expected NAME=tcp:PORT or NAME=unix:PATH with NAME "
                 "of 1-64 characters [A-Za-z0-9._:-]",
                 text);
        return -EINVAL;
    }
    if (o->nspecs >= SIMOPTS_MAX_CONSOLES) {
        snprintf(err, errlen, "console spec '%s': more than %d consoles", text,
                 SIMOPTS_MAX_CONSOLES);
        return -EINVAL;
    }
    struct sim_spec *s = new_spec(o);
    if (!s) {
        snprintf(err, errlen, "console spec '%s': out of memory", text);
        return -ENOMEM;
    }
    if (parse_address(s, eq + 1) < 0) {
        snprintf(err, errlen,
                 "console spec '%s': address must be tcp:PORT (0-65535) or unix:PATH "
                 "(1-%d bytes)",
                 text, SIMOPTS_PATH_MAX - 1);
        return -EINVAL;
    }
    memcpy(s->name, text, (size_t)(eq - text));
    s->name[eq - text] = '\0';
    o->nspecs++;
    return 0;
}

static int range_error(const char *text, const char *why, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "console range '%s': %s (expected PREFIX:COUNT:tcp:BASEPORT or "
             "PREFIX:COUNT:unix:DIR)",
             text, why);
    return -EINVAL;
}

/* Adds console number i (1-based) of a range. */
static int add_range_member(struct sim_options *o, const char *prefix, long i, int unix_kind,
                            long base, const char *dir, char *err, size_t errlen)
{
    char spec[SIMOPTS_NAME_MAX + SIMOPTS_PATH_MAX + 32];
    char name[SIMOPTS_NAME_MAX + 32];
    snprintf(name, sizeof(name), "%s%ld", prefix, i);
    if (unix_kind)
        snprintf(spec, sizeof(spec), "%s=unix:%s/%s.sock", name, dir, name);
    else
        snprintf(spec, sizeof(spec), "%s=tcp:%ld", name, base ? base + i - 1 : 0);
    return simopts_add_spec(o, spec, err, errlen);
}

int simopts_add_range(struct sim_options *o, const char *text, char *err, size_t errlen)
{
    char buf[SIMOPTS_NAME_MAX + SIMOPTS_PATH_MAX + 64];
    if (strlen(text) >= sizeof(buf))
        return range_error(text, "too long", err, errlen);
    strcpy(buf, text);
    char *prefix = buf, *count_s = strchr(prefix, ':');
    char *kind = count_s ? strchr(count_s + 1, ':') : NULL;
    char *where = kind ? strchr(kind + 1, ':') : NULL;
    if (!where)
        return range_error(text, "missing fields", err, errlen);
    *count_s++ = *kind++ = *where++ = '\0';
    long count, base = 0;
    if (numparse_long(count_s, 1, SIMOPTS_MAX_CONSOLES, &count) < 0)
        return range_error(text, "COUNT must be 1-100000", err, errlen);
    int unix_kind = strcmp(kind, "unix") == 0;
    if (!unix_kind && strcmp(kind, "tcp") != 0)
        return range_error(text, "kind must be tcp or unix", err, errlen);
    if (!unix_kind && (numparse_long(where, 0, 65535, &base) < 0 || (base && base + count > 65536)))
        return range_error(text, "BASEPORT+COUNT must stay within 1-65535", err, errlen);
    for (long i = 1; i <= count; i++) {
        int rc = add_range_member(o, prefix, i, unix_kind, base, where, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_rate(struct sim_options *o, const char *s, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= 0.1 && v <= 1e6)) {
        snprintf(err, errlen, "--rate '%s': expected lines per second from 0.1 to 1000000", s);
        return -EINVAL;
    }
    o->rate = v;
    return 0;
}

static int parse_count(const char *opt, const char *s, uint64_t *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-' || v == 0) {
        snprintf(err, errlen, "%s '%s': expected a positive whole number", opt, s);
        return -EINVAL;
    }
    *out = (uint64_t)v;
    return 0;
}

/* Handles an option that takes a value. */
static int parse_valued(struct sim_options *o, const char *opt, const char *val, char *err,
                        size_t errlen)
{
    if (!val) {
        snprintf(err, errlen, "%s: missing value", opt);
        return -EINVAL;
    }
    if (strcmp(opt, "--rate") == 0)
        return parse_rate(o, val, err, errlen);
    if (strcmp(opt, "--lines") == 0)
        return parse_count(opt, val, &o->max_lines, err, errlen);
    if (strcmp(opt, "--panic-every") == 0)
        return parse_count(opt, val, &o->panic_every, err, errlen);
    return simopts_add_range(o, val, err, errlen);
}

int simopts_parse_args(struct sim_options *o, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return 1;
        else if (strcmp(a, "--burst") == 0)
            o->burst = 1;
        else if (strcmp(a, "--no-echo") == 0)
            o->echo = 0;
        else if (strcmp(a, "--rate") == 0 || strcmp(a, "--lines") == 0 ||
                 strcmp(a, "--panic-every") == 0 || strcmp(a, "--range") == 0)
            rc = parse_valued(o, a, i + 1 < argc ? argv[++i] : NULL, err, errlen);
        else if (a[0] == '-') {
            snprintf(err, errlen, "unknown option '%s' (see --help)", a);
            rc = -EINVAL;
        } else
            rc = simopts_add_spec(o, a, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Sorting keys for duplicate detection: O(n log n) so 100000 consoles check
 * fast. Key 0 is the name, key 1 the address. */
struct dupkey {
    const struct sim_spec *s;
    int by_address;
};

static void address_text(const struct sim_spec *s, char *buf, size_t size)
{
    if (s->kind == SIM_TCP)
        snprintf(buf, size, "tcp:%d", s->port);
    else
        snprintf(buf, size, "unix:%s", s->path);
}

static int compare_specs(const void *a, const void *b)
{
    const struct dupkey *x = a, *y = b;
    if (!x->by_address)
        return strcmp(x->s->name, y->s->name);
    char ax[SIMOPTS_PATH_MAX + 8], ay[SIMOPTS_PATH_MAX + 8];
    address_text(x->s, ax, sizeof(ax));
    address_text(y->s, ay, sizeof(ay));
    return strcmp(ax, ay);
}

static int find_duplicate(const struct sim_options *o, int by_address, char *err, size_t errlen)
{
    struct dupkey *k = calloc(o->nspecs, sizeof(*k));
    if (!k) {
        snprintf(err, errlen, "out of memory checking %zu consoles", o->nspecs);
        return -ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < o->nspecs; i++)
        if (!by_address || o->specs[i].kind == SIM_UNIX || o->specs[i].port != 0)
            k[n++] = (struct dupkey){&o->specs[i], by_address};
    qsort(k, n, sizeof(*k), compare_specs);
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++) {
        if (compare_specs(&k[i - 1], &k[i]) != 0)
            continue;
        char addr[SIMOPTS_PATH_MAX + 8];
        address_text(k[i].s, addr, sizeof(addr));
        if (by_address)
            snprintf(err, errlen, "consoles '%s' and '%s' both listen on %s", k[i - 1].s->name,
                     k[i].s->name, addr);
        else
            snprintf(err, errlen, "console name '%s' is used twice", k[i].s->name);
        rc = -EINVAL;
    }
    free(k);
    return rc;
}

int simopts_validate(const struct sim_options *o, char *err, size_t errlen)
{
    if (o->nspecs == 0) {
        snprintf(err, errlen, "no console given (see --help)");
        return -EINVAL;
    }
    int rc = find_duplicate(o, 0, err, errlen);
    return rc < 0 ? rc : find_duplicate(o, 1, err, errlen);
}

uint64_t simopts_lines_due(double rate, uint64_t elapsed_ms)
{
    return (uint64_t)floor(rate * (double)elapsed_ms / 1000.0) + 1;
}

uint64_t simopts_tick_ms(double rate)
{
    double ms = 1000.0 / rate;
    if (ms < 5)
        return 5;
    if (ms > 1000)
        return 1000;
    return (uint64_t)ms;
}
