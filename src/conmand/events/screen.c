/* The screen's pattern: the screened rules, their common beginnings shared. */
#include "conmand/events/screen.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

/* A character class at re[i] ('['): its length, 0 when it is not closed. */
static size_t class_len(const char *re, size_t len, size_t i)
{
    size_t j = i + 1;
    if (j < len && re[j] == '^')
        j++;
    if (j < len && re[j] == ']')
        j++; /* a ']' first is a literal one */
    while (j < len && re[j] != ']') {
        if (re[j] == '\\')
            j += 2;
        else if (re[j] == '[' && j + 1 < len && strchr(":.=", re[j + 1])) {
            const char *end = NULL; /* [:alpha:] and the like */
            for (size_t k = j + 2; k + 1 < len && !end; k++)
                if (re[k] == re[j + 1] && re[k + 1] == ']')
                    end = re + k + 2;
            if (!end)
                return 0;
            j = (size_t)(end - re);
        } else
            j++;
    }
    return j < len ? j + 1 - i : 0;
}

/* A group at re[i] ('('): its length up to the matching ')', 0 when it is
 * not closed. */
static size_t group_len(const char *re, size_t len, size_t i)
{
    int depth = 0;
    for (size_t j = i; j < len;) {
        if (re[j] == '\\') {
            j += 2;
        } else if (re[j] == '[') {
            size_t n = class_len(re, len, j);
            if (!n)
                return 0;
            j += n;
        } else {
            if (re[j] == '(')
                depth++;
            else if (re[j] == ')' && --depth == 0)
                return j + 1 - i;
            j++;
        }
    }
    return 0;
}

/* An escape at re[i] ('\'): its length. */
static size_t escape_len(const char *re, size_t len, size_t i)
{
    if (i + 1 >= len)
        return 0;
    char e = re[i + 1];
    size_t j = i + 2;
    if (strchr("xopPNg", e) && j < len && re[j] == '{') {
        const char *close = memchr(re + j, '}', len - j);
        return close ? (size_t)(close - re) + 1 - i : 0;
    }
    if (e == 'c' || e == 'p' || e == 'P')
        return j < len ? j + 1 - i : 0; /* \cX, \pL */
    if (e == 'x') {
        while (j < len && j < i + 4 && isxdigit((unsigned char)re[j]))
            j++;
    } else if (e >= '0' && e <= '7') {
        while (j < len && j < i + 4 && re[j] >= '0' && re[j] <= '7')
            j++;
    }
    return j - i;
}

/* A quantifier at re[j]: its length (with a lazy '?' or possessive '+'),
 * 0 when none. "{" that is not {n}, {n,} or {n,m} is a literal. */
static size_t quantifier_len(const char *re, size_t len, size_t j)
{
    size_t k = j;
    if (k < len && strchr("*+?", re[k])) {
        k++;
    } else if (k < len && re[k] == '{') {
        size_t d = k + 1;
        while (d < len && isdigit((unsigned char)re[d]))
            d++;
        if (d == k + 1)
            return 0;
        if (d < len && re[d] == ',')
            for (d++; d < len && isdigit((unsigned char)re[d]);)
                d++;
        if (d >= len || re[d] != '}')
            return 0;
        k = d + 1;
    } else {
        return 0;
    }
    if (k < len && (re[k] == '?' || re[k] == '+'))
        k++;
    return k - j;
}

size_t screen_item_len(const char *re, size_t len, size_t i)
{
    if (i >= len)
        return 0;
    size_t n;
    switch (re[i]) {
    case '\\':
        n = escape_len(re, len, i);
        break;
    case '[':
        n = class_len(re, len, i);
        break;
    case '(':
        n = group_len(re, len, i);
        break;
    case '|':
    case ')':
    case '*':
    case '+':
    case '?':
        return 0;
    case '{':
        if (quantifier_len(re, len, i))
            return 0; /* a quantifier with nothing before it */
        n = 1;
        break;
    default:
        n = 1;
    }
    return n ? n + quantifier_len(re, len, i + n) : 0;
}

/* An option setting at top level ("(?i)", "(?-s)") changes what follows,
 * so items after it mean something else elsewhere. */
static bool option_setting(const char *item, size_t n)
{
    if (n < 3 || item[0] != '(' || item[1] != '?' || item[n - 1] != ')')
        return false;
    for (size_t k = 2; k + 1 < n; k++)
        if (!isalpha((unsigned char)item[k]) && item[k] != '-' && item[k] != '^')
            return false;
    return true;
}

/* A rule as items: offsets into its text; one item (the whole text,
 * wrapped) when it cannot be split. */
struct seq {
    const char *re;
    size_t len;
    bool whole; /* kept as one alternative: "(?:RE)" or "(?i:RE)" */
    bool caseless;
    size_t *at; /* item k is re[at[k]..at[k+1]) */
    size_t n;
};

static int split(const struct screen_rule *r, struct seq *s)
{
    *s = (struct seq){.re = r->re, .len = r->len, .caseless = r->caseless};
    s->at = malloc((r->len + 1) * sizeof(*s->at));
    if (!s->at)
        return -ENOMEM;
    size_t i = 0;
    while (i < r->len) {
        size_t n = screen_item_len(r->re, r->len, i);
        if (!n || option_setting(r->re + i, n))
            break;
        s->at[s->n++] = i;
        i += n;
    }
    if (i < r->len) {
        s->whole = true;
        s->n = 0;
    }
    s->at[s->n] = r->len;
    return 0;
}

/* Whether an item means the same caseless or not: no letter in it but
 * right after a backslash ("\d", "\s"; "\x4B" counts as not). */
static bool case_neutral(const char *item, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (isalpha((unsigned char)item[k]) && (k == 0 || item[k - 1] != '\\'))
            return false;
    return true;
}

/* Item k of a caseless rule that is not case-neutral is written "(?i:ITEM)"
 * (and differs from the same text of a rule that is not caseless). */
static bool wrapped(const struct seq *s, size_t k)
{
    return s->caseless && !case_neutral(s->re + s->at[k], s->at[k + 1] - s->at[k]);
}

/* Item k of s as text; a whole rule has one item: itself, wrapped. */
static void add_item(struct strbuf *sb, const struct seq *s, size_t k)
{
    if (s->whole) {
        strbuf_adds(sb, s->caseless ? "(?i:" : "(?:");
        strbuf_add(sb, s->re, s->len);
        strbuf_adds(sb, ")");
        return;
    }
    if (wrapped(s, k))
        strbuf_adds(sb, "(?i:");
    strbuf_add(sb, s->re + s->at[k], s->at[k + 1] - s->at[k]);
    if (wrapped(s, k))
        strbuf_adds(sb, ")");
}

static size_t items(const struct seq *s)
{
    return s->whole ? 1 : s->n;
}

static bool same_item(const struct seq *a, size_t ka, const struct seq *b, size_t kb)
{
    if (a->whole || b->whole)
        return false;
    size_t la = a->at[ka + 1] - a->at[ka], lb = b->at[kb + 1] - b->at[kb];
    return la == lb && wrapped(a, ka) == wrapped(b, kb) &&
           !memcmp(a->re + a->at[ka], b->re + b->at[kb], la);
}

/* The alternation of seqs[0..n), each from its item `depth` on: those
 * that begin with the same item share it, in the order they first come
 * (an empty rest is an empty alternative, which matches). */
static void factor(struct strbuf *sb, struct seq **seqs, size_t n, size_t depth)
{
    bool *used = calloc(n, sizeof(*used));
    struct seq **members = malloc(n * sizeof(*members));
    if (!used || !members) {
        sb->failed = true;
        free(used);
        free(members);
        return;
    }
    size_t alts = 0;
    for (size_t i = 0; i < n; i++) {
        if (used[i])
            continue;
        alts++;
        for (size_t j = i + 1; j < n && items(seqs[i]) > depth; j++)
            if (!used[j] && items(seqs[j]) > depth && same_item(seqs[i], depth, seqs[j], depth))
                used[j] = true;
    }
    memset(used, 0, n * sizeof(*used));
    if (alts > 1)
        strbuf_adds(sb, "(?:");
    for (size_t i = 0, emitted = 0; i < n; i++) {
        if (used[i])
            continue;
        used[i] = true;
        if (emitted++)
            strbuf_adds(sb, "|");
        if (items(seqs[i]) <= depth)
            continue;
        size_t m = 0;
        bool rest = items(seqs[i]) > depth + 1;
        members[m++] = seqs[i];
        for (size_t j = i + 1; j < n; j++) {
            if (!used[j] && items(seqs[j]) > depth && same_item(seqs[i], depth, seqs[j], depth)) {
                used[j] = true;
                members[m++] = seqs[j];
                rest |= items(seqs[j]) > depth + 1;
            }
        }
        add_item(sb, seqs[i], depth);
        if (rest)
            factor(sb, members, m, depth + 1);
    }
    if (alts > 1)
        strbuf_adds(sb, ")");
    free(used);
    free(members);
}

int screen_pattern(const struct screen_rule *rules, size_t n, char **out, size_t *outlen)
{
    struct seq *seqs = calloc(n, sizeof(*seqs));
    struct seq **ptrs = calloc(n, sizeof(*ptrs));
    int rc = seqs && ptrs ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = split(&rules[i], &seqs[i]);
        ptrs[i] = &seqs[i];
    }
    struct strbuf sb = {0};
    if (rc == 0)
        factor(&sb, ptrs, n, 0);
    if (rc == 0 && (sb.failed || !sb.p))
        rc = -ENOMEM;
    for (size_t i = 0; seqs && i < n; i++)
        free(seqs[i].at);
    free(seqs);
    free(ptrs);
    if (rc < 0) {
        strbuf_release(&sb);
        return rc;
    }
    *out = strbuf_detach(&sb, outlen);
    return 0;
}
