/* unix:PATH consoles: a stream socket to a local console server (a VM's
 * serial port, for one). While one waits to reconnect, the folder of its
 * socket is watched with inotify, so it connects as soon as the socket is
 * created instead of at the end of a backoff of up to a minute: a
 * restarted VM's first boot lines are not lost.
 *
 * The watches: one inotify instance per daemon, one watch per folder
 * shared by every console waiting in it (reference-counted, removed when
 * none waits), so 10,000 sockets in one folder cost one watch of the
 * per-user limit (fs.inotify.max_user_watches). A folder that does not
 * exist yet is waited for through its nearest existing parent, one level
 * at a time. Without inotify, or past the limit, consoles keep the
 * backoff. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/types.h"

static const struct console_ops unix_ops; /* defined at the end */

#define WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_MOVE_SELF | IN_ONLYDIR)
#define READS_PER_WAKE 8 /* inotify reads per poll callback: the loop moves on */

struct folder;

/* One console waiting for `name` to appear in a folder: its socket, or the
 * next missing directory on the way to it. */
struct wait {
    struct console *c;
    struct folder *f;
    char *name;
    bool is_socket;             /* name is the socket itself */
    struct wait *hnext;         /* unixwatch.waits chain */
    struct wait *fprev, *fnext; /* the folder's list */
};

struct folder {
    int wd; /* -1: the kernel dropped the watch (folder gone) */
    size_t refs;
    struct wait *waits;
    struct folder *hnext; /* unixwatch.folders chain, by wd */
};

struct unixwatch {
    void **slot; /* where the hub keeps this watcher */
    int fd;
    uv_poll_t poll;
    struct folder **folders; /* chained hash by wd */
    size_t nfolders, fcap;
    struct wait **waits; /* chained hash by (wd, name) */
    size_t nwaits, wcap;
    bool full_reported; /* the watch limit was hit (said once) */
};

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

static size_t hash_str(size_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u; /* FNV-1a */
    return h;
}

static size_t wait_hash(int wd, const char *name)
{
    return hash_str(1469598103934665603u ^ (size_t)(unsigned)wd, name);
}

/* Doubles a chained table when it holds as many entries as buckets. */
static bool grow(void ***tab, size_t *cap, size_t n, size_t (*key)(const void *),
                 void **(*link)(void *))
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 64;
    void **nt = calloc(ncap, sizeof(*nt));
    if (!nt)
        return n < *cap * 4; /* a longer chain still works */
    for (size_t i = 0; i < *cap; i++) {
        for (void *e = (*tab)[i], *next; e; e = next) {
            next = *link(e);
            size_t b = key(e) & (ncap - 1);
            *link(e) = nt[b];
            nt[b] = e;
        }
    }
    free(*tab);
    *tab = nt;
    *cap = ncap;
    return true;
}

static size_t folder_key(const void *e)
{
    return (size_t)(unsigned)((const struct folder *)e)->wd * 2654435761u;
}

static void **folder_link(void *e)
{
    return (void **)&((struct folder *)e)->hnext;
}

static size_t wait_key(const void *e)
{
    const struct wait *w = e;
    return wait_hash(w->f->wd, w->name);
}

static void **wait_link(void *e)
{
    return (void **)&((struct wait *)e)->hnext;
}

/* Unlinks `e` from the chain whose head is *head. */
static void chain_remove(void **head, void *e, void **(*link)(void *))
{
    for (void **pp = head; *pp; pp = link(*pp)) {
        if (*pp == e) {
            *pp = *link(e);
            return;
        }
    }
}

static struct folder *folder_by_wd(struct unixwatch *uw, int wd)
{
    if (!uw->fcap)
        return NULL;
    struct folder *f = uw->folders[(size_t)(unsigned)wd * 2654435761u & (uw->fcap - 1)];
    while (f && f->wd != wd)
        f = f->hnext;
    return f;
}

static void poll_closed(uv_handle_t *h)
{
    struct unixwatch *uw = h->data;
    close(uw->fd);
    free(uw->folders);
    free(uw->waits);
    free(uw);
}

static void on_inotify(uv_poll_t *p, int status, int events);

/* The hub's watcher, or NULL when it has none. */
static struct unixwatch *current(struct console_hub *h)
{
    void **slot = console_hub_type_state(h, &unix_ops);
    return slot ? *slot : NULL;
}

static struct unixwatch *watcher(struct console_hub *s)
{
    void **slot = console_hub_type_state(s, &unix_ops);
    if (!slot)
        return NULL;
    if (*slot)
        return *slot;
    struct unixwatch *uw = calloc(1, sizeof(*uw));
    if (!uw)
        return NULL;
    uw->slot = slot;
    uw->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (uw->fd < 0) {
        /* Debug only: each waiting console tries again. */
        log_debug("unix consoles: no inotify (%s): they reconnect by backoff only",
                  strerror(errno));
        free(uw);
        return NULL;
    }
    if (uv_poll_init(s->loop, &uw->poll, uw->fd) < 0) {
        close(uw->fd);
        free(uw);
        return NULL;
    }
    uw->poll.data = uw;
    uv_poll_start(&uw->poll, UV_READABLE, on_inotify);
    *slot = uw;
    return uw;
}

/* Drops the watcher once nothing waits (its fd is closed by the poll
 * handle's close callback, after this loop turn). */
static void watcher_done(struct unixwatch *uw)
{
    if (uw->nfolders)
        return;
    *uw->slot = NULL;
    uv_poll_stop(&uw->poll);
    uv_close((uv_handle_t *)&uw->poll, poll_closed);
}

/* Forgets the folder's watch (the kernel dropped it or will). */
static void folder_unhash(struct unixwatch *uw, struct folder *f)
{
    if (f->wd < 0)
        return;
    for (struct wait *w = f->waits; w; w = w->fnext)
        chain_remove((void **)&uw->waits[wait_key(w) & (uw->wcap - 1)], w, wait_link);
    chain_remove((void **)&uw->folders[folder_key(f) & (uw->fcap - 1)], f, folder_link);
    f->wd = -1;
}

static void wait_remove(struct unixwatch *uw, struct wait *w)
{
    struct folder *f = w->f;
    if (f->wd >= 0)
        chain_remove((void **)&uw->waits[wait_key(w) & (uw->wcap - 1)], w, wait_link);
    if (w->fprev)
        w->fprev->fnext = w->fnext;
    else
        f->waits = w->fnext;
    if (w->fnext)
        w->fnext->fprev = w->fprev;
    uw->nwaits--;
    w->c->priv = NULL;
    free(w->name);
    free(w);
    if (--f->refs == 0) {
        if (f->wd >= 0) {
            inotify_rm_watch(uw->fd, f->wd);
            folder_unhash(uw, f);
        }
        free(f);
        uw->nfolders--;
        watcher_done(uw);
    }
}

/* The folder watch for `dir` (shared: the kernel gives the same wd for the
 * same directory), or NULL with errno. */
static struct folder *folder_get(struct unixwatch *uw, const char *dir)
{
    int wd = inotify_add_watch(uw->fd, dir, WATCH_MASK);
    if (wd < 0)
        return NULL;
    struct folder *f = folder_by_wd(uw, wd);
    if (f)
        return f;
    if (!grow((void ***)&uw->folders, &uw->fcap, uw->nfolders, folder_key, folder_link) ||
        !(f = calloc(1, sizeof(*f)))) {
        inotify_rm_watch(uw->fd, wd);
        errno = ENOMEM;
        return NULL;
    }
    f->wd = wd;
    size_t b = folder_key(f) & (uw->fcap - 1);
    f->hnext = uw->folders[b];
    uw->folders[b] = f;
    uw->nfolders++;
    return f;
}

/* Absolute socket path of the console (a relative one is from where the
 * daemon started). */
static int socket_path(const struct console *c, char *out, size_t outlen)
{
    const char *path = c->cfg.dev + 5;
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return -ENAMETOOLONG; /* never connectable: nothing to wait for */
    int n = path[0] == '/' ? snprintf(out, outlen, "%s", path)
                           : snprintf(out, outlen, "%s/%s", c->hub->cwd, path);
    return n > 0 && (size_t)n < outlen ? 0 : -ENAMETOOLONG;
}

/* Splits `path` at its last '/' into dir (in place) and the name after it;
 * "/x" gives "/" and "x". */
static char *split_last(char *path)
{
    char *slash = strrchr(path, '/');
    if (!slash || !slash[1])
        return NULL;
    *slash = '\0';
    char *name = slash + 1;
    if (slash == path) {
        memmove(name + 1, name, strlen(name) + 1);
        path[0] = '/';
        path[1] = '\0';
        name++;
    }
    return name;
}

/* The deepest existing directory on the way to the socket (in `dir`) and
 * what is missing in it next (returned, inside `dir`'s buffer). */
static const char *nearest_dir(char *dir, bool *is_socket)
{
    char *name = split_last(dir);
    *is_socket = true;
    for (int depth = 0; name && depth < PATH_MAX / 2; depth++) {
        struct stat st;
        if (stat(dir, &st) == 0)
            return S_ISDIR(st.st_mode) ? name : NULL;
        if (errno != ENOENT || !strcmp(dir, "/"))
            return NULL;
        name = split_last(dir);
        *is_socket = false;
    }
    return NULL;
}

static bool exists_in(const char *dir, const char *name)
{
    char path[PATH_MAX + 256];
    struct stat st;
    snprintf(path, sizeof(path), "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);
    return lstat(path, &st) == 0;
}

static void report_no_watch(struct unixwatch *uw, const struct console *c, const char *dir)
{
    if (errno == ENOSPC && !uw->full_reported) {
        log_warn("unix consoles: inotify watch limit reached at \"%s\" (console [%s]; "
                 "fs.inotify.max_user_watches): consoles there reconnect by backoff only",
                 dir, c->cfg.name);
        uw->full_reported = true;
    } else if (errno != ENOSPC) {
        log_debug("Console [%s]: cannot watch \"%s\": %s", c->cfg.name, dir, strerror(errno));
    }
}

/* Starts waiting for the console's socket, or the next missing folder on
 * its way. Nothing to do when already waiting for the socket itself. */
static void wait_add(struct console *c)
{
    struct wait *w = c->priv;
    struct unixwatch *uw = current(c->hub);
    if (w && w->is_socket && w->f->wd >= 0)
        return;
    if (w)
        wait_remove(uw, w); /* a folder appeared or vanished: look again */
    char dir[PATH_MAX + 1]; /* split_last() may grow "/x" by one byte */
    bool is_socket;
    if (socket_path(c, dir, PATH_MAX) < 0)
        return;
    const char *name = nearest_dir(dir, &is_socket);
    if (!name || !(uw = watcher(c->hub)))
        return;
    bool existed = exists_in(dir, name);
    struct folder *f = folder_get(uw, dir);
    if (!f) {
        report_no_watch(uw, c, dir);
        watcher_done(uw);
        return;
    }
    w = calloc(1, sizeof(*w));
    if (w)
        w->name = strdup(name);
    if (!w || !w->name || !grow((void ***)&uw->waits, &uw->wcap, uw->nwaits, wait_key, wait_link)) {
        if (w)
            free(w->name);
        free(w);
        if (f->refs == 0) {
            inotify_rm_watch(uw->fd, f->wd);
            folder_unhash(uw, f);
            free(f);
            uw->nfolders--;
            watcher_done(uw);
        }
        return;
    }
    *w = (struct wait){.c = c, .f = f, .name = w->name, .is_socket = is_socket};
    size_t b = wait_key(w) & (uw->wcap - 1);
    w->hnext = uw->waits[b];
    uw->waits[b] = w;
    w->fnext = f->waits;
    if (f->waits)
        f->waits->fprev = w;
    f->waits = w;
    f->refs++;
    uw->nwaits++;
    c->priv = w;
    /* It may have appeared between the look and the watch. */
    if (exists_in(dir, name) && (!existed || !is_socket))
        console_wake(c);
}

static void unix_await(struct console *c, bool on)
{
    if (on)
        wait_add(c);
    else if (c->priv)
        wait_remove(current(c->hub), c->priv);
}

/* Wakes every console waiting in the folder (it went away, or events were
 * lost): each looks again on its next attempt. */
static void wake_folder(struct folder *f)
{
    for (struct wait *w = f->waits; w; w = w->fnext)
        console_wake(w->c);
}

static void wake_all(struct unixwatch *uw)
{
    for (size_t i = 0; i < uw->fcap; i++)
        for (struct folder *f = uw->folders[i]; f; f = f->hnext)
            wake_folder(f);
}

static void on_event(struct unixwatch *uw, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        wake_all(uw);
        return;
    }
    struct folder *f = folder_by_wd(uw, ev->wd);
    if (!f)
        return;
    if (ev->mask & (IN_IGNORED | IN_MOVE_SELF)) {
        if (ev->mask & IN_MOVE_SELF)
            inotify_rm_watch(uw->fd, f->wd);
        folder_unhash(uw, f); /* its waits look again when woken */
        wake_folder(f);
        return;
    }
    if (!ev->len || !uw->wcap)
        return;
    for (struct wait *w = uw->waits[wait_hash(ev->wd, ev->name) & (uw->wcap - 1)]; w; w = w->hnext)
        if (w->f == f && !strcmp(w->name, ev->name))
            console_wake(w->c);
}

static void on_inotify(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    struct unixwatch *uw = p->data;
    _Alignas(struct inotify_event) char buf[64 * 1024];
    for (int r = 0; r < READS_PER_WAKE && *uw->slot == uw; r++) {
        ssize_t n = read(uw->fd, buf, sizeof(buf));
        if (n <= 0)
            return; /* EAGAIN: drained */
        for (ssize_t i = 0; i < n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + i);
            on_event(uw, ev);
            i += (ssize_t)(sizeof(*ev) + ev->len);
        }
    }
}

static const struct console_ops unix_ops = {
    .connect = unix_open,
    .describe = unix_describe,
    .await_dev = unix_await,
};

static bool unix_recognise(const char *dev, bool is_chardev)
{
    (void)is_chardev;
    return !strncasecmp(dev, "unix:", 5);
}

static const char *unix_dev_id(const char *dev)
{
    return conf_basename(dev + 5);
}

const struct console_type console_type_unix = {
    .name = "unix",
    .recognise = unix_recognise,
    .dev_id = unix_dev_id,
    .ops = &unix_ops,
};
