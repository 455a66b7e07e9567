/* A server's console events (issue 17): the rule set in force (SERVER
 * eventrules, re-read on SIGHUP), per console its matcher and counters, and
 * the ring of the last EVENTS_RING events that /events serves. Every event
 * is also one line in the server log. Loop thread only. */
#ifndef CONMAND_EVENTS_EVENTHUB_H
#define CONMAND_EVENTS_EVENTHUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/strbuf.h"
#include "conmand/events/matcher.h"
#include "conmand/events/rules.h"

#define EVENTS_RING 1000
/* A rules file larger than this is refused (256 rules of 1 KiB regex fit). */
#define EVENTS_RULES_MAX_BYTES (1024 * 1024)

/* One event, as /events shows it. */
struct event_record {
    uint64_t seq; /* 1, 2, ...: 0 is an empty slot */
    char *console;
    char rule[RULES_NAME_MAX + 1];
    enum rules_severity severity;
    time_t time;
    char *log;           /* the console's log file when it happened, or NULL */
    uint64_t generation; /* that log's rotations then (logfile.generation) */
    uint64_t offset;     /* of the matched line's first byte in that file */
    uint32_t lines;      /* lines folded into it so far */
    size_t len;
    char line[MATCHER_LINE_MAX + 1]; /* stripped, NUL-terminated */
};

struct event_record;

/* Told of each new event once it is in the ring (log shipping, eventexec). */
typedef void (*eventhub_listener)(void *arg, const struct event_record *r);

struct eventhub {
    eventhub_listener listener; /* or NULL */
    void *listener_arg;
    struct rules *rules;       /* in force, or NULL (no SERVER eventrules) */
    char *path;                /* its file, for messages */
    struct event_record *ring; /* EVENTS_RING slots, allocated with the first event */
    size_t next;               /* the slot the next event takes */
    uint64_t seq;              /* events so far */
};

/* One console's matcher and counters, for the rule set it was made with. */
struct console_events {
    struct matcher m;
    size_t n;           /* rules */
    uint64_t *counts;   /* events per rule */
    time_t *last;       /* time of the last event per rule; 0: none */
    uint64_t *open_seq; /* per rule: ring seq of the event lines fold into */
};

/* Reads and compiles a rules file. Returns 0 with the set in *out, or
 * -errno with the reason in `err` ("PATH:LINE: ..." for a bad rule). */
int eventhub_read_rules(const char *path, struct rules **out, char *err, size_t errlen);

/* Puts `rules` (owned now, may be NULL) in force and frees the old set:
 * every console must have moved to the new set first. */
void eventhub_adopt(struct eventhub *h, struct rules *rules, const char *path);

void eventhub_release(struct eventhub *h);

/* A console's state for `rules`; *out is NULL when rules is NULL. Returns
 * 0 or -ENOMEM. */
int console_events_create(struct rules *rules, struct console_events **out);
void console_events_free(struct console_events *e);

/* Feeds logged bytes (logfile_tap) to the console's matcher; events go to
 * the server log, the ring and the console's counters. */
struct eventhub_feed {
    struct eventhub *hub;
    struct console_events *ev;
    const char *console;
    const char *log; /* the live log path, or NULL */
    uint64_t generation;
    int64_t now_ms;
};
void eventhub_feed(const struct eventhub_feed *f, const char *buf, size_t len, uint64_t offset);

/* Appends r as one JSON object (no LF), the form /events, the log shipping
 * stream and eventexec all use: {"kind":"event","seq":N,"console":..,
 * "rule":..,"severity":..,"time":..,"log":FILE,"offset":N,"lines":N,
 * "line":..}, `file` being where the line is now (NULL: not logged, or
 * rotated away). Pure. */
void event_record_json(struct strbuf *sb, const struct event_record *r, const char *file);

/* The k-th event still in the ring, oldest first; NULL past the last. */
const struct event_record *eventhub_at(const struct eventhub *h, size_t k);

#endif
