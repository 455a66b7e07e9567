/* SERVER eventexec: one program per console event, the event as JSON on
 * its stdin, bounded in number and time, never waited for. */
#include "conmand/events/eventexec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/childproc.h"
#include "common/log.h"
#include "common/numparse.h"

extern char **environ;

/* An event waiting for a free slot: its JSON, then console, rule and
 * severity, each NUL-terminated, in one block. */
struct eventexec_job {
    struct eventexec_job *next;
    size_t len; /* of the JSON */
    char data[];
};

/* A running program; freed by its timer's close callback. */
struct eventexec_run {
    uv_timer_t timer;
    pid_t pid;
    bool timed_out;
    struct eventexec_run *next;
    char what[320]; /* "event RULE on console [NAME]", for messages */
};

static const char *job_console(const struct eventexec_job *j)
{
    return j->data + j->len + 1;
}

static const char *job_rule(const struct eventexec_job *j)
{
    const char *c = job_console(j);
    return c + strlen(c) + 1;
}

static const char *job_severity(const struct eventexec_job *j)
{
    const char *r = job_rule(j);
    return r + strlen(r) + 1;
}

static struct eventexec_job *job_new(const char *console, const char *rule, const char *severity,
                                     const char *json, size_t len)
{
    size_t cl = strlen(console) + 1, rl = strlen(rule) + 1, sl = strlen(severity) + 1;
    struct eventexec_job *j = malloc(sizeof(*j) + len + 1 + cl + rl + sl);
    if (!j)
        return NULL;
    j->next = NULL;
    j->len = len;
    char *p = j->data;
    memcpy(p, json, len);
    p[len] = '\0';
    memcpy(p += len + 1, console, cl);
    memcpy(p += cl, rule, rl);
    memcpy(p + rl, severity, sl);
    return j;
}

/* The program's environment: ours first (they win over inherited ones of
 * the same name), then the daemon's. */
#define VAR_MAX 320

static char **child_env(const struct eventexec_job *j, char (*vars)[VAR_MAX])
{
    size_t varlen = VAR_MAX;
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = calloc(n + 4, sizeof(*env));
    if (!env)
        return NULL;
    snprintf(vars[0], varlen, "CONMAN_EVENT_CONSOLE=%s", job_console(j));
    snprintf(vars[1], varlen, "CONMAN_EVENT_RULE=%s", job_rule(j));
    snprintf(vars[2], varlen, "CONMAN_EVENT_SEVERITY=%s", job_severity(j));
    env[0] = vars[0];
    env[1] = vars[1];
    env[2] = vars[2];
    for (size_t i = 0; i < n; i++)
        env[3 + i] = environ[i];
    return env;
}

static void run_freed(uv_handle_t *h)
{
    free(h->data);
}

static void run_overdue(uv_timer_t *t)
{
    struct eventexec_run *r = t->data;
    r->timed_out = true;
    if (kill(-r->pid, SIGKILL) < 0 && errno != ESRCH)
        log_warn("eventexec: unable to kill the program for %s (pid %d): %s", r->what, (int)r->pid,
                 strerror(errno));
    /* Stays running until reaped: the slot frees when it is gone. */
}

/* Hands the JSON to the program: the pipe is empty and holds 64 KiB, more
 * than an event (a line of at most 1 KiB, escaped, and two paths). */
static void feed_stdin(int w, const struct eventexec_job *j, const char *what)
{
    fcntl(w, F_SETFL, O_NONBLOCK);
    ssize_t n = write(w, j->data, j->len);
    if (n != (ssize_t)j->len && !(n < 0 && errno == EPIPE))
        log_warn("eventexec: %s: only %zd of %zu bytes reached the program's stdin", what, n,
                 j->len);
    close(w);
}

/* Starts the program for `j` (freed here). A program that cannot start
 * (missing, not executable, out of resources) is said once until one
 * starts again: a storm of events would otherwise be a storm of lines. */
static void start_run(struct eventexec *x, struct eventexec_job *j)
{
    const char *path = x->settings->eventexec;
    struct eventexec_run *r = calloc(1, sizeof(*r));
    char vars[3][VAR_MAX];
    char **env = r ? child_env(j, vars) : NULL;
    int p[2] = {-1, -1};
    pid_t pid = 0;
    int err = !path ? ENOENT : !r || !env ? ENOMEM : 0;
    if (!err && pipe2(p, O_CLOEXEC) < 0)
        err = errno;
    if (!err) {
        char *argv[] = {(char *)path, NULL};
        err = childproc_spawn(path, argv, env, p[0], true, &pid);
        close(p[0]);
        if (err)
            close(p[1]);
    }
    if (err) {
        x->stats.failed++;
        if (!x->warned_unrunnable)
            log_warn("eventexec %s: event %s on console [%s] not run: %s (said once until a run "
                     "starts)",
                     path ? path : "(unset)", job_rule(j), job_console(j), strerror(err));
        x->warned_unrunnable = true;
        goto out;
    }
    x->warned_unrunnable = false;
    snprintf(r->what, sizeof(r->what), "event %s on console [%.200s]", job_rule(j), job_console(j));
    feed_stdin(p[1], j, r->what);
    r->pid = pid;
    uv_timer_init(x->loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, run_overdue, x->timeout_ms, 0);
    r->next = x->runs;
    x->runs = r;
    x->nrunning++;
    r = NULL; /* owned by the list now */
out:
    free(r);
    free(env);
    free(j);
}

/* Starts waiting events while slots are free. */
static void start_waiting(struct eventexec *x)
{
    while (x->head && x->nrunning < EVENTEXEC_RUNNING_MAX) {
        struct eventexec_job *j = x->head;
        x->head = j->next;
        if (!x->head)
            x->tail = NULL;
        x->nqueued--;
        start_run(x, j);
    }
    if (x->dropping && !x->head) {
        log_warn("eventexec: the queue has emptied; %llu events were dropped while it was full",
                 (unsigned long long)(x->stats.dropped - x->dropped_at));
        x->dropping = false;
    }
}

void eventexec_submit(struct eventexec *x, const char *console, const char *rule,
                      const char *severity, const char *json, size_t len)
{
    const char *path = x->settings->eventexec;
    if (!path)
        return;
    if (x->nqueued >= EVENTEXEC_QUEUE_MAX) {
        if (!x->dropping)
            log_warn("eventexec %s: %d running and %d waiting: dropping events until the queue "
                     "empties (conman_event_exec_total{result=\"dropped\"})",
                     path, EVENTEXEC_RUNNING_MAX, EVENTEXEC_QUEUE_MAX);
        if (!x->dropping)
            x->dropped_at = x->stats.dropped;
        x->dropping = true;
        x->stats.dropped++;
        return;
    }
    struct eventexec_job *j = job_new(console, rule, severity, json, len);
    if (!j) {
        x->stats.dropped++;
        log_warn("eventexec: out of memory: event %s on console [%s] dropped", rule, console);
        return;
    }
    if (x->tail)
        x->tail->next = j;
    else
        x->head = j;
    x->tail = j;
    x->nqueued++;
    start_waiting(x);
}

bool eventexec_reaped(struct eventexec *x, pid_t pid, int status)
{
    struct eventexec_run **link = &x->runs;
    while (*link && (*link)->pid != pid)
        link = &(*link)->next;
    struct eventexec_run *r = *link;
    if (!r)
        return false;
    const char *path = x->settings->eventexec ? x->settings->eventexec : "(unset since)";
    if (r->timed_out) {
        x->stats.timed_out++;
        log_warn("eventexec %s: %s: killed after %us (pid %d)", path, r->what, x->timeout_ms / 1000,
                 (int)pid);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        x->stats.ok++;
        log_debug("eventexec %s: %s: done (pid %d)", path, r->what, (int)pid);
    } else {
        x->stats.failed++;
        if (WIFSIGNALED(status))
            log_warn("eventexec %s: %s: ended by signal %d (pid %d)", path, r->what,
                     WTERMSIG(status), (int)pid);
        else
            log_warn("eventexec %s: %s: exited with status %d%s (pid %d)", path, r->what,
                     WEXITSTATUS(status),
                     WEXITSTATUS(status) == 127 ? " (not found or not executable?)" : "", (int)pid);
    }
    *link = r->next;
    x->nrunning--;
    uv_close((uv_handle_t *)&r->timer, run_freed);
    start_waiting(x);
    return true;
}

size_t eventexec_pids(const struct eventexec *x, pid_t *out, size_t max)
{
    size_t n = 0;
    for (const struct eventexec_run *r = x->runs; r; r = r->next, n++)
        if (out && n < max)
            out[n] = r->pid;
    return n;
}

void eventexec_init(struct eventexec *x, uv_loop_t *loop, const struct conf_server *settings)
{
    *x = (struct eventexec){.loop = loop,
                            .settings = settings,
                            .timeout_ms =
                                1000u * (unsigned)numparse_env_int("CONMAND_EVENTEXEC_TIMEOUT_SEC",
                                                                   1, 3600, EVENTEXEC_TIMEOUT_SEC)};
}

void eventexec_close(struct eventexec *x)
{
    while (x->head) {
        struct eventexec_job *j = x->head;
        x->head = j->next;
        free(j);
    }
    x->tail = NULL;
    x->nqueued = 0;
    while (x->runs) {
        struct eventexec_run *r = x->runs;
        x->runs = r->next;
        uv_close((uv_handle_t *)&r->timer, run_freed);
    }
    x->nrunning = 0;
}
