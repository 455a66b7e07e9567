/* Console event rules: the rules file's text to compiled PCRE2 patterns. */
#include "conmand/events/rules.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conmand/events/screen.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

struct rule {
    char name[RULES_NAME_MAX + 1];
    enum rules_severity severity;
    bool jit;
    bool screened; /* part of the screen below */
    pcre2_code *code;
};

struct rules {
    size_t n;
    struct rule *rule;
    /* The screen: the screened rules as one alternation, "(?:RE0)|(?i:RE1)
     * |...". Most lines match no rule; one match call on the screen tells
     * so, instead of one per rule. NULL: no rule screened. */
    pcre2_code *screen;
    size_t *unscreened; /* the other rules' indices */
    size_t nunscreened;
    /* One context and one match data for all rules and consoles: matching
     * runs on one thread, and a rule needs only to know whether it hit. */
    pcre2_match_context *mctx;
    pcre2_match_data *md;
};

static const char *const severity_names[] = {"critical", "error", "warning", "info"};

const char *rules_severity_name(enum rules_severity s)
{
    return (unsigned)s < sizeof(severity_names) / sizeof(severity_names[0]) ? severity_names[s]
                                                                            : "unknown";
}

void rules_free(struct rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        pcre2_code_free(r->rule[i].code);
    pcre2_code_free(r->screen);
    free(r->unscreened);
    free(r->rule);
    pcre2_match_data_free(r->md);
    pcre2_match_context_free(r->mctx);
    free(r);
}

size_t rules_count(const struct rules *r)
{
    return r->n;
}

const char *rules_name(const struct rules *r, size_t i)
{
    return r->rule[i].name;
}

enum rules_severity rules_severity(const struct rules *r, size_t i)
{
    return r->rule[i].severity;
}

bool rules_jit(const struct rules *r, size_t i)
{
    return r->rule[i].jit;
}

enum rules_result rules_match(struct rules *r, size_t i, const unsigned char *line, size_t len)
{
    int rc = pcre2_match(r->rule[i].code, line, len, 0, 0, r->md, r->mctx);
    if (rc >= 0)
        return RULES_MATCH;
    return rc == PCRE2_ERROR_NOMATCH ? RULES_NOMATCH : RULES_LIMIT;
}

bool rules_screened(const struct rules *r, size_t i)
{
    return r->rule[i].screened;
}

size_t rules_unscreened(const struct rules *r, const size_t **idx)
{
    *idx = r->unscreened;
    return r->nunscreened;
}

enum rules_result rules_screen(struct rules *r, const unsigned char *line, size_t len)
{
    if (!r->screen)
        return RULES_MATCH;
    int rc = pcre2_match(r->screen, line, len, 0, 0, r->md, r->mctx);
    if (rc >= 0)
        return RULES_MATCH;
    return rc == PCRE2_ERROR_NOMATCH ? RULES_NOMATCH : RULES_LIMIT;
}

/* The parser's cursor over one line: [p, end). */
struct cursor {
    const char *p, *end;
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void skip_blanks(struct cursor *c)
{
    while (c->p < c->end && is_blank(*c->p))
        c->p++;
}

/* The next blank-delimited word; its length (0 at the end of the line). */
static size_t next_word(struct cursor *c, const char **word)
{
    skip_blanks(c);
    *word = c->p;
    while (c->p < c->end && !is_blank(*c->p))
        c->p++;
    return (size_t)(c->p - *word);
}

static bool valid_name(const char *s, size_t n)
{
    if (n < 1 || n > RULES_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static int parse_severity(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(severity_names) / sizeof(severity_names[0]); i++)
        if (strlen(severity_names[i]) == n && memcmp(severity_names[i], s, n) == 0)
            return (int)i;
    return -1;
}

/* One parsed line before compiling: pointers into the text. */
struct rule_text {
    const char *name, *sev, *re;
    size_t namelen, sevlen, relen;
    bool caseless;
};

#define LINE_ERR(...)                                                                              \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return -EINVAL;                                                                            \
    } while (0)

/* The /REGEX/FLAGS field at c: a backslash keeps the next byte in the regex
 * (so "\/" is a slash PCRE2 reads as a literal one), the first bare '/'
 * ends it. */
static int parse_regex(struct cursor *c, struct rule_text *t, char *err, size_t errlen)
{
    skip_blanks(c);
    if (c->p == c->end || *c->p != '/')
        LINE_ERR("expected /REGEX/ after the severity");
    t->re = ++c->p;
    while (c->p < c->end && *c->p != '/')
        c->p += (*c->p == '\\' && c->p + 1 < c->end) ? 2 : 1;
    if (c->p >= c->end)
        LINE_ERR("regex has no closing '/' (write a '/' inside it as \\/)");
    t->relen = (size_t)(c->p - t->re);
    c->p++;
    if (t->relen == 0)
        LINE_ERR("empty regex");
    if (t->relen > RULES_REGEX_MAX_LEN)
        LINE_ERR("regex of %zu bytes, longer than %d", t->relen, RULES_REGEX_MAX_LEN);
    t->caseless = false;
    while (c->p < c->end && !is_blank(*c->p)) {
        if (*c->p != 'i' || t->caseless)
            LINE_ERR("unknown regex flag '%c' (only 'i', once)", *c->p);
        t->caseless = true;
        c->p++;
    }
    skip_blanks(c);
    if (c->p != c->end)
        LINE_ERR("unexpected text after the regex");
    return 0;
}

/* NAME SEVERITY /REGEX/FLAGS of one non-comment line. */
static int parse_line(struct cursor *c, struct rule_text *t, char *err, size_t errlen)
{
    t->namelen = next_word(c, &t->name);
    if (!valid_name(t->name, t->namelen))
        LINE_ERR("bad rule name '%.*s' (1 to %d of A-Z a-z 0-9 _ . -)",
                 (int)(t->namelen > 80 ? 80 : t->namelen), t->name, RULES_NAME_MAX);
    t->sevlen = next_word(c, &t->sev);
    if (t->sevlen == 0)
        LINE_ERR("rule %.*s: no severity", (int)t->namelen, t->name);
    if (parse_severity(t->sev, t->sevlen) < 0)
        LINE_ERR("rule %.*s: unknown severity '%.*s' (critical, error, warning or info)",
                 (int)t->namelen, t->name, (int)(t->sevlen > 40 ? 40 : t->sevlen), t->sev);
    return parse_regex(c, t, err, errlen);
}

/* Compiles t into r (JIT when the platform has it: the interpreter is
 * bounded by the same limits, only slower). */
static int compile_rule(const struct rule_text *t, struct rule *r, pcre2_compile_context *cc,
                        char *err, size_t errlen)
{
    memcpy(r->name, t->name, t->namelen);
    r->name[t->namelen] = '\0';
    r->severity = (enum rules_severity)parse_severity(t->sev, t->sevlen);
    /* Bytes, not UTF-8: console output is often not valid UTF-8, and a
     * "(*UTF)" in a rule would make every such line an error. */
    uint32_t opts = PCRE2_NEVER_UTF | PCRE2_NEVER_UCP | (t->caseless ? PCRE2_CASELESS : 0);
    int code = 0;
    PCRE2_SIZE off = 0;
    r->code = pcre2_compile((PCRE2_SPTR)t->re, t->relen, opts, &code, &off, cc);
    if (!r->code) {
        PCRE2_UCHAR text[256];
        if (pcre2_get_error_message(code, text, sizeof(text)) < 0)
            snprintf((char *)text, sizeof(text), "PCRE2 error %d", code);
        LINE_ERR("rule %s: bad regex at offset %zu: %s", r->name, (size_t)off, (char *)text);
    }
    r->jit = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
    return 0;
}

/* Whether a rule means the same as one alternative of the screen. Not
 * when it refers to groups by number or name (they shift, or clash), has
 * verbs that cut other alternatives short ((*COMMIT), (*ACCEPT)...), a \Q
 * without its \E reaching past it, or extended mode, where a '#' comment
 * would run on over the alternatives after it. Such a rule runs on every
 * line, as without a screen. */
static bool screenable(const char *re, size_t len, const pcre2_code *code)
{
    uint32_t backrefs = 1, names = 1;
    if (pcre2_pattern_info(code, PCRE2_INFO_BACKREFMAX, &backrefs) != 0 ||
        pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &names) != 0 || backrefs || names)
        return false;
    for (size_t i = 0; i + 1 < len; i++) {
        if (re[i] == '\\') {
            char e = re[i + 1];
            if (e == 'Q' || e == 'E' || e == 'g' || e == 'k')
                return false;
            i++;
            continue;
        }
        if (re[i] != '(')
            continue;
        if (re[i + 1] == '*')
            return false;
        if (re[i + 1] != '?')
            continue;
        /* (?: (?= (?! (?<= (?<! (?> (?| (?# and option letters without x
         * are fine; anything else (recursion, conditions, calls) is not. */
        size_t j = i + 2;
        while (j < len && ((re[j] >= 'a' && re[j] <= 'z') || re[j] == '^' || re[j] == '-')) {
            if (re[j] == 'x')
                return false;
            j++;
        }
        if (j > i + 2)
            continue; /* options: "(?i)", "(?i:", "(?-i)" */
        if (j < len && !strchr(":=!<>|#", re[j]))
            return false;
        if (j + 1 < len && re[j] == '<' && re[j + 1] != '=' && re[j + 1] != '!')
            return false; /* (?<name> */
    }
    return true;
}

/* Compiles the screen of the screened rules (events/screen.c); without
 * one (none screenable, or it would not compile) every rule runs on every
 * line, which is only slower. */
static void screen_compile(struct rules *r, const struct screen_rule *sr, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    if (n && screen_pattern(sr, n, &text, &len) == 0) {
        int code = 0;
        PCRE2_SIZE off = 0;
        r->screen = pcre2_compile((PCRE2_SPTR)text, len, PCRE2_NEVER_UTF | PCRE2_NEVER_UCP, &code,
                                  &off, NULL);
    }
    free(text);
    if (!r->screen)
        for (size_t i = 0; i < r->n; i++)
            r->rule[i].screened = false;
    else
        pcre2_jit_compile(r->screen, PCRE2_JIT_COMPLETE);
    r->unscreened = calloc(r->n ? r->n : 1, sizeof(*r->unscreened));
    for (size_t i = 0; r->unscreened && i < r->n; i++)
        if (!r->rule[i].screened)
            r->unscreened[r->nunscreened++] = i;
    if (!r->unscreened && r->screen) {
        /* Without the list the screen cannot be used: every rule runs. */
        pcre2_code_free(r->screen);
        r->screen = NULL;
    }
}

static struct rules *rules_new(void)
{
    struct rules *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->rule = calloc(RULES_MAX, sizeof(*r->rule));
    r->mctx = pcre2_match_context_create(NULL);
    r->md = pcre2_match_data_create(1, NULL);
    if (!r->rule || !r->mctx || !r->md) {
        rules_free(r);
        return NULL;
    }
    pcre2_set_match_limit(r->mctx, RULES_MATCH_LIMIT);
    pcre2_set_depth_limit(r->mctx, RULES_DEPTH_LIMIT);
    pcre2_set_heap_limit(r->mctx, RULES_HEAP_KIB);
    return r;
}

static bool duplicate(const struct rules *r, const struct rule_text *t)
{
    for (size_t i = 0; i < r->n; i++)
        if (strlen(r->rule[i].name) == t->namelen &&
            memcmp(r->rule[i].name, t->name, t->namelen) == 0)
            return true;
    return false;
}

/* One line of the file into r: a comment, a blank line or a rule. */
static int add_line(struct rules *r, const char *line, size_t len, pcre2_compile_context *cc,
                    struct screen_rule *screen, char *err, size_t errlen)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    struct cursor c = {line, line + len};
    skip_blanks(&c);
    if (c.p == c.end || *c.p == '#')
        return 0;
    if (memchr(line, '\0', len))
        LINE_ERR("NUL byte in the line");
    struct rule_text t;
    int rc = parse_line(&c, &t, err, errlen);
    if (rc < 0)
        return rc;
    if (duplicate(r, &t))
        LINE_ERR("rule %.*s defined twice", (int)t.namelen, t.name);
    if (r->n == RULES_MAX)
        LINE_ERR("more than %d rules", RULES_MAX);
    rc = compile_rule(&t, &r->rule[r->n], cc, err, errlen);
    if (rc < 0)
        return rc;
    struct rule *added = &r->rule[r->n++];
    if (screenable(t.re, t.relen, added->code)) {
        screen[r->n - 1] = (struct screen_rule){t.re, t.relen, t.caseless};
        added->screened = true;
    }
    return 0;
}

int rules_parse(const char *path, const char *text, size_t len, struct rules **out, char *msg,
                size_t msglen)
{
    struct rules *r = rules_new();
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!r || !cc) {
        snprintf(msg, msglen, "%s: out of memory", path);
        pcre2_compile_context_free(cc);
        rules_free(r);
        return -ENOMEM;
    }
    pcre2_set_max_pattern_length(cc, RULES_REGEX_MAX_LEN);
    char err[400];
    /* The screened rules' texts (pointing into `text`), in file order. */
    struct screen_rule *screen = calloc(RULES_MAX, sizeof(*screen));
    int rc = screen ? 0 : -ENOMEM;
    if (!screen)
        snprintf(err, sizeof(err), "out of memory");
    size_t lineno = 0;
    for (size_t start = 0; start < len && rc == 0;) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len;
        lineno++;
        rc = add_line(r, text + start, end - start, cc, screen, err, sizeof(err));
        start = end + 1;
    }
    pcre2_compile_context_free(cc);
    if (rc == 0) {
        size_t k = 0;
        for (size_t i = 0; i < r->n; i++)
            if (r->rule[i].screened)
                screen[k++] = screen[i];
        screen_compile(r, screen, k);
    }
    free(screen);
    if (rc < 0) {
        snprintf(msg, msglen, "%s:%zu: %s", path, lineno, err);
        rules_free(r);
        return rc;
    }
    *out = r;
    return 0;
}
