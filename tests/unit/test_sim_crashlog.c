/* console-sim's crash blocks (--panic-every): unnumbered kernel lines with
 * CRLF, the next boot's banner last, a kind that varies by console and count
 * but never by run, and each kind recognised by the shipped event rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/events/matcher.h"
#include "sim/console/bootlog.h"
#include "sim/console/crashlog.h"

static const enum crashlog_kind all_kinds[] = {
    CRASHLOG_OOPS, CRASHLOG_GPF, CRASHLOG_OOM, CRASHLOG_MCE, CRASHLOG_SOFT_LOCKUP,
};
#define NKINDS (sizeof(all_kinds) / sizeof(all_kinds[0]))

/* The block's lines, CRLF stripped, one after another in lines[]. */
static size_t split_lines(char *block, char *lines[], size_t max)
{
    size_t n = 0;
    for (char *p = block; *p && n < max;) {
        char *crlf = strstr(p, "\r\n");
        assert_non_null(crlf); /* every line ends with CRLF */
        *crlf = '\0';
        lines[n++] = p;
        p = crlf + 2;
    }
    return n;
}

static void test_every_kind_fits_and_is_unnumbered_crlf_lines(void **state)
{
    (void)state;
    for (size_t k = 0; k < NKINDS; k++) {
        char buf[CRASHLOG_BLOCK_MAX];
        size_t n = crashlog_format(buf, sizeof(buf), all_kinds[k], 1234567890);
        assert_true(n > 0);
        assert_int_equal(n, strlen(buf));
        assert_true(strncmp(buf, "[ 1234.567890] ", 15) == 0);
        char *lines[128];
        size_t count = split_lines(buf, lines, 128);
        assert_true(count > 5);
        for (size_t i = 0; i < count; i++) {
            char name[65];
            uint64_t seq;
            assert_int_equal(bootlog_parse(lines[i], name, sizeof(name), &seq), -EINVAL);
            assert_true(lines[i][0] == '[' && strlen(lines[i]) < BOOTLOG_LINE_MAX);
        }
    }
}

static void test_block_ends_with_the_reboot_banner_at_uptime_zero(void **state)
{
    (void)state;
    for (size_t k = 0; k < NKINDS; k++) {
        char buf[CRASHLOG_BLOCK_MAX];
        crashlog_format(buf, sizeof(buf), all_kinds[k], 5000000);
        char *lines[128];
        size_t count = split_lines(buf, lines, 128);
        assert_true(count >= 2);
        assert_true(strncmp(lines[count - 2], "[    0.000000] Linux version 6.", 31) == 0);
        assert_true(strncmp(lines[count - 1], "[    0.000000] Command line: ", 29) == 0);
    }
}

static void test_small_buffer_writes_nothing(void **state)
{
    (void)state;
    char buf[256] = "x";
    assert_int_equal(crashlog_format(buf, sizeof(buf), CRASHLOG_OOPS, 0), 0);
    assert_string_equal(buf, "");
    assert_int_equal(crashlog_format(buf, 0, CRASHLOG_OOPS, 0), 0);
}

static void test_kind_varies_by_console_and_count_but_not_by_run(void **state)
{
    (void)state;
    int seen[NKINDS] = {0};
    for (uint64_t nth = 1; nth <= 6; nth++) {
        enum crashlog_kind k = crashlog_kind_for("x3000c0s1b0", nth);
        assert_int_equal(k, crashlog_kind_for("x3000c0s1b0", nth));
        seen[k]++;
    }
    for (size_t k = 0; k < NKINDS; k++)
        assert_true(seen[k] > 0); /* six crashes of one console show every kind */
    int differ = 0;
    for (uint64_t nth = 1; nth <= 6; nth++)
        differ += crashlog_kind_for("n1", nth) != crashlog_kind_for("n2", nth);
    assert_true(differ > 0);
    assert_string_equal(crashlog_kind_name(CRASHLOG_SOFT_LOCKUP), "soft_lockup");
}

/* The shipped rules' events over a block, as "rule rule ...", each rule once
 * (the lines of one event fold: they come within the quiet period). */
struct names {
    const struct rules *rules;
    char text[512];
};

static void add_name(void *arg, const struct matcher_event *e)
{
    struct names *n = arg;
    if (e->kind != MATCHER_START)
        return;
    size_t len = strlen(n->text);
    snprintf(n->text + len, sizeof(n->text) - len, "%s%s", len ? " " : "",
             rules_name(n->rules, e->rule));
}

static struct rules *shipped(void)
{
    FILE *f = fopen("../../etc/conman-events.rules", "rb");
    assert_non_null(f);
    static char text[64 * 1024];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    struct rules *r = NULL;
    char msg[512];
    if (rules_parse("conman-events.rules", text, n, &r, msg, sizeof(msg)) != 0)
        fail_msg("%s", msg);
    return r;
}

/* Feeds the block, each line after `prefix` (conmand's log stamp or ""). */
static const char *events_of(struct rules *r, enum crashlog_kind kind, const char *prefix)
{
    static struct names n;
    memset(&n, 0, sizeof(n));
    n.rules = r;
    char buf[CRASHLOG_BLOCK_MAX];
    crashlog_format(buf, sizeof(buf), kind, 987654321);
    struct matcher m;
    assert_int_equal(matcher_init(&m, r, 5000), 0);
    uint64_t off = 0;
    for (char *p = buf, *eol; (eol = strstr(p, "\r\n")); p = eol + 2) {
        char line[BOOTLOG_LINE_MAX + 32];
        int len = snprintf(line, sizeof(line), "%s%.*s\r\n", prefix, (int)(eol - p), p);
        matcher_feed(&m, (const unsigned char *)line, (size_t)len, off, 1000, add_name, &n);
        off += (uint64_t)len;
    }
    matcher_release(&m);
    return n.text;
}

static void test_shipped_rules_recognise_every_kind(void **state)
{
    (void)state;
    struct rules *r = shipped();
    static const char *const prefixes[] = {"", "2026-12-03 09:40:00 "};
    for (size_t i = 0; i < 2; i++) {
        const char *p = prefixes[i];
        assert_string_equal(events_of(r, CRASHLOG_OOPS, p),
                            "kernel_oops call_trace kernel_panic boot");
        assert_string_equal(events_of(r, CRASHLOG_GPF, p),
                            "kernel_oops call_trace kernel_panic boot");
        assert_string_equal(events_of(r, CRASHLOG_OOM, p), "oom_kill call_trace boot");
        assert_string_equal(events_of(r, CRASHLOG_MCE, p), "edac machine_check kernel_panic boot");
        assert_string_equal(events_of(r, CRASHLOG_SOFT_LOCKUP, p),
                            "soft_lockup call_trace kernel_panic boot");
    }
    rules_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_fits_and_is_unnumbered_crlf_lines),
        cmocka_unit_test(test_block_ends_with_the_reboot_banner_at_uptime_zero),
        cmocka_unit_test(test_small_buffer_writes_nothing),
        cmocka_unit_test(test_kind_varies_by_console_and_count_but_not_by_run),
        cmocka_unit_test(test_shipped_rules_recognise_every_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
