/* Log shipping, I/O part: a TCP collector behind a bounded buffer, and an
 * append-only file. Consoles are never blocked: a line that does not fit is
 * dropped and counted. */
#include "conmand/ship/shipper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hostport.h"
#include "conmand/net/dial.h"
#include "common/log.h"

static void tcp_connect(struct shipper *s);

static int buf_append(struct shipper_buf *b, const char *data, size_t len, size_t max)
{
    if (b->len + len > max)
        return -ENOBUFS;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + len)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
            return -ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->lines++;
    return 0;
}

static void buf_release(struct shipper_buf *b)
{
    free(b->data);
    *b = (struct shipper_buf){0};
}

static void file_open(struct shipper *s)
{
    s->fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        s->stats.file_write_errors++;
        log_warn("logship file %s: %s", s->path, strerror(errno));
    }
}

/* Writes the file batch of one feed; a failure is counted, never fatal. */
static void file_flush(struct shipper *s)
{
    struct shipper_buf *b = &s->filebuf;
    if (!b->len)
        return;
    if (s->fd < 0)
        file_open(s);
    ssize_t n = s->fd >= 0 ? write(s->fd, b->data, b->len) : -1;
    if (n == (ssize_t)b->len) {
        s->stats.file_lines += b->lines;
        s->stats.file_bytes += b->len;
    } else {
        s->stats.file_write_errors++;
    }
    b->len = 0;
    b->lines = 0;
}

static void on_retry(uv_timer_t *t)
{
    tcp_connect(t->data);
}

static void schedule_retry(struct shipper *s)
{
    if (s->closing)
        return;
    s->stats.tcp_state = SHIPPER_TCP_DOWN;
    uv_timer_start(&s->retry, on_retry, s->backoff_ms, 0);
    s->backoff_ms =
        s->backoff_ms * 2 > SHIPPER_BACKOFF_MAX_MS ? SHIPPER_BACKOFF_MAX_MS : s->backoff_ms * 2;
}

static void on_tcp_closed(uv_handle_t *h)
{
    struct shipper *s = h->data;
    s->tcp_open = false;
    schedule_retry(s);
}

/* The collector went away (EOF, error, failed write): lines in flight are
 * lost and counted; the pending buffer waits for the next connection. */
static void tcp_lost(struct shipper *s, const char *why)
{
    if (s->stats.tcp_state == SHIPPER_TCP_UP && !s->warned_down) {
        log_warn("logship collector %s:%s went away: %s", s->host, s->port, why);
        s->warned_down = true;
        s->dropped_at_down = s->stats.lines_dropped;
    }
    s->stats.tcp_state = SHIPPER_TCP_DOWN;
    if (s->tcp_open && !uv_is_closing((uv_handle_t *)&s->tcp))
        uv_close((uv_handle_t *)&s->tcp, on_tcp_closed);
}

static void tcp_flush(struct shipper *s);

static void on_written(uv_write_t *req, int status)
{
    struct shipper *s = req->data;
    s->writing = false;
    if (status < 0) {
        s->stats.lines_dropped += s->out.lines;
    } else {
        s->stats.lines_shipped += s->out.lines;
        s->stats.bytes_shipped += s->out.len;
    }
    s->out.len = 0;
    s->out.lines = 0;
    if (status < 0) {
        tcp_lost(s, uv_strerror(status));
        return;
    }
    tcp_flush(s);
}

/* Hands the pending lines to libuv in one write (swapping buffers, so
 * consoles keep appending while it is in flight). */
static void tcp_flush(struct shipper *s)
{
    if (s->writing || s->stats.tcp_state != SHIPPER_TCP_UP || !s->pending.len)
        return;
    struct shipper_buf t = s->out;
    s->out = s->pending;
    s->pending = t;
    uv_buf_t b = uv_buf_init(s->out.data, (unsigned)s->out.len);
    s->wreq.data = s;
    int rc = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &b, 1, on_written);
    if (rc < 0) {
        s->stats.lines_dropped += s->out.lines;
        s->out.len = 0;
        s->out.lines = 0;
        tcp_lost(s, uv_strerror(rc));
        return;
    }
    s->writing = true;
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h;
    (void)size;
    static char sink[512];
    *buf = uv_buf_init(sink, sizeof(sink));
}

/* The collector sends nothing; a read tells us when it closes. */
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    if (n < 0)
        tcp_lost(st->data, n == UV_EOF ? "connection closed" : uv_strerror((int)n));
}

static void connected(struct shipper *s)
{
    if (s->ever_up)
        s->stats.reconnects++;
    if (s->warned_down) {
        log_info("logship collector %s:%s is back; %llu lines dropped meanwhile", s->host, s->port,
                 (unsigned long long)(s->stats.lines_dropped - s->dropped_at_down));
        s->warned_down = false;
    }
    s->ever_up = true;
    s->backoff_ms = SHIPPER_BACKOFF_MIN_MS;
    s->stats.tcp_state = SHIPPER_TCP_UP;
    uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    tcp_flush(s);
}

static void on_dialed(void *ctx, int fd, const char *why)
{
    struct shipper *s = ctx;
    s->dial = NULL;
    if (fd < 0) {
        if (!s->warned_down) {
            log_warn("logship collector %s:%s: %s", s->host, s->port, why);
            s->warned_down = true;
            s->dropped_at_down = s->stats.lines_dropped;
        }
        schedule_retry(s);
        return;
    }
    uv_tcp_init(s->loop, &s->tcp);
    s->tcp.data = s;
    s->tcp_open = true;
    int rc = uv_tcp_open(&s->tcp, fd);
    if (rc < 0) {
        close(fd);
        tcp_lost(s, uv_strerror(rc)); /* closes the handle, then retries */
        return;
    }
    connected(s);
}

/* Every address of the collector is tried (net/dial.c). */
static void tcp_connect(struct shipper *s)
{
    if (s->closing || s->tcp_open || s->dial)
        return;
    s->stats.tcp_state = SHIPPER_TCP_CONNECTING;
    if (!(s->dial = dial_start(s->loop, s->host, s->port, on_dialed, s)))
        schedule_retry(s);
}

static int split_target(struct shipper *s, const char *target, char *err, size_t errlen)
{
    struct hostport hp;
    char why[300];
    if (hostport_parse(target, HOSTPORT_PORT_REQUIRED, &hp, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "logship target tcp:%s", why);
        return -EINVAL;
    }
    s->host = strdup(hp.host);
    s->port = strdup(hp.port);
    return s->host && s->port ? 0 : -ENOMEM;
}

int shipper_start(struct shipper *s, uv_loop_t *loop, const char *tcp_target, const char *file_path,
                  char *err, size_t errlen)
{
    *s = (struct shipper){.loop = loop, .fd = -1, .backoff_ms = SHIPPER_BACKOFF_MIN_MS};
    int rc = tcp_target ? split_target(s, tcp_target, err, errlen) : 0;
    if (rc == 0 && file_path && !(s->path = strdup(file_path)))
        rc = -ENOMEM;
    if (rc < 0) {
        shipper_release(s);
        return rc;
    }
    uv_timer_init(loop, &s->retry);
    s->retry.data = s;
    if (s->path)
        file_open(s);
    if (s->host)
        tcp_connect(s);
    return 0;
}

/* One JSON line into the batches of both targets (sent by flush_all). */
static void queue_object(struct shipper *s, const char *obj, size_t len)
{
    if (s->host && buf_append(&s->pending, obj, len, SHIPPER_BUFFER_MAX) < 0)
        s->stats.lines_dropped++;
    if (s->path && buf_append(&s->filebuf, obj, len, SIZE_MAX) < 0)
        s->stats.file_write_errors++;
}

static void flush_all(struct shipper *s)
{
    if (s->path)
        file_flush(s);
    if (s->host)
        tcp_flush(s);
}

struct feed_ctx {
    struct shipper *s;
    const char *name;
    size_t namelen;
    struct timespec now;
};

static void ship_line(void *arg, const unsigned char *line, size_t len)
{
    struct feed_ctx *f = arg;
    struct shipper *s = f->s;
    size_t need = logship_encoded_max(f->namelen, len);
    if (need > s->scratch_cap) {
        char *p = realloc(s->scratch, need);
        if (!p) {
            s->stats.lines_dropped++;
            return;
        }
        s->scratch = p;
        s->scratch_cap = need;
    }
    size_t n = logship_encode(s->scratch, s->scratch_cap, f->name, f->namelen, &f->now, line, len);
    queue_object(s, s->scratch, n);
}

void shipper_feed(struct shipper *s, struct logship_line **linep, const char *name,
                  const unsigned char *buf, size_t len)
{
    if (!*linep) {
        *linep = calloc(1, sizeof(**linep));
        if (!*linep)
            return;
    }
    struct feed_ctx f = {.s = s, .name = name, .namelen = strlen(name)};
    clock_gettime(CLOCK_REALTIME, &f.now);
    logship_line_feed(*linep, buf, len, ship_line, &f);
    flush_all(s);
}

void shipper_send(struct shipper *s, const char *obj, size_t len)
{
    queue_object(s, obj, len);
    flush_all(s);
}

void shipper_reopen(struct shipper *s)
{
    if (!s->path)
        return;
    if (s->fd >= 0)
        close(s->fd);
    file_open(s);
}

void shipper_close(struct shipper *s)
{
    s->closing = true;
    uv_close((uv_handle_t *)&s->retry, NULL);
    if (s->dial)
        dial_cancel(s->dial);
    s->dial = NULL;
    if (s->tcp_open && !uv_is_closing((uv_handle_t *)&s->tcp))
        uv_close((uv_handle_t *)&s->tcp, NULL);
}

void shipper_release(struct shipper *s)
{
    if (s->fd >= 0)
        close(s->fd);
    buf_release(&s->pending);
    buf_release(&s->out);
    buf_release(&s->filebuf);
    free(s->scratch);
    free(s->host);
    free(s->port);
    free(s->path);
    *s = (struct shipper){.fd = -1};
}
