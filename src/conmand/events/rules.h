/* Console event rules (issue 17): parses a rules file's text into a set of
 * compiled PCRE2 patterns. Pure: the caller reads the file and passes the
 * text in; a set is built whole or not at all, so a bad file leaves the
 * caller's old set in force. */
#ifndef CONMAND_EVENTS_RULES_H
#define CONMAND_EVENTS_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds, so that no rules file can make the loop slow or big: rules per
 * file, bytes of one regex (between its slashes), and per match the
 * backtracking steps, nesting depth (interpreter only) and heap. A match
 * over a limit is no match, and is counted (matcher.h). */
#define RULES_MAX 256
#define RULES_NAME_MAX 64
#define RULES_REGEX_MAX_LEN 1024
#define RULES_MATCH_LIMIT 100000
#define RULES_DEPTH_LIMIT 1000
#define RULES_HEAP_KIB 1024

/* In order of importance; names as written in the file. */
enum rules_severity {
    RULES_CRITICAL,
    RULES_ERROR,
    RULES_WARNING,
    RULES_INFO,
};

/* "critical", "error", "warning" or "info". */
const char *rules_severity_name(enum rules_severity s);

/* A compiled rule set; opaque. Matching with one set is single-threaded
 * (its match data is shared by every console that uses it). */
struct rules;

/* Parses `text` (len bytes; NULs refused): one rule a line,
 * `NAME SEVERITY /REGEX/FLAGS`, blanks between the fields, '#' comment lines
 * and blank lines ignored. NAME is [A-Za-z0-9_.-]{1,64} and unique;
 * FLAGS is empty or "i" (caseless); a '/' inside REGEX is written "\/".
 * `path` only names the file in messages. Returns 0 with a new set in *out
 * (free with rules_free), or -EINVAL (msg: "PATH:LINE: reason", with
 * PCRE2's own message for a regex that does not compile) or -ENOMEM;
 * *out is then untouched. */
int rules_parse(const char *path, const char *text, size_t len, struct rules **out, char *msg,
                size_t msglen);

void rules_free(struct rules *r);

size_t rules_count(const struct rules *r);
const char *rules_name(const struct rules *r, size_t i);
enum rules_severity rules_severity(const struct rules *r, size_t i);
/* Whether rule i runs JIT-compiled (false: the interpreter, still bounded). */
bool rules_jit(const struct rules *r, size_t i);

/* Result of one rule against one line. */
enum rules_result {
    RULES_NOMATCH,
    RULES_MATCH,
    RULES_LIMIT, /* over a match limit, or PCRE2 failed: no match either */
};

/* Matches rule i against line[0..len). No allocation. */
enum rules_result rules_match(struct rules *r, size_t i, const unsigned char *line, size_t len);

/* The screen: one match call that says whether any screened rule can
 * match the line. RULES_NOMATCH: none can (skip them); RULES_MATCH or
 * RULES_LIMIT: run them one by one (also when the set has no screen). A
 * rule is screened unless it refers to groups, uses verbs, \Q or extended
 * mode (rules.c, screenable()); unscreened rules run on every line. */
enum rules_result rules_screen(struct rules *r, const unsigned char *line, size_t len);
bool rules_screened(const struct rules *r, size_t i);

/* The indices of the rules the screen leaves out, in file order, into
 * *idx; returns how many. */
size_t rules_unscreened(const struct rules *r, const size_t **idx);

#endif
