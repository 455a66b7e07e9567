/* minlog: the reference "minimal logger" of the boot-storm benchmark
 * (bench/storm.py, issue 22 item 4). It connects to every console listed,
 * and on each wake-up does one read of a ready console and one append of
 * what it got to that console's file: no parsing, no timestamps, no
 * buffering, no reconnecting. What it spends on a storm is the floor a real
 * console logger is measured against.
 *
 *   minlog LOGDIR LISTFILE
 *
 * LISTFILE has one console a line, "NAME HOST:PORT" (TCP, IPv4 numeric) or
 * "NAME unix:PATH"; NAME's output goes to LOGDIR/console.NAME. It runs
 * until a signal ends it; files are appended with write(2) at once, so
 * nothing is lost when it is killed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define FD_RESERVE 16 /* stdio, epoll, the list file, and one log opened to append */
#define READ_SIZE 65536

/* One console: its connection and its log file; the epoll data points here.
 * log is -1 for a console over the descriptor budget: its file is opened
 * for each append (see open_all). */
struct console {
    int sock;
    int log;
    char path[];
};

/* Connects a blocking socket to "HOST:PORT" or "unix:PATH", then makes it
 * non-blocking. Returns the socket or -errno. */
static int connect_dev(const char *dev)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (strncmp(dev, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        if (strlen(dev + 5) >= sizeof(un->sun_path))
            return -ENAMETOOLONG;
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, dev + 5);
        len = sizeof(*un);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        char host[64];
        const char *colon = strrchr(dev, ':');
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if (!colon || (size_t)(colon - dev) >= sizeof(host) || *end || port <= 0 || port > 65535)
            return -EINVAL;
        memcpy(host, dev, (size_t)(colon - dev));
        host[colon - dev] = '\0';
        in->sin_family = AF_INET;
        in->sin_port = htons((unsigned short)port);
        if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
            return -EINVAL;
        len = sizeof(*in);
    }
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (connect(s, (struct sockaddr *)&ss, len) < 0 || fcntl(s, F_SETFL, O_NONBLOCK) < 0) {
        int err = errno;
        close(s);
        return -err;
    }
    return s;
}

/* Opens the console's log and connection and adds it to the epoll set.
 * Returns 0 or -errno with msg filled. */
static int console_open(struct console *c, int ep, const char *name, const char *dev,
                        bool keep_log_open, char *msg, size_t msglen)
{
    c->log = open(c->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (c->log < 0) {
        snprintf(msg, msglen, "cannot open %s: %s", c->path, strerror(errno));
        return -errno;
    }
    if (!keep_log_open) {
        close(c->log);
        c->log = -1;
    }
    c->sock = connect_dev(dev);
    if (c->sock < 0) {
        snprintf(msg, msglen, "console %s: cannot connect to %s: %s", name, dev,
                 strerror(-c->sock));
        return c->sock;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->sock, &ev) < 0) {
        snprintf(msg, msglen, "console %s: epoll_ctl: %s", name, strerror(errno));
        return -errno;
    }
    return 0;
}

/* One read of a ready console, appended whole to its file. Returns 0, 1 when
 * the console closed (its descriptors are then closed), or -errno when the
 * log cannot be written. */
static int console_drain(struct console *c, char *buf)
{
    ssize_t n = read(c->sock, buf, READ_SIZE);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) { /* end of file, or the connection reset: this console is done */
        close(c->sock);
        if (c->log >= 0)
            close(c->log);
        c->sock = c->log = -1;
        return 1;
    }
    int fd = c->log >= 0 ? c->log : open(c->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    for (ssize_t done = 0; done < n && rc == 0;) {
        ssize_t w = write(fd, buf + done, (size_t)(n - done));
        if (w < 0 && errno != EINTR)
            rc = -errno;
        done += w > 0 ? w : 0;
    }
    if (fd != c->log)
        close(fd);
    return rc;
}

static long count_lines(FILE *f)
{
    long n = 0;
    for (int ch; (ch = getc(f)) != EOF;)
        n += ch == '\n';
    rewind(f);
    return n;
}

/* Reads LISTFILE and opens every console in it, each allocated on its own
 * (the epoll set points at it; main frees it when the console closes).
 * Every console needs its socket; the descriptors left under the open-file
 * limit keep log files open, and the last consoles (the few over it: 10,000
 * consoles and their logs are 20,000 descriptors, the hard limit here) open
 * theirs for each append. Returns how many, or -1 with the reason printed. */
static long open_all(const char *logdir, const char *listfile, int ep)
{
    FILE *f = fopen(listfile, "r");
    if (!f) {
        fprintf(stderr, "minlog: cannot read %s: %s\n", listfile, strerror(errno));
        return -1;
    }
    struct rlimit rl;
    long lines = count_lines(f);
    long log_budget = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                          ? (long)rl.rlim_cur - lines - FD_RESERVE
                          : lines;
    long n = 0, lineno = 0;
    char line[PATH_MAX + 256], name[256], dev[PATH_MAX], msg[PATH_MAX + 512];
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (sscanf(line, "%255s %4095s", name, dev) != 2) {
            fprintf(stderr, "minlog: %s:%ld: want 'NAME HOST:PORT' or 'NAME unix:PATH'\n",
                    listfile, lineno);
            n = -1;
            break;
        }
        if (strchr(name, '/')) {
            fprintf(stderr, "minlog: %s:%ld: console name '%s' cannot name a file\n", listfile,
                    lineno, name);
            n = -1;
            break;
        }
        size_t pathlen = strlen(logdir) + strlen("/console.") + strlen(name) + 1;
        struct console *c = malloc(sizeof(*c) + pathlen);
        if (!c) {
            fprintf(stderr, "minlog: out of memory at %ld consoles\n", n);
            n = -1;
            break;
        }
        snprintf(c->path, pathlen, "%s/console.%s", logdir, name);
        if (console_open(c, ep, name, dev, n < log_budget, msg, sizeof(msg)) < 0) {
            fprintf(stderr, "minlog: %s\n", msg);
            n = -1;
            break;
        }
        n++;
    }
    fclose(f);
    return n;
}

/* 10,000 consoles need 20,000 descriptors: take the whole hard limit. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: minlog LOGDIR LISTFILE\n");
        return 2;
    }
    raise_nofile();
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("minlog: epoll_create1");
        return 1;
    }
    long open = open_all(argv[1], argv[2], ep);
    if (open < 0)
        return 1;
    fprintf(stderr, "minlog: %ld consoles connected\n", open);
    static char buf[READ_SIZE];
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR) {
            perror("minlog: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct console *c = events[i].data.ptr;
            int rc = console_drain(c, buf);
            if (rc < 0) {
                fprintf(stderr, "minlog: %s\n", strerror(-rc));
                return 1;
            }
            if (rc == 1) {
                free(c);
                fprintf(stderr, "minlog: %ld consoles connected\n", --open);
            }
        }
    }
}
