/* Cluster generation for hsm-sim: xnames follow x<cab>c<chassis>s<slot>b<bmc>n<node>. */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct bmc {
    char id[32];
    const char *cls; /* River or Mountain */
    int nodes;
};

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct bmc *)a)->id, ((const struct bmc *)b)->id);
}

/* River racks hold 40 one-node servers; Mountain chassis 8 slots x 2 BMCs. */
static size_t plan(int nodes, struct bmc *v)
{
    int river = (nodes + 1) / 2, mountain = nodes / 2;
    size_t n = 0;
    for (int j = 0; j < river; j++, n++) {
        snprintf(v[n].id, sizeof(v[n].id), "x%dc0s%db0", 3000 + j / 40, j % 40 + 1);
        v[n].cls = "River";
        v[n].nodes = 1;
    }
    for (int m = 0; m < (mountain + 1) / 2; m++, n++) {
        snprintf(v[n].id, sizeof(v[n].id), "x%dc%ds%db%d", 1000 + m / 128, (m / 16) % 8,
                 (m / 2) % 8, m % 2);
        v[n].cls = "Mountain";
        v[n].nodes = (m == (mountain + 1) / 2 - 1 && mountain % 2) ? 1 : 2;
    }
    qsort(v, n, sizeof(*v), by_id);
    return n;
}

static void address(size_t i, int port_base, char *buf, size_t len)
{
    if (port_base > 0) {
        snprintf(buf, len, "127.0.0.1:%zu", (size_t)port_base + i);
        return;
    }
    size_t k = i + 1;
    snprintf(buf, len, "127.%zu.%zu.%zu", 1 + k / 65536, (k / 256) % 256, k % 256);
}

static json_t *endpoint(const char *id, const char *type, const char *addr, size_t i)
{
    char mac[16], uuid[40];
    snprintf(mac, sizeof(mac), "b42e99%06zx", i & 0xffffff);
    snprintf(uuid, sizeof(uuid), "8b1a4b5c-0000-4000-8000-%012zx", i);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:b,s:b,s:s,s:s,s:b,s:s,"
                     "s:{s:s,s:s,s:s}}",
                     "ID", id, "Type", type, "Name", "", "Hostname", id, "Domain", "", "FQDN", id,
                     "Enabled", 1, "UUID", uuid, "User", "root", "Password", "", "UseSSDP", 0,
                     "MACRequired", 0, "MACAddr", mac, "IPAddress", addr, "RediscoverOnUpdate", 1,
                     "TemplateID", "", "DiscoveryInfo", "LastDiscoveryAttempt",
                     "2026-11-24T18:31:07.113Z", "LastDiscoveryStatus", "DiscoverOK",
                     "RedfishVersion", "1.7.0");
}

static json_t *node(const char *bmc_id, int n, const char *cls, int nid)
{
    char id[40];
    snprintf(id, sizeof(id), "%sn%d", bmc_id, n);
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:i,s:s,s:s,s:s}", "ID", id, "Type", "Node", "State",
                     "Ready", "Flag", "OK", "Enabled", 1, "Role", "Compute", "NID", nid, "NetType",
                     "Sling", "Arch", "X86", "Class", cls);
}

/* One ChassisBMC per Mountain chassis, so type filtering has work to do.
 * BMCs come in ID order, so one chassis's BMCs are adjacent: comparing
 * with the previous chassis is enough to add each once. */
static void add_chassis(json_t *eps, const struct bmc *b, size_t i, char *last, size_t lastlen)
{
    char chassis[32];
    snprintf(chassis, sizeof(chassis), "%s", b->id);
    char *s = strchr(chassis, 's');
    if (!s || strcmp(b->cls, "Mountain") != 0)
        return;
    strcpy(s, "b0");
    if (strcmp(chassis, last) == 0)
        return;
    snprintf(last, lastlen, "%s", chassis);
    json_array_append_new(eps, endpoint(chassis, "ChassisBMC", "127.0.0.1", 100000 + i));
}

json_t *cluster_generate(int nodes, int bmc_port_base, const char *mountain_bmc)
{
    struct bmc *v = calloc((size_t)nodes + 1, sizeof(*v));
    json_t *eps = json_array(), *comps = json_array();
    if (!v || !eps || !comps) {
        free(v);
        json_decref(eps);
        json_decref(comps);
        return NULL;
    }
    size_t n = plan(nodes, v);
    int nid = 1;
    char last_chassis[32] = "";
    for (size_t i = 0; i < n; i++) {
        char addr[40];
        address(i, bmc_port_base, addr, sizeof(addr));
        if (mountain_bmc && strcmp(v[i].cls, "Mountain") == 0)
            snprintf(addr, sizeof(addr), "%s", mountain_bmc);
        json_array_append_new(eps, endpoint(v[i].id, "NodeBMC", addr, i));
        add_chassis(eps, &v[i], i, last_chassis, sizeof(last_chassis));
        json_array_append_new(comps,
                              json_pack("{s:s,s:s,s:s,s:b,s:s}", "ID", v[i].id, "Type", "NodeBMC",
                                        "State", "Ready", "Enabled", 1, "Class", v[i].cls));
        for (int k = 0; k < v[i].nodes; k++)
            json_array_append_new(comps, node(v[i].id, k, v[i].cls, nid++));
    }
    free(v);
    return json_pack("{s:o,s:o}", "RedfishEndpoints", eps, "Components", comps);
}

json_t *cluster_filter(json_t *inventory, const char *key, const char *type)
{
    json_t *list = json_object_get(inventory, key);
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *t = json_string_value(json_object_get(e, "Type"));
        if (!type || (t && strcasecmp(t, type) == 0))
            json_array_append(out, e);
    }
    return json_pack("{s:o}", key, out);
}
