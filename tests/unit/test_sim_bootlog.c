/* console-sim's boot-log lines: name, sequence and CRLF, a kernel banner
 * first, lines that never run out, and parsing back what was formatted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/console/bootlog.h"
#include "sim/console/simopts.h" /* SIMOPTS_NAME_MAX: the longest name */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void test_line_carries_name_sequence_and_crlf(void **state)
{
    (void)state;
    char buf[BOOTLOG_LINE_MAX];
    size_t n = bootlog_format(buf, sizeof(buf), "x3000c0s1b0", 42, 12345678);
    assert_int_equal(n, strlen(buf));
    assert_true(strncmp(buf, "[   12.345678] x3000c0s1b0 #00000042 ", 37) == 0);
    assert_string_equal(buf + n - 2, "\r\n");
}

static void test_first_line_is_the_kernel_banner(void **state)
{
    (void)state;
    char buf[BOOTLOG_LINE_MAX];
    bootlog_format(buf, sizeof(buf), "n1", 1, 0);
    assert_non_null(strstr(buf, "Linux version"));
}

/* The message of a formatted line: what follows "NAME #SEQ ", without the
 * CRLF, copied into out. */
static void message_of(const char *line, char *out, size_t outlen)
{
    const char *hash = strstr(line, " #");
    assert_non_null(hash);
    const char *msg = strchr(hash + 2, ' ');
    assert_non_null(msg);
    msg++;
    size_t n = strlen(msg);
    assert_true(n > 2 && n - 2 < outlen);
    assert_string_equal(msg + n - 2, "\r\n");
    memcpy(out, msg, n - 2);
    out[n - 2] = '\0';
}

/* Every line, however far on, parses back to its console and number, has a
 * message of its own number only (not of the name or the time), and ends in
 * one CRLF; past the boot messages they repeat the running ones. */
static void test_lines_never_run_out(void **state)
{
    (void)state;
    static char seen[500][BOOTLOG_LINE_MAX];
    const char *name = "a-very-long-console-name-0123456789";
    for (uint64_t seq = 1; seq < 500; seq++) {
        char buf[BOOTLOG_LINE_MAX], other[BOOTLOG_LINE_MAX], got[65], again[BOOTLOG_LINE_MAX];
        uint64_t back = 0;
        size_t n = bootlog_format(buf, sizeof(buf), name, seq, 999999999999);
        assert_int_equal(n, strlen(buf));
        assert_true(strncmp(buf, "[999999.999999] ", 16) == 0);
        assert_int_equal(bootlog_parse(buf, got, sizeof(got), &back), 0);
        assert_string_equal(got, name);
        assert_int_equal(back, seq);
        assert_ptr_equal(strchr(buf, '\r'), buf + n - 2); /* one CRLF, at the end */
        assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
        message_of(buf, seen[seq], sizeof(seen[seq]));
        assert_true(seen[seq][0] != '\0');
        bootlog_format(other, sizeof(other), "n", seq, 7);
        message_of(other, again, sizeof(again));
        assert_string_equal(again, seen[seq]);
    }
    /* Line 1 is the kernel's; far on, every message is one seen before. */
    assert_true(strncmp(seen[1], "Linux version", 13) == 0);
    for (uint64_t seq = 400; seq < 500; seq++) {
        bool before = false;
        for (uint64_t k = 1; k < 400 && !before; k++)
            before = !strcmp(seen[k], seen[seq]);
        if (!before)
            fail_msg("line %llu's message \"%s\" is new", (unsigned long long)seq, seen[seq]);
    }
}

static void test_longest_name_sequence_and_uptime_still_fit(void **state)
{
    (void)state;
    char buf[BOOTLOG_LINE_MAX], name[SIMOPTS_NAME_MAX + 1], got[SIMOPTS_NAME_MAX + 1];
    memset(name, 'n', SIMOPTS_NAME_MAX);
    name[SIMOPTS_NAME_MAX] = '\0';
    for (uint64_t seq = UINT64_MAX - 60; seq != 0; seq++) {
        uint64_t back = 0;
        size_t n = bootlog_format(buf, sizeof(buf), name, seq, UINT64_MAX);
        assert_true(n > 0 && n < BOOTLOG_LINE_MAX);
        assert_true(strncmp(buf, "[18446744073709.551615] ", 24) == 0);
        assert_int_equal(bootlog_parse(buf, got, sizeof(got), &back), 0);
        assert_string_equal(got, name);
        assert_true(back == seq);
        assert_string_equal(buf + n - 2, "\r\n");
    }
}

static void test_sequence_zero_and_small_buffer_write_nothing(void **state)
{
    (void)state;
    char buf[16];
    assert_int_equal(bootlog_format(buf, sizeof(buf), "n1", 0, 0), 0);
    assert_int_equal(bootlog_format(buf, sizeof(buf), "n1", 1, 0), 0);
    assert_string_equal(buf, "");
}

static void test_parse_reads_back_what_format_wrote(void **state)
{
    (void)state;
    char buf[BOOTLOG_LINE_MAX], name[65];
    uint64_t seq = 0;
    bootlog_format(buf, sizeof(buf), "node-7", 31337, 5);
    assert_int_equal(bootlog_parse(buf, name, sizeof(name), &seq), 0);
    assert_string_equal(name, "node-7");
    assert_int_equal(seq, 31337);
}

static void test_parse_rejects_foreign_lines(void **state)
{
    (void)state;
    char name[65];
    uint64_t seq;
    assert_int_equal(bootlog_parse("hello world", name, sizeof(name), &seq), -EINVAL);
    assert_int_equal(bootlog_parse("[ 1.0] n1 42 x", name, sizeof(name), &seq), -EINVAL);
    assert_int_equal(bootlog_parse("[ 1.0] n1 #x x", name, sizeof(name), &seq), -EINVAL);
    assert_int_equal(bootlog_parse("[ 1.0] n1 #00000000 x", name, sizeof(name), &seq), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_carries_name_sequence_and_crlf),
        cmocka_unit_test(test_first_line_is_the_kernel_banner),
        cmocka_unit_test(test_lines_never_run_out),
        cmocka_unit_test(test_longest_name_sequence_and_uptime_still_fit),
        cmocka_unit_test(test_sequence_zero_and_small_buffer_write_nothing),
        cmocka_unit_test(test_parse_reads_back_what_format_wrote),
        cmocka_unit_test(test_parse_rejects_foreign_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
