/* libFuzzer harness for the telnet stream of telnet consoles (telnet.h):
 * what a terminal server sends goes through telnet_rx_filter() whole and in
 * pieces (the state must carry across reads), the replies must be
 * well-formed and never repeated, and data escaped by telnet_tx_escape()
 * must come back unchanged through a fresh receiver. Input: a knob byte
 * (piece size), then the bytes. */
#include "conmand/consoles/telnet.h"
#include "fuzz_common.h"

struct sink {
    unsigned char *buf;
    size_t len, cap;
    size_t calls;
};

static void put(void *ctx, const unsigned char *buf, size_t len)
{
    struct sink *s = ctx;
    FUZZ_CHECK(len > 0 && s->len + len <= s->cap);
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    s->calls++;
}

/* Replies: whole IAC verb option triples with a verb the peer acts on,
 * never the same answer twice in a row for one option and direction (a
 * negotiation loop). */
static void check_replies(const struct sink *r)
{
    unsigned char last[2][256] = {{0}};
    FUZZ_CHECK(r->len % 3 == 0 && r->len == r->calls * 3);
    for (size_t i = 0; i < r->len; i += 3) {
        unsigned char verb = r->buf[i + 1], opt = r->buf[i + 2];
        FUZZ_CHECK(r->buf[i] == TELNET_IAC);
        FUZZ_CHECK(verb >= TELNET_WILL && verb <= TELNET_DONT);
        int dir = verb == TELNET_DO || verb == TELNET_DONT ? 0 : 1;
        FUZZ_CHECK(last[dir][opt] != verb);
        last[dir][opt] = verb;
    }
}

static size_t filter_pieces(unsigned char *buf, size_t len, size_t chunk, struct sink *r)
{
    struct telnet_rx rx = {0};
    size_t out = 0;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        size_t got = telnet_rx_filter(&rx, buf + off, n, put, r);
        FUZZ_CHECK(got <= n);
        memmove(buf + out, buf + off, got);
        out += got;
    }
    return out;
}

static void round_trip(const uint8_t *data, size_t len)
{
    struct sink esc = {malloc(2 * len + 1), 0, 2 * len + 1, 0};
    struct sink none = {NULL, 0, 0, 0};
    FUZZ_CHECK(esc.buf != NULL);
    telnet_tx_escape(data, len, put, &esc);
    struct telnet_rx rx = {0};
    size_t got = telnet_rx_filter(&rx, esc.buf, esc.len, put, &none);
    FUZZ_CHECK(got == len && memcmp(esc.buf, data, len) == 0 && rx.state == 0);
    free(esc.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    size_t len = size - 1;
    size_t chunk = (size_t)(data[0] % 32) + 1;
    unsigned char *a = malloc(len + 1), *b = malloc(len + 1);
    FUZZ_CHECK(a && b);
    memcpy(a, data + 1, len);
    memcpy(b, data + 1, len);
    /* At most one reply per option byte, three bytes each. */
    struct sink ra = {malloc(3 * len + 1), 0, 3 * len + 1, 0};
    struct sink rb = {malloc(3 * len + 1), 0, 3 * len + 1, 0};
    FUZZ_CHECK(ra.buf && rb.buf);

    struct telnet_rx rx = {0};
    size_t whole = telnet_rx_filter(&rx, a, len, put, &ra);
    FUZZ_CHECK(whole <= len);
    size_t pieces = filter_pieces(b, len, chunk, &rb);
    FUZZ_CHECK(whole == pieces && memcmp(a, b, whole) == 0);
    FUZZ_CHECK(ra.len == rb.len && memcmp(ra.buf, rb.buf, ra.len) == 0);
    check_replies(&ra);
    round_trip(data + 1, len);

    free(a);
    free(b);
    free(ra.buf);
    free(rb.buf);
    return 0;
}
