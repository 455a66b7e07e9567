/* A single-pass JSON reader for large HSM answers (tens of MB): it checks
 * the whole document, builds no tree, and hands each element of one
 * top-level list to a callback with just the members asked for. Pure. */
#ifndef CONFIGURE_JSONSCAN_H
#define CONFIGURE_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define JSCAN_MAX_KEYS 8

/* Filled afresh for every list element. Only top-level members of the
 * element whose names are in `keys` are reported; for a repeated member
 * the last one counts. */
struct jscan_fields {
    const char *keys[JSCAN_MAX_KEYS]; /* in: member names wanted */
    size_t nkeys;                     /* in */
    char *str[JSCAN_MAX_KEYS];        /* out: string value, NULL if absent or not a string */
    bool is_true[JSCAN_MAX_KEYS];     /* out: the value is the literal true */
    bool is_object;                   /* out: the element is an object */
};

/* Called for element `index`; a negative return stops the scan with it.
 * The strings in `f` are freed after the call returns. */
typedef int (*jscan_element_fn)(size_t index, const struct jscan_fields *f, void *ctx);

/* Scans `len` bytes: a JSON object whose member `list_key` is an array.
 * Returns 0; -EINVAL with the reason in `err` when the body is empty, not
 * JSON ("malformed JSON at line L column C: ...") or has no such list;
 * -ENOMEM; or the callback's negative return. Elements may have been
 * reported before a later syntax error is found. */
int jscan_list(const char *body, size_t len, const char *list_key, struct jscan_fields *f,
               jscan_element_fn fn, void *ctx, char *err, size_t errlen);

#endif
