/* A console: one device (process, unix socket, telnet, serial, IPMI SOL,
 * SSH) behind its type's operations (consoles/types.h), its log file, the
 * readers attached to it, and reconnection with backoff plus jitter. */
#ifndef CONMAND_CONSOLES_CONSOLE_H
#define CONMAND_CONSOLES_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <uv.h>

#include "conmand/conf/conf.h"
#include "conmand/consoles/logfile.h"
#include "conmand/consoles/timerheap.h"

struct console;
struct console_events;
struct console_hub;
struct eventhub;
struct logship_line;
struct rules;
struct shipper;

enum console_state { CONSOLE_DOWN, CONSOLE_CONNECTING, CONSOLE_UP };

/* Per-type operations (the `ops` of a console_types entry). The generic
 * code owns the fd once connect() returns it: it polls it, reads it, writes
 * the queued output and closes it. */
struct console_ops {
    /* Optional: sets up per-console state (c->priv) before the first
     * connect, and again after release(). Returns 0 or -ENOMEM (the
     * connect is then retried like a failed one). */
    int (*init)(struct console *c);
    /* Starts a connection. Returns an fd (non-blocking) and sets
     * *connecting when the connect completes later (socket writable), or
     * returns -errno with a message naming the console in `err`
     * (-EINPROGRESS: the type calls console_up() itself later). */
    int (*connect)(struct console *c, bool *connecting, char *err, size_t errlen);
    /* Optional: decides whether a pending connection is up (1), still
     * pending (0) or failed (-errno, reason in err); default checks
     * SO_ERROR once the socket is writable. */
    int (*finish)(struct console *c, char *err, size_t errlen);
    /* Wait for the fd to be readable (not writable) while connecting. */
    bool connect_on_read;
    /* Optional: strips protocol bytes (telnet IAC) from device input in
     * place; may queue replies with console_queue_raw(). Returns new len. */
    size_t (*filter_in)(struct console *c, unsigned char *buf, size_t len);
    /* Optional: queues client bytes for the device (telnet doubles IAC);
     * default queues them as they are. */
    void (*write)(struct console *c, const unsigned char *buf, size_t len);
    /* Optional: ends the connection after its fd is closed (kill a child,
     * end a session); per-console state may stay for the next one. */
    void (*disconnect)(struct console *c);
    /* Optional: frees the per-console state, when the console is destroyed
     * or changes type (after disconnect). */
    void (*release)(struct console *c);
    /* The peer as conman names it: "\"cat\" (pid 42)", "<host:port>". */
    void (*describe)(const struct console *c, char *out, size_t outlen);
    /* Optional: a serial break (telnet BREAK, tcsendbreak, IPMI break). */
    void (*send_break)(struct console *c);
    /* Optional: read(2)/write(2) replacements for types whose bytes pass
     * through a library on the fd (ssh: decrypts in libssh). Same contract:
     * count, 0 at end of file (read), or -1 with errno (EAGAIN: not now). */
    ssize_t (*dev_read)(struct console *c, void *buf, size_t len);
    ssize_t (*dev_write)(struct console *c, const void *buf, size_t len);
    /* Optional: the console starts (on) or stops (off) waiting to
     * reconnect; a type that can see its device appear (unix: sockets,
     * through inotify) calls console_wake() then. Called with on while
     * already waiting after every failed attempt. */
    void (*await_dev)(struct console *c, bool on);
};

/* Pure: the wait before reconnect attempt number `failures` (1, 2, ...):
 * 1 s doubling up to 60 s, plus up to 25% jitter from `rnd` in [0, 1). */
unsigned console_backoff_ms(unsigned failures, double rnd);

/* Whoever is attached to a console to see its output (a client session).
 * The console core knows its readers only through these callbacks, so it
 * never depends on what reads it. */
struct console_reader;
struct console_reader_ops {
    /* Console bytes, as logged. */
    void (*output)(struct console_reader *r, const unsigned char *buf, size_t len);
    /* An informational message ("Console [x] connected to ..."). */
    void (*notice)(struct console_reader *r, const char *text);
    /* The console is being destroyed: the reader must detach from it. */
    void (*gone)(struct console_reader *r, struct console *c);
};
struct console_reader {
    const struct console_reader_ops *ops;
};

/* Per-type state shared by all consoles of a type (unix: the inotify
 * watcher), at most this many types. */
#define CONSOLE_HUB_TYPE_SLOTS 4

/* What every console shares, owned by the daemon: the loop, the live
 * SERVER settings, the reconnect heap and its timers, the reaper of
 * destroyed consoles, the log cache and a read buffer. */
struct console_hub {
    uv_loop_t *loop;
    const struct conf_server *settings; /* live: reload replaces what it points to */
    const char *conf_path;              /* for messages */
    const char *cwd;                    /* where relative paths were given */
    bool zero_logs;                     /* -z: truncate logs at start */
    bool stopping;                      /* no more reconnects */
    unsigned seed;                      /* backoff jitter */
    struct timerheap retries;           /* deadlines of starts and reconnects, uv_now() ms */
    uv_timer_t retry_timer;             /* one for every console waiting */
    uv_idle_t retry_idle;               /* runs the rest of a busy turn's retries */
    uv_check_t reaper;                  /* frees destroyed consoles after the turn */
    struct console *dead;
    struct logcache logs;    /* batched console log output */
    struct shipper *ship;    /* log shipping (SERVER logship), or NULL; the server's */
    struct eventhub *events; /* console events (SERVER eventrules), or NULL; the server's */
    struct {
        const struct console_ops *ops;
        void *state;
    } type_state[CONSOLE_HUB_TYPE_SLOTS];
    unsigned char devbuf[65536]; /* console output scratch (one loop thread) */
};

/* Sets up the hub's timers, reaper and log cache on `loop`. */
void console_hub_init(struct console_hub *h, uv_loop_t *loop);

/* Closes what console_hub_init() opened (the loop then finishes closing). */
void console_hub_close(struct console_hub *h);

/* Frees the hub's memory once the loop has closed its handles. */
void console_hub_release(struct console_hub *h);

/* The slot for per-type state of `ops` (NULL-initialised), or NULL when
 * every slot is taken. */
void **console_hub_type_state(struct console_hub *h, const struct console_ops *ops);

/* Room for `n` consoles waiting at once, so that scheduling a start or a
 * reconnect never allocates. Returns 0 or -ENOMEM. */
int console_hub_reserve(struct console_hub *h, size_t n);

#define CONSOLE_OUT_MAX (256 * 1024) /* bytes queued for a device */

/* What /metrics and /consoles report of one console (read them, never
 * write them outside console.c). */
struct console_stats {
    uint64_t connects;    /* times it came up */
    uint64_t disconnects; /* times it went down after being up */
    uint64_t attempts;    /* connection attempts, the first and every retry */
    uint64_t bytes_read;  /* from the device, after protocol bytes are taken out */
    time_t created;       /* when this conmand started watching it */
    time_t last_output;   /* the last byte read; 0: none yet */
    time_t since;         /* the last change between up and not up (or created) */
    char last_error[192]; /* why it last failed to connect or went down; "" */
};

struct console {
    struct console_hub *hub;
    struct conf_console cfg;         /* owned deep copy */
    const struct console_type *type; /* from its dev; NULL: no known type */
    const struct console_ops *ops;   /* type->ops, or NULL */
    bool type_ready;                 /* ops->init done */
    enum console_state state;
    int fd;
    uv_poll_t *poll; /* owned; freed by its close callback */
    unsigned char *out;
    size_t outlen;
    struct timerheap_node retry; /* in hub->retries while waiting */
    struct console *next_dead;   /* hub->dead: destroyed, freed next turn */
    unsigned failures;
    unsigned quick; /* short retries left after console_wake() */
    time_t up_since;
    bool closing;  /* being removed: no more reconnects */
    bool starting; /* console_start_soon() is pending */
    pid_t pid;     /* a child process of the console (process consoles), or 0 */
    void *priv;    /* per-type state, owned by the type */
    struct logfile log;
    struct console_reader **readers;
    size_t nreaders, capreaders;
    struct logship_line *shipline; /* partial line for log shipping, or NULL; ours */
    struct console_events *events; /* its matcher and event counters, or NULL; ours */
    struct console_stats stats;
};

/* Creates the console (not yet connected). Returns NULL on ENOMEM. */
struct console *console_create(struct console_hub *hub, const struct conf_console *cfg);

/* Frees a console that console_create() made and that never started. */
void console_free_unstarted(struct console *c);

/* Takes `cfg` (zeroed after) as the console's settings and type, for a
 * console that is down: no allocation. */
void console_reconfigure(struct console *c, struct conf_console *cfg);

/* Opens the log (creating it 0600) and starts connecting. */
void console_start(struct console *c, bool truncate_log);

/* The same, from the loop a batch at a time (at start-up: the server
 * answers queries while thousands of consoles open their logs and
 * connect). */
void console_start_soon(struct console *c);

/* Connect now if waiting for a retry (a client asked for it). */
void console_kick(struct console *c);

/* The device appeared (its socket was created): reconnect now instead of
 * at the end of the backoff. Goes through the retry heap, so thousands at
 * once are connected a time slice per loop turn, and retries a few times
 * shortly after, since a socket exists from bind() but is only connectable
 * after listen(). No-op unless the console is down and waiting. */
void console_wake(struct console *c);

/* Stops the type's watch for the device (before its dev changes). */
void console_unwait(struct console *c);

/* Drops the connection (telling clients and the log why) and schedules a
 * reconnect. Safe to call in any state. */
void console_down(struct console *c, const char *why);

/* Stops for good; freed by console_reap() on the next loop turn. */
void console_destroy(struct console *c);

/* Frees the consoles destroyed so far (called once per loop turn while
 * there are any, and at exit). */
void console_reap(struct console_hub *hub);

/* Stops and closes a malloc'd poll handle (freed once closed) and closes
 * its fd; both are reset. For the console's own and a type's pollers. */
void console_close_poll(uv_poll_t **poll, int *fd);

/* Queues bytes for the device as they are (no IAC handling). */
void console_queue_raw(struct console *c, const void *buf, size_t len);

/* Queues client bytes for the device through the type's write hook. */
void console_write(struct console *c, const void *buf, size_t len);

/* Sends an informational message to the log and every attached reader
 * (not to `except`). */
void console_notify(struct console *c, const char *text, const struct console_reader *except);

/* The device's fd became readable/writable (called by types that manage
 * their own connection, e.g. IPMI once the session is up). */
void console_up(struct console *c, int fd);

/* Reads the device now as if its fd were readable: for types that may hold
 * input in a library buffer the fd no longer signals (ssh: at handover). */
void console_read_ready(struct console *c);

/* Attaches a reader (output and notices from now on). Returns 0 or
 * -ENOMEM. */
int console_attach(struct console *c, struct console_reader *r);
void console_detach(struct console *c, struct console_reader *r);

/* The peer as conman names it: "\"cat\" (pid 42)", "<host:port>". */
void console_describe(const struct console *c, char *out, size_t outlen);

/* Whether another conmand serves the console (a peer: dev): it has no
 * device or log here, and clients reach it through its owner. */
bool console_is_remote(const struct console *c);

/* Matches the console's output with `rules` from now on (NULL: none),
 * counters starting afresh. Returns 0, or -ENOMEM with no matching. */
int console_set_rules(struct console *c, struct rules *rules);

/* Every reader leaves the console, told as when it is removed. */
void console_drop_readers(struct console *c);

/* Sends a serial break if the type can. */
void console_send_break(struct console *c);

/* SIGHUP: the same, but only when the name expands to another file now or
 * the file was moved away (logrotate); otherwise the log keeps its
 * descriptor and gets no new header. */
void console_refresh_log(struct console *c);

/* The log file of the console at time `now`: its log name expanded
 * (conf_format, %D per its type) under logdir. Returns 0, -ENOENT (not
 * logged) or -ENAMETOOLONG. */
int console_log_path(const struct console *c, time_t now, char *out, size_t outlen);

/* The child `pid` exited (called by the SIGCHLD reaper). */
void console_child_exited(struct console *c, int status);

#endif
