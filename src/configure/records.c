/* RedfishEndpoints to console records. Every value from HSM is untrusted:
 * names and addresses are checked against small alphabets before they can
 * reach the configuration file, and escaped before they reach a warning. */
#include "configure/records.h"

#include "common/hostport.h"
#include "configure/jsonlist.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 64
#define ADDRESS_MAX_LEN 255

bool records_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

/* The one host:port parser (common/hostport.c) decides: a name, an IPv4
 * address or [IPv6], each with an optional port, or a bare IPv6 address
 * (scope allowed). That alphabet keeps quotes, blanks and commas out of
 * the configuration file. */
bool records_address_ok(const char *addr)
{
    struct hostport hp;
    char why[300];
    return strlen(addr) <= ADDRESS_MAX_LEN &&
           hostport_parse(addr, HOSTPORT_PORT_OPTIONAL, &hp, why, sizeof(why)) == 0;
}

/* Printable ASCII stays, anything else becomes \xNN; long values are cut,
 * so a hostile ID cannot forge or flood a log line. */
void records_escape(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 5 < outlen; p++) {
        if (o >= 80) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", *p);
    }
    out[o] = '\0';
}

int records_warn(struct records *r, const char *fmt, ...)
{
    if (r->nwarn == r->warncap) {
        size_t cap = r->warncap ? r->warncap * 2 : 8;
        char **w = realloc(r->warnings, cap * sizeof(*w));
        if (!w)
            return -ENOMEM;
        r->warnings = w;
        r->warncap = cap;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    r->warnings[r->nwarn] = strdup(buf);
    if (!r->warnings[r->nwarn])
        return -ENOMEM;
    r->nwarn++;
    return 0;
}

int records_add(struct records *r, const struct record *rec)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct record *v = realloc(r->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        r->v = v;
        r->cap = cap;
    }
    struct record *e = &r->v[r->n];
    *e = *rec;
    e->name = strdup(rec->name);
    e->address = strdup(rec->address);
    if (!e->name || !e->address) {
        free(e->name);
        free(e->address);
        return -ENOMEM;
    }
    r->n++;
    return 0;
}

static int by_name_then_index(const void *a, const void *b)
{
    const struct record *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

int records_sort_unique(struct records *r)
{
    if (r->n > 1)
        qsort(r->v, r->n, sizeof(*r->v), by_name_then_index);
    size_t kept = 0;
    int rc = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct record *prev = kept ? &r->v[kept - 1] : NULL;
        if (!prev || strcmp(prev->name, r->v[i].name) != 0) {
            r->v[kept++] = r->v[i];
            continue;
        }
        if (rc == 0)
            rc = records_warn(r,
                              "console name \"%s\" is used by more than one endpoint: kept the "
                              "first (address %s), skipped address %s",
                              r->v[i].name, prev->address, r->v[i].address);
        free(r->v[i].name);
        free(r->v[i].address);
    }
    r->n = kept;
    return rc;
}

enum { F_ID, F_TYPE, F_ENABLED, F_IP, F_FQDN, F_HOSTNAME, F_IDENT };

static const char *field(const struct jlist_fields *f, size_t k)
{
    return f->str[k] ? f->str[k] : "";
}

/* Address = IPAddress, else FQDN, else Hostname (first non-empty). */
static const char *pick_address(const struct jlist_fields *f)
{
    for (size_t k = F_IP; k <= F_HOSTNAME; k++)
        if (*field(f, k))
            return field(f, k);
    return "";
}

struct records_parser {
    struct jlist *j;
    struct jlist_fields f;
    struct records acc; /* records and warnings as they come */
    size_t ident;       /* slot of the LOG_IDENTIFIER field in f */
    const char *identifier;
};

/* Checks one endpoint; returns 1 with names set when it makes a console,
 * 0 when skipped (a warning was added), -ENOMEM. */
static int examine(struct records_parser *p, size_t index, const char **name, const char **addr)
{
    char id[128], val[128];
    const struct jlist_fields *f = &p->f;
    const char *raw_id = field(f, F_ID);
    records_escape(raw_id, id, sizeof(id));
    if (!*raw_id)
        return records_warn(&p->acc, "RedfishEndpoints[%zu]: no ID, skipped", index);
    *name = field(f, p->ident);
    if (!**name)
        *name = raw_id;
    if (!records_name_ok(*name)) {
        records_escape(*name, val, sizeof(val));
        return records_warn(&p->acc,
                            "endpoint %s: %s \"%s\" is not a valid console name "
                            "([A-Za-z0-9._:-]{1,64}), skipped",
                            id, *name == raw_id ? "ID" : p->identifier, val);
    }
    *addr = pick_address(f);
    if (!**addr)
        return records_warn(&p->acc, "endpoint %s: no IPAddress, FQDN or Hostname, skipped", id);
    if (!records_address_ok(*addr)) {
        records_escape(*addr, val, sizeof(val));
        return records_warn(
            &p->acc, "endpoint %s: address \"%s\" is not a valid host or IP, skipped", id, val);
    }
    return 1;
}

static int on_endpoint(size_t index, const struct jlist_fields *f, void *ctx)
{
    struct records_parser *p = ctx;
    if (!f->is_object)
        return records_warn(&p->acc, "RedfishEndpoints[%zu]: not an object, skipped", index);
    if (!f->is_true[F_ENABLED] || strcmp(field(f, F_TYPE), "NodeBMC") != 0)
        return 0;
    const char *name = NULL, *addr = NULL;
    int rc = examine(p, index, &name, &addr);
    if (rc != 1)
        return rc;
    struct record rec = {(char *)name, (char *)addr, RECORD_IPMI, 0, index};
    return records_add(&p->acc, &rec);
}

/* The members wanted from each endpoint; LOG_IDENTIFIER may be one of them. */
static size_t setup_fields(struct jlist_fields *f, const char *identifier)
{
    static const char *const keys[] = {"ID", "Type", "Enabled", "IPAddress", "FQDN", "Hostname"};
    memset(f, 0, sizeof(*f));
    for (size_t k = 0; k < F_IDENT; k++)
        f->keys[k] = keys[k];
    f->nkeys = F_IDENT;
    for (size_t k = 0; k < F_IDENT; k++)
        if (strcmp(keys[k], identifier) == 0)
            return k;
    f->keys[F_IDENT] = identifier;
    f->nkeys = F_IDENT + 1;
    return F_IDENT;
}

int records_parser_open(struct records_parser **out, const char *identifier)
{
    struct records_parser *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->identifier = identifier;
    p->ident = setup_fields(&p->f, identifier);
    int rc = jlist_open(&p->j, "RedfishEndpoints", &p->f, on_endpoint, p);
    if (rc < 0) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int records_parser_feed(struct records_parser *p, const char *data, size_t len, char *err,
                        size_t errlen)
{
    return jlist_feed(p->j, data, len, err, errlen);
}

int records_parser_finish(struct records_parser *p, struct records *out, char *err, size_t errlen)
{
    int rc = jlist_finish(p->j, err, errlen);
    if (rc == 0)
        rc = records_sort_unique(&p->acc);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc == 0) {
        *out = p->acc;
        memset(&p->acc, 0, sizeof(p->acc));
    }
    return rc;
}

void records_parser_close(struct records_parser *p)
{
    if (!p)
        return;
    jlist_close(p->j);
    records_release(&p->acc);
    free(p);
}

int records_from_json(const char *body, size_t len, const char *identifier, struct records *out,
                      char *err, size_t errlen)
{
    struct records_parser *p = NULL;
    int rc = records_parser_open(&p, identifier);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    rc = records_parser_feed(p, body, len, err, errlen);
    if (rc == 0)
        rc = records_parser_finish(p, out, err, errlen);
    records_parser_close(p);
    return rc;
}

void records_release(struct records *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].name);
        free(r->v[i].address);
    }
    for (size_t i = 0; i < r->nwarn; i++)
        free(r->warnings[i]);
    free(r->v);
    free(r->warnings);
    memset(r, 0, sizeof(*r));
}
