/* CONSOLE_MODE=node: one console per enabled node of State/Components,
 * named by its xname, reached through its BMC's address from
 * RedfishEndpoints, with the transport its Class calls for. Pure: the two
 * HSM answers come in as bytes (streamed, in that order), records out. */
#ifndef CONFIGURE_NODES_H
#define CONFIGURE_NODES_H

#include "configure/jsonlist.h"
#include "configure/records.h"

#include <stddef.h>

/* River -> IPMI, Mountain/Hill -> SSH with a key, Paradise -> SSH with the
 * password. Returns 0, or -ENOENT for any other (or no) class. */
int nodes_transport_for_class(const char *cls, enum record_transport *t);

/* Splits a node xname "x..b<B>n<N>" into its BMC's xname (written to
 * `bmc`, at most bmclen bytes) and N. Returns 0 or -EINVAL. */
int nodes_split_xname(const char *xname, char *bmc, size_t bmclen, unsigned *node);

struct nodes_bmc {
    char *id;
    char *address; /* IPAddress, else FQDN, else Hostname; "" when none */
    size_t index;
};

struct nodes {
    struct nodes_bmc *bmcs; /* from RedfishEndpoints, sorted by ID once complete */
    size_t nbmc, bmccap;
    struct records acc; /* consoles and warnings */
    struct jlist_fields f;
    struct jlist *j; /* the list being read */
    int stage;       /* 0: endpoints, 1: components, 2: done */
};

void nodes_init(struct nodes *n);

/* Feeds the current answer: RedfishEndpoints first, then (after
 * nodes_next) Components. Errors as jlist_feed. */
int nodes_feed(struct nodes *n, const char *data, size_t len, char *err, size_t errlen);

/* Ends the current answer: after the endpoints it readies the parser for
 * Components; after Components it moves the sorted, de-duplicated records
 * into `out` (empty on entry; NULL before). Errors as jlist_finish, the
 * message naming the list. */
int nodes_next(struct nodes *n, struct records *out, char *err, size_t errlen);

void nodes_release(struct nodes *n);

/* Both answers from buffers, for tests and the bench. */
int nodes_from_json(const char *endpoints, size_t elen, const char *components, size_t clen,
                    struct records *out, char *err, size_t errlen);

#endif
