/* A connection from this conmand to the conmand that owns a console
 * (peer:HOST:PORT, scale-out), carrying one client's session there: the
 * relayed greeting and request first, then bytes both ways. HOST is
 * resolved off the loop (uv_getaddrinfo); a link whose owner has not
 * answered the greeting within PEER_LINK_CONNECT_SEC of its start fails. */
#ifndef CONMAND_CLIENTS_PEERLINK_H
#define CONMAND_CLIENTS_PEERLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define PEER_LINK_CONNECT_SEC 10
/* Client bytes queued for the owner: past it the client is not read
 * until the owner takes them (TCP then holds the client back). */
#define PEER_LINK_QUEUE_MAX (256 * 1024)

struct peer_link;

/* What a link tells its client session. After closed() it says nothing
 * more and frees itself. */
struct peer_link_ops {
    /* Bytes from the owner. */
    void (*data)(void *ctx, struct peer_link *l, const char *buf, size_t len);
    /* The link ended: `why` says how ("" when the owner closed it). */
    void (*closed)(void *ctx, struct peer_link *l, const char *why);
    /* The queue fell below half of PEER_LINK_QUEUE_MAX after being full. */
    void (*drained)(void *ctx, struct peer_link *l);
};

/* Starts connecting to `hostport` ("host:port", "[v6]:port") and sends
 * `hello` (the relayed greeting and request, copied) once up. Returns 0,
 * or -EINVAL (a bad address, err says so) or -ENOMEM. */
int peer_link_open(uv_loop_t *loop, const char *hostport, const char *hello, size_t hello_len,
                   const struct peer_link_ops *ops, void *ctx, struct peer_link **out, char *err,
                   size_t errlen);

/* Queues client bytes for the owner (before the link is up too). */
void peer_link_send(struct peer_link *l, const void *buf, size_t len);

/* Whether PEER_LINK_QUEUE_MAX bytes wait: the client should stop reading. */
bool peer_link_full(const struct peer_link *l);

/* "host:port" of the owner. */
const char *peer_link_address(const struct peer_link *l);

/* Ends the link from this side: no callback follows; it frees itself. */
void peer_link_close(struct peer_link *l);

#endif
