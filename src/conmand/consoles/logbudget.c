/* Rotation of console logs and the disk budget over all of them. */
#include "conmand/consoles/logbudget.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

uint64_t logbudget_in_use(const struct logbudget *b)
{
    return b->stats.live_bytes + b->stats.rotated_bytes;
}

int logbudget_name(const char *path, int k, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s.%d", path, k);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int older(const struct logbudget_file *a, const struct logbudget_file *b)
{
    if (a->mtime.tv_sec != b->mtime.tv_sec)
        return a->mtime.tv_sec < b->mtime.tv_sec;
    return a->mtime.tv_nsec < b->mtime.tv_nsec;
}

/* qsort of indices by their file's age: the array it sorts is the one
 * logbudget_pick was handed (one loop thread). */
static const struct logbudget_file *sort_files;

static int by_age(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (older(&sort_files[i], &sort_files[j]))
        return -1;
    if (older(&sort_files[j], &sort_files[i]))
        return 1;
    return i < j ? -1 : i > j;
}

size_t logbudget_pick(const struct logbudget_file *files, size_t n, uint64_t total, uint64_t budget,
                      size_t *out)
{
    if (budget == 0 || total <= budget || n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = i;
    sort_files = files;
    qsort(out, n, sizeof(*out), by_age);
    size_t count = 0;
    while (total > budget && count < n) {
        uint64_t sz = files[out[count++]].size;
        total = total > sz ? total - sz : 0;
    }
    return count;
}

static void forget_at(struct logbudget *b, size_t i)
{
    b->stats.rotated_bytes -= b->files[i].size;
    free(b->files[i].path);
    b->files[i] = b->files[--b->n];
}

/* A rotation suffix: one or more decimal digits and nothing else. */
static bool is_index(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool is_rotated_of(const char *file, const char *path, size_t plen)
{
    return strncmp(file, path, plen) == 0 && file[plen] == '.' && is_index(file + plen + 1);
}

/* Whether `path` ends in ".<digits>", the form of a rotated name. */
static bool has_rotated_form(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && is_index(dot + 1);
}

static bool is_live(const struct logbudget *b, const char *name)
{
    /* Only a live log of the rotated form can be one: usually none, so
     * rotation costs no search of 10,000 live paths. */
    if (b->nlive_rotated_form == 0)
        return false;
    for (size_t i = 0; i < b->nlive; i++)
        if (strcmp(b->live[i], name) == 0)
            return true;
    return false;
}

int logbudget_live_add(struct logbudget *b, const char *path)
{
    if (b->nlive == b->livealloc) {
        size_t want = b->livealloc ? b->livealloc * 2 : 64;
        const char **grown = realloc(b->live, want * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        b->live = grown;
        b->livealloc = want;
    }
    b->live[b->nlive++] = path;
    b->nlive_rotated_form += has_rotated_form(path);
    return 0;
}

void logbudget_live_remove(struct logbudget *b, const char *path)
{
    for (size_t i = 0; i < b->nlive; i++)
        if (b->live[i] == path) {
            b->nlive_rotated_form -= has_rotated_form(path);
            b->live[i] = b->live[--b->nlive];
            return;
        }
}

/* Any of path.1 ... path.<upto> another live log? */
static bool clashes(const struct logbudget *b, const char *path, int upto)
{
    char name[4200];
    if (b->nlive < 2)
        return false;
    for (int k = 1; k <= upto; k++)
        if (logbudget_name(path, k, name, sizeof(name)) == 0 && is_live(b, name))
            return true;
    return false;
}

static int learn(struct logbudget *b, const char *name, const struct stat *st)
{
    if (b->n == b->alloc) {
        size_t want = b->alloc ? b->alloc * 2 : 64;
        struct logbudget_file *grown = realloc(b->files, want * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        b->files = grown;
        b->alloc = want;
    }
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    b->files[b->n++] =
        (struct logbudget_file){.path = copy, .size = (uint64_t)st->st_size, .mtime = st->st_mtim};
    b->stats.rotated_bytes += (uint64_t)st->st_size;
    return 0;
}

int logbudget_scan(struct logbudget *b, const char *path, int maxk)
{
    size_t plen = strlen(path);
    for (size_t i = b->n; i-- > 0;)
        if (is_rotated_of(b->files[i].path, path, plen))
            forget_at(b, i);
    char name[4200];
    struct stat st;
    for (int k = 1; k <= maxk; k++) {
        if (logbudget_name(path, k, name, sizeof(name)) < 0 || lstat(name, &st) < 0)
            break;
        if (!S_ISREG(st.st_mode) || is_live(b, name))
            continue;
        int rc = learn(b, name, &st);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Deletes path.<k> for k past keep while they exist. */
static void drop_beyond(const struct logbudget *b, const char *path, int keep)
{
    char name[4200];
    for (int k = keep + 1;; k++) {
        if (logbudget_name(path, k, name, sizeof(name)) < 0 || is_live(b, name) || unlink(name) < 0)
            return;
    }
}

int logbudget_rotate(struct logbudget *b, const char *path, int keep)
{
    char from[4200], to[4200];
    int rc = 0;
    if (clashes(b, path, keep > 0 ? keep + 1 : 1)) {
        log_error("not rotating log \"%s\": a rotated name is another console's live log", path);
        return -EEXIST;
    }
    drop_beyond(b, path, keep > 0 ? keep : 0);
    /* Shift only the files there are (.1 up to the first missing one), not
     * keep - 1 renames of names that mostly do not exist: a gap leaves the
     * older files above it where they are, still in age order. */
    int top = 0;
    struct stat st;
    while (top < keep - 1 && logbudget_name(path, top + 1, from, sizeof(from)) == 0 &&
           lstat(from, &st) == 0)
        top++;
    for (int k = top; k >= 1; k--) {
        if (logbudget_name(path, k, from, sizeof(from)) < 0 ||
            logbudget_name(path, k + 1, to, sizeof(to)) < 0)
            break;
        if (rename(from, to) < 0 && errno != ENOENT)
            log_error("cannot rename \"%s\" to \"%s\": %s", from, to, strerror(errno));
    }
    if (keep > 0) {
        if (logbudget_name(path, 1, to, sizeof(to)) < 0)
            rc = -ENAMETOOLONG;
        else if (rename(path, to) < 0)
            rc = -errno;
    } else if (unlink(path) < 0) {
        rc = -errno;
    }
    if (rc < 0)
        log_error("cannot rotate log \"%s\": %s", path, strerror(-rc));
    else
        b->stats.rotations++;
    int src = logbudget_scan(b, path, keep);
    return rc < 0 ? rc : src;
}

static int descending(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return i > j ? -1 : i < j;
}

size_t logbudget_enforce(struct logbudget *b, uint64_t budget)
{
    uint64_t total = logbudget_in_use(b);
    if (budget == 0 || total <= budget || b->n == 0)
        return 0;
    size_t *pick = malloc(b->n * sizeof(*pick));
    if (!pick)
        return 0;
    size_t count = logbudget_pick(b->files, b->n, total, budget, pick);
    /* Delete first, then forget from the highest index down: forget_at
     * moves the last entry into the hole. */
    for (size_t j = 0; j < count; j++) {
        const struct logbudget_file *f = &b->files[pick[j]];
        if (unlink(f->path) < 0 && errno != ENOENT)
            log_error("cannot delete rotated log \"%s\": %s", f->path, strerror(errno));
        else
            log_info("deleted rotated log \"%s\" (%llu bytes): console logs over the budget of "
                     "%llu bytes",
                     f->path, (unsigned long long)f->size, (unsigned long long)budget);
        b->stats.budget_deletes++;
    }
    qsort(pick, count, sizeof(*pick), descending);
    for (size_t j = 0; j < count; j++)
        forget_at(b, pick[j]);
    free(pick);
    return count;
}

void logbudget_release(struct logbudget *b)
{
    while (b->n)
        forget_at(b, b->n - 1);
    free(b->files);
    b->files = NULL;
    b->alloc = 0;
    free(b->live);
    b->live = NULL;
    b->nlive = b->livealloc = 0;
}
