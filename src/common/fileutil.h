/* Whole-file reads and atomic writes, with errors that name the file. */
#ifndef COMMON_FILEUTIL_H
#define COMMON_FILEUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Reads all of `path` into a new NUL-terminated buffer (caller frees).
 * Fails with -EFBIG when the file exceeds `max_bytes`. Returns 0 or -errno,
 * with a message naming the file in `err`. */
int file_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len, char *err,
                  size_t errlen);

/* The same for an open descriptor, read from its current offset to the end
 * (the descriptor stays open); `path` only names it in messages. */
int file_read_fd(int fd, const char *path, size_t max_bytes, char **out, size_t *out_len,
                 char *err, size_t errlen);

/* Writes `data` to a temp file beside `path`, fsyncs it, sets `mode`, renames
 * it over `path` and fsyncs the directory, so readers see the old file or the
 * new one, never a part. Returns 0 or -errno with a message naming the file. */
int file_write_atomic(const char *path, const char *data, size_t len, mode_t mode, char *err,
                      size_t errlen);

#endif
