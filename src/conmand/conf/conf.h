/* conman.conf(5) parser: text in, struct out, no I/O. Settings are kept per
 * console in resolved form so two parses can be compared console by console
 * (the reload-by-diff of issue 5). */
#ifndef CONMAND_CONF_CONF_H
#define CONMAND_CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct console_type; /* consoles/types.h: the table of types */

#define CONF_DEFAULT_PORT 7890
#define CONF_DEFAULT_PATH "/etc/conman.conf"
#define CONF_LOGKEEP_MAX 1000     /* rotated files per console */
#define CONF_NOFILE_MAX (1 << 30) /* the kernel's own ceiling (fs.nr_open) */

struct conf_logopts {
    bool lock;      /* take a write lock on the log file (default on) */
    bool sanitize;  /* 7-bit printable, control chars as ^X */
    bool timestamp; /* "YYYY-MM-DD HH:MM:SS " before each line */
};

/* One console, with GLOBAL defaults already merged in. */
struct conf_console {
    char *name;
    char *dev;
    char *log; /* log name as configured (its own, else GLOBAL's), its
                  conversion specifiers unexpanded: they are expanded each
                  time the file is opened (conf_format), so a date in the
                  name is runtime, not configuration; relative to logdir
                  still unresolved; NULL: not logged */
    struct conf_logopts logopts;
    char *opts; /* the options of the console's type (seropts, ipmiopts,
                   sshopts...), its own value layered over the GLOBAL ones as
                   the type layers them; NULL: none given */
    int line;   /* where it was defined, for messages */
};

struct conf_server {
    bool coredump;
    char *coredumpdir;
    char *execpath;
    bool keepalive;
    char *logdir;
    char *logfile;        /* server log file, or NULL: stderr/syslog */
    int logfile_priority; /* syslog priority number, default LOG_INFO */
    bool loopback;        /* default on: listen on 127.0.0.1 only */
    int nofile;           /* 0 (default): keep the soft limit; -1: raise it to the
                             hard limit; N: set it (the hard one too if N is above) */
    char *pidfile;
    int port;
    char *resetcmd;
    char *syslog; /* facility name or NULL */
    bool tcpwrappers;
    int timestamp_min; /* 0: no periodic marks */
    /* Operations (issue 15). */
    int httpport;                 /* HTTP health, metrics and /consoles; 0 (default): off */
    char *httpaddr;               /* its address; NULL: 127.0.0.1 */
    unsigned long long logsize;   /* rotate a console log past this; 0: never */
    int logkeep;                  /* rotated files kept per console (default 2) */
    unsigned long long logbudget; /* all console logs, rotated included; 0: none */
    char *logship_tcp;            /* "HOST:PORT" of a collector (logship="tcp:..."), or NULL */
    char *logship_file;           /* a file shipped lines are appended to ("file:..."), or NULL */
    char *eventrules;             /* console event rules file (issue 17), or NULL: none */
    char *eventexec;              /* a program run per event, or NULL: none */
    char *httptokenfile;          /* the HTTP port's token (issue 18), or NULL: none */
    bool httpjoin;                /* the browser may join and force consoles */
    char *httpcert, *httpkey;     /* PEM files: HTTPS on the HTTP port; NULL: HTTP */
};

struct conf {
    struct conf_server server;
    struct conf_console *consoles; /* sorted by definition order */
    size_t nconsoles;
    int nerrors;   /* lines that were reported and skipped */
    int nwarnings; /* lines that were reported but still apply */
};

/* Receives one message per bad line: "FILE:LINE: text naming the token";
 * `warning` when the line still applies (conman only warns, e.g. about an
 * unknown logopts word). */
typedef void (*conf_report_fn)(void *ctx, bool warning, const char *msg);

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

/* Expands only %N (name), %D (the whole dev, unsanitized) and %% in `fmt`
 * into `out` (conman 0.2's three; log names and resetcmd use conf_format).
 * Returns 0 or -ENAMETOOLONG. */
int conf_expand(const char *fmt, const char *name, const char *dev, char *out, size_t outlen);

/* What a log name's conversion specifiers stand for. */
struct conf_fmt {
    const char *name;  /* %N, sanitized; NULL: "%N" kept as written */
    const char *devid; /* %D (conf_dev_id), sanitized; NULL: kept */
    long pid;          /* %P: the daemon's pid */
    time_t now;        /* %s, and %Y %y %m %d %H %M %S %g %G %j %u %U %V %w
                          %W in local time */
};

/* Pure: expands conman 0.3.1's log-name specifiers (above, and %% for a
 * '%') of `fmt` into `out`; `/` and anything but visible ASCII in %N and %D
 * become '_'. An unknown specifier stays as written ("%L" gives "%L"), as
 * conman's does. Returns 0, or -ENAMETOOLONG when the result and its NUL
 * do not fit in outlen. */
int conf_format(const char *fmt, const struct conf_fmt *v, char *out, size_t outlen);

/* Pure: %D of a console of type `type` (NULL: unknown, empty) as the type
 * defines it: conman 0.3.1's basename of the device for serial and unix
 * consoles, host:port for telnet, empty for process and ipmi; ours
 * user@host[:port] for ssh (consoles of one BMC differ by user). */
void conf_dev_id(const char *dev, const struct console_type *type, char *out, size_t outlen);

/* Pure: the last component of `path` (a pointer into it). */
const char *conf_basename(const char *path);

/* "a<sep>b", or a copy of whichever is not NULL, or NULL when both are
 * (malloc'd; NULL also when out of memory with an argument given). */
char *conf_join_values(const char *a, char sep, const char *b);

/* Splits a process dev string into argv, honouring '...' and "..." quotes.
 * Returns argc (>= 0) with a NULL-terminated argv of at most `max` - 1 words
 * written into `buf` storage, or -EINVAL (unterminated quote) / -E2BIG. */
int conf_split_args(const char *dev, char *buf, size_t buflen, char **argv, int max);

/* Pure: checks a "HOST:PORT" (port 1-65535, host not empty). Returns 0 or
 * -EINVAL. */
int conf_check_hostport(const char *s);

/* Parses "on/off/yes/no/true/false/1/0". Returns 0 or -EINVAL. */
int conf_parse_bool(const char *s, bool *out);

/* Parses logopts ("lock,sanitize,timestamp" and their no- forms) onto *opts.
 * Unknown words are skipped, as conman skips them: returns 1 with the first
 * named in `err`. Returns 0, or -EINVAL (value too long) with `err`. */
int conf_parse_logopts(const char *s, struct conf_logopts *opts, char *err, size_t errlen);

#endif
