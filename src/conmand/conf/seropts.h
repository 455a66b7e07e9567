/* seropts parsing for serial consoles (pure). */
#ifndef CONMAND_CONF_SEROPTS_H
#define CONMAND_CONF_SEROPTS_H

#include <stddef.h>
#include <termios.h>

struct serial_opts {
    unsigned bps;
    int databits; /* 5..8 */
    char parity;  /* 'n', 'o', 'e' */
    int stopbits; /* 1 or 2 */
};

/* 9600,8n1. */
void serial_default_opts(struct serial_opts *o);

/* conman's "bps[,databits[parity[stopbits]]]" on top of *o: what `s` leaves
 * out keeps its value in *o (a console's seropts over the GLOBAL ones); a
 * speed the system lacks rounds down to the next it has. Returns 0, or
 * -EINVAL naming the value in `err` (*o unchanged). */
int serial_parse_onto(const char *s, struct serial_opts *o, char *err, size_t errlen);

/* The same on top of the defaults; NULL or "" gives 9600,8n1. */
int serial_parse_opts(const char *s, struct serial_opts *o, char *err, size_t errlen);

/* "115200,8n1": what serial_parse_opts() reads back to the same *o. */
void serial_format_opts(const struct serial_opts *o, char *out, size_t outlen);

/* The termios speed of a rate serial_parse_opts() gave (B9600 if none). */
speed_t serial_speed(unsigned bps);

/* seropts layered as conman's: `val` over `base` (NULL: the defaults) into
 * the canonical "bps,DPS" the serial console reads (*out, malloc'd).
 * Returns 0, -EINVAL with the reason in `err`, or -ENOMEM. */
int seropts_layer(const char *base, const char *val, char **out, char *err, size_t errlen);

#endif
