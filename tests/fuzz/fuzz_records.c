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
    uint8_t knob = in.knob;
    const char *body = in.text;
    size_t len = in.len;
    const char *ident = identifiers[(knob >> 7) ? 1 + (len % 4) : 0];

    struct records whole = RECORDS_INIT, pieces = RECORDS_INIT;
    char err[256];
    int rc1 = records_from_json(body, len, ident, &whole, err, sizeof(err));
    int rc2 = parse_chunked(body, len, ident, fuzz_chunk(knob, len), &pieces);
    FUZZ_CHECK(rc1 == rc2);
    if (rc1 == 0) {
        fuzz_check_records(&whole);
        fuzz_check_same_records(&whole, &pieces);
    } else {
        FUZZ_CHECK(whole.n == 0 && pieces.n == 0);
    }
    records_release(&whole);
    records_release(&pieces);
    free(in.text);
    return 0;
}
