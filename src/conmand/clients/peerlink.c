/* Links to the conmand that owns a peer: console (see peerlink.h). */
#include "conmand/clients/peerlink.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hostport.h"
#include "conmand/net/dial.h"

enum link_state { LINK_CONNECTING, LINK_UP, LINK_CLOSED };

/* Bytes waiting for the connection to come up. */
#define EARLY_MAX PEER_LINK_QUEUE_MAX

struct peer_link {
    const struct peer_link_ops *ops;
    void *ctx;
    enum link_state state;
    char address[300];
    char host[256], port[8];
    struct dial *dial; /* connecting, or NULL */
    uv_tcp_t tcp;
    uv_timer_t timer;
    int handles; /* open libuv handles: freed when 0 */
    bool full;   /* told the client to stop: drained() comes next */
    /* The owner's answer to the relayed greeting, until its '\n': the
     * client had its own "OK" from us, so an OK is dropped here. */
    char greeting[256];
    size_t greetlen;
    bool greeted;
    char *early; /* hello, then client bytes, until the link is up */
    size_t earlylen, earlycap;
};

/* Every link reads into this: one loop thread, and a read is handed on
 * before the next (a buffer per link would cost 64 KiB a session). */
static char readbuf[65536];

struct link_write {
    uv_write_t req;
    char data[];
};

const char *peer_link_address(const struct peer_link *l)
{
    return l->address;
}

static void maybe_free(struct peer_link *l)
{
    if (l->handles == 0) {
        free(l->early);
        free(l);
    }
}

static void handle_closed(uv_handle_t *h)
{
    struct peer_link *l = h->data;
    l->handles--;
    maybe_free(l);
}

/* Closes everything; tells the client unless it asked for the close. */
static void end_link(struct peer_link *l, const char *why, bool tell)
{
    if (l->state == LINK_CLOSED)
        return;
    l->state = LINK_CLOSED;
    if (!uv_is_closing((uv_handle_t *)&l->timer))
        uv_close((uv_handle_t *)&l->timer, handle_closed);
    if (!uv_is_closing((uv_handle_t *)&l->tcp))
        uv_close((uv_handle_t *)&l->tcp, handle_closed);
    if (l->dial)
        dial_cancel(l->dial);
    l->dial = NULL;
    if (tell)
        l->ops->closed(l->ctx, l, why);
}

void peer_link_close(struct peer_link *l)
{
    end_link(l, "", false);
}

static size_t queued(const struct peer_link *l)
{
    return l->state == LINK_UP ? uv_stream_get_write_queue_size((const uv_stream_t *)&l->tcp)
                               : l->earlylen;
}

bool peer_link_full(const struct peer_link *l)
{
    return queued(l) >= PEER_LINK_QUEUE_MAX;
}

static void write_done(uv_write_t *req, int status)
{
    struct peer_link *l = req->handle->data;
    free(req);
    if (status < 0 || l->state != LINK_UP)
        return; /* a failed write shows as a read error too */
    if (l->full && queued(l) < PEER_LINK_QUEUE_MAX / 2) {
        l->full = false;
        l->ops->drained(l->ctx, l);
    }
}

static void write_now(struct peer_link *l, const void *buf, size_t len)
{
    struct link_write *w = malloc(sizeof(*w) + len);
    if (!w) {
        end_link(l, "out of memory", true);
        return;
    }
    memcpy(w->data, buf, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&l->tcp, &b, 1, write_done);
    if (rc < 0) {
        free(w);
        char why[128];
        snprintf(why, sizeof(why), "write failed: %s", uv_strerror(rc));
        end_link(l, why, true);
    }
}

void peer_link_send(struct peer_link *l, const void *buf, size_t len)
{
    if (l->state == LINK_CLOSED || len == 0)
        return;
    if (l->state == LINK_UP)
        write_now(l, buf, len);
    else if (l->earlylen + len <= EARLY_MAX) {
        if (l->earlylen + len > l->earlycap) {
            size_t cap = l->earlycap * 2 > l->earlylen + len ? l->earlycap * 2 : l->earlylen + len;
            char *grown = realloc(l->early, cap);
            if (!grown) {
                end_link(l, "out of memory", true);
                return;
            }
            l->early = grown;
            l->earlycap = cap;
        }
        memcpy(l->early + l->earlylen, buf, len);
        l->earlylen += len;
    }
    /* else: the client is told to stop below, so no more comes */
    if (l->state != LINK_CLOSED && peer_link_full(l))
        l->full = true;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    (void)h;
    *buf = uv_buf_init(readbuf, sizeof(readbuf));
}

/* Takes the greeting's answer off the front of `buf`; returns how many
 * bytes of it were the greeting's. Anything but OK goes to the client. */
static size_t take_greeting(struct peer_link *l, const char *buf, size_t len)
{
    const char *nl = memchr(buf, '\n', len);
    size_t n = nl ? (size_t)(nl - buf) + 1 : len;
    size_t room = sizeof(l->greeting) - l->greetlen;
    memcpy(l->greeting + l->greetlen, buf, n < room ? n : room);
    l->greetlen += n < room ? n : room;
    if (!nl && l->greetlen < sizeof(l->greeting))
        return n;
    l->greeted = true;
    uv_timer_stop(&l->timer);
    if (l->greetlen < 3 || memcmp(l->greeting, "OK", 2) != 0 ||
        (l->greeting[2] != '\n' && l->greeting[2] != '\r'))
        l->ops->data(l->ctx, l, l->greeting, l->greetlen);
    return n;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct peer_link *l = st->data;
    size_t skip = 0;
    if (nread > 0 && !l->greeted)
        skip = take_greeting(l, buf->base, (size_t)nread);
    if (nread > 0 && (size_t)nread > skip && l->state == LINK_UP)
        l->ops->data(l->ctx, l, buf->base + skip, (size_t)nread - skip);
    else if (nread == UV_EOF)
        end_link(l, "", true);
    else if (nread < 0) {
        char why[128];
        snprintf(why, sizeof(why), "%s", uv_strerror((int)nread));
        end_link(l, why, true);
    }
}

/* Every address of the owner is tried (net/dial.c). */
static void dialed(void *ctx, int fd, const char *failed)
{
    struct peer_link *l = ctx;
    l->dial = NULL;
    int rc = fd < 0 ? 0 : uv_tcp_open(&l->tcp, fd);
    if (fd < 0 || rc < 0) {
        if (fd >= 0)
            close(fd);
        char why[600];
        snprintf(why, sizeof(why), "cannot connect: %s", fd < 0 ? failed : uv_strerror(rc));
        end_link(l, why, true);
        return;
    }
    l->state = LINK_UP; /* the timer runs on until the owner answers */
    uv_tcp_nodelay(&l->tcp, 1);
    char *early = l->early;
    size_t n = l->earlylen;
    l->early = NULL;
    l->earlylen = l->earlycap = 0;
    write_now(l, early, n);
    free(early);
    if (l->state == LINK_UP)
        uv_read_start((uv_stream_t *)&l->tcp, alloc_cb, read_cb);
}

/* Neither connected nor answered in time: a host that drops packets, or
 * an owner that accepts but is stuck (stopped, or its loop blocked). */
static void timed_out(uv_timer_t *t)
{
    struct peer_link *l = t->data;
    char why[96];
    snprintf(why, sizeof(why), "%s within %d s",
             l->state == LINK_UP ? "no answer" : "not connected", PEER_LINK_CONNECT_SEC);
    end_link(l, why, true);
}

/* "host:port" or "[v6]:port" into its parts. */
static int split_address(struct peer_link *l, const char *hostport, char *err, size_t errlen)
{
    struct hostport hp;
    char why[300];
    if (hostport_parse(hostport, HOSTPORT_PORT_REQUIRED, &hp, why, sizeof(why)) < 0 ||
        strlen(hp.host) >= sizeof(l->host)) {
        snprintf(err, errlen, "bad peer address %s", why);
        return -EINVAL;
    }
    snprintf(l->host, sizeof(l->host), "%s", hp.host);
    snprintf(l->port, sizeof(l->port), "%s", hp.port);
    snprintf(l->address, sizeof(l->address), "%s", hostport);
    return 0;
}

int peer_link_open(uv_loop_t *loop, const char *hostport, const char *hello, size_t hello_len,
                   const struct peer_link_ops *ops, void *ctx, struct peer_link **out, char *err,
                   size_t errlen)
{
    struct peer_link *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    int rc = split_address(l, hostport, err, errlen);
    if (rc == 0 && !(l->early = malloc(hello_len ? hello_len : 1)))
        rc = -ENOMEM;
    if (rc < 0) {
        free(l);
        return rc;
    }
    memcpy(l->early, hello, hello_len);
    l->earlylen = l->earlycap = hello_len;
    l->ops = ops;
    l->ctx = ctx;
    uv_tcp_init(loop, &l->tcp);
    uv_timer_init(loop, &l->timer);
    l->tcp.data = l->timer.data = l;
    l->handles = 2;
    uv_timer_start(&l->timer, timed_out, PEER_LINK_CONNECT_SEC * 1000ULL, 0);
    l->state = LINK_CONNECTING;
    if (!(l->dial = dial_start(loop, l->host, l->port, dialed, l))) {
        snprintf(err, errlen, "out of memory connecting to %s", l->address);
        *out = NULL;
        end_link(l, "", false);
        return -ENOMEM;
    }
    *out = l;
    return 0;
}
