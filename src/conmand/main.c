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
#include "conmand/conf.h"
#include "conmand/server.h"

#define CONMAND_VERSION "0.1.0"

static void usage(const char *prog)
{
    printf("Usage: %s [OPTIONS]\n\n"
           "  -c FILE   Specify configuration. [%s]\n"
           "  -F        Run daemon in foreground.\n"
           "  -h        Display this help.\n"
           "  -k        Kill daemon.\n"
           "  -p PORT   Specify port number. [%d]\n"
           "  -q        Query daemon's pid.\n"
           "  -r        Re-open log files (SIGHUP to the running daemon).\n"
           "  -v        Be verbose.\n"
           "  -V        Display version information.\n"
           "  -z        Zero log files.\n",
           prog, CONF_DEFAULT_PATH, CONF_DEFAULT_PORT);
}

/* Reads the running daemon's pid from the configured pidfile. */
static pid_t read_pid(const struct conf *c, const char *conf_path)
{
    char err[512], *text;
    size_t len;
    if (!c->server.pidfile) {
        fprintf(stderr, "conmand: %s sets no SERVER pidfile: cannot find the daemon\n", conf_path);
        return -1;
    }
    if (file_read_all(c->server.pidfile, 64, &text, &len, err, sizeof(err)) < 0) {
        fprintf(stderr, "conmand: %s\n", err);
        return -1;
    }
    long pid = strtol(text, NULL, 10);
    free(text);
    if (pid <= 1) {
        fprintf(stderr, "conmand: pidfile \"%s\" holds no pid\n", c->server.pidfile);
        return -1;
    }
    return (pid_t)pid;
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
static int signal_daemon(const struct conf *c, const char *conf_path, int sig)
{
    pid_t pid = read_pid(c, conf_path);
    if (pid < 0)
        return 1;
    if (kill(pid, sig) < 0) {
        fprintf(stderr, "conmand: cannot signal pid %d: %s\n", (int)pid, strerror(errno));
        return 1;
    }
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

/* Detaches; the parent exits once the child is listening (or failed). */
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
    FILE *null = fopen("/dev/null", "r+");
    if (null) {
        dup2(fileno(null), 0);
        dup2(fileno(null), 1);
        dup2(fileno(null), 2); /* detached: SERVER logfile is where messages go */
        fclose(null);
    }
    o->ready_fd = fds[1];
    return 0;
}

int main(int argc, char **argv)
{
    struct server_opts o = {.conf_path = CONF_DEFAULT_PATH, .ready_fd = -1};
    bool kill_it = false, reopen = false, query = false;
    int opt;
    log_init("conmand", stderr, LOG_LEVEL_INFO);
    while ((opt = getopt(argc, argv, "c:FhkLp:qrvVz")) != -1) {
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
    struct conf conf;
    char err[1024];
    if (server_load_conf(o.conf_path, &conf, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    if (query) {
        pid_t pid = read_pid(&conf, o.conf_path);
        bool up = pid > 0 && running(pid);
        if (up)
            printf("%d\n", (int)pid);
        else if (pid > 0)
            fprintf(stderr, "conmand: pid %d from the pidfile is not running\n", (int)pid);
        conf_release(&conf);
        return up ? 0 : 1;
    }
    if (kill_it || reopen) {
        int rc = signal_daemon(&conf, o.conf_path, kill_it ? SIGTERM : SIGHUP);
        conf_release(&conf);
        return rc;
    }
    if (!o.foreground && daemonize(&o) < 0) {
        log_error("cannot detach: %s", strerror(errno));
        conf_release(&conf);
        return 1;
    }
    return server_run(&o, &conf);
}
