/* The daemon: it wires the parts on one libuv loop (the configuration, the
 * client listener, signals, the server log, the consoles and the client
 * sessions) and runs until SIGTERM/SIGINT. */
#ifndef CONMAND_SERVER_H
#define CONMAND_SERVER_H

#include <stdbool.h>

#include "conmand/conf/conf.h"

struct server_opts {
    const char *conf_path;
    int port;            /* 0: from the file */
    const char *pidfile; /* -P (wins over SERVER pidfile), or NULL */
    bool foreground;
    bool verbose;
    bool zero_logs;
    int ready_fd; /* -1, or a pipe to tell a waiting parent we are up */
};

/* Reads and parses the file, bad lines logged and skipped. Returns 0 or
 * -errno with a message naming the file. */
int server_load_conf(const char *path, struct conf *out, char *err, size_t errlen);

/* Sets up everything and runs the loop until SIGTERM/SIGINT. Returns the
 * exit status. Takes ownership of `conf`. */
int server_run(struct server_opts *opts, struct conf *conf);

/* Pure: milliseconds from `now_ms` (wall clock, ms since the epoch) to just
 * after the next multiple of `minutes` (the periodic "log at" marks of
 * SERVER timestamp=, aligned like conman's). */
unsigned server_next_mark_ms(long long now_ms, int minutes);

#endif
