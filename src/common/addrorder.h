/* The order to try a host's addresses in, as RFC 8305 (happy eyeballs)
 * section 4 asks: getaddrinfo has sorted them by RFC 6724, and the
 * families are then interleaved, starting with the first one's, so a
 * broken IPv6 path (or IPv4 one) costs one attempt, not all of them.
 * Duplicates are dropped. Pure. */
#ifndef COMMON_ADDRORDER_H
#define COMMON_ADDRORDER_H

#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

/* Addresses kept of one answer; the rest are never tried (a name with
 * more is no BMC's). */
#define ADDRORDER_MAX 16

/* An IPv4 or IPv6 address: 28 bytes, not sockaddr_storage's 128, since a
 * dial holds ADDRORDER_MAX of them for each console connecting. */
union addrorder_addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

struct addrorder {
    size_t n;
    union addrorder_addr addr[ADDRORDER_MAX];
    socklen_t len[ADDRORDER_MAX];
};

/* Fills `o` from getaddrinfo's list `ai` (IPv4 and IPv6 entries only).
 * Returns the count kept. */
size_t addrorder_fill(struct addrorder *o, const struct addrinfo *ai);

/* "192.0.2.1:623" or "[2001:db8::1]:623" for a log line. */
void addrorder_format(const struct sockaddr *sa, char *out, size_t outlen);

#endif
