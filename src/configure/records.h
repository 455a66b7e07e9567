/* HSM RedfishEndpoints JSON to console records: filtered (enabled NodeBMC),
 * named by LOG_IDENTIFIER, validated, de-duplicated and sorted. Pure. */
#ifndef CONFIGURE_RECORDS_H
#define CONFIGURE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

struct record {
    char *name;    /* console name, [A-Za-z0-9._:-]{1,64} */
    char *address; /* what follows "ipmi:" */
};

/* Records sorted by name, plus one warning per skipped endpoint. The
 * warnings are safe to log: any byte from HSM in them is escaped. */
struct records {
    struct record *v;
    size_t n, cap;
    char **warnings;
    size_t nwarn, warncap;
};

#define RECORDS_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, NULL, 0, 0                                                                     \
    }

/* Parses a RedfishEndpoints answer of `len` bytes into `out` (empty on
 * entry). Returns 0, or -EINVAL when the body is not JSON or has no
 * "RedfishEndpoints" list (the reason is in `err`), or -ENOMEM. */
int records_from_json(const char *body, size_t len, const char *identifier, struct records *out,
                      char *err, size_t errlen);

/* Whether `name` may be a console name (and a log file name). */
bool records_name_ok(const char *name);

/* Whether `addr` may follow "ipmi:" in the configuration file. */
bool records_address_ok(const char *addr);

void records_release(struct records *r);

#endif
