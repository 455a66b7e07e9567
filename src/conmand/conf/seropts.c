/* seropts, the options of serial consoles: conman's
 * "bps[,databits[parity[stopbits]]]" (pure parsing; the speed table is
 * termios's). */
#include "conmand/conf/seropts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every rate Linux's termios has, ascending: a rate between two rounds down
 * to the lower one, as conman does. */
static const struct {
    unsigned bps;
    speed_t speed;
} speeds[] = {{50, B50},           {75, B75},           {110, B110},         {134, B134},
              {150, B150},         {200, B200},         {300, B300},         {600, B600},
              {1200, B1200},       {1800, B1800},       {2400, B2400},       {4800, B4800},
              {9600, B9600},       {19200, B19200},     {38400, B38400},     {57600, B57600},
              {115200, B115200},   {230400, B230400},   {460800, B460800},   {500000, B500000},
              {576000, B576000},   {921600, B921600},   {1000000, B1000000}, {1152000, B1152000},
              {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000},
              {3500000, B3500000}, {4000000, B4000000}};

#define NSPEEDS (sizeof(speeds) / sizeof(speeds[0]))

void serial_default_opts(struct serial_opts *o)
{
    *o = (struct serial_opts){9600, 8, 'n', 1};
}

/* The highest supported rate not above `want`, or 0 if none is. */
static unsigned round_down(long want)
{
    unsigned got = 0;
    for (size_t i = 0; i < NSPEEDS && speeds[i].bps <= want; i++)
        got = speeds[i].bps;
    return got;
}

/* "DPS" after the comma, each part optional from the right: "7", "7e",
 * "7e2". */
static int parse_framing(const char *f, struct serial_opts *o, const char *s, char *err,
                         size_t errlen)
{
    if (*f < '5' || *f > '8' || (f[1] >= '0' && f[1] <= '9')) {
        snprintf(err, errlen, "seropts \"%s\": expected 5-8 data bits after the comma", s);
        return -EINVAL;
    }
    o->databits = *f++ - '0';
    if (*f && *f != ' ' && *f != '\t') {
        if (!strchr("nNoOeE", *f)) {
            snprintf(err, errlen, "seropts \"%s\": expected parity n, o or e", s);
            return -EINVAL;
        }
        o->parity = (char)(*f++ | 0x20);
        if (*f && *f != ' ' && *f != '\t') {
            if ((*f != '1' && *f != '2') || (f[1] && f[1] != ' ' && f[1] != '\t')) {
                snprintf(err, errlen, "seropts \"%s\": expected 1 or 2 stop bits", s);
                return -EINVAL;
            }
            o->stopbits = *f++ - '0';
        }
    }
    f += strspn(f, " \t");
    if (*f) {
        snprintf(err, errlen, "seropts \"%s\": unexpected \"%s\"", s, f);
        return -EINVAL;
    }
    return 0;
}

int serial_parse_onto(const char *s, struct serial_opts *o, char *err, size_t errlen)
{
    struct serial_opts tmp = *o;
    char *end;
    errno = 0;
    long bps = strtol(s, &end, 10);
    if (end == s || errno || bps <= 0 || !(tmp.bps = round_down(bps))) {
        snprintf(err, errlen, "seropts \"%s\": expected a speed of at least 50 bps", s);
        return -EINVAL;
    }
    end += strspn(end, " \t");
    if (*end == ',' && parse_framing(end + 1, &tmp, s, err, errlen) < 0)
        return -EINVAL;
    if (*end && *end != ',') {
        snprintf(err, errlen, "seropts \"%s\": unexpected \"%s\"", s, end);
        return -EINVAL;
    }
    *o = tmp;
    return 0;
}

int serial_parse_opts(const char *s, struct serial_opts *o, char *err, size_t errlen)
{
    serial_default_opts(o);
    return s && *s ? serial_parse_onto(s, o, err, errlen) : 0;
}

void serial_format_opts(const struct serial_opts *o, char *out, size_t outlen)
{
    snprintf(out, outlen, "%u,%d%c%d", o->bps, o->databits, o->parity, o->stopbits);
}

speed_t serial_speed(unsigned bps)
{
    for (size_t i = 0; i < NSPEEDS; i++)
        if (speeds[i].bps == bps)
            return speeds[i].speed;
    return B9600;
}


int seropts_layer(const char *base, const char *val, char **out, char *err, size_t errlen)
{
    struct serial_opts o;
    char text[64];
    serial_parse_opts(base, &o, err, errlen); /* base is canonical */
    if (serial_parse_onto(val, &o, err, errlen) < 0)
        return -EINVAL;
    serial_format_opts(&o, text, sizeof(text));
    return (*out = strdup(text)) ? 0 : -ENOMEM;
}
