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
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common/log.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/types.h"
#include "conmand/consoles/telnet.h"

#include "common/hostport.h"
#include "conmand/net/dial.h"

struct telnet {
    struct telnet_rx rx;
    struct dial *dial; /* connecting, or NULL */
};

/* As conman: urgent data stays in the stream, and SERVER keepalive finds a
 * terminal server that went away without a word (a half-open connection
 * would otherwise look up for ever): probes after 30 s of silence, 4 of
 * them 5 s apart, so it is down within 50 s; unacknowledged input to it
 * gives up after as long. A peer whose kernel still answers (a stopped
 * process on a live host) is not found this way. */
static void set_socket_options(struct console *c, int fd)
{
    int on = 1, idle = 30, intvl = 5, cnt = 4, user_ms = (idle + intvl * cnt) * 1000;
    if (setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &on, sizeof(on)) < 0)
        log_warn("Console [%s]: cannot set SO_OOBINLINE: %s", c->cfg.name, strerror(errno));
    if (!c->hub->settings->keepalive)
        return;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0)
        log_warn("Console [%s]: cannot set SO_KEEPALIVE: %s", c->cfg.name, strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof(user_ms));
}

static void dialed(void *ctx, int fd, const char *why)
{
    struct console *c = ctx;
    struct telnet *t = c->priv;
    t->dial = NULL;
    if (fd < 0) {
        console_down(c, why);
        return;
    }
    set_socket_options(c, fd);
    console_up(c, fd);
}

/* Every address of the host is tried (net/dial.c); the next attempt asks
 * DNS again. */
static int telnet_open(struct console *c, bool *connecting, char *err, size_t errlen)
{
    (void)connecting;
    /* [v6]:port reaches the resolver without its brackets. */
    struct hostport hp;
    char why[300];
    if (hostport_parse(c->cfg.dev, HOSTPORT_PORT_REQUIRED, &hp, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "Console [%s]: bad dev %s", c->cfg.name, why);
        return -EINVAL;
    }
    if (!c->priv && !(c->priv = calloc(1, sizeof(struct telnet))))
        return -ENOMEM;
    struct telnet *t = c->priv;
    if (!(t->dial = dial_start(c->hub->loop, hp.host, hp.port, dialed, c))) {
        snprintf(err, errlen, "Console [%s]: out of memory connecting", c->cfg.name);
        return -ENOMEM;
    }
    return -EINPROGRESS; /* dialed() calls console_up() */
}

static void reply(struct telnet_rx *t, unsigned char verb, unsigned char opt, telnet_out_fn out,
                  void *ctx)
{
    int dir = (verb == TELNET_DO || verb == TELNET_DONT) ? 0 : 1;
    if (t->answered[dir][opt] == verb)
        return; /* already said so: avoid negotiation loops */
    t->answered[dir][opt] = verb;
    unsigned char msg[3] = {TELNET_IAC, verb, opt};
    out(ctx, msg, 3);
}

static void negotiate(struct telnet_rx *t, int verb, unsigned char opt, telnet_out_fn out,
                      void *ctx)
{
    bool ok_local = opt == TELNET_OPT_SGA || opt == TELNET_OPT_BINARY;
    bool ok_remote = ok_local || opt == TELNET_OPT_ECHO;
    if (verb == TELNET_WILL)
        reply(t, ok_remote ? TELNET_DO : TELNET_DONT, opt, out, ctx);
    else if (verb == TELNET_WONT)
        reply(t, TELNET_DONT, opt, out, ctx);
    else if (verb == TELNET_DO)
        reply(t, ok_local ? TELNET_WILL : TELNET_WONT, opt, out, ctx);
    else if (verb == TELNET_DONT)
        reply(t, TELNET_WONT, opt, out, ctx);
}

size_t telnet_rx_filter(struct telnet_rx *t, unsigned char *buf, size_t len, telnet_out_fn out,
                        void *ctx)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (t->state == 0) {
            /* Data up to the next IAC moves in one piece (not at all when
             * nothing was taken out before it). */
            const unsigned char *iac = memchr(buf + i, TELNET_IAC, len - i);
            size_t n = iac ? (size_t)(iac - (buf + i)) : len - i;
            if (o != i)
                memmove(buf + o, buf + i, n);
            o += n;
            i += n;
            if (i == len)
                break;
        }
        unsigned char b = buf[i];
        if (t->state == 0) {
            if (b == TELNET_IAC)
                t->state = TELNET_IAC;
            else
                buf[o++] = b;
        } else if (t->state == TELNET_IAC) {
            if (b == TELNET_IAC) {
                buf[o++] = b;
                t->state = 0;
            } else if (b >= TELNET_WILL && b <= TELNET_DONT) {
                t->state = b;
            } else if (b == TELNET_SB) {
                t->state = TELNET_SB;
                t->sb_iac = false;
            } else {
                t->state = 0; /* NOP, GA, AYT...: nothing to do */
            }
        } else if (t->state == TELNET_SB) {
            if (t->sb_iac && b == TELNET_SE)
                t->state = 0;
            t->sb_iac = b == TELNET_IAC && !t->sb_iac;
        } else {
            negotiate(t, t->state, b, out, ctx);
            t->state = 0;
        }
    }
    return o;
}

void telnet_tx_escape(const unsigned char *buf, size_t len, telnet_out_fn out, void *ctx)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == TELNET_IAC) {
            out(ctx, buf + start, i + 1 - start);
            start = i; /* the IAC goes out twice */
        }
    }
    if (len > start)
        out(ctx, buf + start, len - start);
}

static void queue_raw(void *ctx, const unsigned char *buf, size_t len)
{
    console_queue_raw(ctx, buf, len);
}

static size_t telnet_filter_in(struct console *c, unsigned char *buf, size_t len)
{
    struct telnet *t = c->priv;
    return telnet_rx_filter(&t->rx, buf, len, queue_raw, c);
}

static void telnet_write(struct console *c, const unsigned char *buf, size_t len)
{
    telnet_tx_escape(buf, len, queue_raw, c);
}

static void telnet_close(struct console *c)
{
    struct telnet *t = c->priv;
    if (!t)
        return;
    if (t->dial)
        dial_cancel(t->dial);
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
    unsigned char msg[2] = {TELNET_IAC, TELNET_BREAK};
    console_queue_raw(c, msg, 2);
}

static const struct console_ops telnet_ops = {
    .connect = telnet_open,
    .filter_in = telnet_filter_in,
    .write = telnet_write,
    .disconnect = telnet_close,
    .describe = telnet_describe,
    .send_break = telnet_break,
};

/* host:port, the port all digits (a path is never one). */
static bool telnet_recognise(const char *dev, bool is_chardev)
{
    (void)is_chardev;
    const char *colon = strrchr(dev, ':');
    return dev[0] != '/' && colon && colon != dev && colon[1] &&
           strspn(colon + 1, "0123456789") == strlen(colon + 1);
}

/* A bad address is said at its line of the file, not at each retry. */
static int telnet_check_dev(const char *dev, char *err, size_t errlen)
{
    struct hostport hp;
    char why[300];
    if (hostport_parse(dev, HOSTPORT_PORT_REQUIRED, &hp, why, sizeof(why)) == 0)
        return 0;
    snprintf(err, errlen, "dev %s", why);
    return -EINVAL;
}

static const char *telnet_dev_id(const char *dev)
{
    return dev;
}

const struct console_type console_type_telnet = {
    .name = "telnet",
    .recognise = telnet_recognise,
    .check_dev = telnet_check_dev,
    .dev_id = telnet_dev_id,
    .ops = &telnet_ops,
};
