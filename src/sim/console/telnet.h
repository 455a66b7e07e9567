/* Strips telnet commands from a byte stream. ipmi_sim's "telnet:" SOL backend
 * and conmand's telnet consoles both open with option negotiation (IAC DO
 * BINARY, ...); a serial port would never see those bytes, so neither should
 * the simulated console's echo. */
#ifndef SIM_CONSOLE_TELNET_H
#define SIM_CONSOLE_TELNET_H

#include <stddef.h>

/* Parser state survives across reads: a command may be split between them. */
struct telnet_filter {
    int state;
};

#define TELNET_FILTER_INIT                                                                         \
    {                                                                                              \
        0                                                                                          \
    }

/* Removes telnet commands from buf in place; IAC IAC becomes one 0xff byte.
 * Returns the number of data bytes left at the front of buf. Pure. */
size_t telnet_filter_apply(struct telnet_filter *f, unsigned char *buf, size_t len);

#endif
