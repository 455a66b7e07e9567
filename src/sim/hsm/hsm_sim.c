/* hsm-sim: an HSM stand-in for tests and the demo. Serves RedfishEndpoints
 * and State/Components from an inventory file (re-read when it changes) or
 * a generated cluster, with an optional bearer token and fault switches. */
#include "cluster.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/numparse.h"

#define API "/apis/smd/hsm/v2/"
#define UPLOAD_MAX (64u << 20)

enum fault {
    F_NONE,
    F_DOWN,
    F_500,
    F_MALFORMED,
    F_SLOW,
    F_EMPTY,
    F_WRONGSHAPE,
    F_REDIRECT,
    F_TRUNCATED,
    F_COUNT
};
static const char *const fault_names[F_COUNT] = {
    "none", "down", "500", "malformed", "slow", "empty", "wrongshape", "redirect", "truncated"};

struct sim {
    pthread_mutex_t lock;
    json_t *inventory;
    const char *file; /* NULL for a generated cluster */
    struct stat stamp;
    char *token;
    enum fault fault;
    int slow_sec;
    unsigned long api_requests;
    volatile sig_atomic_t stopping;
};

struct upload {
    char *buf;
    size_t len;
};

static void note(const char *fmt, const char *arg)
{
    fprintf(stderr, "hsm-sim: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
}

static bool same_stamp(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reloads the inventory file when its inode, size or mtime changed. A file
 * that does not parse is reported once and the previous inventory stays. */
static int reload_if_changed(struct sim *s)
{
    struct stat st;
    if (!s->file || stat(s->file, &st) < 0 || same_stamp(&st, &s->stamp))
        return 0;
    s->stamp = st;
    json_error_t err;
    json_t *inv = json_load_file(s->file, 0, &err);
    if (!inv || !json_is_object(inv)) {
        fprintf(stderr, "hsm-sim: %s: line %d: %s (keeping the previous inventory)\n", s->file,
                err.line, inv ? "not a JSON object" : err.text);
        json_decref(inv);
        return -EINVAL;
    }
    json_decref(s->inventory);
    s->inventory = inv;
    note("loaded inventory from %s", s->file);
    return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body,
                             const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned code, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    if (!text)
        return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* The real answer's first half under a Content-Length for all of it, then
 * the connection closes: an HSM (or proxy) that dies mid-body. */
struct cut_body {
    char *text;
    size_t len;
};

static ssize_t cut_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct cut_body *b = cls;
    size_t half = b->len / 2;
    if (pos >= half)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = half - (size_t)pos < max ? half - (size_t)pos : max;
    memcpy(buf, b->text + pos, n);
    return (ssize_t)n;
}

static void cut_free(void *cls)
{
    struct cut_body *b = cls;
    free(b->text);
    free(b);
}

static enum MHD_Result reply_truncated(struct MHD_Connection *c, json_t *j)
{
    struct cut_body *b = calloc(1, sizeof(*b));
    if (!b || !(b->text = json_dumps(j, JSON_COMPACT))) {
        free(b);
        return MHD_NO;
    }
    b->len = strlen(b->text);
    struct MHD_Response *r =
        MHD_create_response_from_callback(b->len, 4096, cut_reader, b, cut_free);
    if (!r) {
        cut_free(b);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static bool token_ok(struct sim *s, struct MHD_Connection *c)
{
    if (!s->token)
        return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    return h && strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, s->token) == 0;
}

static void sleep_unless_stopping(struct sim *s, int seconds)
{
    for (int i = 0; i < seconds * 10 && !s->stopping; i++) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
}

/* Answers for a faulty HSM; MHD_YES with nothing queued means "no fault". */
static enum MHD_Result faulty(struct sim *s, enum fault f, struct MHD_Connection *c, bool *done)
{
    *done = true;
    switch (f) {
    case F_DOWN:
        return MHD_NO; /* closes the connection without an answer */
    case F_500:
        return reply(c, 500,
                     "{\"type\":\"about:blank\",\"title\":\"Internal Server Error\","
                     "\"status\":500}",
                     "application/problem+json");
    case F_MALFORMED:
        return reply(
            c, 200, "{\"RedfishEndpoints\":[{\"ID\":\"x3000c0s1b0\",\"Type\":", "application/json");
    case F_EMPTY:
        return reply(c, 200, "", "application/json");
    case F_WRONGSHAPE:
        return reply(c, 200, "[{\"ID\":\"x3000c0s1b0\",\"Type\":\"NodeBMC\"}]", "application/json");
    case F_SLOW:
        sleep_unless_stopping(s, s->slow_sec);
        break;
    case F_REDIRECT: {
        /* A client that follows redirects would get the real answer here. */
        struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", "/apis/smd/hsm/v2/Inventory/RedfishEndpoints");
        enum MHD_Result ret = MHD_queue_response(c, 302, r);
        MHD_destroy_response(r);
        return ret;
    }
    default:
        break;
    }
    *done = false;
    return MHD_YES;
}

static enum MHD_Result serve_api(struct sim *s, struct MHD_Connection *c, const char *url)
{
    const char *key = NULL;
    if (strcmp(url, API "Inventory/RedfishEndpoints") == 0)
        key = "RedfishEndpoints";
    else if (strcmp(url, API "State/Components") == 0)
        key = "Components";
    else
        return reply(c, 404, "{\"title\":\"Not Found\",\"status\":404}", "application/json");
    if (!token_ok(s, c))
        return reply(c, 401, "{\"title\":\"Unauthorized\",\"status\":401}", "application/json");
    pthread_mutex_lock(&s->lock);
    enum fault f = s->fault;
    s->api_requests++;
    pthread_mutex_unlock(&s->lock);
    bool done;
    enum MHD_Result ret = faulty(s, f, c, &done);
    if (done)
        return ret;
    const char *type = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "type");
    pthread_mutex_lock(&s->lock);
    reload_if_changed(s);
    json_t *answer = cluster_filter(s->inventory, key, type);
    pthread_mutex_unlock(&s->lock);
    ret = f == F_TRUNCATED ? reply_truncated(c, answer) : reply_json(c, 200, answer);
    json_decref(answer);
    return ret;
}

static enum MHD_Result set_fault(struct sim *s, struct MHD_Connection *c, const char *name)
{
    for (int f = 0; f < F_COUNT; f++)
        if (strcmp(name, fault_names[f]) == 0) {
            const char *sec = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "seconds");
            int slow_sec = 30;
            if (sec && numparse_int(sec, 0, 3600, &slow_sec) < 0)
                return reply(c, 400, "seconds must be a whole number from 0 to 3600\n",
                             "text/plain");
            pthread_mutex_lock(&s->lock);
            s->fault = (enum fault)f;
            s->slow_sec = slow_sec;
            pthread_mutex_unlock(&s->lock);
            fprintf(stderr, "hsm-sim: fault set to %s\n", name);
            return reply(c, 200, "ok\n", "text/plain");
        }
    return reply(
        c, 400,
        "unknown fault (none|down|500|malformed|slow|empty|wrongshape|redirect|truncated)\n",
        "text/plain");
}

static enum MHD_Result put_inventory(struct sim *s, struct MHD_Connection *c, struct upload *u)
{
    json_error_t err;
    json_t *inv = json_loadb(u->buf ? u->buf : "", u->len, 0, &err);
    if (!inv || !json_is_object(inv)) {
        json_decref(inv);
        return reply(c, 400, "inventory must be a JSON object\n", "text/plain");
    }
    pthread_mutex_lock(&s->lock);
    json_decref(s->inventory);
    s->inventory = inv;
    pthread_mutex_unlock(&s->lock);
    fprintf(stderr, "hsm-sim: inventory replaced through PUT /sim/inventory\n");
    return reply(c, 200, "ok\n", "text/plain");
}

static enum MHD_Result serve_admin(struct sim *s, struct MHD_Connection *c, const char *method,
                                   const char *url, struct upload *u)
{
    char buf[64];
    if (strcmp(method, "PUT") == 0 && strncmp(url, "/sim/fault/", 11) == 0)
        return set_fault(s, c, url + 11);
    if (strcmp(method, "PUT") == 0 && strcmp(url, "/sim/inventory") == 0)
        return put_inventory(s, c, u);
    pthread_mutex_lock(&s->lock);
    if (strcmp(url, "/sim/fault") == 0)
        snprintf(buf, sizeof(buf), "%s\n", fault_names[s->fault]);
    else
        snprintf(buf, sizeof(buf), "%lu\n", s->api_requests);
    pthread_mutex_unlock(&s->lock);
    if (strcmp(method, "GET") == 0 &&
        (strcmp(url, "/sim/fault") == 0 || strcmp(url, "/sim/requests") == 0))
        return reply(c, 200, buf, "text/plain");
    return reply(c, 404, "unknown admin path\n", "text/plain");
}

/* Collects a request body (PUT /sim/inventory) across MHD's calls. */
static int collect_body(void **con_cls, const char *data, size_t *size)
{
    struct upload *u = *con_cls;
    if (u->len + *size > UPLOAD_MAX)
        return -EFBIG;
    char *nb = realloc(u->buf, u->len + *size + 1);
    if (!nb)
        return -ENOMEM;
    memcpy(nb + u->len, data, *size);
    u->buf = nb;
    u->len += *size;
    *size = 0;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    (void)version;
    struct sim *s = cls;
    if (!*con_cls) {
        *con_cls = calloc(1, sizeof(struct upload));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*size)
        return collect_body(con_cls, data, size) == 0 ? MHD_YES : MHD_NO;
    if (strncmp(url, "/sim/", 5) == 0)
        return serve_admin(s, c, method, url, *con_cls);
    if (strcmp(method, "GET") != 0)
        return reply(c, 405, "{\"title\":\"Method Not Allowed\",\"status\":405}",
                     "application/json");
    return serve_api(s, c, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct upload *u = *con_cls;
    if (u) {
        free(u->buf);
        free(u);
    }
    *con_cls = NULL;
}

struct options {
    int port;
    const char *listen;
    const char *inventory;
    int nodes;
    int bmc_port_base;
    const char *mountain_bmc; /* --mountain-bmc: every Mountain BMC's address */
    const char *token_file;
    const char *tls_cert; /* PEM files: serve HTTPS instead of HTTP */
    const char *tls_key;
};

static int usage(const char *why)
{
    fprintf(stderr,
            "hsm-sim: %s\nusage: hsm-sim --port P [--listen 127.0.0.1|::1] (--inventory FILE | "
            "--nodes N [--bmc-port-base B] [--mountain-bmc 127.0.0.1:PORT]) [--token-file F] "
            "[--tls-cert PEM --tls-key PEM]\n",
            why);
    return 2;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){0, "127.0.0.1", NULL, -1, 0, NULL, NULL, NULL, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--port") == 0)
            bad = numparse_int(v, 1, 65535, &o->port);
        else if (strcmp(a, "--nodes") == 0)
            bad = numparse_int(v, 0, 100000, &o->nodes);
        else if (strcmp(a, "--bmc-port-base") == 0)
            bad = numparse_int(v, 1, 65535, &o->bmc_port_base);
        else if (strcmp(a, "--listen") == 0 && v)
            o->listen = v;
        else if (strcmp(a, "--inventory") == 0 && v)
            o->inventory = v;
        else if (strcmp(a, "--token-file") == 0 && v)
            o->token_file = v;
        else if (strcmp(a, "--tls-cert") == 0 && v)
            o->tls_cert = v;
        else if (strcmp(a, "--tls-key") == 0 && v)
            o->tls_key = v;
        else if (strcmp(a, "--mountain-bmc") == 0 && v)
            o->mountain_bmc = v;
        else
            return usage("unknown option or missing value");
        if (bad) {
            fprintf(stderr, "hsm-sim: %s %s: not a valid number\n", a, v ? v : "");
            return 2;
        }
        i++;
    }
    if (!o->port || (!o->inventory) == (o->nodes < 0))
        return usage("need --port and exactly one of --inventory or --nodes");
    if (!o->tls_cert != !o->tls_key)
        return usage("--tls-cert and --tls-key go together");
    if (o->mountain_bmc &&
        (o->nodes < 0 || strncmp(o->mountain_bmc, "127.", 4) != 0 || strlen(o->mountain_bmc) > 30 ||
         strspn(o->mountain_bmc, "0123456789.:") != strlen(o->mountain_bmc))) {
        fprintf(stderr,
                "hsm-sim: --mountain-bmc %s: expected a loopback 127.x.y.z[:PORT] "
                "with --nodes\n",
                o->mountain_bmc);
        return 2;
    }
    return 0;
}

static int load_token(struct sim *s, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    if (!f || !fgets(line, sizeof(line), f)) {
        fprintf(stderr, "hsm-sim: --token-file %s: cannot read: %s\n", path,
                f ? "empty" : strerror(errno));
        if (f)
            fclose(f);
        return -EINVAL;
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    s->token = strdup(line);
    return s->token ? 0 : -ENOMEM;
}

static char *read_pem(const char *opt, const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = f ? calloc(1, 65536) : NULL;
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    if (f)
        fclose(f);
    if (!buf || n == 0) {
        fprintf(stderr, "hsm-sim: %s %s: cannot read\n", opt, path);
        free(buf);
        return NULL;
    }
    return buf;
}

/* --listen as a socket address: loopback only (127.x.y.z or ::1), so a test
 * never serves its inventory beyond this machine. */
static int listen_addr(const struct options *o, struct sockaddr_storage *ss)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, o->listen, &in->sin_addr) == 1 &&
        (ntohl(in->sin_addr.s_addr) >> 24) == 127) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)o->port);
        return 0;
    }
    if (inet_pton(AF_INET6, o->listen, &in6->sin6_addr) == 1 &&
        IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)o->port);
        return 0;
    }
    fprintf(stderr, "hsm-sim: --listen %s: expected a loopback address, 127.x.y.z or ::1\n",
            o->listen);
    return -EINVAL;
}

static struct MHD_Daemon *start_daemon(struct sim *s, const struct options *o, const char *cert,
                                       const char *key)
{
    struct sockaddr_storage sa;
    if (listen_addr(o, &sa) < 0)
        return NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d;
    if (cert)
        d = MHD_start_daemon(
            flags | MHD_USE_TLS, (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_HTTPS_MEM_CERT, cert,
            MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
    else
        d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    if (!d)
        fprintf(stderr, "hsm-sim: cannot listen on %s port %d%s: %s\n", o->listen, o->port,
                cert ? " with TLS" : "", strerror(errno));
    return d;
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_args(argc, argv, &o))
        return 2;
    static struct sim s = {.lock = PTHREAD_MUTEX_INITIALIZER, .slow_sec = 30};
    s.file = o.inventory;
    if (o.inventory && reload_if_changed(&s) < 0)
        return 1;
    if (o.inventory && !s.inventory) {
        fprintf(stderr, "hsm-sim: --inventory %s: cannot read: %s\n", o.inventory, strerror(errno));
        return 1;
    }
    if (!o.inventory)
        s.inventory = cluster_generate(o.nodes, o.bmc_port_base, o.mountain_bmc);
    if (!s.inventory || (o.token_file && load_token(&s, o.token_file) < 0))
        return 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* MHD threads inherit it */
    char *cert = o.tls_cert ? read_pem("--tls-cert", o.tls_cert) : NULL;
    char *key = o.tls_key ? read_pem("--tls-key", o.tls_key) : NULL;
    if (o.tls_cert && (!cert || !key))
        return 1;
    struct MHD_Daemon *d = start_daemon(&s, &o, cert, key);
    if (!d)
        return 1;
    printf(strchr(o.listen, ':') ? "listening on [%s]:%d\n" : "listening on %s:%d\n", o.listen,
           o.port);
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    s.stopping = 1;
    MHD_stop_daemon(d);
    free(cert);
    free(key);
    json_decref(s.inventory);
    free(s.token);
    return 0;
}
