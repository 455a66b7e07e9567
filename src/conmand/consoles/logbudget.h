/* Built-in rotation and one disk budget for all console logs (issue 15).
 * The logcache owns one logbudget: it knows the bytes of every live log
 * (kept by logfile.c from the open's fstat plus what it wrote) and the
 * rotated files console.<name>.<k> it made or found at start-up. When the
 * total passes SERVER logbudget the oldest rotated files (by mtime, across
 * all consoles) are deleted first; a live file never is. The decisions
 * (names, which files to delete) are pure and unit-tested; the rest is
 * stat, rename and unlink on the loop thread (no copying). */
#ifndef CONMAND_CONSOLES_LOGBUDGET_H
#define CONMAND_CONSOLES_LOGBUDGET_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One rotated file. */
struct logbudget_file {
    char *path; /* owned */
    uint64_t size;
    struct timespec mtime;
};

/* Counters for /metrics (read them, never write). */
struct logbudget_stats {
    uint64_t rotations;      /* logs rotated by conmand itself */
    uint64_t budget_deletes; /* rotated files deleted to keep the budget */
    uint64_t live_bytes;     /* bytes in the live console logs */
    uint64_t rotated_bytes;  /* bytes in the rotated files known */
};

struct logbudget {
    struct logbudget_file *files;
    size_t n, alloc;
    /* Paths of the live logs (borrowed from their logfile): a console named
     * "a.1" logs to what would be console "a"'s first rotated file; such a
     * name is never renamed, counted as rotated or deleted. */
    const char **live;
    size_t nlive, livealloc;
    size_t nlive_rotated_form; /* live paths ending in ".<digits>" */
    struct logbudget_stats stats;
};

/* Bytes in use: live plus rotated. */
uint64_t logbudget_in_use(const struct logbudget *b);

/* Pure: "<path>.<k>" into out. Returns 0 or -ENAMETOOLONG. */
int logbudget_name(const char *path, int k, char *out, size_t outlen);

/* Pure: which rotated files to delete so that `total` bytes in use fall to
 * `budget` or below: the oldest by mtime first (ties: the lower index
 * first). Writes their indices into `out` (room for n: used as scratch),
 * oldest first; returns how many. 0 when budget is 0 (none). A sort:
 * O(n log n), run only when over budget. */
size_t logbudget_pick(const struct logbudget_file *files, size_t n, uint64_t total, uint64_t budget,
                      size_t *out);

/* Forgets the rotated files of the log at `path` (path.1 ... ) and learns
 * them again by stat, path.1 up to the first missing one (at most
 * `maxk`). Returns 0 or -ENOMEM. */
int logbudget_scan(struct logbudget *b, const char *path, int maxk);

/* Rotates the closed log at `path`: path.<k> -> path.<k+1> for k from
 * keep-1 down to 1, path -> path.1, path.<k> beyond keep deleted (keep 0:
 * path is deleted). Then rescans its rotated files. Returns 0 or -errno of
 * the rename of path itself (the other steps are best effort, logged);
 * -EEXIST, nothing done, when one of the names is another live log. */
int logbudget_rotate(struct logbudget *b, const char *path, int keep);

/* Deletes the oldest rotated files while the total passes `budget` (0:
 * none), logging each one. Returns how many were deleted. */
size_t logbudget_enforce(struct logbudget *b, uint64_t budget);

/* Registers (forgets) the live log at `path`, borrowed until forgotten.
 * Returns 0 or -ENOMEM. */
int logbudget_live_add(struct logbudget *b, const char *path);
void logbudget_live_remove(struct logbudget *b, const char *path);

void logbudget_release(struct logbudget *b);

#endif
