/* HSM over HTTP(S) with libcurl. The bearer token is read from its file on
 * every call (tokens rotate) and never logged. */
#include "configure/hsm.h"

#include "common/secret.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink {
    CURL *curl;
    hsm_feed_fn feed;
    void *ctx;
    size_t len, max;
    int too_big;
    int feed_rc;        /* the feed's error, 0 when none */
    char feed_err[512]; /* and its reason */
};

int hsm_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

void hsm_global_cleanup(void)
{
    curl_global_cleanup();
}

/* Counts the body against the cap and hands it on, unless the status says
 * it is an error page: that one is reported by its status, not parsed. */
static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    if (s->len + n > s->max) {
        s->too_big = 1;
        return 0; /* aborts the transfer */
    }
    s->len += n;
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299)
        return n;
    int rc = s->feed(s->ctx, data, n, s->feed_err, sizeof(s->feed_err));
    if (rc < 0) {
        s->feed_rc = rc;
        return 0;
    }
    return n;
}

/* Builds "Authorization: Bearer <token>" from the token file's first line. */
static int auth_header(const struct hsm_request *rq, struct curl_slist **headers, char *err,
                       size_t errlen)
{
    struct secret tok = SECRET_INIT;
    char msg[512];
    int rc = secret_read_first_line(rq->token_file, 0, &tok, msg, sizeof(msg));
    if (rc < 0) {
        snprintf(err, errlen, "%s: HSM_TOKEN_FILE %s", rq->url, msg);
        return rc;
    }
    static const char prefix[] = "Authorization: Bearer ";
    size_t n = sizeof(prefix) + tok.len;
    char *line = malloc(n);
    if (line) {
        snprintf(line, n, "%s%s", prefix, tok.bytes);
        *headers = curl_slist_append(*headers, line);
        secret_wipe(line, n);
        free(line);
    }
    secret_release(&tok);
    if (!line || !*headers) {
        snprintf(err, errlen, "%s: out of memory", rq->url);
        return -ENOMEM;
    }
    return 0;
}

static void set_options(CURL *c, const struct hsm_request *rq, struct sink *s, char *curl_err)
{
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, rq->timeout_sec);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, rq->timeout_sec);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->max_bytes);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "configure_conman");
    if (rq->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, rq->ca_file);
}

static int perform(CURL *c, const struct hsm_request *rq, struct sink *s, const char *curl_err,
                   char *err, size_t errlen)
{
    CURLcode res = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (s->feed_rc < 0) {
        snprintf(err, errlen, "%s: %s", rq->url, s->feed_err);
        return s->feed_rc;
    }
    if (s->too_big || res == CURLE_FILESIZE_EXCEEDED) {
        snprintf(err, errlen, "%s: response larger than %zu bytes", rq->url, rq->max_bytes);
        return -EFBIG;
    }
    if (res != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", rq->url, *curl_err ? curl_err : curl_easy_strerror(res));
        return res == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
    }
    if (status < 200 || status > 299) {
        snprintf(err, errlen, "%s: HTTP status %ld", rq->url, status);
        return -EPROTO;
    }
    return 0;
}

int hsm_fetch(const struct hsm_request *rq, hsm_feed_fn feed, void *ctx, char *err, size_t errlen)
{
    struct sink s = {.feed = feed, .ctx = ctx, .max = rq->max_bytes};
    struct curl_slist *headers = NULL;
    char curl_err[CURL_ERROR_SIZE] = "";
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "%s: cannot initialise libcurl", rq->url);
        return -ENOMEM;
    }
    s.curl = c;
    int rc = 0;
    if (rq->token_file)
        rc = auth_header(rq, &headers, err, errlen);
    if (rc == 0) {
        set_options(c, rq, &s, curl_err);
        if (headers)
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        rc = perform(c, rq, &s, curl_err, err, errlen);
    }
    curl_easy_cleanup(c);
    /* curl_slist_append() copied the bearer token into the list. */
    for (struct curl_slist *h = headers; h; h = h->next)
        secret_wipe(h->data, strlen(h->data));
    curl_slist_free_all(headers);
    return rc;
}
