/* The informational notices conman writes into console logs and sends to
 * clients ("<ConMan> Console [x] connected to ..."), and the times and
 * durations they carry. Pure. */
#ifndef CONMAND_CONSOLES_NOTICE_H
#define CONMAND_CONSOLES_NOTICE_H

#include <stddef.h>
#include <time.h>

/* "\r\n<ConMan> " text ".\r\n" into `out`. Returns the length. */
size_t notice_format(char *out, size_t outlen, const char *text);

/* "MM-DD HH:MM" (short) and "YYYY-MM-DD HH:MM:SS ZONE" (long) of `t` in
 * local time, as conman prints them. */
void notice_short_time(time_t t, char *out, size_t outlen);
void notice_long_time(time_t t, char *out, size_t outlen);

/* "1s", "2m3s", "1h2m3s", "1d2h3m4s": an idle or uptime delta. */
void notice_delta(long secs, char *out, size_t outlen);

#endif
