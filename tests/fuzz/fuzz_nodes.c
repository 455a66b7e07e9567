/* libFuzzer harness for CONSOLE_MODE=node (nodes.c): the RedfishEndpoints
 * answer, then the State/Components answer, streamed in pieces. Input:
 * a knob byte (piece size), the endpoints body, a NUL, the components
 * body. The xname and class helpers are fed the same bytes. Whole and in
 * pieces must agree. */
#include "configure/nodes.h"
#include "fuzz_records.h"

static int feed(struct nodes *n, const char *body, size_t len, size_t chunk, char *err,
                size_t errlen)
{
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < len; off += chunk)
        rc = nodes_feed(n, body + off, len - off < chunk ? len - off : chunk, err, errlen);
    return rc;
}

static int parse_chunked(const char *e, size_t elen, const char *c, size_t clen, size_t chunk,
                         struct records *out)
{
    struct nodes n;
    char err[256];
    nodes_init(&n);
    int rc = feed(&n, e, elen, chunk, err, sizeof(err));
    if (rc == 0)
        rc = nodes_next(&n, NULL, err, sizeof(err));
    if (rc == 0)
        rc = feed(&n, c, clen, chunk, err, sizeof(err));
    if (rc == 0)
        rc = nodes_next(&n, out, err, sizeof(err));
    if (rc < 0)
        fuzz_check_msg(err, sizeof(err));
    nodes_release(&n);
    return rc;
}

static void helpers(const char *s)
{
    char bmc[64];
    unsigned node = 0;
    if (nodes_split_xname(s, bmc, sizeof(bmc), &node) == 0)
        FUZZ_CHECK(strlen(bmc) < sizeof(bmc) && strncmp(s, bmc, strlen(bmc)) == 0);
    enum record_transport t;
    nodes_transport_for_class(s, &t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_knobbed in;
    if (!fuzz_knob_and_text(data, size, 1024 * 1024, &in))
        return 0;
    const char *e = in.text, *nul = memchr(e, '\0', in.len);
    size_t elen = nul ? (size_t)(nul - e) : in.len;
    const char *c = nul ? nul + 1 : "";
    size_t clen = nul ? in.len - elen - 1 : 0;

    if (elen < 128) {
        char *s = fuzz_strdup((const uint8_t *)e, elen);
        helpers(s);
        free(s);
    }
    struct records whole = RECORDS_INIT, pieces = RECORDS_INIT;
    char err[256];
    int rc1 = nodes_from_json(e, elen, c, clen, &whole, err, sizeof(err));
    int rc2 = parse_chunked(e, elen, c, clen, fuzz_chunk(in.knob, in.len), &pieces);
    fuzz_check_whole_and_pieces(rc1, &whole, rc2, &pieces);
    free(in.text);
    return 0;
}
