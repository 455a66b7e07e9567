/* Console event matcher: lines from console bytes, rules on lines, folding. */
#include "conmand/events/matcher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int matcher_init(struct matcher *m, struct rules *rules, int64_t quiet_ms)
{
    memset(m, 0, sizeof(*m));
    m->quiet_ms = quiet_ms;
    return matcher_set_rules(m, rules);
}

void matcher_release(struct matcher *m)
{
    free(m->folds);
    m->folds = NULL;
    m->rules = NULL;
}

int matcher_set_rules(struct matcher *m, struct rules *rules)
{
    size_t n = rules ? rules_count(rules) : 0;
    struct matcher_fold *f = calloc(n ? n : 1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    free(m->folds);
    m->folds = f;
    m->rules = rules;
    return 0;
}

uint32_t matcher_lines(const struct matcher *m, size_t i)
{
    return m->folds[i].lines;
}

uint64_t matcher_limit_hits(const struct matcher *m, size_t i)
{
    return m->folds[i].limit_hits;
}

/* Rule i matched the current line: fold it into the open event when the
 * last line folded is within the quiet period, else start an event. A clock
 * that went back counts as within (never a burst of new events). */
static void matched(struct matcher *m, size_t i, int64_t now, matcher_fn fn, void *arg)
{
    struct matcher_fold *f = &m->folds[i];
    bool fold = f->lines > 0 && now - f->last_ms <= m->quiet_ms;
    f->lines = fold ? f->lines + 1 : 1;
    f->last_ms = now;
    struct matcher_event ev = {
        .kind = fold ? MATCHER_FOLD : MATCHER_START,
        .rule = i,
        .severity = rules_severity(m->rules, i),
        .time_ms = now,
        .offset = m->line_off,
        .lines = f->lines,
        .line = m->buf,
        .len = m->len,
    };
    fn(arg, &ev);
}

static void match_line(struct matcher *m, int64_t now, matcher_fn fn, void *arg)
{
    if (!m->rules || m->len == 0)
        return;
    /* Most lines match nothing: the screen says so in one call, and only
     * the rules it leaves out run. */
    const size_t *run = NULL;
    size_t n = rules_count(m->rules);
    if (rules_screen(m->rules, m->buf, m->len) == RULES_NOMATCH)
        n = rules_unscreened(m->rules, &run);
    for (size_t k = 0; k < n; k++) {
        size_t i = run ? run[k] : k;
        enum rules_result r = rules_match(m->rules, i, m->buf, m->len);
        if (r == RULES_MATCH)
            matched(m, i, now, fn, arg);
        else if (r == RULES_LIMIT)
            m->folds[i].limit_hits++;
    }
}

static void end_line(struct matcher *m)
{
    m->len = 0;
    m->in_line = false;
    m->skipping = false;
    m->esc = MATCHER_TEXT;
}

/* One byte of text (not LF) after the escape filter: kept for matching
 * unless it is a control character other than a tab. Bytes >= 0x80 stay:
 * they are UTF-8 more often than C1 controls. */
static void put_text(struct matcher *m, unsigned char c, int64_t now, matcher_fn fn, void *arg)
{
    if ((c < 0x20 && c != '\t') || c == 0x7f || m->skipping)
        return;
    if (m->len == MATCHER_LINE_MAX) {
        /* One past the limit: match what we have now, once, rather than
         * wait for an LF that may never come. */
        match_line(m, now, fn, arg);
        m->skipping = true;
        return;
    }
    m->buf[m->len++] = c;
}

/* The escape filter: CSI (ESC [ ... final), OSC and the other string
 * sequences (ESC ] P X ^ _ ... BEL or ESC \), and two-byte escapes
 * (with intermediates, e.g. ESC ( B) are dropped. Returns true when c is
 * text to keep, false when the filter consumed it. */
static bool unescape(struct matcher *m, unsigned char c)
{
    switch (m->esc) {
    case MATCHER_TEXT:
        if (c != 0x1b)
            return true;
        m->esc = MATCHER_ESC;
        return false;
    case MATCHER_ESC:
        if (c == '[')
            m->esc = MATCHER_CSI;
        else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_')
            m->esc = MATCHER_STR;
        else if (c >= 0x20 && c <= 0x2f)
            m->esc = MATCHER_ESC_INTER;
        else if (c != 0x1b)
            m->esc = MATCHER_TEXT;
        return false;
    case MATCHER_ESC_INTER:
        if (c < 0x20 || c > 0x2f)
            m->esc = c == 0x1b ? MATCHER_ESC : MATCHER_TEXT;
        return false;
    case MATCHER_CSI:
        if (c >= 0x20 && c <= 0x3f)
            return false;
        if (c >= 0x40 && c <= 0x7e) {
            m->esc = MATCHER_TEXT;
            return false;
        }
        /* Not part of a CSI: the sequence was broken; the byte is read
         * afresh as text. */
        m->esc = MATCHER_TEXT;
        return unescape(m, c);
    case MATCHER_STR:
        if (c == 0x07)
            m->esc = MATCHER_TEXT;
        else if (c == 0x1b)
            m->esc = MATCHER_STR_ESC;
        return false;
    case MATCHER_STR_ESC:
        m->esc = MATCHER_TEXT;
        if (c == '\\')
            return false;
        return unescape(m, 0x1b) || unescape(m, c);
    }
    return false;
}

/* Bytes the escape filter must see: ESC and the other control characters
 * but tab, DEL, and the LF that ends a line. The rest is plain text. */
static const bool special[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1, [0x07] = 1,
    [0x08] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1, [0x10] = 1,
    [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1,
    [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, [0x7f] = 1,
};

void matcher_feed(struct matcher *m, const unsigned char *buf, size_t len, uint64_t offset,
                  int64_t now_ms, matcher_fn fn, void *arg)
{
    for (size_t i = 0; i < len;) {
        if (!m->in_line) {
            m->in_line = true;
            m->line_off = offset + i;
        }
        if (m->skipping) {
            /* Matched already: nothing of it counts up to its LF. */
            const unsigned char *nl = memchr(buf + i, '\n', len - i);
            if (!nl)
                return;
            i = (size_t)(nl - buf);
        } else if (m->esc == MATCHER_TEXT) {
            /* The bulk of a line, copied in one go up to the first byte the
             * filter must see (ESC, a control character, the LF) or the
             * limit, where put_text takes over. */
            size_t j = i,
                   end = len - i < MATCHER_LINE_MAX - m->len ? len : i + MATCHER_LINE_MAX - m->len;
            while (j < end && !special[buf[j]])
                j++;
            memcpy(m->buf + m->len, buf + i, j - i);
            m->len += j - i;
            if (j > i) {
                i = j;
                continue;
            }
        }
        unsigned char c = buf[i++];
        if (c == '\n') {
            /* An LF ends the line whatever the escape state, so a broken
             * sequence never eats the lines after it. */
            if (!m->skipping)
                match_line(m, now_ms, fn, arg);
            end_line(m);
            continue;
        }
        if (unescape(m, c))
            put_text(m, c, now_ms, fn, arg);
    }
}

void matcher_flush(struct matcher *m, int64_t now_ms, matcher_fn fn, void *arg)
{
    if (m->in_line && !m->skipping)
        match_line(m, now_ms, fn, arg);
    end_line(m);
}
