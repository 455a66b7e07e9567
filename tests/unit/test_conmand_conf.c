/* conman.conf(5) parser: every keyword, quoting, comments, case, and bad
 * lines reported as FILE:LINE naming the token. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <cmocka.h>

#include "conmand/conf.h"

struct reports {
    char msgs[16][512];
    int n;
};

static void collect(void *ctx, const char *msg)
{
    struct reports *r = ctx;
    if (r->n < 16)
        snprintf(r->msgs[r->n++], sizeof(r->msgs[0]), "%s", msg);
}

static void parse_ok(const char *text, struct conf *c, struct reports *r)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(conf_parse(text, "test.conf", collect, r, c), 0);
}

static void test_every_server_keyword_is_parsed(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("SERVER coredump=ON coredumpdir=\"/var/core\"\n"
             "server execpath=\"/usr/lib/conman/exec\" keepalive=off\n"
             "Server logdir='/var/log/conman' logfile=\"/var/log/conmand.log,notice\"\n"
             "server loopback=yes nofile=20000 pidfile=/run/conmand.pid port=7891\n"
             "server resetcmd=\"powerman -r %N\" syslog=local0 tcpwrappers=off\n"
             "server timestamp=2h\n",
             &c, &r);
    assert_int_equal(c.nerrors, 0);
    assert_true(c.server.coredump);
    assert_string_equal(c.server.coredumpdir, "/var/core");
    assert_string_equal(c.server.execpath, "/usr/lib/conman/exec");
    assert_false(c.server.keepalive);
    assert_string_equal(c.server.logdir, "/var/log/conman");
    assert_string_equal(c.server.logfile, "/var/log/conmand.log");
    assert_int_equal(c.server.logfile_priority, LOG_NOTICE);
    assert_true(c.server.loopback);
    assert_int_equal(c.server.nofile, 20000);
    assert_string_equal(c.server.pidfile, "/run/conmand.pid");
    assert_int_equal(c.server.port, 7891);
    assert_string_equal(c.server.resetcmd, "powerman -r %N");
    assert_string_equal(c.server.syslog, "local0");
    assert_false(c.server.tcpwrappers);
    assert_int_equal(c.server.timestamp_min, 120);
    conf_release(&c);
}

static void test_defaults_without_server_lines(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("# only a comment\n\n", &c, &r);
    assert_int_equal(c.server.port, CONF_DEFAULT_PORT);
    assert_true(c.server.keepalive);
    assert_int_equal(c.server.nofile, -1);
    assert_null(c.server.logdir);
    assert_int_equal(c.nconsoles, 0);
    conf_release(&c);
}

static void test_global_settings_apply_to_later_consoles(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("global log=\"console.%N\" logopts=\"timestamp,sanitize\"\n"
             "GLOBAL seropts=\"115200,8n1\" ipmiopts=\"W:solpayloadsize\"\n"
             "console name=\"n1\" dev=\"ipmi:127.0.0.1\" ipmiopts=\"U:admin,P:0x7365\"\n"
             "console name=\"n2\" dev=\"/dev/ttyS0\" log=\"\" logopts=\"nolock\"\n"
             "console name='n3' dev='/bin/cat' log='/abs/%N-%D.log' seropts='9600'\n",
             &c, &r);
    assert_int_equal(c.nerrors, 0);
    assert_int_equal(c.nconsoles, 3);
    const struct conf_console *n1 = conf_find(&c, "n1");
    assert_string_equal(n1->log, "console.n1");
    assert_true(n1->logopts.timestamp && n1->logopts.sanitize && n1->logopts.lock);
    assert_string_equal(n1->ipmiopts, "W:solpayloadsize,U:admin,P:0x7365");
    assert_string_equal(n1->seropts, "115200,8n1");
    const struct conf_console *n2 = conf_find(&c, "n2");
    assert_null(n2->log);
    assert_false(n2->logopts.lock);
    const struct conf_console *n3 = conf_find(&c, "n3");
    assert_string_equal(n3->log, "/abs/n3-/bin/cat.log");
    assert_string_equal(n3->seropts, "9600");
    assert_int_equal(n3->line, 5);
    conf_release(&c);
}

static void test_comments_and_quotes_hold_special_characters(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("console name=\"a#b\" dev=\"/bin/sh -c 'echo x=y'\" # trailing comment\n"
             "  # indented comment\n"
             "console name=plain dev=host:23\n",
             &c, &r);
    assert_int_equal(c.nerrors, 0);
    assert_int_equal(c.nconsoles, 2);
    assert_string_equal(c.consoles[0].name, "a#b");
    assert_string_equal(c.consoles[0].dev, "/bin/sh -c 'echo x=y'");
    assert_string_equal(c.consoles[1].dev, "host:23");
    conf_release(&c);
}

static void test_bad_lines_are_reported_with_file_line_and_token_and_skipped(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("console name=\"ok1\" dev=\"/bin/cat\"\n"
             "bogus line here\n"
             "server port=notanumber\n"
             "server frobnicate=1\n"
             "console name=\"nodev\"\n"
             "console name=\"ok1\" dev=\"/bin/true\"\n"
             "console name=\"q\" dev=\"/bin/cat\n"
             "global logopts=\"timestamp,sparkle\"\n"
             "console name=\"ok2\" dev=\"/bin/cat\" colour=\"red\"\n"
             "console name=\"ok3\" dev=\"/bin/cat\"\n",
             &c, &r);
    assert_int_equal(c.nerrors, 8);
    assert_int_equal(r.n, 8);
    assert_string_equal(r.msgs[0], "test.conf:2: unrecognized token 'bogus'");
    assert_string_equal(r.msgs[1], "test.conf:3: invalid value 'notanumber' for SERVER port");
    assert_string_equal(r.msgs[2], "test.conf:4: unrecognized SERVER keyword 'frobnicate'");
    assert_string_equal(r.msgs[3], "test.conf:5: CONSOLE 'nodev' without a dev");
    assert_string_equal(r.msgs[4], "test.conf:6: duplicate CONSOLE name 'ok1'");
    assert_non_null(strstr(r.msgs[5], "test.conf:7: unmatched quote"));
    assert_string_equal(r.msgs[6], "test.conf:8: unrecognized logopts word 'sparkle'");
    assert_string_equal(r.msgs[7], "test.conf:9: unrecognized CONSOLE keyword 'colour'");
    assert_int_equal(c.nconsoles, 2);
    assert_string_equal(c.consoles[0].name, "ok1");
    assert_string_equal(c.consoles[0].dev, "/bin/cat");
    assert_string_equal(c.consoles[1].name, "ok3");
    assert_int_equal(c.server.port, CONF_DEFAULT_PORT);
    conf_release(&c);
}

static void test_missing_values_and_equals_are_reported(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("server port\nserver port=\nserver = 5\nserver timestamp=5x\n", &c, &r);
    assert_int_equal(r.n, 4);
    assert_string_equal(r.msgs[0], "test.conf:1: missing value for 'port'");
    assert_string_equal(r.msgs[1], "test.conf:2: missing value for 'port'");
    assert_string_equal(r.msgs[2], "test.conf:3: unrecognized token '='");
    assert_string_equal(r.msgs[3], "test.conf:4: invalid value '5x' for SERVER timestamp");
    conf_release(&c);
}

static void test_console_equality_drives_the_reload_diff(void **state)
{
    (void)state;
    struct conf a, b;
    struct reports r;
    parse_ok("global log=\"c.%N\"\nconsole name=x dev=/bin/cat\nconsole name=y dev=h:1\n", &a, &r);
    parse_ok("global log=\"c.%N\"\nconsole name=y dev=h:2\nconsole name=x dev=/bin/cat\n", &b, &r);
    assert_true(conf_console_equal(conf_find(&a, "x"), conf_find(&b, "x")));
    assert_false(conf_console_equal(conf_find(&a, "y"), conf_find(&b, "y")));
    conf_release(&a);
    conf_release(&b);
}

static void test_console_copy_is_deep_and_replaces_the_old_strings(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("console name=\"a\" dev=\"unix:/tmp/a\" ipmiopts=\"U:x\"\n"
             "console name=\"b\" dev=\"ipmi:127.0.0.1\" sshopts=\"T:5\" log=\"b.log\"\n",
             &c, &r);
    struct conf_console copy = {0};
    assert_int_equal(conf_console_copy(&copy, &c.consoles[0]), 0);
    assert_true(conf_console_equal(&copy, &c.consoles[0]));
    assert_ptr_not_equal(copy.name, c.consoles[0].name);
    assert_int_equal(conf_console_copy(&copy, &c.consoles[1]), 0); /* old strings freed */
    assert_true(conf_console_equal(&copy, &c.consoles[1]));
    assert_string_equal(copy.name, "b");
    conf_release(&c);
    assert_string_equal(copy.sshopts, "T:5"); /* owns its strings */
    conf_console_release(&copy);
    assert_null(copy.name);
}

static void test_split_args_honours_quotes(void **state)
{
    (void)state;
    char buf[256];
    char *argv[8];
    assert_int_equal(conf_split_args("/bin/sh -c 'echo a b' \"x y\"z", buf, sizeof(buf), argv, 8),
                     4);
    assert_string_equal(argv[0], "/bin/sh");
    assert_string_equal(argv[1], "-c");
    assert_string_equal(argv[2], "echo a b");
    assert_string_equal(argv[3], "x yz");
    assert_null(argv[4]);
    assert_int_equal(conf_split_args("/bin/sh 'open", buf, sizeof(buf), argv, 8), -EINVAL);
    assert_int_equal(conf_split_args("a b c d", buf, sizeof(buf), argv, 3), -E2BIG);
}

static void test_expand_replaces_name_dev_and_percent(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(conf_expand("%N/%D/%%/%x", "n", "d", out, sizeof(out)), 0);
    assert_string_equal(out, "n/d/%/%x");
    assert_int_equal(conf_expand("%N%N%N", "long-name", "d", out, 10), -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_server_keyword_is_parsed),
        cmocka_unit_test(test_defaults_without_server_lines),
        cmocka_unit_test(test_global_settings_apply_to_later_consoles),
        cmocka_unit_test(test_comments_and_quotes_hold_special_characters),
        cmocka_unit_test(test_bad_lines_are_reported_with_file_line_and_token_and_skipped),
        cmocka_unit_test(test_missing_values_and_equals_are_reported),
        cmocka_unit_test(test_console_equality_drives_the_reload_diff),
        cmocka_unit_test(test_console_copy_is_deep_and_replaces_the_old_strings),
        cmocka_unit_test(test_split_args_honours_quotes),
        cmocka_unit_test(test_expand_replaces_name_dev_and_percent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
