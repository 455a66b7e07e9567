/* Helpers shared by the harnesses of tests/fuzz. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invariant the code promises; abort() makes libFuzzer save the input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated copy of the input (NULs inside stay: C parsers see the
 * text up to the first one, as they would in a file read with a NUL). */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* The input as text, or NULL (skip it) when it is longer than `max`. The
 * caller frees it. */
static inline char *fuzz_text(const uint8_t *data, size_t size, size_t max)
{
    return size > max ? NULL : fuzz_strdup(data, size);
}

/* The first byte of an input steers a harness (piece sizes, options); the
 * rest is the text under test, copied as fuzz_strdup does. */
struct fuzz_knobbed {
    uint8_t knob;
    char *text; /* the caller frees it */
    size_t len;
};

/* False (skip the input) when it has no byte or more than `max`. */
static inline bool fuzz_knob_and_text(const uint8_t *data, size_t size, size_t max,
                                      struct fuzz_knobbed *in)
{
    if (size < 1 || size > max)
        return false;
    in->knob = data[0];
    in->len = size - 1;
    in->text = fuzz_strdup(data + 1, size - 1);
    return true;
}

/* Ends `s` at its first newline: what follows it, or NULL without one. */
static inline char *fuzz_split_line(char *s)
{
    char *rest = strchr(s, '\n');
    if (rest)
        *rest++ = '\0';
    return rest;
}

/* A message buffer must hold a terminated string no longer than itself. */
static inline void fuzz_check_msg(const char *msg, size_t len)
{
    FUZZ_CHECK(memchr(msg, '\0', len) != NULL);
}

#endif
