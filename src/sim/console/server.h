/* console-sim's event loop side: listeners, clients, paced and burst output,
 * echo. Work is proportional to connected consoles: an idle console is one
 * listening socket and no timer. */
#ifndef SIM_CONSOLE_SERVER_H
#define SIM_CONSOLE_SERVER_H

#include <stdio.h>
#include <uv.h>

#include "sim/console/simopts.h"

struct simserver;

/* Binds every console in `o` (which must outlive the server) on `loop` and
 * writes one "console NAME tcp 127.0.0.1:PORT" / "console NAME unix PATH" line
 * per console to `announce`, then "ready N consoles". Returns 0 or -errno
 * with a message naming the console in err; on failure nothing stays bound. */
int simserver_start(uv_loop_t *loop, const struct sim_options *o, FILE *announce,
                    struct simserver **out, char *err, size_t errlen);

/* Closes every handle; once uv_run has drained the loop, call simserver_free. */
void simserver_stop(struct simserver *s);

/* Frees the server and removes its unix socket files. */
void simserver_free(struct simserver *s);

#endif
