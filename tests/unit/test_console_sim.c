/* console-sim's pure parts: boot-log lines, telnet stripping, option parsing
 * and pacing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/console/bootlog.h"
#include "sim/console/simopts.h"
#include "sim/console/telnet.h"

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

static void test_telnet_negotiation_is_stripped(void **state)
{
    (void)state;
    /* What ipmi_sim sends when it connects: DO BINARY, WILL BINARY,
     * DONT ECHO, WONT ECHO; then data. */
    unsigned char in[] = {255, 253, 0, 255, 251, 0, 255, 254, 1, 255, 252, 1, 'h', 'i', '\r'};
    struct telnet_filter f = TELNET_FILTER_INIT;
    size_t n = telnet_filter_apply(&f, in, sizeof(in));
    assert_int_equal(n, 3);
    assert_memory_equal(in, "hi\r", 3);
}

static void test_telnet_command_split_across_reads_is_stripped(void **state)
{
    (void)state;
    struct telnet_filter f = TELNET_FILTER_INIT;
    unsigned char a[] = {'a', 255}, b[] = {253, 3, 'b'};
    assert_int_equal(telnet_filter_apply(&f, a, sizeof(a)), 1);
    assert_int_equal(telnet_filter_apply(&f, b, sizeof(b)), 1);
    assert_int_equal(b[0], 'b');
}

static void test_telnet_escaped_iac_and_subnegotiation(void **state)
{
    (void)state;
    struct telnet_filter f = TELNET_FILTER_INIT;
    unsigned char in[] = {'x', 255, 255, 255, 250, 24, 0, 'v', 't', 255, 240, 'y'};
    size_t n = telnet_filter_apply(&f, in, sizeof(in));
    assert_int_equal(n, 3);
    assert_memory_equal(in, "x\xffy", 3);
}

static int parse(struct sim_options *o, const char *const *args, int n, char *err, size_t len)
{
    char *argv[16] = {"console-sim"};
    for (int i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];
    simopts_init(o);
    int rc = simopts_parse_args(o, n + 1, argv, err, len);
    return rc == 0 ? simopts_validate(o, err, len) : rc;
}

static void test_options_parse_specs_ranges_and_modes(void **state)
{
    (void)state;
    const char *args[] = {"--rate",  "0.5",          "--burst",    "--no-echo",
                          "--lines", "100",          "a=tcp:7001", "b=unix:/tmp/b.sock",
                          "--range", "n:3:tcp:9000", "--range",    "u:2:unix:/tmp/d"};
    struct sim_options o;
    char err[256] = "";
    assert_int_equal(parse(&o, args, 12, err, sizeof(err)), 0);
    assert_true(o.rate == 0.5);
    assert_true(o.burst && !o.echo);
    assert_int_equal(o.max_lines, 100);
    assert_int_equal(o.nspecs, 7);
    assert_string_equal(o.specs[0].name, "a");
    assert_int_equal(o.specs[0].port, 7001);
    assert_string_equal(o.specs[1].path, "/tmp/b.sock");
    assert_string_equal(o.specs[4].name, "n3");
    assert_int_equal(o.specs[4].port, 9002);
    assert_string_equal(o.specs[6].path, "/tmp/d/u2.sock");
    simopts_release(&o);
}

static void expect_error(const char *const *args, int n, const char *needle)
{
    struct sim_options o;
    char err[256] = "";
    assert_int_equal(parse(&o, args, n, err, sizeof(err)), -EINVAL);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not name '%s'", err, needle);
    simopts_release(&o);
}

static void test_bad_options_are_errors_naming_the_input(void **state)
{
    (void)state;
    expect_error((const char *[]){"bad name=tcp:1"}, 1, "bad name=tcp:1");
    expect_error((const char *[]){"a=tcp:70000"}, 1, "a=tcp:70000");
    expect_error((const char *[]){"a=udp:1"}, 1, "a=udp:1");
    expect_error((const char *[]){"a=unix:"}, 1, "a=unix:");
    expect_error((const char *[]){"--rate", "fast", "a=tcp:0"}, 3, "--rate 'fast'");
    expect_error((const char *[]){"--rate", "0", "a=tcp:0"}, 3, "--rate '0'");
    expect_error((const char *[]){"--lines", "-3", "a=tcp:0"}, 3, "--lines '-3'");
    expect_error((const char *[]){"--range", "n:0:tcp:1"}, 2, "n:0:tcp:1");
    expect_error((const char *[]){"--range", "n:10:tcp:65530"}, 2, "n:10:tcp:65530");
    expect_error((const char *[]){"--range", "n:3"}, 2, "n:3");
    expect_error((const char *[]){"--rate"}, 1, "--rate: missing value");
    expect_error((const char *[]){"--frobnicate"}, 1, "--frobnicate");
    expect_error((const char *[]){"--burst"}, 1, "no console");
}

static void test_duplicate_names_and_addresses_are_refused(void **state)
{
    (void)state;
    expect_error((const char *[]){"a=tcp:0", "a=tcp:0"}, 2, "console name 'a' is used twice");
    expect_error((const char *[]){"a=tcp:7000", "b=tcp:7000"}, 2, "listen on tcp:7000");
    expect_error((const char *[]){"a=unix:/x", "b=unix:/x"}, 2, "listen on unix:/x");
    /* Port 0 means "kernel picks": many consoles may ask for it. */
    const char *ok[] = {"a=tcp:0", "b=tcp:0"};
    struct sim_options o;
    char err[256];
    assert_int_equal(parse(&o, ok, 2, err, sizeof(err)), 0);
    simopts_release(&o);
}

static void test_pacing_owes_first_line_at_once_then_rate(void **state)
{
    (void)state;
    assert_int_equal(simopts_lines_due(2.0, 0), 1);
    assert_int_equal(simopts_lines_due(2.0, 499), 1);
    assert_int_equal(simopts_lines_due(2.0, 500), 2);
    assert_int_equal(simopts_lines_due(1000.0, 1000), 1001);
    assert_int_equal(simopts_lines_due(0.5, 1999), 1);
    assert_int_equal(simopts_tick_ms(2.0), 500);
    assert_int_equal(simopts_tick_ms(0.1), 1000);
    assert_int_equal(simopts_tick_ms(100000.0), 5);
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
        cmocka_unit_test(test_telnet_negotiation_is_stripped),
        cmocka_unit_test(test_telnet_command_split_across_reads_is_stripped),
        cmocka_unit_test(test_telnet_escaped_iac_and_subnegotiation),
        cmocka_unit_test(test_options_parse_specs_ranges_and_modes),
        cmocka_unit_test(test_bad_options_are_errors_naming_the_input),
        cmocka_unit_test(test_duplicate_names_and_addresses_are_refused),
        cmocka_unit_test(test_pacing_owes_first_line_at_once_then_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
