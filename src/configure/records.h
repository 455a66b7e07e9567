/* HSM RedfishEndpoints JSON to console records: filtered (enabled NodeBMC),
 * named by LOG_IDENTIFIER, validated, de-duplicated and sorted. Pure. */
#ifndef CONFIGURE_RECORDS_H
#define CONFIGURE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

/* How a console is reached (CONSOLE_MODE=node picks it by the node's Class). */
enum record_transport {
    RECORD_IPMI,         /* IPMI SOL to the BMC: River, and every console in bmc mode */
    RECORD_SSH_KEY,      /* SSH with a key to the blade BMC, user n<node>: Mountain, Hill */
    RECORD_SSH_PASSWORD, /* SSH with the password to the BMC on PARADISE_PORT: Paradise */
};

struct record {
    char *name;    /* console name, [A-Za-z0-9._:-]{1,64} */
    char *address; /* BMC host or IP, optionally with :port (records_address_ok) */
    enum record_transport transport;
    unsigned node; /* RECORD_SSH_KEY: the n<node> of the xname */
    size_t index;  /* position in the HSM answer: the first of equal names wins */
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

/* A streaming parser of a RedfishEndpoints answer (bmc mode): bytes go in
 * as they arrive from HSM, records come out at the end. */
struct records_parser;

/* `identifier` (LOG_IDENTIFIER) must outlive the parser. Returns 0 or
 * -ENOMEM. */
int records_parser_open(struct records_parser **p, const char *identifier);

/* Returns 0, or -EINVAL (malformed JSON, the reason in `err`) or -ENOMEM. */
int records_parser_feed(struct records_parser *p, const char *data, size_t len, char *err,
                        size_t errlen);

/* Ends the input and fills `out` (empty on entry). Returns 0, or -EINVAL
 * when the body is not JSON or has no "RedfishEndpoints" list (the reason
 * is in `err`), or -ENOMEM; `out` is then empty. */
int records_parser_finish(struct records_parser *p, struct records *out, char *err, size_t errlen);

void records_parser_close(struct records_parser *p);

/* The parser over one buffer of `len` bytes. */
int records_from_json(const char *body, size_t len, const char *identifier, struct records *out,
                      char *err, size_t errlen);

/* For node mode (nodes.c): the helpers records are built with. */
int records_warn(struct records *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void records_escape(const char *in, char *out, size_t outlen);
/* Appends `rec` with copies of its strings. Returns 0 or -ENOMEM. */
int records_add(struct records *r, const struct record *rec);
/* Sorts by name and drops later duplicates with a warning. */
int records_sort_unique(struct records *r);

/* Whether `name` may be a console name (and a log file name). */
bool records_name_ok(const char *name);

/* Whether `addr` may follow "ipmi:" or "ssh:USER@" in the configuration
 * file: HOST, HOST:PORT, [IPv6]:PORT, [IPv6] or a bare IPv6 address (a
 * scope "%eth0" allowed), as common/hostport.c reads them. */
bool records_address_ok(const char *addr);

void records_release(struct records *r);

#endif
