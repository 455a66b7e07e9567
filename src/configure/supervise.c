/* Process supervision for configure_conman, written to be PID 1: no signal
 * handlers (signals are blocked and taken with sigtimedwait), and every
 * child is reaped, not only the one it started. */
#include "configure/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static sigset_t handled;
static sigset_t original;

int supervise_init(void)
{
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &handled, &original) < 0)
        return -errno;
    return 0;
}

int supervise_wait_signal(long timeout_ms)
{
    if (timeout_ms < 0)
        timeout_ms = 0;
    struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    for (;;) {
        int sig = sigtimedwait(&handled, NULL, &ts);
        if (sig > 0)
            return sig;
        if (errno == EAGAIN)
            return 0;
        if (errno != EINTR)
            return 0;
    }
}

static int spawn_attrs(posix_spawnattr_t *attr)
{
    sigset_t dflt;
    sigfillset(&dflt);
    int rc = posix_spawnattr_init(attr);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(attr, &original);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(attr, &dflt);
    if (rc == 0)
        rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    return rc;
}

static pid_t spawn_with(char *const argv[], posix_spawn_file_actions_t *fa, char *err,
                        size_t errlen)
{
    posix_spawnattr_t attr;
    pid_t pid = -1;
    int rc = spawn_attrs(&attr);
    if (rc == 0)
        rc = posix_spawnp(&pid, argv[0], fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot start: %s", argv[0], strerror(rc));
        return -rc;
    }
    return pid;
}

pid_t supervise_spawn(char *const argv[], char *err, size_t errlen)
{
    return spawn_with(argv, NULL, err, errlen);
}

pid_t supervise_reap(int *status)
{
    for (;;) {
        pid_t pid = waitpid(-1, status, WNOHANG);
        if (pid >= 0)
            return pid;
        if (errno != EINTR)
            return 0; /* ECHILD: nothing left */
    }
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits until `pid` is reaped or `deadline` passes; reaps others on the way. */
static bool wait_until(pid_t pid, double deadline, int *status)
{
    for (;;) {
        int st;
        pid_t got;
        while ((got = supervise_reap(&st)) > 0)
            if (got == pid) {
                *status = st;
                return true;
            }
        double left = deadline - now_sec();
        if (left <= 0)
            return false;
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        long ms = (long)(left * 1000) + 1;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        sigtimedwait(&chld, NULL, &ts);
    }
}

int supervise_stop(pid_t pid, int grace_sec, int *status)
{
    kill(pid, SIGTERM);
    if (wait_until(pid, now_sec() + grace_sec, status))
        return 0;
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    return 1;
}

static int read_bounded(int fd, double deadline, char *out, size_t outlen)
{
    size_t len = 0;
    for (;;) {
        int ms = (int)((deadline - now_sec()) * 1000);
        if (ms <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms) <= 0)
            break;
        char buf[512];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        size_t keep = (size_t)n < outlen - 1 - len ? (size_t)n : outlen - 1 - len;
        memcpy(out + len, buf, keep);
        len += keep;
    }
    out[len] = '\0';
    return 0;
}

int supervise_capture(char *const argv[], int timeout_sec, char *out, size_t outlen)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char err[256];
    pid_t pid = spawn_with(argv, &fa, err, sizeof(err));
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return (int)pid;
    }
    double deadline = now_sec() + timeout_sec;
    read_bounded(fds[0], deadline, out, outlen);
    close(fds[0]);
    int status;
    if (!wait_until(pid, deadline, &status)) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    return 0;
}

void supervise_describe(int status, char *buf, size_t buflen)
{
    if (WIFEXITED(status))
        snprintf(buf, buflen, "exited with code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, buflen, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, buflen, "stopped with status 0x%x", status);
}

unsigned supervise_restart_delay(double ran_sec, unsigned *backoff_sec)
{
    if (*backoff_sec < 1)
        *backoff_sec = 1;
    if (ran_sec < 10) {
        unsigned delay = *backoff_sec;
        *backoff_sec = *backoff_sec * 2 > 30 ? 30 : *backoff_sec * 2;
        return delay;
    }
    if (ran_sec >= 60)
        *backoff_sec = 1;
    return 0;
}
