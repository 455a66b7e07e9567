/* libFuzzer harness for console events: the first byte sets the read size
 * (knob + 1), the text up to the first NUL is a rules file for
 * rules_parse(), the rest is console output fed to a matcher in reads of
 * that size, and again whole. A file that does not parse gets a fixed set
 * instead, so the matcher is always exercised. Checks: an error names the
 * file and a line, *out is untouched; events carry at most MATCHER_LINE_MAX
 * bytes with no LF, ESC or control byte but tabs, offsets within the input,
 * fold counts that grow by one; the same events whole and in pieces; and
 * on every line, when the screen (rules_screen) says no rule it covers can
 * match, none of them matches alone. */
#include <errno.h>

#include "conmand/events/matcher.h"
#include "fuzz_common.h"

#define MAX_INPUT (64 * 1024)

/* A digest of every callback, to compare whole and in pieces. */
struct tally {
    uint64_t hash, calls;
    size_t fed;
    uint32_t last_lines[RULES_MAX];
};

static void on_event(void *arg, const struct matcher_event *ev)
{
    struct tally *t = arg;
    FUZZ_CHECK(ev->len <= MATCHER_LINE_MAX);
    FUZZ_CHECK(ev->offset < t->fed);
    FUZZ_CHECK(ev->rule < RULES_MAX);
    for (size_t i = 0; i < ev->len; i++) {
        unsigned char c = ev->line[i];
        FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
    }
    if (ev->kind == MATCHER_START)
        FUZZ_CHECK(ev->lines == 1);
    else
        FUZZ_CHECK(ev->kind == MATCHER_FOLD && ev->lines == t->last_lines[ev->rule] + 1);
    t->last_lines[ev->rule] = ev->lines;
    uint64_t h =
        t->hash ^ (ev->rule * 0x9e3779b97f4a7c15ull) ^ ev->offset ^ ((uint64_t)ev->kind << 40);
    for (size_t i = 0; i < ev->len; i++)
        h = (h ^ ev->line[i]) * 0x100000001b3ull;
    t->hash = h;
    t->calls++;
}

/* Feeds data[0..n) in reads of `step` (offsets from 1000), then flushes.
 * The clock stands still: a line's time would otherwise depend on the read
 * that ends it, and folding on the pieces. */
static void run(struct rules *r, const uint8_t *data, size_t n, size_t step, struct tally *t)
{
    struct matcher m;
    memset(t, 0, sizeof(*t));
    t->fed = 1000 + n;
    FUZZ_CHECK(matcher_init(&m, r, 5000) == 0);
    for (size_t i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        matcher_feed(&m, data + i, k, 1000 + i, 0, on_event, t);
    }
    matcher_flush(&m, 0, on_event, t);
    matcher_release(&m);
}

static struct rules *fallback(void)
{
    static const char text[] = "any info /.+/\n"
                               "frame error /^\\s+(?:\\? )?\\w+\\+0x[0-9a-f]+/\n"
                               "slow warning /(a+)+$/\n"
                               "panic critical /Kernel panic/i\n";
    struct rules *r = NULL;
    char msg[256];
    FUZZ_CHECK(rules_parse("fallback", text, sizeof(text) - 1, &r, msg, sizeof(msg)) == 0);
    return r;
}

/* The screen may only skip rules that cannot match: each line of the log
 * (LF-separated, as the matcher cuts them) against every screened rule. */
static void check_screen(struct rules *r, const uint8_t *log, size_t n)
{
    for (size_t i = 0; i < n;) {
        const uint8_t *nl = memchr(log + i, '\n', n - i);
        size_t len = (nl ? (size_t)(nl - log) : n) - i;
        if (len > MATCHER_LINE_MAX)
            len = MATCHER_LINE_MAX;
        if (rules_screen(r, log + i, len) == RULES_NOMATCH)
            for (size_t k = 0; k < rules_count(r); k++)
                FUZZ_CHECK(!rules_screened(r, k) || rules_match(r, k, log + i, len) != RULES_MATCH);
        i = nl ? (size_t)(nl - log) + 1 : n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return 0;
    size_t step = (size_t)data[0] + 1;
    const uint8_t *text = data + 1, *nul = memchr(text, '\0', size - 1);
    size_t tlen = nul ? (size_t)(nul - text) : size - 1;
    const uint8_t *log = nul ? nul + 1 : text + tlen;
    size_t llen = (size_t)(data + size - log);

    struct rules *sentinel = (struct rules *)&step, *r = sentinel;
    char msg[512];
    int rc = rules_parse("fuzz.rules", (const char *)text, tlen, &r, msg, sizeof(msg));
    if (rc == 0) {
        FUZZ_CHECK(r != sentinel && rules_count(r) <= RULES_MAX);
        for (size_t i = 0; i < rules_count(r); i++) {
            size_t n = strlen(rules_name(r, i));
            FUZZ_CHECK(n >= 1 && n <= RULES_NAME_MAX);
            FUZZ_CHECK(strcmp(rules_severity_name(rules_severity(r, i)), "unknown") != 0);
        }
    } else {
        FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
        FUZZ_CHECK(r == sentinel);
        fuzz_check_msg(msg, sizeof(msg));
        FUZZ_CHECK(strncmp(msg, "fuzz.rules:", 11) == 0);
        r = fallback();
    }
    static struct tally pieces, whole;
    run(r, log, llen, step, &pieces);
    run(r, log, llen, llen ? llen : 1, &whole);
    FUZZ_CHECK(pieces.calls == whole.calls && pieces.hash == whole.hash);
    check_screen(r, log, llen);
    rules_free(r);
    return 0;
}
