/* Bounded base-10 integer parsing: one strtol() wrapper for every caller. */
#include "common/numparse.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int numparse_long(const char *text, long min, long max, long *out)
{
    if (!text)
        return -EINVAL;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int numparse_digits(const char *text, long min, long max, long *out)
{
    /* After a first digit strtol() takes only digits, and numparse_long()
     * wants nothing after them: so the whole text is digits. */
    if (!text || !isdigit((unsigned char)text[0]))
        return -EINVAL;
    return numparse_long(text, min, max, out);
}

int numparse_int(const char *text, int min, int max, int *out)
{
    long v;
    int rc = numparse_long(text, min, max, &v);
    if (rc == 0)
        *out = (int)v;
    return rc;
}

int numparse_bytes(const char *text, unsigned long long max, unsigned long long *out)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return -EINVAL;
    unsigned shift = 0;
    if (*end) {
        const char *units = "KMGT", *u = strchr(units, toupper((unsigned char)*end));
        if (!u || end[1])
            return -EINVAL;
        shift = 10 * (unsigned)(u - units + 1);
    }
    if (v == 0 || v > (ULLONG_MAX >> shift) || (v << shift) > max)
        return -EINVAL;
    *out = v << shift;
    return 0;
}

int numparse_env_int(const char *name, int min, int max, int dflt)
{
    int v;
    const char *env = getenv(name);
    return env && numparse_int(env, min, max, &v) == 0 ? v : dflt;
}
