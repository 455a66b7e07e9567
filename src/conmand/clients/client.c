/* Client connections: greeting, request, session (console bytes both ways,
 * 0xFF escapes from the client, in-band <ConMan> messages to it). */
#include "conmand/clients/client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "conmand/clients/relay.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/registry.h"
#include "conmand/consoles/types.h"
#include "conmand/consoles/reset.h"
#include "conmand/consoles/notice.h"

#define REPLAY_LEN 4096
/* Request bytes are read into a buffer that starts this small and doubles
 * up to PROTO_MAX_LINE: an idle client does not hold 128 KiB. */
#define IN_START 1024
/* Bytes of an over-long request line skipped (after the error is sent)
 * before the connection is dropped, so the reply is not lost to a reset. */
#define DISCARD_MAX (4 * PROTO_MAX_LINE)
/* Matching one request's patterns against every console stops after this
 * long: the loop serves every console and client. */
#define MATCH_BUDGET_NS (50 * 1000 * 1000ULL)
/* One reset escape runs at most this many resetcmds: each is a fork. */
#define RESET_MAX 128
/* Down consoles one session start asks to reconnect at once. */
#define KICK_MAX 64
/* Bytes one read of a broadcast session may copy into console queues. */
#define BROADCAST_COPY_MAX (4 * 1024 * 1024)
/* "<user@host> on tty", each field at most PROTO_NAME_MAX; a message text
 * and its framed form, so a long console name never cuts the frame. */
#define WHO_MAX (3 * PROTO_NAME_MAX + 16)
#define TEXT_MAX 2048
#define MSG_MAX (TEXT_MAX + 16)

/* A reply built in pieces and sent in one write (not thousands of small
 * ones). `failed` once out of memory: the caller then sends none of it. */
struct obuf {
    char *p;
    size_t len, cap;
    bool failed;
};

static void obuf_add(struct obuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Output waiting behind the write in flight, in one growing buffer: one
 * write per round trip instead of one allocation and request per console
 * read (which cost several times the bytes queued). */
struct client_out {
    uv_write_t req;
    size_t len, cap;
    char data[];
};

#define OUT_START 4096

bool client_reads(const struct client *cl)
{
    return !cl->broadcast;
}

void client_who(const struct client *cl, char *out, size_t outlen)
{
    proto_who(&cl->req, cl->host, out, outlen);
}

/* Bytes handed to libuv and not yet written, plus those waiting. */
static size_t queued_bytes(const struct client *cl)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&cl->tcp) +
           (cl->pend ? cl->pend->len : 0);
}

static void write_cb(uv_write_t *req, int status);

/* Hands the waiting output to libuv (it writes what it can at once). */
static void flush_pending(struct client *cl)
{
    struct client_out *o = cl->pend;
    cl->pend = NULL;
    uv_buf_t b = uv_buf_init(o->data, (unsigned)o->len);
    if (uv_write(&o->req, (uv_stream_t *)&cl->tcp, &b, 1, write_cb) < 0) {
        free(o);
        return;
    }
    cl->writing = true;
}

static void write_cb(uv_write_t *req, int status)
{
    struct client *cl = req->handle->data;
    free(req); /* the first member of its struct client_out */
    cl->writing = false;
    if (status == 0 && cl->pend && cl->state != CLIENT_CLOSING)
        flush_pending(cl);
}

static int append_pending(struct client *cl, const char *buf, size_t len)
{
    struct client_out *o = cl->pend;
    size_t have = o ? o->len : 0, cap = o ? o->cap : 0;
    if (have + len > cap) {
        /* Small, or at once what the cap leaves beside the write in
         * flight: the sizes in between would be left behind as holes in
         * the heap by every lagging client. */
        size_t flying = uv_stream_get_write_queue_size((const uv_stream_t *)&cl->tcp);
        size_t grown = !cap ? OUT_START : flying < CLIENT_OUT_MAX ? CLIENT_OUT_MAX - flying : 0;
        if (grown < have + len)
            grown = have + len; /* a long reply: exactly what it needs */
        o = realloc(o, sizeof(*o) + grown);
        if (!o)
            return -ENOMEM;
        o->len = have;
        o->cap = grown;
        cl->pend = o;
    }
    memcpy(o->data + o->len, buf, len);
    o->len += len;
    return 0;
}

/* Queues bytes whatever the queue holds (replies and notices). */
static void send_raw(struct client *cl, const void *buf, size_t len)
{
    if (cl->state == CLIENT_CLOSING || len == 0)
        return;
    if (!cl->writing && !cl->pend) {
        uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&cl->tcp, &b, 1);
        if (n == (int)len)
            return;
        if (n > 0) {
            buf = (const char *)buf + n;
            len -= (size_t)n;
        }
    }
    if (append_pending(cl, buf, len) < 0) {
        cl->dropped += len;
        cl->hub->stats.dropped_bytes += len;
        return;
    }
    if (!cl->writing)
        flush_pending(cl);
}

static void start_lagging(struct client *cl)
{
    cl->lagging = true;
    log_warn("Client <%s@%s:%d> too slow: %d KiB of output unsent; dropping console output "
             "until it reads again",
             cl->req.user, cl->host, cl->port, CLIENT_OUT_MAX / 1024);
}

/* The client reads again: it is told (and the log says) what it lost. */
static void end_lagging(struct client *cl)
{
    char text[128], msg[160];
    snprintf(text, sizeof(text), "Dropped %llu bytes of output: client too slow",
             (unsigned long long)cl->dropped);
    log_info("Client <%s@%s:%d> reads again: %llu bytes of output dropped", cl->req.user, cl->host,
             cl->port, (unsigned long long)cl->dropped);
    size_t n = notice_format(msg, sizeof(msg), text);
    cl->dropped = 0;
    cl->lagging = false;
    send_raw(cl, msg, n);
}

void client_send(struct client *cl, const void *buf, size_t len)
{
    if (cl->state == CLIENT_CLOSING || len == 0)
        return;
    size_t queued = queued_bytes(cl);
    if (cl->suspended || queued + len > CLIENT_OUT_MAX) {
        /* A stuck client loses output rather than holding up the console
         * or growing without bound. */
        if (!cl->suspended && !cl->lagging)
            start_lagging(cl);
        cl->dropped += len;
        if (!cl->suspended) /* a suspended client asked not to be sent output */
            cl->hub->stats.dropped_bytes += len;
        return;
    }
    if (cl->dropped && queued < CLIENT_OUT_MAX / 2)
        end_lagging(cl);
    send_raw(cl, buf, len);
}

void client_send_msg(struct client *cl, const char *text, bool info)
{
    if (info && cl->quiet)
        return;
    char msg[MSG_MAX];
    size_t n = notice_format(msg, sizeof(msg), text);
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

/* Takes the client off the hub's list. A closing client stays on it until
 * libuv is done with it, so a stop can still close it (a stuck peer never
 * lets a shutdown end). */
static void unlink_client(struct client *cl)
{
    struct client_hub *s = cl->hub;
    if (cl->prev || s->clients == cl)
        s->stats.connected--;
    if (cl->prev)
        cl->prev->next = cl->next;
    else if (s->clients == cl)
        s->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    cl->prev = cl->next = NULL;
}

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
        if (status == 0 && host && *host && !dns->cl->req.via[0])
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
    if (uv_getnameinfo(cl->hub->loop, &dns->req, name_done, (const struct sockaddr *)sa,
                       NI_NAMEREQD) < 0) {
        free(dns);
        return;
    }
    cl->dns = dns;
}

/* Both of a client's handles (its socket and its request timer) are
 * closed before it is freed. */
static void closed_cb(uv_handle_t *h)
{
    struct client *cl = h->data;
    if (--cl->handles > 0)
        return;
    if (cl->dns) {
        cl->dns->cl = NULL;
        uv_cancel((uv_req_t *)&cl->dns->req);
    }
    unlink_client(cl);
    free(cl->relay.links);
    proto_req_release(&cl->req);
    free(cl->pend);
    free(cl->cons);
    free(cl->in);
    free(cl);
}

static void stop_request_timer(struct client *cl)
{
    if (cl->handles == 2 && !uv_is_closing((uv_handle_t *)&cl->request_timer))
        uv_close((uv_handle_t *)&cl->request_timer, closed_cb);
}

/* Tells the console's other writers (and its log) that `cl` left. */
static void notify_departure(struct client *cl, struct console *c)
{
    char who[WHO_MAX], when[32], text[TEXT_MAX];
    client_who(cl, who, sizeof(who));
    notice_short_time(time(NULL), when, sizeof(when));
    snprintf(text, sizeof(text), "Console [%s] departed by %s at %s", c->cfg.name, who, when);
    console_notify(c, text, &cl->reader);
}

void client_close(struct client *cl)
{
    if (cl->state == CLIENT_CLOSING)
        return;
    for (size_t i = 0; i < cl->ncons; i++) {
        console_detach(cl->cons[i], &cl->reader);
        if (cl->writer)
            notify_departure(cl, cl->cons[i]);
    }
    cl->ncons = 0;
    relay_close(&cl->relay);
    if (cl->pend)
        flush_pending(cl); /* the last reply goes out before the FIN */
    cl->state = CLIENT_CLOSING;
    stop_request_timer(cl);
    uv_read_stop((uv_stream_t *)&cl->tcp);
    uv_shutdown_t *req = malloc(sizeof(*req));
    if (!req || uv_shutdown(req, (uv_stream_t *)&cl->tcp, shutdown_cb) < 0) {
        free(req);
        uv_close((uv_handle_t *)&cl->tcp, closed_cb);
    }
}

void client_close_all(struct client_hub *s)
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

/* The console is going away: remove it from the session. */
static void console_gone(struct client *cl, struct console *c)
{
    char text[512];
    snprintf(text, sizeof(text), "Console [%s] removed from the configuration", c->cfg.name);
    client_send_msg(cl, text, false);
    console_detach(c, &cl->reader);
    for (size_t i = 0; i < cl->ncons; i++) {
        if (cl->cons[i] == c) {
            cl->cons[i] = cl->cons[--cl->ncons];
            break;
        }
    }
    if (cl->ncons == 0)
        client_close(cl);
}

/* The session as a reader of its consoles. */
static void reader_output(struct console_reader *r, const unsigned char *buf, size_t len)
{
    struct client *cl = (struct client *)((char *)r - offsetof(struct client, reader));
    if (client_reads(cl))
        client_send(cl, buf, len);
}

static void reader_notice(struct console_reader *r, const char *text)
{
    struct client *cl = (struct client *)((char *)r - offsetof(struct client, reader));
    if (client_reads(cl))
        client_send_msg(cl, text, true);
}

static void reader_gone(struct console_reader *r, struct console *c)
{
    console_gone((struct client *)((char *)r - offsetof(struct client, reader)), c);
}

static const struct console_reader_ops client_reader_ops = {
    .output = reader_output,
    .notice = reader_notice,
    .gone = reader_gone,
};

/* The client behind a console's reader, or NULL for another kind of reader. */
static struct client *reader_client(struct console_reader *r)
{
    return r->ops == &client_reader_ops
               ? (struct client *)((char *)r - offsetof(struct client, reader))
               : NULL;
}

static void reply_error(struct client *cl, int code, const char *text)
{
    char line[1024];
    size_t n = proto_format_error(line, sizeof(line), code, text);
    send_raw(cl, line, n);
    log_info("Client <%s@%s:%d> request failed: %s", cl->req.user, cl->host, cl->port, text);
}

static bool other_writer(const struct client *w, const struct client *cl)
{
    return w && w != cl && w->writer;
}

static bool has_other_writer(const struct console *c, const struct client *cl)
{
    for (size_t i = 0; i < c->nreaders; i++)
        if (other_writer(reader_client(c->readers[i]), cl))
            return true;
    return false;
}

static void busy_lines(struct obuf *b, struct client *cl, struct console *c)
{
    for (size_t j = 0; j < c->nreaders; j++) {
        struct client *w = reader_client(c->readers[j]);
        if (!other_writer(w, cl))
            continue;
        char who[WHO_MAX], idle[32], line[TEXT_MAX];
        client_who(w, who, sizeof(who));
        notice_delta((long)(time(NULL) - w->last_input), idle, sizeof(idle));
        int len = snprintf(line, sizeof(line), "Console [%s] open %s by %s (idle %s).\n",
                           c->cfg.name, w->broadcast ? "B/C" : "R/W", who, idle);
        obuf_add(b, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
    }
}

/* ERROR 7 plus one line per writer, as conman sends them (one write). */
static bool reject_busy(struct client *cl, struct console **cons, size_t n)
{
    size_t busy = 0;
    for (size_t i = 0; i < n; i++)
        busy += has_other_writer(cons[i], cl);
    if (!busy)
        return false;
    char text[128];
    if (busy == 1)
        snprintf(text, sizeof(text), "Found console already in use");
    else
        snprintf(text, sizeof(text), "Found %zu consoles already in use", busy);
    reply_error(cl, PROTO_ERR_BUSY_CONSOLES, text);
    struct obuf b = {0};
    for (size_t i = 0; i < n; i++)
        busy_lines(&b, cl, cons[i]);
    if (!b.failed && b.len)
        send_raw(cl, b.p, b.len);
    free(b.p);
    return true;
}

/* `w` loses console `c` to `cl`: told, logged, detached (closed when it
 * was its only console). Removes `w` from c->readers. */
static void steal_one(struct client *cl, struct console *c, struct client *w, const char *who,
                      const char *when)
{
    char old[WHO_MAX], text[TEXT_MAX], msg[MSG_MAX];
    client_who(w, old, sizeof(old));
    snprintf(text, sizeof(text), "Console [%s] stolen by %s at %s", c->cfg.name, who, when);
    client_send_msg(w, text, false);
    logfile_write_msg(&c->log, msg, notice_format(msg, sizeof(msg), text));
    snprintf(text, sizeof(text), "Console [%s] stolen from %s at %s", c->cfg.name, old, when);
    client_send_msg(cl, text, false);
    /* Its departure goes to the log only, as conman does. */
    snprintf(text, sizeof(text), "Console [%s] departed by %s at %s", c->cfg.name, old, when);
    logfile_write_msg(&c->log, msg, notice_format(msg, sizeof(msg), text));
    if (w->ncons <= 1) {
        w->writer = false; /* no departure notice to clients: it was stolen */
        client_close(w);
    } else {
        console_detach(c, &w->reader);
        for (size_t k = 0; k < w->ncons; k++)
            if (w->cons[k] == c)
                w->cons[k] = w->cons[--w->ncons];
    }
}

/* FORCE: every other writer of `c` loses it, however many there are. */
static void steal(struct client *cl, struct console *c)
{
    char who[WHO_MAX], when[32];
    client_who(cl, who, sizeof(who));
    notice_short_time(time(NULL), when, sizeof(when));
    /* steal_one() takes the writer out of c->readers (the last one moves
     * into its slot), so slot i is looked at again. */
    for (size_t i = 0; i < c->nreaders;) {
        struct client *w = reader_client(c->readers[i]);
        if (!other_writer(w, cl)) {
            i++;
            continue;
        }
        steal_one(cl, c, w, who, when);
        if (i < c->nreaders && c->readers[i] == &w->reader)
            i++; /* not removed: never loop on it */
    }
}

/* JOIN (or broadcast): the other writers and the log hear of it. */
static void announce_join(struct client *cl, struct console *c)
{
    char who[WHO_MAX], other[WHO_MAX], when[32], text[TEXT_MAX], back[TEXT_MAX], msg[MSG_MAX];
    client_who(cl, who, sizeof(who));
    notice_short_time(time(NULL), when, sizeof(when));
    snprintf(text, sizeof(text), "Console [%s] joined %sby %s at %s", c->cfg.name,
             cl->broadcast ? "for B/C " : "", who, when);
    logfile_write_msg(&c->log, msg, notice_format(msg, sizeof(msg), text));
    /* Sending never detaches anyone, so c->readers stays as it is. */
    for (size_t i = 0; i < c->nreaders; i++) {
        struct client *w = reader_client(c->readers[i]);
        if (!other_writer(w, cl))
            continue;
        client_send_msg(w, text, true);
        client_who(w, other, sizeof(other));
        snprintf(back, sizeof(back), "Console [%s] joined with %s at %s", c->cfg.name, other, when);
        client_send_msg(cl, back, true);
    }
}

static void greet_console(struct client *cl, struct console *c, bool kick)
{
    if (c->state != CONSOLE_UP && cl->ncons == 1) {
        char peer[512], text[700];
        console_describe(c, peer, sizeof(peer));
        snprintf(text, sizeof(text), "Console [%s] is currently disconnected from %s", c->cfg.name,
                 peer);
        client_send_msg(cl, text, true);
    }
    if (kick)
        console_kick(c);
}

/* The OK line for `cons`, as long as the stock client reads (the names
 * that fit, whole). Returns how many names it holds, or -1 (no memory). */
static long send_ok(struct client *cl, struct console **cons, size_t n)
{
    bool reset = cl->hub->settings->resetcmd != NULL;
    const char **names = malloc((n ? n : 1) * sizeof(*names));
    if (!names)
        return -1;
    for (size_t i = 0; i < n; i++)
        names[i] = cons[i]->cfg.name;
    size_t len = proto_ok_size(names, n, reset);
    if (len > PROTO_CLIENT_LINE_MAX + 1)
        len = PROTO_CLIENT_LINE_MAX + 1;
    char *line = malloc(len);
    size_t fitted = 0;
    if (line)
        send_raw(cl, line, proto_format_ok_fit(line, len, names, n, reset, &fitted));
    free(line);
    free(names);
    return line ? (long)fitted : -1;
}

/* Attaches the session to each console, dropping (and telling of) one the
 * console cannot take. A console that is down is asked to reconnect now,
 * as conman does, but only the first KICK_MAX of one session: each is a
 * connect and a log open on the loop, and the rest keep their backoff. */
static void attach_all(struct client *cl)
{
    size_t kicked = 0;
    for (size_t i = 0; i < cl->ncons;) {
        struct console *c = cl->cons[i];
        if (cl->writer && cl->req.force)
            steal(cl, c);
        else if (cl->writer)
            announce_join(cl, c);
        if (console_attach(c, &cl->reader) < 0) {
            char text[512];
            snprintf(text, sizeof(text), "Console [%s] not joined: out of memory", c->cfg.name);
            client_send_msg(cl, text, false);
            cl->cons[i] = cl->cons[--cl->ncons];
            continue;
        }
        bool kick = c->state == CONSOLE_DOWN && kicked < KICK_MAX;
        kicked += kick;
        greet_console(cl, c, kick);
        i++;
    }
}

static void start_session(struct client *cl, struct console **cons, size_t n)
{
    long fitted = send_ok(cl, cons, n);
    if (fitted < 0) {
        reply_error(cl, PROTO_ERR_NO_RESOURCES, "Insufficient resources to process request");
        free(cons);
        return;
    }
    cl->writer = cl->req.cmd == PROTO_CMD_CONNECT;
    cl->broadcast = cl->writer && n > 1;
    size_t local = 0; /* the links carry the remote ones */
    for (size_t i = 0; i < n; i++)
        if (!console_is_remote(cons[i]))
            cons[local++] = cons[i];
    cl->cons = cons;
    cl->ncons = local;
    cl->state = CLIENT_SESSION;
    stop_request_timer(cl);
    cl->last_input = time(NULL);
    log_info("Client <%s@%s:%d> issued %s command (%zu console%s)", cl->req.user, cl->host,
             cl->port, cl->writer ? "connect" : "monitor", n, n == 1 ? "" : "s");
    if ((size_t)fitted < n) {
        /* The client counts the names it got; say what the session has. */
        char text[300];
        snprintf(text, sizeof(text),
                 "Broadcast to all %zu matching consoles: the reply names only the first %ld, "
                 "as many as the conman client reads",
                 n, fitted);
        client_send_msg(cl, text, false);
        log_info("Client <%s@%s:%d> broadcasts to %zu consoles, %ld named in the reply",
                 cl->req.user, cl->host, cl->port, n, fitted);
    }
    attach_all(cl);
    if (cl->ncons == 0 && cl->relay.n == 0)
        client_close(cl);
}

/* The stock client reads one reply line of at most 32 KiB and takes the
 * rest for console output (about 1,600 to 4,000 names), and no reply shape
 * gets more names through with an exit status of 0. So the reply holds
 * only the names that fit whole, and the server log says how many were
 * left out and how to narrow the query. */
static void do_query(struct client *cl, struct console **cons, size_t n)
{
    long fitted = send_ok(cl, cons, n);
    if (fitted < 0) {
        reply_error(cl, PROTO_ERR_NO_RESOURCES, "Insufficient resources to process request");
        return;
    }
    log_info("Client <%s@%s:%d> issued query command", cl->req.user, cl->host, cl->port);
    if ((size_t)fitted < n)
        log_warn("Client <%s@%s:%d> query matched %zu consoles but only the first %ld fit in "
                 "the one %d-byte reply line the conman client reads; %zu not listed: narrow "
                 "the query, e.g. conman -q -r 'NAME-PREFIX.*'",
                 cl->req.user, cl->host, cl->port, n, fitted, PROTO_CLIENT_LINE_MAX,
                 n - (size_t)fitted);
}

/* ERROR 6 and the names, one a line, in one write (the stock client reads
 * only the error line). */
static void too_many(struct client *cl, struct console **cons, size_t n)
{
    char text[64];
    snprintf(text, sizeof(text), "Found %zu matching consoles", n);
    reply_error(cl, PROTO_ERR_TOO_MANY_CONSOLES, text);
    struct obuf b = {0};
    for (size_t i = 0; i < n; i++) {
        obuf_add(&b, cons[i]->cfg.name, strlen(cons[i]->cfg.name));
        obuf_add(&b, "\n", 1);
    }
    if (!b.failed)
        send_raw(cl, b.p, b.len);
    free(b.p);
}

/* The consoles the request names, in server order, into cons[]. Returns
 * how many, or -PROTO_ERR_* with the text in `msg`. Bounded in time: a
 * costly pattern list is refused, not run to the end. */
static long match_consoles(struct client *cl, struct console **cons, char *msg, size_t msglen)
{
    const struct console_registry *s = cl->hub->consoles;
    struct proto_matcher *m;
    int rc = proto_matcher_create(&cl->req, &m, msg, msglen);
    if (rc < 0)
        return rc;
    uint64_t start = uv_hrtime();
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        if ((i & 15) == 15 && uv_hrtime() - start > MATCH_BUDGET_NS) {
            snprintf(msg, msglen,
                     "%s too costly: matching stopped after %llu ms at console %zu of %zu",
                     cl->req.regex ? "Regular expression" : "Console pattern list",
                     MATCH_BUDGET_NS / 1000000ULL, i, s->n);
            rc = cl->req.regex ? -PROTO_ERR_BAD_REGEX : -PROTO_ERR_BAD_REQUEST;
            break;
        }
        rc = proto_matcher_test(m, s->v[i]->cfg.name, msg, msglen);
        if (rc < 0)
            break;
        if (rc)
            cons[n++] = s->v[i];
    }
    proto_matcher_free(m);
    return rc < 0 ? rc : (long)n;
}

/* Sessions on peer: consoles, carried to the conmand that owns them
 * (clients/relay.c); here what the relay asks of the session. */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void relay_data(void *ctx, const char *buf, size_t len)
{
    client_send(ctx, buf, len);
}

static void relay_pause(void *ctx, bool pause)
{
    struct client *cl = ctx;
    if (cl->state != CLIENT_SESSION)
        return;
    if (pause)
        uv_read_stop((uv_stream_t *)&cl->tcp);
    else
        uv_read_start((uv_stream_t *)&cl->tcp, alloc_cb, read_cb);
}

static void relay_ended(void *ctx, const char *owner, const char *how)
{
    struct client *cl = ctx;
    char text[700];
    if (cl->relay.piped) {
        if (!cl->relay.answered) {
            snprintf(text, sizeof(text),
                     "The conmand at %s that serves the console cannot be reached: %s", owner, how);
            reply_error(cl, PROTO_ERR_NO_RESOURCES, text);
        }
        client_close(cl);
        return;
    }
    snprintf(text, sizeof(text), "Broadcast to the consoles the conmand at %s serves ended: %s",
             owner, how);
    client_send_msg(cl, text, false);
    log_warn("Client <%s@%s:%d>: %s", cl->req.user, cl->host, cl->port, text);
    if (cl->relay.n == 0 && cl->ncons == 0)
        client_close(cl);
}

static const struct relay_ops relay_ops = {
    .data = relay_data,
    .ended = relay_ended,
    .pause = relay_pause,
};

/* A request that names consoles another conmand serves. One owner and no
 * local console: the session is piped to it whole (it answers, it applies
 * join, force and busy). A broadcast over several owners, or over local
 * consoles too: the local part is a session here, and each owner gets the
 * client's input over its own link. Returns true while the session lasts;
 * owns `cons`. */
static bool relay_session(struct client *cl, struct console **cons, size_t n)
{
    char err[700], text[900];
    size_t remote = 0, same = 0;
    const struct console *first = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!console_is_remote(cons[i]))
            continue;
        first = first ? first : cons[i];
        remote++;
        same += !strcmp(relay_owner_of(cons[i]), relay_owner_of(first));
    }
    if (cl->req.via[0]) {
        /* Relayed to us, yet not ours: the instances disagree on its owner
         * (membership is settling). Relaying again could loop. */
        snprintf(text, sizeof(text),
                 "Console [%s] is not served here: this conmand sees it at "
                 "%s too (the instances' membership is settling; try again in a few seconds)",
                 first->cfg.name, relay_owner_of(first));
        reply_error(cl, PROTO_ERR_NO_RESOURCES, text);
        free(cons);
        return false;
    }
    bool piped = remote == n && same == n;
    if (!piped && cl->req.cmd == PROTO_CMD_CONNECT && !cl->req.join && !cl->req.force &&
        reject_busy(cl, cons, n)) {
        free(cons);
        return false;
    }
    if (relay_open(&cl->relay, cl->hub->loop, &cl->req, cl->host, cons, n, err, sizeof(err)) < 0) {
        snprintf(text, sizeof(text), "Console [%s] cannot be relayed to %s", first->cfg.name, err);
        reply_error(cl, PROTO_ERR_NO_RESOURCES, text);
        free(cons);
        return false; /* client_close() closes the links opened */
    }
    log_info("Client <%s@%s:%d> issued %s command (%zu console%s): %zu carried to %zu other "
             "conmand%s",
             cl->req.user, cl->host, cl->port,
             cl->req.cmd == PROTO_CMD_CONNECT ? "connect" : "monitor", n, n == 1 ? "" : "s", remote,
             cl->relay.n, cl->relay.n == 1 ? "" : "s");
    if (!piped) {
        start_session(cl, cons, n); /* owns cons now */
        return cl->state == CLIENT_SESSION;
    }
    free(cons);
    cl->relay.piped = true;
    cl->state = CLIENT_SESSION;
    stop_request_timer(cl);
    cl->last_input = time(NULL);
    return true;
}

/* Returns true when the connection stays open as a session. */
static bool handle_request(struct client *cl)
{
    size_t total = cl->hub->consoles->n;
    char msg[512];
    struct console **cons = malloc((total ? total : 1) * sizeof(*cons));
    if (!cons) {
        reply_error(cl, PROTO_ERR_NO_RESOURCES, "Insufficient resources to process request");
        return false;
    }
    long count = cl->req.cmd == PROTO_CMD_NONE ? 0 : match_consoles(cl, cons, msg, sizeof(msg));
    size_t n = count > 0 ? (size_t)count : 0;
    if (count < 0)
        reply_error(cl, (int)-count, msg);
    else if (n == 0)
        reply_error(cl, PROTO_ERR_NO_CONSOLES, "Found no matching consoles");
    else if (cl->req.cmd == PROTO_CMD_QUERY)
        do_query(cl, cons, n);
    else if (n > 1 && !(cl->req.cmd == PROTO_CMD_CONNECT && cl->req.broadcast))
        too_many(cl, cons, n);
    else if (relay_count_remote(cons, n))
        return relay_session(cl, cons, n); /* owns cons */
    else if (cl->req.cmd == PROTO_CMD_CONNECT && !cl->req.join && !cl->req.force &&
             reject_busy(cl, cons, n))
        ;
    else {
        start_session(cl, cons, n); /* owns cons now */
        return cl->state == CLIENT_SESSION;
    }
    free(cons);
    return false;
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
    char who[WHO_MAX], when[32], text[TEXT_MAX];
    if (!cl->writer)
        return;
    if (cl->ncons > RESET_MAX) {
        /* Each reset forks a resetcmd: thousands at once would stall the
         * loop and flood the host. */
        snprintf(text, sizeof(text),
                 "Reset refused: this session writes to %zu consoles, more than the %d one reset "
                 "may reach; reset them in smaller groups",
                 cl->ncons, RESET_MAX);
        client_send_msg(cl, text, false);
        log_warn("Client <%s@%s:%d> reset refused: %zu consoles, more than %d", cl->req.user,
                 cl->host, cl->port, cl->ncons, RESET_MAX);
        return;
    }
    client_who(cl, who, sizeof(who));
    notice_short_time(time(NULL), when, sizeof(when));
    for (size_t i = 0; cl->writer && i < cl->ncons; i++) {
        struct console *c = cl->cons[i];
        log_info("Console [%s] reset by <%s@%s>", c->cfg.name, cl->req.user, cl->host);
        snprintf(text, sizeof(text), "Console [%s] reset by %s at %s", c->cfg.name, who, when);
        console_notify(c, text, NULL);
        reset_console(cl->hub->resets, c);
    }
}

static void escape(struct client *cl, unsigned char cmd)
{
    unsigned char del = 0x7F;
    switch (cmd) {
    case PROTO_ESC_BREAK:
        for (size_t i = 0; cl->writer && i < cl->ncons; i++)
            console_send_break(cl->cons[i]);
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

/* Session input: console bytes go to the consoles written to, escape
 * commands are acted on in order. Decoded in place. */
static void session_input(struct client *cl, unsigned char *buf, size_t len)
{
    cl->last_input = time(NULL);
    relay_input(&cl->relay, buf, len); /* the owners decode their copy themselves */
    if (cl->relay.piped)
        return;
    while (len && cl->state == CLIENT_SESSION) {
        size_t n, used;
        int cmd;
        used = proto_unescape(&cl->unescape, buf, len, buf, &n, &cmd);
        for (size_t k = 0; cl->writer && n && k < cl->ncons; k++)
            console_write(cl->cons[k], buf, n);
        if (cmd >= 0 && cl->state == CLIENT_SESSION)
            escape(cl, (unsigned char)cmd);
        buf += used;
        len -= used;
    }
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
        if (cl->req.via[0]) {
            /* Messages name the client, not the conmand that relayed it. */
            log_info("Client <%s@%s:%d> relays a client on %s", cl->req.user, cl->host, cl->port,
                     cl->req.via);
            snprintf(cl->host, sizeof(cl->host), "%s", cl->req.via);
        }
        return true;
    }
    if (proto_parse_request(line, &cl->req) < 0) {
        reply_error(cl, PROTO_ERR_NO_RESOURCES, "Insufficient resources to process request");
        return false;
    }
    return handle_request(cl);
}

/* A broadcast copies each read to every console: the read shrinks with
 * their number so that one read costs at most BROADCAST_COPY_MAX bytes of
 * copying (TCP holds the rest of a paste back). */
static size_t session_read_len(const struct client *cl)
{
    size_t len = sizeof(cl->hub->readbuf);
    if (cl->writer && cl->ncons > 1 && len > BROADCAST_COPY_MAX / cl->ncons)
        len = BROADCAST_COPY_MAX / cl->ncons;
    return len < 64 ? 64 : len;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct client *cl = h->data;
    if (cl->state == CLIENT_SESSION || cl->discard) { /* one loop thread: reads never overlap */
        *buf = uv_buf_init(cl->hub->readbuf, (unsigned)session_read_len(cl));
        return;
    }
    if (cl->inlen == cl->incap && cl->incap < PROTO_MAX_LINE) {
        size_t cap = cl->incap ? cl->incap * 2 : IN_START;
        char *grown = realloc(cl->in, cap < PROTO_MAX_LINE ? cap : PROTO_MAX_LINE);
        if (grown) {
            cl->in = grown;
            cl->incap = cap < PROTO_MAX_LINE ? cap : PROTO_MAX_LINE;
        }
    }
    /* An empty buffer makes libuv report UV_ENOBUFS to read_cb. */
    *buf = uv_buf_init(cl->in ? cl->in + cl->inlen : NULL, (unsigned)(cl->incap - cl->inlen));
}

/* Skips the rest of an over-long line (already answered), then closes. */
static void discard_in(struct client *cl, const char *buf, size_t len)
{
    if (memchr(buf, '\n', len) || len >= cl->discard) {
        client_close(cl);
        return;
    }
    cl->discard -= len;
}

static void line_too_long(struct client *cl)
{
    char text[128];
    snprintf(text, sizeof(text), "Request line too long: over %d bytes", PROTO_MAX_LINE);
    reply_error(cl, PROTO_ERR_BAD_REQUEST, text);
    free(cl->in);
    cl->in = NULL;
    cl->inlen = cl->incap = 0;
    cl->discard = DISCARD_MAX;
}

static void lines_in(struct client *cl, size_t nread)
{
    cl->inlen += nread;
    for (;;) {
        char *nl = memchr(cl->in, '\n', cl->inlen);
        if (!nl) {
            if (cl->inlen == PROTO_MAX_LINE)
                line_too_long(cl);
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
            /* From now on input is read into the server's scratch buffer. */
            free(cl->in);
            cl->in = NULL;
            cl->inlen = cl->incap = 0;
            return;
        }
    }
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct client *cl = st->data;
    if (nread == UV_ENOBUFS && cl->state != CLIENT_CLOSING) {
        reply_error(cl, PROTO_ERR_NO_RESOURCES, "Insufficient resources to process request");
        client_close(cl);
        return;
    }
    if (nread < 0) {
        client_close(cl);
        return;
    }
    if (nread == 0)
        return;
    if (cl->state == CLIENT_SESSION)
        session_input(cl, (unsigned char *)buf->base, (size_t)nread);
    else if (cl->state != CLIENT_CLOSING && cl->discard)
        discard_in(cl, buf->base, (size_t)nread);
    else if (cl->state != CLIENT_CLOSING)
        lines_in(cl, (size_t)nread);
}

/* Numeric address and port of a peer (never a DNS lookup: the loop must
 * not wait on a name server; lookup_name() asks asynchronously). */
static void peer_name(const struct sockaddr_storage *sa, char *host, size_t hostlen, int *port)
{
    char serv[16];
    socklen_t len =
        sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (getnameinfo((const struct sockaddr *)sa, len, host, (socklen_t)hostlen, serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(host, hostlen, "unknown");
    *port = atoi(serv);
}

/* A v4-mapped address (an IPv4 client of the dual-stack listener) as the
 * IPv4 address it is, so that names, logs and lookups read as before. */
static void unmap_v4(struct sockaddr_storage *sa)
{
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (sa->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
        return;
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = in6->sin6_port};
    memcpy(&in.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
    memset(sa, 0, sizeof(*sa));
    memcpy(sa, &in, sizeof(in));
}

/* A connection that has not sent its greeting and request in time. */
static void request_timeout(uv_timer_t *t)
{
    struct client *cl = t->data;
    log_info("Client <%s:%d> closed: request not sent within %d s", cl->host, cl->port,
             CLIENT_REQUEST_SEC);
    client_close(cl);
}

/* Puts a new client on the hub's list and counts it. */
static void add_client(struct client_hub *s, struct client *cl)
{
    cl->next = s->clients;
    if (s->clients)
        s->clients->prev = cl;
    s->clients = cl;
    s->stats.connected++;
    s->stats.accepted++;
}

int client_adopt(struct client_hub *s, int fd, const char *host, int port, const char *lines,
                 size_t len)
{
    struct client *cl = calloc(1, sizeof(*cl));
    char *in = malloc(len ? len : 1);
    if (!cl || !in || len > PROTO_MAX_LINE) {
        free(cl);
        free(in);
        close(fd);
        return -ENOMEM;
    }
    cl->hub = s;
    cl->reader.ops = &client_reader_ops;
    cl->relay = (struct relay){.ops = &relay_ops, .ctx = cl};
    uv_tcp_init(s->loop, &cl->tcp); /* a stream socket of any family */
    cl->tcp.data = cl;
    cl->handles = 1;
    memcpy(in, lines, len);
    cl->in = in;
    cl->incap = len;
    add_client(s, cl);
    int rc = uv_tcp_open(&cl->tcp, fd);
    if (rc < 0) {
        close(fd);
        uv_close((uv_handle_t *)&cl->tcp, closed_cb);
        return rc;
    }
    uv_timer_init(s->loop, &cl->request_timer);
    cl->request_timer.data = cl;
    cl->handles = 2;
    snprintf(cl->host, sizeof(cl->host), "%s", host);
    cl->port = port;
    lines_in(cl, len);
    if (cl->state != CLIENT_CLOSING)
        uv_read_start((uv_stream_t *)&cl->tcp, alloc_cb, read_cb);
    return 0;
}

void client_accept(struct client_hub *s, uv_stream_t *listener)
{
    struct client *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return;
    cl->hub = s;
    cl->reader.ops = &client_reader_ops;
    cl->relay = (struct relay){.ops = &relay_ops, .ctx = cl};
    uv_tcp_init(s->loop, &cl->tcp);
    cl->tcp.data = cl;
    cl->handles = 1;
    if (uv_accept(listener, (uv_stream_t *)&cl->tcp) < 0) {
        uv_close((uv_handle_t *)&cl->tcp, closed_cb);
        return;
    }
    uv_timer_init(s->loop, &cl->request_timer);
    cl->request_timer.data = cl;
    cl->handles = 2;
    uv_timer_start(&cl->request_timer, request_timeout, CLIENT_REQUEST_SEC * 1000ULL, 0);
    struct sockaddr_storage sa;
    int len = sizeof(sa);
    if (uv_tcp_getpeername(&cl->tcp, (struct sockaddr *)&sa, &len) == 0) {
        unmap_v4(&sa);
        peer_name(&sa, cl->host, sizeof(cl->host), &cl->port);
        lookup_name(cl, &sa);
    } else
        snprintf(cl->host, sizeof(cl->host), "unknown");
    if (s->settings->keepalive)
        uv_tcp_keepalive(&cl->tcp, 1, 60);
    uv_tcp_nodelay(&cl->tcp, 1);
    add_client(s, cl);
    uv_read_start((uv_stream_t *)&cl->tcp, alloc_cb, read_cb);
}
