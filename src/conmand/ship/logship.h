/* Log shipping, pure part: assembles console output into lines and encodes
 * each line as one newline-terminated JSON object (issue 15 part 5). No I/O
 * here, so unit tests and the fuzzer call it directly. */
#ifndef CONMAND_SHIP_LOGSHIP_H
#define CONMAND_SHIP_LOGSHIP_H

#include <stddef.h>
#include <time.h>

/* A line longer than this is cut and shipped in pieces of this size. */
#define LOGSHIP_LINE_MAX 4096

/* Per-console partial line; owned by whoever embeds or allocates it. */
struct logship_line {
    size_t len;
    unsigned char buf[LOGSHIP_LINE_MAX];
};

/* Called once per completed line (without CR/LF); `line` is only valid
 * during the call. */
typedef void (*logship_emit_fn)(void *arg, const unsigned char *line, size_t len);

/* Feeds raw console bytes: every LF ends a line (a CR before it is dropped,
 * also at the end of a piece cut because the buffer was full), a full buffer ends a
 * piece. Bytes after the last LF stay in `l` for the next call. */
void logship_line_feed(struct logship_line *l, const unsigned char *buf, size_t len,
                       logship_emit_fn emit, void *arg);

/* Upper bound of logship_encode's output for these lengths (plus NUL). */
size_t logship_encoded_max(size_t namelen, size_t linelen);

/* Writes {"console":NAME,"time":"YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ","line":TEXT}
 * and a LF into out. Strings are JSON-escaped: ", \ and control characters
 * (< 0x20 and 0x7f) as \n \r \t \b \f or \u00XX; each byte that is not part
 * of valid UTF-8 (overlong, surrogate, > U+10FFFF, truncated) as \u00XX with
 * the byte's value, so the output is always valid UTF-8 and the original
 * byte can be recovered. Returns the length written (out NUL-terminated),
 * or 0 when outlen is below logship_encoded_max(). */
size_t logship_encode(char *out, size_t outlen, const char *name, size_t namelen,
                      const struct timespec *t, const unsigned char *line, size_t len);

#endif
