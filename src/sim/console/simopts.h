/* console-sim's settings: which consoles to serve where, and how fast they
 * talk. Parsed from the command line before anything runs. Pure. */
#ifndef SIM_CONSOLE_SIMOPTS_H
#define SIM_CONSOLE_SIMOPTS_H

#include <stddef.h>
#include <stdint.h>

#define SIMOPTS_NAME_MAX 64
#define SIMOPTS_PATH_MAX 108 /* sun_path */
#define SIMOPTS_MAX_CONSOLES 100000

enum sim_kind { SIM_TCP, SIM_UNIX };

/* One console: a name and where it listens (TCP on 127.0.0.1, or a unix
 * socket path). Port 0 lets the kernel pick. */
struct sim_spec {
    char name[SIMOPTS_NAME_MAX + 1];
    enum sim_kind kind;
    int port;
    char path[SIMOPTS_PATH_MAX];
};

struct sim_options {
    double rate;            /* lines per second per connected console */
    int burst;              /* write as fast as each client reads */
    int echo;               /* echo input back to the console's clients */
    uint64_t max_lines;     /* stop talking after this many lines (0: never) */
    uint64_t panic_every;   /* a crash block after every this many lines (0: never) */
    struct sim_spec *specs; /* owned; simopts_release frees */
    size_t nspecs;
    size_t cap;
};

void simopts_init(struct sim_options *o);
void simopts_release(struct sim_options *o);

/* Adds "NAME=tcp:PORT" or "NAME=unix:PATH". Returns 0, or -EINVAL/-ENOMEM
 * with a message naming the spec in err. */
int simopts_add_spec(struct sim_options *o, const char *text, char *err, size_t errlen);

/* Adds COUNT consoles PREFIX1..PREFIXCOUNT from "PREFIX:COUNT:tcp:BASEPORT"
 * (ports BASEPORT.., or all kernel-picked when BASEPORT is 0) or
 * "PREFIX:COUNT:unix:DIR" (sockets DIR/NAME.sock). */
int simopts_add_range(struct sim_options *o, const char *text, char *err, size_t errlen);

/* Parses the whole command line (argv[0] skipped). Returns 0, 1 when help
 * was asked for, or -EINVAL with a message naming the argument. */
int simopts_parse_args(struct sim_options *o, int argc, char **argv, char *err, size_t errlen);

/* Checks the parsed settings as a whole: at least one console, no name or
 * listening address used twice. */
int simopts_validate(const struct sim_options *o, char *err, size_t errlen);

/* How many lines a console talking at `rate` lines/s owes after
 * `elapsed_ms` since it started: the first is due at once. */
uint64_t simopts_lines_due(double rate, uint64_t elapsed_ms);

/* Timer period for `rate`: often enough to keep pace, never busier than
 * every 5 ms or lazier than every second. */
uint64_t simopts_tick_ms(double rate);

extern const char simopts_usage[];

#endif
