/* Member lists and rendezvous hashing of consoles over them. */
#include "configure/shard.h"

#include "common/hostport.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

static int check_name(const char *p, size_t n, char *err, size_t errlen)
{
    if (n == 0 || n > SHARD_NAME_MAX) {
        snprintf(err, errlen, "a member name has 1 to %d characters", SHARD_NAME_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if (!name_char(p[i])) {
            snprintf(err, errlen, "a member name has only letters, digits, '.', '_' and '-'");
            return -EINVAL;
        }
    return 0;
}

/* RFC 1123 host name (which covers dotted IPv4): labels of 1..63 letters,
 * digits and inner hyphens. It goes into dev="peer:HOST:PORT" as it is. */
static bool host_name_ok(const char *h)
{
    size_t n = strlen(h), label = 0;
    if (n == 0 || n > SHARD_HOST_MAX)
        return false;
    for (size_t i = 0; i <= n; i++) {
        char c = h[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || h[i - 1] == '-')
                return false;
            label = 0;
        } else if (isalnum((unsigned char)c) || (c == '-' && label > 0))
            label++;
        else
            return false;
    }
    return true;
}

/* "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT" into m->host and m->port, by
 * the one host:port parser (common/hostport.c). A bare v6 address is
 * refused: in "fd00::1:7890" the port cannot be told from the address. A
 * name must also be an RFC 1123 host name: it is resolved as one. */
static int parse_address(const char *a, struct shard_member *m, char *err, size_t errlen)
{
    struct hostport hp;
    char why[300];
    if (hostport_parse(a, HOSTPORT_PORT_OPTIONAL, &hp, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s", why);
        return -EINVAL;
    }
    if (hp.v6 && a[0] != '[') {
        snprintf(err, errlen, "'%.200s': an IPv6 address needs brackets: NAME=[ADDRESS]:PORT", a);
        return -EINVAL;
    }
    size_t hlen = strlen(hp.host);
    if (hlen > SHARD_HOST_MAX) {
        snprintf(err, errlen, "the host is longer than %d characters", SHARD_HOST_MAX);
        return -EINVAL;
    }
    if (!hp.v6 && !host_name_ok(hp.host)) {
        snprintf(err, errlen, "'%.200s': the host is not a host name or IPv4 address", a);
        return -EINVAL;
    }
    memcpy(m->host, hp.host, hlen + 1);
    m->port = (unsigned)hp.portnum;
    return 0;
}

int shard_parse_member(const char *text, struct shard_member *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    const char *eq = strchr(text, '=');
    size_t n = eq ? (size_t)(eq - text) : strlen(text);
    int rc = check_name(text, n, err, errlen);
    if (rc < 0)
        return rc;
    memcpy(m->name, text, n);
    m->name[n] = '\0';
    if (!eq) {
        /* The name is the host: a StatefulSet pod's name resolves. */
        snprintf(m->host, sizeof(m->host), "%s", m->name);
        return 0;
    }
    return parse_address(eq + 1, m, err, errlen);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct shard_member *)a)->name, ((const struct shard_member *)b)->name);
}

/* Appends one entry; `where` names it in errors ("entry \"x\"", "f:3"). */
static int add_entry(struct shard_members *out, size_t *cap, const char *entry, const char *where,
                     char *err, size_t errlen)
{
    char why[160];
    struct shard_member m;
    if (shard_parse_member(entry, &m, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s: %s", where, why);
        return -EINVAL;
    }
    if (shard_find(out, m.name) >= 0) {
        snprintf(err, errlen, "%s: member %s is listed twice", where, m.name);
        return -EINVAL;
    }
    if (out->n == SHARD_MEMBERS_MAX) {
        snprintf(err, errlen, "%s: more than %d members", where, SHARD_MEMBERS_MAX);
        return -EINVAL;
    }
    if (out->n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 8;
        struct shard_member *v = realloc(out->v, ncap * sizeof(*v));
        if (!v) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        out->v = v;
        *cap = ncap;
    }
    out->v[out->n++] = m;
    return 0;
}

/* Strips blanks (and a CR) on both sides, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int finish(struct shard_members *out, int rc)
{
    if (rc < 0)
        shard_members_release(out);
    else if (out->n)
        qsort(out->v, out->n, sizeof(out->v[0]), by_name);
    return rc;
}

/* The one splitter of both forms: SHARD_MEMBERS' commas (path NULL: an
 * empty entry is an error, each named by its text) and a members file's
 * lines (# comments and blank lines skipped, each named PATH:LINE). */
static int parse_entries(const char *text, const char *path, struct shard_members *out, char *err,
                         size_t errlen)
{
    char *copy = strdup(text);
    size_t cap = 0;
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int rc = 0;
    char *p = copy;
    for (unsigned line = 1; rc == 0 && p; line++) {
        char *end = strchr(p, path ? '\n' : ',');
        if (end)
            *end = '\0';
        char *hash = path ? strchr(p, '#') : NULL;
        if (hash)
            *hash = '\0';
        char *entry = trim(p), where[300];
        if (path)
            snprintf(where, sizeof(where), "%.250s:%u", path, line);
        else
            snprintf(where, sizeof(where), "entry \"%.64s\"", entry);
        if (*entry)
            rc = add_entry(out, &cap, entry, where, err, errlen);
        else if (!path) {
            snprintf(err, errlen, "an empty entry (two commas, or one at an end)");
            rc = -EINVAL;
        }
        p = end ? end + 1 : NULL;
    }
    free(copy);
    if (rc == 0 && path && out->n == 0) {
        snprintf(err, errlen, "%.250s: lists no member", path);
        rc = -EINVAL;
    }
    return finish(out, rc);
}

int shard_parse_list(const char *text, struct shard_members *out, char *err, size_t errlen)
{
    return parse_entries(text, NULL, out, err, errlen);
}

int shard_parse_file(const char *text, const char *path, struct shard_members *out, char *err,
                     size_t errlen)
{
    return parse_entries(text, path, out, err, errlen);
}

long shard_find(const struct shard_members *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].name, name) == 0)
            return (long)i;
    return -1;
}

bool shard_members_equal(const struct shard_members *a, const struct shard_members *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].name, b->v[i].name) != 0 || strcmp(a->v[i].host, b->v[i].host) != 0 ||
            a->v[i].port != b->v[i].port)
            return false;
    return true;
}

int shard_members_copy(struct shard_members *dst, const struct shard_members *src)
{
    *dst = (struct shard_members)SHARD_MEMBERS_INIT;
    if (!src->n)
        return 0;
    dst->v = malloc(src->n * sizeof(src->v[0]));
    if (!dst->v)
        return -ENOMEM;
    memcpy(dst->v, src->v, src->n * sizeof(src->v[0]));
    dst->n = src->n;
    return 0;
}

void shard_members_describe(const struct shard_members *m, char *out, size_t outlen)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < m->n && len < outlen; i++) {
        const struct shard_member *e = &m->v[i];
        char one[SHARD_NAME_MAX + SHARD_HOST_MAX + 16];
        bool plain = e->port == 0 && strcmp(e->name, e->host) == 0;
        if (plain)
            snprintf(one, sizeof(one), "%s", e->name);
        else {
            char dev[SHARD_HOST_MAX + 16];
            shard_peer_dev(e, 0, dev, sizeof(dev));
            snprintf(one, sizeof(one), "%s=%s", e->name, dev + 5); /* without "peer:" */
        }
        int n = snprintf(out + len, outlen - len, "%s%s", i ? "," : "", one);
        if (n < 0 || (size_t)n >= outlen - len) {
            if (outlen >= 4)
                snprintf(out + outlen - 4, 4, "...");
            return;
        }
        len += (size_t)n;
    }
}

void shard_members_release(struct shard_members *m)
{
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* FNV-1a alone mixes its high bits poorly, and rendezvous hashing compares
 * weights of near-identical inputs ("conman-0" vs "conman-1"): the
 * splitmix64 finaliser spreads every input bit over the whole word. */
static uint64_t splitmix64_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t shard_weight(const char *member, const char *console)
{
    /* The NUL between them keeps ("ab","c") apart from ("a","bc"). */
    uint64_t h = fnv1a(FNV_OFFSET, member, strlen(member) + 1);
    return splitmix64_mix(fnv1a(h, console, strlen(console)));
}

long shard_owner(const struct shard_members *m, const char *console)
{
    long best = -1;
    uint64_t best_w = 0;
    for (size_t i = 0; i < m->n; i++) {
        uint64_t w = shard_weight(m->v[i].name, console);
        if (best < 0 || w > best_w || (w == best_w && strcmp(m->v[i].name, m->v[best].name) < 0)) {
            best = (long)i;
            best_w = w;
        }
    }
    return best;
}

void shard_peer_dev(const struct shard_member *m, unsigned default_port, char *out, size_t outlen)
{
    /* Only an IPv6 address has a ':' (names and IPv4 have none). */
    struct hostport hp = {.v6 = strchr(m->host, ':') != NULL};
    unsigned port = m->port ? m->port : default_port;
    snprintf(hp.host, sizeof(hp.host), "%s", m->host);
    hostport_default_port(&hp, port);
    char where[HOSTPORT_HOST_MAX + 16];
    hostport_format(&hp, where, sizeof(where));
    snprintf(out, outlen, "peer:%s", where);
}
