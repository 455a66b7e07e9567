/* A console: one device (process, unix socket, telnet, serial, IPMI SOL)
 * behind a table of per-type operations, its log file, the clients attached
 * to it, and reconnection with exponential backoff plus jitter. */
#ifndef CONMAND_CONSOLES_CONSOLE_H
#define CONMAND_CONSOLES_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include <uv.h>

#include "conmand/conf/conf.h"
#include "conmand/consoles/logfile.h"
#include "conmand/consoles/timerheap.h"

struct console;
struct client;
struct server;

enum console_state { CONSOLE_DOWN, CONSOLE_CONNECTING, CONSOLE_UP };

/* Per-type operations. The generic code owns the fd once open() returns it:
 * it polls it, reads it, writes the queued output and closes it. */
struct console_ops {
    const char *type;
    /* Starts a connection. Returns an fd (non-blocking) and sets
     * *connecting when the connect completes later (socket writable), or
     * returns -errno with a message naming the console in `err`. */
    int (*open)(struct console *c, bool *connecting, char *err, size_t errlen);
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
    /* Optional: called after the fd is closed (kill a child, free a
     * session). */
    void (*close)(struct console *c);
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

extern const struct console_ops console_process_ops;
extern const struct console_ops console_unix_ops;
extern const struct console_ops console_telnet_ops;
extern const struct console_ops console_serial_ops;
extern const struct console_ops console_ipmi_ops;
extern const struct console_ops console_ssh_ops;

/* Pure: picks the type from the dev string; `is_chardev` tells whether
 * an absolute dev path names a character device (a serial port). */
const struct console_ops *console_type_for(const char *dev, bool is_chardev);

/* Pure: the wait before reconnect attempt number `failures` (1, 2, ...):
 * 1 s doubling up to 60 s, plus up to 25% jitter from `rnd` in [0, 1). */
unsigned console_backoff_ms(unsigned failures, double rnd);

#define CONSOLE_OUT_MAX (256 * 1024) /* bytes queued for a device */

struct console {
    struct server *srv;
    struct conf_console cfg; /* owned deep copy */
    const struct console_ops *ops;
    enum console_state state;
    int fd;
    uv_poll_t *poll; /* owned; freed by its close callback */
    unsigned char *out;
    size_t outlen;
    struct timerheap_node retry; /* in srv->retries while waiting */
    struct console *next_dead;   /* srv->dead: destroyed, freed next turn */
    unsigned failures;
    unsigned quick; /* short retries left after console_wake() */
    time_t up_since;
    bool closing;  /* being removed: no more reconnects */
    bool starting; /* console_start_soon() is pending */
    pid_t pid;     /* process consoles */
    void *priv;    /* per-type state, owned by the type */
    struct logfile log;
    struct client **clients;
    size_t nclients, capclients;
};

/* Creates the console (not yet connected). Returns NULL on ENOMEM. */
struct console *console_create(struct server *srv, const struct conf_console *cfg);

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
void console_reap(struct server *srv);

/* Sets up the server's one reconnect timer and the reaper (before any
 * console starts); console_timers_close() closes both. */
void console_timers_init(struct server *srv);
void console_timers_close(struct server *srv);

/* Queues bytes for the device as they are (no IAC handling). */
void console_queue_raw(struct console *c, const void *buf, size_t len);

/* Queues client bytes for the device through the type's write hook. */
void console_write(struct console *c, const void *buf, size_t len);

/* Sends an informational message to the log and every attached reader
 * (not to `except`). */
void console_notify(struct console *c, const char *text, const struct client *except);

/* The device's fd became readable/writable (called by types that manage
 * their own connection, e.g. IPMI once the session is up). */
void console_up(struct console *c, int fd);

/* Reads the device now as if its fd were readable: for types that may hold
 * input in a library buffer the fd no longer signals (ssh: at handover). */
void console_read_ready(struct console *c);

int console_attach(struct console *c, struct client *cl);
void console_detach(struct console *c, struct client *cl);

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
