/* The daemon: configuration, listening socket, signals, the console set and
 * the client list, all on one libuv loop. */
#ifndef CONMAND_SERVER_H
#define CONMAND_SERVER_H

#include <stdbool.h>
#include <time.h>
#include <uv.h>

#include "conmand/conf/conf.h"
#include "conmand/consoles/logfile.h"
#include "conmand/consoles/timerheap.h"

struct console;
struct client;
struct reset_run;

#define RESET_TIMEOUT_SEC 60 /* conman's limit on a resetcmd's run */
struct unixwatch;

struct server_opts {
    const char *conf_path;
    int port;            /* 0: from the file */
    const char *pidfile; /* -P (wins over SERVER pidfile), or NULL */
    bool foreground;
    bool verbose;
    bool zero_logs;
    int ready_fd; /* -1, or a pipe to tell a waiting parent we are up */
};

struct server {
    uv_loop_t *loop;
    struct server_opts opts;
    struct conf conf;
    int port;
    uv_tcp_t listener;
    uv_signal_t sig_term, sig_int, sig_hup, sig_chld, sig_pipe;
    uv_timer_t stamp_timer;
    uv_timer_t retry_timer;   /* one for every console waiting to reconnect */
    uv_idle_t retry_idle;     /* runs the rest of a busy turn's starts and reconnects */
    struct timerheap retries; /* their deadlines, in uv_now() ms */
    uv_check_t reaper;        /* frees destroyed consoles after the turn */
    struct console *dead;
    struct logcache logs;        /* batched console log output */
    struct unixwatch *unixwatch; /* consoles/unix.c: sockets awaited, or NULL */
    struct console **consoles;
    size_t nconsoles;
    struct client *clients;   /* doubly linked */
    struct reset_run *resets; /* resetcmds running, one per console at most */
    unsigned reset_timeout_ms;
    FILE *logfp;
    uv_timer_t logcheck;     /* server log: retried while failing, reopened if deleted */
    bool logfailing;         /* SERVER logfile could not be opened: reported once */
    pid_t *stopped_children; /* stop_server(): process groups to see gone */
    size_t nstopped;
    bool stopping;
    unsigned seed;
    char cwd[4096];              /* where relative paths were given */
    char readbuf[65536];         /* session input scratch (one loop thread) */
    unsigned char devbuf[65536]; /* console output scratch, ditto */
};

/* Reads and parses the file, bad lines logged and skipped. Returns 0 or
 * -errno with a message naming the file. */
int server_load_conf(const char *path, struct conf *out, char *err, size_t errlen);

/* Sets up everything and runs the loop until SIGTERM/SIGINT. Returns the
 * exit status. Takes ownership of `conf`. */
int server_run(struct server_opts *opts, struct conf *conf);

/* Consoles in name order, for lookups by the client code. */
struct console *server_find_console(struct server *s, const char *name);

/* Grows the process's descriptor table to what the consoles need, in one
 * step, before they open (see server.c for why). */
void server_reserve_descriptors(struct server *s);

/* Runs SERVER resetcmd for a console (its specifiers expanded as in log
 * names) under /bin/sh -c in a process group of its own, killed with it
 * after RESET_TIMEOUT_SEC as conman does. While one runs, a second reset
 * of the console is refused with a notice. Returns the pid, 0 (no
 * resetcmd) or -errno (-EBUSY: still running). */
pid_t server_reset_console(struct server *s, struct console *c);

/* Absolute path of a log name relative to logdir. Returns 0 or
 * -ENAMETOOLONG. */
int server_log_path(const struct server *s, const char *log, char *out, size_t outlen);

/* Pure: milliseconds from `now_ms` (wall clock, ms since the epoch) to just
 * after the next multiple of `minutes` (the periodic "log at" marks of
 * SERVER timestamp=, aligned like conman's). */
unsigned server_next_mark_ms(long long now_ms, int minutes);

/* Numeric address and port of a peer (never a DNS lookup: the loop must
 * not wait on a name server; the client code looks names up async). */
void server_peer_name(const struct sockaddr_storage *sa, char *host, size_t hostlen, int *port);

#endif
