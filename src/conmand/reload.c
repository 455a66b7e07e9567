/* Reload by diff: plan (pure) and apply (on the running server). */
#include "conmand/reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "conmand/clients/client.h"
#include "conmand/consoles/console.h"
#include "conmand/server.h"

struct named {
    const char *name;
    size_t index;
};

/* Index of `name` among `v` (sorted by name), or -1. */
static long find_sorted(const struct named *v, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(v[mid].name, name);
        if (cmp == 0)
            return (long)v[mid].index;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

/* conf's console names sorted, with their indices (caller frees), or NULL. */
static struct named *sorted_names(const struct conf *conf)
{
    struct named *v = malloc((conf->nconsoles ? conf->nconsoles : 1) * sizeof(*v));
    if (!v)
        return NULL;
    for (size_t i = 0; i < conf->nconsoles; i++)
        v[i] = (struct named){conf->consoles[i].name, i};
    qsort(v, conf->nconsoles, sizeof(*v), cmp_named);
    return v;
}

static long find_linear(const struct conf *conf, const char *name)
{
    for (size_t j = 0; j < conf->nconsoles; j++)
        if (!strcmp(conf->consoles[j].name, name))
            return (long)j;
    return -1;
}

/* Sorted lookups keep a 10,000-console reload O(n log n); without memory
 * for the index it falls back to scanning. */
size_t reload_plan(const struct conf *old, const struct conf *new, struct reload_step *steps)
{
    size_t n = 0;
    struct named *old_sorted = sorted_names(old), *new_sorted = sorted_names(new);
    for (size_t i = 0; i < new->nconsoles; i++) {
        const struct conf_console *nc = &new->consoles[i];
        struct reload_step st = {RELOAD_ADD, nc->name, 0, i};
        long j = old_sorted ? find_sorted(old_sorted, old->nconsoles, nc->name)
                            : find_linear(old, nc->name);
        if (j >= 0) {
            st.action = conf_console_equal(&old->consoles[j], nc) ? RELOAD_KEEP : RELOAD_CHANGE;
            st.old_index = (size_t)j;
        }
        steps[n++] = st;
    }
    for (size_t j = 0; j < old->nconsoles; j++) {
        const char *name = old->consoles[j].name;
        if ((new_sorted ? find_sorted(new_sorted, new->nconsoles, name) : find_linear(new, name)) <
            0)
            steps[n++] = (struct reload_step){RELOAD_REMOVE, name, j, 0};
    }
    free(old_sorted);
    free(new_sorted);
    return n;
}

static bool differs(const char *a, const char *b)
{
    return (a || b) && (!a || !b || strcmp(a, b));
}

void reload_restart_needed(const struct conf_server *o, const struct conf_server *n, char *out,
                           size_t outlen)
{
    size_t len = 0;
    out[0] = '\0';
#define NOTE(cond, word)                                                                           \
    if ((cond) && len < outlen)                                                                    \
    len += (size_t)snprintf(out + len, outlen - len, "%s%s", len ? "," : "", word)
    NOTE(o->port != n->port, "port");
    NOTE(o->loopback != n->loopback, "loopback");
    NOTE(differs(o->pidfile, n->pidfile), "pidfile");
    NOTE(o->coredump != n->coredump || differs(o->coredumpdir, n->coredumpdir), "coredump");
    NOTE(o->nofile != n->nofile, "nofile");
    NOTE(differs(o->syslog, n->syslog), "syslog");
    NOTE(o->tcpwrappers != n->tcpwrappers, "tcpwrappers");
#undef NOTE
}

static bool same_opts(const struct conf_logopts *a, const struct conf_logopts *o)
{
    return a->lock == o->lock && a->sanitize == o->sanitize && a->timestamp == o->timestamp;
}

bool reload_log_reinit(const struct conf_logopts *running, const struct conf_console *nc)
{
    return !nc->log || !same_opts(running, &nc->logopts);
}

struct conf_server reload_compared_server(const struct conf_server *running,
                                          const struct conf_server *file, bool cli_port,
                                          bool cli_pidfile)
{
    struct conf_server cmp = *file;
    if (cli_port)
        cmp.port = running->port; /* -p wins over the file's port */
    if (cli_pidfile)
        cmp.pidfile = running->pidfile; /* and -P over its pidfile */
    return cmp;
}

void reload_keep_running_server(struct conf_server *applied, struct conf_server *replaced)
{
    applied->port = replaced->port;
    applied->loopback = replaced->loopback;
    /* The pidfile path stays what the running daemon wrote. */
    char *pid_new = applied->pidfile;
    applied->pidfile = replaced->pidfile;
    replaced->pidfile = pid_new;
}

/* A changed console: same clients, new settings, reconnect now. Its log is
 * reopened only when its options changed or its name now names another
 * file (a log that keeps its file keeps its descriptor). */
static int change_console(struct server *s, struct console *c, const struct conf_console *nc)
{
    char text[512];
    snprintf(text, sizeof(text), "Console [%s] configuration changed: reconnecting", c->cfg.name);
    console_notify(c, text, NULL);
    console_down(c, "configuration changed");
    console_unwait(c); /* the wake-up was for the old dev */
    if (conf_console_copy(&c->cfg, nc) < 0)
        return -ENOMEM;
    struct stat st;
    bool chardev = nc->dev[0] == '/' && !strchr(nc->dev, ' ') && stat(nc->dev, &st) == 0 &&
                   S_ISCHR(st.st_mode);
    c->ops = console_type_for(nc->dev, chardev);
    if (reload_log_reinit(&c->log.opts, nc)) {
        logfile_release(&c->log);
        if (logfile_init(&c->log, &s->logs, nc->name, NULL, &nc->logopts) < 0)
            return -ENOMEM;
    }
    console_refresh_log(c);
    c->failures = 0;
    console_kick(c);
    return 0;
}

static int apply_steps(struct server *s, struct conf *nc, struct reload_step *steps, size_t n,
                       struct console **next)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct reload_step *st = &steps[i];
        struct console *old = st->action == RELOAD_ADD ? NULL : server_find_console(s, st->name);
        const struct conf_console *cfg =
            st->action == RELOAD_REMOVE ? NULL : &nc->consoles[st->new_index];
        if (st->action == RELOAD_REMOVE) {
            log_info("Console [%s] removed by reload", st->name);
            console_destroy(old); /* tells its clients */
        } else if (st->action == RELOAD_KEEP) {
            next[m++] = old;
        } else if (st->action == RELOAD_CHANGE) {
            log_info("Console [%s] changed by reload", st->name);
            if (change_console(s, old, cfg) < 0)
                return -ENOMEM;
            next[m++] = old;
        } else {
            struct console *c = console_create(s, cfg);
            if (!c)
                return -ENOMEM;
            log_info("Console [%s] added by reload", st->name);
            next[m++] = c;
            console_start(c, false);
        }
    }
    return (int)m;
}

static int cmp_console(const void *a, const void *b)
{
    const struct console *x = *(struct console *const *)a, *y = *(struct console *const *)b;
    return strcmp(x->cfg.name, y->cfg.name);
}

static void apply_server(struct server *s, const struct conf *nc)
{
    char restart[256];
    struct conf_server cmp =
        reload_compared_server(&s->conf.server, &nc->server, s->opts.port, s->opts.pidfile);
    reload_restart_needed(&s->conf.server, &cmp, restart, sizeof(restart));
    if (restart[0])
        log_warn("reload: SERVER %s changed in %s: needs a restart to apply", restart,
                 s->opts.conf_path);
}

int reload_apply(struct server *s)
{
    struct conf nc;
    char err[1024];
    int rc = server_load_conf(s->opts.conf_path, &nc, err, sizeof(err));
    if (rc < 0) {
        log_error("reload refused, keeping the running configuration: %s", err);
        return rc;
    }
    if (nc.nerrors) {
        log_error("reload refused: %s has %d bad line(s) (above); keeping the running "
                  "configuration",
                  s->opts.conf_path, nc.nerrors);
        conf_release(&nc);
        return -EINVAL;
    }
    struct reload_step *steps = calloc(s->conf.nconsoles + nc.nconsoles + 1, sizeof(*steps));
    struct console **next = calloc(nc.nconsoles + 1, sizeof(*next));
    if (!steps || !next) {
        free(steps);
        free(next);
        conf_release(&nc);
        return -ENOMEM;
    }
    size_t n = reload_plan(&s->conf, &nc, steps);
    apply_server(s, &nc);
    /* Live SERVER settings (logdir, execpath, resetcmd, timestamp...) come from
     * the new file; the ones needing a restart were reported above. */
    struct conf old = s->conf;
    s->conf = nc;
    reload_keep_running_server(&s->conf.server, &old.server);
    int m = apply_steps(s, &s->conf, steps, n, next);
    if (m >= 0) {
        free(s->consoles);
        s->consoles = next;
        s->nconsoles = (size_t)m;
        qsort(s->consoles, s->nconsoles, sizeof(*s->consoles), cmp_console);
        next = NULL;
        server_reserve_descriptors(s); /* before the added consoles open */
    }
    free(next);
    free(steps);
    conf_release(&old);
    log_info("reload of %s applied: %zu consoles", s->opts.conf_path, s->nconsoles);
    return m < 0 ? m : 0;
}
