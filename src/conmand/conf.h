/* conman.conf(5) parser: text in, struct out, no I/O. Settings are kept per
 * console in resolved form so two parses can be compared console by console
 * (the reload-by-diff of issue 5). */
#ifndef CONMAND_CONF_H
#define CONMAND_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define CONF_DEFAULT_PORT 7890
#define CONF_DEFAULT_PATH "/etc/conman.conf"

struct conf_logopts {
    bool lock;      /* take a write lock on the log file (default on) */
    bool sanitize;  /* 7-bit printable, control chars as ^X */
    bool timestamp; /* "YYYY-MM-DD HH:MM:SS " before each line */
};

/* One console, with GLOBAL defaults already merged in. */
struct conf_console {
    char *name;
    char *dev;
    char *log; /* path after %N/%D expansion (relative to logdir
                  still unresolved) or NULL: not logged */
    struct conf_logopts logopts;
    char *seropts;  /* NULL: default "9600,8n1" */
    char *ipmiopts; /* GLOBAL then CONSOLE values, comma-joined, or NULL */
    char *sshopts;  /* ssh: consoles, merged like ipmiopts */
    int line;       /* where it was defined, for messages */
};

struct conf_server {
    bool coredump;
    char *coredumpdir;
    char *execpath;
    bool keepalive;
    char *logdir;
    char *logfile;        /* server log file, or NULL: stderr/syslog */
    int logfile_priority; /* syslog priority number, default LOG_INFO */
    bool loopback;
    int nofile; /* -1 (default): raise to the hard limit; else that many */
    char *pidfile;
    int port;
    char *resetcmd;
    char *syslog; /* facility name or NULL */
    bool tcpwrappers;
    int timestamp_min; /* 0: no periodic marks */
};

struct conf {
    struct conf_server server;
    struct conf_console *consoles; /* sorted by definition order */
    size_t nconsoles;
    int nerrors; /* lines that were reported and skipped */
};

/* Receives one message per bad line: "FILE:LINE: text naming the token". */
typedef void (*conf_report_fn)(void *ctx, const char *msg);

/* Parses `text` (the content of `path`) into `out`. A bad line or keyword
 * is reported through `report` and skipped, as Debian's conmand does, and
 * counted in out->nerrors; the caller decides whether that is fatal (at
 * start: no; on reload: yes). Returns 0, or -ENOMEM. */
int conf_parse(const char *text, const char *path, conf_report_fn report, void *ctx,
               struct conf *out);

void conf_release(struct conf *c);

/* Console lookup by name, or NULL. */
const struct conf_console *conf_find(const struct conf *c, const char *name);

/* Deep-copies `src` over `dst`, freeing what `dst` held. Returns 0, or
 * -ENOMEM with `dst` unchanged. `dst` must be zeroed or a valid console. */
int conf_console_copy(struct conf_console *dst, const struct conf_console *src);

/* Frees the console's strings and zeroes it. */
void conf_console_release(struct conf_console *c);

/* True when both describe the same console (dev, log, options): an unchanged
 * console keeps its connection across a reload. */
bool conf_console_equal(const struct conf_console *a, const struct conf_console *b);

/* Expands %N (name), %D (dev) and %% in `fmt` into `out`. Returns 0 or
 * -ENAMETOOLONG. */
int conf_expand(const char *fmt, const char *name, const char *dev, char *out, size_t outlen);

/* Splits a process dev string into argv, honouring '...' and "..." quotes.
 * Returns argc (>= 0) with a NULL-terminated argv of at most `max` - 1 words
 * written into `buf` storage, or -EINVAL (unterminated quote) / -E2BIG. */
int conf_split_args(const char *dev, char *buf, size_t buflen, char **argv, int max);

/* Parses "on/off/yes/no/true/false/1/0". Returns 0 or -EINVAL. */
int conf_parse_bool(const char *s, bool *out);

/* Parses logopts ("lock,sanitize,timestamp" and their no- forms) onto *opts.
 * Returns 0, or -EINVAL naming the bad word in `err`. */
int conf_parse_logopts(const char *s, struct conf_logopts *opts, char *err, size_t errlen);

#endif
