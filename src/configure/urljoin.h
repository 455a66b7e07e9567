/* Builds the HSM endpoint URL from API_GATEWAY and RF_ENDPOINT. Pure. */
#ifndef CONFIGURE_URLJOIN_H
#define CONFIGURE_URLJOIN_H

#include <stddef.h>

/* Joins `gateway` (a host or URL; "https://" is prepended when it has no
 * scheme) and `path` with exactly one '/'. A `path` that is itself an
 * http(s):// URL is used as is. Returns 0 and a new string in *out (caller
 * frees), or -EINVAL / -ENOMEM with a message naming the bad value. */
int url_join(const char *gateway, const char *path, char **out, char *err, size_t errlen);

#endif
