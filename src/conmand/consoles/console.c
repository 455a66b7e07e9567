/* Generic console life cycle: connect, poll, read to log and clients,
 * queued writes, disconnect and reconnect with backoff plus jitter. */
#include "conmand/consoles/console.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "conmand/consoles/types.h"
#include "conmand/events/eventhub.h"
#include "conmand/consoles/notice.h"
#include "conmand/ship/shipper.h"

unsigned console_backoff_ms(unsigned failures, double rnd)
{
    unsigned base = 1000;
    for (unsigned i = 1; i < failures && base < 60000; i++)
        base *= 2;
    if (base > 60000)
        base = 60000;
    return base + (unsigned)(rnd * 0.25 * base);
}

/* The type of the console's dev, looking at the file system for a bare
 * absolute path (a character device is a serial port). A console that
 * changes type frees the old type's state first. */
static void set_type(struct console *c)
{
    struct stat st;
    const char *dev = c->cfg.dev;
    bool chardev = dev[0] == '/' && !strchr(dev, ' ') && stat(dev, &st) == 0 && S_ISCHR(st.st_mode);
    const struct console_type *type = console_type_for(dev, chardev);
    if (type == c->type)
        return;
    if (c->ops && c->ops->release)
        c->ops->release(c);
    c->type = type;
    c->ops = type ? type->ops : NULL;
    c->type_ready = false;
}

struct console *console_create(struct console_hub *hub, const struct conf_console *cfg)
{
    struct console *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->hub = hub;
    c->fd = -1;
    /* The file is named when it opens (console_start): no path yet. */
    int rc = conf_console_copy(&c->cfg, cfg);
    if (rc == 0)
        rc = logfile_init(&c->log, &hub->logs, cfg->name, NULL, &cfg->logopts);
    if (rc < 0) {
        conf_console_release(&c->cfg);
        free(c);
        return NULL;
    }
    set_type(c);
    timerheap_node_init(&c->retry);
    c->stats.created = c->stats.since = time(NULL);
    if (hub->events && console_set_rules(c, hub->events->rules) < 0)
        log_error("Console [%s]: out of memory for its event matcher: no events", cfg->name);
    return c;
}

int console_set_rules(struct console *c, struct rules *rules)
{
    struct console_events *e = NULL;
    int rc = console_is_remote(c) ? 0 : console_events_create(rules, &e);
    console_events_free(c->events);
    c->events = e; /* a remote console is matched by its owner */
    return rc;
}

void console_reconfigure(struct console *c, struct conf_console *cfg)
{
    conf_console_release(&c->cfg);
    c->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    set_type(c);
}

int console_log_path(const struct console *c, time_t now, char *out, size_t outlen)
{
    char devid[1024], name[4096];
    if (!c->cfg.log)
        return -ENOENT;
    conf_dev_id(c->cfg.dev, c->type, devid, sizeof(devid));
    struct conf_fmt v = {.name = c->cfg.name, .devid = devid, .pid = (long)getpid(), .now = now};
    if (conf_format(c->cfg.log, &v, name, sizeof(name)) < 0)
        return -ENAMETOOLONG;
    return logfile_resolve(c->hub->settings->logdir, c->hub->cwd, name, out, outlen);
}

/* Names the log file for now and opens it; with `if_due` only when that
 * name differs from the open one or the file was moved away, so a log
 * whose name did not change keeps its descriptor and gets no new header. */
static void open_log(struct console *c, bool truncate, bool if_due)
{
    char path[4096], err[512];
    time_t now = time(NULL);
    if (!c->cfg.log || console_is_remote(c))
        return; /* a remote console is logged by its owner */
    if (console_log_path(c, now, path, sizeof(path)) < 0) {
        log_warn("Console [%s]: log name \"%s\" expands too long: not logged", c->cfg.name,
                 c->cfg.log);
        logfile_close(&c->log);
        return;
    }
    bool renamed = !c->log.path || strcmp(c->log.path, path) != 0;
    if (if_due && !renamed && !logfile_moved(&c->log))
        return;
    if (renamed && logfile_set_path(&c->log, path) < 0) {
        log_error("Console [%s]: out of memory naming its log", c->cfg.name);
        return;
    }
    if (logfile_open(&c->log, truncate, now, err, sizeof(err)) < 0 && err[0])
        log_warn("%s", err); /* empty: this failure was already reported */
}

static void poll_closed(uv_handle_t *h)
{
    free(h);
}

static void on_poll(uv_poll_t *p, int status, int events);

static void update_poll(struct console *c)
{
    if (!c->poll)
        return;
    int ev;
    if (c->state == CONSOLE_CONNECTING)
        ev = c->ops->connect_on_read ? UV_READABLE | UV_DISCONNECT : UV_WRITABLE;
    else
        ev = UV_READABLE | UV_DISCONNECT | (c->outlen ? UV_WRITABLE : 0);
    uv_poll_start(c->poll, ev, on_poll);
}

void console_drop_readers(struct console *c)
{
    while (c->nreaders)
        c->readers[c->nreaders - 1]->ops->gone(c->readers[c->nreaders - 1], c);
}

bool console_is_remote(const struct console *c)
{
    return c->type && c->type->remote;
}

void console_describe(const struct console *c, char *out, size_t outlen)
{
    if (c->ops && c->ops->describe)
        c->ops->describe(c, out, outlen);
    else
        snprintf(out, outlen, "\"%s\"", c->cfg.dev);
}

static void announce_up(struct console *c)
{
    char peer[512], when[32], text[1024];
    console_describe(c, peer, sizeof(peer));
    notice_short_time(time(NULL), when, sizeof(when));
    log_info("Console [%s] connected to %s", c->cfg.name, peer);
    snprintf(text, sizeof(text), "Console [%s] connected to %s at %s", c->cfg.name, peer, when);
    console_notify(c, text, NULL);
}

void console_up(struct console *c, int fd)
{
    if (fd != c->fd) {
        /* A type that manages its own session hands over its fd here. */
        c->fd = fd;
        c->poll = malloc(sizeof(*c->poll));
        if (!c->poll || uv_poll_init(c->hub->loop, c->poll, fd) < 0) {
            free(c->poll);
            c->poll = NULL;
            console_down(c, "cannot poll its descriptor");
            return;
        }
        c->poll->data = c;
    }
    c->state = CONSOLE_UP;
    c->up_since = time(NULL);
    c->stats.connects++;
    c->stats.since = c->up_since;
    c->quick = 0;
    console_unwait(c);
    announce_up(c);
    update_poll(c);
}

static void on_retry_timer(uv_timer_t *t);

/* Points the one timer at the earliest deadline. */
static void arm_retry_timer(struct console_hub *s)
{
    if (uv_is_active((uv_handle_t *)&s->retry_idle))
        return; /* a slice is pending: on_retry_idle re-arms when done */
    struct timerheap_node *top = timerheap_peek(&s->retries);
    if (!top) {
        uv_timer_stop(&s->retry_timer);
        return;
    }
    uint64_t now = uv_now(s->loop);
    uv_timer_start(&s->retry_timer, on_retry_timer, top->due > now ? top->due - now : 0, 0);
}

/* After a wake-up: this many retries this far apart (ms), then the
 * backoff goes on where it was. */
#define WAKE_RETRIES 5
#define WAKE_RETRY_MS 100

static void schedule_retry(struct console *c)
{
    struct console_hub *s = c->hub;
    if (c->closing || s->stopping)
        return;
    unsigned ms;
    if (c->quick) {
        c->quick--;
        ms = WAKE_RETRY_MS;
    } else {
        c->failures++;
        double rnd = (double)rand_r(&s->seed) / ((double)RAND_MAX + 1.0);
        ms = console_backoff_ms(c->failures, rnd);
    }
    log_debug("Console [%s] reconnect in %u ms (attempt %u)", c->cfg.name, ms, c->failures);
    if (timerheap_push(&s->retries, &c->retry, uv_now(s->loop) + ms) < 0) {
        log_error("Console [%s]: out of memory scheduling a reconnect", c->cfg.name);
        return;
    }
    if (c->retry.idx == 0)
        arm_retry_timer(s);
    if (c->ops && c->ops->await_dev)
        c->ops->await_dev(c, true);
}

void console_wake(struct console *c)
{
    struct console_hub *s = c->hub;
    if (c->closing || s->stopping || c->starting || c->state != CONSOLE_DOWN ||
        c->retry.idx == TIMERHEAP_NONE)
        return;
    c->quick = WAKE_RETRIES;
    log_debug("Console [%s]: its device appeared: reconnecting", c->cfg.name);
    if (timerheap_push(&s->retries, &c->retry, uv_now(s->loop)) == 0 && c->retry.idx == 0)
        arm_retry_timer(s);
}

void console_unwait(struct console *c)
{
    if (c->ops && c->ops->await_dev)
        c->ops->await_dev(c, false);
}

static void note_error(struct console *c, const char *why)
{
    snprintf(c->stats.last_error, sizeof(c->stats.last_error), "%s", why);
}

static void connect_now(struct console *c)
{
    char err[512] = "";
    bool connecting = false;
    if (console_is_remote(c))
        return; /* served by its owner: nothing to connect to */
    if (!c->ops) {
        log_error("Console [%s]: dev \"%s\" is no known console type (%s line %d)", c->cfg.name,
                  c->cfg.dev, c->hub->conf_path, c->cfg.line);
        return;
    }
    if (!c->type_ready && c->ops->init && c->ops->init(c) < 0) {
        log_error("Console [%s]: out of memory setting up its %s connection", c->cfg.name,
                  c->type->name);
        schedule_retry(c);
        return;
    }
    c->type_ready = true;
    c->stats.attempts++;
    int fd = c->ops->connect(c, &connecting, err, sizeof(err));
    if (fd == -EINPROGRESS) {
        c->state = CONSOLE_CONNECTING; /* the type calls console_up() later */
        return;
    }
    if (fd < 0) {
        /* The first failure is news; the retries are not (10,000 dead
         * consoles must not flood the server log). */
        log_msg(c->failures ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN, "%s",
                err[0] ? err : "console open failed");
        note_error(c, err[0] ? err : "console open failed");
        schedule_retry(c);
        return;
    }
    c->fd = fd;
    c->poll = malloc(sizeof(*c->poll));
    if (!c->poll || uv_poll_init(c->hub->loop, c->poll, fd) < 0) {
        free(c->poll);
        c->poll = NULL;
        close(fd);
        c->fd = -1;
        if (c->ops->disconnect)
            c->ops->disconnect(c);
        schedule_retry(c);
        return;
    }
    c->poll->data = c;
    if (connecting) {
        c->state = CONSOLE_CONNECTING;
        update_poll(c);
    } else {
        console_up(c, fd);
    }
}

/* Start-up and reconnect work is cut into slices of time, not of count, so
 * a client's request waits at most one slice behind 10,000 consoles
 * starting (each start creates a log file, which costs the kernel 50-100 us
 * on ext4). 0.2 ms lists 100 consoles about 1 ms sooner after a start than
 * 0.5 ms did and starts 1,000 no slower (bench/harness.py's set-up). */
#define RETRY_SLICE_NS 200000

/* Takes `c` off the retry heap (if it is there) and does what it waited
 * for: its first start, or a reconnect while it is down. */
static void run_waiting(struct console *c)
{
    struct console_hub *s = c->hub;
    timerheap_remove(&s->retries, &c->retry);
    if (c->starting) {
        c->starting = false;
        console_start(c, s->zero_logs);
    } else if (c->state == CONSOLE_DOWN && !c->closing) {
        connect_now(c);
    }
}

/* Runs due starts and reconnects for at most one slice (at least one of
 * them); true when due ones remain. */
static bool run_retry_slice(struct console_hub *s)
{
    uint64_t now = uv_now(s->loop), end = uv_hrtime() + RETRY_SLICE_NS;
    struct timerheap_node *top;
    while ((top = timerheap_peek(&s->retries)) && top->due <= now) {
        if (uv_hrtime() > end)
            return true;
        run_waiting((struct console *)((char *)top - offsetof(struct console, retry)));
    }
    return false;
}

static void on_retry_idle(uv_idle_t *h)
{
    struct console_hub *s = h->data;
    if (!run_retry_slice(s)) {
        uv_idle_stop(h);
        arm_retry_timer(s);
    }
}

/* What a slice leaves goes to an idle handle, not back to the timer:
 * libuv 1.44 (Debian 12) runs a timer re-armed with 0 again in the same
 * phase, before any I/O. An active idle handle runs once per turn and keeps
 * the poll from blocking, so clients are served between slices. */
static void on_retry_timer(uv_timer_t *t)
{
    struct console_hub *s = t->data;
    if (run_retry_slice(s)) {
        uv_timer_stop(t); /* a retry scheduled in the slice may have armed it */
        uv_idle_start(&s->retry_idle, on_retry_idle);
    } else
        arm_retry_timer(s);
}

void console_hub_init(struct console_hub *h, uv_loop_t *loop)
{
    h->loop = loop;
    uv_timer_init(loop, &h->retry_timer);
    h->retry_timer.data = h;
    uv_idle_init(loop, &h->retry_idle);
    h->retry_idle.data = h;
    uv_check_init(loop, &h->reaper);
    h->reaper.data = h;
    logcache_init(&h->logs, loop);
    h->logs.settings = &h->settings; /* rotation and budget */
}

void console_hub_close(struct console_hub *h)
{
    h->stopping = true;
    uv_close((uv_handle_t *)&h->retry_timer, NULL);
    uv_close((uv_handle_t *)&h->retry_idle, NULL);
    uv_close((uv_handle_t *)&h->reaper, NULL);
    logcache_stop(&h->logs);
}

void console_hub_release(struct console_hub *h)
{
    console_reap(h);
    timerheap_release(&h->retries);
    logcache_release(&h->logs);
}

void **console_hub_type_state(struct console_hub *h, const struct console_ops *ops)
{
    for (size_t i = 0; i < CONSOLE_HUB_TYPE_SLOTS; i++) {
        if (!h->type_state[i].ops)
            h->type_state[i].ops = ops;
        if (h->type_state[i].ops == ops)
            return &h->type_state[i].state;
    }
    return NULL;
}

int console_hub_reserve(struct console_hub *h, size_t n)
{
    return timerheap_reserve(&h->retries, n);
}

void console_start(struct console *c, bool truncate_log)
{
    open_log(c, truncate_log, false);
    connect_now(c);
}

void console_start_soon(struct console *c)
{
    struct console_hub *s = c->hub;
    c->starting = true;
    if (timerheap_push(&s->retries, &c->retry, uv_now(s->loop)) < 0) {
        c->starting = false;
        console_start(c, s->zero_logs);
        return;
    }
    if (c->retry.idx == 0)
        arm_retry_timer(s);
}

void console_kick(struct console *c)
{
    if (!c->closing && (c->starting || c->state == CONSOLE_DOWN))
        run_waiting(c);
}

void console_close_poll(uv_poll_t **poll, int *fd)
{
    if (*poll) {
        uv_poll_stop(*poll);
        uv_close((uv_handle_t *)*poll, poll_closed);
        *poll = NULL;
    }
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void close_fd(struct console *c)
{
    console_close_poll(&c->poll, &c->fd);
    c->outlen = 0;
}

void console_down(struct console *c, const char *why)
{
    bool was_up = c->state == CONSOLE_UP;
    char peer[512], when[32], up[32], text[1024];
    console_describe(c, peer, sizeof(peer));
    close_fd(c);
    if (c->ops && c->ops->disconnect)
        c->ops->disconnect(c);
    c->state = CONSOLE_DOWN;
    if (why)
        note_error(c, why);
    if (was_up) {
        c->stats.disconnects++;
        c->stats.since = time(NULL);
        long secs = (long)(time(NULL) - c->up_since);
        notice_delta(secs, up, sizeof(up));
        notice_short_time(time(NULL), when, sizeof(when));
        log_info("Console [%s] disconnected from %s after %s%s%s", c->cfg.name, peer, up,
                 why ? ": " : "", why ? why : "");
        snprintf(text, sizeof(text), "Console [%s] disconnected from %s after %s at %s",
                 c->cfg.name, peer, up, when);
        console_notify(c, text, NULL);
        if (secs >= 30)
            c->failures = 0; /* it ran a while: start the backoff over */
    } else if (why) {
        log_msg(c->failures ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
                "Console [%s] cannot connect to %s: %s", c->cfg.name, peer, why);
    }
    schedule_retry(c);
}

static void finish_connect(struct console *c)
{
    if (c->ops->finish) {
        char why[256] = "";
        int rc = c->ops->finish(c, why, sizeof(why));
        if (rc > 0)
            console_up(c, c->fd);
        else if (rc < 0)
            console_down(c, why);
        return;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        console_down(c, strerror(err));
        return;
    }
    console_up(c, c->fd);
}

/* Logged bytes to the console's event matcher (logfile_tap). */
static void tap_events(void *ctx, const char *buf, size_t len, uint64_t offset)
{
    struct console *c = ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct eventhub_feed f = {c->hub->events,    c->events,
                              c->cfg.name,       c->log.path,
                              c->log.generation, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000};
    eventhub_feed(&f, buf, len, offset);
}

static void deliver(struct console *c, const unsigned char *buf, size_t len)
{
    time_t now = time(NULL);
    c->stats.bytes_read += len;
    c->stats.last_output = now;
    /* Shipped first: an event found in these bytes follows its line in
     * the shipping stream. */
    if (c->hub->ship)
        shipper_feed(c->hub->ship, &c->shipline, c->cfg.name, buf, len);
    struct logfile_tap tap = {tap_events, c};
    logfile_write_tapped(&c->log, buf, len, now, c->events && c->hub->events ? &tap : NULL);
    for (size_t i = 0; i < c->nreaders; i++)
        c->readers[i]->ops->output(c->readers[i], buf, len);
}

/* Reads what the device has (a few reads, up to 64 KiB) and delivers it as
 * one batch: one log write and one send per client, not one per 4 KiB pty
 * read. */
static void read_device(struct console *c)
{
    unsigned char *buf = c->hub->devbuf;
    size_t have = 0;
    int err = -1; /* -1: still up; 0: end of file; > 0: errno */
    for (int rounds = 0; rounds < 16 && have < sizeof(c->hub->devbuf); rounds++) {
        size_t room = sizeof(c->hub->devbuf) - have;
        ssize_t n = c->ops->dev_read ? c->ops->dev_read(c, buf + have, room)
                                     : read(c->fd, buf + have, room);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0) {
            err = n < 0 ? errno : 0;
            break;
        }
        size_t len = (size_t)n;
        if (c->ops->filter_in)
            len = c->ops->filter_in(c, buf + have, len);
        have += len;
        /* A short read drained the socket or pty: asking again only earns
         * EAGAIN (the poll is level-triggered, so nothing is missed). A
         * library-backed type may hold more than the fd shows: keep going. */
        if ((size_t)n < room && !c->ops->dev_read)
            break;
    }
    if (have)
        deliver(c, buf, have);
    if (err >= 0 && c->state == CONSOLE_UP)
        console_down(c, err ? strerror(err) : "end of file");
}

void console_read_ready(struct console *c)
{
    if (c->state == CONSOLE_UP)
        read_device(c);
}

static void flush_out(struct console *c)
{
    while (c->outlen) {
        ssize_t n = c->ops->dev_write ? c->ops->dev_write(c, c->out, c->outlen)
                                      : write(c->fd, c->out, c->outlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            console_down(c, strerror(errno));
            return;
        }
        memmove(c->out, c->out + n, c->outlen - (size_t)n);
        c->outlen -= (size_t)n;
    }
    update_poll(c);
}

/* A pty (process console) is not: its errors come with the child's exit. */
static bool is_socket(const struct console *c)
{
    int type;
    socklen_t len = sizeof(type);
    return c->fd >= 0 && getsockopt(c->fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct console *c = p->data;
    if (c->state == CONSOLE_CONNECTING) {
        finish_connect(c);
        return;
    }
    if (status == UV_EBADF && is_socket(c)) {
        /* POLLERR (a reset, for one): libuv has stopped this poll, so a
         * console left up here would never be read again. The read reports
         * the socket's error after the bytes that came before it. */
        read_device(c);
        if (c->state == CONSOLE_UP && c->poll == p)
            console_down(c, "connection error");
        return;
    }
    if (status < 0 && status != UV_EBADF) {
        console_down(c, uv_strerror(status));
        return;
    }
    if (events & (UV_READABLE | UV_DISCONNECT))
        read_device(c);
    if (c->state == CONSOLE_UP && c->poll == p && (events & UV_WRITABLE))
        flush_out(c);
}

void console_queue_raw(struct console *c, const void *buf, size_t len)
{
    if (c->state != CONSOLE_UP || len == 0)
        return;
    if (!c->out) {
        c->out = malloc(CONSOLE_OUT_MAX);
        if (!c->out)
            return;
    }
    if (c->outlen + len > CONSOLE_OUT_MAX) {
        log_warn("Console [%s]: device not reading; dropped %zu bytes of input", c->cfg.name, len);
        return;
    }
    memcpy(c->out + c->outlen, buf, len);
    c->outlen += len;
    update_poll(c);
}

void console_write(struct console *c, const void *buf, size_t len)
{
    if (c->ops && c->ops->write)
        c->ops->write(c, buf, len);
    else
        console_queue_raw(c, buf, len);
}

void console_notify(struct console *c, const char *text, const struct console_reader *except)
{
    char msg[1200];
    size_t n = notice_format(msg, sizeof(msg), text);
    logfile_write_msg(&c->log, msg, n);
    for (size_t i = 0; i < c->nreaders; i++)
        if (c->readers[i] != except)
            c->readers[i]->ops->notice(c->readers[i], text);
}

int console_attach(struct console *c, struct console_reader *r)
{
    if (c->nreaders == c->capreaders) {
        size_t cap = c->capreaders ? c->capreaders * 2 : 4;
        struct console_reader **grown = realloc(c->readers, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        c->readers = grown;
        c->capreaders = cap;
    }
    c->readers[c->nreaders++] = r;
    return 0;
}

void console_detach(struct console *c, struct console_reader *r)
{
    for (size_t i = 0; i < c->nreaders; i++) {
        if (c->readers[i] == r) {
            c->readers[i] = c->readers[--c->nreaders];
            return;
        }
    }
}

void console_send_break(struct console *c)
{
    if (c->ops && c->ops->send_break)
        c->ops->send_break(c);
}

void console_refresh_log(struct console *c)
{
    open_log(c, false, true);
}

void console_child_exited(struct console *c, int status)
{
    c->pid = 0;
    if (c->state == CONSOLE_UP || c->state == CONSOLE_CONNECTING) {
        char why[64];
        if (WIFEXITED(status))
            snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
        else
            snprintf(why, sizeof(why), "signal %d", WTERMSIG(status));
        /* Output still in the pty is read before the console goes down. */
        if (c->state == CONSOLE_UP && c->fd >= 0)
            read_device(c);
        if (c->state != CONSOLE_DOWN)
            console_down(c, why);
    }
}

static void console_free(struct console *c)
{
    logfile_release(&c->log);
    console_events_free(c->events);
    conf_console_release(&c->cfg);
    free(c->out);
    free(c->readers);
    free(c->shipline);
    free(c);
}

void console_free_unstarted(struct console *c)
{
    console_free(c);
}

void console_reap(struct console_hub *hub)
{
    while (hub->dead) {
        struct console *c = hub->dead;
        hub->dead = c->next_dead;
        console_free(c);
    }
    if (!uv_is_closing((uv_handle_t *)&hub->reaper))
        uv_check_stop(&hub->reaper);
}

static void on_reap(uv_check_t *h)
{
    console_reap(h->data);
}

void console_destroy(struct console *c)
{
    c->closing = true;
    console_unwait(c);
    console_drop_readers(c);
    close_fd(c);
    if (c->ops && c->ops->disconnect)
        c->ops->disconnect(c);
    if (c->ops && c->ops->release)
        c->ops->release(c);
    c->state = CONSOLE_DOWN;
    timerheap_remove(&c->hub->retries, &c->retry);
    logfile_flush(&c->log);
    /* Freed after this turn: callers up the stack may still hold it. */
    c->next_dead = c->hub->dead;
    c->hub->dead = c;
    if (!uv_is_closing((uv_handle_t *)&c->hub->reaper))
        uv_check_start(&c->hub->reaper, on_reap);
}
