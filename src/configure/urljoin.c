/* URL joining for the HSM endpoint: scheme defaulting and slash handling. */
#include "configure/urljoin.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool has_http_scheme(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

/* A URL goes to libcurl and into log lines: no blanks or control bytes. */
static bool url_chars_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* "http://" followed by no host ("http:///x", "https://") would reach
 * libcurl as a URL without a host, or lose its slashes when joined. */
static bool host_missing(const char *url)
{
    const char *host = strstr(url, "://") + 3;
    return *host == '\0' || *host == '/';
}

static int dup_checked(const char *url, const char *what, char **out, char *err, size_t errlen)
{
    if (!url_chars_ok(url)) {
        snprintf(err, errlen, "%s=%.200s: contains blanks or control characters", what, url);
        return -EINVAL;
    }
    *out = strdup(url);
    if (!*out) {
        snprintf(err, errlen, "%s: out of memory", what);
        return -ENOMEM;
    }
    return 0;
}

int url_join(const char *gateway, const char *path, char **out, char *err, size_t errlen)
{
    return url_join_named(gateway, path, "RF_ENDPOINT", out, err, errlen);
}

int url_join_named(const char *gateway, const char *path, const char *path_var, char **out,
                   char *err, size_t errlen)
{
    *out = NULL;
    if (path && has_http_scheme(path)) {
        if (host_missing(path)) {
            snprintf(err, errlen, "%s=%.200s: no host in the URL", path_var, path);
            return -EINVAL;
        }
        return dup_checked(path, path_var, out, err, errlen);
    }
    if (path && strstr(path, "://")) {
        snprintf(err, errlen, "%s=%.200s: only http:// and https:// are supported", path_var, path);
        return -EINVAL;
    }
    if (!gateway || !*gateway) {
        snprintf(err, errlen, "API_GATEWAY: empty");
        return -EINVAL;
    }
    if (strstr(gateway, "://") && !has_http_scheme(gateway)) {
        snprintf(err, errlen, "API_GATEWAY=%.200s: only http:// and https:// are supported",
                 gateway);
        return -EINVAL;
    }
    if ((has_http_scheme(gateway) && host_missing(gateway)) || gateway[0] == '/') {
        snprintf(err, errlen, "API_GATEWAY=%.200s: no host", gateway);
        return -EINVAL;
    }
    const char *scheme = has_http_scheme(gateway) ? "" : "https://";
    size_t glen = strlen(gateway);
    while (glen > 0 && gateway[glen - 1] == '/')
        glen--;
    const char *p = path ? path : "";
    while (*p == '/')
        p++;
    size_t need = strlen(scheme) + glen + 1 + strlen(p) + 1;
    char *url = malloc(need);
    if (!url) {
        snprintf(err, errlen, "API_GATEWAY: out of memory");
        return -ENOMEM;
    }
    snprintf(url, need, "%s%.*s/%s", scheme, (int)glen, gateway, p);
    char what[64];
    snprintf(what, sizeof(what), "API_GATEWAY/%s", path_var);
    int rc = dup_checked(url, what, out, err, errlen);
    free(url);
    return rc;
}
