/* A generated HSM inventory: River and Mountain nodes with realistic
 * xnames, every BMC on a loopback address. Pure. */
#ifndef SIM_HSM_CLUSTER_H
#define SIM_HSM_CLUSTER_H

#include <jansson.h>

/* Returns a new {"RedfishEndpoints":[...],"Components":[...]} for `nodes`
 * nodes, about half River (one node per BMC) and half Mountain (two nodes
 * per BMC, plus a ChassisBMC per chassis). NodeBMCs in ID byte order get
 * 127.0.0.1:<bmc_port_base+i> when bmc_port_base > 0, else distinct
 * 127.x.y.z addresses. NULL on allocation failure. */
/* `mountain_bmc` (NULL: none) is the address of every Mountain BMC, so one
 * ssh-bmc-sim can serve all Mountain nodes (user n<N> picks the node). */
json_t *cluster_generate(int nodes, int bmc_port_base, const char *mountain_bmc);

/* Returns a new object holding only the `key` list entries whose "Type"
 * equals `type` (case-insensitive); all of them when type is NULL. */
json_t *cluster_filter(json_t *inventory, const char *key, const char *type);

#endif
