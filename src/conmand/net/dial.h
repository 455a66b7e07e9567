/* dial: a TCP connection to HOST:PORT on the loop, trying every address
 * the host resolves to (A and AAAA) as RFC 8305 (happy eyeballs) does: in
 * addrorder's interleaved order, the next attempt starting when the last
 * one failed or has not connected within DIAL_ATTEMPT_DELAY_MS, the first
 * to connect winning. A numeric host is used at once; a name is looked up
 * in libuv's thread pool, so a slow DNS server never stalls the loop.
 * Nothing here times out as a whole: callers keep their own limit and
 * cancel. */
#ifndef CONMAND_NET_DIAL_H
#define CONMAND_NET_DIAL_H

#include <uv.h>

/* RFC 8305's recommended Connection Attempt Delay. */
#define DIAL_ATTEMPT_DELAY_MS 250

struct dial;

/* The outcome, called once from the loop (never inside dial_start): `fd`
 * a connected non-blocking socket, now the callee's; or fd -1 and `why`:
 * the lookup's failure, the error alone for a host of one address (the
 * caller names it), else each address tried with its error. The dial is
 * gone when this returns. */
typedef void (*dial_done_fn)(void *ctx, int fd, const char *why);

/* Starts connecting. Returns the dial, or NULL when out of memory. */
struct dial *dial_start(uv_loop_t *loop, const char *host, const char *port, dial_done_fn done,
                        void *ctx);

/* Gives up a dial whose `done` has not run; it never runs then. */
void dial_cancel(struct dial *d);

#endif
