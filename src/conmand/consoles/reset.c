/* SERVER resetcmd: run for a console (its specifiers expanded as in log
 * names) under /bin/sh -c in a process group of its own, killed with it
 * after RESET_TIMEOUT_SEC as conman does; one at a time per console. */
#include "conmand/consoles/reset.h"

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
#include "conmand/consoles/console.h"

extern char **environ;

/* A running resetcmd: conman allows one per console and kills its process
 * group after RESET_TIMEOUT_SEC. Freed by the timer's close callback. */
struct reset_run {
    uv_timer_t timer;
    struct reset_runner *runner;
    pid_t pid;
    struct reset_run *next;
    char name[]; /* the console's */
};

static struct reset_run **reset_of_pid(struct reset_runner *s, pid_t pid)
{
    struct reset_run **r = &s->runs;
    while (*r && (*r)->pid != pid)
        r = &(*r)->next;
    return r;
}

static struct reset_run *reset_of_console(struct reset_runner *s, const char *name)
{
    struct reset_run *r = s->runs;
    while (r && strcmp(r->name, name))
        r = r->next;
    return r;
}

static void reset_freed(uv_handle_t *h)
{
    free(h->data);
}

static void reset_forget(struct reset_run **link)
{
    struct reset_run *r = *link;
    *link = r->next;
    uv_close((uv_handle_t *)&r->timer, reset_freed);
}

static void reset_overdue(uv_timer_t *t)
{
    struct reset_run *r = t->data;
    if (kill(-r->pid, SIGKILL) == 0)
        log_info("Console [%s] reset terminated after %us (pid %d)", r->name,
                 r->runner->timeout_ms / 1000, (int)r->pid);
    else if (errno != ESRCH)
        log_warn("Unable to terminate console [%s] reset after %us (pid %d): %s", r->name,
                 r->runner->timeout_ms / 1000, (int)r->pid, strerror(errno));
    /* Stays listed until reaped: no second reset while it dies. */
}

bool reset_reaped(struct reset_runner *s, pid_t pid, int status)
{
    struct reset_run **link = reset_of_pid(s, pid);
    if (!*link)
        return false;
    if (WIFSIGNALED(status))
        log_info("Console [%s] reset (pid %d) ended by signal %d", (*link)->name, (int)pid,
                 WTERMSIG(status));
    else
        log_debug("Console [%s] reset (pid %d) exited with %d", (*link)->name, (int)pid,
                  WEXITSTATUS(status));
    reset_forget(link);
    return true;
}

static int reset_command(const struct reset_runner *s, struct console *c, char *cmd, size_t len)
{
    char devid[4096];
    conf_dev_id(c->cfg.dev, c->type, devid, sizeof(devid));
    struct conf_fmt v = {.name = c->cfg.name, .devid = devid, .pid = getpid(), .now = time(NULL)};
    return conf_format(s->settings->resetcmd, &v, cmd, len);
}

pid_t reset_console(struct reset_runner *s, struct console *c)
{
    char cmd[4096], text[512];
    if (!s->settings->resetcmd)
        return 0;
    struct reset_run *busy = reset_of_console(s, c->cfg.name);
    if (busy) {
        snprintf(text, sizeof(text), "Ignoring reset of console [%s]: pid %d still active",
                 c->cfg.name, (int)busy->pid);
        console_notify(c, text, NULL);
        return -EBUSY;
    }
    if (reset_command(s, c, cmd, sizeof(cmd)) < 0) {
        log_warn("Unable to reset console [%s]: command too long", c->cfg.name);
        return -ENAMETOOLONG;
    }
    size_t nlen = strlen(c->cfg.name) + 1;
    struct reset_run *r = calloc(1, sizeof(*r) + nlen);
    if (!r)
        return -ENOMEM;
    /* Under /bin/sh -c, in a process group of its own (the timeout kills
     * all of it), stdio on /dev/null. */
    char *argv[] = {"sh", "-c", cmd, NULL};
    pid_t pid;
    int rc = childproc_spawn("/bin/sh", argv, environ, -1, false, &pid);
    if (rc != 0) {
        free(r);
        log_warn("Unable to reset console [%s]: %s", c->cfg.name, strerror(rc));
        return -rc;
    }
    r->runner = s;
    r->pid = pid;
    memcpy(r->name, c->cfg.name, nlen);
    uv_timer_init(s->loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, reset_overdue, s->timeout_ms, 0);
    r->next = s->runs;
    s->runs = r;
    log_info("Console [%s]: running resetcmd (pid %d)", c->cfg.name, (int)pid);
    return pid;
}

void reset_init(struct reset_runner *r, uv_loop_t *loop, const struct conf_server *settings)
{
    *r = (struct reset_runner){
        .loop = loop,
        .settings = settings,
        .timeout_ms = 1000u * (unsigned)numparse_env_int("CONMAND_RESETCMD_TIMEOUT_SEC", 1, 3600,
                                                         RESET_TIMEOUT_SEC)};
}

size_t reset_pids(const struct reset_runner *r, pid_t *out, size_t max)
{
    size_t n = 0;
    for (const struct reset_run *run = r->runs; run; run = run->next, n++)
        if (out && n < max)
            out[n] = run->pid;
    return n;
}

void reset_close(struct reset_runner *r)
{
    while (r->runs)
        reset_forget(&r->runs); /* the commands finish on their own */
}
