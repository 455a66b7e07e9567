/* Log shipping, I/O part: sends the JSON lines of logship.c to a TCP
 * collector (bounded buffer, reconnect with backoff, drops counted, never
 * blocking consoles) and/or appends them to a file (reopened on SIGHUP). */
#ifndef CONMAND_SHIP_SHIPPER_H
#define CONMAND_SHIP_SHIPPER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conmand/ship/logship.h"

/* Bytes of JSON held for the collector while it is down or slow; what does
 * not fit is dropped and counted. Another as much may be in the kernel's
 * hands (one write in flight). */
#define SHIPPER_BUFFER_MAX (8u << 20)
#define SHIPPER_BACKOFF_MIN_MS 1000
#define SHIPPER_BACKOFF_MAX_MS 30000

enum shipper_tcp_state {
    SHIPPER_TCP_OFF,
    SHIPPER_TCP_DOWN,
    SHIPPER_TCP_CONNECTING,
    SHIPPER_TCP_UP
};

/* Counters for /metrics (read them, never write). */
struct shipper_stats {
    uint64_t lines_shipped; /* tcp: lines (and event objects) whose write completed */
    uint64_t bytes_shipped; /* tcp: JSON bytes written */
    uint64_t lines_dropped; /* tcp: buffer full, or lost with a failed write */
    uint64_t reconnects;    /* tcp: connections made after the first */
    enum shipper_tcp_state tcp_state;
    uint64_t file_lines;        /* file: lines appended */
    uint64_t file_bytes;        /* file: bytes appended */
    uint64_t file_write_errors; /* file: failed opens and writes (lines lost) */
};

struct shipper_buf {
    char *data;
    size_t len, cap;
    uint64_t lines;
};

/* One per daemon, owned by the server; the hub points at it. */
struct shipper {
    uv_loop_t *loop;
    char *host, *port; /* tcp target, NULL when off */
    char *path;        /* file target, NULL when off */
    int fd;            /* file, -1 when closed */
    uv_tcp_t tcp;
    bool tcp_open; /* tcp handle initialised and not closed */
    bool writing;  /* `out` is in a uv_write */
    bool closing;
    bool ever_up;
    bool warned_down;
    uint64_t dropped_at_down; /* lines_dropped when the collector went away */
    struct dial *dial;        /* connecting to the collector, or NULL */
    uv_write_t wreq;
    uv_timer_t retry;
    uint64_t backoff_ms;
    struct shipper_buf pending, out, filebuf;
    struct shipper_stats stats;
    char *scratch; /* one encoded line */
    size_t scratch_cap;
};

/* Starts shipping to tcp_target ("HOST:PORT") and/or file_path (either may
 * be NULL). Returns 0 or -errno with a message naming the target in err. */
int shipper_start(struct shipper *s, uv_loop_t *loop, const char *tcp_target, const char *file_path,
                  char *err, size_t errlen);

/* Ships the lines completed by these console bytes; *linep is the
 * console's partial line, allocated here on first use (the console frees
 * it with free()). */
void shipper_feed(struct shipper *s, struct logship_line **linep, const char *name,
                  const unsigned char *buf, size_t len);

/* Ships one ready-made JSON object (a console event), `len` bytes ending in
 * a LF, to the same targets and with the same bounds as lines. */
void shipper_send(struct shipper *s, const char *obj, size_t len);

/* SIGHUP: reopens the file target (rotation). */
void shipper_reopen(struct shipper *s);

/* Closes handles (the loop then finishes closing), then frees. */
void shipper_close(struct shipper *s);
void shipper_release(struct shipper *s);

#endif
