/* A WebSocket connection driven by the loop: wslay asks to read or write,
 * a uv_poll on the socket says when it can. */
#include "conmand/http/websocket.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_REASON_MAX 123 /* a close frame's 125 bytes less its code */
/* What a draining connection reads and drops at most (start_draining). */
#define WS_DRAIN_MAX (1024 * 1024)

struct ws {
    uv_poll_t poll;
    uv_timer_t timer; /* the extra bytes' first read, then WS_CLOSE_MS */
    int handles;      /* open libuv handles: freed at 0 */
    int fd;
    int events; /* what the poll waits for */
    wslay_event_context_ptr ctx;
    char *extra; /* read past the handshake, taken before the socket */
    size_t extralen, extraoff;
    const struct ws_ops *ops;
    void *cbctx;
    void (*release)(void *);
    void *release_arg;
    bool ended;
    bool broken; /* a send failed in ws_send(): ended from the timer */
    /* ws_close() was called: the close frame goes once the messages before
     * it are out (wslay sends control frames first). */
    bool closing;
    uint16_t close_code;
    char close_reason[WS_REASON_MAX + 1];
    /* Our close frame is out, theirs will not be read: input is dropped
     * until the browser closes (start_draining). */
    bool draining;
    size_t drained;
    char drain_why[64];
};

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    struct ws *w = user;
    if (w->extraoff < w->extralen) {
        size_t n = w->extralen - w->extraoff < len ? w->extralen - w->extraoff : len;
        memcpy(buf, w->extra + w->extraoff, n);
        w->extraoff += n;
        return (ssize_t)n;
    }
    ssize_t n;
    do
        n = recv(w->fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return n;
    bool later = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    wslay_event_set_error(ctx, later ? WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    struct ws *w = user;
    ssize_t n;
    do
        n = send(w->fd, data, len, MSG_NOSIGNAL | (flags & WSLAY_MSG_MORE ? MSG_MORE : 0));
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    bool later = errno == EAGAIN || errno == EWOULDBLOCK;
    wslay_event_set_error(ctx, later ? WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    (void)ctx;
    struct ws *w = user;
    if (!w->ended && !wslay_is_ctrl_frame(arg->opcode))
        w->ops->message(w->cbctx, arg->msg, arg->msg_length);
}

static void closed_cb(uv_handle_t *h)
{
    struct ws *w = h->data;
    if (--w->handles == 0) {
        wslay_event_context_free(w->ctx);
        free(w->extra);
        free(w);
    }
}

/* Lets go of the socket and the handles; tells the owner unless aborted. */
static void finish(struct ws *w, const char *why, bool tell)
{
    if (w->ended)
        return;
    w->ended = true;
    uv_poll_stop(&w->poll); /* out of epoll before the socket goes */
    w->release(w->release_arg);
    uv_close((uv_handle_t *)&w->poll, closed_cb);
    uv_close((uv_handle_t *)&w->timer, closed_cb);
    if (tell)
        w->ops->ended(w->cbctx, why);
}

static void on_poll(uv_poll_t *p, int status, int events);
static void on_timer(uv_timer_t *t);

static void on_drain(uv_poll_t *p, int status, int events)
{
    (void)events;
    struct ws *w = p->data;
    char buf[4096];
    ssize_t n;
    while ((n = recv(w->fd, buf, sizeof(buf), 0)) > 0 && w->drained < WS_DRAIN_MAX)
        w->drained += (size_t)n;
    bool later = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    if (status < 0 || !later || w->drained >= WS_DRAIN_MAX)
        finish(w, w->drain_why, true);
}

/* wslay sent our close frame and reads no more (a message past WS_IN_MAX
 * fails the connection with 1009 in the middle of it). Closing the socket
 * now, with the rest of the browser's input unread, would send a reset,
 * which can destroy the close frame before the browser reads it (it then
 * sees 1006, no reason). So: FIN after the frame, then read and drop until
 * the browser closes, at most WS_CLOSE_MS and WS_DRAIN_MAX bytes. */
static void start_draining(struct ws *w)
{
    w->draining = true;
    snprintf(w->drain_why, sizeof(w->drain_why), "closed by conmand (code %u)",
             (unsigned)wslay_event_get_status_code_sent(w->ctx));
    shutdown(w->fd, SHUT_WR);
    if (uv_poll_start(&w->poll, UV_READABLE, on_drain) < 0) {
        finish(w, w->drain_why, true);
        return;
    }
    uv_timer_start(&w->timer, on_timer, WS_CLOSE_MS, 0);
}

/* Waits for what wslay wants next; nothing more: the connection is over
 * (both close frames have passed, or an error). */
static void update(struct ws *w)
{
    if (w->ended || w->broken || w->draining)
        return;
    if (w->closing && !wslay_event_get_close_sent(w->ctx) &&
        wslay_event_get_queued_msg_count(w->ctx) == 0)
        wslay_event_queue_close(w->ctx, w->close_code, (const uint8_t *)w->close_reason,
                                strlen(w->close_reason));
    int want = (wslay_event_want_read(w->ctx) ? UV_READABLE : 0) |
               (wslay_event_want_write(w->ctx) ? UV_WRITABLE : 0);
    if (!want && wslay_event_get_close_sent(w->ctx) && !wslay_event_get_close_received(w->ctx)) {
        start_draining(w);
        return;
    }
    if (!want) {
        finish(w, wslay_event_get_close_received(w->ctx) ? "closed" : "connection lost", true);
        return;
    }
    if (want != w->events && uv_poll_start(&w->poll, want, on_poll) == 0)
        w->events = want;
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct ws *w = p->data;
    if (status < 0) {
        finish(w, uv_strerror(status), true);
        return;
    }
    if ((events & UV_READABLE) && wslay_event_recv(w->ctx) != 0) {
        finish(w, "connection lost", true);
        return;
    }
    if (!w->ended && (events & UV_WRITABLE) && wslay_event_send(w->ctx) != 0) {
        finish(w, "connection lost", true);
        return;
    }
    update(w);
}

static void on_timer(uv_timer_t *t)
{
    struct ws *w = t->data;
    if (w->draining) {
        finish(w, w->drain_why, true);
        return;
    }
    if (w->broken) {
        finish(w, "connection lost", true);
        return;
    }
    if (w->closing) {
        finish(w, "close not answered", true);
        return;
    }
    /* The bytes read with the handshake: the poll would not see them. */
    if (wslay_event_recv(w->ctx) != 0) {
        finish(w, "connection lost", true);
        return;
    }
    update(w);
}

struct ws *ws_open(uv_loop_t *loop, int fd, const char *extra, size_t extralen,
                   const struct ws_ops *ops, void *ctx, void (*release)(void *arg),
                   void *release_arg)
{
    static const struct wslay_event_callbacks cbs = {
        .recv_callback = recv_cb, .send_callback = send_cb, .on_msg_recv_callback = on_msg};
    struct ws *w = calloc(1, sizeof(*w));
    if (w && extralen && !(w->extra = malloc(extralen))) {
        free(w);
        w = NULL;
    }
    if (!w || wslay_event_context_server_init(&w->ctx, &cbs, w) != 0 ||
        uv_poll_init_socket(loop, &w->poll, fd) != 0) {
        if (w)
            wslay_event_context_free(w->ctx);
        free(w ? w->extra : NULL);
        free(w);
        release(release_arg);
        return NULL;
    }
    if (extralen)
        memcpy(w->extra, extra, extralen);
    wslay_event_config_set_max_recv_msg_length(w->ctx, WS_IN_MAX);
    w->fd = fd;
    w->extralen = extralen;
    w->ops = ops;
    w->cbctx = ctx;
    w->release = release;
    w->release_arg = release_arg;
    uv_timer_init(loop, &w->timer);
    w->poll.data = w->timer.data = w;
    w->handles = 2;
    if (extralen)
        uv_timer_start(&w->timer, on_timer, 0, 0);
    update(w);
    return w;
}

size_t ws_queued(const struct ws *w)
{
    return wslay_event_get_queued_msg_length(w->ctx);
}

int ws_send(struct ws *w, const void *buf, size_t len)
{
    if (w->ended || w->closing || w->draining)
        return -EPIPE;
    if (ws_queued(w) + len > WS_OUT_MAX)
        return -ENOBUFS;
    struct wslay_event_msg m = {WSLAY_BINARY_FRAME, buf, len};
    if (wslay_event_queue_msg(w->ctx, &m) != 0)
        return -ENOMEM;
    /* Out now, while the socket takes it: waiting for the poll to say
     * writable would cost two epoll changes per message. A failure ends
     * the connection from the timer, not under the caller's feet. */
    if (!w->broken && wslay_event_send(w->ctx) != 0) {
        w->broken = true;
        uv_timer_start(&w->timer, on_timer, 0, 0);
        return 0;
    }
    update(w);
    return 0;
}

void ws_close(struct ws *w, uint16_t code, const char *reason)
{
    if (w->ended || w->closing || w->draining)
        return;
    w->closing = true;
    w->close_code = code;
    snprintf(w->close_reason, sizeof(w->close_reason), "%s", reason);
    uv_timer_start(&w->timer, on_timer, WS_CLOSE_MS, 0);
    update(w);
}

void ws_abort(struct ws *w)
{
    finish(w, "aborted", false);
}

int ws_accept_key(const char *key, char out[29])
{
    /* 16 random bytes in base64: 22 characters and "==". */
    if (strlen(key) != 24 || key[22] != '=' || key[23] != '=')
        return -EINVAL;
    for (size_t i = 0; i < 22; i++) {
        char c = key[i];
        bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '+' || c == '/';
        if (!b64)
            return -EINVAL;
    }
    char joined[24 + sizeof(WS_GUID)];
    memcpy(joined, key, 24);
    memcpy(joined + 24, WS_GUID, sizeof(WS_GUID) - 1);
    /* GnuTLS: libmicrohttpd has it mapped already (HTTPS). */
    unsigned char md[20];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA1, joined, sizeof(joined) - 1, md) < 0)
        return -EINVAL;
    gnutls_datum_t raw = {md, sizeof(md)}, b64 = {NULL, 0};
    if (gnutls_base64_encode2(&raw, &b64) < 0)
        return -ENOMEM;
    int rc = b64.size == 28 ? 0 : -EINVAL; /* 20 bytes: 28 characters */
    if (rc == 0) {
        memcpy(out, b64.data, 28);
        out[28] = '\0';
    }
    gnutls_free(b64.data);
    return rc;
}

bool ws_origin_ok(const char *origin, const char *host, bool tls)
{
    if (!origin)
        return true;
    const char *scheme = tls ? "https://" : "http://";
    size_t n = strlen(scheme);
    return host && !strncasecmp(origin, scheme, n) && !strcasecmp(origin + n, host);
}

int ws_console_path(const char *url, char *name, size_t namelen)
{
    static const char head[] = "/consoles/", tail[] = "/ws";
    size_t len = strlen(url), h = sizeof(head) - 1, t = sizeof(tail) - 1;
    if (len <= h + t || strncmp(url, head, h) || strcmp(url + len - t, tail))
        return -EINVAL;
    size_t n = len - h - t;
    if (n >= namelen)
        return -EINVAL;
    memcpy(name, url + h, n);
    name[n] = '\0';
    return 0;
}
