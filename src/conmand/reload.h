/* Reload by diff (SIGHUP, conmand -r): a new configuration is compared with
 * the running one console by console. Unchanged consoles keep their
 * connection, clients and log fd; removed ones tell their clients and close;
 * added ones open; changed ones reconnect with the new settings in place
 * (clients stay attached). An invalid file changes nothing. */
#ifndef CONMAND_RELOAD_H
#define CONMAND_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "conmand/conf/conf.h"

#include "conmand/consoles/logfile.h"

struct console;
struct console_hub;
struct console_registry;

enum reload_action { RELOAD_KEEP, RELOAD_CHANGE, RELOAD_ADD, RELOAD_REMOVE };

struct reload_step {
    enum reload_action action;
    const char *name; /* borrowed from the old or new conf */
    size_t old_index; /* KEEP, CHANGE, REMOVE */
    size_t new_index; /* KEEP, CHANGE, ADD */
};

/* Pure: the steps that turn `old` into `new` (steps holds at least
 * old->nconsoles + new->nconsoles entries). Returns the number of steps. */
size_t reload_plan(const struct conf *old, const struct conf *new, struct reload_step *steps);

/* Pure: SERVER settings that differ and cannot be applied live, as a
 * comma-separated list of keywords in `out` ("" when none). */
void reload_restart_needed(const struct conf_server *old, const struct conf_server *new, char *out,
                           size_t outlen);

/* Pure: the new file's SERVER settings as the running daemon compares them
 * (reload_restart_needed): a port (-p) or pidfile (-P) given on the command
 * line stays the running one, so it is no change. Strings are borrowed. */
struct conf_server reload_compared_server(const struct conf_server *running,
                                          const struct conf_server *file, bool cli_port,
                                          bool cli_pidfile);

/* Pure: after a reload `applied` (the new file's settings) keeps the running
 * port, loopback and pidfile (they need a restart); `replaced` (the old
 * settings, released next) gets the new file's pidfile in exchange, so each
 * string still has one owner. */
void reload_keep_running_server(struct conf_server *applied, struct conf_server *replaced);

/* Pure: whether a changed console's log is set up afresh (no log now, or its
 * logopts changed) instead of keeping its descriptor. */
bool reload_log_reinit(const struct conf_logopts *running, const struct conf_console *nc);

/* The running daemon as a reload sees it. */
struct reload_target {
    const struct conf *conf;            /* the running configuration */
    struct console_registry *consoles;  /* its consoles */
    struct console_hub *hub;
};

/* What one step needs, allocated in advance. */
struct reload_change {
    struct console *added;   /* ADD: created, not started */
    struct conf_console cfg; /* CHANGE: the new settings */
    struct logfile log;      /* CHANGE: a fresh log, when new_log */
    bool new_log;
};

/* A reload ready to carry out: the plan and all it needs. */
struct reload_prep {
    struct reload_step *steps;
    struct reload_change *changes; /* one per step */
    size_t nsteps;
    struct console **next_consoles; /* the registry's next array */
};

/* Plans the reload from t->conf to `next` (parsed and checked in full) and
 * allocates everything carrying it out needs, touching no console.
 * Returns 0, or -ENOMEM with nothing changed and nothing held. */
int reload_prepare(const struct reload_target *t, const struct conf *next, struct reload_prep *p);

/* Carries out a prepared reload: removed consoles tell their clients and
 * close, changed ones reconnect with the new settings (clients stay),
 * added ones start, the registry holds the new set. It cannot fail half
 * way: the plan needs nothing it has not got. What a console allocates to
 * run (its log's path, a connection's state) may still fail, like at any
 * other time: that console is then down and retries, and every console is
 * the new configuration's. The caller then makes `next` the running
 * configuration. Returns the number of consoles. */
size_t reload_act(const struct reload_target *t, struct reload_prep *p);

/* Frees a prepared reload that will not be carried out. */
void reload_prep_release(struct reload_prep *p);

#endif
