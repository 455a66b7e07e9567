/* One WebSocket connection on the event loop, over a socket the HTTP port
 * upgraded (RFC 6455): wslay does the framing, pings and the closing
 * handshake; this file does the I/O on libuv and the bounds. What is
 * queued for the peer is bounded (WS_OUT_MAX): past it ws_send() refuses,
 * so that the sender can drop a peer that does not read instead of
 * growing. Loop thread only. Also the handshake's pure parts. */
#ifndef CONMAND_HTTP_WEBSOCKET_H
#define CONMAND_HTTP_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Bytes queued for one peer and not yet taken by the kernel: a console's
 * 64 KiB log tail plus three times as much live output. */
#define WS_OUT_MAX (256 * 1024)
/* Longest message taken from a peer (keystrokes, a paste). */
#define WS_IN_MAX (64 * 1024)
/* A close frame the peer does not answer ends the connection anyway. */
#define WS_CLOSE_MS 5000

/* RFC 6455 close codes we send, and ours in the private range. */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_NO_CONSOLE 4404
#define WS_CLOSE_REFUSED 4000 /* + the conman protocol's error code */

/* What a connection tells its owner (ctx). */
struct ws_ops {
    /* A text or binary message from the peer. */
    void (*message)(void *ctx, const unsigned char *buf, size_t len);
    /* The connection is over (closed, lost or timed out; `why` says
     * which); the ws is gone once this returns. */
    void (*ended)(void *ctx, const char *why);
};

struct ws;

/* Speaks WebSocket on `fd` (not closed here: `release(release_arg)` lets
 * go of it, once, when the connection ends), starting with the `extra`
 * bytes already read past the handshake (copied). Returns NULL when out
 * of memory, after calling release. */
struct ws *ws_open(uv_loop_t *loop, int fd, const char *extra, size_t extralen,
                   const struct ws_ops *ops, void *ctx, void (*release)(void *arg),
                   void *release_arg);

/* Queues one binary message (copied). Returns 0, -ENOBUFS when it would
 * take the queue past WS_OUT_MAX (nothing queued), -EPIPE once closing,
 * or -ENOMEM. */
int ws_send(struct ws *w, const void *buf, size_t len);

/* Bytes queued and not yet sent. */
size_t ws_queued(const struct ws *w);

/* Sends a close frame (`reason` cut to the 123 bytes a frame holds); the
 * connection ends when the peer answers or after WS_CLOSE_MS. */
void ws_close(struct ws *w, uint16_t code, const char *reason);

/* Ends the connection now, without a close frame and without `ended`. */
void ws_abort(struct ws *w);

/* The handshake (pure). Sec-WebSocket-Accept for the client's key:
 * base64(SHA-1(key + the RFC's GUID)), 28 characters and a NUL. Returns
 * 0, or -EINVAL when `key` is not 16 bytes in base64. */
int ws_accept_key(const char *key, char out[29]);

/* True when a browser's Origin is the page's own: "http://HOST" (or
 * "https://" when `tls`) for the request's Host header, compared without
 * regard to case. A request without Origin is not from a page (browsers
 * always send it on a WebSocket), so it passes. */
bool ws_origin_ok(const char *origin, const char *host, bool tls);

/* The console a WebSocket path names: "/consoles/NAME/ws" (the URL as
 * already unescaped) into `name`. Returns 0, or -EINVAL when the path has
 * another shape or the name is empty or does not fit. */
int ws_console_path(const char *url, char *name, size_t namelen);

#endif
