/* Console log files, written the way conman writes them. */
#include "conmand/logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "conmand/proto.h"

int logfile_init(struct logfile *l, const char *name, const char *path,
                 const struct conf_logopts *opts)
{
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    l->opts = *opts;
    l->console = strdup(name);
    if (!l->console)
        return -ENOMEM;
    if (path && !(l->path = strdup(path))) {
        free(l->console);
        l->console = NULL;
        return -ENOMEM;
    }
    return 0;
}

size_t logfile_stamp(time_t now, char *out, size_t outlen)
{
    struct tm tm;
    localtime_r(&now, &tm);
    return strftime(out, outlen, "%Y-%m-%d %H:%M:%S ", &tm);
}

static size_t put_stamp(const struct conf_logopts *o, time_t now, char *q)
{
    return o->timestamp ? logfile_stamp(now, q, 32) : 0;
}

static size_t put_data(const struct conf_logopts *o, unsigned char c, char *q)
{
    size_t n = 0;
    if (!o->sanitize) {
        q[n++] = (char)c;
        return n;
    }
    int low = c & 0x7F;
    if (low < 0x20 || low == 0x7F) {
        q[n++] = (c & 0x80) ? '~' : '^';
        q[n++] = low == 0x7F ? '?' : (char)(low + '@');
    } else {
        if (c & 0x80)
            q[n++] = '`';
        q[n++] = (char)low;
    }
    return n;
}

size_t logfile_format(enum logfile_line *state, const struct conf_logopts *o,
                      const unsigned char *in, size_t len, char *out, time_t now)
{
    char *q = out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = in[i];
        if (c == '\r') {
            if (*state == LOGFILE_LINE_INIT)
                q += put_stamp(o, now, q);
            if (*state == LOGFILE_LINE_DATA || *state == LOGFILE_LINE_INIT)
                *state = LOGFILE_LINE_CR;
        } else if (c == '\n') {
            if (*state == LOGFILE_LINE_INIT || *state == LOGFILE_LINE_LF)
                q += put_stamp(o, now, q);
            *q++ = '\r';
            *q++ = '\n';
            *state = LOGFILE_LINE_LF;
        } else if (c == '\0' && (*state == LOGFILE_LINE_CR || *state == LOGFILE_LINE_LF)) {
            continue;
        } else {
            if (*state == LOGFILE_LINE_CR) {
                *q++ = '\r';
                *q++ = '\n';
            }
            if (*state != LOGFILE_LINE_DATA)
                q += put_stamp(o, now, q);
            *state = LOGFILE_LINE_DATA;
            q += put_data(o, c, q);
        }
    }
    return (size_t)(q - out);
}

static void report_failure(struct logfile *l, int err)
{
    if (!l->failing)
        log_error("console [%s]: cannot write log \"%s\": %s (dropping until it works again)",
                  l->console, l->path, strerror(err));
    l->failing = true;
}

/* Writes all of buf, or reports and drops it. */
static void write_all(struct logfile *l, const char *buf, size_t len)
{
    if (l->fd < 0 || len == 0)
        return;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(l->fd, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            report_failure(l, n < 0 ? errno : ENOSPC);
            l->dropped += len - off;
            return;
        }
        off += (size_t)n;
    }
    if (l->failing) {
        log_info("console [%s]: log \"%s\" writable again after dropping %llu bytes", l->console,
                 l->path, (unsigned long long)l->dropped);
        l->failing = false;
        l->dropped = 0;
    }
}

static int lock_file(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    return fcntl(fd, F_SETLK, &fl) < 0 ? -errno : 0;
}

int logfile_open(struct logfile *l, bool truncate, time_t now, char *err, size_t errlen)
{
    if (!l->path)
        return 0;
    logfile_close(l);
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC | (truncate ? O_TRUNC : 0);
    int fd = open(l->path, flags, S_IRUSR | S_IWUSR);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open log \"%s\" of console [%s]: %s", l->path, l->console,
                 strerror(e));
        return -e;
    }
    if (l->opts.lock) {
        int rc = lock_file(fd);
        if (rc < 0) {
            snprintf(err, errlen, "cannot lock log \"%s\" of console [%s]: %s", l->path, l->console,
                     strerror(-rc));
            close(fd);
            return rc;
        }
    }
    l->fd = fd;
    char when[64], text[512], msg[600];
    proto_long_time(now, when, sizeof(when));
    snprintf(text, sizeof(text), "Console [%s] log opened at %s", l->console, when);
    size_t n = proto_format_msg(msg, sizeof(msg), text);
    logfile_write_msg(l, msg, n);
    return 0;
}

void logfile_write_data(struct logfile *l, const void *buf, size_t len, time_t now)
{
    if (l->fd < 0)
        return;
    if (!l->opts.sanitize && !l->opts.timestamp) {
        write_all(l, buf, len);
        return;
    }
    char out[1024 * LOGFILE_EXPAND + 32];
    const unsigned char *p = buf;
    while (len > 0) {
        size_t chunk = len < 1024 ? len : 1024;
        size_t n = logfile_format(&l->line, &l->opts, p, chunk, out, now);
        write_all(l, out, n);
        p += chunk;
        len -= chunk;
    }
}

void logfile_write_msg(struct logfile *l, const char *msg, size_t len)
{
    write_all(l, msg, len);
    l->line = LOGFILE_LINE_INIT;
}

long logfile_tail(const struct logfile *l, char *buf, size_t len)
{
    if (!l->path)
        return -ENOENT;
    int fd = open(l->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    long rc = -1;
    if (fstat(fd, &st) == 0) {
        off_t start = st.st_size > (off_t)len ? st.st_size - (off_t)len : 0;
        ssize_t n = pread(fd, buf, (size_t)(st.st_size - start), start);
        rc = n < 0 ? -errno : n;
    } else {
        rc = -errno;
    }
    close(fd);
    return rc;
}

bool logfile_moved(const struct logfile *l)
{
    struct stat a, b;
    if (!l->path)
        return false;
    if (l->fd < 0 || fstat(l->fd, &a) < 0 || stat(l->path, &b) < 0)
        return true;
    return a.st_dev != b.st_dev || a.st_ino != b.st_ino;
}

void logfile_close(struct logfile *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

void logfile_release(struct logfile *l)
{
    logfile_close(l);
    free(l->path);
    free(l->console);
    l->path = l->console = NULL;
}
