/* unix:PATH consoles: a stream socket to a local console server. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conmand/console.h"

static int unix_open(struct console *c, bool *connecting, char *err, size_t errlen)
{
    const char *path = c->cfg.dev + 5;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path) || !*path) {
        snprintf(err, errlen, "Console [%s]: bad socket path in dev \"%s\"", c->cfg.name,
                 c->cfg.dev);
        return -EINVAL;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    *connecting = false;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        if (e == EINPROGRESS || e == EAGAIN) {
            *connecting = true;
            return fd;
        }
        close(fd);
        snprintf(err, errlen, "Console [%s]: cannot connect to \"%s\": %s", c->cfg.name, path,
                 strerror(e));
        return -e;
    }
    return fd;
}

static void unix_describe(const struct console *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "\"%s\"", c->cfg.dev + 5);
}

const struct console_ops console_unix_ops = {
    .type = "unix",
    .open = unix_open,
    .describe = unix_describe,
};
