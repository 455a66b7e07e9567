/* One HTTP(S) GET to HSM through libcurl: timeouts, bearer token, CA file,
 * no redirects, capped response size. */
#ifndef CONFIGURE_HSM_H
#define CONFIGURE_HSM_H

#include <stddef.h>

struct hsm_request {
    const char *url;
    long timeout_sec;       /* whole request */
    const char *token_file; /* NULL: no Authorization header */
    const char *ca_file;    /* NULL: the system CA bundle */
    size_t max_bytes;       /* a larger answer is an error */
};

/* Call once before any hsm_fetch (libcurl global state). */
int hsm_global_init(void);
void hsm_global_cleanup(void);

/* Takes the next piece of a 2xx answer's body as it arrives. Returns 0, or
 * a negative errno-style code with the reason in `err` to abort. */
typedef int (*hsm_feed_fn)(void *ctx, const char *data, size_t len, char *err, size_t errlen);

/* GETs rq->url and streams a 2xx answer's body into `feed` (the body is
 * never held whole). Returns 0, or a negative errno-style code and `err`
 * says "<url>: <reason>" (never the token); the reason is the feed's own
 * message when it aborted. Pieces of the body may have been fed before a
 * later failure, so the caller discards what it parsed on error. */
int hsm_fetch(const struct hsm_request *rq, hsm_feed_fn feed, void *ctx, char *err, size_t errlen);

#endif
