/* Deleted console logs, told by the kernel: one inotify watch per log
 * folder for IN_DELETE only (the daemon's own appends raise no event),
 * instead of an fstat() of every open log every LOGCACHE_CHECK_MS (about
 * half a system call per logged line at 10,000 consoles). When a folder
 * cannot be watched (no inotify, the watch limit) or a watch went away
 * (the folder was deleted), the watch is "incomplete" and the log cache
 * goes back to its periodic check until every folder is watched again.
 * Loop thread only. */
#ifndef CONMAND_CONSOLES_LOGWATCH_H
#define CONMAND_CONSOLES_LOGWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* `path` (a file in a watched folder) was deleted. */
typedef void (*logwatch_fn)(void *ctx, const char *path);

struct logwatch_dir {
    int wd;
    char *dir;
};

struct logwatch {
    int fd; /* inotify, or -1 */
    uv_poll_t poll;
    bool polling;
    struct logwatch_dir *dirs;
    size_t ndirs, cap;
    bool stale; /* a watch could not be added, or one went away */
    logwatch_fn deleted;
    void *ctx;
};

/* Starts watching nothing yet; without inotify every log is "incomplete". */
void logwatch_init(struct logwatch *w, uv_loop_t *loop, logwatch_fn deleted, void *ctx);

/* Watches the folder of the log at `path` (once per folder). */
void logwatch_add(struct logwatch *w, const char *path);

/* Whether every folder added since the last logwatch_settle() is watched:
 * deletions are then told, and no periodic check is needed. */
bool logwatch_complete(const struct logwatch *w);

/* Forgets that a watch was missing (the caller has just checked every log
 * and added their folders again). */
void logwatch_settle(struct logwatch *w);

void logwatch_close(struct logwatch *w);   /* closes the poll handle */
void logwatch_release(struct logwatch *w); /* after the loop closed it */

#endif
