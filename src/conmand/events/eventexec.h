/* SERVER eventexec="PATH": runs PATH once per console event with the event
 * as one JSON object on its standard input (never on argv: the line may
 * hold anything the console printed). Bounded: EVENTEXEC_RUNNING_MAX run
 * at once, EVENTEXEC_QUEUE_MAX wait, more are dropped and counted; a run
 * is killed (its process group) after the timeout. The loop never waits
 * for one: the server's SIGCHLD reaping tells us when it ends. */
#ifndef CONMAND_EVENTS_EVENTEXEC_H
#define CONMAND_EVENTS_EVENTEXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "conmand/conf/conf.h"

#define EVENTEXEC_RUNNING_MAX 4
#define EVENTEXEC_QUEUE_MAX 64
#define EVENTEXEC_TIMEOUT_SEC 10

struct eventexec_run;
struct eventexec_job;

/* Counters for /metrics: each event handed to eventexec ends in exactly
 * one of them (or is still running or waiting). */
struct eventexec_stats {
    uint64_t ok;        /* exited 0 */
    uint64_t failed;    /* exited non-zero, killed by a signal, or not started */
    uint64_t timed_out; /* killed after the timeout */
    uint64_t dropped;   /* the queue was full */
};

struct eventexec {
    uv_loop_t *loop;
    const struct conf_server *settings; /* live: eventexec (re-read at each event) */
    unsigned timeout_ms;
    struct eventexec_run *runs; /* running */
    size_t nrunning;
    struct eventexec_job *head, *tail; /* waiting, oldest first */
    size_t nqueued;
    bool dropping;          /* since the queue filled; reported when it empties */
    bool warned_unrunnable; /* a run could not start: said once until one starts */
    uint64_t dropped_at;
    struct eventexec_stats stats;
};

/* EVENTEXEC_TIMEOUT_SEC, or CONMAND_EVENTEXEC_TIMEOUT_SEC (1..3600) from
 * the environment: a knob for the tests. */
void eventexec_init(struct eventexec *x, uv_loop_t *loop, const struct conf_server *settings);

/* Runs settings->eventexec (when set) for one event: `json` (len bytes,
 * a newline-terminated object) goes to its stdin, `console`, `rule` and
 * `severity` to its environment as CONMAN_EVENT_CONSOLE, _RULE and
 * _SEVERITY (for a shell script's convenience). Never blocks. */
void eventexec_submit(struct eventexec *x, const char *console, const char *rule,
                      const char *severity, const char *json, size_t len);

/* A reaped child: true (and its run finished) if it was one of ours. */
bool eventexec_reaped(struct eventexec *x, pid_t pid, int status);

/* The pids of the running programs: up to `max` into `out` (may be NULL);
 * returns how many there are. */
size_t eventexec_pids(const struct eventexec *x, pid_t *out, size_t max);

/* Drops what waits and forgets the runs (they finish on their own, or the
 * server's stop kills their process groups); closes timers. */
void eventexec_close(struct eventexec *x);

#endif
