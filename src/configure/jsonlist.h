/* The members configure_conman needs from one list of a large HSM answer
 * (tens of MB), read with yajl's streaming parser: bytes go in as they
 * arrive, no tree is built, and only the wanted top-level members of each
 * list element come out, each bounded in size. Pure: no I/O. */
#ifndef CONFIGURE_JSONLIST_H
#define CONFIGURE_JSONLIST_H

#include <stdbool.h>
#include <stddef.h>

#define JLIST_MAX_KEYS 8
/* A wanted string longer than this is cut to it and flagged: every value
 * we keep (names, addresses, classes) is far shorter. */
#define JLIST_MAX_STRING 1024
/* Deeper nesting is refused: HSM records are two or three levels deep. */
#define JLIST_MAX_DEPTH 64

/* Filled afresh for every list element. Only top-level members of the
 * element whose names are in `keys` are reported; for a repeated member
 * the last one counts. */
struct jlist_fields {
    const char *keys[JLIST_MAX_KEYS]; /* in: member names wanted */
    size_t nkeys;                     /* in */
    const char *str[JLIST_MAX_KEYS];  /* out: string value, NULL if absent or not a string */
    bool too_long[JLIST_MAX_KEYS];    /* out: str was cut to JLIST_MAX_STRING bytes */
    bool is_true[JLIST_MAX_KEYS];     /* out: the value is the literal true */
    bool is_object;                   /* out: the element is an object */
};

/* Called for element `index`; a negative return stops the parse with it.
 * The strings in `f` are valid only during the call. */
typedef int (*jlist_element_fn)(size_t index, const struct jlist_fields *f, void *ctx);

struct jlist;

/* A parser for a JSON object whose member `list_key` is an array; `f`
 * (keys set) and `ctx` must outlive it. Returns 0 or -ENOMEM. */
int jlist_open(struct jlist **out, const char *list_key, struct jlist_fields *f,
               jlist_element_fn fn, void *ctx);

/* Parses the next `len` bytes. Returns 0; -EINVAL with "malformed JSON at
 * line L column C: <reason>" in `err`; or the callback's negative return
 * ("out of memory" in `err` for -ENOMEM). Elements may have been reported
 * before a later error is found. */
int jlist_feed(struct jlist *j, const char *data, size_t len, char *err, size_t errlen);

/* Ends the input. Returns 0, or -EINVAL when the body was empty, ended
 * early, or had no `list_key` list ("JSON has no \"<key>\" list"). */
int jlist_finish(struct jlist *j, char *err, size_t errlen);

void jlist_close(struct jlist *j);

/* open + feed + finish + close over one buffer. */
int jlist_parse(const char *body, size_t len, const char *list_key, struct jlist_fields *f,
                jlist_element_fn fn, void *ctx, char *err, size_t errlen);

#endif
