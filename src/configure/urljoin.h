/* Builds HSM URLs from API_GATEWAY and RF_ENDPOINT or COMPONENTS_ENDPOINT. Pure. */
#ifndef CONFIGURE_URLJOIN_H
#define CONFIGURE_URLJOIN_H

#include <stddef.h>

/* Joins `gateway` (a host or URL; "https://" is prepended when it has no
 * scheme) and `path` with exactly one '/'. A `path` that is itself an
 * http(s):// URL is used as is. Returns 0 and a new string in *out (caller
 * frees), or -EINVAL / -ENOMEM with a message naming the bad value. */
int url_join(const char *gateway, const char *path, char **out, char *err, size_t errlen);

/* url_join for a path from variable `path_var` (named in errors). */
int url_join_named(const char *gateway, const char *path, const char *path_var, char **out,
                   char *err, size_t errlen);

#endif
