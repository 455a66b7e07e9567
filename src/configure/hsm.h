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

/* Call once before any hsm_get (libcurl global state). */
int hsm_global_init(void);
void hsm_global_cleanup(void);

/* GETs rq->url. On a 2xx answer returns 0 with the body in *body (NUL
 * terminated, caller frees) and its length in *len. Otherwise returns a
 * negative errno-style code and `err` says "<url>: <reason>" (never the
 * token). */
int hsm_get(const struct hsm_request *rq, char **body, size_t *len, char *err, size_t errlen);

#endif
