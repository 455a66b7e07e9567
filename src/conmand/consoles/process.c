/* Process consoles: dev="program args" runs in its own session on a pty,
 * with a blocking stdin (Debian's conmand leaks O_NONBLOCK to the child, and
 * e.g. cat then dies with EAGAIN). A program without a '/' is looked up in
 * SERVER execpath, else (like one with a relative path) in the directory the
 * daemon started in, as conman does. Reaped by the server's SIGCHLD
 * handler. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "common/childproc.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/registry.h"
#include "conmand/consoles/types.h"

#define PROC_MAX_ARGS 64

static int open_pty(int *master, char *slave, size_t slavelen)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return -errno;
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, slave, slavelen) != 0) {
        int e = errno;
        close(m);
        return -e;
    }
    *master = m;
    return 0;
}

/* In the child: new session, the pty slave as controlling terminal and
 * stdio (raw, blocking), then exec. Never returns. */
static void exec_child(const char *slave, char **argv)
{
    setsid();
    int fd = open(slave, O_RDWR);
    if (fd < 0)
        _exit(127);
    ioctl(fd, TIOCSCTTY, 0);
    struct termios tio;
    if (tcgetattr(fd, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(fd, TCSANOW, &tio);
    }
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
    childproc_close_inherited();
    childproc_default_signals();
    execv(argv[0], argv);
    _exit(127);
}

/* The first directory of the colon-separated `execpath` holding `prog`. */
static int search_execpath(const char *execpath, const char *prog, char *out, size_t outlen)
{
    for (const char *d = execpath; d && *d;) {
        size_t len = strcspn(d, ":");
        int n = snprintf(out, outlen, "%.*s/%s", (int)len, d, prog);
        if (len && n > 0 && (size_t)n < outlen && childproc_runnable(out) == 0)
            return 0;
        d += len + (d[len] == ':');
    }
    return -ENOENT;
}

static int process_resolve(const char *prog, const char *execpath, const char *cwd, char *out,
                           size_t outlen)
{
    int n;
    if (!strchr(prog, '/') && search_execpath(execpath, prog, out, outlen) == 0)
        return 0;
    if (prog[0] == '/')
        n = snprintf(out, outlen, "%s", prog);
    else
        n = snprintf(out, outlen, "%s/%s", cwd, prog);
    if (n < 0 || (size_t)n >= outlen)
        return -ENAMETOOLONG;
    return childproc_runnable(out);
}

static int process_open(struct console *c, bool *connecting, char *err, size_t errlen)
{
    char buf[4096], slave[128], prog[4096];
    char *argv[PROC_MAX_ARGS];
    int master = -1;
    *connecting = false;
    int argc = conf_split_args(c->cfg.dev, buf, sizeof(buf), argv, PROC_MAX_ARGS);
    if (argc <= 0) {
        snprintf(err, errlen, "Console [%s]: dev \"%s\" names no program", c->cfg.name, c->cfg.dev);
        return -EINVAL;
    }
    int rc = process_resolve(argv[0], c->hub->settings->execpath, c->hub->cwd, prog, sizeof(prog));
    if (rc < 0) {
        snprintf(err, errlen, "Console [%s]: cannot execute \"%s\"%s: %s", c->cfg.name, argv[0],
                 strchr(argv[0], '/') ? "" : " (searched SERVER execpath and the start folder)",
                 strerror(-rc));
        return rc;
    }
    argv[0] = prog;
    rc = open_pty(&master, slave, sizeof(slave));
    if (rc < 0) {
        snprintf(err, errlen, "Console [%s]: cannot open a pty: %s", c->cfg.name, strerror(-rc));
        return rc;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(master);
        snprintf(err, errlen, "Console [%s]: fork failed: %s", c->cfg.name, strerror(e));
        return -e;
    }
    if (pid == 0)
        exec_child(slave, argv);
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    c->pid = pid;
    return master;
}

static void process_close(struct console *c)
{
    if (c->pid > 0)
        kill(-c->pid, SIGTERM);
    c->pid = 0;
}

static void process_describe(const struct console *c, char *out, size_t outlen)
{
    char buf[4096];
    char *argv[PROC_MAX_ARGS];
    const char *prog = c->cfg.dev;
    if (conf_split_args(c->cfg.dev, buf, sizeof(buf), argv, PROC_MAX_ARGS) > 0)
        prog = basename(argv[0]);
    if (c->pid > 0)
        snprintf(out, outlen, "\"%s\" (pid %d)", prog, (int)c->pid);
    else
        snprintf(out, outlen, "\"%s\"", prog);
}

static const struct console_ops process_ops = {
    .connect = process_open,
    .disconnect = process_close,
    .describe = process_describe,
};

/* A program: an absolute path (not a character device), or a word without
 * a ':' found on SERVER execpath. */
static bool process_recognise(const char *dev, bool is_chardev)
{
    if (dev[0] == '/')
        return !is_chardev;
    return !memchr(dev, ':', strcspn(dev, " \t"));
}

/* The console whose child `pid` was, told that it exited. */
static bool process_child_reaped(const struct console_registry *consoles, pid_t pid, int status)
{
    for (size_t i = 0; i < consoles->n; i++) {
        struct console *c = consoles->v[i];
        if (c->ops == &process_ops && c->pid == pid) {
            console_child_exited(c, status);
            return true;
        }
    }
    return false;
}

const struct console_type console_type_process = {
    .name = "process",
    .recognise = process_recognise,
    .ops = &process_ops,
    .child_reaped = process_child_reaped,
};
