/* inotify watches of the console log folders, for deletions. */
#include "conmand/consoles/logwatch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/log.h"

static struct logwatch_dir *dir_of_wd(struct logwatch *w, int wd)
{
    for (size_t i = 0; i < w->ndirs; i++)
        if (w->dirs[i].wd == wd)
            return &w->dirs[i];
    return NULL;
}

static void forget_dir(struct logwatch *w, struct logwatch_dir *d)
{
    free(d->dir);
    *d = w->dirs[--w->ndirs];
}

static void on_events(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct logwatch *w = h->data;
    /* Aligned for struct inotify_event; holds at least one whole event. */
    char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
        __attribute__((aligned(__alignof__(struct inotify_event))));
    if (status < 0)
        return;
    for (int rounds = 0; rounds < 64; rounds++) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof(*ev) + ev->len;
            struct logwatch_dir *d = dir_of_wd(w, ev->wd);
            if (ev->mask & IN_Q_OVERFLOW) {
                w->stale = true; /* events were lost: the periodic check looks */
                continue;
            }
            if (!d)
                continue;
            if (ev->mask & IN_IGNORED) {
                /* The folder went away (or was unmounted): its logs are
                 * found by the periodic check until it is watched again. */
                forget_dir(w, d);
                w->stale = true;
                continue;
            }
            if ((ev->mask & IN_DELETE) && ev->len) {
                char path[PATH_MAX];
                int len = snprintf(path, sizeof(path), "%s/%s", d->dir, ev->name);
                if (len > 0 && (size_t)len < sizeof(path))
                    w->deleted(w->ctx, path);
            }
        }
    }
}

void logwatch_init(struct logwatch *w, uv_loop_t *loop, logwatch_fn deleted, void *ctx)
{
    memset(w, 0, sizeof(*w));
    w->deleted = deleted;
    w->ctx = ctx;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        log_warn("inotify: %s: deleted console logs are looked for every few seconds",
                 strerror(errno));
        w->stale = true;
        return;
    }
    uv_poll_init(loop, &w->poll, w->fd);
    w->poll.data = w;
    uv_poll_start(&w->poll, UV_READABLE, on_events);
    uv_unref((uv_handle_t *)&w->poll); /* never what keeps the loop running */
    w->polling = true;
}

void logwatch_add(struct logwatch *w, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (w->fd < 0 || !slash) {
        w->stale = true; /* a name without a folder: the check looks */
        return;
    }
    size_t len = slash == path ? 1 : (size_t)(slash - path); /* "/x" is in "/" */
    for (size_t i = 0; i < w->ndirs; i++)
        if (strlen(w->dirs[i].dir) == len && !memcmp(w->dirs[i].dir, path, len))
            return;
    char *dir = strndup(path, len);
    if (!dir || (w->ndirs == w->cap && w->cap >= 4096)) {
        free(dir);
        w->stale = true;
        return;
    }
    int wd = inotify_add_watch(w->fd, dir, IN_DELETE | IN_ONLYDIR);
    if (wd < 0) {
        free(dir); /* ENOENT: not created yet; ENOSPC: the watch limit */
        w->stale = true;
        return;
    }
    if (w->ndirs == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 8;
        struct logwatch_dir *d = realloc(w->dirs, cap * sizeof(*d));
        if (!d) {
            inotify_rm_watch(w->fd, wd);
            free(dir);
            w->stale = true;
            return;
        }
        w->dirs = d;
        w->cap = cap;
    }
    /* The kernel gives the same wd for a folder watched twice (another
     * spelling of its path): keep one entry. */
    if (dir_of_wd(w, wd)) {
        free(dir);
        return;
    }
    w->dirs[w->ndirs++] = (struct logwatch_dir){wd, dir};
}

bool logwatch_complete(const struct logwatch *w)
{
    return w->fd >= 0 && !w->stale;
}

void logwatch_settle(struct logwatch *w)
{
    w->stale = w->fd < 0;
}

void logwatch_close(struct logwatch *w)
{
    if (w->polling)
        uv_close((uv_handle_t *)&w->poll, NULL);
    w->polling = false;
}

void logwatch_release(struct logwatch *w)
{
    for (size_t i = 0; i < w->ndirs; i++)
        free(w->dirs[i].dir);
    free(w->dirs);
    if (w->fd >= 0)
        close(w->fd);
    memset(w, 0, sizeof(*w));
    w->fd = -1;
}
