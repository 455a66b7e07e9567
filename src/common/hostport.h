/* One parser for every address conmand and configure_conman take (telnet
 * dev=, peer:HOST:PORT, logship="tcp:HOST:PORT", LOG_SHIP, ...):
 * "[v6addr]:port", "v4addr:port", "name:port", and where no port can
 * follow a bare v6 address ("fd00::1", "[fd00::1]"); a v6 address may carry
 * a scope ("fe80::1%eth0"). Pure. */
#ifndef COMMON_HOSTPORT_H
#define COMMON_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>

/* Longest host kept: a DNS name's 253, or a v6 address with its scope. */
#define HOSTPORT_HOST_MAX 254

enum hostport_port {
    HOSTPORT_PORT_REQUIRED, /* HOST:PORT */
    HOSTPORT_PORT_OPTIONAL, /* HOST[:PORT]; a bare v6 address has none */
    HOSTPORT_PORT_NONE,     /* HOST only: a bare or bracketed v6 address */
};

struct hostport {
    char host[HOSTPORT_HOST_MAX + 1]; /* without brackets */
    char port[6];                     /* "" when none was given */
    int portnum;                      /* 0 when none */
    bool v6;                          /* host is an IPv6 address */
};

/* Parses `text` (the whole of it). Returns 0, or -EINVAL with why in `err`
 * (the text quoted in it, for the caller to prefix with what it is: a
 * console, a keyword). */
int hostport_parse(const char *text, enum hostport_port mode, struct hostport *out, char *err,
                   size_t errlen);

/* "host:port", "[v6]:port", "host" or "[v6]": a v6 address always in
 * brackets, so that text after it is never read as part of it; as
 * hostport_parse() reads it back. Returns the length (cut to fit). */
size_t hostport_format(const struct hostport *hp, char *out, size_t outlen);

/* Gives `hp` the port `port` (1-65535) when it has none. */
void hostport_default_port(struct hostport *hp, unsigned port);

#endif
