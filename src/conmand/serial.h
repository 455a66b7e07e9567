/* seropts parsing for serial consoles (pure). */
#ifndef CONMAND_SERIAL_H
#define CONMAND_SERIAL_H

#include <stddef.h>

struct serial_opts {
    unsigned bps;
    int databits; /* 5..8 */
    char parity;  /* 'n', 'o', 'e' */
    int stopbits; /* 1 or 2 */
};

/* "115200,8n1" (framing optional; NULL or "" gives 9600,8n1). Returns 0 or
 * -EINVAL naming the value in `err`. */
int serial_parse_opts(const char *s, struct serial_opts *o, char *err, size_t errlen);

#endif
