/* The conman client protocol: parsing request lines and formatting response
 * lines and in-band messages. Pure: no sockets, no clocks (times are passed
 * in). See shared/reference/conman-protocol.md. */
#ifndef CONMAND_CLIENTS_PROTO_H
#define CONMAND_CLIENTS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Error codes, in the order of conman's enum. */
enum proto_err {
    PROTO_ERR_NONE = 0,
    PROTO_ERR_LOCAL = 1,
    PROTO_ERR_BAD_REQUEST = 2,
    PROTO_ERR_BAD_REGEX = 3,
    PROTO_ERR_AUTHENTICATE = 4,
    PROTO_ERR_NO_CONSOLES = 5,
    PROTO_ERR_TOO_MANY_CONSOLES = 6,
    PROTO_ERR_BUSY_CONSOLES = 7,
    PROTO_ERR_NO_RESOURCES = 8,
};

enum proto_cmd { PROTO_CMD_NONE, PROTO_CMD_QUERY, PROTO_CMD_MONITOR, PROTO_CMD_CONNECT };

/* Escape byte the client sends before a command letter. */
#define PROTO_ESC 0xFF
#define PROTO_ESC_BREAK 'B'
#define PROTO_ESC_DEL 'D'
#define PROTO_ESC_FORCE 'F'
#define PROTO_ESC_JOIN 'J'
#define PROTO_ESC_LOG 'L'
#define PROTO_ESC_MONITOR 'M'
#define PROTO_ESC_QUIET 'Q'
#define PROTO_ESC_RESET 'R'
#define PROTO_ESC_SUSPEND 'Z'

/* Session input decoder: a client's keystrokes are console bytes, with
 * PROTO_ESC doubled for a literal 0xFF and PROTO_ESC + letter for a
 * command. The state (a pending PROTO_ESC) carries over between reads, so
 * an escape split across two reads is decoded once. */
struct proto_unescape {
    bool got_esc;
};

/* Decodes in[0..len) until the first command: the console bytes before it
 * go to out (at most len bytes; out may be in), their count to *outlen, the
 * command letter to *cmd (-1 when none was reached). Returns the input
 * bytes consumed; call again with the rest after handling the command. */
size_t proto_unescape(struct proto_unescape *st, const unsigned char *in, size_t len,
                      unsigned char *out, size_t *outlen, int *cmd);

/* Longest request line, its '\n' included: conman 0.3.x reads 128 KiB
 * (0.2.7 32 KiB). A longer line is refused, never cut. */
#define PROTO_MAX_LINE (128 * 1024)
#define PROTO_NAME_MAX 256

/* Client regexes are compiled by PCRE2 within these bounds, so that no
 * request stalls the loop: the joined pattern's length, and per console
 * name the backtracking steps, nesting depth and heap of one match. */
#define PROTO_REGEX_MAX_LEN (16 * 1024)
#define PROTO_REGEX_MATCH_LIMIT 20000
#define PROTO_REGEX_DEPTH_LIMIT 2000
#define PROTO_REGEX_HEAP_KIB 1024

struct proto_req {
    char user[PROTO_NAME_MAX];
    char tty[PROTO_NAME_MAX];
    /* HELLO VIA='host': the session was relayed by another conmand for a
     * client on `host` (peer: consoles); "" for a direct client. */
    char via[PROTO_NAME_MAX];
    enum proto_cmd cmd;
    bool join, force, broadcast, regex, quiet;
    char **patterns; /* owned, each NUL-terminated; as many as the line holds */
    size_t npatterns, cappatterns;
};

/* Frees the patterns (the request can be parsed into again). */
void proto_req_release(struct proto_req *r);

/* Appends a copy of `pat` to the request's patterns. Returns 0 or -ENOMEM. */
int proto_req_add_pattern(struct proto_req *r, const char *pat, size_t len);

/* Parses the greeting line (without '\n'). Unknown tokens are ignored as
 * conman does. Returns 0, or PROTO_ERR_BAD_REQUEST when there is no user,
 * with the error text in `msg`. */
int proto_parse_hello(const char *line, struct proto_req *r, char *msg, size_t msglen);

/* Parses the request line. Returns 0, or -ENOMEM. An unknown command
 * leaves r->cmd NONE (answered as "no matching consoles", like conman). */
int proto_parse_request(const char *line, struct proto_req *r);

/* A compiled request: its patterns as globs, or as one regex (with
 * r->regex: alternatives joined, whole name, case-insensitive). Owned by
 * the caller, freed with proto_matcher_free(). */
struct proto_matcher;

/* Returns 0, or -PROTO_ERR_BAD_REGEX / -PROTO_ERR_NO_RESOURCES with the
 * text in `msg`. An empty pattern list matches every name for QUERY and
 * none for MONITOR or CONNECT, as conman does. */
int proto_matcher_create(const struct proto_req *r, struct proto_matcher **out, char *msg,
                         size_t msglen);

/* 1 when `name` matches, 0 when not, or -PROTO_ERR_BAD_REGEX with the text
 * in `msg` when the regex exceeds its match limits on this name. */
int proto_matcher_test(struct proto_matcher *m, const char *name, char *msg, size_t msglen);

void proto_matcher_free(struct proto_matcher *m);

/* Matches the request's patterns against `names` with a matcher. Sets
 * match[i]. Returns the number of matches, or -PROTO_ERR_* with the text
 * in `msg`. */
int proto_match(const struct proto_req *r, const char *const *names, size_t n, bool *match,
                char *msg, size_t msglen);

/* Reads a server's reply line (without its '\n'; a '\r' before it is
 * ignored), as a session run for someone else (a web viewer) gets it:
 * 0 for "OK ...", the code (1 to 999) for "ERROR CODE=n MESSAGE='text'"
 * with the text, quotes off, in `msg` (cut to fit), or -1 for any other
 * line. */
int proto_parse_reply(const char *line, char *msg, size_t msglen);

/* "OK CONSOLE='a' CONSOLE='b'\n" into out (truncated names are dropped,
 * never a broken line), with "OPTION=RESET" first when the server has a
 * resetcmd (the client only offers &R then). Returns the length. */
size_t proto_format_ok(char *out, size_t outlen, const char *const *names, size_t n, bool reset);

/* The same, and tells how many of the names fit in `outlen` (the rest are
 * left out whole). Returns 0 (an empty string) when not even the line
 * without names fits. */
size_t proto_format_ok_fit(char *out, size_t outlen, const char *const *names, size_t n, bool reset,
                           size_t *fitted);

/* Buffer size (NUL included) that holds the OK line with all `n` names. */
size_t proto_ok_size(const char *const *names, size_t n, bool reset);

/* Longest reply line, its '\n' included, that the stock conman client of
 * Debian (0.2.x) reads whole: it reads one line into a 32 KiB buffer and
 * takes anything after it for console output. 0.3.x reads 128 KiB, but a
 * client does not say which it is, so replies keep to the smaller. */
#define PROTO_CLIENT_LINE_MAX 32767

/* What one conmand sends to the conmand that owns a console, to carry a
 * client's session there: "HELLO USER='u' [TTY='t'] VIA='host'\n" then
 * "CONNECT|MONITOR [OPTION=JOIN|FORCE|BROADCAST|QUIET ...] CONSOLE='a'
 * ...\n", the client's own request with its patterns replaced by the
 * names it matched here; without VIA when `client_host` is NULL (a
 * session of this conmand's own: the web viewer's). Into *out (malloc'd, NUL-terminated; *len
 * without the NUL). Returns 0, -EINVAL when a name or field holds both
 * quote characters or a line break (it cannot be quoted), or -ENOMEM. */
int proto_format_relay(const struct proto_req *r, const char *client_host, const char *const *names,
                       size_t n, char **out, size_t *len);

/* "ERROR CODE=n MESSAGE='text'\n". Returns the length. */
size_t proto_format_error(char *out, size_t outlen, int code, const char *text);

/* "<user@host>" plus " on TTY" when the client gave one. */
void proto_who(const struct proto_req *r, const char *host, char *out, size_t outlen);

#endif
