/* libFuzzer harness for the web console's WebSocket (http/websocket.c over
 * wslay): the input is what a browser sends after the handshake, given as
 * the bytes read with it (the `extra` path), then the socket's end. The
 * loop runs until the connection ends, bounded in turns. Every message
 * handed on is at most WS_IN_MAX and is echoed back (ws_send's bound);
 * the socket is released exactly once. The input's first line also goes
 * to the handshake's pure parts. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conmand/http/websocket.h"
#include "fuzz_common.h"

struct run {
    struct ws *ws;
    int releases, ended;
};

static void on_message(void *ctx, const unsigned char *buf, size_t len)
{
    struct run *r = ctx;
    FUZZ_CHECK(len <= WS_IN_MAX);
    int rc = ws_send(r->ws, buf, len);
    FUZZ_CHECK(rc == 0 || rc == -ENOBUFS || rc == -EPIPE);
    if (len && buf[0] == 'q')
        ws_close(r->ws, WS_CLOSE_NORMAL, (const char *)"bye");
}

static void on_ended(void *ctx, const char *why)
{
    struct run *r = ctx;
    FUZZ_CHECK(why && *why);
    r->ended++;
}

static void on_release(void *arg)
{
    struct run *r = arg;
    r->releases++;
}

static void handshake_parts(const uint8_t *data, size_t size)
{
    char *s = fuzz_text(data, size, 4096);
    if (!s)
        return;
    fuzz_split_line(s);
    char accept[29], name[64];
    if (ws_accept_key(s, accept) == 0)
        FUZZ_CHECK(strlen(accept) == 28);
    if (ws_console_path(s, name, sizeof(name)) == 0)
        FUZZ_CHECK(strlen(name) > 0 && strlen(name) < sizeof(name));
    (void)ws_origin_ok(s, "127.0.0.1:8080", false);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    handshake_parts(data, size);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    shutdown(sv[1], SHUT_WR); /* after the input, the browser's end: EOF */
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const struct ws_ops ops = {.message = on_message, .ended = on_ended};
    struct run r = {0};
    r.ws = ws_open(&loop, sv[0], (const char *)data, size, &ops, &r, on_release, &r);
    for (int turn = 0; turn < 200 && r.ws && !r.ended; turn++)
        uv_run(&loop, UV_RUN_NOWAIT);
    if (r.ws && !r.ended)
        ws_abort(r.ws);            /* still closing: the close timer is 5 s */
    uv_run(&loop, UV_RUN_DEFAULT); /* the handles' close callbacks */
    FUZZ_CHECK(r.releases == 1);
    FUZZ_CHECK(r.ended <= 1);
    uv_loop_close(&loop);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
