/* configure_conman: discovers consoles in HSM, writes conman.conf, runs and
 * supervises conmand. Meant to be PID 1 of the console container. */
#include "common/fileutil.h"
#include "common/log.h"
#include "common/secret.h"
#include "configure/confgen.h"
#include "configure/hsm.h"
#include "configure/nodes.h"
#include "configure/opshttp.h"
#include "configure/records.h"
#include "configure/settings.h"
#include "configure/shard.h"
#include "configure/shardsettle.h"
#include "configure/srvlookup.h"
#include "configure/supervise.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USER_MAX 16 /* IPMI limits */
#define PASSWORD_MAX 20
#define BASE_MAX (1u << 20)
#define HSM_MAX_BYTES ((size_t)256 << 20) /* ~30,000 endpoints is tens of MB */
#define STOP_GRACE_SEC 10
#define OURS_MARKER "conmand (conman-service)"
#define MEMBERS_FILE_MAX (1u << 20)

/* What the membership file looked like when last read: a change of any
 * field (or of the stat error) means read it again. */
struct file_stamp {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int err;
};

struct app {
    struct settings set;
    bool ours;         /* our conmand applies SIGHUP; others need a restart */
    pid_t child;       /* running conmand, 0 when none */
    double started;    /* when it was started */
    unsigned backoff;  /* seconds, for quick deaths */
    double next_start; /* when to try starting conmand again */
    double next_poll;  /* when to poll HSM while conmand runs */
    char *written;     /* the file this process last wrote; NULL before */
    size_t written_len;
    bool have_good; /* CONMAN_CONF is usable (written by us, or frozen) */
    bool frozen_logged;
    struct opsstats ops;  /* what the HTTP endpoints report */
    struct opshttp *http; /* NULL when HTTP_PORT is unset */
    /* Scale-out: the last discovered consoles, so a membership change is
     * applied without asking HSM again. */
    struct records recs;
    bool have_recs;
    struct shard_settle shard;
    struct file_stamp members_stamp;
    bool members_stamped;
    /* SHARD_SRV: when to ask next, the last answer (to log a change once)
     * and the last reason it was not usable (to log a failure once). */
    double next_srv;
    struct shard_members srv_seen;
    char srv_failure[768];
    bool srv_alone; /* acting on self alone: no instance was ready at start */
};

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double unix_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The heartbeat of /healthz, and a fresh copy of the stats for HTTP. */
static void ops_tick(struct app *a)
{
    if (!a->http)
        return;
    double now = now_sec();
    a->ops.heartbeat_mono = now;
    a->ops.have_config = a->have_good;
    a->ops.conmand_up = a->child != 0;
    opshttp_tick(a->http, &a->ops, now);
}

/* The loop is about to block for at most `seconds` (HSM, stopping
 * conmand): /healthz stays 200 meanwhile. 0 ends it. */
static void ops_busy(struct app *a, double seconds)
{
    a->ops.busy_until_mono = seconds > 0 ? now_sec() + seconds : 0;
    ops_tick(a);
}

static const char *env_lookup(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

static void forget_written(struct app *a)
{
    if (a->written) {
        secret_wipe(a->written, a->written_len);
        free(a->written);
    }
    a->written = NULL;
    a->written_len = 0;
}

/* Reads USER_FILE and PWD_FILE; on failure logs the error naming the file. */
static int read_credentials(const struct settings *s, struct secret *user, struct secret *pwd)
{
    char err[512];
    int rc = secret_read_first_line(s->user_file, USER_MAX, user, err, sizeof(err));
    if (rc == 0 && !confgen_user_ok(user->bytes)) {
        snprintf(err, sizeof(err),
                 "%s: user name has blanks, quotes, commas or backslashes (not usable in "
                 "ipmiopts)",
                 s->user_file);
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = secret_read_first_line(s->pwd_file, PASSWORD_MAX, pwd, err, sizeof(err));
    if (rc < 0)
        log_error("credentials: %s", err);
    return rc;
}

static int feed_records(void *ctx, const char *data, size_t len, char *err, size_t errlen)
{
    return records_parser_feed(ctx, data, len, err, errlen);
}

static int feed_nodes(void *ctx, const char *data, size_t len, char *err, size_t errlen)
{
    return nodes_feed(ctx, data, len, err, errlen);
}

/* hsm_fetch, timed and counted for /metrics. */
static int fetch(struct opsstats *ops, struct hsm_request *rq, hsm_feed_fn feed, void *ctx,
                 char *err, size_t errlen)
{
    double t0 = now_sec();
    int rc = hsm_fetch(rq, feed, ctx, err, errlen);
    opsstats_hsm_request(ops, now_sec() - t0, rc < 0);
    return rc;
}

/* bmc mode: RedfishEndpoints, parsed as it arrives. */
static int discover_bmcs(const struct settings *s, struct opsstats *ops, struct hsm_request *rq,
                         struct records *recs, char *err, size_t errlen)
{
    struct records_parser *p = NULL;
    int rc = records_parser_open(&p, s->log_identifier);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    rc = fetch(ops, rq, feed_records, p, err, errlen);
    char msg[512];
    if (rc == 0 && (rc = records_parser_finish(p, recs, msg, sizeof(msg))) < 0) {
        snprintf(err, errlen, "%s: %s", rq->url, msg);
        ops->hsm_errors++;
    }
    records_parser_close(p);
    return rc;
}

/* node mode: the BMC addresses, then the nodes, each parsed as it arrives. */
static int discover_nodes(const struct settings *s, struct opsstats *ops, struct hsm_request *rq,
                          struct records *recs, char *err, size_t errlen)
{
    struct nodes n;
    char msg[512];
    nodes_init(&n);
    int rc = fetch(ops, rq, feed_nodes, &n, err, errlen);
    if (rc == 0 && (rc = nodes_next(&n, NULL, msg, sizeof(msg))) < 0) {
        snprintf(err, errlen, "%s: %s", rq->url, msg);
        ops->hsm_errors++;
    }
    if (rc == 0) {
        rq->url = s->components_url;
        rc = fetch(ops, rq, feed_nodes, &n, err, errlen);
    }
    if (rc == 0 && (rc = nodes_next(&n, recs, msg, sizeof(msg))) < 0) {
        snprintf(err, errlen, "%s: %s", rq->url, msg);
        ops->hsm_errors++;
    }
    nodes_release(&n);
    return rc;
}

/* GETs and parses HSM's answers; logs one line naming the URL on failure. */
static int discover(struct app *a, struct records *recs)
{
    const struct settings *s = &a->set;
    struct hsm_request rq = {s->endpoint_url, s->hsm_timeout_sec, s->token_file, s->ca_file,
                             HSM_MAX_BYTES};
    char err[1024];
    /* Node mode makes two requests, each bounded by HSM_TIMEOUT_SEC. */
    ops_busy(a, 2.0 * (double)s->hsm_timeout_sec + 5);
    int rc = s->mode == CONSOLE_MODE_NODE ? discover_nodes(s, &a->ops, &rq, recs, err, sizeof(err))
                                          : discover_bmcs(s, &a->ops, &rq, recs, err, sizeof(err));
    ops_busy(a, 0);
    if (rc < 0) {
        records_release(recs);
        log_error("HSM discovery failed: %s", err);
        return rc;
    }
    for (size_t i = 0; i < recs->nwarn; i++)
        log_warn("%s", recs->warnings[i]);
    return 0;
}

/* Drops the consoles of one kind this run cannot serve, with one log line
 * for all of them (there may be thousands). */
static void drop_transport(struct records *recs, bool (*drop)(const struct record *),
                           const char *why)
{
    size_t kept = 0, dropped = 0;
    char first[80] = "";
    for (size_t i = 0; i < recs->n; i++) {
        if (!drop(&recs->v[i])) {
            recs->v[kept++] = recs->v[i];
            continue;
        }
        if (!dropped++)
            snprintf(first, sizeof(first), "%s", recs->v[i].name);
        free(recs->v[i].name);
        free(recs->v[i].address);
    }
    recs->n = kept;
    if (dropped)
        log_warn("%s: skipping %zu SSH console%s (first: %s)", why, dropped,
                 dropped == 1 ? "" : "s", first);
}

static bool is_ssh(const struct record *r)
{
    return r->transport != RECORD_IPMI;
}

static bool is_ssh_key(const struct record *r)
{
    return r->transport == RECORD_SSH_KEY;
}

/* Our conmand speaks ssh:, another (Debian's) does not; Mountain and Hill
 * need a key. */
static void drop_unservable(const struct app *a, struct records *recs)
{
    if (!a->ours)
        drop_transport(recs, is_ssh,
                       "CONMAND is not ours and has no ssh: console type (Mountain, Hill and "
                       "Paradise nodes need it)");
    else if (!a->set.ssh_key_file)
        drop_transport(recs, is_ssh_key, "SSH_KEY_FILE is unset (Mountain and Hill nodes need it)");
}

static int render(const struct settings *s, bool ours, const struct confgen_shard *shard,
                  const struct records *recs, const struct secret *user, const struct secret *pwd,
                  const char *base, char **text, size_t *len)
{
    char hex[2 * PASSWORD_MAX + 1];
    int rc = secret_hex(pwd, hex, sizeof(hex));
    char server[SETTINGS_SERVER_LINE_MAX], names[256];
    settings_server_line(s, server, sizeof(server), names, sizeof(names));
    struct confgen_creds c = {
        user->bytes,          hex,  s->ssh_key_file, s->ssh_known_hosts, (unsigned)s->paradise_port,
        ours ? server : NULL, shard};
    if (rc == 0)
        rc = confgen_render_creds(base, recs, &c, text, len);
    secret_wipe(hex, sizeof(hex));
    if (rc < 0)
        log_error("cannot render the configuration: %s", strerror(-rc));
    return rc;
}

/* Writes `text` unless it equals what this process last wrote. Takes
 * ownership of `text`. Returns 1 when the file changed, 0 when not, <0. */
static int install(struct app *a, char *text, size_t len, size_t consoles)
{
    if (a->written && a->written_len == len && memcmp(a->written, text, len) == 0) {
        log_info("configuration unchanged: %zu consoles in %s", consoles, a->set.conman_conf);
        secret_wipe(text, len);
        free(text);
        return 0;
    }
    char err[PATH_MAX + 256];
    int rc = file_write_atomic(a->set.conman_conf, text, len, 0600, err, sizeof(err));
    if (rc < 0) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", a->set.conman_conf);
        log_error("cannot write the configuration (directory %s): %s", dirname(dir), err);
        secret_wipe(text, len);
        free(text);
        return rc;
    }
    forget_written(a);
    a->written = text;
    a->written_len = len;
    a->have_good = true;
    log_info("wrote %s: %zu consoles", a->set.conman_conf, consoles);
    return 1;
}

static void ops_discovered(struct opsstats *ops, bool ok, size_t consoles)
{
    double now = unix_sec();
    ops->last_discovery_unix = now;
    ops->last_discovery_ok = ok;
    if (!ok) {
        ops->discoveries_error++;
        return;
    }
    ops->discoveries_ok++;
    ops->last_success_unix = now;
    ops->consoles = consoles;
}

/* conmand's client port for /readyz, from the frozen CONMAN_CONF. */
static void ops_port_from_conf(struct app *a)
{
    char *conf = NULL, err[PATH_MAX + 256];
    size_t len = 0;
    if (!a->http || file_read_all(a->set.conman_conf, BASE_MAX, &conf, &len, err, sizeof(err)) < 0)
        return;
    a->ops.conmand_port = opsstats_conf_port(conf);
    secret_wipe(conf, len); /* it holds credentials */
    free(conf);
}

/* HSM into a->recs; the old records stay when this attempt fails. */
static int rediscover(struct app *a)
{
    struct records recs = RECORDS_INIT;
    int rc = discover(a, &recs);
    if (rc == 0 && a->set.mode == CONSOLE_MODE_NODE)
        drop_unservable(a, &recs);
    ops_discovered(&a->ops, rc == 0, recs.n);
    if (rc == 0 && recs.n == 0) {
        if (a->set.mode == CONSOLE_MODE_NODE)
            log_warn("HSM discovery: %s lists no usable enabled node", a->set.components_url);
        else
            log_warn("HSM discovery: %s lists no usable enabled NodeBMC endpoint",
                     a->set.endpoint_url);
        rc = -ENOENT;
    }
    if (rc < 0) {
        records_release(&recs);
        return rc;
    }
    records_release(&a->recs);
    a->recs = recs;
    a->have_recs = true;
    return 0;
}

/* How many of the consoles `self` owns under `m`. */
static size_t count_owned(const struct records *recs, const struct shard_members *m,
                          const char *self)
{
    size_t n = 0;
    for (size_t i = 0; i < recs->n; i++) {
        long k = shard_owner(m, recs->v[i].name);
        n += k >= 0 && strcmp(m->v[k].name, self) == 0;
    }
    return n;
}

/* The assignment to render with: NULL when not sharded; -ENOENT when no
 * usable membership has been seen yet. */
static int shard_view(struct app *a, const char *base, struct confgen_shard *view,
                      const struct confgen_shard **out)
{
    *out = NULL;
    if (!settings_sharded(&a->set))
        return 0;
    if (!a->shard.has_active) {
        log_error("no usable shard membership yet (%s %s): not writing %s",
                  a->set.shard_srv ? "SHARD_SRV" : "SHARD_MEMBERS_FILE",
                  a->set.shard_srv ? a->set.shard_srv : a->set.shard_members_file,
                  a->set.conman_conf);
        return -ENOENT;
    }
    *view = (struct confgen_shard){&a->shard.active, a->set.shard_self,
                                   (unsigned)opsstats_conf_port(base)};
    *out = view;
    return 0;
}

/* Base file, credentials, HSM (when `discover_now` or nothing is known
 * yet), render, write. Returns 1 when CONMAN_CONF changed, 0 when it did
 * not, <0 when this attempt failed (a->have_good then says whether the
 * last good file is still there to run). */
static int regenerate(struct app *a, const char *base, bool discover_now)
{
    struct secret user = SECRET_INIT, pwd = SECRET_INIT;
    struct confgen_shard view;
    const struct confgen_shard *shard = NULL;
    char *text = NULL;
    size_t len = 0;
    /* Without a membership there is nothing to write: no HSM call then. */
    int rc = shard_view(a, base, &view, &shard);
    if (rc == 0)
        rc = read_credentials(&a->set, &user, &pwd);
    if (rc == 0 && (discover_now || !a->have_recs))
        rc = rediscover(a);
    if (rc == 0)
        rc = render(&a->set, a->ours, shard, &a->recs, &user, &pwd, base, &text, &len);
    if (rc == 0 && shard)
        a->ops.shard_owned = count_owned(&a->recs, shard->members, shard->self);
    if (rc == 0)
        rc = install(a, text, len, a->recs.n);
    secret_release(&user);
    secret_release(&pwd);
    return rc;
}

static int refresh(struct app *a, bool discover_now)
{
    char err[PATH_MAX + 256];
    char *base = NULL;
    int rc = file_read_all(a->set.base_conf, BASE_MAX, &base, NULL, err, sizeof(err));
    if (rc < 0) {
        log_error("base configuration (CONMAN_BASE_CONF): %s", err);
        return rc;
    }
    if (confgen_update_disabled(base) && access(a->set.conman_conf, F_OK) == 0) {
        if (!a->frozen_logged)
            log_info("%s starts with UPDATE_CONFIG=FALSE: using %s as it is, no discovery",
                     a->set.base_conf, a->set.conman_conf);
        a->frozen_logged = true;
        a->have_good = true;
        free(base);
        ops_port_from_conf(a);
        return 0;
    }
    a->frozen_logged = false;
    a->ops.conmand_port = opsstats_conf_port(base); /* our SERVER line sets no port */
    rc = regenerate(a, base, discover_now);
    free(base);
    return rc;
}

static void start_conmand(struct app *a)
{
    char *argv[] = {a->set.conmand, "-F", "-v", "-c", a->set.conman_conf, NULL};
    char err[PATH_MAX + 256];
    pid_t pid = supervise_spawn(argv, err, sizeof(err));
    if (pid < 0) {
        unsigned delay = supervise_restart_delay(0, &a->backoff);
        log_error("CONMAND %s; retrying in %u s", err, delay);
        a->next_start = now_sec() + delay;
        return;
    }
    a->child = pid;
    a->started = now_sec();
    if (a->ops.conmand_starts++)
        a->ops.conmand_restarts++;
    a->ops.conmand_start_unix = unix_sec();
    a->next_poll = a->started + (double)a->set.hardware_update_sec;
    log_info("started %s -F -v -c %s (pid %d)", a->set.conmand, a->set.conman_conf, (int)pid);
}

/* Discover and start, or schedule the next attempt. */
static void try_start(struct app *a)
{
    refresh(a, true);
    if (a->have_good) {
        start_conmand(a);
        return;
    }
    a->next_start = now_sec() + (double)a->set.discovery_retry_sec;
    log_info("conmand not started: no usable configuration yet; retrying in %ld s",
             a->set.discovery_retry_sec);
}

static void on_child_exit(struct app *a, int status)
{
    char how[128];
    supervise_describe(status, how, sizeof(how));
    double ran = now_sec() - a->started;
    unsigned delay = supervise_restart_delay(ran, &a->backoff);
    opsstats_conmand_exit(&a->ops, status);
    log_warn("conmand (pid %d) %s after %.1f s; restarting in %u s", (int)a->child, how, ran,
             delay);
    a->child = 0;
    a->next_start = now_sec() + delay;
}

/* Regenerate while conmand runs (rediscovering unless only the membership
 * changed) and apply a changed file (section 3). */
static void apply_changes(struct app *a, const char *why, bool discover_now)
{
    log_info("%s: %s", why, discover_now ? "rediscovering" : "regenerating the configuration");
    if (refresh(a, discover_now) != 1 || !a->child)
        return;
    if (a->ours) {
        log_info("sending SIGHUP to conmand (pid %d) to apply the new configuration",
                 (int)a->child);
        kill(a->child, SIGHUP);
        return;
    }
    log_info("restarting conmand (pid %d) to apply the new configuration", (int)a->child);
    int status;
    ops_busy(a, STOP_GRACE_SEC + 5);
    bool killed = supervise_stop(a->child, STOP_GRACE_SEC, &status) == 1;
    ops_busy(a, 0);
    opsstats_conmand_exit(&a->ops, status);
    char how[128];
    supervise_describe(status, how, sizeof(how));
    log_info("conmand (pid %d) %s%s", (int)a->child, how, killed ? " (SIGKILL after 10 s)" : "");
    a->child = 0;
    start_conmand(a);
}

static void reap_children(struct app *a)
{
    int status;
    pid_t pid;
    while ((pid = supervise_reap(&status)) > 0)
        if (pid == a->child)
            on_child_exit(a, status);
}

static int shutdown_all(struct app *a, int sig)
{
    log_info("%s received: stopping", strsignal(sig));
    if (a->child) {
        int status;
        ops_busy(a, STOP_GRACE_SEC + 5);
        bool killed = supervise_stop(a->child, STOP_GRACE_SEC, &status) == 1;
        char how[128];
        supervise_describe(status, how, sizeof(how));
        log_info("conmand (pid %d) %s%s", (int)a->child, how,
                 killed ? " (SIGKILL after 10 s)" : "");
    }
    int status;
    while (supervise_reap(&status) > 0)
        ;
    log_info("exiting");
    return 0;
}

/* One log line for an acted-on membership change: who, and how many
 * consoles it moves to and from this instance. */
static void log_membership_change(struct app *a, const struct shard_members *before)
{
    const struct shard_members *after = &a->shard.active;
    const char *self = a->set.shard_self;
    size_t to = 0, from = 0;
    for (size_t i = 0; i < a->recs.n; i++) {
        const char *name = a->recs.v[i].name;
        bool was = strcmp(before->v[shard_owner(before, name)].name, self) == 0;
        bool is = strcmp(after->v[shard_owner(after, name)].name, self) == 0;
        to += !was && is;
        from += was && !is;
    }
    char b[1024], n[1024];
    shard_members_describe(before, b, sizeof(b));
    shard_members_describe(after, n, sizeof(n));
    log_info("shard membership changed from %zu (%s) to %zu (%s): %zu of %zu consoles move to "
             "%s, %zu move away",
             before->n, b, after->n, n, to, a->recs.n, self, from);
}

/* A new membership settled: regenerate from the known consoles (no HSM
 * call) and apply it like any other change, by diff reload. */
static void act_on_membership(struct app *a, const struct shard_members *before)
{
    log_membership_change(a, before);
    a->ops.shard_changes++;
    a->ops.shard_members = a->shard.active.n;
    /* Without conmand (it is backing off) its next start renders this. */
    if (a->child)
        apply_changes(a, "shard membership change", false);
}

static bool same_stamp(const struct file_stamp *x, const struct file_stamp *y)
{
    return x->dev == y->dev && x->ino == y->ino && x->size == y->size &&
           x->mtime.tv_sec == y->mtime.tv_sec && x->mtime.tv_nsec == y->mtime.tv_nsec &&
           x->err == y->err;
}

/* Hands what a source says now to the settle timer; the first membership
 * is acted on at once. Takes `m`. */
static void see_membership(struct app *a, struct shard_members *m, double now)
{
    if (shard_settle_see(&a->shard, m, now) == 1) {
        char d[1024];
        shard_members_describe(&a->shard.active, d, sizeof(d));
        log_info("shard membership: %zu (%s), this instance is %s", a->shard.active.n, d,
                 a->set.shard_self);
        a->ops.shard_members = a->shard.active.n;
        if (!a->child)
            a->next_start = 0; /* it may have been waiting for one */
    }
}

/* Reads and parses the membership file; logs why it is not usable. */
static int read_members(const struct app *a, struct shard_members *m)
{
    const char *path = a->set.shard_members_file;
    char *text = NULL, err[PATH_MAX + 512], held[512];
    int rc = file_read_all(path, MEMBERS_FILE_MAX, &text, NULL, err, sizeof(err));
    if (rc == 0)
        rc = shard_parse_file(text, path, m, err, sizeof(err));
    free(text);
    /* Not listed (yet): a joining instance, which answers for every
     * console through its owner until the others list it (as a pod is in
     * the SRV answer only once it is ready); taking consoles at once would
     * give their BMCs two sessions. */
    if (rc == 0 && shard_find(m, a->set.shard_self) < 0)
        log_warn("SHARD_MEMBERS_FILE %.400s: SHARD_SELF=%s is not one of its %zu members: it "
                 "owns no console and serves every one through its owner until it is listed",
                 path, a->set.shard_self, m->n);
    if (rc < 0) {
        shard_members_describe(&a->shard.active, held, sizeof(held));
        log_error("SHARD_MEMBERS_FILE: %s; keeping %s", err,
                  a->shard.has_active ? held : "no membership (none was usable yet)");
    }
    return rc;
}

/* SHARD_MEMBERS_FILE, re-read when its inode, size or mtime changes. */
static void watch_members(struct app *a, double now)
{
    struct stat st;
    struct file_stamp stamp = {0};
    if (stat(a->set.shard_members_file, &st) < 0)
        stamp.err = errno;
    else
        stamp = (struct file_stamp){st.st_dev, st.st_ino, st.st_size, st.st_mtim, 0};
    if (a->members_stamped && same_stamp(&stamp, &a->members_stamp))
        return;
    a->members_stamp = stamp;
    a->members_stamped = true;
    if (stamp.err) {
        log_error("SHARD_MEMBERS_FILE %s: %s; %s", a->set.shard_members_file, strerror(stamp.err),
                  a->shard.has_active ? "keeping the last good membership"
                                      : "no membership yet: nothing to run");
        shard_settle_forget(&a->shard);
        return;
    }
    struct shard_members m = SHARD_MEMBERS_INIT;
    if (read_members(a, &m) < 0) {
        /* The file no longer says what was settling: do not act on it. */
        shard_settle_forget(&a->shard);
        return;
    }
    see_membership(a, &m, now);
}

/* Hands what the SRV answer says now to the settle timer: the first is
 * acted on at once. Logs a change of answer once, not every poll. */
static void see_srv(struct app *a, struct shard_members *m, double now)
{
    if (!a->srv_seen.n || !shard_members_equal(m, &a->srv_seen)) {
        char d[1024];
        shard_members_describe(m, d, sizeof(d));
        log_info("SHARD_SRV %s lists %zu member%s (%s)", a->set.shard_srv, m->n,
                 m->n == 1 ? "" : "s", d);
        /* As with the file: a pod is listed once it is ready. */
        if (shard_find(m, a->set.shard_self) < 0)
            log_warn("SHARD_SRV %s: SHARD_SELF=%s is not one of its %zu members: it owns no "
                     "console and serves every one through its owner until it is listed",
                     a->set.shard_srv, a->set.shard_self, m->n);
        shard_members_release(&a->srv_seen);
        if (shard_members_copy(&a->srv_seen, m) < 0)
            log_error("SHARD_SRV: out of memory");
    }
    see_membership(a, m, now);
}

/* One line per reason the SRV answer is not usable, not one per poll. */
static void srv_failed(struct app *a, const char *why)
{
    if (strcmp(why, a->srv_failure) == 0)
        return;
    snprintf(a->srv_failure, sizeof(a->srv_failure), "%s", why);
    char held[512];
    shard_members_describe(&a->shard.active, held, sizeof(held));
    log_error("SHARD_SRV %s: %s; keeping %s", a->set.shard_srv, why,
              a->shard.has_active ? held : "no membership (none was usable yet)");
}

/* No instance is ready yet (before any membership), and none will be
 * until one holds the consoles: this one takes them all. */
static void srv_self_alone(struct app *a, int rc, double now)
{
    struct shard_members m = SHARD_MEMBERS_INIT;
    char err[256];
    if (!(m.v = calloc(1, sizeof(m.v[0]))) ||
        shard_parse_member(a->set.shard_self, &m.v[0], err, sizeof(err)) < 0) {
        shard_members_release(&m); /* SHARD_SELF was checked at start */
        srv_failed(a, "out of memory");
        return;
    }
    m.n = 1;
    if (rc == -ENOENT)
        log_warn("SHARD_SRV %s: no such name (NXDOMAIN), as Kubernetes answers for a headless "
                 "Service with no ready pod: %s holds every console alone until it is listed "
                 "(if the name is misspelt, every instance will)",
                 a->set.shard_srv, a->set.shard_self);
    else
        log_info("SHARD_SRV %s lists no member yet (no instance is ready): %s holds every "
                 "console alone until others are listed",
                 a->set.shard_srv, a->set.shard_self);
    a->srv_alone = true;
    a->srv_failure[0] = '\0';
    shard_members_release(&a->srv_seen); /* not what it listed: the next answer is news */
    see_membership(a, &m, now);
    shard_members_release(&m);
}

/* An answer naming no ready instance: an empty one, or NXDOMAIN, which is
 * what Kubernetes' DNS gives for a headless Service without ready pods
 * (its DNS spec). Returns true when handled: before any membership this
 * one goes alone; alone, it waits quietly to be listed itself. */
static bool srv_nobody_ready(struct app *a, int rc, const struct shard_members *m, double now)
{
    if (!((rc == 0 && !m->n) || rc == -ENOENT))
        return false;
    if (!a->shard.has_active)
        srv_self_alone(a, rc, now);
    else if (a->srv_alone)
        shard_settle_forget(&a->shard); /* what was settling is gone again */
    else
        return false;
    return true;
}

/* SHARD_SRV, asked every SHARD_SRV_POLL_SEC; a failed lookup, NXDOMAIN or
 * an empty answer later on changes nothing (the last good membership
 * stays): every pod unready at once is more likely a DNS hiccup than a
 * cluster gone, and taking every console would double their sessions. */
static void poll_srv(struct app *a, double now)
{
    struct shard_members m = SHARD_MEMBERS_INIT;
    char err[600];
    /* The lookup blocks the loop like an HSM request: /healthz stays 200. */
    ops_busy(a, SRVLOOKUP_MAX_SEC + 1);
    int rc = srvlookup_query(a->set.shard_srv, &m, err, sizeof(err));
    ops_busy(a, 0);
    a->next_srv = now_sec() + (double)a->set.shard_srv_poll_sec;
    if (srv_nobody_ready(a, rc, &m, now))
        return;
    if (rc == 0 && !m.n) {
        snprintf(err, sizeof(err), "lists no member (no instance is ready)");
        rc = -ENODATA;
    }
    if (rc < 0) {
        srv_failed(a, err);
        shard_members_release(&m);
        shard_settle_forget(&a->shard); /* do not act on what it said before */
        return;
    }
    if (a->srv_failure[0])
        log_info("SHARD_SRV %s answers again", a->set.shard_srv);
    a->srv_failure[0] = '\0';
    see_srv(a, &m, now);
    shard_members_release(&m);
}

static void membership_tick(struct app *a)
{
    double now = now_sec();
    if (a->set.shard_members_file)
        watch_members(a, now);
    if (a->set.shard_srv && now >= a->next_srv)
        poll_srv(a, now);
    struct shard_members before = SHARD_MEMBERS_INIT;
    if (shard_settle_due(&a->shard, now, (double)a->set.shard_settle_sec, &before) == 1) {
        a->srv_alone = false; /* what a source listed runs now */
        act_on_membership(a, &before);
    }
    shard_members_release(&before);
}

static long next_wait_ms(const struct app *a)
{
    double now = now_sec(), until = now + 3600;
    if (!a->child && a->next_start < until)
        until = a->next_start;
    if (a->child && a->set.hardware_update_sec > 0 && a->next_poll < until)
        until = a->next_poll;
    if (a->http && now + 1 < until) /* the /healthz heartbeat */
        until = now + 1;
    if (a->set.shard_members_file && now + 1 < until) /* a cheap stat(2) a second */
        until = now + 1;
    if (a->set.shard_srv && a->next_srv < until)
        until = a->next_srv;
    double due = shard_settle_next(&a->shard, (double)a->set.shard_settle_sec);
    if (due >= 0 && due < until)
        until = due;
    return until <= now ? 0 : (long)((until - now) * 1000) + 1;
}

/* Decides ours vs another conmand once: ours prints OURS_MARKER for -V. */
static void detect_conmand(struct app *a)
{
    char *argv[] = {a->set.conmand, "-V", NULL};
    char out[1024] = "";
    int rc = supervise_capture(argv, 5, out, sizeof(out));
    a->ours = rc == 0 && strstr(out, OURS_MARKER) != NULL;
    if (rc < 0)
        log_warn("CONMAND %s -V: %s", a->set.conmand, strerror(-rc));
    log_info("CONMAND %s is %s", a->set.conmand,
             a->ours ? "ours: changes are applied with SIGHUP"
                     : "not ours: changes are applied by restarting it");
    char server[SETTINGS_SERVER_LINE_MAX], names[256];
    settings_server_line(&a->set, server, sizeof(server), names, sizeof(names));
    if (!a->ours && names[0])
        log_warn("CONMAND is not ours: %s ignored (our conmand's SERVER keywords)", names);
    if (!a->ours && settings_sharded(&a->set))
        log_warn("CONMAND is not ours: the peer: consoles owned by other members will not open "
                 "(they need our conmand)");
}

/* conmand needs about one descriptor per console, and conman since 0.2.8
 * keeps the soft limit it is given (SERVER nofile=0), which can be 1,024
 * in a container: raise ours to the hard limit so either daemon inherits
 * room for thousands of consoles. */
static void raise_open_file_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == rl.rlim_max)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        log_warn("cannot raise the open file limit from %llu to %llu: %s", (unsigned long long)was,
                 (unsigned long long)rl.rlim_max, strerror(errno));
    else
        log_info("Open file limit raised from %llu to %llu for conmand", (unsigned long long)was,
                 (unsigned long long)rl.rlim_max);
}

/* Says where node mode looks and what its SSH consoles will use; conmand
 * reads the key and known_hosts files, so here they are only checked. */
static void log_node_mode(const struct settings *s)
{
    log_info("CONSOLE_MODE=node: nodes from %s, BMC addresses from %s, CONMAN_CONF %s",
             s->components_url, s->endpoint_url, s->conman_conf);
    if (s->ssh_key_file && access(s->ssh_key_file, R_OK) < 0)
        log_warn("SSH_KEY_FILE %s: %s (Mountain and Hill consoles will not connect)",
                 s->ssh_key_file, strerror(errno));
    if (s->ssh_known_hosts && access(s->ssh_known_hosts, R_OK) < 0)
        log_warn("SSH_KNOWN_HOSTS %s: %s (SSH consoles will not connect)", s->ssh_known_hosts,
                 strerror(errno));
    if (!s->ssh_known_hosts)
        log_info("SSH_KNOWN_HOSTS is unset: conmand trusts each SSH BMC's host key on first use "
                 "and logs its fingerprint");
}

static int run(struct app *a)
{
    for (;;) {
        ops_tick(a);
        if (settings_sharded(&a->set))
            membership_tick(a);
        double now = now_sec();
        if (!a->child && now >= a->next_start)
            try_start(a);
        else if (a->child && a->set.hardware_update_sec > 0 && now >= a->next_poll) {
            a->next_poll = now + (double)a->set.hardware_update_sec;
            apply_changes(a, "HARDWARE_UPDATE_SEC poll", true);
        }
        int sig = supervise_wait_signal(next_wait_ms(a));
        if (sig == SIGCHLD)
            reap_children(a);
        else if (sig == SIGTERM || sig == SIGINT)
            return shutdown_all(a, sig);
        else if (sig == SIGHUP && a->child)
            apply_changes(a, "SIGHUP", true);
        else if (sig == SIGHUP)
            a->next_start = 0;
    }
}

/* SHARD_SELF defaults to the host name (a StatefulSet pod's name); a
 * static SHARD_MEMBERS is acted on at once and must hold it. */
static int init_shard(struct app *a)
{
    char err[1024], host[256] = "";
    struct shard_member m;
    if (!a->set.shard_self) {
        if (gethostname(host, sizeof(host) - 1) < 0 ||
            shard_parse_member(host, &m, err, sizeof(err)) < 0 || strchr(host, '=')) {
            log_error("bad setting: SHARD_SELF is unset and the host name \"%.100s\" is not a "
                      "member name",
                      host);
            return -EINVAL;
        }
        if (!(a->set.shard_self = strdup(host)))
            return -ENOMEM;
    }
    if (settings_check_self(&a->set, err, sizeof(err)) < 0) {
        log_error("bad setting: %s", err);
        return -EINVAL;
    }
    a->ops.sharded = true;
    if (a->set.shard_members.n) {
        struct shard_members m0;
        if (shard_members_copy(&m0, &a->set.shard_members) < 0)
            return -ENOMEM;
        shard_settle_see(&a->shard, &m0, now_sec());
        a->ops.shard_members = a->shard.active.n;
        char d[1024];
        shard_members_describe(&a->shard.active, d, sizeof(d));
        log_info("shard membership (SHARD_MEMBERS): %zu (%s), this instance is %s",
                 a->shard.active.n, d, a->set.shard_self);
    } else if (a->set.shard_srv)
        log_info("shard membership from SHARD_SRV %s, asked every %ld s, settling for %ld s, "
                 "this instance is %s",
                 a->set.shard_srv, a->set.shard_srv_poll_sec, a->set.shard_settle_sec,
                 a->set.shard_self);
    else
        log_info("shard membership from SHARD_MEMBERS_FILE %s, settling for %ld s, this instance "
                 "is %s",
                 a->set.shard_members_file, a->set.shard_settle_sec, a->set.shard_self);
    return 0;
}

int main(void)
{
    log_init("configure_conman", stderr, LOG_LEVEL_INFO);
    struct app a = {0};
    a.backoff = 1;
    char err[1024];
    if (settings_parse(&a.set, env_lookup, NULL, err, sizeof(err)) < 0) {
        log_error("bad setting: %s", err);
        return 2;
    }
    if (a.set.event_rules_default && access(a.set.event_rules, R_OK) != 0) {
        log_info("EVENT_RULES unset and %s absent: no console events", a.set.event_rules);
        free(a.set.event_rules);
        a.set.event_rules = NULL;
    }
    if (settings_sharded(&a.set) && init_shard(&a) < 0) {
        settings_release(&a.set);
        return 2;
    }
    if (supervise_init() < 0 || hsm_global_init() < 0) {
        log_error("cannot initialise signals or libcurl");
        settings_release(&a.set);
        return 1;
    }
    /* Outside a container, orphans of conmand's children come to us too. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    raise_open_file_limit();
    if (a.set.mode == CONSOLE_MODE_NODE)
        log_node_mode(&a.set);
    else
        log_info("HSM endpoint %s, CONMAN_CONF %s", a.set.endpoint_url, a.set.conman_conf);
    a.ops.conmand_port = 7890;
    if (a.set.http_port && !(a.http = opshttp_open(a.set.http_addr, a.set.http_port)))
        log_error("HTTP_PORT %ld: out of memory; serving no HTTP", a.set.http_port);
    detect_conmand(&a);
    int rc = run(&a);
    opshttp_close(a.http);
    forget_written(&a);
    records_release(&a.recs);
    shard_settle_release(&a.shard);
    shard_members_release(&a.srv_seen);
    hsm_global_cleanup();
    settings_release(&a.set);
    return rc;
}
