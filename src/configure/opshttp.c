/* The HTTP edge of opsstats: listen (retried), answer from a copy taken
 * under a mutex, and the one TCP connect /readyz needs. */
#include "configure/opshttp.h"

#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RETRY_SEC 5.0
#define LOG_EVERY 12 /* failed listens: log the first, then about once a minute */
#define CONNECT_MS 500
#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct opshttp {
    char addr[INET6_ADDRSTRLEN];
    long port;
    struct MHD_Daemon *d;
    double next_try;
    unsigned failures;
    pthread_mutex_t mu;
    struct opsstats stats; /* under mu */
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 0 when 127.0.0.1:port accepts a TCP connection within CONNECT_MS. */
static int port_accepts(long port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        struct pollfd p = {fd, POLLOUT, 0};
        if (rc == -EINPROGRESS) {
            int n = poll(&p, 1, CONNECT_MS);
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (n == 0)
                rc = -ETIMEDOUT;
            else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                rc = -errno;
            else
                rc = -soerr;
        }
    }
    close(fd);
    return rc;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, char *body, size_t len,
                              const char *type, bool take)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, take ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (take)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned code, const char *line)
{
    char buf[320];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    return answer(c, code, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1,
                  "text/plain; charset=utf-8", false);
}

static enum MHD_Result readyz(struct MHD_Connection *c, const struct opsstats *s)
{
    char why[256];
    if (!opsstats_ready(s, why, sizeof(why)))
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, why);
    int rc = port_accepts(s->conmand_port);
    if (rc < 0) {
        snprintf(why, sizeof(why), "conmand's client port 127.0.0.1:%ld does not accept: %s",
                 s->conmand_port, strerror(-rc));
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, why);
    }
    return text(c, MHD_HTTP_OK, "ready");
}

static enum MHD_Result metrics(struct MHD_Connection *c, const struct opsstats *s)
{
    char *body = NULL;
    size_t len = 0;
    if (opsstats_metrics(s, &body, &len) < 0)
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return answer(c, MHD_HTTP_OK, body, len, PROM_TYPE, true);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req)
{
    (void)version;
    (void)upload_data;
    (void)upload_size;
    (void)req;
    struct opshttp *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD");
    struct opsstats s;
    pthread_mutex_lock(&h->mu);
    s = h->stats;
    pthread_mutex_unlock(&h->mu);
    char why[256];
    if (strcmp(url, "/healthz") == 0)
        return opsstats_healthy(&s, mono(), why, sizeof(why)) ? text(c, MHD_HTTP_OK, "ok")
                                                              : text(c, 503, why);
    if (strcmp(url, "/readyz") == 0)
        return readyz(c, &s);
    if (strcmp(url, "/metrics") == 0)
        return metrics(c, &s);
    return text(c, MHD_HTTP_NOT_FOUND, "not found: /healthz /readyz /metrics");
}

/* HTTP_ADDR (settings.c checked it) as a socket address. "::" takes both
 * families (IPV6_V6ONLY off); any other v6 address only its own. */
static int sock_addr(const struct opshttp *h, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, h->addr, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)h->port);
        *len = sizeof(*in);
        return 0;
    }
    if (inet_pton(AF_INET6, h->addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)h->port);
        *len = sizeof(*in6);
        return 0;
    }
    return -EINVAL;
}

/* A listening socket of our own, so a failure says why (EADDRINUSE...). */
static int listen_on(const struct opshttp *h)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (sock_addr(h, &ss, &len) < 0)
        return -EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        int v6only = !IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static void try_listen(struct opshttp *h, double now)
{
    int fd = listen_on(h);
    if (fd >= 0) {
        h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
                                on_request, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT,
                                10u, MHD_OPTION_END);
        if (!h->d)
            close(fd);
    }
    if (h->d) {
        log_info("HTTP_PORT: serving /healthz /readyz /metrics on %s%s%s:%ld",
                 strchr(h->addr, ':') ? "[" : "", h->addr, strchr(h->addr, ':') ? "]" : "",
                 h->port);
        h->failures = 0;
        return;
    }
    if (h->failures++ % LOG_EVERY == 0)
        log_error("HTTP_PORT %ld on HTTP_ADDR %s: cannot listen: %s; retrying every %.0f s",
                  h->port, h->addr, fd < 0 ? strerror(-fd) : "libmicrohttpd did not start",
                  RETRY_SEC);
    h->next_try = now + RETRY_SEC;
}

struct opshttp *opshttp_open(const char *addr, long port)
{
    struct opshttp *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    snprintf(h->addr, sizeof(h->addr), "%s", addr);
    h->port = port;
    pthread_mutex_init(&h->mu, NULL);
    h->stats.heartbeat_mono = mono();
    try_listen(h, mono());
    return h;
}

void opshttp_tick(struct opshttp *h, const struct opsstats *s, double now_mono)
{
    pthread_mutex_lock(&h->mu);
    h->stats = *s;
    pthread_mutex_unlock(&h->mu);
    if (!h->d && now_mono >= h->next_try)
        try_listen(h, now_mono);
}

void opshttp_close(struct opshttp *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
