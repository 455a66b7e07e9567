/* One console's log file: created 0600 (parent directories 0755) with a
 * header, conman's line-ending, sanitize and timestamp processing, replay of
 * the tail, reopen on SIGHUP. Never opened through a symlink planted at its
 * path (O_NOFOLLOW). A failing disk or a file that cannot be opened is
 * reported once, its output counted as lost, and retried (an open at most
 * every LOGFILE_RETRY_SEC); when it works again one marker line in the log
 * says how many bytes are missing. A file deleted under an open descriptor
 * (its folder removed) is noticed by a periodic check and recreated.
 *
 * Output is buffered per console and written in batches by one shared
 * logcache: one global timer flushes every dirty log, and only a small LRU
 * set of log descriptors stays open, so 10,000 consoles do not need 10,000
 * log descriptors. With logopts "lock" the write lock is taken at open
 * (a log locked elsewhere is reported and not written, as conman does) and
 * again with every reopen for a batch, so output is only written under the
 * lock; between batches of an evicted log the lock is not held. */
#ifndef CONMAND_CONSOLES_LOGFILE_H
#define CONMAND_CONSOLES_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <uv.h>

#include "conmand/consoles/logwatch.h"

#include "conmand/conf/conf.h"
#include "conmand/consoles/logbudget.h"

/* Line state of conman's newline state machine. */
enum logfile_line { LOGFILE_LINE_INIT, LOGFILE_LINE_DATA, LOGFILE_LINE_CR, LOGFILE_LINE_LF };

/* Worst-case output bytes per input byte of logfile_format(). */
#define LOGFILE_EXPAND 24

#define LOGFILE_BUF_MIN 512 /* a pending-output buffer starts this small */
/* It grows to this, then is written out at once: the most a console's
 * unwritten log output holds, so a storm of 10,000 consoles costs at most
 * 10,000 times this (80 MB), not the whole storm; 8 KiB a write is still
 * few system calls. */
#define LOGFILE_BUF (8 * 1024)
#define LOGCACHE_FDS 256              /* log descriptors kept open between batches, at least */
#define LOGCACHE_FLUSH_MS 200         /* longest wait from console output to disk */
#define LOGCACHE_SPARE 1024           /* idle small buffers kept for reuse */
#define LOGCACHE_SCRATCH (256 * 1024) /* one read of a console, formatted */
#define LOGCACHE_CHECK_MS 2000        /* open logs checked for deletion this often */
#define LOGFILE_RETRY_SEC 2           /* a log that cannot be opened is retried this often */

struct logfile;

/* Shared by every log of a server. */
struct logcache {
    uv_timer_t timer;
    uv_timer_t check;      /* LOGCACHE_CHECK_MS: cached descriptors of deleted files,
                            * while `watch` is incomplete */
    struct logwatch watch; /* folders of open logs, for deletions */
    bool armed;
    struct logfile *dirty; /* doubly linked list of logs with pending output */
    struct logfile **open; /* logs whose descriptor is kept, in no order */
    size_t nopen, openalloc;
    size_t cap;                  /* at most this many kept (logcache_set_capacity) */
    uint32_t evict_rnd;          /* xorshift state picking the one to close */
    char *scratch;               /* LOGCACHE_SCRATCH bytes: a read formatted whole */
    char *spare[LOGCACHE_SPARE]; /* LOGFILE_BUF_MIN bytes each */
    size_t nspare;
    bool stopped; /* timer closed: write through */
    /* Live SERVER settings (logsize, logkeep, logbudget): points at the
     * hub's settings pointer; NULL: no rotation, no budget. */
    const struct conf_server *const *settings;
    struct logbudget budget; /* rotated files, bytes in use, counters */
    uint64_t write_errors;   /* failed log opens and writes, all consoles (/metrics) */
};

struct logfile {
    char *path; /* owned; NULL: not logged */
    char *console;
    struct conf_logopts opts;
    struct logcache *cache; /* NULL: write through on every call */
    int fd;                 /* -1 when not open */
    bool held;              /* fd kept outside the cache (no cache) */
    bool cached;            /* in the cache's open[] */
    size_t open_idx;        /* where */
    char *buf;              /* pending output; NULL when there is none */
    size_t buflen, bufcap;
    struct logfile *prev, *next; /* dirty list */
    bool dirty;
    dev_t dev; /* the file logfile_open() opened, for logfile_moved() */
    ino_t ino;
    bool opened; /* dev/ino name the file written to (its header is in it) */
    bool active; /* logfile_open() called: output is kept (or counted lost) */
    enum logfile_line line;
    bool failing;        /* last open or write failed; reported once */
    int fail_err;        /* its errno, for the marker line */
    uint64_t dropped;    /* bytes lost while failing */
    uint64_t retry_at;   /* CLOCK_MONOTONIC ms: no open attempt before */
    uint64_t size;       /* bytes of the live file: its fstat at open plus writes */
    uint64_t generation; /* rotations by conmand so far: console.<name>.<k> is the file
                          * that was live when this was k less */
    uint64_t logged;     /* bytes written, over every file it had (/metrics) */
    uint64_t lost;       /* bytes lost, over its life (dropped resets at a marker) */
    bool scanned;        /* its rotated files learnt, its path live (budget) */
    bool norotate;       /* a rotated name clashes with another live log */
};

/* Sets up the shared cache on `loop`. */
void logcache_init(struct logcache *lc, uv_loop_t *loop);

/* Keeps up to `n` log descriptors open between batches (at least
 * LOGCACHE_FDS), closing ones beyond it. A log whose descriptor stays open
 * costs one write per batch; one that was closed costs an open, a lock, a
 * stat and a close more. When the cache is full a random one is closed:
 * consoles that write once a second in the same order every second would
 * make the least recently used always the next one needed. */
void logcache_set_capacity(struct logcache *lc, size_t n);

/* Writes out every pending log now. */
void logcache_flush(struct logcache *lc);

/* Flushes and closes the timer (the loop must run once more to finish
 * closing); later writes go straight to disk. */
void logcache_stop(struct logcache *lc);

/* Closes the cached descriptors and frees the spare buffers; after every
 * log using the cache was released. */
void logcache_release(struct logcache *lc);

/* Sets up (does not open) the log of console `name` at `path` (owned copy;
 * NULL: no log). `cache` may be NULL (write through). Returns 0 or
 * -ENOMEM. */
int logfile_init(struct logfile *l, struct logcache *cache, const char *name, const char *path,
                 const struct conf_logopts *opts);

/* Points the log at another file (NULL: none), flushing and closing the
 * old one; logfile_open() opens the new one. Returns 0 or -ENOMEM (then
 * nothing changed). */
int logfile_set_path(struct logfile *l, const char *path);

/* Creates the missing directories above the file `path`, 0755 as conman
 * does (mkdir -p of its parent). Returns 0 or -errno. */
int logfile_mkdirs(const char *path);

/* Pure: the absolute path of log name `name` relative to `logdir` (NULL:
 * none), itself relative to `cwd` when not absolute, as conman resolves
 * them. Returns 0 or -ENAMETOOLONG. */
int logfile_resolve(const char *logdir, const char *cwd, const char *name, char *out,
                    size_t outlen);

/* Opens (or reopens) the file 0600 for appending, optionally truncating,
 * creating missing parent directories 0755, refusing a symlink at the path,
 * takes the write lock if opts.lock, writes the "log opened" header.
 * Returns 0 or -errno with a message naming the file; the message is empty
 * when the same failure was already reported. On failure the log stays
 * active: output is counted as lost and the open retried with later
 * batches. */
int logfile_open(struct logfile *l, bool truncate, time_t now, char *err, size_t errlen);

/* Console data, processed per opts. */
void logfile_write_data(struct logfile *l, const void *buf, size_t len, time_t now);

/* Who sees console bytes as they go into the log (after conman's line and
 * timestamp processing), with the offset of the first of them in the live
 * file: console events match what is logged, and point at it. */
struct logfile_tap {
    void (*fn)(void *ctx, const char *buf, size_t len, uint64_t offset);
    void *ctx;
};

/* logfile_write_data(), shown to `tap` (NULL: nobody). */
void logfile_write_tapped(struct logfile *l, const void *buf, size_t len, time_t now,
                          const struct logfile_tap *tap);

/* An informational message, written as is; resets the line state. */
void logfile_write_msg(struct logfile *l, const char *msg, size_t len);

/* Writes this log's pending output now. */
void logfile_flush(struct logfile *l);

/* Flushes, then copies up to `len` bytes from the end of the log into
 * `buf`: the live file's, after the end of the one rotated last when the
 * live file holds fewer. Returns the count or -errno. */
long logfile_tail(struct logfile *l, char *buf, size_t len);

/* True when the path no longer names the file logfile_open() opened
 * (rotated away, deleted) or it never opened: a reopen is due. */
bool logfile_moved(const struct logfile *l);

/* Flushes and closes the descriptor. */
void logfile_close(struct logfile *l);
void logfile_release(struct logfile *l);

/* Pure: processes `len` bytes of console output into `out` (at least
 * len * LOGFILE_EXPAND + 32 bytes) per conman's rules: CR/LF coalesced into
 * CR LF, a lone LF or CR completed, timestamps after line ends, control and
 * 8-bit bytes made printable when sanitizing. Returns the output length. */
size_t logfile_format(enum logfile_line *state, const struct conf_logopts *opts,
                      const unsigned char *in, size_t len, char *out, time_t now);

/* "YYYY-MM-DD HH:MM:SS " in local time; returns its length (20). */
size_t logfile_stamp(time_t now, char *out, size_t outlen);

/* Cached descriptors whose file was deleted (st_nlink 0) are reopened,
 * which recreates the file and its folders; the rest are left alone.
 * Returns how many were reopened. Run every LOGCACHE_CHECK_MS. */
size_t logcache_check(struct logcache *lc);

/* Pure: the marker line written into a log when writing works again after
 * `lost` bytes were dropped for `err`. Returns its length. */
size_t logfile_resume_msg(const char *console, uint64_t lost, int err, char *out, size_t outlen);

/* Pure: the length of the longest proper prefix of `path` that names a
 * directory to create ("a/b/c" -> 3 for "a/b"); 0 when there is none. */
size_t logfile_parent_len(const char *path);

#endif
