#include "conmand/net/dial.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addrorder.h"

/* One connect in flight, to order.addr[index]. */
struct attempt {
    struct dial *d;
    uv_poll_t poll;
    int fd;
    size_t index;
};

struct dial {
    dial_done_fn done; /* NULL once cancelled */
    void *ctx;
    char host[256];
    struct addrorder order;
    size_t next; /* the next address of `order` to try */
    struct attempt *live[ADDRORDER_MAX];
    size_t nlive;
    uv_timer_t timer;        /* starts the next attempt (at once: the first) */
    uv_getaddrinfo_t lookup; /* in flight while `looking_up` */
    bool looking_up, ended;
    int handles;   /* open timer and polls: freed when 0, ended and not looking up */
    char why[512]; /* what each failed address said */
    int last_err;  /* the last address's errno */
};

static void maybe_free(struct dial *d)
{
    if (d->ended && d->handles == 0 && !d->looking_up)
        free(d);
}

static void attempt_closed(uv_handle_t *h)
{
    struct attempt *a = h->data;
    struct dial *d = a->d;
    free(a);
    d->handles--;
    maybe_free(d);
}

static void timer_closed(uv_handle_t *h)
{
    struct dial *d = h->data;
    d->handles--;
    maybe_free(d);
}

/* Ends live[i]; its socket is closed unless it is the one handed over. */
static void drop_attempt(struct dial *d, size_t i, bool keep_fd)
{
    struct attempt *a = d->live[i];
    uv_poll_stop(&a->poll); /* before close(): libuv must forget the fd first */
    if (!keep_fd)
        close(a->fd);
    uv_close((uv_handle_t *)&a->poll, attempt_closed);
    d->live[i] = d->live[--d->nlive];
}

static void end_all(struct dial *d, int keep_fd)
{
    while (d->nlive)
        drop_attempt(d, d->nlive - 1, d->live[d->nlive - 1]->fd == keep_fd);
    if (!uv_is_closing((uv_handle_t *)&d->timer))
        uv_close((uv_handle_t *)&d->timer, timer_closed);
    d->ended = true;
}

static void finish(struct dial *d, int fd)
{
    end_all(d, fd);
    if (fd < 0 && d->order.n == 1) /* the caller names the one address */
        snprintf(d->why, sizeof(d->why), "%s", strerror(d->last_err));
    else if (fd < 0 && !d->why[0])
        snprintf(d->why, sizeof(d->why), "\"%s\" has no IPv4 or IPv6 address", d->host);
    d->done(d->ctx, fd, fd < 0 ? d->why : NULL);
    maybe_free(d);
}

static void note_failure(struct dial *d, size_t index, int err)
{
    char addr[64];
    addrorder_format(&d->order.addr[index].sa, addr, sizeof(addr));
    d->last_err = err;
    size_t used = strlen(d->why);
    snprintf(d->why + used, sizeof(d->why) - used, "%s%s: %s", used ? "; " : "", addr,
             strerror(err));
}

static void start_next(struct dial *d);

static void on_writable(uv_poll_t *p, int status, int events)
{
    (void)events;
    struct attempt *a = p->data;
    struct dial *d = a->d;
    /* A refused connect comes as POLLERR, which libuv reports as status
     * UV_EBADF: the socket's own error says what happened. */
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (!err && status < 0)
        err = -status;
    if (!err) {
        finish(d, a->fd);
        return;
    }
    note_failure(d, a->index, err);
    for (size_t i = 0; i < d->nlive; i++)
        if (d->live[i] == a)
            drop_attempt(d, i, false);
    if (d->nlive == 0) { /* nothing pending: the next address at once */
        uv_timer_stop(&d->timer);
        start_next(d);
    }
}

static void on_timer(uv_timer_t *t)
{
    start_next(t->data);
}

/* Polls fd for the end of its connect. Returns 0 or -errno. */
static int add_attempt(struct dial *d, int fd, size_t index)
{
    struct attempt *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    *a = (struct attempt){.d = d, .fd = fd, .index = index};
    int rc = uv_poll_init(d->timer.loop, &a->poll, fd);
    if (rc < 0) {
        free(a);
        return rc;
    }
    a->poll.data = a;
    d->handles++;
    d->live[d->nlive++] = a;
    uv_poll_start(&a->poll, UV_WRITABLE, on_writable);
    return 0;
}

/* Starts the next address's connect; with none left and none pending, the
 * dial has failed. Only ever called from the loop's callbacks. */
static void start_next(struct dial *d)
{
    while (d->next < d->order.n) {
        size_t i = d->next++;
        const struct sockaddr *sa = &d->order.addr[i].sa;
        int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int err = fd < 0 ? errno : 0;
        if (fd >= 0 && connect(fd, sa, d->order.len[i]) == 0) {
            finish(d, fd);
            return;
        }
        if (fd >= 0)
            err = errno == EINPROGRESS ? -add_attempt(d, fd, i) : errno;
        if (!err) {
            uv_timer_start(&d->timer, on_timer, DIAL_ATTEMPT_DELAY_MS, 0);
            return;
        }
        note_failure(d, i, err);
        if (fd >= 0)
            close(fd);
    }
    if (d->nlive == 0)
        finish(d, -1);
}

static void on_lookup(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    struct dial *d = req->data;
    d->looking_up = false;
    if (!d->done) { /* cancelled meanwhile */
        uv_freeaddrinfo(ai);
        maybe_free(d);
        return;
    }
    if (status < 0)
        snprintf(d->why, sizeof(d->why), "cannot resolve \"%s\": %s", d->host, uv_strerror(status));
    else
        addrorder_fill(&d->order, ai);
    uv_freeaddrinfo(ai);
    start_next(d);
}

struct dial *dial_start(uv_loop_t *loop, const char *host, const char *port, dial_done_fn done,
                        void *ctx)
{
    struct dial *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->done = done;
    d->ctx = ctx;
    snprintf(d->host, sizeof(d->host), "%s", host);
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    d->handles = 1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV},
                    *ai;
    if (getaddrinfo(host, port, &hints, &ai) == 0) { /* an address: no lookup */
        addrorder_fill(&d->order, ai);
        freeaddrinfo(ai);
    } else {
        hints.ai_flags = AI_NUMERICSERV;
        d->lookup.data = d;
        int rc = uv_getaddrinfo(loop, &d->lookup, on_lookup, host, port, &hints);
        if (rc == 0) {
            d->looking_up = true;
            return d;
        }
        snprintf(d->why, sizeof(d->why), "cannot resolve \"%s\": %s", host, uv_strerror(rc));
    }
    /* The first connect (or the failure) is reported from the loop. */
    uv_timer_start(&d->timer, on_timer, 0, 0);
    return d;
}

void dial_cancel(struct dial *d)
{
    d->done = NULL;
    end_all(d, -1);
    if (d->looking_up)
        uv_cancel((uv_req_t *)&d->lookup); /* on_lookup frees it then */
    maybe_free(d);
}
