/* Invariants of a struct records, shared by the records and nodes harnesses. */
#ifndef FUZZ_RECORDS_H
#define FUZZ_RECORDS_H

#include "configure/records.h"
#include "fuzz_common.h"

/* Names valid and strictly sorted (unique), addresses valid, warnings
 * printable ASCII only (they are logged). */
static inline void fuzz_check_records(const struct records *r)
{
    for (size_t i = 0; i < r->n; i++) {
        FUZZ_CHECK(records_name_ok(r->v[i].name));
        FUZZ_CHECK(r->v[i].address != NULL);
        if (r->v[i].transport == RECORD_IPMI)
            FUZZ_CHECK(records_address_ok(r->v[i].address));
        if (i > 0)
            FUZZ_CHECK(strcmp(r->v[i - 1].name, r->v[i].name) < 0);
    }
    for (size_t i = 0; i < r->nwarn; i++)
        for (const char *p = r->warnings[i]; *p; p++)
            FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);
}

static inline void fuzz_check_same_records(const struct records *a, const struct records *b)
{
    FUZZ_CHECK(a->n == b->n && a->nwarn == b->nwarn);
    for (size_t i = 0; i < a->n; i++) {
        FUZZ_CHECK(strcmp(a->v[i].name, b->v[i].name) == 0);
        FUZZ_CHECK(strcmp(a->v[i].address, b->v[i].address) == 0);
        FUZZ_CHECK(a->v[i].transport == b->v[i].transport && a->v[i].node == b->v[i].node);
    }
    for (size_t i = 0; i < a->nwarn; i++)
        FUZZ_CHECK(strcmp(a->warnings[i], b->warnings[i]) == 0);
}

/* One input parsed whole and in pieces: the same outcome and, when it
 * parsed, the same valid records. Releases both. */
static inline void fuzz_check_whole_and_pieces(int rc_whole, struct records *whole, int rc_pieces,
                                               struct records *pieces)
{
    FUZZ_CHECK(rc_whole == rc_pieces);
    if (rc_whole == 0) {
        fuzz_check_records(whole);
        fuzz_check_same_records(whole, pieces);
    }
    records_release(whole);
    records_release(pieces);
}

/* A chunk length from the knob byte: 1..64 bytes, or all at once. */
static inline size_t fuzz_chunk(uint8_t knob, size_t len)
{
    size_t chunk = (size_t)(knob & 63) + 1;
    return (knob & 64) || chunk > len ? (len ? len : 1) : chunk;
}

#endif
