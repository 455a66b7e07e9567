/* Bounded base-10 integer parsing: one strtol() wrapper for every caller. */
#include "common/numparse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

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
