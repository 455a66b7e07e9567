/* One client connection: greeting, request, then a session streaming
 * console bytes both ways. Output is bounded per client: a stuck client
 * loses bytes (and is told how many) instead of stalling a console or
 * growing the daemon; a connection that never sends its request is closed
 * after CLIENT_REQUEST_SEC. */
#ifndef CONMAND_CLIENTS_CLIENT_H
#define CONMAND_CLIENTS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "conmand/clients/proto.h"
#include "conmand/clients/relay.h"
#include "conmand/conf/conf.h"
#include "conmand/consoles/console.h"

struct console_registry;
struct reset_runner;
struct client_dns;

/* Console output queued for one client and not yet taken by the kernel.
 * Past it the client lags: bytes are dropped and counted, and it is told
 * how many once it reads again. 200 clients that never read cost at most
 * 200 times this (12.5 MiB), not a console's whole output. The kernel's
 * send buffer is left to autotune (up to tcp_wmem's maximum): bounding it
 * too cost a reading client lines in a burst (a 4 MB flood). */
#define CLIENT_OUT_MAX (64 * 1024)
/* Seconds a connection may take to send its greeting and request: the
 * stock client sends both at once, so a silent one only holds a
 * descriptor (upstream waits for ever). */
#define CLIENT_REQUEST_SEC 30

struct client_out;
struct peer_link;

enum client_state { CLIENT_GREETING, CLIENT_REQUEST, CLIENT_SESSION, CLIENT_CLOSING };

/* Counters for /metrics. */
struct client_stats {
    size_t connected;       /* connections now, sessions or not yet */
    uint64_t accepted;      /* connections accepted */
    uint64_t dropped_bytes; /* console output lost to clients too slow to read it */
};

/* What the client sessions share, owned by the daemon. */
struct client_hub {
    uv_loop_t *loop;
    const struct conf_server *settings; /* live: keepalive, resetcmd */
    struct console_registry *consoles;  /* what requests match */
    struct reset_runner *resets;        /* the reset escape runs resetcmd */
    struct client *clients;             /* doubly linked */
    struct client_stats stats;
    char readbuf[65536]; /* session input scratch (one loop thread) */
};

struct client {
    struct client_hub *hub;
    struct console_reader reader; /* how the consoles of the session reach it */
    uv_tcp_t tcp;
    uv_timer_t request_timer; /* CLIENT_REQUEST_SEC until the session */
    int handles;              /* open libuv handles: freed at 0 */
    enum client_state state;
    char *in; /* greeting and request bytes: grows on demand up to
               * PROTO_MAX_LINE, freed once the session starts */
    size_t inlen, incap;
    size_t discard; /* > 0: skipping the rest of an over-long line */
    struct proto_req req;
    char host[256];
    int port;
    struct console **cons; /* the consoles of this session */
    size_t ncons;
    bool writer;    /* CONNECT: input goes to the consoles */
    bool broadcast; /* write-only to several consoles */
    bool quiet, suspended;
    struct proto_unescape unescape;
    time_t last_input;
    uint64_t dropped;
    bool lagging;            /* dropping now: logged once per episode */
    bool writing;            /* a write is in flight */
    struct client_out *pend; /* output waiting for the write in flight */
    struct client_dns *dns;  /* pending reverse lookup of host, or NULL */
    struct relay relay;      /* links to the owners of this session's peer: consoles */
    struct client *prev, *next;
};

/* Accepts a pending connection on `listener`. */
void client_accept(struct client_hub *hub, uv_stream_t *listener);

/* A session over `fd` (a stream socket, owned from here on: one end of a
 * socketpair whose other end is a web viewer's) for a client at host:port
 * whose greeting and request are `lines` (at most PROTO_MAX_LINE bytes).
 * They are handled before this returns, as if read: a caller that read
 * the console's log just before misses and repeats no byte of its output.
 * The replies are the stock client's (two lines, then the session).
 * Returns 0, or -errno (fd then closed). */
int client_adopt(struct client_hub *hub, int fd, const char *host, int port, const char *lines,
                 size_t len);

/* Queues bytes to the client; drops (and counts) when its queue is full. */
void client_send(struct client *cl, const void *buf, size_t len);

/* Sends "\r\n<ConMan> text.\r\n" unless the client is quiet and `info`. */
void client_send_msg(struct client *cl, const char *text, bool info);

/* Closes the connection (after queued output drains). */
void client_close(struct client *cl);

/* Closes every client now, dropping queued output (daemon stop). */
void client_close_all(struct client_hub *hub);

/* True when the client reads console output (not a broadcast session). */
bool client_reads(const struct client *cl);

/* "<user@host> on tty" for messages. */
void client_who(const struct client *cl, char *out, size_t outlen);

#endif
