/* conmand's HTTP port (SERVER httpport=, httpaddr=): libmicrohttpd in its
 * own thread, so a slow or hostile HTTP client never holds up the event
 * loop. /healthz and /readyz are answered in that thread from atomics the
 * loop keeps; the other pages (/metrics, /consoles) need the loop's data,
 * so the request is handed to the loop and its page built there a slice of
 * time per loop turn (HTTPD_SLICE_NS), between the consoles' own I/O, then
 * handed back. A port that cannot be bound is retried; never fatal. */
#ifndef CONMAND_HTTP_HTTPD_H
#define CONMAND_HTTP_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/strbuf.h"
#include "conmand/conf/conf.h"

struct MHD_UpgradeResponseHandle;

/* Longest the loop spends building pages in one turn. */
#define HTTPD_SLICE_NS 1000000
/* /healthz fails when the loop has not turned for this long. */
#define HTTPD_STALL_MS 5000
#define HTTPD_HEARTBEAT_MS 1000
#define HTTPD_RETRY_MS 2000 /* a port that could not be bound is tried again */

enum httpd_page { HTTPD_PAGE_METRICS, HTTPD_PAGE_CONSOLES, HTTPD_PAGE_EVENTS };

/* /events?console=NAME&rule=NAME&since=UNIX_SECONDS, each optional. */
struct httpd_filter {
    char console[256], rule[80]; /* "": any */
    long long since;             /* events at or after this time; 0: any */
};

/* A page being built on the loop thread. */
struct httpd_job {
    enum httpd_page page;
    struct strbuf body;
    void *state;                /* the builder's cursor; the builder frees it */
    long open_fds;              /* /metrics: descriptors open, counted by the HTTP thread
                                 * (a readdir of 10,000 entries is no work for the loop); -1 */
    struct httpd_filter filter; /* /events */
};

/* A WebSocket handshake answered (GET /consoles/NAME/ws): the socket,
 * for the loop. Whoever gets it calls httpd_upgrade_release() once. */
enum httpd_ws_mode { HTTPD_WS_MONITOR, HTTPD_WS_JOIN, HTTPD_WS_FORCE, HTTPD_WS_MODES };
/* The words of ?mode= (and of log lines), by mode. */
extern const char *const httpd_ws_mode_names[HTTPD_WS_MODES];
struct httpd_upgrade {
    int fd;      /* not to be closed: httpd_upgrade_release() does */
    char *extra; /* bytes read past the handshake */
    size_t extralen;
    char console[256];
    enum httpd_ws_mode mode;
    char host[64]; /* the browser's address and port */
    int port;
    struct MHD_UpgradeResponseHandle *urh;
    struct httpd_upgrade *next;
};

/* Lets go of an upgraded socket (libmicrohttpd closes it) and frees `up`
 * (a struct httpd_upgrade *; void for use as a callback). */
void httpd_upgrade_release(void *up);

/* What builds the loop's pages. step() appends to job->body until the page
 * is complete (returns true) or uv_hrtime() passes `deadline_ns` (returns
 * false: called again next turn, after the loop's other work; the data may
 * have changed in between). release() frees job->state, also for a page
 * abandoned at stop. */
struct httpd_builder {
    bool (*step)(void *ctx, struct httpd_job *job, uint64_t deadline_ns);
    void (*release)(void *ctx, struct httpd_job *job);
    /* A WebSocket for the loop: it owns `up` from here on. */
    void (*upgrade)(void *ctx, struct httpd_upgrade *up);
    void *ctx;
};

/* Counters for /metrics, written on the loop thread. */
struct httpd_stats {
    uint64_t pages;         /* loop pages built */
    uint64_t slice_max_ns;  /* longest slice of page building in one loop turn */
    uint64_t last_build_ns; /* first slice to last of the latest page */
};

struct httpd;

/* Starts serving SERVER httpport on httpaddr (IPv4; NULL: 127.0.0.1),
 * with httptokenfile, and HTTPS with httpcert and httpkey, `b` building
 * the loop's pages. Returns NULL only when out of memory; a port that
 * cannot be bound, or a certificate that cannot be read, is logged and
 * tried again every HTTPD_RETRY_MS. */
struct httpd *httpd_start(uv_loop_t *loop, const struct conf_server *cs,
                          const struct httpd_builder *b);

/* SERVER httpjoin: whether /consoles/NAME/ws?mode=join|force is allowed
 * (live: a reload changes it). */
void httpd_set_join(struct httpd *h, bool join);

/* /readyz: ready or not, and why not (copied; shown in the 503 body). */
void httpd_set_ready(struct httpd *h, bool ready, const char *why);

const struct httpd_stats *httpd_stats(const struct httpd *h);

/* Answers what is pending with 503, stops the thread and closes the loop
 * handles; the memory goes once the loop has closed them. */
void httpd_stop(struct httpd *h);

#endif
