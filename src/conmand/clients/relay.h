/* The links of one client's session to the conmands that own its peer:
 * consoles (clients/peerlink.c underneath): opening one link per owner
 * with the request relayed, the client's input to every link, the owner's
 * answer back when the session is piped, and backpressure. It knows
 * nothing of the client: what it needs of it goes through relay_ops.
 * Loop thread only. */
#ifndef CONMAND_CLIENTS_RELAY_H
#define CONMAND_CLIENTS_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "conmand/clients/proto.h"

struct console;
struct peer_link;

/* What a relay asks of the session it serves (ctx). */
struct relay_ops {
    /* Bytes from the owner of a piped session, for the client. */
    void (*data)(void *ctx, const char *buf, size_t len);
    /* The link to the conmand at `owner` (HOST:PORT) ended, `how` says
     * why; it is out of the relay already. */
    void (*ended)(void *ctx, const char *owner, const char *how);
    /* Stop (true) or start again (false) reading the client. */
    void (*pause)(void *ctx, bool pause);
};

struct relay {
    const struct relay_ops *ops;
    void *ctx;
    /* When `piped`, links[0] carries the whole session (the owner answers
     * the request); otherwise each link carries a broadcast's input to the
     * consoles one owner serves, and what comes back is dropped. */
    struct peer_link **links;
    size_t n;
    bool piped;
    bool answered; /* piped: the owner has sent something */
    bool paused;   /* the client is not read: a link's queue is full */
};

/* How many of cons[0..n) another conmand serves. */
size_t relay_count_remote(struct console *const *cons, size_t n);

/* The owner's HOST:PORT of a remote console. */
const char *relay_owner_of(const struct console *c);

/* Opens one link per owner of the remote consoles among cons[0..n), each
 * carrying `req` (from `host`) for the names that owner serves, in server
 * order. Returns 0, or -errno with the reason (naming the owner) in `err`;
 * links opened before a failure stay (relay_close closes them). */
int relay_open(struct relay *r, uv_loop_t *loop, const struct proto_req *req, const char *host,
               struct console **cons, size_t n, char *err, size_t errlen);

/* The client's session input, to every link; pauses the client while a
 * link's queue is full. */
void relay_input(struct relay *r, const unsigned char *buf, size_t len);

/* Closes every link (no `ended` calls) and frees the list. */
void relay_close(struct relay *r);

#endif
