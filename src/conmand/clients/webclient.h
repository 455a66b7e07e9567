/* A browser's view of one console, over a WebSocket (GET
 * /consoles/NAME/ws): the end of the console's log (WEB_REPLAY_MAX), then
 * its live output, as binary messages, in order, with nothing lost or
 * repeated in between. The live part is an ordinary client session
 * (client_adopt) over a socketpair, so monitor, join, force, their
 * notices, the per-client output cap and peer: consoles (through their
 * owner) are what the stock conman client gets. A viewer that does not
 * read is dropped once WS_OUT_MAX bytes wait for it. Loop thread only. */
#ifndef CONMAND_CLIENTS_WEBCLIENT_H
#define CONMAND_CLIENTS_WEBCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "conmand/clients/client.h"
#include "conmand/http/httpd.h"

#define WEB_REPLAY_MAX (64 * 1024)
/* Keystrokes waiting to reach the session; past it the viewer is
 * dropped (the session reads its socketpair on every loop turn). */
#define WEB_INPUT_MAX (256 * 1024)

struct webclient;

/* Counters for /metrics. */
struct web_stats {
    size_t viewers;        /* open now */
    uint64_t opened;       /* WebSockets taken */
    uint64_t dropped_slow; /* viewers dropped for not reading */
};

struct web_hub {
    struct client_hub *clients; /* the sessions' hub */
    struct webclient *list;     /* doubly linked */
    struct web_stats stats;
    char readbuf[65536]; /* what the sessions say, on its way to the browsers */
};

/* Serves the WebSocket `up` (owned from here on). */
void webclient_open(struct web_hub *wh, struct httpd_upgrade *up);

/* Ends every viewer now (daemon stop: before the HTTP port stops). */
void webclient_close_all(struct web_hub *wh);

#endif
