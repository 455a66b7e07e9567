/* libFuzzer harness for HSM's RedfishEndpoints answer (bmc mode): the
 * streaming JSON list reader (jsonlist.c, over yajl) and the records built
 * from it (records.c). The input is the body; the first byte picks the
 * LOG_IDENTIFIER and the size of the pieces it arrives in. Parsed whole
 * and in pieces, it must give the same result: HSM's bytes arrive as the
 * network splits them. */
#include "fuzz_records.h"

static const char *const identifiers[] = {"Hostname", "ID", "FQDN", "IPAddress", "Name"};

static int parse_chunked(const char *body, size_t len, const char *ident, size_t chunk,
                         struct records *out)
{
    struct records_parser *p = NULL;
    char err[256];
    int rc = records_parser_open(&p, ident);
    if (rc < 0)
        return rc;
    for (size_t off = 0; rc == 0 && off < len; off += chunk)
        rc = records_parser_feed(p, body + off, len - off < chunk ? len - off : chunk, err,
                                 sizeof(err));
    if (rc == 0)
        rc = records_parser_finish(p, out, err, sizeof(err));
    if (rc < 0)
        fuzz_check_msg(err, sizeof(err));
    records_parser_close(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_knobbed in;
    if (!fuzz_knob_and_text(data, size, 1024 * 1024, &in))
        return 0;
    const char *ident = identifiers[(in.knob >> 7) ? 1 + (in.len % 4) : 0];

    struct records whole = RECORDS_INIT, pieces = RECORDS_INIT;
    char err[256];
    int rc1 = records_from_json(in.text, in.len, ident, &whole, err, sizeof(err));
    int rc2 = parse_chunked(in.text, in.len, ident, fuzz_chunk(in.knob, in.len), &pieces);
    if (rc1 < 0)
        FUZZ_CHECK(whole.n == 0 && pieces.n == 0);
    fuzz_check_whole_and_pieces(rc1, &whole, rc2, &pieces);
    free(in.text);
    return 0;
}
