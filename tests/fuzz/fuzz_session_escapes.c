/* libFuzzer harness for the in-band escapes of a client session
 * (proto_unescape): what a client types is decoded whole and in pieces of
 * every size the knob picks (a pending 0xFF must carry across reads), in
 * place as client.c does it, and checked against a one-pass model: the same
 * console bytes in the same order, the same commands between them, no byte
 * invented or lost. Input: a knob byte (piece size), then the keystrokes. */
#include "conmand/clients/proto.h"
#include "fuzz_common.h"

/* A decoded stream: console bytes, with each command recorded as the
 * offset in the bytes where it came and its letter. */
struct decoded {
    unsigned char *bytes;
    size_t nbytes;
    size_t *cmd_at;
    int *cmd;
    size_t ncmds;
};

static void decoded_init(struct decoded *d, size_t len)
{
    d->bytes = malloc(len + 1);
    d->cmd_at = malloc((len + 1) * sizeof(*d->cmd_at));
    d->cmd = malloc((len + 1) * sizeof(*d->cmd));
    if (!d->bytes || !d->cmd_at || !d->cmd)
        abort();
    d->nbytes = d->ncmds = 0;
}

static void decoded_free(struct decoded *d)
{
    free(d->bytes);
    free(d->cmd_at);
    free(d->cmd);
}

/* The protocol as shared/reference/conman-protocol.md states it. */
static void model(const uint8_t *in, size_t len, struct decoded *d, bool *pending)
{
    bool esc = false;
    for (size_t i = 0; i < len; i++) {
        if (esc) {
            esc = false;
            if (in[i] == PROTO_ESC) {
                d->bytes[d->nbytes++] = in[i];
            } else {
                d->cmd_at[d->ncmds] = d->nbytes;
                d->cmd[d->ncmds++] = in[i];
            }
        } else if (in[i] == PROTO_ESC) {
            esc = true;
        } else {
            d->bytes[d->nbytes++] = in[i];
        }
    }
    *pending = esc;
}

/* Decodes in pieces of `chunk` bytes, in place, looping as session_input()
 * does: after each command the rest of the piece is decoded again. */
static void decode_pieces(uint8_t *buf, size_t len, size_t chunk, struct decoded *d,
                          bool *pending)
{
    struct proto_unescape st = {0};
    for (size_t off = 0; off < len; off += chunk) {
        unsigned char *p = buf + off;
        size_t rest = len - off < chunk ? len - off : chunk;
        size_t rounds = 0;
        while (rest) {
            size_t n, used;
            int cmd;
            used = proto_unescape(&st, p, rest, p, &n, &cmd);
            FUZZ_CHECK(used >= 1 && used <= rest);
            FUZZ_CHECK(n <= used);
            /* A command ends the call: it is the last byte consumed. */
            FUZZ_CHECK(cmd < 0 || (cmd != PROTO_ESC && cmd == p[used - 1]));
            FUZZ_CHECK(cmd >= 0 || used == rest);
            memcpy(d->bytes + d->nbytes, p, n);
            d->nbytes += n;
            if (cmd >= 0) {
                d->cmd_at[d->ncmds] = d->nbytes;
                d->cmd[d->ncmds++] = cmd;
            }
            p += used;
            rest -= used;
            FUZZ_CHECK(++rounds <= chunk);
        }
    }
    *pending = st.got_esc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1;
    const uint8_t *in = data + 1;
    size_t len = size - 1;

    struct decoded want, whole, pieces;
    bool want_pending, whole_pending, pieces_pending;
    decoded_init(&want, len);
    decoded_init(&whole, len);
    decoded_init(&pieces, len);
    model(in, len, &want, &want_pending);

    uint8_t *buf = malloc(len + 1);
    if (!buf)
        abort();
    memcpy(buf, in, len);
    decode_pieces(buf, len, len ? len : 1, &whole, &whole_pending);
    memcpy(buf, in, len);
    decode_pieces(buf, len, chunk, &pieces, &pieces_pending);

    const struct decoded *got[2] = {&whole, &pieces};
    const bool got_pending[2] = {whole_pending, pieces_pending};
    for (int g = 0; g < 2; g++) {
        FUZZ_CHECK(got[g]->nbytes == want.nbytes);
        FUZZ_CHECK(memcmp(got[g]->bytes, want.bytes, want.nbytes) == 0);
        FUZZ_CHECK(got[g]->ncmds == want.ncmds);
        FUZZ_CHECK(memcmp(got[g]->cmd, want.cmd, want.ncmds * sizeof(int)) == 0);
        FUZZ_CHECK(memcmp(got[g]->cmd_at, want.cmd_at, want.ncmds * sizeof(size_t)) == 0);
        FUZZ_CHECK(got_pending[g] == want_pending);
    }
    /* Every input byte is accounted for: a console byte, half of a doubled
     * 0xFF, a command and its escape, or the pending escape at the end. */
    size_t doubled = 0;
    for (size_t i = 0; i < want.nbytes; i++)
        doubled += want.bytes[i] == PROTO_ESC;
    FUZZ_CHECK(want.nbytes + doubled + 2 * want.ncmds + (want_pending ? 1 : 0) == len);

    free(buf);
    decoded_free(&want);
    decoded_free(&whole);
    decoded_free(&pieces);
    return 0;
}
