/* RedfishEndpoints to console records. Every value from HSM is untrusted:
 * names and addresses are checked against small alphabets before they can
 * reach the configuration file, and escaped before they reach a warning. */
#include "configure/records.h"

#include "configure/jsonscan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 64
#define ADDRESS_MAX_LEN 255

struct entry {
    struct record rec;
    size_t index; /* position in the HSM answer: the first of equal names wins */
};

bool records_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

bool records_address_ok(const char *addr)
{
    size_t n = strlen(addr);
    if (n == 0 || n > ADDRESS_MAX_LEN)
        return false;
    return strspn(addr, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-[]") ==
           n;
}

/* Printable ASCII stays, anything else becomes \xNN; long values are cut,
 * so a hostile ID cannot forge or flood a log line. */
static void escape(const char *in, char *out, size_t outlen)
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

static int warn(struct records *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int warn(struct records *r, const char *fmt, ...)
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

enum { F_ID, F_TYPE, F_ENABLED, F_IP, F_FQDN, F_HOSTNAME, F_IDENT };

static const char *field(const struct jscan_fields *f, size_t k)
{
    return f->str[k] ? f->str[k] : "";
}

/* Address = IPAddress, else FQDN, else Hostname (first non-empty). */
static const char *pick_address(const struct jscan_fields *f)
{
    for (size_t k = F_IP; k <= F_HOSTNAME; k++)
        if (*field(f, k))
            return field(f, k);
    return "";
}

/* Checks one endpoint; returns 1 with names set when it makes a console,
 * 0 when skipped (a warning was added), -ENOMEM. */
static int examine(struct records *r, const struct jscan_fields *f, size_t index, size_t ident,
                   const char *identifier, const char **name, const char **addr)
{
    char id[128], val[128];
    const char *raw_id = field(f, F_ID);
    escape(raw_id, id, sizeof(id));
    if (!*raw_id)
        return warn(r, "RedfishEndpoints[%zu]: no ID, skipped", index);
    *name = field(f, ident);
    if (!**name)
        *name = raw_id;
    if (!records_name_ok(*name)) {
        escape(*name, val, sizeof(val));
        return warn(r,
                    "endpoint %s: %s \"%s\" is not a valid console name ([A-Za-z0-9._:-]{1,64}), "
                    "skipped",
                    id, *name == raw_id ? "ID" : identifier, val);
    }
    *addr = pick_address(f);
    if (!**addr)
        return warn(r, "endpoint %s: no IPAddress, FQDN or Hostname, skipped", id);
    if (!records_address_ok(*addr)) {
        escape(*addr, val, sizeof(val));
        return warn(r, "endpoint %s: address \"%s\" is not a valid host or IP, skipped", id, val);
    }
    return 1;
}

static int push(struct entry **v, size_t *n, size_t *cap, const char *name, const char *addr,
                size_t index)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct entry *nv = realloc(*v, ncap * sizeof(**v));
        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = ncap;
    }
    struct entry *e = &(*v)[*n];
    e->rec.name = strdup(name);
    e->rec.address = strdup(addr);
    e->index = index;
    if (!e->rec.name || !e->rec.address) {
        free(e->rec.name);
        free(e->rec.address);
        return -ENOMEM;
    }
    (*n)++;
    return 0;
}

static int by_name_then_index(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = strcmp(x->rec.name, y->rec.name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorted entries to records, dropping later duplicates with a warning. */
static int keep_unique(struct records *out, struct entry *v, size_t n)
{
    int rc = 0;
    out->v = calloc(n ? n : 1, sizeof(*out->v));
    if (!out->v)
        rc = -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && out->n > 0 && strcmp(out->v[out->n - 1].name, v[i].rec.name) == 0)
            rc = warn(out,
                      "console name \"%s\" is used by more than one endpoint: kept the first "
                      "(address %s), skipped address %s",
                      v[i].rec.name, out->v[out->n - 1].address, v[i].rec.address);
        else if (rc == 0) {
            out->v[out->n++] = v[i].rec;
            continue;
        }
        free(v[i].rec.name);
        free(v[i].rec.address);
    }
    out->cap = n;
    return rc;
}

struct collector {
    struct records *out;
    struct entry *v;
    size_t n, cap;
    size_t ident; /* index of the LOG_IDENTIFIER field in jscan_fields */
    const char *identifier;
};

static int on_endpoint(size_t index, const struct jscan_fields *f, void *ctx)
{
    struct collector *c = ctx;
    if (!f->is_object)
        return warn(c->out, "RedfishEndpoints[%zu]: not an object, skipped", index);
    if (!f->is_true[F_ENABLED] || strcmp(field(f, F_TYPE), "NodeBMC") != 0)
        return 0;
    const char *name = NULL, *addr = NULL;
    int rc = examine(c->out, f, index, c->ident, c->identifier, &name, &addr);
    if (rc == 1)
        rc = push(&c->v, &c->n, &c->cap, name, addr, index);
    return rc;
}

/* The members wanted from each endpoint; LOG_IDENTIFIER may be one of them. */
static size_t setup_fields(struct jscan_fields *f, const char *identifier)
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

int records_from_json(const char *body, size_t len, const char *identifier, struct records *out,
                      char *err, size_t errlen)
{
    struct jscan_fields f;
    struct collector c = {out, NULL, 0, 0, setup_fields(&f, identifier), identifier};
    int rc = jscan_list(body, len, "RedfishEndpoints", &f, on_endpoint, &c, err, errlen);
    if (rc == 0 && c.n > 1)
        qsort(c.v, c.n, sizeof(*c.v), by_name_then_index);
    if (rc == 0)
        rc = keep_unique(out, c.v, c.n);
    else
        for (size_t k = 0; k < c.n; k++) {
            free(c.v[k].rec.name);
            free(c.v[k].rec.address);
        }
    free(c.v);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc < 0)
        records_release(out);
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
