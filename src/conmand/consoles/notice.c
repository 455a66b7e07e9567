/* The <ConMan> notices of consoles, to their logs and readers, and the
 * times in them, as conman writes them. */
#include "conmand/consoles/notice.h"

#include <stdio.h>

size_t notice_format(char *out, size_t outlen, const char *text)
{
    int n = snprintf(out, outlen, "\r\n<ConMan> %s.\r\n", text);
    return n < 0 ? 0 : (size_t)n >= outlen ? outlen - 1 : (size_t)n;
}

void notice_short_time(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, outlen, "%m-%d %H:%M", &tm);
}

void notice_long_time(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

void notice_delta(long secs, char *out, size_t outlen)
{
    long d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60, s = secs % 60;
    if (d)
        snprintf(out, outlen, "%ldd%ldh%ldm%lds", d, h, m, s);
    else if (h)
        snprintf(out, outlen, "%ldh%ldm%lds", h, m, s);
    else if (m)
        snprintf(out, outlen, "%ldm%lds", m, s);
    else
        snprintf(out, outlen, "%lds", s);
}
