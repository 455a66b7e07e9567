/* Telnet command stripping (RFC 854): IAC <verb> <option>, IAC SB ... IAC SE,
 * and two-byte commands. Nothing is answered: both peers we serve carry on
 * without replies, and an unanswered option simply stays off. */
#include "sim/console/telnet.h"

enum {
    IAC = 255,
    DONT = 254,
    DO = 253,
    WONT = 252,
    WILL = 251,
    SB = 250,
    SE = 240,
};

enum { ST_DATA, ST_IAC, ST_OPTION, ST_SUB, ST_SUB_IAC };

static int step(struct telnet_filter *f, unsigned char c, int *keep)
{
    *keep = 0;
    switch (f->state) {
    case ST_DATA:
        if (c == IAC)
            return ST_IAC;
        *keep = 1;
        return ST_DATA;
    case ST_IAC:
        if (c == IAC) {
            *keep = 1;
            return ST_DATA;
        }
        if (c >= WILL && c <= DONT)
            return ST_OPTION;
        return c == SB ? ST_SUB : ST_DATA;
    case ST_OPTION:
        return ST_DATA;
    case ST_SUB:
        return c == IAC ? ST_SUB_IAC : ST_SUB;
    default: /* ST_SUB_IAC */
        return c == SE ? ST_DATA : ST_SUB;
    }
}

size_t telnet_filter_apply(struct telnet_filter *f, unsigned char *buf, size_t len)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        int keep;
        f->state = step(f, buf[i], &keep);
        if (keep)
            buf[out++] = buf[i];
    }
    return out;
}
