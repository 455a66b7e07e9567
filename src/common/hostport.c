/* HOST:PORT and its IPv6 forms. */
#include "common/hostport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "common/numparse.h"

/* A v6 literal, with an optional "%scope" (an interface name or index). */
static bool v6_ok(const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *pct = strchr(buf, '%');
    if (pct) {
        size_t n = strlen(pct + 1);
        if (!n || n >= IF_NAMESIZE ||
            strspn(pct + 1, "abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
            return false;
        *pct = '\0';
    }
    struct in6_addr a;
    return inet_pton(AF_INET6, buf, &a) == 1;
}

/* An IPv4 literal or a DNS name: letters, digits, '-', '_' and '.', no
 * empty label. */
static bool name_ok(const char *s, size_t len)
{
    if (!len || len > 253 || s[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || (c == '.' && i > 0 && s[i - 1] != '.');
        if (!ok)
            return false;
    }
    return true;
}

static int fail(char *err, size_t errlen, const char *text, const char *why)
{
    snprintf(err, errlen, "'%.200s': %s", text, why);
    return -EINVAL;
}

static int set_host(struct hostport *out, const char *h, size_t len, bool v6)
{
    if (len > HOSTPORT_HOST_MAX)
        return -EINVAL;
    memcpy(out->host, h, len);
    out->host[len] = '\0';
    out->v6 = v6;
    return 0;
}

static int set_port(struct hostport *out, const char *p)
{
    long n;
    if (strlen(p) > 5 || numparse_digits(p, 1, 65535, &n) < 0)
        return -EINVAL;
    out->portnum = (int)n;
    snprintf(out->port, sizeof(out->port), "%ld", n);
    return 0;
}

int hostport_parse(const char *text, enum hostport_port mode, struct hostport *out, char *err,
                   size_t errlen)
{
    static const char want_port[] = "expected HOST:PORT (a name, an IPv4 address or [IPv6]; "
                                    "PORT 1-65535)";
    memset(out, 0, sizeof(*out));
    const char *close = text[0] == '[' ? strchr(text, ']') : NULL;
    if (text[0] == '[') {
        if (!close || !v6_ok(text + 1, (size_t)(close - text - 1)))
            return fail(err, errlen, text, "expected [IPv6 address] between the brackets");
        set_host(out, text + 1, (size_t)(close - text - 1), true);
        if (!close[1])
            return mode == HOSTPORT_PORT_REQUIRED ? fail(err, errlen, text, want_port) : 0;
        if (close[1] != ':' || mode == HOSTPORT_PORT_NONE || set_port(out, close + 2) < 0)
            return fail(err, errlen, text,
                        mode == HOSTPORT_PORT_NONE ? "expected an address without a port"
                                                   : want_port);
        return 0;
    }
    const char *colon = strchr(text, ':');
    if (colon && strchr(colon + 1, ':')) { /* two or more: a bare v6 address */
        if (mode == HOSTPORT_PORT_REQUIRED)
            return fail(err, errlen, text, "an IPv6 address with a port is written [ADDRESS]:PORT");
        if (!v6_ok(text, strlen(text)))
            return fail(err, errlen, text, "not an IPv6 address");
        return set_host(out, text, strlen(text), true) < 0
                   ? fail(err, errlen, text, "address too long")
                   : 0;
    }
    size_t hlen = colon ? (size_t)(colon - text) : strlen(text);
    if (!name_ok(text, hlen))
        return fail(err, errlen, text,
                    colon || mode != HOSTPORT_PORT_REQUIRED ? "not a host name or an IP address"
                                                            : want_port);
    set_host(out, text, hlen, false);
    if (!colon)
        return mode == HOSTPORT_PORT_REQUIRED ? fail(err, errlen, text, want_port) : 0;
    if (mode == HOSTPORT_PORT_NONE)
        return fail(err, errlen, text, "expected an address without a port");
    return set_port(out, colon + 1) < 0 ? fail(err, errlen, text, want_port) : 0;
}

size_t hostport_format(const struct hostport *hp, char *out, size_t outlen)
{
    int n;
    if (!hp->port[0])
        n = snprintf(out, outlen, hp->v6 ? "[%s]" : "%s", hp->host);
    else
        n = snprintf(out, outlen, hp->v6 ? "[%s]:%s" : "%s:%s", hp->host, hp->port);
    return n < 0 ? 0 : (size_t)n >= outlen ? outlen - 1 : (size_t)n;
}

void hostport_default_port(struct hostport *hp, unsigned port)
{
    if (hp->port[0] || port < 1 || port > 65535)
        return;
    hp->portnum = (int)port;
    snprintf(hp->port, sizeof(hp->port), "%u", port);
}
