/* A growable byte string, NUL-terminated: for pages built piece by piece
 * (the HTTP endpoints). The buffer is the owner's; strbuf_release() frees
 * it, strbuf_detach() hands it over. A failed allocation sets `failed`
 * and later appends do nothing, so a builder checks once at the end. */
#ifndef COMMON_STRBUF_H
#define COMMON_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *p; /* NULL until the first append */
    size_t len, cap;
    bool failed; /* an allocation failed: the contents are incomplete */
};

/* Room for `n` more bytes (plus the NUL); returns where they go, or NULL. */
char *strbuf_room(struct strbuf *sb, size_t n);

/* Counts `n` bytes written at strbuf_room()'s pointer. */
void strbuf_commit(struct strbuf *sb, size_t n);

void strbuf_add(struct strbuf *sb, const void *data, size_t n);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties it, keeping the memory. */
void strbuf_reset(struct strbuf *sb);

/* Returns the buffer (caller frees; NULL when empty) and empties sb. */
char *strbuf_detach(struct strbuf *sb, size_t *len);

void strbuf_release(struct strbuf *sb);

#endif
