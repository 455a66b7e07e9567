/* The daemon's event loop: listener, signals, consoles, periodic log marks,
 * child reaping, clean stop. */
#include "conmand/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fileutil.h"
#include "common/childproc.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/strbuf.h"
#include "conmand/clients/client.h"
#include "conmand/conf/conflock.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/logfile.h"
#include "conmand/consoles/registry.h"
#include "conmand/consoles/reset.h"
#include "conmand/consoles/types.h"
#include "conmand/reload.h"
#include "conmand/consoles/notice.h"
#include "conmand/clients/webclient.h"
#include "conmand/http/httpd.h"
#include "conmand/http/scrape.h"
#include "conmand/events/eventexec.h"
#include "conmand/events/eventhub.h"
#include "conmand/ship/shipper.h"

struct server {
    uv_loop_t *loop;
    struct server_opts opts;
    struct conf conf;
    int port;
    uv_tcp_t listener;  /* 127.0.0.1 (SERVER loopback), else :: (IPv4 and IPv6) */
    bool listening;     /* the listener is bound and open */
    uv_tcp_t listener6; /* SERVER loopback: ::1 beside 127.0.0.1 */
    bool listening6;
    uv_timer_t listen_retry; /* SERVER httpport: a port in use is tried again */
    int listen_err;          /* the last bind failure, reported once */
    uv_signal_t sig_term, sig_int, sig_hup, sig_chld;
    uv_timer_t stamp_timer;
    struct console_hub hub;           /* what the consoles share */
    struct console_registry consoles; /* by name */
    struct client_hub clients;        /* what the client sessions share */
    struct web_hub web;               /* the web viewers (on the HTTP port) */
    struct reset_runner resets;       /* SERVER resetcmd runs */
    FILE *logfp;
    uv_timer_t logcheck;        /* server log: retried while failing, reopened if deleted */
    struct shipper ship;        /* SERVER logship; hub.ship points here when on */
    struct eventhub events;     /* SERVER eventrules; hub.events points here */
    struct eventexec eventexec; /* SERVER eventexec runs */
    struct strbuf eventjson;    /* one event's JSON, for the shipper and eventexec */
    struct httpd *http;         /* SERVER httpport, or NULL */
    struct scrape_source pages; /* what its pages read */
    struct scrape_counters counters;
    bool logfailing;         /* SERVER logfile could not be opened: reported once */
    pid_t *stopped_children; /* stop_server(): process groups to see gone */
    size_t nstopped;
    bool stopping;
    char cwd[4096]; /* where relative paths were given */
};

#define CONF_MAX_BYTES (64 * 1024 * 1024)

static void report_line(void *ctx, bool warning, const char *msg)
{
    (void)ctx;
    if (warning)
        log_warn("CONFIG %s", msg);
    else
        log_error("CONFIG %s", msg);
}

int server_load_conf(const char *path, struct conf *out, char *err, size_t errlen)
{
    char *text;
    size_t len;
    /* Through the lock's descriptor: closing another one would drop it. */
    int rc = conflock_read(path, CONF_MAX_BYTES, &text, &len, err, errlen);
    if (rc < 0)
        return rc;
    rc = conf_parse(text, path, report_line, NULL, out);
    secret_free(text); /* ipmiopts, sshopts and process devs may hold passwords */
    if (rc < 0)
        snprintf(err, errlen, "%s: out of memory while parsing", path);
    return rc;
}

static int create_consoles(struct server *s)
{
    struct console **v = calloc(s->conf.nconsoles ? s->conf.nconsoles : 1, sizeof(*v));
    size_t n = 0;
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < s->conf.nconsoles; i++) {
        struct console *c = console_create(&s->hub, &s->conf.consoles[i]);
        if (!c)
            break;
        if (!c->ops)
            log_error("CONFIG %s:%d: console [%s]: dev \"%s\" is no known console type",
                      s->opts.conf_path, c->cfg.line, c->cfg.name, c->cfg.dev);
        v[n++] = c;
    }
    registry_replace(&s->consoles, v, n); /* also on failure: they are destroyed with it */
    return n == s->conf.nconsoles ? 0 : -ENOMEM;
}

static void on_connection(uv_stream_t *st, int status)
{
    struct server *s = st->data;
    if (status < 0) {
        log_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    client_accept(&s->clients, st);
}

/* Binds and listens on ip:port. Returns 0 or a libuv error (the handle
 * then closed). */
static int listen_on(struct server *s, uv_tcp_t *h, const char *ip)
{
    struct sockaddr_storage addr;
    if (strchr(ip, ':'))
        uv_ip6_addr(ip, s->port, (struct sockaddr_in6 *)&addr);
    else
        uv_ip4_addr(ip, s->port, (struct sockaddr_in *)&addr);
    uv_tcp_init(s->loop, h);
    h->data = s;
    int rc = uv_tcp_bind(h, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)h, 128, on_connection);
    if (rc < 0)
        uv_close((uv_handle_t *)h, NULL);
    return rc;
}

/* The host has IPv6 (a kernel may be built or booted without it). */
static bool have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

/* SERVER loopback: 127.0.0.1 and, where the host has it, ::1. Otherwise
 * one dual-stack socket on :: (IPv4 clients arrive v4-mapped), or
 * 0.0.0.0 on a host without IPv6. */
static int start_listener(struct server *s)
{
    bool loopback = s->conf.server.loopback, v6 = have_ipv6();
    int rc = listen_on(s, &s->listener, loopback ? "127.0.0.1" : v6 ? "::" : "0.0.0.0");
    if (rc < 0) {
        if (rc != s->listen_err)
            log_error("cannot listen on port %d: %s", s->port, uv_strerror(rc));
        s->listen_err = rc;
        return rc;
    }
    s->listening = true;
    if (loopback && v6) {
        int rc6 = listen_on(s, &s->listener6, "::1");
        s->listening6 = rc6 == 0;
        if (rc6 < 0)
            log_info("not listening on [::1]:%d: %s (IPv4 loopback only)", s->port,
                     uv_strerror(rc6));
    }
    return 0;
}

#define LISTEN_RETRY_MS 2000

/* /readyz: the configuration is loaded; ready once clients can connect. */
static void tell_readiness(struct server *s)
{
    char why[160];
    if (!s->http)
        return;
    if (s->listening) {
        httpd_set_ready(s->http, true, NULL);
        return;
    }
    /* uv_strerror() of an unknown code allocates: only a real error here. */
    snprintf(why, sizeof(why), "client port %d: %s; retrying every %d s", s->port,
             uv_strerror(s->listen_err), LISTEN_RETRY_MS / 1000);
    httpd_set_ready(s->http, false, why);
}

static void on_listen_retry(uv_timer_t *t)
{
    struct server *s = t->data;
    if (start_listener(s) < 0)
        return;
    uv_timer_stop(t);
    log_info("Listening on port %d at last", s->port);
    tell_readiness(s);
}

/* SERVER httpport: conmand goes on logging its consoles with the client
 * port in use and says so at /readyz, trying it again every
 * LISTEN_RETRY_MS; without it, it stops as conman does. */
static int listen_or_retry(struct server *s)
{
    int rc = start_listener(s);
    if (rc == 0 || !s->http)
        return rc;
    log_warn("logging the consoles meanwhile; trying port %d again every %d s (/readyz tells)",
             s->port, LISTEN_RETRY_MS / 1000);
    uv_timer_start(&s->listen_retry, on_listen_retry, LISTEN_RETRY_MS, LISTEN_RETRY_MS);
    return 0;
}

static void stop_server(struct server *s);
static int open_server_log(struct server *s);
static void load_event_rules(struct server *s);
static void check_event_exec(struct server *s);
static void reserve_descriptors(struct server *s);

static void warn_restart_needed(struct server *s, const struct conf *nc)
{
    char restart[256];
    struct conf_server cmp =
        reload_compared_server(&s->conf.server, &nc->server, s->opts.port, s->opts.pidfile);
    reload_restart_needed(&s->conf.server, &cmp, restart, sizeof(restart));
    if (restart[0])
        log_warn("reload: SERVER %s changed in %s: needs a restart to apply", restart,
                 s->opts.conf_path);
}

/* Reload as parse, validate, plan, act: the new file is read and checked
 * in full and everything the plan needs is allocated before the first
 * console is touched, so a refused reload changes nothing. Returns 0 or
 * -errno. */
static int reload(struct server *s)
{
    struct conf nc;
    struct reload_prep prep;
    char err[1024];
    int rc = server_load_conf(s->opts.conf_path, &nc, err, sizeof(err));
    if (rc < 0) {
        log_error("reload refused, keeping the running configuration: %s", err);
        s->counters.reloads_refused++;
        return rc;
    }
    if (nc.nerrors) {
        log_error("reload refused: %s has %d bad line(s) (above); keeping the running "
                  "configuration",
                  s->opts.conf_path, nc.nerrors);
        conf_release(&nc);
        s->counters.reloads_refused++;
        return -EINVAL;
    }
    struct reload_target t = {.conf = &s->conf, .consoles = &s->consoles, .hub = &s->hub};
    rc = reload_prepare(&t, &nc, &prep);
    if (rc < 0) {
        log_error("reload of %s refused: %s; keeping the running configuration", s->opts.conf_path,
                  strerror(-rc));
        conf_release(&nc);
        s->counters.reloads_refused++;
        return rc;
    }
    warn_restart_needed(s, &nc);
    /* Live SERVER settings (logdir, execpath, resetcmd, timestamp...) come
     * from the new file first, so added consoles log where it says; the
     * ones needing a restart were reported above. */
    struct conf old = s->conf;
    s->conf = nc;
    reload_keep_running_server(&s->conf.server, &old.server);
    if (s->http)
        httpd_set_join(s->http, s->conf.server.httpjoin);
    t.conf = &old;
    size_t n = reload_act(&t, &prep);
    conf_release(&old);
    reserve_descriptors(s); /* before the added consoles open */
    log_info("reload of %s applied: %zu consoles", s->opts.conf_path, n);
    s->counters.reloads_applied++;
    return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    if (signum == SIGTERM || signum == SIGINT) {
        log_info("Exiting on signal=%d", signum);
        stop_server(s);
    } else if (signum == SIGHUP) {
        log_info("SIGHUP: reloading %s and reopening log files", s->opts.conf_path);
        reload(s);
        load_event_rules(s);
        check_event_exec(s);
        open_server_log(s); /* on failure the previous file stays in use */
        if (s->hub.ship)
            shipper_reopen(s->hub.ship);
        /* A log whose name now expands to another file (a date in it)
         * rolls; one whose file is unchanged keeps its descriptor. */
        for (size_t i = 0; i < s->consoles.n; i++)
            console_refresh_log(s->consoles.v[i]);
    } else if (signum == SIGCHLD) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            if (!reset_reaped(&s->resets, pid, status) &&
                !eventexec_reaped(&s->eventexec, pid, status))
                console_types_child_reaped(&s->consoles, pid, status);
    }
}

unsigned server_next_mark_ms(long long now_ms, int minutes)
{
    long long period = (long long)minutes * 60000;
    /* A little late rather than early: the mark must read the new minute. */
    return (unsigned)(period - now_ms % period) + 20;
}

static long long wall_ms(uv_loop_t *loop)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uv_update_time(loop); /* timers count from the loop's cached time */
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_stamp(uv_timer_t *t)
{
    struct server *s = t->data;
    char when[64], text[512], msg[600];
    notice_long_time(time(NULL), when, sizeof(when));
    for (size_t i = 0; i < s->consoles.n; i++) {
        struct console *c = s->consoles.v[i];
        snprintf(text, sizeof(text), "Console [%s] log at %s", c->cfg.name, when);
        logfile_write_msg(&c->log, msg, notice_format(msg, sizeof(msg), text));
    }
    uv_timer_start(t, on_stamp, server_next_mark_ms(wall_ms(s->loop), s->conf.server.timestamp_min),
                   0);
}

static void start_signal(struct server *s, uv_signal_t *h, int signum)
{
    uv_signal_init(s->loop, h);
    h->data = s;
    uv_signal_start(h, on_signal, signum);
}

/* The process groups of console children and resetcmds, before their
 * consoles forget them: at exit every one of them must be gone. */
static void note_children(struct server *s)
{
    size_t n = reset_pids(&s->resets, NULL, 0) + eventexec_pids(&s->eventexec, NULL, 0);
    for (size_t i = 0; i < s->consoles.n; i++)
        n += s->consoles.v[i]->pid > 0;
    s->stopped_children = n ? calloc(n, sizeof(pid_t)) : NULL;
    if (!s->stopped_children)
        return;
    s->nstopped = reset_pids(&s->resets, s->stopped_children, n);
    s->nstopped +=
        eventexec_pids(&s->eventexec, s->stopped_children + s->nstopped, n - s->nstopped);
    for (size_t i = 0; i < s->consoles.n; i++)
        if (s->consoles.v[i]->pid > 0)
            s->stopped_children[s->nstopped++] = s->consoles.v[i]->pid;
}

static void destroy_consoles(struct server *s)
{
    for (size_t i = 0; i < s->consoles.n; i++)
        console_destroy(s->consoles.v[i]);
    s->consoles.n = 0;
}

static void stop_server(struct server *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->hub.stopping = true;       /* no console reconnects from here on */
    webclient_close_all(&s->web); /* their sockets are the HTTP port's */
    if (s->http)
        httpd_stop(s->http); /* first: no page is built from what goes next */
    s->http = NULL;
    note_children(s);
    for (size_t i = 0; i < s->nstopped; i++)
        kill(-s->stopped_children[i], SIGTERM); /* the consoles' close does it too */
    client_close_all(&s->clients);
    destroy_consoles(s);
    if (s->listening)
        uv_close((uv_handle_t *)&s->listener, NULL);
    s->listening = false;
    if (s->listening6)
        uv_close((uv_handle_t *)&s->listener6, NULL);
    s->listening6 = false;
    uv_close((uv_handle_t *)&s->listen_retry, NULL);
    uv_close((uv_handle_t *)&s->sig_term, NULL);
    uv_close((uv_handle_t *)&s->sig_int, NULL);
    uv_close((uv_handle_t *)&s->sig_hup, NULL);
    uv_close((uv_handle_t *)&s->sig_chld, NULL);
    uv_close((uv_handle_t *)&s->stamp_timer, NULL);
    uv_close((uv_handle_t *)&s->logcheck, NULL);
    reset_close(&s->resets);
    eventexec_close(&s->eventexec);
    console_hub_close(&s->hub);
    if (s->hub.ship)
        shipper_close(s->hub.ship);
}

/* Reaps what exited; true once no child is left. The daemon is a child
 * subreaper, so a console's grandchildren whose parent exited are its
 * children too: "none left" means no descendant at all. */
static bool reap_some(void)
{
    pid_t pid;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
        ;
    return pid < 0 && errno == ECHILD;
}

#define STOP_GRACE_MS 1000 /* SIGTERM to SIGKILL for console children */
#define STOP_POLL_MS 10

/* Children got SIGTERM at stop: reap them; what is still running after
 * STOP_GRACE_MS is killed with its whole process group, so nothing a
 * console started outlives the daemon. Bounded: never hangs. */
static void reap_children(struct server *s)
{
    int rounds = STOP_GRACE_MS / STOP_POLL_MS;
    for (int i = 0; i < rounds && !reap_some(); i++)
        usleep(STOP_POLL_MS * 1000);
    if (!reap_some()) {
        log_warn("console children still running %d ms after SIGTERM: killing them", STOP_GRACE_MS);
        for (size_t i = 0; i < s->nstopped; i++)
            kill(-s->stopped_children[i], SIGKILL);
        for (int i = 0; i < rounds && !reap_some(); i++)
            usleep(STOP_POLL_MS * 1000);
    }
    free(s->stopped_children);
    s->stopped_children = NULL;
    s->nstopped = 0;
}

/* SERVER nofile as conman 0.2.8 on: 0 keeps the soft limit, -1 raises it
 * to the hard one, N sets it, raising the hard one too when N is above it
 * (that needs privilege: without it, the hard limit is what we get). */
static void apply_nofile(int nofile)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_warn("cannot read the open file limit: %s", strerror(errno));
        return;
    }
    if (nofile) {
        struct rlimit want = rl;
        want.rlim_cur = nofile < 0 ? rl.rlim_max : (rlim_t)nofile;
        if (want.rlim_cur > want.rlim_max)
            want.rlim_max = want.rlim_cur;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
            rl = want;
        } else {
            log_warn("cannot set the open file limit to %llu: %s; using the hard limit %llu",
                     (unsigned long long)want.rlim_cur, strerror(errno),
                     (unsigned long long)rl.rlim_max);
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    log_info("Open file limit set to %llu", (unsigned long long)rl.rlim_cur);
}

static void apply_limits(const struct conf_server *cs)
{
    struct rlimit rl;
    apply_nofile(cs->nofile);
    if (getrlimit(RLIMIT_CORE, &rl) == 0) {
        rl.rlim_cur = cs->coredump ? rl.rlim_max : 0;
        setrlimit(RLIMIT_CORE, &rl);
    }
    if (cs->coredump && cs->coredumpdir && chdir(cs->coredumpdir) < 0)
        log_warn("cannot change to coredumpdir \"%s\": %s", cs->coredumpdir, strerror(errno));
}

/* Descriptors left for what is neither a console nor a log: clients, the
 * loop, resetcmds, the server log. */
#define FD_RESERVE 1024

/* Sizes the log descriptor cache to what the open-file limit leaves after
 * the consoles and FD_RESERVE: below it every log keeps its descriptor,
 * so a line costs one write instead of an open, a lock, a stat, a write
 * and a close (measured: 16 us a line at 2,000 consoles with 256 cached).
 * Then grows the kernel's descriptor table once, now, to what all of that
 * will need. It doubles as descriptors are opened, and once the process
 * has threads (libuv's resolver pool, libipmiconsole's engine) every
 * doubling waits for an RCU grace period, 5-15 ms here: nine of them on the
 * way to 10,000 consoles, stalling the loop mid-start-up. A table never
 * shrinks. */
static void reserve_descriptors(struct server *s)
{
    struct rlimit rl;
    long consoles = (long)s->consoles.n;
    long limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                     ? (long)rl.rlim_cur
                     : 1L << 20;
    long logs = limit - consoles - FD_RESERVE;
    if (logs > consoles)
        logs = consoles;
    logcache_set_capacity(&s->hub.logs, logs > 0 ? (size_t)logs : 0);
    long want = consoles + (long)s->hub.logs.cap + 64; /* + clients, loop */
    if (consoles + LOGCACHE_FDS + 64 >= limit) {
        /* Since 0.2.8 nofile=0 keeps the soft limit: say so before the
         * consoles past it fail one by one with "Too many open files". */
        log_warn("%zu consoles need about %ld open files but the limit is %ld: set SERVER "
                 "nofile=-1 (or raise the limit) or some consoles will fail to open",
                 s->consoles.n, consoles + LOGCACHE_FDS + 64, limit);
    }
    if (want >= limit)
        want = limit - 1;
    int fd = fcntl(uv_backend_fd(s->loop), F_DUPFD_CLOEXEC, (int)want);
    if (fd >= 0)
        close(fd);
}

static void warn_unsupported(const struct conf_server *cs)
{
    if (cs->tcpwrappers)
        log_warn("SERVER tcpwrappers=on is not supported by this conmand: ignored");
    if (cs->syslog)
        log_warn("SERVER syslog=%s is not supported by this conmand: logging to %s", cs->syslog,
                 cs->logfile ? cs->logfile : "stderr");
}

/* syslog priority of SERVER logfile="FILE,PRIO" to our logger's level. */
static enum log_level level_of(int prio)
{
    return prio >= LOG_DEBUG     ? LOG_LEVEL_DEBUG
           : prio >= LOG_NOTICE  ? LOG_LEVEL_INFO
           : prio >= LOG_WARNING ? LOG_LEVEL_WARN
                                 : LOG_LEVEL_ERROR;
}

#define SERVER_LOG_MODE 0640 /* the daemon's log: no world read */
#define SERVER_LOG_CHECK_MS 2000

/* Appends, 0640 (an older, looser file is tightened), close-on-exec. */
static FILE *open_log_stream(const char *path)
{
    logfile_mkdirs(path); /* open() reports what still fails */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, SERVER_LOG_MODE);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777 & ~SERVER_LOG_MODE))
        (void)!fchmod(fd, st.st_mode & SERVER_LOG_MODE);
    FILE *fp = fdopen(fd, "a");
    if (!fp) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return fp;
}

/* A server log that cannot be opened is no reason to stop serving
 * consoles: messages go to stderr, the failure is reported once, and the
 * open is retried every SERVER_LOG_CHECK_MS and on SIGHUP. */
static int server_log_failed(struct server *s, const char *path, int e)
{
    if (!s->logfailing)
        log_error("cannot open logfile \"%s\": %s (logging to %s; retrying every %d s and on "
                  "SIGHUP)",
                  path, strerror(e), s->logfp ? "the previous file" : "stderr",
                  SERVER_LOG_CHECK_MS / 1000);
    s->logfailing = true;
    return -e;
}

/* SERVER logfile, relative to logdir like conman's, its name expanded
 * each time it is opened (start and SIGHUP) as conman's: the time
 * specifiers and %P; %N and %D name no console here and stay as written. */
static int open_server_log(struct server *s)
{
    char name[4096], path[4096];
    if (!s->conf.server.logfile)
        return 0;
    struct conf_fmt v = {.pid = (long)getpid(), .now = time(NULL)};
    if (conf_format(s->conf.server.logfile, &v, name, sizeof(name)) < 0 ||
        logfile_resolve(s->conf.server.logdir, s->cwd, name, path, sizeof(path)) < 0)
        return server_log_failed(s, s->conf.server.logfile, ENAMETOOLONG);
    FILE *fp = open_log_stream(path);
    if (!fp)
        return server_log_failed(s, path, errno);
    setvbuf(fp, NULL, _IOLBF, 0);
    log_set_output(fp);
    /* The file's priority wins over -v: it is what the operator asked for. */
    log_set_level(level_of(s->conf.server.logfile_priority));
    if (s->logfp)
        fclose(s->logfp);
    s->logfp = fp;
    if (s->logfailing)
        log_info("logfile \"%s\" opened: logging there again", path);
    s->logfailing = false;
    return 0;
}

/* SERVER logship: read once at start (reload keeps the running targets). A
 * bad target is reported and shipping stays off; never fatal. */
static void start_logship(struct server *s)
{
    const struct conf_server *cs = &s->conf.server;
    if (!cs->logship_tcp && !cs->logship_file)
        return;
    char err[256] = "";
    int rc = shipper_start(&s->ship, s->loop, cs->logship_tcp, cs->logship_file, err, sizeof(err));
    if (rc < 0) {
        log_error("%s: log shipping off", err[0] ? err : strerror(-rc));
        return;
    }
    s->hub.ship = &s->ship;
    log_info("Shipping console lines to%s%s%s%s", cs->logship_tcp ? " tcp:" : "",
             cs->logship_tcp ? cs->logship_tcp : "", cs->logship_file ? " file:" : "",
             cs->logship_file ? cs->logship_file : "");
}

/* SERVER eventrules: read at start and with every SIGHUP. A bad file is
 * reported (file, line, PCRE2's message) and the rules in force stay. */
static void load_event_rules(struct server *s)
{
    const char *path = s->conf.server.eventrules;
    struct rules *next = NULL;
    char err[1024];
    if (!path && !s->events.rules)
        return;
    if (path && eventhub_read_rules(path, &next, err, sizeof(err)) < 0) {
        log_error("SERVER eventrules: %s; %s", err,
                  s->events.rules ? "keeping the rules in force" : "no console events");
        return;
    }
    for (size_t i = 0; i < s->consoles.n; i++)
        if (console_set_rules(s->consoles.v[i], next) < 0)
            log_error("Console [%s]: out of memory for its event matcher: no events",
                      s->consoles.v[i]->cfg.name);
    eventhub_adopt(&s->events, next, path);
    if (next)
        log_info("SERVER eventrules: %zu rules from %s", rules_count(next), path);
    else
        log_info("SERVER eventrules unset: no console events");
}

/* SERVER eventexec, checked at start and with every SIGHUP (it is read
 * again at each event, so a fixed program needs no reload). */
static void check_event_exec(struct server *s)
{
    const char *path = s->conf.server.eventexec;
    int rc = path ? childproc_runnable(path) : 0;
    if (rc < 0)
        log_error("SERVER eventexec: %s: %s: events will not run it", path, strerror(-rc));
    else if (path)
        log_info("SERVER eventexec: running %s for each console event", path);
}

/* A new console event: to the log shipping stream, and to eventexec. */
static void on_event(void *arg, const struct event_record *r)
{
    struct server *s = arg;
    if (!s->hub.ship && !s->conf.server.eventexec)
        return;
    struct strbuf *sb = &s->eventjson;
    strbuf_reset(sb);
    event_record_json(sb, r, r->log);
    strbuf_adds(sb, "\n");
    if (sb->failed) {
        log_error("Console [%s]: out of memory encoding event %s", r->console, r->rule);
        sb->failed = false;
        return;
    }
    if (s->hub.ship)
        shipper_send(s->hub.ship, sb->p, sb->len);
    eventexec_submit(&s->eventexec, r->console, r->rule, rules_severity_name(r->severity), sb->p,
                     sb->len);
}

/* Retries a server log that failed; reopens (recreating its folder) one
 * whose file was deleted under it, as a SIGHUP would. */
static void on_log_check(uv_timer_t *t)
{
    struct server *s = t->data;
    struct stat st;
    if (!s->conf.server.logfile || s->stopping)
        return;
    if (s->logfp && !s->logfailing && fstat(fileno(s->logfp), &st) == 0 && st.st_nlink > 0)
        return;
    bool deleted = !s->logfailing;
    if (open_server_log(s) == 0 && deleted)
        log_info("logfile was deleted: reopened it");
}

static void start_log_check(struct server *s)
{
    uv_timer_init(s->loop, &s->logcheck);
    s->logcheck.data = s;
    uv_timer_start(&s->logcheck, on_log_check, SERVER_LOG_CHECK_MS, SERVER_LOG_CHECK_MS);
    uv_unref((uv_handle_t *)&s->logcheck);
}

/* A WebSocket from the HTTP port: a web viewer. */
static void open_viewer(void *ctx, struct httpd_upgrade *up)
{
    struct scrape_source *pages = ctx;
    webclient_open(pages->web, up);
}

/* SERVER httpport: before the client listener, so /readyz answers "not
 * ready" while conmand starts. Returns 0 or -ENOMEM. */
static int start_http(struct server *s)
{
    const struct conf_server *cs = &s->conf.server;
    if (!cs->httpport)
        return 0;
    s->counters.started = time(NULL);
    s->pages = (struct scrape_source){.consoles = &s->consoles,
                                      .hub = &s->hub,
                                      .clients = &s->clients,
                                      .counters = &s->counters,
                                      .http = &s->http,
                                      .web = &s->web,
                                      .eventexec = &s->eventexec};
    struct httpd_builder b = {
        .step = scrape_step, .release = scrape_release, .upgrade = open_viewer, .ctx = &s->pages};
    s->http = httpd_start(s->loop, cs, &b);
    if (!s->http)
        log_error("out of memory starting HTTP on port %d", cs->httpport);
    return s->http ? 0 : -ENOMEM;
}

static void write_pidfile(struct server *s)
{
    char err[512], buf[32];
    if (!s->conf.server.pidfile)
        return;
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    logfile_mkdirs(s->conf.server.pidfile); /* conman creates its folders */
    if (file_write_atomic(s->conf.server.pidfile, buf, (size_t)n, 0644, err, sizeof(err)) < 0)
        log_warn("%s", err);
}

static void start_everything(struct server *s)
{
    start_signal(s, &s->sig_term, SIGTERM);
    start_signal(s, &s->sig_int, SIGINT);
    start_signal(s, &s->sig_hup, SIGHUP);
    start_signal(s, &s->sig_chld, SIGCHLD);
    uv_timer_init(s->loop, &s->stamp_timer);
    s->stamp_timer.data = s;
    if (s->conf.server.timestamp_min > 0)
        uv_timer_start(&s->stamp_timer, on_stamp,
                       server_next_mark_ms(wall_ms(s->loop), s->conf.server.timestamp_min), 0);
    for (size_t i = 0; i < s->consoles.n; i++)
        console_start_soon(s->consoles.v[i]);
}

int server_run(struct server_opts *opts, struct conf *conf)
{
    struct server *s = calloc(1, sizeof(*s));
    if (!s)
        return 1;
    s->opts = *opts;
    s->conf = *conf;
    memset(conf, 0, sizeof(*conf));
    s->port = opts->port ? opts->port : s->conf.server.port;
    if (!getcwd(s->cwd, sizeof(s->cwd)))
        snprintf(s->cwd, sizeof(s->cwd), "/");
    uv_loop_t loop;
    uv_loop_init(&loop);
    s->loop = &loop;
    console_hub_init(&s->hub, &loop);
    s->hub.settings = &s->conf.server;
    s->hub.conf_path = s->opts.conf_path;
    s->hub.cwd = s->cwd;
    s->hub.zero_logs = s->opts.zero_logs;
    s->hub.seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    s->hub.events = &s->events;
    s->events.listener = on_event;
    s->events.listener_arg = s;
    reset_init(&s->resets, &loop, &s->conf.server);
    eventexec_init(&s->eventexec, &loop, &s->conf.server);
    s->clients = (struct client_hub){
        .loop = &loop, .settings = &s->conf.server, .consoles = &s->consoles, .resets = &s->resets};
    memset(&s->web, 0, sizeof(s->web));
    s->web.clients = &s->clients;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file size limit fails the write (EFBIG), never the daemon */
    /* Orphaned grandchildren of process consoles become ours: reaped while
     * running (no zombies), and seen to be gone at exit. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    start_log_check(s);
    open_server_log(s); /* a failure is reported and retried, never fatal */
    start_logship(s);
    load_event_rules(s); /* before the consoles: each is made with its matcher */
    check_event_exec(s);
    uv_timer_init(&loop, &s->listen_retry);
    s->listen_retry.data = s;
    int status = 1;
    if (create_consoles(s) == 0 && start_http(s) == 0 && listen_or_retry(s) == 0) {
        tell_readiness(s);
        warn_unsupported(&s->conf.server);
        apply_limits(&s->conf.server);
        reserve_descriptors(s);
        write_pidfile(s);
        log_info("Starting conmand (conman-service) on port %d with %zu consoles", s->port,
                 s->consoles.n);
        start_everything(s);
        if (opts->ready_fd >= 0) {
            (void)!write(opts->ready_fd, "1", 1);
            close(opts->ready_fd);
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        status = 0;
    } else {
        destroy_consoles(s);
        if (s->http)
            httpd_stop(s->http);
        s->http = NULL;
        uv_close((uv_handle_t *)&s->listen_retry, NULL);
        uv_close((uv_handle_t *)&s->logcheck, NULL);
        console_hub_close(&s->hub);
        if (s->hub.ship)
            shipper_close(s->hub.ship);
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* finish closing handles */
    console_hub_release(&s->hub);
    if (s->hub.ship)
        shipper_release(s->hub.ship);
    reap_children(s);
    if (s->conf.server.pidfile && status == 0)
        unlink(s->conf.server.pidfile);
    uv_loop_close(&loop);
    log_info("Stopped conmand (pid %d)", (int)getpid());
    if (s->logfp) {
        log_set_output(stderr);
        fclose(s->logfp);
    }
    registry_release(&s->consoles);
    eventhub_release(&s->events); /* after the consoles: their matchers use the rules */
    strbuf_release(&s->eventjson);
    conf_release(&s->conf);
    free(s);
    return status;
}
