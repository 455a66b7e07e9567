/* ssh: console settings (pure): the dev string "ssh:USER@HOST[:PORT]" and
 * sshopts "I:keyfile,P:password,K:known_hosts,T:seconds". P is plain or 0x-hex (hex
 * keeps commas and quotes out of the file). Later items override earlier
 * ones, so GLOBAL then CONSOLE values can be joined with a comma. */
#ifndef CONMAND_CONF_SSHOPTS_H
#define CONMAND_CONF_SSHOPTS_H

#include <stddef.h>

#include "common/secret.h"

#define SSHOPTS_DEFAULT_PORT 22
#define SSHOPTS_DEFAULT_TIMEOUT 20 /* seconds to get from connect to an open shell */

struct ssh_target {
    char user[65];
    char host[256];
    unsigned port;
};

struct sshopts {
    char identity[512];     /* private key file, "" when none */
    char known_hosts[512];  /* strict host key file, "" for trust on first use */
    struct secret password; /* empty when none */
    unsigned timeout;       /* T: seconds, 1..3600 */
};

/* Parses "ssh:USER@HOST[:PORT]" (HOST may be "[v6]"). Returns 0 or -EINVAL
 * with a message naming the dev string in `err`. */
int sshopts_parse_dev(const char *dev, struct ssh_target *t, char *err, size_t errlen);

/* Parses `s` (NULL or "" is no options) into `o`; call sshopts_release
 * after, also on failure. Returns 0, -ENOMEM, or -EINVAL with a message
 * naming the item (never the secret) in `err`. */
int sshopts_parse(const char *s, struct sshopts *o, char *err, size_t errlen);

void sshopts_release(struct sshopts *o);

/* sshopts layered: `val` after `base` (NULL: none), joined with a comma
 * (later items override earlier ones) into *out (malloc'd). Returns 0 or
 * -ENOMEM. */
int sshopts_layer(const char *base, const char *val, char **out, char *err, size_t errlen);

#endif
