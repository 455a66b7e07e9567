/* telnet host:port consoles (terminal servers): TCP with enough option
 * negotiation for real terminal servers: we accept the server's ECHO,
 * SUPPRESS-GO-AHEAD and BINARY, offer SGA and BINARY, refuse the rest. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common/log.h"
#include "conmand/console.h"
#include "conmand/server.h"

#define T_IAC 255
#define T_DONT 254
#define T_DO 253
#define T_WONT 252
#define T_WILL 251
#define T_SB 250
#define T_BREAK 243
#define T_SE 240
#define OPT_BINARY 0
#define OPT_ECHO 1
#define OPT_SGA 3

/* A host name lookup in libuv's thread pool; outlives a console that goes
 * away meanwhile (then `c` is NULL and the answer is dropped). */
struct telnet_dns {
    uv_getaddrinfo_t req;
    struct console *c;
};

struct telnet {
    int state; /* 0 data, T_IAC, T_DO.. awaiting option, T_SB in sub-negotiation */
    bool sb_iac;
    unsigned char answered[2][256]; /* replies already sent, per direction */
    struct telnet_dns *dns;         /* pending lookup, or NULL */
    struct sockaddr_storage addr;   /* resolved peer, valid if have_addr */
    socklen_t addrlen;
    bool have_addr;
};

static int split_host_port(const char *dev, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon = strrchr(dev, ':');
    if (!colon || (size_t)(colon - dev) >= hostlen || strlen(colon + 1) >= portlen)
        return -EINVAL;
    memcpy(host, dev, (size_t)(colon - dev));
    host[colon - dev] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

static void dns_done(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    struct telnet_dns *dns = req->data;
    struct console *c = dns->c;
    if (c) {
        struct telnet *t = c->priv;
        t->dns = NULL;
        if (status == 0 && ai && ai->ai_addrlen <= sizeof(t->addr)) {
            memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
            t->addrlen = ai->ai_addrlen;
            t->have_addr = true;
            c->state = CONSOLE_DOWN;
            console_kick(c); /* opens again, now with the address */
        } else {
            console_down(c, status ? uv_strerror(status) : "no address");
        }
    }
    uv_freeaddrinfo(ai);
    free(dns);
}

/* Numeric addresses resolve at once; names go to libuv's thread pool so a
 * slow DNS server never stalls the loop. Returns 0 (address ready),
 * -EINPROGRESS (lookup started) or -errno. */
static int resolve(struct console *c, struct telnet *t, const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV},
                    *ai;
    if (t->have_addr)
        return 0;
    if (getaddrinfo(host, port, &hints, &ai) == 0) {
        memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
        t->addrlen = ai->ai_addrlen;
        t->have_addr = true;
        freeaddrinfo(ai);
        return 0;
    }
    struct telnet_dns *dns = calloc(1, sizeof(*dns));
    if (!dns)
        return -ENOMEM;
    dns->c = c;
    dns->req.data = dns;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = uv_getaddrinfo(c->srv->loop, &dns->req, dns_done, host, port, &hints);
    if (rc < 0) {
        free(dns);
        return -EHOSTUNREACH;
    }
    t->dns = dns;
    return -EINPROGRESS;
}

/* As conman: urgent data stays in the stream, and SERVER keepalive finds a
 * terminal server that went away without a word (a half-open connection
 * would otherwise look up for ever). */
static void set_socket_options(struct console *c, int fd)
{
    int on = 1, idle = 60, intvl = 10, cnt = 6; /* gone within 2 min, as ssh: */
    if (setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &on, sizeof(on)) < 0)
        log_warn("Console [%s]: cannot set SO_OOBINLINE: %s", c->cfg.name, strerror(errno));
    if (!c->srv->conf.server.keepalive)
        return;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0)
        log_warn("Console [%s]: cannot set SO_KEEPALIVE: %s", c->cfg.name, strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static int telnet_open(struct console *c, bool *connecting, char *err, size_t errlen)
{
    char host[256], port[16];
    if (split_host_port(c->cfg.dev, host, sizeof(host), port, sizeof(port)) < 0) {
        snprintf(err, errlen, "Console [%s]: bad host:port in dev \"%s\"", c->cfg.name, c->cfg.dev);
        return -EINVAL;
    }
    if (!c->priv && !(c->priv = calloc(1, sizeof(struct telnet))))
        return -ENOMEM;
    struct telnet *t = c->priv;
    int rc = resolve(c, t, host, port);
    if (rc < 0) {
        if (rc != -EINPROGRESS)
            snprintf(err, errlen, "Console [%s]: cannot resolve \"%s\"", c->cfg.name, host);
        return rc;
    }
    t->have_addr = false; /* the next attempt asks DNS again */
    int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    set_socket_options(c, fd);
    rc = connect(fd, (struct sockaddr *)&t->addr, t->addrlen);
    int e = errno;
    if (rc < 0 && e != EINPROGRESS) {
        close(fd);
        snprintf(err, errlen, "Console [%s]: cannot connect to <%s>: %s", c->cfg.name, c->cfg.dev,
                 strerror(e));
        return -e;
    }
    *connecting = rc < 0;
    return fd;
}

static void reply(struct console *c, unsigned char verb, unsigned char opt)
{
    struct telnet *t = c->priv;
    int dir = (verb == T_DO || verb == T_DONT) ? 0 : 1;
    if (t->answered[dir][opt] == verb)
        return; /* already said so: avoid negotiation loops */
    t->answered[dir][opt] = verb;
    unsigned char msg[3] = {T_IAC, verb, opt};
    console_queue_raw(c, msg, 3);
}

static void negotiate(struct console *c, int verb, unsigned char opt)
{
    bool ok_local = opt == OPT_SGA || opt == OPT_BINARY;
    bool ok_remote = ok_local || opt == OPT_ECHO;
    if (verb == T_WILL)
        reply(c, ok_remote ? T_DO : T_DONT, opt);
    else if (verb == T_WONT)
        reply(c, T_DONT, opt);
    else if (verb == T_DO)
        reply(c, ok_local ? T_WILL : T_WONT, opt);
    else if (verb == T_DONT)
        reply(c, T_WONT, opt);
}

static size_t telnet_filter_in(struct console *c, unsigned char *buf, size_t len)
{
    struct telnet *t = c->priv;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = buf[i];
        if (t->state == 0) {
            if (b == T_IAC)
                t->state = T_IAC;
            else
                buf[o++] = b;
        } else if (t->state == T_IAC) {
            if (b == T_IAC) {
                buf[o++] = b;
                t->state = 0;
            } else if (b >= T_WILL && b <= T_DONT) {
                t->state = b;
            } else if (b == T_SB) {
                t->state = T_SB;
                t->sb_iac = false;
            } else {
                t->state = 0; /* NOP, GA, AYT...: nothing to do */
            }
        } else if (t->state == T_SB) {
            if (t->sb_iac && b == T_SE)
                t->state = 0;
            t->sb_iac = b == T_IAC && !t->sb_iac;
        } else {
            negotiate(c, t->state, b);
            t->state = 0;
        }
    }
    return o;
}

static void telnet_write(struct console *c, const unsigned char *buf, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == T_IAC) {
            console_queue_raw(c, buf + start, i + 1 - start);
            start = i; /* the IAC goes out twice */
        }
    }
    console_queue_raw(c, buf + start, len - start);
}

static void telnet_close(struct console *c)
{
    struct telnet *t = c->priv;
    if (!t)
        return;
    if (t->dns) {
        t->dns->c = NULL; /* its callback frees it */
        uv_cancel((uv_req_t *)&t->dns->req);
    }
    /* Fresh negotiation state for the next connection. */
    free(t);
    c->priv = NULL;
}

static void telnet_describe(const struct console *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "<%s>", c->cfg.dev);
}

static void telnet_break(struct console *c)
{
    unsigned char msg[2] = {T_IAC, T_BREAK};
    console_queue_raw(c, msg, 2);
}

const struct console_ops console_telnet_ops = {
    .type = "telnet",
    .open = telnet_open,
    .filter_in = telnet_filter_in,
    .write = telnet_write,
    .close = telnet_close,
    .describe = telnet_describe,
    .send_break = telnet_break,
};
