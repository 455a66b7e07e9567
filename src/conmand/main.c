/* conmand: command line as conman's daemon, then the event loop. */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fileutil.h"
#include "common/log.h"
#include "common/numparse.h"
#include "conmand/conf/conf.h"
#include "conmand/conf/conflock.h"
#include "conmand/server.h"

#define CONMAND_VERSION "0.1.0"

static void usage(const char *prog)
{
    printf("Usage: %s [OPTIONS]\n\n"
           "  -c FILE   Specify configuration. [%s]\n"
           "  -F        Run daemon in foreground.\n"
           "  -h        Display this help.\n"
           "  -k        Kill daemon.\n"
           "  -L        Display license information.\n"
           "  -p PORT   Specify port number. [%d]\n"
           "  -P FILE   Specify PID file.\n"
           "  -q        Query daemon's pid.\n"
           "  -r        Re-open log files (SIGHUP to the running daemon).\n"
           "  -v        Be verbose.\n"
           "  -V        Display version information.\n"
           "  -z        Zero log files.\n",
           prog, CONF_DEFAULT_PATH, CONF_DEFAULT_PORT);
}

/* The pid in the pidfile, or 0 (none, unreadable, no pid in it). */
static pid_t pidfile_pid(const char *pidfile)
{
    char err[512], *text;
    size_t len;
    if (!pidfile || file_read_all(pidfile, 64, &text, &len, err, sizeof(err)) < 0)
        return 0;
    long pid = strtol(text, NULL, 10);
    free(text);
    return pid > 1 && pid <= 0x7fffffff ? (pid_t)pid : 0;
}

static void not_active(const struct conf *c, const char *conf_path)
{
    if (c->server.pidfile)
        fprintf(stderr,
                "conmand: Configuration \"%s\" does not appear to be active (nothing holds its "
                "lock; pidfile \"%s\" names no running daemon)\n",
                conf_path, c->server.pidfile);
    else
        fprintf(stderr,
                "conmand: Configuration \"%s\" does not appear to be active (nothing holds its "
                "lock; no pidfile)\n",
                conf_path);
}

/* The daemon running this configuration: the holder of the file's lock,
 * else (the file was replaced since it started) the pidfile's, as conman.
 * Returns the pid or 0 with the reason on stderr. */
static pid_t find_daemon(const struct conf *c, const char *conf_path)
{
    pid_t pid = conflock_holder();
    if (pid <= 0)
        pid = pidfile_pid(c->server.pidfile);
    if (pid <= 0)
        not_active(c, conf_path);
    return pid;
}

/* True while `pid` runs (a zombie, not yet reaped by its parent, is gone). */
static bool running(pid_t pid)
{
    char path[64], buf[256];
    if (kill(pid, 0) < 0)
        return false;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}

/* -k and -r: signal the daemon; -k waits (bounded) for it to go. */
static int signal_daemon(const struct conf *c, const char *conf_path, int sig, bool verbose)
{
    pid_t pid = find_daemon(c, conf_path);
    if (pid <= 0)
        return 1;
    if (kill(pid, sig) < 0) {
        if (errno == ESRCH)
            not_active(c, conf_path);
        else
            fprintf(stderr, "conmand: Configuration \"%s\" (pid %d) cannot be sent signal=%d: %s\n",
                    conf_path, (int)pid, sig, strerror(errno));
        return 1;
    }
    if (verbose)
        fprintf(stderr, "Configuration \"%s\" (pid %d) %s signal=%d\n", conf_path, (int)pid,
                sig == SIGTERM ? "terminated on" : "reconfigured on", sig);
    for (int i = 0; sig == SIGTERM && i < 200 && running(pid); i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (sig == SIGTERM && running(pid)) {
        fprintf(stderr, "conmand: pid %d still running after 10 s\n", (int)pid);
        return 1;
    }
    return 0;
}

/* Detaches; the parent exits once the child is listening (or failed).
 * Returns in the daemon with stdio still attached (detach_stdio() after),
 * so an error before it is running reaches the terminal. */
static int daemonize(struct server_opts *o)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0) {
        char b;
        close(fds[1]);
        ssize_t n = read(fds[0], &b, 1);
        _exit(n == 1 ? 0 : 1);
    }
    close(fds[0]);
    setsid();
    if (fork() > 0)
        _exit(0);
    umask(022);
    o->ready_fd = fds[1];
    return 0;
}

static void detach_stdio(void)
{
    FILE *null = fopen("/dev/null", "r+");
    if (null) {
        dup2(fileno(null), 0);
        dup2(fileno(null), 1);
        dup2(fileno(null), 2); /* detached: SERVER logfile is where messages go */
        fclose(null);
    }
}

/* -P and SERVER pidfile name a path from where conmand started: the daemon
 * may change directory (coredumpdir) before it writes or removes it. */
static int absolute_pidfile(struct conf *c, const char *cli)
{
    const char *p = cli ? cli : c->server.pidfile;
    char cwd[4096] = "";
    if (!p)
        return 0;
    if (p[0] != '/' && !getcwd(cwd, sizeof(cwd))) {
        int e = errno;
        log_error("cannot resolve pidfile \"%s\": %s", p, strerror(e));
        return -e;
    }
    size_t len = strlen(cwd) + strlen(p) + 2;
    char *abs = malloc(len);
    if (!abs)
        return -ENOMEM;
    snprintf(abs, len, "%s%s%s", cwd, *cwd ? "/" : "", p);
    free(c->server.pidfile);
    c->server.pidfile = abs;
    return 0;
}

/* The daemon's own hold on the configuration (it must be taken in the
 * process that runs: fcntl locks do not pass through fork()). */
static int hold_configuration(void)
{
    char err[4200];
    if (conflock_take(err, sizeof(err)) < 0) {
        log_error("%s", err);
        return -1;
    }
    return 0;
}

/* -q: the pid of the daemon on this configuration. */
static int query_daemon(const struct conf *c, const char *conf_path)
{
    pid_t pid = find_daemon(c, conf_path);
    bool up = pid > 0 && running(pid);
    if (up)
        printf("%d\n", (int)pid);
    else if (pid > 0)
        not_active(c, conf_path);
    return up ? 0 : 1;
}

/* Opens and reads the configuration, then either signals (`sig` 0 for -q,
 * SIGTERM, SIGHUP) the daemon running it or becomes that daemon. */
static int run(struct server_opts *o, const char *pidfile, int sig)
{
    struct conf conf;
    char err[4200];
    if (conflock_open(o->conf_path, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    pid_t holder = conflock_holder();
    if (sig < 0 && holder > 0) {
        log_error("Configuration \"%s\" in use by pid %d", o->conf_path, (int)holder);
        return 1;
    }
    if (server_load_conf(o->conf_path, &conf, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    int rc = absolute_pidfile(&conf, pidfile);
    if (rc == 0 && sig >= 0) {
        rc = sig == 0 ? query_daemon(&conf, o->conf_path)
                      : signal_daemon(&conf, o->conf_path, sig, o->verbose);
        conf_release(&conf);
        return rc;
    }
    if (rc == 0 && !o->foreground && daemonize(o) < 0)
        log_error("cannot detach: %s", strerror(errno));
    else if (rc == 0 && hold_configuration() == 0) {
        if (!o->foreground)
            detach_stdio();
        return server_run(o, &conf);
    }
    conf_release(&conf);
    return 1;
}

int main(int argc, char **argv)
{
    struct server_opts o = {.conf_path = CONF_DEFAULT_PATH, .ready_fd = -1};
    bool kill_it = false, reopen = false, query = false;
    const char *pidfile = NULL;
    int opt;
    log_init("conmand", stderr, LOG_LEVEL_INFO);
    while ((opt = getopt(argc, argv, "c:FhkLp:P:qrvVz")) != -1) {
        switch (opt) {
        case 'c':
            o.conf_path = optarg;
            break;
        case 'F':
            o.foreground = true;
            break;
        case 'h':
            usage(argv[0]);
            return 0;
        case 'k':
            kill_it = true;
            break;
        case 'L':
            printf("conmand (conman-service): MIT License\n");
            return 0;
        case 'p':
            if (numparse_int(optarg, 1, 65535, &o.port) < 0) {
                fprintf(stderr, "conmand: invalid port \"%s\" for -p\n", optarg);
                return 2;
            }
            break;
        case 'P':
            pidfile = o.pidfile = optarg;
            break;
        case 'q':
            query = true;
            break;
        case 'r':
            reopen = true;
            break;
        case 'v':
            o.verbose = true;
            break;
        case 'V':
            printf("conmand (conman-service) %s\n", CONMAND_VERSION);
            return 0;
        case 'z':
            o.zero_logs = true;
            break;
        default:
            usage(argv[0]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "conmand: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (o.verbose)
        log_set_level(LOG_LEVEL_DEBUG);
    return run(&o, pidfile, query ? 0 : kill_it ? SIGTERM : reopen ? SIGHUP : -1);
}
