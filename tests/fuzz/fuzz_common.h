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

/* A message buffer must hold a terminated string no longer than itself. */
static inline void fuzz_check_msg(const char *msg, size_t len)
{
    FUZZ_CHECK(memchr(msg, '\0', len) != NULL);
}

#endif
