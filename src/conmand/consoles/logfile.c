/* Console log files, written the way conman writes them, in batches
 * through a small cache of open descriptors. */
#include "conmand/consoles/logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/log.h"
#include "conmand/consoles/notice.h"

/* The live file's size is now n (its bytes counted in the budget). */
static void set_size(struct logfile *l, uint64_t n)
{
    if (l->cache)
        l->cache->budget.stats.live_bytes += n - l->size; /* wraps back: unsigned */
    l->size = n;
}

static void grow(struct logfile *l, size_t n)
{
    l->logged += n;
    set_size(l, l->size + n);
}

/* The log's path is about to be freed: the budget forgets it. */
static void forget_live(struct logfile *l)
{
    if (l->scanned && l->cache)
        logbudget_live_remove(&l->cache->budget, l->path);
    l->scanned = false;
    l->norotate = false;
}

int logfile_init(struct logfile *l, struct logcache *cache, const char *name, const char *path,
                 const struct conf_logopts *opts)
{
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    l->cache = cache;
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

int logfile_set_path(struct logfile *l, const char *path)
{
    char *copy = NULL;
    if (path && !(copy = strdup(path)))
        return -ENOMEM;
    logfile_close(l); /* what is pending belongs to the old file */
    set_size(l, 0);
    forget_live(l);
    free(l->path);
    l->path = copy;
    return 0;
}

/* The stamp of the second last asked for: localtime_r and strftime cost
 * about a microsecond, and lines come thousands a second, most of them in
 * the same second. The daemon formats on its one loop thread. */
static struct {
    time_t t;
    size_t len;
    char text[32];
} stamp_cache = {.t = (time_t)-1};

size_t logfile_stamp(time_t now, char *out, size_t outlen)
{
    if (now != stamp_cache.t) {
        struct tm tm;
        localtime_r(&now, &tm);
        stamp_cache.len =
            strftime(stamp_cache.text, sizeof(stamp_cache.text), "%Y-%m-%d %H:%M:%S ", &tm);
        stamp_cache.t = now;
    }
    if (stamp_cache.len >= outlen)
        return 0; /* as strftime: nothing when it does not fit */
    memcpy(out, stamp_cache.text, stamp_cache.len + 1);
    return stamp_cache.len;
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
        if (*state == LOGFILE_LINE_DATA && !o->sanitize) {
            /* The bulk of a line goes out as it came, in one copy: the
             * byte-by-byte machine below is for line ends only. */
            const unsigned char *nl = memchr(in + i, '\n', len - i);
            size_t run = nl ? (size_t)(nl - (in + i)) : len - i;
            const unsigned char *cr = memchr(in + i, '\r', run);
            if (cr)
                run = (size_t)(cr - (in + i));
            memcpy(q, in + i, run);
            q += run;
            i += run;
            if (i == len)
                break;
        }
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

static const char *why(int err)
{
    return err == ENOLCK  ? "locked by another process"
           : err == ELOOP ? "it is a symbolic link (not followed)"
                          : strerror(err);
}

static void report_failure(struct logfile *l, int err)
{
    if (!l->failing)
        log_error("console [%s]: cannot write log \"%s\": %s (dropping until it works again)",
                  l->console, l->path, why(err));
    l->failing = true;
    l->fail_err = err;
}

/* Lost output: counted, for the marker line once writing works again. */
static void lose(struct logfile *l, int err, size_t len)
{
    report_failure(l, err);
    l->dropped += len;
    l->lost += len;
    if (l->cache)
        l->cache->write_errors++;
}

/* Writes as much of buf as the file takes; returns the count, short with
 * errno set when the write failed. */
static size_t put(int fd, const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            break;
        }
        off += (size_t)n;
    }
    return off;
}

size_t logfile_resume_msg(const char *console, uint64_t lost, int err, char *out, size_t outlen)
{
    char text[600];
    snprintf(text, sizeof(text),
             "Console [%s] log resumed: %llu bytes lost while it could not be "
             "written (%s)",
             console, (unsigned long long)lost, why(err));
    return notice_format(out, outlen, text);
}

static void recovered(struct logfile *l)
{
    log_info("console [%s]: log \"%s\" writable again after dropping %llu bytes", l->console,
             l->path, (unsigned long long)l->dropped);
    l->failing = false;
    l->dropped = 0;
}

/* Output was lost and the file takes output again: one marker line in it
 * (before what comes next) says how much is missing. False when the marker
 * itself does not fit yet. */
static bool resume(struct logfile *l)
{
    char msg[800];
    size_t n = logfile_resume_msg(l->console, l->dropped, l->fail_err, msg, sizeof(msg));
    size_t done = put(l->fd, msg, n);
    grow(l, done);
    if (done < n)
        return false;
    recovered(l);
    return true;
}

/* Writes all of buf, or reports and drops (counts) what did not fit. */
static void write_all(struct logfile *l, const char *buf, size_t len)
{
    if (l->fd < 0 || len == 0)
        return;
    if (l->failing && l->dropped && !resume(l)) {
        lose(l, errno, len);
        return;
    }
    size_t done = put(l->fd, buf, len);
    grow(l, done);
    if (done < len)
        lose(l, errno, len - done);
    else if (l->failing)
        recovered(l);
}

size_t logfile_parent_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash != path ? (size_t)(slash - path) : 0;
}

int logfile_mkdirs(const char *path)
{
    size_t n = logfile_parent_len(path);
    char dir[4096];
    if (n == 0 || n >= sizeof(dir))
        return n ? -ENAMETOOLONG : 0;
    memcpy(dir, path, n);
    dir[n] = '\0';
    for (char *p = dir + 1;; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
            if (end)
                return 0;
            *p = '/';
        }
    }
}

static int open_path(const char *path, int flags)
{
    int fd = open(path, flags, S_IRUSR | S_IWUSR);
    if (fd < 0 && errno == ENOENT) { /* its folder is missing (or was removed) */
        int rc = logfile_mkdirs(path);
        if (rc < 0)
            return rc;
        fd = open(path, flags, S_IRUSR | S_IWUSR);
    }
    return fd < 0 ? -errno : fd;
}

static void cache_remove(struct logfile *l)
{
    if (!l->cached)
        return;
    struct logcache *lc = l->cache;
    struct logfile *last = lc->open[--lc->nopen];
    lc->open[l->open_idx] = last;
    last->open_idx = l->open_idx;
    l->cached = false;
}

static void drop_fd(struct logfile *l)
{
    cache_remove(l);
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    l->held = false;
}

static uint32_t next_rnd(struct logcache *lc)
{
    uint32_t x = lc->evict_rnd ? lc->evict_rnd : 2463534242u; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return lc->evict_rnd = x;
}

/* Keeps l's fd open for the next batch, closing a random other one when the
 * cache is full (or cannot grow). */
static void cache_add(struct logfile *l)
{
    struct logcache *lc = l->cache;
    if (lc->nopen == lc->openalloc && lc->openalloc < lc->cap) {
        size_t want = lc->openalloc ? lc->openalloc * 2 : LOGCACHE_FDS;
        want = want < lc->cap ? want : lc->cap;
        struct logfile **grown = realloc(lc->open, want * sizeof(*grown));
        if (grown) {
            lc->open = grown;
            lc->openalloc = want;
        }
    }
    if (lc->nopen >= lc->cap || lc->nopen == lc->openalloc) {
        if (!lc->nopen)
            return; /* no room at all: the log stays uncached */
        drop_fd(lc->open[next_rnd(lc) % lc->nopen]);
    }
    l->open_idx = lc->nopen;
    lc->open[lc->nopen++] = l;
    l->cached = true;
}

static int lock_file(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    return fcntl(fd, F_SETLK, &fl) < 0 ? -errno : 0;
}

/* Read-write so a replay can pread the open descriptor: opening and
 * closing a second one would drop this process's record lock. Never
 * through a symlink: one planted at the path would aim a root daemon's
 * writes at any file. */
#define LOG_FLAGS (O_RDWR | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void write_header(struct logfile *l, time_t now)
{
    char when[64], text[512], msg[600];
    notice_long_time(now, when, sizeof(when));
    snprintf(text, sizeof(text), "Console [%s] log opened at %s", l->console, when);
    size_t n = notice_format(msg, sizeof(msg), text);
    /* Straight out (10,000 opens must not fill buffers), before any
     * marker of output lost on the way here. */
    size_t done = put(l->fd, msg, n);
    grow(l, done);
    if (done < n)
        report_failure(l, errno);
    l->line = LOGFILE_LINE_INIT;
}

/* First open of a log with a cache: its rotated files left by an earlier
 * run count in the budget from the start. */
static void learn_rotated(struct logfile *l)
{
    if (l->scanned || !l->cache || !l->cache->settings)
        return;
    l->scanned = true;
    if (logbudget_live_add(&l->cache->budget, l->path) < 0)
        log_error("console [%s]: out of memory registering its log", l->console);
    if (logbudget_scan(&l->cache->budget, l->path, CONF_LOGKEEP_MAX) < 0)
        log_error("console [%s]: out of memory learning its rotated logs", l->console);
}

/* Opens the file and makes it the log's descriptor. A file other than the
 * one last written (new, or recreated after its folder was removed) gets
 * the header first, as a reopen on SIGHUP would give it. With "lock" every
 * (re)open takes the lock again, so output is only ever written under it.
 * Throttled after a failure: 10,000 logs in a folder that cannot be
 * created must not cost 10,000 opens per batch. */
static int open_file(struct logfile *l, bool truncate, time_t when)
{
    uint64_t now = mono_ms();
    if (l->failing && l->fd < 0 && now < l->retry_at)
        return -l->fail_err;
    l->retry_at = now + LOGFILE_RETRY_SEC * 1000;
    int fd = open_path(l->path, LOG_FLAGS | (truncate ? O_TRUNC : 0));
    if (fd < 0)
        return fd;
    struct stat st;
    int rc = fstat(fd, &st) < 0 ? -errno : 0;
    if (rc == 0 && l->opts.lock && (rc = lock_file(fd)) < 0)
        rc = rc == -EAGAIN || rc == -EACCES ? -ENOLCK : rc;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    l->fd = fd;
    if (l->cache)
        logwatch_add(&l->cache->watch, l->path);
    l->held = !l->cache;
    if (!l->held)
        cache_add(l);
    l->held = l->held || !l->cached;
    set_size(l, (uint64_t)st.st_size);
    learn_rotated(l);
    /* An empty file is a new one even when it got the old inode number. */
    if (!l->opened || st.st_dev != l->dev || st.st_ino != l->ino || st.st_size == 0) {
        l->dev = st.st_dev;
        l->ino = st.st_ino;
        l->opened = true;
        write_header(l, when);
    }
    return 0;
}

/* A log's descriptor for the next batch. */
static int ensure_fd(struct logfile *l)
{
    if (l->fd >= 0)
        return 0;
    return open_file(l, false, time(NULL));
}

static void unlist(struct logfile *l)
{
    if (!l->dirty)
        return;
    if (l->prev)
        l->prev->next = l->next;
    else
        l->cache->dirty = l->next;
    if (l->next)
        l->next->prev = l->prev;
    l->prev = l->next = NULL;
    l->dirty = false;
}

static void put_buf(struct logfile *l)
{
    struct logcache *lc = l->cache;
    if (lc && l->bufcap == LOGFILE_BUF_MIN && lc->nspare < LOGCACHE_SPARE)
        lc->spare[lc->nspare++] = l->buf;
    else
        free(l->buf);
    l->buf = NULL;
    l->buflen = l->bufcap = 0;
}

/* After a batch: past logsize the log is rotated (at this batch boundary,
 * so no byte is lost or written twice; a line may end in the next file when
 * the batch ended mid-line), and past logbudget the oldest rotated files
 * go. */
static void after_batch(struct logfile *l)
{
    struct logcache *lc = l->cache;
    if (!lc || !lc->settings || !*lc->settings)
        return;
    const struct conf_server *s = *lc->settings;
    if (s->logsize && l->size >= s->logsize && l->fd >= 0 && !l->failing && l->path &&
        !l->norotate) {
        drop_fd(l);
        if (logbudget_rotate(&lc->budget, l->path, s->logkeep) == -EEXIST)
            l->norotate = true; /* said once; until its path changes */
        set_size(l, 0);
        l->generation++;
        l->retry_at = 0;
        int rc = open_file(l, false, time(NULL));
        if (rc < 0)
            report_failure(l, -rc);
    }
    if (s->logbudget && logbudget_in_use(&lc->budget) > s->logbudget)
        logbudget_enforce(&lc->budget, s->logbudget);
}

void logfile_flush(struct logfile *l)
{
    unlist(l);
    if (!l->buf)
        return;
    int rc = l->buflen ? ensure_fd(l) : 0;
    if (rc < 0) {
        lose(l, -rc, l->buflen);
    } else {
        write_all(l, l->buf, l->buflen);
    }
    put_buf(l);
    after_batch(l);
}

static void on_flush(uv_timer_t *t)
{
    struct logcache *lc = t->data;
    lc->armed = false;
    logcache_flush(lc);
}

/* Queued output goes out with the next batch (or now without a cache). */
static void mark_dirty(struct logfile *l)
{
    struct logcache *lc = l->cache;
    if (!lc || lc->stopped) {
        logfile_flush(l);
        return;
    }
    if (l->dirty)
        return;
    l->dirty = true;
    l->prev = NULL;
    l->next = lc->dirty;
    if (lc->dirty)
        lc->dirty->prev = l;
    lc->dirty = l;
    if (!lc->armed) {
        lc->armed = true;
        uv_timer_start(&lc->timer, on_flush, LOGCACHE_FLUSH_MS, 0);
    }
}

/* Room for `need` more bytes at the end of the buffer: grown, or flushed
 * when full. NULL when out of memory (the bytes are dropped). */
static char *room_for(struct logfile *l, size_t need)
{
    if (l->buf && l->bufcap - l->buflen >= need)
        return l->buf + l->buflen;
    size_t cap = l->bufcap ? l->bufcap : LOGFILE_BUF_MIN;
    while (cap < l->buflen + need && cap < LOGFILE_BUF)
        cap *= 2;
    if (l->buflen + need > cap) {
        logfile_flush(l);
        cap = LOGFILE_BUF_MIN;
        while (cap < need && cap < LOGFILE_BUF)
            cap *= 2;
    }
    struct logcache *lc = l->cache;
    if (!l->buf && cap == LOGFILE_BUF_MIN && lc && lc->nspare) {
        l->buf = lc->spare[--lc->nspare];
    } else if (cap != l->bufcap) {
        char *grown = realloc(l->buf, cap);
        if (!grown)
            return NULL;
        l->buf = grown;
    }
    l->bufcap = cap;
    return l->buf + l->buflen;
}

/* A log that failed to open (or to lock) keeps taking output: it is
 * counted as lost until an open works. */
static bool writable(const struct logfile *l)
{
    return l->path && (l->fd >= 0 || l->opened || l->active);
}

static void append(struct logfile *l, const char *data, size_t len)
{
    while (len > 0) {
        size_t k = len < LOGFILE_BUF ? len : LOGFILE_BUF;
        char *q = room_for(l, k);
        if (!q)
            return;
        memcpy(q, data, k);
        l->buflen += k;
        data += k;
        len -= k;
    }
}

int logfile_open(struct logfile *l, bool truncate, time_t now, char *err, size_t errlen)
{
    if (!l->path)
        return 0;
    logfile_flush(l); /* what came before belongs to the old file */
    drop_fd(l);
    bool was_failing = l->failing;
    int was_err = l->fail_err;
    l->opened = false;
    l->active = true;
    l->retry_at = 0; /* an explicit (re)open is never throttled */
    int rc = open_file(l, truncate, now);
    if (rc == 0) {
        if (l->failing && l->dropped && !resume(l)) /* the marker did not fit */
            report_failure(l, errno);
        return 0;
    }
    err[0] = '\0';
    if (!was_failing || was_err != -rc) /* reported once, not on every SIGHUP */
        snprintf(err, errlen, "cannot %s log \"%s\" of console [%s]: %s",
                 rc == -ENOLCK ? "lock" : "open", l->path, l->console, why(-rc));
    l->failing = true;
    l->fail_err = -rc;
    return rc;
}

/* Output for the file: kept for the next batch while it fits in the log's
 * buffer; a burst bigger than that goes to the file at once, after what was
 * pending, in one write (a boot storm costs a write per read, not one per
 * LOGFILE_BUF). */
static void emit(struct logfile *l, const char *data, size_t len, const struct logfile_tap *tap)
{
    if (l->buflen + len > LOGFILE_BUF)
        logfile_flush(l); /* may rotate: the offsets below are the new file's */
    if (tap && len)
        tap->fn(tap->ctx, data, len, l->size + l->buflen);
    if (len <= LOGFILE_BUF) {
        append(l, data, len);
        return;
    }
    int rc = ensure_fd(l);
    if (rc < 0) {
        lose(l, -rc, len);
    } else {
        write_all(l, data, len);
        after_batch(l);
    }
}

/* The cache's formatting scratch (one loop thread), or NULL. */
static char *scratch_of(struct logcache *lc)
{
    if (lc && !lc->scratch)
        lc->scratch = malloc(LOGCACHE_SCRATCH);
    return lc ? lc->scratch : NULL;
}

void logfile_write_data(struct logfile *l, const void *buf, size_t len, time_t now)
{
    logfile_write_tapped(l, buf, len, now, NULL);
}

void logfile_write_tapped(struct logfile *l, const void *buf, size_t len, time_t now,
                          const struct logfile_tap *tap)
{
    if (!writable(l) || len == 0)
        return;
    if (!l->opts.sanitize && !l->opts.timestamp) {
        emit(l, buf, len, tap);
        mark_dirty(l);
        return;
    }
    const unsigned char *p = buf;
    char *out = scratch_of(l->cache);
    if (out) {
        /* Formatted whole into the scratch (as much as its worst case
         * allows at a time), then handed on in one piece. */
        size_t used = 0;
        while (len > 0) {
            size_t chunk = (LOGCACHE_SCRATCH - used) / LOGFILE_EXPAND;
            if (chunk == 0) {
                emit(l, out, used, tap);
                used = 0;
                continue;
            }
            chunk = chunk < len ? chunk : len;
            used += logfile_format(&l->line, &l->opts, p, chunk, out + used, now);
            p += chunk;
            len -= chunk;
        }
        emit(l, out, used, tap);
        mark_dirty(l);
        return;
    }
    /* No cache (or no memory for its scratch): on the stack, a KiB at a
     * time, so the buffer grows by what the output really takes. */
    char small[1024 * LOGFILE_EXPAND + 32];
    while (len > 0) {
        size_t chunk = len < 1024 ? len : 1024;
        emit(l, small, logfile_format(&l->line, &l->opts, p, chunk, small, now), tap);
        p += chunk;
        len -= chunk;
    }
    mark_dirty(l);
}

void logfile_write_msg(struct logfile *l, const char *msg, size_t len)
{
    if (!writable(l))
        return;
    append(l, msg, len);
    l->line = LOGFILE_LINE_INIT;
    mark_dirty(l);
}

/* The end of the file rotated last (console.<name>.1), up to `len` bytes
 * into `buf`: a tail asked for just after a rotation reaches into it.
 * Returns the count (0 when there is none). */
static size_t rotated_tail(const char *path, char *buf, size_t len)
{
    char older[PATH_MAX];
    if (!len || logbudget_name(path, 1, older, sizeof(older)) < 0)
        return 0;
    int fd = open(older, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    ssize_t n = 0;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        off_t start = st.st_size > (off_t)len ? st.st_size - (off_t)len : 0;
        n = pread(fd, buf, (size_t)(st.st_size - start), start);
    }
    if (fd >= 0)
        close(fd);
    return n > 0 ? (size_t)n : 0;
}

long logfile_tail(struct logfile *l, char *buf, size_t len)
{
    if (!l->path)
        return -ENOENT;
    logfile_flush(l);
    if (!l->opened && l->fd < 0)
        return -ENOENT;
    int rc = ensure_fd(l);
    if (rc < 0)
        return rc;
    struct stat st;
    if (fstat(l->fd, &st) < 0)
        return -errno;
    off_t start = st.st_size > (off_t)len ? st.st_size - (off_t)len : 0;
    size_t older = start ? 0 : rotated_tail(l->path, buf, len - (size_t)st.st_size);
    ssize_t n = pread(l->fd, buf + older, (size_t)(st.st_size - start), start);
    return n < 0 ? -errno : (long)(older + (size_t)n);
}

bool logfile_moved(const struct logfile *l)
{
    struct stat st;
    if (!l->path)
        return false;
    if (!l->opened || stat(l->path, &st) < 0)
        return true;
    return st.st_dev != l->dev || st.st_ino != l->ino;
}

void logfile_close(struct logfile *l)
{
    logfile_flush(l);
    drop_fd(l);
    l->opened = false;
    l->active = false;
}

void logfile_release(struct logfile *l)
{
    logfile_close(l);
    set_size(l, 0);
    forget_live(l);
    free(l->path);
    free(l->console);
    l->path = l->console = NULL;
}

/* A cached descriptor whose file was deleted: reopened by path (a new
 * file, with its header). Returns true when it was. */
static bool reopen_if_deleted(struct logfile *l)
{
    struct stat st;
    if (fstat(l->fd, &st) == 0 && st.st_nlink > 0)
        return false;
    drop_fd(l);
    l->retry_at = 0;
    int rc = open_file(l, false, time(NULL));
    if (rc < 0)
        report_failure(l, -rc);
    return true;
}

size_t logcache_check(struct logcache *lc)
{
    size_t reopened = 0;
    /* Downwards: a reopened log goes to the end, among those seen. */
    for (size_t i = lc->nopen; i-- > 0;)
        if (i < lc->nopen)
            reopened += reopen_if_deleted(lc->open[i]);
    return reopened;
}

/* The watch of the log's folder saw `path` deleted. */
static void on_deleted(void *ctx, const char *path)
{
    struct logcache *lc = ctx;
    for (size_t i = lc->nopen; i-- > 0;) {
        if (i >= lc->nopen || strcmp(lc->open[i]->path, path))
            continue;
        if (reopen_if_deleted(lc->open[i]))
            log_info("reopened console log %s: its file was deleted", path);
    }
}

/* Without a complete watch, every open log is looked at; then their
 * folders are watched again (one that still cannot be keeps it so). */
static void on_check(uv_timer_t *t)
{
    struct logcache *lc = t->data;
    if (logwatch_complete(&lc->watch))
        return;
    size_t n = logcache_check(lc);
    if (n)
        log_info("reopened %zu console log%s whose file was deleted", n, n == 1 ? "" : "s");
    logwatch_settle(&lc->watch);
    for (size_t i = 0; i < lc->nopen; i++)
        logwatch_add(&lc->watch, lc->open[i]->path);
}

void logcache_init(struct logcache *lc, uv_loop_t *loop)
{
    memset(lc, 0, sizeof(*lc));
    lc->cap = LOGCACHE_FDS;
    uv_timer_init(loop, &lc->timer);
    lc->timer.data = lc;
    uv_timer_init(loop, &lc->check);
    lc->check.data = lc;
    uv_timer_start(&lc->check, on_check, LOGCACHE_CHECK_MS, LOGCACHE_CHECK_MS);
    uv_unref((uv_handle_t *)&lc->check); /* never what keeps the loop running */
    logwatch_init(&lc->watch, loop, on_deleted, lc);
}

void logcache_set_capacity(struct logcache *lc, size_t n)
{
    lc->cap = n > LOGCACHE_FDS ? n : LOGCACHE_FDS;
    while (lc->nopen > lc->cap)
        drop_fd(lc->open[lc->nopen - 1]);
}

void logcache_flush(struct logcache *lc)
{
    while (lc->dirty)
        logfile_flush(lc->dirty);
}

void logcache_stop(struct logcache *lc)
{
    logcache_flush(lc);
    lc->stopped = true;
    uv_close((uv_handle_t *)&lc->timer, NULL);
    uv_close((uv_handle_t *)&lc->check, NULL);
    logwatch_close(&lc->watch);
}

void logcache_release(struct logcache *lc)
{
    logcache_flush(lc);
    while (lc->nopen)
        drop_fd(lc->open[lc->nopen - 1]);
    free(lc->open);
    lc->open = NULL;
    lc->openalloc = 0;
    while (lc->nspare)
        free(lc->spare[--lc->nspare]);
    free(lc->scratch);
    lc->scratch = NULL;
    logbudget_release(&lc->budget);
    logwatch_release(&lc->watch);
}

int logfile_resolve(const char *logdir, const char *cwd, const char *name, char *out, size_t outlen)
{
    int n;
    if (name[0] == '/')
        n = snprintf(out, outlen, "%s", name);
    else if (logdir && logdir[0] == '/')
        n = snprintf(out, outlen, "%s/%s", logdir, name);
    else if (logdir)
        n = snprintf(out, outlen, "%s/%s/%s", cwd, logdir, name);
    else
        n = snprintf(out, outlen, "%s/%s", cwd, name);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}
