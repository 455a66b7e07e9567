/* SHARD_SRV: the members of a sharded deployment from a DNS SRV answer (a
 * StatefulSet's headless Service lists its ready pods). srvlookup_parse is
 * pure; srvlookup_query asks the system's name servers through libresolv. */
#ifndef CONFIGURE_SRVLOOKUP_H
#define CONFIGURE_SRVLOOKUP_H

#include "configure/shard.h"

#include <stddef.h>

/* The longest srvlookup_query may block: 2 attempts of 2 s, on up to 3
 * name servers, and a TCP retry of a truncated answer. */
#define SRVLOOKUP_MAX_SEC 17

/* One DNS message `msg` of `len` bytes, an answer to an IN SRV question,
 * into `out` (empty on entry): one member per SRV record, NAME the first
 * label of its target, HOST the target, PORT its port; sorted by name and,
 * when two records give one name, the smallest HOST:PORT kept, so record
 * order does not matter. A target "." (no service) is skipped.
 * Returns 0 (`out` may be empty: no SRV record), or with `out` empty and
 * the reason in `err`: -ENOENT (NXDOMAIN), -EAGAIN (SERVFAIL), -EIO
 * (another error code), -EINVAL (a malformed message, or a record that is
 * no usable member, its target named), -ENOMEM. */
int srvlookup_parse(const unsigned char *msg, size_t len, struct shard_members *out, char *err,
                    size_t errlen);

/* Asks for the IN SRV records of `name` (resolv.conf's servers, each try
 * at most 2 s, 2 attempts) and parses the answer as srvlookup_parse, whose
 * codes it returns; an answer without records is 0 with `out` empty, no
 * answer at all -EAGAIN. `err` does not repeat `name`. */
int srvlookup_query(const char *name, struct shard_members *out, char *err, size_t errlen);

#endif
