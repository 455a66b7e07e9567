/* One console's log file: open 0600 with a header, conman's line-ending,
 * sanitize and timestamp processing, replay of the tail, reopen on SIGHUP.
 * A failing disk is reported once and retried on the next write. */
#ifndef CONMAND_LOGFILE_H
#define CONMAND_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conmand/conf.h"

/* Line state of conman's newline state machine. */
enum logfile_line { LOGFILE_LINE_INIT, LOGFILE_LINE_DATA, LOGFILE_LINE_CR, LOGFILE_LINE_LF };

/* Worst-case output bytes per input byte of logfile_format(). */
#define LOGFILE_EXPAND 24

struct logfile {
    char *path; /* owned; NULL: not logged */
    char *console;
    struct conf_logopts opts;
    int fd;
    enum logfile_line line;
    bool failing;     /* last write failed; reported once */
    uint64_t dropped; /* bytes lost while failing */
};

/* Sets up (does not open) the log of console `name` at `path` (owned copy;
 * NULL: no log). Returns 0 or -ENOMEM. */
int logfile_init(struct logfile *l, const char *name, const char *path,
                 const struct conf_logopts *opts);

/* Opens (or reopens) the file 0600 for appending, optionally truncating,
 * takes the write lock if opts.lock, writes the "log opened" header.
 * Returns 0 or -errno with a message naming the file. */
int logfile_open(struct logfile *l, bool truncate, time_t now, char *err, size_t errlen);

/* Console data, processed per opts. */
void logfile_write_data(struct logfile *l, const void *buf, size_t len, time_t now);

/* An informational message, written as is; resets the line state. */
void logfile_write_msg(struct logfile *l, const char *msg, size_t len);

/* Copies up to `len` bytes from the end of the file into `buf`.
 * Returns the count or -errno. */
long logfile_tail(const struct logfile *l, char *buf, size_t len);

/* True when the path no longer names the open file (rotated away, deleted)
 * or the file is not open: a reopen is due. An unmoved file keeps its fd. */
bool logfile_moved(const struct logfile *l);

void logfile_close(struct logfile *l);
void logfile_release(struct logfile *l);

/* Pure: processes `len` bytes of console output into `out` (at least
 * len * LOGFILE_EXPAND + 32 bytes) per conman's rules: CR/LF coalesced into
 * CR LF, a lone LF or CR completed, timestamps after line ends, control and
 * 8-bit bytes made printable when sanitizing. Returns the output length. */
size_t logfile_format(enum logfile_line *state, const struct conf_logopts *opts,
                      const unsigned char *in, size_t len, char *out, time_t now);

/* "YYYY-MM-DD HH:MM:SS " in local time; returns its length (20). */
size_t logfile_stamp(time_t now, char *out, size_t outlen);

#endif
