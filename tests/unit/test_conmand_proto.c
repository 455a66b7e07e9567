/* The conman protocol parser and formatter, plus the other pure pieces of
 * conmand: log line processing, console type choice, backoff, seropts and
 * ipmiopts. */
#include <errno.h>
#include <ipmiconsole.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/console.h"
#include "conmand/ipmiopts.h"
#include "conmand/logfile.h"
#include "conmand/proto.h"
#include "conmand/serial.h"

static void test_hello_takes_user_and_tty(void **state)
{
    (void)state;
    struct proto_req r = {0};
    char msg[128];
    assert_int_equal(proto_parse_hello("HELLO USER='root' TTY='pts/0'", &r, msg, sizeof(msg)), 0);
    assert_string_equal(r.user, "root");
    assert_string_equal(r.tty, "pts/0");
    assert_int_equal(proto_parse_hello("hello user='x'", &r, msg, sizeof(msg)), 0);
    assert_string_equal(r.user, "x");
    assert_string_equal(r.tty, "");
}

static void test_greeting_without_user_is_a_bad_request(void **state)
{
    (void)state;
    struct proto_req r = {0};
    char msg[128];
    const char *bad[] = {"QUERY", "HELLO", "HELLO USER=''", "USER='x'", "\xff\xfe", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(proto_parse_hello(bad[i], &r, msg, sizeof(msg)), PROTO_ERR_BAD_REQUEST);
        assert_string_equal(msg, "Invalid greeting: no user specified");
    }
}

static void test_requests_set_command_options_and_patterns(void **state)
{
    (void)state;
    struct proto_req r = {0};
    assert_int_equal(
        proto_parse_request(
            "CONNECT OPTION=JOIN OPTION=BROADCAST CONSOLE='alpha' CONSOLE='b eta' CONSOLE=''", &r),
        0);
    assert_int_equal(r.cmd, PROTO_CMD_CONNECT);
    assert_true(r.join && r.broadcast && !r.force && !r.regex);
    assert_int_equal(r.npatterns, 2);
    assert_string_equal(r.patterns[0], "alpha");
    assert_string_equal(r.patterns[1], "b eta");
    proto_req_release(&r);
    memset(&r, 0, sizeof(r));
    assert_int_equal(proto_parse_request("query option=regex console='al.*'", &r), 0);
    assert_int_equal(r.cmd, PROTO_CMD_QUERY);
    assert_true(r.regex);
    proto_req_release(&r);
    memset(&r, 0, sizeof(r));
    assert_int_equal(proto_parse_request("GARBAGE CONSOLE='x'", &r), 0);
    assert_int_equal(r.cmd, PROTO_CMD_NONE);
    assert_int_equal(r.npatterns, 0);
    proto_req_release(&r);
}

static void test_matching_by_glob_and_regex(void **state)
{
    (void)state;
    const char *names[] = {"alpha", "alphabet", "beta"};
    bool m[3];
    char msg[128];
    struct proto_req r = {.cmd = PROTO_CMD_QUERY};
    assert_int_equal(proto_match(&r, names, 3, m, msg, sizeof(msg)), 3);
    r.patterns[0] = "al*";
    r.npatterns = 1;
    assert_int_equal(proto_match(&r, names, 3, m, msg, sizeof(msg)), 2);
    assert_true(m[0] && m[1] && !m[2]);
    r.regex = true;
    r.patterns[0] = "ALPHA";
    assert_int_equal(proto_match(&r, names, 3, m, msg, sizeof(msg)), 1);
    assert_true(m[0] && !m[1]);
    r.patterns[0] = "[";
    assert_int_equal(proto_match(&r, names, 3, m, msg, sizeof(msg)), -PROTO_ERR_BAD_REGEX);
    assert_string_equal(msg, "Invalid regular expression");
    struct proto_req mon = {.cmd = PROTO_CMD_MONITOR};
    assert_int_equal(proto_match(&mon, names, 3, m, msg, sizeof(msg)), 0);
}

static void test_responses_are_formatted_as_conman_sends_them(void **state)
{
    (void)state;
    char out[256];
    const char *names[] = {"alpha", "beta"};
    proto_format_ok(out, sizeof(out), names, 2, false);
    assert_string_equal(out, "OK CONSOLE='alpha' CONSOLE='beta'\n");
    proto_format_ok(out, sizeof(out), names, 0, false);
    assert_string_equal(out, "OK\n");
    proto_format_ok(out, sizeof(out), names, 1, true);
    assert_string_equal(out, "OK OPTION=RESET CONSOLE='alpha'\n");
    proto_format_error(out, sizeof(out), PROTO_ERR_NO_CONSOLES, "Found no matching consoles");
    assert_string_equal(out, "ERROR CODE=5 MESSAGE='Found no matching consoles'\n");
    proto_format_msg(out, sizeof(out), "Console [a] joined by <u@h> at 11-25 03:45");
    assert_string_equal(out, "\r\n<ConMan> Console [a] joined by <u@h> at 11-25 03:45.\r\n");
}

static void test_ok_never_breaks_the_line_when_names_do_not_fit(void **state)
{
    (void)state;
    char out[40];
    const char *names[] = {"alpha", "beta", "gamma-is-long"};
    size_t n = proto_format_ok(out, sizeof(out), names, 3, false);
    assert_string_equal(out, "OK CONSOLE='alpha' CONSOLE='beta'\n");
    assert_int_equal(n, strlen(out));
    size_t fitted = 99;
    proto_format_ok_fit(out, sizeof(out), names, 3, false, &fitted);
    assert_int_equal(fitted, 2);
    proto_format_ok_fit(out, sizeof(out), names, 1, false, &fitted);
    assert_int_equal(fitted, 1);
}

static void test_delta_and_who(void **state)
{
    (void)state;
    char out[64];
    proto_delta(5, out, sizeof(out));
    assert_string_equal(out, "5s");
    proto_delta(3723, out, sizeof(out));
    assert_string_equal(out, "1h2m3s");
    proto_delta(90061, out, sizeof(out));
    assert_string_equal(out, "1d1h1m1s");
    struct proto_req r = {.user = "root", .tty = "pts/3"};
    proto_who(&r, "localhost", out, sizeof(out));
    assert_string_equal(out, "<root@localhost> on pts/3");
    r.tty[0] = '\0';
    proto_who(&r, "localhost", out, sizeof(out));
    assert_string_equal(out, "<root@localhost>");
}

static size_t fmt(enum logfile_line *st, struct conf_logopts o, const char *in, char *out)
{
    size_t n = logfile_format(st, &o, (const unsigned char *)in, strlen(in), out, 0);
    out[n] = '\0';
    return n;
}

static void test_log_lines_are_normalised_as_conman_writes_them(void **state)
{
    (void)state;
    char out[4096];
    enum logfile_line st = LOGFILE_LINE_INIT;
    struct conf_logopts plain = {0};
    fmt(&st, plain, "a\nb\r\n\r\nc\rd", out);
    assert_string_equal(out, "a\r\nb\r\n\r\nc\r\nd");
    st = LOGFILE_LINE_INIT;
    struct conf_logopts san = {.sanitize = true};
    fmt(&st, san, "x\x01\x7f\xe9", out);
    assert_string_equal(out, "x^A^?`i");
}

static void test_timestamps_start_every_line(void **state)
{
    (void)state;
    char out[4096], stamp[32];
    enum logfile_line st = LOGFILE_LINE_INIT;
    struct conf_logopts ts = {.timestamp = true};
    logfile_stamp(0, stamp, sizeof(stamp));
    assert_int_equal(strlen(stamp), 20);
    fmt(&st, ts, "one\ntwo\n", out);
    char want[256];
    snprintf(want, sizeof(want), "%sone\r\n%stwo\r\n", stamp, stamp);
    assert_string_equal(out, want);
}

static void test_console_type_follows_the_dev_string(void **state)
{
    (void)state;
    assert_ptr_equal(console_type_for("ipmi:127.0.0.1", false), &console_ipmi_ops);
    assert_ptr_equal(console_type_for("unix:/run/x.sock", false), &console_unix_ops);
    assert_ptr_equal(console_type_for("/bin/cat -u", false), &console_process_ops);
    assert_ptr_equal(console_type_for("/dev/ttyS0", true), &console_serial_ops);
    assert_ptr_equal(console_type_for("127.0.0.1:7001", false), &console_telnet_ops);
    assert_null(console_type_for("relative/path", false));
    assert_null(console_type_for("host:notaport", false));
}

static void test_backoff_doubles_to_a_cap_with_bounded_jitter(void **state)
{
    (void)state;
    assert_int_equal(console_backoff_ms(1, 0.0), 1000);
    assert_int_equal(console_backoff_ms(2, 0.0), 2000);
    assert_int_equal(console_backoff_ms(4, 0.0), 8000);
    assert_int_equal(console_backoff_ms(40, 0.0), 60000);
    assert_int_equal(console_backoff_ms(1, 0.999), 1249);
    assert_true(console_backoff_ms(40, 0.999) <= 75000);
}

static void test_seropts_parse_speed_and_framing(void **state)
{
    (void)state;
    struct serial_opts o;
    char err[128];
    assert_int_equal(serial_parse_opts("115200,7e2", &o, err, sizeof(err)), 0);
    assert_int_equal(o.bps, 115200);
    assert_int_equal(o.databits, 7);
    assert_int_equal(o.parity, 'e');
    assert_int_equal(o.stopbits, 2);
    assert_int_equal(serial_parse_opts(NULL, &o, err, sizeof(err)), 0);
    assert_int_equal(o.bps, 9600);
    assert_int_equal(serial_parse_opts("12345", &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "12345"));
    assert_int_equal(serial_parse_opts("9600,9x1", &o, err, sizeof(err)), -EINVAL);
}

static void test_ipmiopts_plain_hex_names_and_numbers(void **state)
{
    (void)state;
    struct ipmiopts o;
    char err[128];
    assert_int_equal(ipmiopts_parse("W:opensesspriv,W:0x08000000,U:admin,P:0x7365637265740a,"
                                    "K:key,C:3,L:operator,W:solpayloadsize",
                                    &o, err, sizeof(err)),
                     0);
    assert_string_equal(o.user, "admin");
    assert_int_equal(o.password.len, 7);
    assert_memory_equal(o.password.bytes, "secret\n", 7);
    assert_int_equal(o.k_g.len, 3);
    assert_int_equal(o.cipher_suite, 3);
    assert_int_equal(o.privilege, IPMICONSOLE_PRIVILEGE_OPERATOR);
    assert_int_equal(o.workarounds, 0x09000010);
    ipmiopts_release(&o);
}

static void test_bad_ipmiopts_name_the_item_never_the_secret(void **state)
{
    (void)state;
    struct ipmiopts o;
    char err[128];
    assert_int_equal(ipmiopts_parse("P:0xzz-topsecret", &o, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "ipmiopts: invalid value for 'P'");
    assert_int_equal(ipmiopts_parse("P:twenty-one-bytes-long", &o, err, sizeof(err)), -EINVAL);
    assert_null(strstr(err, "twenty"));
    assert_int_equal(ipmiopts_parse("W:nosuchflag", &o, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "ipmiopts: invalid value for 'W'");
    assert_int_equal(ipmiopts_parse("X:1", &o, err, sizeof(err)), -EINVAL);
    assert_int_equal(ipmiopts_parse("C:99", &o, err, sizeof(err)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_takes_user_and_tty),
        cmocka_unit_test(test_greeting_without_user_is_a_bad_request),
        cmocka_unit_test(test_requests_set_command_options_and_patterns),
        cmocka_unit_test(test_matching_by_glob_and_regex),
        cmocka_unit_test(test_responses_are_formatted_as_conman_sends_them),
        cmocka_unit_test(test_ok_never_breaks_the_line_when_names_do_not_fit),
        cmocka_unit_test(test_delta_and_who),
        cmocka_unit_test(test_log_lines_are_normalised_as_conman_writes_them),
        cmocka_unit_test(test_timestamps_start_every_line),
        cmocka_unit_test(test_console_type_follows_the_dev_string),
        cmocka_unit_test(test_backoff_doubles_to_a_cap_with_bounded_jitter),
        cmocka_unit_test(test_seropts_parse_speed_and_framing),
        cmocka_unit_test(test_ipmiopts_plain_hex_names_and_numbers),
        cmocka_unit_test(test_bad_ipmiopts_name_the_item_never_the_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
