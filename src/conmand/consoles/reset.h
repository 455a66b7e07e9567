/* SERVER resetcmd runs: conman allows one per console and kills its process
 * group after RESET_TIMEOUT_SEC. */
#ifndef CONMAND_CONSOLES_RESET_H
#define CONMAND_CONSOLES_RESET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "conmand/conf/conf.h"

#define RESET_TIMEOUT_SEC 60 /* conman's limit on a resetcmd's run */

struct console;
struct reset_run;

struct reset_runner {
    uv_loop_t *loop;
    const struct conf_server *settings; /* live: resetcmd */
    unsigned timeout_ms;
    struct reset_run *runs; /* running, one per console at most */
};

/* RESET_TIMEOUT_SEC, or CONMAND_RESETCMD_TIMEOUT_SEC (1..3600) from the
 * environment: a knob for the tests, which cannot wait a minute a case. */
void reset_init(struct reset_runner *r, uv_loop_t *loop, const struct conf_server *settings);

/* Runs resetcmd for `c`. While one runs, a second reset of the console is
 * refused with a notice. Returns the pid, 0 (no resetcmd) or -errno
 * (-EBUSY: still running). */
pid_t reset_console(struct reset_runner *r, struct console *c);

/* A reaped child: true (and forgotten) if it was a resetcmd. */
bool reset_reaped(struct reset_runner *r, pid_t pid, int status);

/* The pids of the running commands: writes up to `max` into `out` (may be
 * NULL) and returns how many there are. */
size_t reset_pids(const struct reset_runner *r, pid_t *out, size_t max);

/* Forgets every run (the commands finish on their own) and closes timers. */
void reset_close(struct reset_runner *r);

#endif
