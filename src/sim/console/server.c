/* console-sim's sockets. Each console owns a listener and, only while a
 * client is connected, a running timer (rate mode) or a write-completion
 * driven pump (burst mode); so thousands of idle consoles cost no CPU. */
#include "sim/console/server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "sim/console/bootlog.h"
#include "sim/console/crashlog.h"
#include "sim/console/telnet.h"

/* Rate mode: a client that has not read this much is not reading; later
 * lines are dropped for it (as a serial line would), and the gap in the
 * sequence numbers shows it. */
#define RATE_QUEUE_LIMIT (1u << 20)
/* Burst mode: refill while every client has less than this queued, so the
 * slowest reader paces the console and no line is ever dropped. */
#define BURST_QUEUE_LOW (64u << 10)
#define BURST_BATCH_LINES 256u
/* Rate mode never writes more than this in one tick (after a stall). */
#define RATE_MAX_LINES_PER_TICK 10000u

union stream {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
};

struct client {
    union stream h;
    struct console *con;
    struct client *next;
    struct telnet_filter telnet;
    uint64_t dropped;
};

struct console {
    struct simserver *srv;
    const struct sim_spec *spec;
    union stream listener;
    uv_timer_t timer;
    struct client *clients;
    size_t nclients;
    uint64_t seq;           /* last line written */
    uint64_t pace_start_ms; /* rate mode: when the current pace began */
    uint64_t pace_sent;     /* lines written since pace_start_ms */
    uint64_t boot_ns;       /* uptime 0: the server's start, or the last crash's reboot */
    int inited;             /* listener handle needs closing */
    int bound;              /* listener bound: a unix path is ours to remove */
};

struct simserver {
    uv_loop_t *loop;
    const struct sim_options *o;
    struct console *cons;
    size_t ncons;
    uint64_t start_ns;
};

struct wbuf {
    uv_write_t req;
    struct client *c;
    char data[];
};

static void close_client(struct client *c);
static void burst_pump(struct console *con);

static void write_done(uv_write_t *req, int status)
{
    struct wbuf *w = (struct wbuf *)req;
    struct client *c = w->c;
    free(w);
    if (status == UV_ECANCELED)
        return; /* the client is closing; its close callback frees it */
    if (status < 0) {
        log_info("console %s: client write failed: %s", c->con->spec->name, uv_strerror(status));
        close_client(c);
        return;
    }
    if (c->con->srv->o->burst)
        burst_pump(c->con);
}

/* Queues a copy of data to one client. A client that stopped reading in rate
 * mode loses the data instead of growing our memory without bound. */
static void send_to(struct client *c, const char *data, size_t len, int droppable)
{
    if (droppable && c->h.stream.write_queue_size > RATE_QUEUE_LIMIT) {
        c->dropped++;
        return;
    }
    struct wbuf *w = malloc(sizeof(*w) + len);
    if (!w) {
        c->dropped++;
        return;
    }
    w->c = c;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, &c->h.stream, &b, 1, write_done);
    if (rc < 0) {
        free(w);
        log_info("console %s: client write failed: %s", c->con->spec->name, uv_strerror(rc));
        close_client(c);
    }
}

static void broadcast(struct console *con, const char *data, size_t len, int droppable)
{
    struct client *c = con->clients, *next;
    for (; c; c = next) {
        next = c->next; /* send_to may close c */
        send_to(c, data, len, droppable);
    }
}

/* Writes console con's next numbered line, and after every panic_every-th
 * a crash block, at buf; returns the length. The reboot restarts uptime. */
static size_t format_next(struct console *con, char *buf, size_t cap, uint64_t now_ns)
{
    uint64_t every = con->srv->o->panic_every;
    uint64_t up_us = (now_ns - con->boot_ns) / 1000;
    size_t len = bootlog_format(buf, cap, con->spec->name, ++con->seq, up_us);
    if (every == 0 || con->seq % every != 0)
        return len;
    enum crashlog_kind kind = crashlog_kind_for(con->spec->name, con->seq / every);
    len += crashlog_format(buf + len, cap - len, kind, up_us);
    con->boot_ns = now_ns;
    return len;
}

/* Writes up to `count` more lines to every client of con; returns how many. */
static uint64_t emit_lines(struct console *con, uint64_t count)
{
    const struct sim_options *o = con->srv->o;
    if (o->max_lines && count > o->max_lines - con->seq)
        count = o->max_lines - con->seq;
    if (count == 0 || !con->clients)
        return 0;
    uint64_t crashes =
        o->panic_every ? (con->seq + count) / o->panic_every - con->seq / o->panic_every : 0;
    size_t cap = (size_t)count * BOOTLOG_LINE_MAX + (size_t)crashes * CRASHLOG_BLOCK_MAX;
    char *buf = malloc(cap);
    if (!buf)
        return 0;
    uint64_t now_ns = uv_hrtime();
    size_t len = 0;
    for (uint64_t i = 0; i < count; i++)
        len += format_next(con, buf + len, cap - len, now_ns);
    broadcast(con, buf, len, !o->burst);
    free(buf);
    return count;
}

static void burst_pump(struct console *con)
{
    for (struct client *c = con->clients; c; c = c->next)
        if (c->h.stream.write_queue_size >= BURST_QUEUE_LOW)
            return;
    emit_lines(con, BURST_BATCH_LINES);
}

static void rate_tick(uv_timer_t *t)
{
    struct console *con = t->data;
    const struct sim_options *o = con->srv->o;
    uint64_t due = simopts_lines_due(o->rate, uv_now(con->srv->loop) - con->pace_start_ms);
    uint64_t owed = due - con->pace_sent;
    if (owed > RATE_MAX_LINES_PER_TICK) {
        /* Behind after a stall: write a tick's worth and forget the rest
         * rather than flooding. */
        con->pace_sent = due - RATE_MAX_LINES_PER_TICK;
        owed = RATE_MAX_LINES_PER_TICK;
    }
    con->pace_sent += owed;
    emit_lines(con, owed);
    if (o->max_lines && con->seq >= o->max_lines)
        uv_timer_stop(t);
}

static void client_closed(uv_handle_t *h)
{
    free(h->data);
}

static void close_client(struct client *c)
{
    if (uv_is_closing(&c->h.handle))
        return;
    struct console *con = c->con;
    for (struct client **p = &con->clients; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    con->nclients--;
    if (con->nclients == 0)
        uv_timer_stop(&con->timer);
    if (c->dropped)
        log_warn("console %s: client left; %llu writes were dropped because it did not read",
                 con->spec->name, (unsigned long long)c->dropped);
    else
        log_info("console %s: client left", con->spec->name);
    uv_close(&c->h.handle, client_closed);
}

static void alloc_read(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char space[16384]; /* one thread, and each read is consumed at once */
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(space, sizeof(space));
}

/* Echoes input as a terminal would: CR comes back as CR LF. */
static void echo_input(struct console *con, const unsigned char *in, size_t len)
{
    char *out = malloc(len * 2 + 1);
    if (!out)
        return;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        out[n++] = (char)in[i];
        if (in[i] == '\r')
            out[n++] = '\n';
    }
    broadcast(con, out, n, !con->srv->o->burst);
    free(out);
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct client *c = s->data;
    if (nread < 0) {
        close_client(c);
        return;
    }
    size_t len = telnet_filter_apply(&c->telnet, (unsigned char *)buf->base, (size_t)nread);
    if (len > 0 && c->con->srv->o->echo)
        echo_input(c->con, (unsigned char *)buf->base, len);
}

/* A console that gains its first client starts talking. */
static void start_talking(struct console *con)
{
    const struct sim_options *o = con->srv->o;
    if (o->burst) {
        burst_pump(con);
        return;
    }
    if (con->nclients > 1)
        return;
    con->pace_start_ms = uv_now(con->srv->loop);
    con->pace_sent = 0;
    if (!o->max_lines || con->seq < o->max_lines) {
        uint64_t tick = simopts_tick_ms(o->rate);
        uv_timer_start(&con->timer, rate_tick, 0, tick);
    }
}

static int init_stream(struct console *con, union stream *h)
{
    if (con->spec->kind == SIM_TCP)
        return uv_tcp_init(con->srv->loop, &h->tcp);
    return uv_pipe_init(con->srv->loop, &h->pipe, 0);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct console *con = listener->data;
    if (status < 0) {
        log_warn("console %s: accept failed: %s", con->spec->name, uv_strerror(status));
        return;
    }
    struct client *c = calloc(1, sizeof(*c));
    if (!c || init_stream(con, &c->h) < 0) {
        free(c);
        log_warn("console %s: no memory for a client", con->spec->name);
        return;
    }
    c->h.handle.data = c;
    c->con = con;
    if (uv_accept(listener, &c->h.stream) < 0) {
        uv_close(&c->h.handle, client_closed);
        return;
    }
    c->next = con->clients;
    con->clients = c;
    con->nclients++;
    log_info("console %s: client connected", con->spec->name);
    uv_read_start(&c->h.stream, alloc_read, client_read);
    start_talking(con);
}

/* Removes a stale socket file left by an earlier run, but nothing else. */
static int clear_unix_path(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "unix socket path %s exists and is not a socket", path);
        return -EEXIST;
    }
    unlink(path);
    return 0;
}

static int bind_console(struct console *con, FILE *announce, char *err, size_t errlen)
{
    const struct sim_spec *sp = con->spec;
    int rc = init_stream(con, &con->listener);
    if (rc < 0)
        goto fail;
    con->listener.handle.data = con;
    con->inited = 1;
    if (sp->kind == SIM_TCP) {
        struct sockaddr_in addr;
        uv_ip4_addr("127.0.0.1", sp->port, &addr);
        rc = uv_tcp_bind(&con->listener.tcp, (const struct sockaddr *)&addr, 0);
    } else {
        if ((rc = clear_unix_path(sp->path, err, errlen)) < 0)
            return rc;
        rc = uv_pipe_bind(&con->listener.pipe, sp->path);
    }
    if (rc == 0) {
        con->bound = 1;
        rc = uv_listen(&con->listener.stream, 128, on_connection);
    }
    if (rc < 0)
        goto fail;
    if (sp->kind == SIM_UNIX) {
        fprintf(announce, "console %s unix %s\n", sp->name, sp->path);
        return 0;
    }
    struct sockaddr_in got;
    int len = sizeof(got);
    uv_tcp_getsockname(&con->listener.tcp, (struct sockaddr *)&got, &len);
    fprintf(announce, "console %s tcp 127.0.0.1:%d\n", sp->name, ntohs(got.sin_port));
    return 0;
fail:
    if (sp->kind == SIM_TCP)
        snprintf(err, errlen, "console %s: cannot listen on 127.0.0.1:%d: %s", sp->name, sp->port,
                 uv_strerror(rc));
    else
        snprintf(err, errlen, "console %s: cannot listen on %s: %s", sp->name, sp->path,
                 uv_strerror(rc));
    return rc;
}

int simserver_start(uv_loop_t *loop, const struct sim_options *o, FILE *announce,
                    struct simserver **out, char *err, size_t errlen)
{
    struct simserver *s = calloc(1, sizeof(*s));
    if (s)
        s->cons = calloc(o->nspecs, sizeof(*s->cons));
    if (!s || !s->cons) {
        free(s);
        snprintf(err, errlen, "out of memory for %zu consoles", o->nspecs);
        return -ENOMEM;
    }
    s->loop = loop;
    s->o = o;
    s->ncons = o->nspecs;
    s->start_ns = uv_hrtime();
    *out = s;
    for (size_t i = 0; i < s->ncons; i++) {
        struct console *con = &s->cons[i];
        con->srv = s;
        con->spec = &o->specs[i];
        con->boot_ns = s->start_ns;
        uv_timer_init(loop, &con->timer);
        con->timer.data = con;
        int rc = bind_console(con, announce, err, errlen);
        if (rc < 0)
            return rc; /* the caller stops and frees: that unbinds the rest */
    }
    fprintf(announce, "ready %zu consoles\n", s->ncons);
    fflush(announce);
    return 0;
}

void simserver_stop(struct simserver *s)
{
    for (size_t i = 0; i < s->ncons; i++) {
        struct console *con = &s->cons[i];
        if (!con->srv)
            continue; /* start failed before this console */
        while (con->clients)
            close_client(con->clients);
        if (!uv_is_closing((uv_handle_t *)&con->timer))
            uv_close((uv_handle_t *)&con->timer, NULL);
        if (con->inited && !uv_is_closing(&con->listener.handle))
            uv_close(&con->listener.handle, NULL);
    }
}

void simserver_free(struct simserver *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncons; i++) {
        const struct console *con = &s->cons[i];
        if (con->bound && con->spec->kind == SIM_UNIX)
            unlink(con->spec->path);
    }
    free(s->cons);
    free(s);
}
