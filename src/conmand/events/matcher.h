/* Console event matcher (issue 17), one per console: console bytes as
 * logged in, events out. Assembles whole lines (any split over reads),
 * strips ANSI escapes and control characters for matching, runs every rule
 * on each line and folds the lines of one multi-line event together. Pure:
 * the time and the log offset are passed in; nothing is allocated per line
 * (only by matcher_init and matcher_set_rules). */
#ifndef CONMAND_EVENTS_MATCHER_H
#define CONMAND_EVENTS_MATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conmand/events/rules.h"

/* Bytes of a line, after stripping, that the rules see and an event
 * carries: a longer line is matched once, on its first MATCHER_LINE_MAX
 * bytes, as soon as it passes them; the rest up to its LF is skipped. */
#define MATCHER_LINE_MAX 1024

/* The default quiet period: a rule's lines closer than this to the last
 * line folded belong to the same event. */
#define MATCHER_QUIET_MS 5000

enum matcher_kind {
    MATCHER_START, /* a new event: report it */
    MATCHER_FOLD,  /* one more line of the open event of this rule */
};

/* What the callback gets: nothing in it points at the console, so the
 * caller can copy it into a ring shared by all consoles. */
struct matcher_event {
    enum matcher_kind kind;
    size_t rule; /* index in the rule set */
    enum rules_severity severity;
    int64_t time_ms;           /* the time passed with the bytes of the line's end */
    uint64_t offset;           /* log offset of the line's first byte */
    uint32_t lines;            /* lines in the event so far: 1 at MATCHER_START */
    const unsigned char *line; /* stripped, no LF; valid during the call only */
    size_t len;                /* <= MATCHER_LINE_MAX */
};

typedef void (*matcher_fn)(void *arg, const struct matcher_event *ev);

/* Per rule, per console. */
struct matcher_fold {
    int64_t last_ms; /* time of the last line folded into the open event */
    uint32_t lines;  /* lines of the open event; 0: none open */
    uint64_t limit_hits;
};

/* Escape-sequence state carried between reads. */
enum matcher_esc {
    MATCHER_TEXT,
    MATCHER_ESC,
    MATCHER_ESC_INTER,
    MATCHER_CSI,
    MATCHER_STR,
    MATCHER_STR_ESC
};

/* One console's state; embed it or allocate it, then matcher_init. */
struct matcher {
    struct rules *rules;        /* borrowed: must outlive its use here */
    struct matcher_fold *folds; /* one per rule, owned */
    int64_t quiet_ms;
    uint64_t line_off; /* log offset of the current line's first byte */
    bool in_line;      /* a byte of the current line has been fed */
    bool skipping;     /* the line passed MATCHER_LINE_MAX and was matched */
    enum matcher_esc esc;
    size_t len;
    unsigned char buf[MATCHER_LINE_MAX];
};

/* Returns 0 or -ENOMEM. `rules` may be NULL (nothing matches). */
int matcher_init(struct matcher *m, struct rules *rules, int64_t quiet_ms);

/* Frees what matcher_init allocated (not the rules). */
void matcher_release(struct matcher *m);

/* Switches to another rule set (a reload): counters and open events start
 * afresh, the partial line is kept. Returns 0, or -ENOMEM with the old set
 * still in use. */
int matcher_set_rules(struct matcher *m, struct rules *rules);

/* Feeds buf[0..len) as written to the log, `offset` being the log offset of
 * buf[0] (use the new file's offsets after a rotation). Every line completed
 * here is matched at `now_ms`; `fn` is called for each event line. */
void matcher_feed(struct matcher *m, const unsigned char *buf, size_t len, uint64_t offset,
                  int64_t now_ms, matcher_fn fn, void *arg);

/* Matches the pending partial line, if any, as if it were complete, and
 * forgets it (what follows starts a new line). For the end of a file, or
 * for a prompt that no LF follows ("node1 login: ") once a console is idle. */
void matcher_flush(struct matcher *m, int64_t now_ms, matcher_fn fn, void *arg);

/* Lines of rule i's open event (0: none open): the count to show. */
uint32_t matcher_lines(const struct matcher *m, size_t i);

/* Matches of rule i on this console that hit a PCRE2 limit (no events). */
uint64_t matcher_limit_hits(const struct matcher *m, size_t i);

#endif
