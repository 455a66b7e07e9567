/* Reload by diff: plan (pure) and apply (on the running server). */
#include "conmand/reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/notice.h"
#include "conmand/consoles/registry.h"
#include "conmand/consoles/types.h"
#include "conmand/events/eventhub.h"

struct named {
    const char *name;
    size_t index;
};

static int cmp_name_named(const void *key, const void *elem)
{
    return strcmp(key, ((const struct named *)elem)->name);
}

/* Index of `name` among `v` (sorted by name), or -1. */
static long find_sorted(const struct named *v, size_t n, const char *name)
{
    const struct named *hit = n ? bsearch(name, v, n, sizeof(*v), cmp_name_named) : NULL;
    return hit ? (long)hit->index : -1;
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
    NOTE(o->httpport != n->httpport || differs(o->httpaddr, n->httpaddr) ||
             differs(o->httptokenfile, n->httptokenfile) || differs(o->httpcert, n->httpcert) ||
             differs(o->httpkey, n->httpkey),
         "httpport");
    NOTE(differs(o->logship_tcp, n->logship_tcp) || differs(o->logship_file, n->logship_file),
         "logship");
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
    applied->httpport = replaced->httpport;
    /* The pidfile path stays what the running daemon wrote, the HTTP
     * address and the log shipping targets what it opened. */
#define KEEP_STR(field)                                                                            \
    do {                                                                                           \
        char *from_file = applied->field;                                                          \
        applied->field = replaced->field;                                                          \
        replaced->field = from_file;                                                               \
    } while (0)
    KEEP_STR(pidfile);
    KEEP_STR(httpaddr);
    KEEP_STR(httptokenfile);
    KEEP_STR(httpcert);
    KEEP_STR(httpkey);
    KEEP_STR(logship_tcp);
    KEEP_STR(logship_file);
#undef KEEP_STR
}

void reload_prep_release(struct reload_prep *p)
{
    for (size_t i = 0; i < p->nsteps; i++) {
        struct reload_change *ch = &p->changes[i];
        if (ch->added)
            console_free_unstarted(ch->added);
        conf_console_release(&ch->cfg);
        if (ch->new_log)
            logfile_release(&ch->log);
    }
    free(p->changes);
    free(p->steps);
    free(p->next_consoles);
    memset(p, 0, sizeof(*p));
}

/* Everything the steps need, allocated before any console is touched. */
static int prepare_step(const struct reload_target *t, const struct conf *next,
                        const struct reload_step *st, struct reload_change *ch)
{
    if (st->action == RELOAD_ADD) {
        ch->added = console_create(t->hub, &next->consoles[st->new_index]);
        return ch->added ? 0 : -ENOMEM;
    }
    if (st->action != RELOAD_CHANGE)
        return 0;
    const struct conf_console *nc = &next->consoles[st->new_index];
    struct console *c = registry_find(t->consoles, st->name);
    if (!c)
        return -ENOENT; /* the running conf and the registry disagree: never */
    if (conf_console_copy(&ch->cfg, nc) < 0)
        return -ENOMEM;
    if (reload_log_reinit(&c->log.opts, nc)) {
        if (logfile_init(&ch->log, &t->hub->logs, nc->name, NULL, &nc->logopts) < 0)
            return -ENOMEM;
        ch->new_log = true;
    }
    return 0;
}

int reload_prepare(const struct reload_target *t, const struct conf *next, struct reload_prep *p)
{
    size_t old_n = t->conf->nconsoles, new_n = next->nconsoles;
    memset(p, 0, sizeof(*p));
    p->steps = calloc(old_n + new_n + 1, sizeof(*p->steps));
    p->next_consoles = calloc(new_n + 1, sizeof(*p->next_consoles));
    if (!p->steps || !p->next_consoles)
        goto fail;
    size_t n = reload_plan(t->conf, next, p->steps);
    p->changes = calloc(n + 1, sizeof(*p->changes));
    if (!p->changes)
        goto fail;
    p->nsteps = n;
    for (size_t i = 0; i < n; i++) {
        int rc = prepare_step(t, next, &p->steps[i], &p->changes[i]);
        if (rc < 0) {
            reload_prep_release(p);
            return rc;
        }
    }
    /* Every console may wait for a reconnect at once: the heap never
     * grows while the plan is carried out. */
    if (console_hub_reserve(t->hub, new_n + old_n) < 0)
        goto fail;
    return 0;
fail:
    reload_prep_release(p);
    return -ENOMEM;
}

/* The log's marker of an owner change (scale-out): the old owner's log
 * ends with the conmand it handed the console to, the new owner's log
 * starts with the one it took it from. */
static void mark_handover(struct console *c, const char *verb, const char *peer)
{
    char when[64], text[512];
    notice_long_time(time(NULL), when, sizeof(when));
    snprintf(text, sizeof(text), "Console [%s] %s the conmand at %s at %s", c->cfg.name, verb, peer,
             when);
    console_notify(c, text, NULL);
}

/* A changed console: same clients, new settings, reconnect now. Its log is
 * set up afresh only when its options changed or it had none (a log whose
 * name names the same file keeps its descriptor). A console that moves to
 * another conmand (peer:) closes its log and lets its clients go (their
 * next connection is carried to the owner); one that comes back from
 * there opens its log and connects. Takes what `ch` holds. */
static void change_console(struct console *c, struct reload_change *ch)
{
    char text[512], from[300];
    bool was_remote = console_is_remote(c);
    snprintf(from, sizeof(from), "%s", was_remote ? c->type->dev_id(c->cfg.dev) : "");
    if (!was_remote) {
        snprintf(text, sizeof(text), "Console [%s] configuration changed: reconnecting",
                 c->cfg.name);
        console_notify(c, text, NULL);
    }
    console_down(c, "configuration changed");
    console_unwait(c); /* the wake-up was for the old dev */
    console_reconfigure(c, &ch->cfg);
    if (ch->new_log) {
        logfile_release(&c->log);
        c->log = ch->log; /* never opened: nothing points into it */
        ch->new_log = false;
    }
    if (console_is_remote(c) != was_remote && c->hub->events &&
        console_set_rules(c, c->hub->events->rules) < 0)
        log_error("Console [%s]: out of memory for its event matcher: no events", c->cfg.name);
    if (console_is_remote(c)) {
        if (!was_remote) {
            mark_handover(c, "handed over to", c->type->dev_id(c->cfg.dev));
            logfile_close(&c->log);
        }
        console_drop_readers(c);
        return;
    }
    console_refresh_log(c);
    c->failures = 0;
    if (!was_remote) {
        console_kick(c);
        return;
    }
    /* Taken over: not kicked. It connects at the retry console_down()
     * scheduled (about 1 s), so that the old owner, which applies the same
     * membership at about the same moment, has let the BMC go first. */
    mark_handover(c, "taken over from", from);
}

size_t reload_act(const struct reload_target *t, struct reload_prep *p)
{
    size_t m = 0;
    for (size_t i = 0; i < p->nsteps; i++) {
        const struct reload_step *st = &p->steps[i];
        struct reload_change *ch = &p->changes[i];
        struct console *old =
            st->action == RELOAD_ADD ? NULL : registry_find(t->consoles, st->name);
        switch (st->action) {
        case RELOAD_REMOVE:
            log_info("Console [%s] removed by reload", st->name);
            console_destroy(old); /* tells its clients */
            break;
        case RELOAD_KEEP:
            p->next_consoles[m++] = old;
            break;
        case RELOAD_CHANGE:
            log_info("Console [%s] changed by reload", st->name);
            change_console(old, ch);
            p->next_consoles[m++] = old;
            break;
        case RELOAD_ADD:
            log_info("Console [%s] added by reload", st->name);
            p->next_consoles[m++] = ch->added;
            console_start(ch->added, false);
            ch->added = NULL;
            break;
        }
    }
    registry_replace(t->consoles, p->next_consoles, m);
    p->next_consoles = NULL;
    reload_prep_release(p);
    return m;
}
