#include "common/addrorder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool same(const struct addrorder *o, const struct addrinfo *ai)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->len[i] == ai->ai_addrlen && memcmp(&o->addr[i], ai->ai_addr, ai->ai_addrlen) == 0)
            return true;
    return false;
}

/* The next entry of `family` at or after `ai` that is not kept already. */
static const struct addrinfo *next_of(const struct addrorder *o, const struct addrinfo *ai,
                                      int family)
{
    for (; ai; ai = ai->ai_next)
        if (ai->ai_family == family && ai->ai_addrlen <= sizeof(o->addr[0]) && !same(o, ai))
            return ai;
    return NULL;
}

static bool usable(const struct addrinfo *ai)
{
    return ai->ai_family == AF_INET || ai->ai_family == AF_INET6;
}

size_t addrorder_fill(struct addrorder *o, const struct addrinfo *ai)
{
    o->n = 0;
    while (ai && !usable(ai))
        ai = ai->ai_next;
    if (!ai)
        return 0;
    int first = ai->ai_family, other = first == AF_INET ? AF_INET6 : AF_INET;
    const struct addrinfo *cur[2] = {ai, ai};
    int family[2] = {first, other};
    for (size_t turn = 0; o->n < ADDRORDER_MAX; turn++) {
        const struct addrinfo *a = next_of(o, cur[turn % 2], family[turn % 2]);
        if (!a) {
            /* This family is spent: the other's rest follows in its order. */
            a = next_of(o, cur[(turn + 1) % 2], family[(turn + 1) % 2]);
            if (!a)
                break;
            turn++;
        }
        memcpy(&o->addr[o->n], a->ai_addr, a->ai_addrlen);
        o->len[o->n++] = a->ai_addrlen;
        cur[turn % 2] = a->ai_next;
    }
    return o->n;
}

void addrorder_format(const struct sockaddr *sa, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        port = ntohs(s6->sin6_port);
        snprintf(out, outlen, "[%s]:%u", host, port);
        return;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        port = ntohs(s4->sin_port);
    }
    snprintf(out, outlen, "%s:%u", host, port);
}
