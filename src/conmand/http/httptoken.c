/* The HTTP token: its file, read again on change, and the comparison. */
#include "conmand/http/httptoken.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "common/secret.h"

struct httptoken {
    pthread_mutex_t mu;
    char *path;
    struct secret token; /* empty: none readable (nobody gets in) */
    struct timespec mtime;
    ino_t ino;
    off_t size;
    bool known;    /* the stat above is of the file read */
    time_t looked; /* last stat, CLOCK_MONOTONIC seconds */
    int last_err;  /* what was said last: 0 (read) or an errno */
};

static time_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Reads the file again when it is not the one read (or could not be);
 * under the mutex. */
static void refresh(struct httptoken *t)
{
    struct stat st;
    int err = stat(t->path, &st) < 0 ? errno : 0;
    if (!err && t->known && st.st_ino == t->ino && st.st_size == t->size &&
        st.st_mtim.tv_sec == t->mtime.tv_sec && st.st_mtim.tv_nsec == t->mtime.tv_nsec)
        return;
    char msg[512] = "";
    struct secret next = SECRET_INIT;
    if (!err)
        err = -secret_read_first_line(t->path, HTTPTOKEN_MAX, &next, msg, sizeof(msg));
    secret_release(&t->token);
    t->known = false;
    if (err == 0) {
        t->token = next;
        t->known = true;
        t->ino = st.st_ino;
        t->size = st.st_size;
        t->mtime = st.st_mtim;
        if (t->last_err)
            log_info("SERVER httptokenfile %s: read again; pages need its token", t->path);
    } else if (err != t->last_err) {
        log_error("SERVER httptokenfile %s: %s: no page but /healthz and /readyz is served",
                  t->path, msg[0] ? msg : strerror(err));
    }
    t->last_err = err;
}

struct httptoken *httptoken_new(const char *path)
{
    struct httptoken *t = calloc(1, sizeof(*t));
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    t->last_err = -1; /* nothing said yet */
    refresh(t);
    t->looked = mono_s();
    if (t->last_err == 0)
        log_info("SERVER httptokenfile %s: pages but /healthz and /readyz need its token", path);
    return t;
}

void httptoken_free(struct httptoken *t)
{
    if (!t)
        return;
    secret_release(&t->token);
    pthread_mutex_destroy(&t->mu);
    free(t->path);
    free(t);
}

bool httptoken_check(struct httptoken *t, const char *presented, size_t len)
{
    pthread_mutex_lock(&t->mu);
    time_t now = mono_s();
    if (now != t->looked) {
        t->looked = now;
        refresh(t);
    }
    bool ok = presented && len && secret_equal(&t->token, presented, len);
    pthread_mutex_unlock(&t->mu);
    return ok;
}
