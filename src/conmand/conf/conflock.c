/* conmand's lock on its configuration file (see conflock.h for why it is
 * built this way). */
#include "conmand/conf/conflock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileutil.h"
#include "common/log.h"

static struct {
    int fd; /* -1: none */
    bool locked;
    dev_t dev;
    ino_t ino;
    char path[4096];
} held = {.fd = -1};

static struct flock whole(short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    return fl;
}

static int remember(int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    held.fd = fd;
    held.dev = st.st_dev;
    held.ino = st.st_ino;
    snprintf(held.path, sizeof(held.path), "%s", path);
    return 0;
}

int conflock_open(const char *path, char *err, size_t errlen)
{
    conflock_close();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = fd < 0 ? -errno : remember(fd, path);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "cannot open \"%s\": %s", path, strerror(-rc));
    }
    return rc;
}

static pid_t holder_of(int fd)
{
    /* Who would stop a write lock: every other conmand's read lock. */
    struct flock fl = whole(F_WRLCK);
    if (fcntl(fd, F_GETLK, &fl) < 0)
        return -errno;
    return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}

pid_t conflock_holder(void)
{
    return held.fd < 0 ? -EBADF : holder_of(held.fd);
}

/* A read lock (the file is open read-only); exclusive use is checked
 * afterwards, as conman does, so two daemons racing both refuse. */
static int lock_fd(int fd, const char *path, char *err, size_t errlen)
{
    struct flock fl = whole(F_RDLCK);
    if (fcntl(fd, F_SETLK, &fl) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot lock configuration \"%s\": %s", path, strerror(e));
        return -e;
    }
    pid_t pid = holder_of(fd);
    if (pid > 0) {
        snprintf(err, errlen, "Configuration \"%s\" in use by pid %d", path, (int)pid);
        return -EBUSY;
    }
    return pid < 0 ? (int)pid : 0;
}

int conflock_take(char *err, size_t errlen)
{
    if (held.fd < 0) {
        snprintf(err, errlen, "configuration not open");
        return -EBADF;
    }
    int rc = lock_fd(held.fd, held.path, err, errlen);
    held.locked = rc == 0;
    return rc;
}

/* Reads the whole of `fd` from offset 0 (the descriptor stays open). */
static int read_fd(int fd, const char *path, size_t max, char **out, size_t *out_len, char *err,
                   size_t errlen)
{
    if (lseek(fd, 0, SEEK_SET) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
        return -e;
    }
    return file_read_fd(fd, path, max, out, out_len, err, errlen);
}

/* The path now names another file (an editor or a ConfigMap replaced it):
 * lock that one and let the old go. */
static int move_lock(const char *path, size_t max, char **out, size_t *out_len, char *err,
                     size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open \"%s\": %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_dev == held.dev && st.st_ino == held.ino) {
        /* Replaced back between our stat and open: the same file after all.
         * Closing this second descriptor drops the lock; take it again. */
        int rc = read_fd(held.fd, path, max, out, out_len, err, errlen);
        close(fd);
        struct flock fl = whole(F_RDLCK);
        (void)fcntl(held.fd, F_SETLK, &fl);
        return rc;
    }
    int rc = read_fd(fd, path, max, out, out_len, err, errlen);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    char why[512];
    int lrc = lock_fd(fd, path, why, sizeof(why));
    if (lrc < 0)
        log_warn("%s (after the file was replaced)", why);
    close(held.fd); /* drops the old file's lock only */
    remember(fd, path);
    held.locked = lrc == 0 || lrc == -EBUSY; /* F_SETLK itself succeeded */
    return 0;
}

int conflock_read(const char *path, size_t max, char **out, size_t *out_len, char *err,
                  size_t errlen)
{
    struct stat st;
    if (held.fd < 0)
        return file_read_all(path, max, out, out_len, err, errlen);
    if (stat(path, &st) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open \"%s\": %s", path, strerror(e));
        return -e;
    }
    if (st.st_dev == held.dev && st.st_ino == held.ino)
        return read_fd(held.fd, path, max, out, out_len, err, errlen);
    if (!held.locked) { /* not the daemon yet: nothing to keep */
        char why[512];
        int rc = conflock_open(path, why, sizeof(why));
        if (rc < 0) {
            snprintf(err, errlen, "%s", why);
            return rc;
        }
        return read_fd(held.fd, path, max, out, out_len, err, errlen);
    }
    return move_lock(path, max, out, out_len, err, errlen);
}

void conflock_close(void)
{
    if (held.fd >= 0)
        close(held.fd);
    held.fd = -1;
    held.locked = false;
}
