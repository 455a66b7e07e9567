/* The HTTP thread and its hand-off to the loop: a loop page's request is
 * suspended in libmicrohttpd, queued under a mutex and the loop woken
 * (uv_async); the loop builds it in slices from an idle handle (which also
 * keeps the loop from sleeping while a page is pending), then resumes the
 * request, which the HTTP thread answers. */
#include "conmand/http/httpd.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/fileutil.h"
#include "conmand/http/httptoken.h"
#include "conmand/http/websocket.h"
#include "conmand/http/webpage.h"

/* At once, WebSocket viewers included; more wait in the listen queue. */
#define HTTPD_CONNECTIONS 1024
#define HTTPD_PEM_MAX (1024 * 1024) /* longest httpcert or httpkey file */
#define HTTPD_TIMEOUT_SEC 10        /* an idle or silent connection is closed */

/* What con_cls points at: a loop page's job, a login in progress or a
 * WebSocket handshake. */
enum req_kind { REQ_PAGE, REQ_LOGIN, REQ_UPGRADE };

struct job {
    enum req_kind kind; /* REQ_PAGE */
    struct httpd_job pub;
    struct MHD_Connection *conn;
    struct job *next;
    bool done;       /* the loop let go: answer it (HTTP thread) */
    unsigned status; /* with done */
    uint64_t started_ns;
};

/* POST /login: the form's token, collected by libmicrohttpd's post
 * processor. */
struct login {
    enum req_kind kind; /* REQ_LOGIN */
    struct MHD_PostProcessor *pp;
    size_t len;
    bool too_long;
    char token[HTTPTOKEN_MAX];
};

/* A WebSocket handshake answered, until its socket is handed over. */
struct upgrade {
    enum req_kind kind; /* REQ_UPGRADE */
    char console[256];
    enum httpd_ws_mode mode;
};

#define TOKEN_COOKIE "conman_token"

struct httpd {
    uv_loop_t *loop;
    struct httptoken *token; /* SERVER httptokenfile, or NULL: no token needed */
    struct httpd_builder b;
    struct sockaddr_storage sa; /* IPv4, or IPv6 (httpaddr="::1", "::") */
    int port;
    char where[64];           /* "ADDR:PORT", for messages */
    char *certfile, *keyfile; /* SERVER httpcert, httpkey: HTTPS; NULL: HTTP */
    bool pem_failing;         /* one of them could not be read: said once */
    struct MHD_Daemon *d;
    uv_async_t wake;
    uv_idle_t idle;
    uv_timer_t beat, retry;
    int open_handles; /* freed when the last is closed */
    bool bind_failing;
    struct job *active; /* being built (loop thread only) */
    struct httpd_stats stats;
    pthread_mutex_t mu;             /* guards what follows */
    struct job *queued;             /* handed over by the HTTP thread */
    struct httpd_upgrade *upgrades; /* the same, WebSocket sockets */
    bool stopping;
    char why[160]; /* why not ready */
    /* Shared without the mutex. */
    atomic_uint_fast64_t heartbeat_ms; /* CLOCK_MONOTONIC, the loop's last turn */
    atomic_bool ready;
    atomic_bool join; /* SERVER httpjoin */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- the HTTP thread ------------------------------------------------- */

/* Queues `r` (NULL: out of memory) with the headers every answer carries
 * (type, cache, nosniff) and `extra` (name, value, ..., NULL), then lets
 * go of it. */
static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r,
                             const char *type, const char *cache, const char *const *extra)
{
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; extra && extra[i]; i += 2)
        MHD_add_response_header(r, extra[i], extra[i + 1]);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *type,
                              char *body, size_t len, bool owned)
{
    struct MHD_Response *r =
        body ? MHD_create_response_from_buffer(
                   len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r && owned)
        free(body);
    static const char *const allow[] = {MHD_HTTP_HEADER_ALLOW, "GET, HEAD", NULL};
    return queue(conn, status, r, type, "no-store",
                 status == MHD_HTTP_METHOD_NOT_ALLOWED ? allow : NULL);
}

/* A file of the web page: built in, never changing while we run. */
static enum MHD_Result answer_asset(struct MHD_Connection *conn, unsigned status,
                                    const struct web_asset *a)
{
    static const char *const page[] = {"Content-Security-Policy",
                                       WEB_CSP,
                                       "X-Frame-Options",
                                       "DENY",
                                       "Referrer-Policy",
                                       "no-referrer",
                                       NULL};
    return queue(conn, status,
                 MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT),
                 a->type, "no-cache", page);
}

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return answer(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text), false);
}

static enum MHD_Result answer_health(struct httpd *h, struct MHD_Connection *conn)
{
    uint64_t age = mono_ms() - atomic_load(&h->heartbeat_ms);
    if (age <= HTTPD_STALL_MS)
        return answer_text(conn, MHD_HTTP_OK, "ok\n");
    char text[96];
    snprintf(text, sizeof(text), "event loop stalled: no turn for %llu ms\n",
             (unsigned long long)age);
    return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

static enum MHD_Result answer_ready(struct httpd *h, struct MHD_Connection *conn)
{
    char text[192];
    if (atomic_load(&h->ready))
        return answer_text(conn, MHD_HTTP_OK, "ready\n");
    pthread_mutex_lock(&h->mu);
    snprintf(text, sizeof(text), "not ready: %s\n", h->why);
    pthread_mutex_unlock(&h->mu);
    return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

static const char *page_type(enum httpd_page page)
{
    return page == HTTPD_PAGE_METRICS ? "text/plain; version=0.0.4; charset=utf-8"
                                      : "application/json";
}

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* /events's query arguments; false (with the reason in `why`) when bad. */
static bool read_filter(struct MHD_Connection *conn, struct httpd_filter *f, char *why,
                        size_t whylen)
{
    const char *console = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "console");
    const char *rule = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "rule");
    const char *since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
    if ((console && strlen(console) >= sizeof(f->console)) ||
        (rule && strlen(rule) >= sizeof(f->rule))) {
        snprintf(why, whylen, "console= or rule= too long\n");
        return false;
    }
    snprintf(f->console, sizeof(f->console), "%s", console ? console : "");
    snprintf(f->rule, sizeof(f->rule), "%s", rule ? rule : "");
    if (since) {
        char *end;
        errno = 0;
        f->since = strtoll(since, &end, 10);
        if (errno || end == since || *end || f->since < 0) {
            snprintf(why, whylen, "since=%.40s: expected unix seconds\n", since);
            return false;
        }
    }
    return true;
}

/* Hands the request to the loop. Suspended before it is queued, under the
 * mutex the loop takes to resume it: a resume never comes first. */
static enum MHD_Result hand_to_loop(struct httpd *h, struct MHD_Connection *conn,
                                    enum httpd_page page, void **con_cls)
{
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    char why[128];
    if (page == HTTPD_PAGE_EVENTS && !read_filter(conn, &j->pub.filter, why, sizeof(why))) {
        free(j);
        return answer_text(conn, MHD_HTTP_BAD_REQUEST, why);
    }
    j->kind = REQ_PAGE;
    j->pub.page = page;
    j->pub.open_fds = page == HTTPD_PAGE_METRICS ? count_fds() : -1;
    j->conn = conn;
    pthread_mutex_lock(&h->mu);
    if (h->stopping) {
        pthread_mutex_unlock(&h->mu);
        free(j);
        return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n");
    }
    *con_cls = j;
    MHD_suspend_connection(conn);
    j->next = h->queued;
    h->queued = j;
    pthread_mutex_unlock(&h->mu);
    uv_async_send(&h->wake);
    return MHD_YES;
}

static enum MHD_Result answer_job(struct MHD_Connection *conn, struct job *j)
{
    if (j->pub.body.failed)
        return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    size_t len;
    char *body = strbuf_detach(&j->pub.body, &len);
    if (j->status != MHD_HTTP_OK) {
        free(body);
        return answer_text(conn, j->status, "stopping\n");
    }
    return answer(conn, MHD_HTTP_OK, page_type(j->pub.page), body, len, true);
}

/* The token presented: "Authorization: Bearer TOKEN", or the login's
 * cookie (the token in hex, so any byte fits in a cookie). */
static bool authorized(struct httpd *h, struct MHD_Connection *conn)
{
    const char *auth =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && !strncmp(auth, "Bearer ", 7))
        return httptoken_check(h->token, auth + 7, strlen(auth + 7));
    const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, TOKEN_COOKIE);
    unsigned char raw[HTTPTOKEN_MAX];
    size_t n = 0;
    bool ok = cookie && strlen(cookie) % 2 == 0 &&
              secret_hex_decode(cookie, raw, sizeof(raw), &n) == 0 &&
              httptoken_check(h->token, (const char *)raw, n);
    secret_wipe(raw, sizeof(raw));
    return ok;
}

/* Without the token: the pages ask for it, the rest is refused. */
static enum MHD_Result refuse(struct MHD_Connection *conn, const char *url)
{
    static const char text[] = "this page needs the token: send \"Authorization: Bearer TOKEN\", "
                               "or log in at /login\n";
    static const char *const challenge[] = {MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                            "Bearer realm=\"conmand\"", NULL};
    if (!strcmp(url, "/") || !strcmp(url, "/console.html"))
        return answer_asset(conn, MHD_HTTP_UNAUTHORIZED, web_asset_find("/login"));
    return queue(
        conn, MHD_HTTP_UNAUTHORIZED,
        MHD_create_response_from_buffer(sizeof(text) - 1, (void *)text, MHD_RESPMEM_PERSISTENT),
        "text/plain; charset=utf-8", "no-store", challenge);
}

static enum MHD_Result login_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *filename, const char *type, const char *encoding,
                                   const char *data, uint64_t off, size_t size)
{
    (void)kind;
    (void)filename;
    (void)type;
    (void)encoding;
    struct login *l = cls;
    if (strcmp(key, "token"))
        return MHD_YES;
    if (off + size > sizeof(l->token)) {
        l->too_long = true;
        return MHD_YES;
    }
    memcpy(l->token + off, data, size);
    if (off + size > l->len)
        l->len = (size_t)(off + size);
    return MHD_YES;
}

/* The form's token checked: the cookie and back to the list, or the form
 * again. */
static enum MHD_Result login_done(struct httpd *h, struct MHD_Connection *conn, struct login *l)
{
    if (l->too_long || !httptoken_check(h->token, l->token, l->len))
        return answer_asset(conn, MHD_HTTP_UNAUTHORIZED, web_asset_find("/login"));
    char cookie[sizeof(TOKEN_COOKIE) + 2 * HTTPTOKEN_MAX + 64];
    struct secret t = {l->token, l->len};
    char hex[2 * HTTPTOKEN_MAX + 1];
    secret_hex(&t, hex, sizeof(hex));
    snprintf(cookie, sizeof(cookie), TOKEN_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict", hex);
    secret_wipe(hex, sizeof(hex));
    const char *const to_list[] = {MHD_HTTP_HEADER_SET_COOKIE, cookie, MHD_HTTP_HEADER_LOCATION,
                                   "/", NULL};
    enum MHD_Result rc =
        queue(conn, MHD_HTTP_SEE_OTHER,
              MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT),
              "text/plain; charset=utf-8", "no-store", to_list);
    secret_wipe(cookie, sizeof(cookie));
    return rc;
}

/* POST /login, over several calls: the first makes the state, the next
 * ones feed the body, the last (no data) answers. */
static enum MHD_Result login(struct httpd *h, struct MHD_Connection *conn, const char *upload,
                             size_t *upload_size, void **con_cls)
{
    struct login *l = *con_cls;
    if (!l) {
        l = calloc(1, sizeof(*l));
        if (!l)
            return MHD_NO;
        l->kind = REQ_LOGIN;
        l->pp = MHD_create_post_processor(conn, 4096, login_field, l);
        if (!l->pp) {
            free(l);
            return answer_text(conn, MHD_HTTP_BAD_REQUEST,
                               "log in with the form: application/x-www-form-urlencoded\n");
        }
        *con_cls = l;
        return MHD_YES;
    }
    if (*upload_size) {
        MHD_post_process(l->pp, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    return login_done(h, conn, l);
}

/* --- WebSocket: the handshake here, the connection on the loop ------- */

/* The socket is the loop's now (HTTP thread; nothing here may block). */
static void on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra,
                        size_t extralen, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    struct httpd *h = cls;
    struct upgrade *u = con_cls;
    struct httpd_upgrade *up = calloc(1, sizeof(*up));
    if (up && extralen && !(up->extra = malloc(extralen))) {
        free(up);
        up = NULL;
    }
    if (!up) {
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    if (extralen)
        memcpy(up->extra, extra, extralen);
    up->extralen = extralen;
    up->fd = sock;
    up->urh = urh;
    up->mode = u->mode;
    snprintf(up->console, sizeof(up->console), "%s", u->console);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, up->host, sizeof(up->host));
        up->port = ntohs(in->sin_port);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, up->host, sizeof(up->host));
        up->port = ntohs(in6->sin6_port);
    } else
        snprintf(up->host, sizeof(up->host), "unknown");
    pthread_mutex_lock(&h->mu);
    bool stopping = h->stopping;
    if (!stopping) {
        up->next = h->upgrades;
        h->upgrades = up;
    }
    pthread_mutex_unlock(&h->mu);
    if (stopping)
        httpd_upgrade_release(up);
    else
        uv_async_send(&h->wake);
}

void httpd_upgrade_release(void *arg)
{
    struct httpd_upgrade *up = arg;
    MHD_upgrade_action(up->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(up->extra);
    free(up);
}

/* A header's comma-separated tokens hold `token` (any case). */
static bool header_has(struct MHD_Connection *conn, const char *name, const char *token)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
    size_t n = strlen(token);
    for (const char *p = v; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t end = len;
        while (end && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        if (end == n && !strncasecmp(p, token, n))
            return true;
        p += len;
    }
    return false;
}

const char *const httpd_ws_mode_names[HTTPD_WS_MODES] = {
    [HTTPD_WS_MONITOR] = "monitor", [HTTPD_WS_JOIN] = "join", [HTTPD_WS_FORCE] = "force"};

/* ?mode=, monitor when absent. */
static bool read_mode(struct MHD_Connection *conn, enum httpd_ws_mode *mode)
{
    const char *m = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "mode");
    for (int i = 0; i < HTTPD_WS_MODES; i++)
        if (!m ? i == HTTPD_WS_MONITOR : !strcmp(m, httpd_ws_mode_names[i])) {
            *mode = (enum httpd_ws_mode)i;
            return true;
        }
    return false;
}

/* GET /consoles/NAME/ws: the mode and httpjoin, RFC 6455's checks, the
 * Origin (no other site's page may open it with the browser's cookie),
 * then 101 and the socket to the loop (on_upgraded). */
static enum MHD_Result upgrade(struct httpd *h, struct MHD_Connection *conn, const char *url,
                               void **con_cls)
{
    struct upgrade u = {.kind = REQ_UPGRADE};
    char accept[29], text[512];
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    const char *version =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (ws_console_path(url, u.console, sizeof(u.console)) < 0)
        return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found: /consoles/NAME/ws\n");
    /* Before the handshake's checks: the page fetches the same URL to learn
     * why its WebSocket was refused. */
    if (!read_mode(conn, &u.mode))
        return answer_text(conn, MHD_HTTP_BAD_REQUEST, "mode= is monitor, join or force\n");
    if (u.mode != HTTPD_WS_MONITOR && !atomic_load(&h->join))
        return answer_text(conn, MHD_HTTP_FORBIDDEN,
                           "refused: joining a console from the browser is off here "
                           "(SERVER httpjoin=ON allows it); mode=monitor watches\n");
    if (!header_has(conn, MHD_HTTP_HEADER_UPGRADE, "websocket") ||
        !header_has(conn, MHD_HTTP_HEADER_CONNECTION, "upgrade") || !key ||
        ws_accept_key(key, accept) < 0)
        return answer_text(conn, MHD_HTTP_BAD_REQUEST,
                           "this is a WebSocket: send the RFC 6455 handshake (Upgrade: websocket, "
                           "Connection: Upgrade, a Sec-WebSocket-Key)\n");
    if (!version || strcmp(version, "13")) {
        static const char *const v13[] = {"Sec-WebSocket-Version", "13", NULL};
        static const char t[] = "only WebSocket version 13\n";
        return queue(
            conn, MHD_HTTP_UPGRADE_REQUIRED,
            MHD_create_response_from_buffer(sizeof(t) - 1, (void *)t, MHD_RESPMEM_PERSISTENT),
            "text/plain; charset=utf-8", "no-store", v13);
    }
    if (!ws_origin_ok(origin, host, h->certfile != NULL)) {
        snprintf(text, sizeof(text),
                 "refused: a page from %.200s may not open this WebSocket (only pages from "
                 "this server may)\n",
                 origin);
        return answer_text(conn, MHD_HTTP_FORBIDDEN, text);
    }
    struct upgrade *kept = malloc(sizeof(*kept));
    if (!kept)
        return MHD_NO;
    *kept = u;
    *con_cls = kept;
    const char *const with_accept[] = {MHD_HTTP_HEADER_UPGRADE, "websocket", "Sec-WebSocket-Accept",
                                       accept, NULL};
    return queue(conn, MHD_HTTP_SWITCHING_PROTOCOLS,
                 MHD_create_response_for_upgrade(on_upgraded, h), "application/octet-stream",
                 "no-store", with_accept);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct httpd *h = cls;
    (void)version;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (*con_cls && ((struct job *)*con_cls)->kind == REQ_LOGIN)
        return login(h, conn, upload, upload_size, con_cls);
    if (*con_cls && ((struct job *)*con_cls)->kind == REQ_UPGRADE)
        return MHD_YES; /* answered already */
    if (*con_cls)
        return answer_job(conn, *con_cls); /* resumed: the loop is done with it */
    if (h->token && post && strcmp(url, "/login") == 0)
        return login(h, conn, upload, upload_size, con_cls);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    if (strcmp(url, "/healthz") == 0)
        return answer_health(h, conn);
    if (strcmp(url, "/readyz") == 0)
        return answer_ready(h, conn);
    /* The page's style and icon serve the login form too. */
    bool open = !strcmp(url, "/app.css") || !strcmp(url, "/favicon.svg") ||
                (h->token && !strcmp(url, "/login"));
    if (h->token && !open && !authorized(h, conn))
        return refuse(conn, url);
    if (strcmp(url, "/metrics") == 0)
        return hand_to_loop(h, conn, HTTPD_PAGE_METRICS, con_cls);
    if (strcmp(url, "/consoles") == 0)
        return hand_to_loop(h, conn, HTTPD_PAGE_CONSOLES, con_cls);
    if (strcmp(url, "/events") == 0)
        return hand_to_loop(h, conn, HTTPD_PAGE_EVENTS, con_cls);
    if (!strncmp(url, "/consoles/", 10))
        return upgrade(h, conn, url, con_cls);
    const struct web_asset *a = web_asset_find(url);
    if (a && (h->token || strcmp(url, "/login")))
        return answer_asset(conn, MHD_HTTP_OK, a);
    return answer_text(conn, MHD_HTTP_NOT_FOUND,
                       "not found: this conmand serves / (the console list) /healthz "
                       "/readyz /metrics /consoles /events\n");
}

/* A request is over (answered, or its connection gone); a loop page's job
 * goes with it: the loop let go of it before resuming it. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct job *j = *con_cls;
    if (j && j->kind == REQ_LOGIN) {
        struct login *l = *con_cls;
        MHD_destroy_post_processor(l->pp);
        secret_wipe(l->token, sizeof(l->token));
        free(l);
    } else if (j && j->kind == REQ_UPGRADE) {
        free(*con_cls);
    } else if (j) {
        strbuf_release(&j->pub.body);
        free(j);
    }
    *con_cls = NULL;
}

/* --- the loop thread ------------------------------------------------- */

/* Lets go of a job: the HTTP thread answers it from here on. */
static void finish(struct httpd *h, struct job *j, unsigned status)
{
    h->b.release(h->b.ctx, &j->pub);
    pthread_mutex_lock(&h->mu);
    j->done = true;
    j->status = status;
    MHD_resume_connection(j->conn);
    pthread_mutex_unlock(&h->mu);
}

static void on_idle(uv_idle_t *t)
{
    struct httpd *h = t->data;
    uint64_t start = uv_hrtime(), deadline = start + HTTPD_SLICE_NS;
    struct job **pp = &h->active;
    while (*pp && uv_hrtime() < deadline) {
        struct job *j = *pp;
        if (!j->started_ns)
            j->started_ns = start;
        if (!h->b.step(h->b.ctx, &j->pub, deadline)) {
            pp = &j->next;
            continue;
        }
        *pp = j->next;
        h->stats.pages++;
        h->stats.last_build_ns = uv_hrtime() - j->started_ns;
        finish(h, j, MHD_HTTP_OK);
    }
    uint64_t slice = uv_hrtime() - start;
    if (slice > h->stats.slice_max_ns)
        h->stats.slice_max_ns = slice;
    if (!h->active)
        uv_idle_stop(t);
}

/* Takes the queued requests, oldest first. */
static void on_wake(uv_async_t *a)
{
    struct httpd *h = a->data;
    pthread_mutex_lock(&h->mu);
    struct job *q = h->queued;
    h->queued = NULL;
    struct httpd_upgrade *ups = h->upgrades;
    h->upgrades = NULL;
    pthread_mutex_unlock(&h->mu);
    while (ups) {
        struct httpd_upgrade *up = ups;
        ups = up->next;
        up->next = NULL;
        h->b.upgrade(h->b.ctx, up);
    }
    struct job **tail = &h->active;
    while (*tail)
        tail = &(*tail)->next;
    struct job *oldest_first = NULL; /* the queue is newest first */
    while (q) {
        struct job *j = q;
        q = q->next;
        j->next = oldest_first;
        oldest_first = j;
    }
    *tail = oldest_first;
    if (h->active)
        uv_idle_start(&h->idle, on_idle);
}

static void on_beat(uv_timer_t *t)
{
    struct httpd *h = t->data;
    atomic_store(&h->heartbeat_ms, mono_ms());
}

/* SERVER httpcert and httpkey, read at each start (a renewed certificate
 * is served from the next restart of the port). Returns 0, or -errno with
 * the file named in `err`. The key is wiped once libmicrohttpd has it. */
static int read_pem(const char *path, const char *what, struct secret *out, char *err,
                    size_t errlen)
{
    char *data = NULL, why[256];
    size_t len = 0;
    int rc = file_read_all(path, HTTPD_PEM_MAX, &data, &len, why, sizeof(why));
    if (rc == 0 && !len)
        rc = -EINVAL, snprintf(why, sizeof(why), "%s: empty", path);
    if (rc < 0) {
        snprintf(err, errlen, "SERVER %s: %s", what, why);
        return rc;
    }
    *out = (struct secret){data, len};
    return 0;
}

/* The HTTP thread takes no signals: they are the loop's (libuv's signal
 * handles) and configure_conman's. */
static struct MHD_Daemon *start_daemon(struct httpd *h, const struct secret *cert,
                                       const struct secret *key)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    /* epoll: conmand's descriptors run past select()'s 1,024. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_ALLOW_UPGRADE | (cert ? MHD_USE_TLS : 0);
    struct MHD_OptionItem tls[] = {
        {cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert ? cert->bytes : NULL},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, key ? key->bytes : NULL},
        {MHD_OPTION_END, 0, NULL}};
    struct MHD_Daemon *d =
        MHD_start_daemon(flags | (h->sa.ss_family == AF_INET6 ? MHD_USE_DUAL_STACK : 0),
                         (uint16_t)h->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &h->sa,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)HTTPD_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned)HTTPD_TIMEOUT_SEC, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return d;
}

/* Starts the daemon with the certificate and key when HTTPS is asked for;
 * a file that cannot be read starts nothing (never plain HTTP instead). */
static struct MHD_Daemon *start_http_or_https(struct httpd *h)
{
    if (!h->certfile && !h->keyfile)
        return start_daemon(h, NULL, NULL);
    struct secret cert = {0}, key = {0};
    char err[400];
    int rc = -EINVAL;
    snprintf(err, sizeof(err), "SERVER httpcert and httpkey go together; %s is not set",
             h->certfile ? "httpkey" : "httpcert");
    if (h->certfile && h->keyfile)
        rc = read_pem(h->certfile, "httpcert", &cert, err, sizeof(err));
    if (rc == 0)
        rc = read_pem(h->keyfile, "httpkey", &key, err, sizeof(err));
    struct MHD_Daemon *d = NULL;
    if (rc == 0) {
        h->pem_failing = false;
        errno = 0;
        d = start_daemon(h, &cert, &key);
        if (!d && !errno)
            errno = EPROTO; /* told below as "libmicrohttpd refused to start" */
    } else if (!h->pem_failing) {
        log_error("cannot serve HTTPS on %s: %s (retrying every %d s)", h->where, err,
                  HTTPD_RETRY_MS / 1000);
        h->pem_failing = true;
    }
    secret_release(&cert);
    secret_release(&key);
    if (rc < 0)
        errno = 0;
    return d;
}

static void try_bind(struct httpd *h)
{
    errno = 0;
    h->d = start_http_or_https(h);
    if (h->d) {
        uv_timer_stop(&h->retry);
        log_info("Serving %s on %s (/ /healthz /readyz /metrics /consoles /events)%s",
                 h->certfile ? "HTTPS" : "HTTP", h->where,
                 h->bind_failing ? ": bound at last" : "");
        h->bind_failing = false;
        return;
    }
    if (h->pem_failing)
        return; /* said once by start_http_or_https() */
    if (!h->bind_failing)
        log_error("cannot serve HTTP on %s: %s (SERVER httpport; retrying every %d s)", h->where,
                  errno ? strerror(errno) : "libmicrohttpd refused to start",
                  HTTPD_RETRY_MS / 1000);
    h->bind_failing = true;
}

static void on_retry(uv_timer_t *t)
{
    try_bind(t->data);
}

struct httpd *httpd_start(uv_loop_t *loop, const struct conf_server *cs,
                          const struct httpd_builder *b)
{
    const char *addr = cs->httpaddr;
    int port = cs->httpport;
    struct httpd *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    if ((cs->httptokenfile && !(h->token = httptoken_new(cs->httptokenfile))) ||
        (cs->httpcert && !(h->certfile = strdup(cs->httpcert))) ||
        (cs->httpkey && !(h->keyfile = strdup(cs->httpkey)))) {
        httptoken_free(h->token);
        free(h->certfile);
        free(h->keyfile);
        free(h);
        return NULL;
    }
    atomic_store(&h->join, cs->httpjoin);
    h->loop = loop;
    h->b = *b;
    h->port = port;
    struct sockaddr_in *in = (struct sockaddr_in *)&h->sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&h->sa;
    if (addr && inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        snprintf(h->where, sizeof(h->where), "[%s]:%d", addr, port);
    } else {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        if (!addr || inet_pton(AF_INET, addr, &in->sin_addr) != 1)
            in->sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* conf_parse checked it */
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
        snprintf(h->where, sizeof(h->where), "%s:%d", a, port);
    }
    pthread_mutex_init(&h->mu, NULL);
    snprintf(h->why, sizeof(h->why), "starting");
    atomic_store(&h->heartbeat_ms, mono_ms());
    uv_async_init(loop, &h->wake, on_wake);
    uv_idle_init(loop, &h->idle);
    uv_timer_init(loop, &h->beat);
    uv_timer_init(loop, &h->retry);
    h->wake.data = h->idle.data = h->beat.data = h->retry.data = h;
    h->open_handles = 4;
    uv_timer_start(&h->beat, on_beat, HTTPD_HEARTBEAT_MS, HTTPD_HEARTBEAT_MS);
    uv_unref((uv_handle_t *)&h->beat);
    uv_unref((uv_handle_t *)&h->wake);
    try_bind(h);
    if (!h->d)
        uv_timer_start(&h->retry, on_retry, HTTPD_RETRY_MS, HTTPD_RETRY_MS);
    uv_unref((uv_handle_t *)&h->retry);
    return h;
}

void httpd_set_join(struct httpd *h, bool join)
{
    atomic_store(&h->join, join);
}

void httpd_set_ready(struct httpd *h, bool ready, const char *why)
{
    pthread_mutex_lock(&h->mu);
    snprintf(h->why, sizeof(h->why), "%s", why ? why : "");
    pthread_mutex_unlock(&h->mu);
    atomic_store(&h->ready, ready);
}

const struct httpd_stats *httpd_stats(const struct httpd *h)
{
    return &h->stats;
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct httpd *h = handle->data;
    if (--h->open_handles == 0) {
        pthread_mutex_destroy(&h->mu);
        httptoken_free(h->token);
        free(h->certfile);
        free(h->keyfile);
        free(h);
    }
}

void httpd_stop(struct httpd *h)
{
    pthread_mutex_lock(&h->mu);
    h->stopping = true; /* no more jobs from here on */
    struct job *q = h->queued;
    h->queued = NULL;
    struct httpd_upgrade *ups = h->upgrades;
    h->upgrades = NULL;
    pthread_mutex_unlock(&h->mu);
    while (ups) { /* WebSockets the loop never took */
        struct httpd_upgrade *up = ups;
        ups = up->next;
        httpd_upgrade_release(up);
    }
    while (q) { /* queued, never started */
        struct job *j = q;
        q = q->next;
        finish(h, j, MHD_HTTP_SERVICE_UNAVAILABLE);
    }
    while (h->active) {
        struct job *j = h->active;
        h->active = j->next;
        finish(h, j, MHD_HTTP_SERVICE_UNAVAILABLE);
    }
    if (h->d)
        MHD_stop_daemon(h->d); /* joins the thread: answers the resumed first */
    h->d = NULL;
    uv_close((uv_handle_t *)&h->wake, on_handle_closed);
    uv_close((uv_handle_t *)&h->idle, on_handle_closed);
    uv_close((uv_handle_t *)&h->beat, on_handle_closed);
    uv_close((uv_handle_t *)&h->retry, on_handle_closed);
}
