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

/* What builds the loop's pages. step() appends to job->body until the page
 * is complete (returns true) or uv_hrtime() passes `deadline_ns` (returns
 * false: called again next turn, after the loop's other work; the data may
 * have changed in between). release() frees job->state, also for a page
 * abandoned at stop. */
struct httpd_builder {
    bool (*step)(void *ctx, struct httpd_job *job, uint64_t deadline_ns);
    void (*release)(void *ctx, struct httpd_job *job);
    void *ctx;
};

/* Counters for /metrics, written on the loop thread. */
struct httpd_stats {
    uint64_t pages;         /* loop pages built */
    uint64_t slice_max_ns;  /* longest slice of page building in one loop turn */
    uint64_t last_build_ns; /* first slice to last of the latest page */
};

struct httpd;

/* Starts serving `addr` (IPv4; NULL: 127.0.0.1) port `port` with `b`
 * building the loop's pages. Returns NULL only when out of memory; a port
 * that cannot be bound is logged and retried every HTTPD_RETRY_MS. */
struct httpd *httpd_start(uv_loop_t *loop, const char *addr, int port, const char *tokenfile,
                          const struct httpd_builder *b);

/* /readyz: ready or not, and why not (copied; shown in the 503 body). */
void httpd_set_ready(struct httpd *h, bool ready, const char *why);

const struct httpd_stats *httpd_stats(const struct httpd *h);

/* Answers what is pending with 503, stops the thread and closes the loop
 * handles; the memory goes once the loop has closed them. */
void httpd_stop(struct httpd *h);

#endif
