/* console-sim's command line: console specs, ranges and modes, errors that
 * name the input, and the pacing of lines by rate. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sim/console/simopts.h"

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

static void test_panic_every_is_off_unless_given(void **state)
{
    (void)state;
    struct sim_options o;
    char err[256] = "";
    assert_int_equal(parse(&o, (const char *[]){"a=tcp:0"}, 1, err, sizeof(err)), 0);
    assert_int_equal(o.panic_every, 0);
    simopts_release(&o);
    assert_int_equal(
        parse(&o, (const char *[]){"--panic-every", "40", "a=tcp:0"}, 3, err, sizeof(err)), 0);
    assert_int_equal(o.panic_every, 40);
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
    expect_error((const char *[]){"--panic-every", "0", "a=tcp:0"}, 3, "--panic-every '0'");
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
        cmocka_unit_test(test_options_parse_specs_ranges_and_modes),
        cmocka_unit_test(test_panic_every_is_off_unless_given),
        cmocka_unit_test(test_bad_options_are_errors_naming_the_input),
        cmocka_unit_test(test_duplicate_names_and_addresses_are_refused),
        cmocka_unit_test(test_pacing_owes_first_line_at_once_then_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
