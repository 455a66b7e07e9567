/* A secret (password, token): owned bytes that are zeroed on release and
 * have no print path. Use secret_hex() only to build a config file. */
#ifndef COMMON_SECRET_H
#define COMMON_SECRET_H

#include <stddef.h>

struct secret {
    char *bytes; /* NUL-terminated, owned */
    size_t len;
};

#define SECRET_INIT                                                                                \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/* Reads the first line of `path` (trailing CR/LF stripped) into `out`.
 * Returns 0, or -errno / -EINVAL with a message naming the file in `err`:
 * missing, unreadable, empty, or longer than `max_len` bytes (0: no limit). */
int secret_read_first_line(const char *path, size_t max_len, struct secret *out, char *err,
                           size_t errlen);

/* Sets `out` to a copy of `len` bytes. Returns 0 or -ENOMEM. */
int secret_set(struct secret *out, const char *bytes, size_t len);

/* Lowercase hex of the secret into `hex` (2*len+1 bytes). Returns 0, or
 * -ENOSPC when `hexlen` is too small. */
int secret_hex(const struct secret *s, char *hex, size_t hexlen);

/* Decodes the hex digits `hex` (either case, no "0x") into `out`, two
 * digits a byte; an odd last digit is the high nibble of a last byte, as
 * conman reads ipmiopts keys (callers that want pairs check the count).
 * Sets *n to the byte count. Returns 0, -EINVAL when a character is not a
 * hex digit, or -E2BIG when the bytes would not fit in `outlen` (`out` then
 * untouched). The caller wipes `out`. */
int secret_hex_decode(const char *hex, unsigned char *out, size_t outlen, size_t *n);

/* Calls `fn` on each `delims`-separated piece of `s` (strtok_r's pieces:
 * empty ones are skipped), in a scratch copy that `fn` may change, until
 * one call returns nonzero; then wipes and frees the copy. For option
 * strings that hold secrets. Returns that call's value, 0, or -ENOMEM. */
typedef int (*secret_piece_fn)(char *piece, void *ctx);
int secret_each_piece(const char *s, const char *delims, secret_piece_fn fn, void *ctx);

/* Whether `len` bytes at `p` are the secret, in time that depends on the
 * lengths only (no early exit on the first differing byte). */
int secret_equal(const struct secret *s, const char *p, size_t len);

/* Zeroes and frees; leaves `s` empty and reusable. */
void secret_release(struct secret *s);

/* For a secret-bearing string outside struct secret (an option string, a
 * command line, generated config text): zeroes its strlen() bytes, then
 * frees it. NULL is nothing to do. */
void secret_free(char *s);

/* Zeroes memory in a way the compiler cannot drop. */
void secret_wipe(void *p, size_t n);

#endif
