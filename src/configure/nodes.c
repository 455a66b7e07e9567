/* Components + RedfishEndpoints to node console records. As in records.c,
 * every value from HSM is checked before it can reach the configuration
 * and escaped before it reaches a warning. */
#include "configure/nodes.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { E_ID, E_IP, E_FQDN, E_HOSTNAME };
enum { C_ID, C_TYPE, C_ENABLED, C_CLASS };

int nodes_transport_for_class(const char *cls, enum record_transport *t)
{
    if (!cls)
        return -ENOENT;
    if (strcmp(cls, "River") == 0)
        *t = RECORD_IPMI;
    else if (strcmp(cls, "Mountain") == 0 || strcmp(cls, "Hill") == 0)
        *t = RECORD_SSH_KEY;
    else if (strcmp(cls, "Paradise") == 0)
        *t = RECORD_SSH_PASSWORD;
    else
        return -ENOENT;
    return 0;
}

int nodes_split_xname(const char *xname, char *bmc, size_t bmclen, unsigned *node)
{
    size_t len = strlen(xname), d = len;
    while (d > 0 && isdigit((unsigned char)xname[d - 1]))
        d--;
    /* "...b<B>n<N>": digits after the n, and a BMC part that ends in b<B>. */
    if (d == len || d < 3 || xname[d - 1] != 'n' || len - d > 6)
        return -EINVAL;
    size_t b = d - 1;
    if (!isdigit((unsigned char)xname[b - 1]) || b >= bmclen)
        return -EINVAL;
    size_t bd = b;
    while (bd > 0 && isdigit((unsigned char)xname[bd - 1]))
        bd--;
    if (bd == 0 || xname[bd - 1] != 'b')
        return -EINVAL;
    memcpy(bmc, xname, b);
    bmc[b] = '\0';
    *node = (unsigned)strtoul(xname + d, NULL, 10);
    return 0;
}

static const char *field(const struct jlist_fields *f, size_t k)
{
    return f->str[k] ? f->str[k] : "";
}

static int on_endpoint(size_t index, const struct jlist_fields *f, void *ctx)
{
    struct nodes *n = ctx;
    if (!f->is_object || !*field(f, E_ID) || f->too_long[E_ID])
        return 0; /* no node can name it */
    if (n->nbmc == n->bmccap) {
        size_t cap = n->bmccap ? n->bmccap * 2 : 64;
        struct nodes_bmc *v = realloc(n->bmcs, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        n->bmcs = v;
        n->bmccap = cap;
    }
    const char *addr = "";
    for (size_t k = E_IP; k <= E_HOSTNAME && !*addr; k++)
        addr = field(f, k);
    struct nodes_bmc *b = &n->bmcs[n->nbmc];
    b->id = strdup(field(f, E_ID));
    b->address = strdup(addr);
    b->index = index;
    if (!b->id || !b->address) {
        free(b->id);
        free(b->address);
        return -ENOMEM;
    }
    n->nbmc++;
    return 0;
}

static int by_id_then_index(const void *a, const void *b)
{
    const struct nodes_bmc *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorted by ID, the first of equal IDs kept. */
static void sort_bmcs(struct nodes *n)
{
    if (n->nbmc > 1)
        qsort(n->bmcs, n->nbmc, sizeof(*n->bmcs), by_id_then_index);
    size_t kept = 0;
    for (size_t i = 0; i < n->nbmc; i++) {
        if (kept && strcmp(n->bmcs[kept - 1].id, n->bmcs[i].id) == 0) {
            free(n->bmcs[i].id);
            free(n->bmcs[i].address);
            continue;
        }
        n->bmcs[kept++] = n->bmcs[i];
    }
    n->nbmc = kept;
}

static int cmp_bmc_id(const void *key, const void *elem)
{
    return strcmp(key, ((const struct nodes_bmc *)elem)->id);
}

/* The BMC `id` among the sorted, deduplicated BMCs, or NULL. */
static const struct nodes_bmc *find_bmc(const struct nodes *n, const char *id)
{
    return n->nbmc ? bsearch(id, n->bmcs, n->nbmc, sizeof(*n->bmcs), cmp_bmc_id) : NULL;
}

/* The node's BMC address, or NULL after a warning naming the node. */
static const char *bmc_address(struct nodes *n, const char *id, const char *esc_id, int *rc)
{
    char bmc[128], val[128];
    unsigned node;
    const struct nodes_bmc *b = NULL;
    if (nodes_split_xname(id, bmc, sizeof(bmc), &node) < 0)
        *rc = records_warn(&n->acc, "node %s: ID is not a node xname (x...b<B>n<N>), skipped",
                           esc_id);
    else if (!(b = find_bmc(n, bmc)))
        *rc = records_warn(&n->acc, "node %s: no RedfishEndpoint for its BMC %s, skipped", esc_id,
                           bmc);
    else if (!*b->address)
        *rc = records_warn(&n->acc, "node %s: BMC %s has no IPAddress, FQDN or Hostname, skipped",
                           esc_id, bmc);
    else if (!records_address_ok(b->address)) {
        records_escape(b->address, val, sizeof(val));
        *rc = records_warn(&n->acc,
                           "node %s: BMC %s address \"%s\" is not a valid host or IP, skipped",
                           esc_id, bmc, val);
    } else
        return b->address;
    return NULL;
}

static int on_component(size_t index, const struct jlist_fields *f, void *ctx)
{
    struct nodes *n = ctx;
    char id[128], val[128];
    if (!f->is_object)
        return records_warn(&n->acc, "Components[%zu]: not an object, skipped", index);
    if ((f->str[C_TYPE] && strcmp(f->str[C_TYPE], "Node") != 0) || !f->is_true[C_ENABLED])
        return 0;
    const char *raw_id = field(f, C_ID);
    records_escape(raw_id, id, sizeof(id));
    if (!*raw_id)
        return records_warn(&n->acc, "Components[%zu]: no ID, skipped", index);
    if (!records_name_ok(raw_id))
        return records_warn(&n->acc,
                            "node %s: ID is not a valid console name ([A-Za-z0-9._:-]{1,64}), "
                            "skipped",
                            id);
    struct record rec = {(char *)raw_id, NULL, RECORD_IPMI, 0, index};
    if (nodes_transport_for_class(f->str[C_CLASS], &rec.transport) < 0) {
        records_escape(field(f, C_CLASS), val, sizeof(val));
        return records_warn(&n->acc,
                            "node %s: unknown Class \"%s\" (expected River, Mountain, Hill or "
                            "Paradise), skipped",
                            id, val);
    }
    int rc = 0;
    char bmc[128];
    rec.address = (char *)bmc_address(n, raw_id, id, &rc);
    if (!rec.address)
        return rc;
    nodes_split_xname(raw_id, bmc, sizeof(bmc), &rec.node);
    return records_add(&n->acc, &rec);
}

static int open_list(struct nodes *n, const char *list, const char *const *keys, size_t nkeys,
                     jlist_element_fn fn)
{
    memset(&n->f, 0, sizeof(n->f));
    for (size_t k = 0; k < nkeys; k++)
        n->f.keys[k] = keys[k];
    n->f.nkeys = nkeys;
    return jlist_open(&n->j, list, &n->f, fn, n);
}

void nodes_init(struct nodes *n)
{
    memset(n, 0, sizeof(*n));
}

int nodes_feed(struct nodes *n, const char *data, size_t len, char *err, size_t errlen)
{
    static const char *const ekeys[] = {"ID", "IPAddress", "FQDN", "Hostname"};
    if (!n->j && n->stage == 0 && open_list(n, "RedfishEndpoints", ekeys, 4, on_endpoint) < 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (!n->j) {
        snprintf(err, errlen, "no answer is expected now");
        return -EINVAL;
    }
    return jlist_feed(n->j, data, len, err, errlen);
}

static int end_components(struct nodes *n, struct records *out, char *err, size_t errlen)
{
    int rc = records_sort_unique(&n->acc);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    *out = n->acc;
    memset(&n->acc, 0, sizeof(n->acc));
    n->stage = 2;
    return 0;
}

int nodes_next(struct nodes *n, struct records *out, char *err, size_t errlen)
{
    static const char *const ckeys[] = {"ID", "Type", "Enabled", "Class"};
    int rc = n->j ? 0 : nodes_feed(n, "", 0, err, errlen);
    if (rc == 0)
        rc = jlist_finish(n->j, err, errlen);
    jlist_close(n->j);
    n->j = NULL;
    if (rc < 0)
        return rc;
    if (n->stage == 1)
        return end_components(n, out, err, errlen);
    sort_bmcs(n);
    n->stage = 1;
    if (open_list(n, "Components", ckeys, 4, on_component) < 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

void nodes_release(struct nodes *n)
{
    jlist_close(n->j);
    for (size_t i = 0; i < n->nbmc; i++) {
        free(n->bmcs[i].id);
        free(n->bmcs[i].address);
    }
    free(n->bmcs);
    records_release(&n->acc);
    memset(n, 0, sizeof(*n));
}

int nodes_from_json(const char *endpoints, size_t elen, const char *components, size_t clen,
                    struct records *out, char *err, size_t errlen)
{
    struct nodes n;
    nodes_init(&n);
    int rc = nodes_feed(&n, endpoints, elen, err, errlen);
    if (rc == 0)
        rc = nodes_next(&n, NULL, err, errlen);
    if (rc == 0)
        rc = nodes_feed(&n, components, clen, err, errlen);
    if (rc == 0)
        rc = nodes_next(&n, out, err, errlen);
    nodes_release(&n);
    return rc;
}
