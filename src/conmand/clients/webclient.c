/* Web viewers: a WebSocket on one side, a client session's socketpair on
 * the other, and the session's two reply lines read in between. */
#include "conmand/clients/webclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "conmand/clients/proto.h"
#include "conmand/consoles/registry.h"
#include "conmand/http/websocket.h"

#define REPLY_MAX 2048 /* the greeting's OK and the request's reply */

struct webclient {
    struct web_hub *wh;
    struct ws *ws;  /* NULL once it ended */
    uv_pipe_t pipe; /* our end of the session's socketpair */
    bool pipe_open; /* uv_pipe_init'd: closed before the viewer is freed */
    bool session;   /* client_adopt() took it: keystrokes may go */
    bool answered;  /* the two reply lines are read: the rest is output */
    char reply[REPLY_MAX];
    size_t replylen;
    int lines; /* reply lines read so far */
    /* Keystroke messages taken for the session and their bytes, for the
     * "left" log line: whether a browser's typing reached us at all. */
    unsigned long typed_msgs, typed_bytes;
    char console[256];
    enum httpd_ws_mode mode;
    char host[64];
    int port;
    struct webclient *prev, *next;
};

static void unlink_viewer(struct webclient *wc)
{
    struct web_hub *wh = wc->wh;
    if (wc->prev)
        wc->prev->next = wc->next;
    else
        wh->list = wc->next;
    if (wc->next)
        wc->next->prev = wc->prev;
    wh->stats.viewers--;
}

static void pipe_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Both sides are done: the session sees its socketpair close. */
static void free_viewer(struct webclient *wc)
{
    unlink_viewer(wc);
    if (wc->pipe_open)
        uv_close((uv_handle_t *)&wc->pipe, pipe_closed);
    else
        free(wc);
}

/* The session is over (or never began): the browser is told why. */
static void end_session(struct webclient *wc, uint16_t code, const char *why)
{
    if (wc->pipe_open)
        uv_read_stop((uv_stream_t *)&wc->pipe);
    if (wc->ws)
        ws_close(wc->ws, code, why);
}

static void to_browser(struct webclient *wc, const char *buf, size_t len)
{
    if (!len || !wc->ws)
        return;
    int rc = ws_send(wc->ws, buf, len);
    if (rc == -ENOBUFS) {
        wc->wh->stats.dropped_slow++;
        log_warn("Web viewer <%s:%d> of console [%s] too slow: %d KiB of output unsent; dropped",
                 wc->host, wc->port, wc->console, WS_OUT_MAX / 1024);
        char why[96];
        snprintf(why, sizeof(why), "viewer too slow: %d KiB of output unsent", WS_OUT_MAX / 1024);
        end_session(wc, WS_CLOSE_POLICY, why);
    } else if (rc == -ENOMEM)
        end_session(wc, WS_CLOSE_POLICY, "out of memory");
}

/* The session's replies: "OK" to the greeting, then "OK CONSOLE=..." or
 * "ERROR CODE=n MESSAGE='text'". Returns the bytes of `buf` consumed, or
 * -1 once the session is refused. */
static long read_reply(struct webclient *wc, const char *buf, size_t len)
{
    size_t used = 0;
    while (!wc->answered && used < len) {
        const char *nl = memchr(buf + used, '\n', len - used);
        size_t n = nl ? (size_t)(nl - (buf + used)) + 1 : len - used;
        if (wc->replylen + n >= sizeof(wc->reply)) {
            end_session(wc, WS_CLOSE_POLICY, "session reply too long");
            return -1;
        }
        memcpy(wc->reply + wc->replylen, buf + used, n);
        wc->replylen += n;
        used += n;
        if (!nl)
            break;
        wc->reply[wc->replylen - 1] = '\0';
        char why[128];
        int code = proto_parse_reply(wc->reply, why, sizeof(why));
        if (code > 0) {
            log_info("Web viewer <%s:%d> of console [%s] refused: %s", wc->host, wc->port,
                     wc->console, why);
            end_session(wc, (uint16_t)(WS_CLOSE_REFUSED + code), why);
            return -1;
        }
        wc->replylen = 0;
        wc->answered = ++wc->lines == 2;
    }
    return (long)used;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct webclient *wc = h->data;
    /* One scratch for all: one loop thread, and a read is sent (copied)
     * before the next. */
    *buf = uv_buf_init(wc->wh->readbuf, sizeof(wc->wh->readbuf));
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct webclient *wc = st->data;
    if (nread < 0) {
        end_session(wc, WS_CLOSE_GOING_AWAY, "console session ended");
        return;
    }
    long used = wc->answered ? 0 : read_reply(wc, buf->base, (size_t)nread);
    if (used >= 0)
        to_browser(wc, buf->base + used, (size_t)nread - (size_t)used);
}

static void write_cb(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

/* Keystrokes to the session: 0xFF doubled, so no byte a browser sends is
 * an escape command (the reset, a join from a monitor). */
static void on_message(void *ctx, const unsigned char *buf, size_t len)
{
    struct webclient *wc = ctx;
    /* Not `answered`: the session began in client_adopt(), so what is
     * typed before its reply lines are read is already its input. */
    if (wc->mode == HTTPD_WS_MONITOR || !wc->session || !len)
        return;
    if (wc->typed_msgs++ == 0) /* once a viewer: who typed into a console */
        log_info("Web viewer <%s:%d> is typing into console [%s]", wc->host, wc->port, wc->console);
    wc->typed_bytes += len;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&wc->pipe) + 2 * len > WEB_INPUT_MAX) {
        end_session(wc, WS_CLOSE_POLICY, "input faster than the console takes it");
        return;
    }
    struct {
        uv_write_t req;
        unsigned char data[];
    } *w = malloc(sizeof(*w) + 2 * len);
    if (!w)
        return;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        w->data[n++] = buf[i];
        if (buf[i] == PROTO_ESC)
            w->data[n++] = PROTO_ESC;
    }
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&wc->pipe, &b, 1, write_cb) < 0)
        free(w);
}

static void on_ended(void *ctx, const char *why)
{
    struct webclient *wc = ctx;
    if (wc->mode == HTTPD_WS_MONITOR)
        log_info("Web viewer <%s:%d> of console [%s] left: %s", wc->host, wc->port, wc->console,
                 why);
    else
        log_info("Web viewer <%s:%d> of console [%s] left: %s (typed %lu bytes in %lu messages)",
                 wc->host, wc->port, wc->console, why, wc->typed_bytes, wc->typed_msgs);
    wc->ws = NULL;
    free_viewer(wc);
}

static const struct ws_ops ws_ops = {.message = on_message, .ended = on_ended};

/* The log's end, for the browser before the live output. Read in the
 * same loop turn as the session attaches (client_adopt), so that no byte
 * falls between them; logfile_tail() writes out what is pending first. */
static void replay(struct webclient *wc, struct console *c)
{
    if (console_is_remote(c) || !c->log.path)
        return;
    char *buf = malloc(WEB_REPLAY_MAX);
    long n = buf ? logfile_tail(&c->log, buf, WEB_REPLAY_MAX) : -ENOMEM;
    if (n > 0)
        to_browser(wc, buf, (size_t)n);
    free(buf);
}

/* The session's greeting and request, as the stock client sends them. */
static int start_session(struct webclient *wc, struct client_hub *hub, int fd)
{
    struct proto_req req = {.cmd = wc->mode == HTTPD_WS_MONITOR ? PROTO_CMD_MONITOR
                                                                : PROTO_CMD_CONNECT,
                            .join = wc->mode == HTTPD_WS_JOIN,
                            .force = wc->mode == HTTPD_WS_FORCE};
    snprintf(req.user, sizeof(req.user), "web");
    snprintf(req.tty, sizeof(req.tty), "browser");
    const char *names[] = {wc->console};
    char *lines = NULL;
    size_t len = 0;
    int rc = proto_format_relay(&req, NULL, names, 1, &lines, &len);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    rc = client_adopt(hub, fd, wc->host, wc->port, lines, len);
    free(lines);
    return rc;
}

/* The socketpair, our end on the loop; the other end into *fd. */
static int open_pipe(struct webclient *wc, uv_loop_t *loop, int *fd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    uv_pipe_init(loop, &wc->pipe, 0);
    wc->pipe.data = wc;
    wc->pipe_open = true;
    int rc = uv_pipe_open(&wc->pipe, sv[0]);
    if (rc < 0) {
        close(sv[0]);
        close(sv[1]);
        return rc;
    }
    *fd = sv[1];
    return 0;
}

void webclient_open(struct web_hub *wh, struct httpd_upgrade *up)
{
    struct client_hub *hub = wh->clients;
    struct webclient *wc = calloc(1, sizeof(*wc));
    if (!wc) {
        httpd_upgrade_release(up);
        return;
    }
    wc->wh = wh;
    wc->mode = up->mode;
    snprintf(wc->console, sizeof(wc->console), "%s", up->console);
    snprintf(wc->host, sizeof(wc->host), "%s", up->host);
    wc->port = up->port;
    wc->ws =
        ws_open(hub->loop, up->fd, up->extra, up->extralen, &ws_ops, wc, httpd_upgrade_release, up);
    if (!wc->ws) {
        free(wc);
        return;
    }
    wc->next = wh->list;
    if (wh->list)
        wh->list->prev = wc;
    wh->list = wc;
    wh->stats.viewers++;
    wh->stats.opened++;
    struct console *c = registry_find(hub->consoles, wc->console);
    char why[300];
    if (!c) {
        snprintf(why, sizeof(why), "no console named %.100s", wc->console);
        end_session(wc, WS_CLOSE_NO_CONSOLE, why);
        return;
    }
    int fd = -1;
    int rc = open_pipe(wc, hub->loop, &fd);
    if (rc == 0) {
        replay(wc, c);
        rc = start_session(wc, hub, fd);
    }
    if (rc < 0) {
        snprintf(why, sizeof(why), "cannot start the session: %s", strerror(-rc));
        log_warn("Web viewer <%s:%d> of console [%s]: %s", wc->host, wc->port, wc->console, why);
        end_session(wc, WS_CLOSE_POLICY, why);
        return;
    }
    wc->session = true;
    uv_read_start((uv_stream_t *)&wc->pipe, alloc_cb, read_cb);
    log_info("Web viewer <%s:%d> opened console [%s] (%s)", wc->host, wc->port, wc->console,
             httpd_ws_mode_names[wc->mode]);
}

void webclient_close_all(struct web_hub *wh)
{
    while (wh->list) {
        struct webclient *wc = wh->list;
        struct ws *w = wc->ws;
        wc->ws = NULL;
        ws_abort(w); /* no `ended`: freed here */
        free_viewer(wc);
    }
}
