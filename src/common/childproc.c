/* A forked child's preparation before exec. */
#include "common/childproc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

void childproc_close_inherited(void)
{
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return;
    long max = sysconf(_SC_OPEN_MAX); /* kernels before 5.11 */
    for (int fd = 3; fd < max && fd < 65536; fd++)
        close(fd);
}

void childproc_default_signals(void)
{
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

void childproc_detach(int in_fd, bool keep_stderr)
{
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (in_fd >= 0)
        dup2(in_fd, 0);
    else if (null >= 0)
        dup2(null, 0);
    if (null >= 0) {
        dup2(null, 1);
        if (!keep_stderr)
            dup2(null, 2);
    }
    childproc_close_inherited();
    childproc_default_signals();
}

int childproc_runnable(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EACCES;
    return access(path, X_OK) < 0 ? -errno : 0;
}
