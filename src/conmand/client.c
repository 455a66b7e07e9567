/* Client connections: greeting, request, session (console bytes both ways,
 * 0xFF escapes from the client, in-band <ConMan> messages to it). */
#include "conmand/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "conmand/console.h"
#include "conmand/server.h"

#define REPLAY_LEN 4096

struct write_req {
    uv_write_t req;
    char data[];
};

bool client_reads(const struct client *cl)
{
    return !cl->broadcast;
}

void client_who(const struct client *cl, char *out, size_t outlen)
{
    proto_who(&cl->req, cl->host, out, outlen);
}

static void write_cb(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static void send_raw(struct client *cl, const void *buf, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    if (uv_stream_get_write_queue_size((uv_stream_t *)&cl->tcp) == 0) {
        int n = uv_try_write((uv_stream_t *)&cl->tcp, &b, 1);
        if (n == (int)len)
            return;
        if (n > 0) {
            buf = (const char *)buf + n;
            len -= (size_t)n;
        }
    }
    struct write_req *w = malloc(sizeof(*w) + len);
    if (!w) {
        cl->dropped += len;
        return;
    }
    memcpy(w->data, buf, len);
    b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&cl->tcp, &b, 1, write_cb) < 0)
        free(w);
}

void client_send(struct client *cl, const void *buf, size_t len)
{
    if (cl->state == CLIENT_CLOSING || len == 0)
        return;
    size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&cl->tcp);
    if (cl->suspended || queued + len > CLIENT_OUT_MAX) {
        /* A stuck client loses output rather than holding up the console. */
        cl->dropped += len;
        return;
    }
    if (cl->dropped && queued < CLIENT_OUT_MAX / 2) {
        char text[128], msg[160];
        snprintf(text, sizeof(text), "Dropped %llu bytes of output: client too slow",
                 (unsigned long long)cl->dropped);
        size_t n = proto_format_msg(msg, sizeof(msg), text);
        cl->dropped = 0;
        send_raw(cl, msg, n);
    }
    send_raw(cl, buf, len);
}

void client_send_msg(struct client *cl, const char *text, bool info)
{
    if (info && cl->quiet)
        return;
    char msg[1200];
    size_t n = proto_format_msg(msg, sizeof(msg), text);
    client_send(cl, msg, n);
}

static void closed_cb(uv_handle_t *h);

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)status; /* UV_ECANCELED when the stop closed the handle first */
    if (!uv_is_closing((uv_handle_t *)req->handle))
        uv_close((uv_handle_t *)req->handle, closed_cb);
    free(req);
}

static void unlink_client(struct client *cl)
{
    struct server *s = cl->srv;
    if (cl->prev)
        cl->prev->next = cl->next;
    else if (s->clients == cl)
        s->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    cl->prev = cl->next = NULL;
}

/* A closing client stays on the server's list until libuv is done with it,
 * so a stop can still close it (a stuck peer never lets a shutdown end). */
/* The reverse lookup of a client's address; outlives a client that goes
 * away first (then `cl` is NULL). Until it answers, messages name the
 * numeric address. */
struct client_dns {
    uv_getnameinfo_t req;
    struct client *cl;
};

static void name_done(uv_getnameinfo_t *req, int status, const char *host, const char *service)
{
    (void)service;
    struct client_dns *dns = req->data;
    if (dns->cl) {
        dns->cl->dns = NULL;
        if (status == 0 && host && *host)
            snprintf(dns->cl->host, sizeof(dns->cl->host), "%s", host);
    }
    free(dns);
}

static void lookup_name(struct client *cl, const struct sockaddr_storage *sa)
{
    struct client_dns *dns = calloc(1, sizeof(*dns));
    if (!dns)
        return;
    dns->cl = cl;
    dns->req.data = dns;
    if (uv_getnameinfo(cl->srv->loop, &dns->req, name_done, (const struct sockaddr *)sa,
                       NI_NAMEREQD) < 0) {
        free(dns);
        return;
    }
    cl->dns = dns;
}

static void closed_cb(uv_handle_t *h)
{
    struct client *cl = h->data;
    if (cl->dns) {
        cl->dns->cl = NULL;
        uv_cancel((uv_req_t *)&cl->dns->req);
    }
    unlink_client(cl);
    proto_req_release(&cl->req);
    free(cl->cons);
    free(cl);
}

/* Tells the console's other writers (and its log) that `cl` left. */
static void notify_departure(struct client *cl, struct console *c)
{
    char who[600], when[32], text[800];
    client_who(cl, who, sizeof(who));
    proto_short_time(time(NULL), when, sizeof(when));
    snprintf(text, sizeof(text), "Console [%s] departed by %s at %s", c->cfg.name, who, when);
    console_notify(c, text, cl);
}

void client_close(struct client *cl)
{
    if (cl->state == CLIENT_CLOSING)
        return;
    for (size_t i = 0; i < cl->ncons; i++) {
        console_detach(cl->cons[i], cl);
        if (cl->writer)
            notify_departure(cl, cl->cons[i]);
    }
    cl->ncons = 0;
    cl->state = CLIENT_CLOSING;
    uv_read_stop((uv_stream_t *)&cl->tcp);
    uv_shutdown_t *req = malloc(sizeof(*req));
    if (!req || uv_shutdown(req, (uv_stream_t *)&cl->tcp, shutdown_cb) < 0) {
        free(req);
        uv_close((uv_handle_t *)&cl->tcp, closed_cb);
    }
}

void client_close_all(struct server *s)
{
    struct client *next;
    for (struct client *cl = s->clients; cl; cl = next) {
        next = cl->next;
        client_close(cl);
        /* Queued output to a peer that does not read would hold the stop. */
        if (!uv_is_closing((uv_handle_t *)&cl->tcp))
            uv_close((uv_handle_t *)&cl->tcp, closed_cb);
    }
}

void client_console_gone(struct client *cl, struct console *c)
{
    char text[512];
    snprintf(text, sizeof(text), "Console [%s] removed from the configuration", c->cfg.name);
    client_send_msg(cl, text, false);
    console_detach(c, cl);
    for (size_t i = 0; i < cl->ncons; i++) {
        if (cl->cons[i] == c) {
            cl->cons[i] = cl->cons[--cl->ncons];
            break;
        }
    }
    if (cl->ncons == 0)
        client_close(cl);
}

static void reply_error(struct client *cl, int code, const char *text)
{
    char line[1024];
    size_t n = proto_format_error(line, sizeof(line), code, text);
    send_raw(cl, line, n);
    log_info("Client <%s@%s:%d> request failed: %s", cl->req.user, cl->host, cl->port, text);
}

static size_t writers_of(struct console *c, struct client *except, struct client **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nclients && n < max; i++)
        if (c->clients[i] != except && c->clients[i]->writer)
            out[n++] = c->clients[i];
    return n;
}

/* ERROR 7 plus one line per writer, as conman sends them. */
static bool reject_busy(struct client *cl, struct console **cons, size_t n)
{
    size_t busy = 0;
    struct client *w[64];
    for (size_t i = 0; i < n; i++)
        busy += writers_of(cons[i], cl, w, 64) > 0;
    if (!busy)
        return false;
    char text[128];
    if (busy == 1)
        snprintf(text, sizeof(text), "Found console already in use");
    else
        snprintf(text, sizeof(text), "Found %zu consoles already in use", busy);
    reply_error(cl, PROTO_ERR_BUSY_CONSOLES, text);
    for (size_t i = 0; i < n; i++) {
        size_t nw = writers_of(cons[i], cl, w, 64);
        for (size_t j = 0; j < nw; j++) {
            char who[600], idle[32], line[1024];
            client_who(w[j], who, sizeof(who));
            proto_delta((long)(time(NULL) - w[j]->last_input), idle, sizeof(idle));
            int len = snprintf(line, sizeof(line), "Console [%s] open %s by %s (idle %s).\n",
                               cons[i]->cfg.name, w[j]->broadcast ? "B/C" : "R/W", who, idle);
            send_raw(cl, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
        }
    }
    return true;
}

/* FORCE: every other writer of `c` loses it. */
static void steal(struct client *cl, struct console *c)
{
    struct client *w[64];
    char who[600], old[600], when[32], text[1400], msg[1500];
    client_who(cl, who, sizeof(who));
    proto_short_time(time(NULL), when, sizeof(when));
    size_t nw = writers_of(c, cl, w, 64);
    for (size_t i = 0; i < nw; i++) {
        client_who(w[i], old, sizeof(old));
        snprintf(text, sizeof(text), "Console [%s] stolen by %s at %s", c->cfg.name, who, when);
        client_send_msg(w[i], text, false);
        logfile_write_msg(&c->log, msg, proto_format_msg(msg, sizeof(msg), text));
        snprintf(text, sizeof(text), "Console [%s] stolen from %s at %s", c->cfg.name, old, when);
        client_send_msg(cl, text, false);
        /* Its departure goes to the log only, as conman does. */
        char who_old[600];
        snprintf(who_old, sizeof(who_old), "%s", old);
        snprintf(text, sizeof(text), "Console [%s] departed by %s at %s", c->cfg.name, who_old,
                 when);
        logfile_write_msg(&c->log, msg, proto_format_msg(msg, sizeof(msg), text));
        if (w[i]->ncons <= 1) {
            w[i]->writer = false; /* no departure notice to clients: it was stolen */
            client_close(w[i]);
        } else {
            console_detach(c, w[i]);
            for (size_t k = 0; k < w[i]->ncons; k++)
                if (w[i]->cons[k] == c)
                    w[i]->cons[k] = w[i]->cons[--w[i]->ncons];
        }
    }
}

/* JOIN (or broadcast): the other writers and the log hear of it. */
static void announce_join(struct client *cl, struct console *c)
{
    struct client *w[64];
    char who[600], other[600], when[32], text[1400];
    client_who(cl, who, sizeof(who));
    proto_short_time(time(NULL), when, sizeof(when));
    size_t nw = writers_of(c, cl, w, 64);
    snprintf(text, sizeof(text), "Console [%s] joined %sby %s at %s", c->cfg.name,
             cl->broadcast ? "for B/C " : "", who, when);
    char msg[1500];
    logfile_write_msg(&c->log, msg, proto_format_msg(msg, sizeof(msg), text));
    for (size_t i = 0; i < nw; i++) {
        client_send_msg(w[i], text, true);
        client_who(w[i], other, sizeof(other));
        char back[1400];
        snprintf(back, sizeof(back), "Console [%s] joined with %s at %s", c->cfg.name, other, when);
        client_send_msg(cl, back, true);
    }
}

static void greet_console(struct client *cl, struct console *c)
{
    if (c->state != CONSOLE_UP && cl->ncons == 1) {
        char peer[512], text[700];
        if (c->ops && c->ops->describe)
            c->ops->describe(c, peer, sizeof(peer));
        else
            snprintf(peer, sizeof(peer), "\"%s\"", c->cfg.dev);
        snprintf(text, sizeof(text), "Console [%s] is currently disconnected from %s", c->cfg.name,
                 peer);
        client_send_msg(cl, text, true);
    }
    console_kick(c);
}

static void start_session(struct client *cl, struct console **cons, size_t n)
{
    const char *names[PROTO_MAX_PATTERNS];
    for (size_t i = 0; i < n && i < PROTO_MAX_PATTERNS; i++)
        names[i] = cons[i]->cfg.name;
    char line[PROTO_MAX_LINE];
    send_raw(cl, line,
             proto_format_ok(line, sizeof(line), names, n, cl->srv->conf.server.resetcmd != NULL));
    cl->cons = cons;
    cl->ncons = n;
    cl->writer = cl->req.cmd == PROTO_CMD_CONNECT;
    cl->broadcast = cl->writer && n > 1;
    cl->state = CLIENT_SESSION;
    cl->last_input = time(NULL);
    log_info("Client <%s@%s:%d> issued %s command", cl->req.user, cl->host, cl->port,
             cl->writer ? "connect" : "monitor");
    for (size_t i = 0; i < n; i++) {
        if (cl->writer && cl->req.force)
            steal(cl, cons[i]);
        else if (cl->writer)
            announce_join(cl, cons[i]);
        console_attach(cons[i], cl);
        greet_console(cl, cons[i]);
    }
}

/* The stock client reads one reply line of at most 32 KiB and silently
 * drops the rest (about 1,600 to 4,000 names), and no reply shape gets more
 * names through with an exit status of 0. So the reply holds only the names
 * that fit whole, and the server log says how many were left out and how to
 * narrow the query. */
static void do_query(struct client *cl, struct console **cons, size_t n)
{
    size_t len = 32;
    for (size_t i = 0; i < n; i++)
        len += strlen(cons[i]->cfg.name) + 12;
    if (len > PROTO_CLIENT_LINE_MAX + 1)
        len = PROTO_CLIENT_LINE_MAX + 1;
    char *line = malloc(len);
    const char **names = malloc((n ? n : 1) * sizeof(*names));
    if (!line || !names) {
        reply_error(cl, PROTO_ERR_NO_RESOURCES, "Insufficient resources to process request");
    } else {
        for (size_t i = 0; i < n; i++)
            names[i] = cons[i]->cfg.name;
        size_t fitted;
        send_raw(cl, line,
                 proto_format_ok_fit(line, len, names, n, cl->srv->conf.server.resetcmd != NULL,
                                     &fitted));
        log_info("Client <%s@%s:%d> issued query command", cl->req.user, cl->host, cl->port);
        if (fitted < n)
            log_warn("Client <%s@%s:%d> query matched %zu consoles but only the first %zu fit in "
                     "the one %d-byte reply line the conman client reads; %zu not listed: narrow "
                     "the query, e.g. conman -q -r 'NAME-PREFIX.*'",
                     cl->req.user, cl->host, cl->port, n, fitted, PROTO_CLIENT_LINE_MAX,
                     n - fitted);
    }
    free(line);
    free(names);
}

static void too_many(struct client *cl, struct console **cons, size_t n)
{
    char text[64];
    snprintf(text, sizeof(text), "Found %zu matching consoles", n);
    reply_error(cl, PROTO_ERR_TOO_MANY_CONSOLES, text);
    for (size_t i = 0; i < n; i++) {
        send_raw(cl, cons[i]->cfg.name, strlen(cons[i]->cfg.name));
        send_raw(cl, "\n", 1);
    }
}

/* Returns true when the connection stays open as a session. */
static bool handle_request(struct client *cl)
{
    struct server *s = cl->srv;
    char msg[256];
    const char **names = malloc((s->nconsoles ? s->nconsoles : 1) * sizeof(*names));
    bool *match = calloc(s->nconsoles ? s->nconsoles : 1, sizeof(*match));
    struct console **cons = malloc((s->nconsoles ? s->nconsoles : 1) * sizeof(*cons));
    bool session = false;
    if (!names || !match || !cons) {
        reply_error(cl, PROTO_ERR_NO_RESOURCES, "Insufficient resources to process request");
        goto out;
    }
    for (size_t i = 0; i < s->nconsoles; i++)
        names[i] = s->consoles[i]->cfg.name;
    int count = proto_match(&cl->req, names, s->nconsoles, match, msg, sizeof(msg));
    size_t n = 0;
    for (size_t i = 0; count > 0 && i < s->nconsoles; i++)
        if (match[i])
            cons[n++] = s->consoles[i];
    if (count < 0)
        reply_error(cl, -count, msg);
    else if (cl->req.cmd == PROTO_CMD_NONE || n == 0)
        reply_error(cl, PROTO_ERR_NO_CONSOLES, "Found no matching consoles");
    else if (cl->req.cmd == PROTO_CMD_QUERY)
        do_query(cl, cons, n);
    else if (n > 1 && !(cl->req.cmd == PROTO_CMD_CONNECT && cl->req.broadcast))
        too_many(cl, cons, n);
    else if (cl->req.cmd == PROTO_CMD_CONNECT && !cl->req.join && !cl->req.force &&
             reject_busy(cl, cons, n))
        ;
    else {
        start_session(cl, cons, n);
        cons = NULL; /* owned by the session now */
        session = true;
    }
out:
    free(names);
    free(match);
    free(cons);
    return session;
}

static void replay_log(struct client *cl, struct console *c)
{
    char text[512];
    if (!c->log.path) {
        snprintf(text, sizeof(text), "Console [%s] is not being logged", c->cfg.name);
        client_send_msg(cl, text, false);
        return;
    }
    char buf[REPLAY_LEN];
    long n = logfile_tail(&c->log, buf, sizeof(buf));
    snprintf(text, sizeof(text), "Begin log replay of console [%s]", c->cfg.name);
    client_send_msg(cl, text, false);
    if (n > 0)
        client_send(cl, buf, (size_t)n);
    snprintf(text, sizeof(text), "End log replay of console [%s]", c->cfg.name);
    client_send_msg(cl, text, false);
}

static void escape_reset(struct client *cl)
{
    char who[600], when[32], text[1400];
    client_who(cl, who, sizeof(who));
    proto_short_time(time(NULL), when, sizeof(when));
    for (size_t i = 0; cl->writer && i < cl->ncons; i++) {
        struct console *c = cl->cons[i];
        log_info("Console [%s] reset by <%s@%s>", c->cfg.name, cl->req.user, cl->host);
        snprintf(text, sizeof(text), "Console [%s] reset by %s at %s", c->cfg.name, who, when);
        console_notify(c, text, NULL);
        server_reset_console(cl->srv, c);
    }
}

static void escape(struct client *cl, unsigned char cmd)
{
    unsigned char del = 0x7F;
    switch (cmd) {
    case PROTO_ESC_BREAK:
        for (size_t i = 0; cl->writer && i < cl->ncons; i++)
            if (cl->cons[i]->ops && cl->cons[i]->ops->send_break)
                cl->cons[i]->ops->send_break(cl->cons[i]);
        break;
    case PROTO_ESC_DEL:
        for (size_t i = 0; cl->writer && i < cl->ncons; i++)
            console_write(cl->cons[i], &del, 1);
        break;
    case PROTO_ESC_LOG:
        if (!cl->broadcast && cl->ncons == 1)
            replay_log(cl, cl->cons[0]);
        break;
    case PROTO_ESC_QUIET:
        cl->quiet = !cl->quiet;
        client_send_msg(cl,
                        cl->quiet ? "Quiet-mode enabled -- info msgs will be suppressed"
                                  : "Quiet-mode disabled -- info msgs will be displayed",
                        false);
        break;
    case PROTO_ESC_RESET:
        escape_reset(cl);
        break;
    case PROTO_ESC_SUSPEND:
        cl->suspended = !cl->suspended;
        break;
    case PROTO_ESC_MONITOR:
        if (!cl->broadcast && cl->writer && cl->ncons == 1) {
            cl->writer = false;
            notify_departure(cl, cl->cons[0]);
        }
        break;
    case PROTO_ESC_JOIN:
    case PROTO_ESC_FORCE:
        if (!cl->broadcast && !cl->writer && cl->ncons == 1) {
            if (cmd == PROTO_ESC_FORCE)
                steal(cl, cl->cons[0]);
            else
                announce_join(cl, cl->cons[0]);
            cl->writer = true;
        }
        break;
    default:
        log_warn("Client <%s@%s:%d> sent unknown escape '%c'", cl->req.user, cl->host, cl->port,
                 cmd);
    }
}

/* Session input: unstuffs 0xFF escapes, forwards the rest. */
static void session_input(struct client *cl, unsigned char *buf, size_t len)
{
    size_t o = 0;
    cl->last_input = time(NULL);
    for (size_t i = 0; i < len && cl->state == CLIENT_SESSION; i++) {
        if (cl->got_esc) {
            cl->got_esc = false;
            if (buf[i] == PROTO_ESC) {
                buf[o++] = buf[i];
                continue;
            }
            for (size_t k = 0; cl->writer && o && k < cl->ncons; k++)
                console_write(cl->cons[k], buf, o);
            o = 0;
            escape(cl, buf[i]);
        } else if (buf[i] == PROTO_ESC) {
            cl->got_esc = true;
        } else {
            buf[o++] = buf[i];
        }
    }
    for (size_t k = 0; cl->writer && o && k < cl->ncons && cl->state == CLIENT_SESSION; k++)
        console_write(cl->cons[k], buf, o);
}

/* One line of the greeting or request. Returns false when the connection
 * ends (answered or refused). */
static bool handle_line(struct client *cl, const char *line)
{
    char msg[256];
    if (cl->state == CLIENT_GREETING) {
        int rc = proto_parse_hello(line, &cl->req, msg, sizeof(msg));
        if (rc) {
            reply_error(cl, rc, msg);
            return false;
        }
        send_raw(cl, "OK\n", 3);
        cl->state = CLIENT_REQUEST;
        return true;
    }
    if (proto_parse_request(line, &cl->req) < 0) {
        reply_error(cl, PROTO_ERR_NO_RESOURCES, "Insufficient resources to process request");
        return false;
    }
    return handle_request(cl);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct client *cl = h->data;
    if (cl->state == CLIENT_SESSION) /* one loop thread: reads never overlap */
        *buf = uv_buf_init(cl->srv->readbuf, sizeof(cl->srv->readbuf));
    else
        *buf = uv_buf_init(cl->in + cl->inlen, (unsigned)(sizeof(cl->in) - cl->inlen));
}

static void lines_in(struct client *cl, size_t nread)
{
    cl->inlen += nread;
    for (;;) {
        char *nl = memchr(cl->in, '\n', cl->inlen);
        if (!nl) {
            if (cl->inlen == sizeof(cl->in)) {
                reply_error(cl, PROTO_ERR_BAD_REQUEST, "Request line too long");
                client_close(cl);
            }
            return;
        }
        *nl = '\0';
        if (nl > cl->in && nl[-1] == '\r')
            nl[-1] = '\0';
        size_t used = (size_t)(nl - cl->in) + 1;
        bool keep = handle_line(cl, cl->in);
        memmove(cl->in, cl->in + used, cl->inlen - used);
        cl->inlen -= used;
        if (!keep) {
            client_close(cl);
            return;
        }
        if (cl->state == CLIENT_SESSION) {
            if (cl->inlen)
                session_input(cl, (unsigned char *)cl->in, cl->inlen);
            cl->inlen = 0;
            return;
        }
    }
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct client *cl = st->data;
    if (nread < 0) {
        client_close(cl);
        return;
    }
    if (nread == 0)
        return;
    if (cl->state == CLIENT_SESSION)
        session_input(cl, (unsigned char *)buf->base, (size_t)nread);
    else if (cl->state != CLIENT_CLOSING)
        lines_in(cl, (size_t)nread);
}

void client_accept(struct server *s)
{
    struct client *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return;
    cl->srv = s;
    uv_tcp_init(s->loop, &cl->tcp);
    cl->tcp.data = cl;
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&cl->tcp) < 0) {
        uv_close((uv_handle_t *)&cl->tcp, closed_cb);
        return;
    }
    struct sockaddr_storage sa;
    int len = sizeof(sa);
    if (uv_tcp_getpeername(&cl->tcp, (struct sockaddr *)&sa, &len) == 0) {
        server_peer_name(&sa, cl->host, sizeof(cl->host), &cl->port);
        lookup_name(cl, &sa);
    } else
        snprintf(cl->host, sizeof(cl->host), "unknown");
    if (s->conf.server.keepalive)
        uv_tcp_keepalive(&cl->tcp, 1, 60);
    uv_tcp_nodelay(&cl->tcp, 1);
    cl->next = s->clients;
    if (s->clients)
        s->clients->prev = cl;
    s->clients = cl;
    uv_read_start((uv_stream_t *)&cl->tcp, alloc_cb, read_cb);
}
