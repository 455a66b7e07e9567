/* The screen's pattern (rules.h, rules_screen): the screened rules as one
 * regex that matches a line whenever any of them does, built so that PCRE2
 * does the rules' common beginning once. Rules are split into their
 * top-level items (an atom and its quantifier); rules that begin with the
 * same items share them: "^A?B(?:C|D)" for "^A?BC" and "^A?BD", which
 * matches exactly when one of them does, concatenation distributing over
 * alternation. A caseless rule's items are written "(?i:ITEM)" unless
 * caselessness cannot change them (no letter but after a backslash). A
 * rule with a top-level '|' or an option setting such as "(?i)" is kept
 * whole as one alternative. Pure. */
#ifndef CONMAND_EVENTS_SCREEN_H
#define CONMAND_EVENTS_SCREEN_H

#include <stdbool.h>
#include <stddef.h>

struct screen_rule {
    const char *re; /* the regex text, as PCRE2 compiled it alone */
    size_t len;
    bool caseless;
};

/* Writes the pattern for rules[0..n) (n >= 1) into a new NUL-terminated
 * *out (free()) of *outlen bytes. Returns 0 or -ENOMEM. */
int screen_pattern(const struct screen_rule *rules, size_t n, char **out, size_t *outlen);

/* Length of the top-level item at re[i..len): an escape, a character
 * class, a group or one character, with its quantifier; 0 where the rule
 * cannot be split there ('|', ')' or a quantifier with nothing before it). */
size_t screen_item_len(const char *re, size_t len, size_t i);

#endif
