/* conman.conf(5) parser: every keyword, quoting, comments, case, and bad
 * lines reported as FILE:LINE naming the token; log names (conf_format) and
 * device ids (conf_dev_id). */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <cmocka.h>

#include "conmand/conf/conf.h"
#include "conmand/consoles/types.h"

struct reports {
    char msgs[16][512];
    bool warning[16];
    int n;
};

static void collect(void *ctx, bool warning, const char *msg)
{
    struct reports *r = ctx;
    if (r->n < 16) {
        r->warning[r->n] = warning;
        snprintf(r->msgs[r->n++], sizeof(r->msgs[0]), "%s", msg);
    }
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
             "server timestamp=2h httpport=9100 httpaddr=127.0.0.2 logsize=5M logkeep=3\n"
             "server logbudget=10G logship=\"tcp:collector:6000\" logship=\"file:/var/ship\"\n",
             &c, &r);
    assert_int_equal(c.nerrors, 0);
    assert_int_equal(c.server.httpport, 9100);
    assert_string_equal(c.server.httpaddr, "127.0.0.2");
    assert_int_equal(c.server.logsize, 5ULL << 20);
    assert_int_equal(c.server.logkeep, 3);
    assert_int_equal(c.server.logbudget, 10ULL << 30);
    assert_string_equal(c.server.logship_tcp, "collector:6000");
    assert_string_equal(c.server.logship_file, "/var/ship");
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
    assert_int_equal(c.server.nofile, 0); /* 0.2.8 on: keep the soft limit */
    assert_true(c.server.loopback);       /* 0.2.8 on: 127.0.0.1 */
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
    assert_string_equal(n1->log, "console.%N");
    assert_true(n1->logopts.timestamp && n1->logopts.sanitize && n1->logopts.lock);
    /* Each console keeps its own type's options only. */
    assert_string_equal(n1->opts, "W:solpayloadsize\nU:admin,P:0x7365");
    const struct conf_console *n2 = conf_find(&c, "n2");
    assert_string_equal(n2->opts, "115200,8n1");
    assert_null(n2->log);
    assert_false(n2->logopts.lock);
    const struct conf_console *n3 = conf_find(&c, "n3");
    assert_string_equal(n3->log, "/abs/%N-%D.log"); /* expanded at open */
    assert_string_equal(n3->opts, "9600,8n1");      /* over the GLOBAL 115200,8n1 */
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
    assert_int_equal(c.nerrors, 7);
    assert_int_equal(c.nwarnings, 1);
    assert_int_equal(r.n, 8);
    assert_string_equal(r.msgs[0], "test.conf:2: unrecognized token 'bogus'");
    assert_string_equal(r.msgs[1], "test.conf:3: invalid value 'notanumber' for SERVER port");
    assert_string_equal(r.msgs[2], "test.conf:4: unrecognized SERVER keyword 'frobnicate'");
    assert_string_equal(r.msgs[3], "test.conf:5: CONSOLE 'nodev' without a dev");
    assert_string_equal(r.msgs[4], "test.conf:6: duplicate CONSOLE name 'ok1'");
    assert_non_null(strstr(r.msgs[5], "test.conf:7: unmatched quote"));
    assert_string_equal(r.msgs[6], "test.conf:8: ignoring unrecognized logopts word 'sparkle'");
    assert_true(r.warning[6] && !r.warning[5] && !r.warning[7]);
    assert_string_equal(r.msgs[7], "test.conf:9: unrecognized CONSOLE keyword 'colour'");
    assert_int_equal(c.nconsoles, 2);
    assert_string_equal(c.consoles[0].name, "ok1");
    assert_string_equal(c.consoles[0].dev, "/bin/cat");
    assert_string_equal(c.consoles[1].name, "ok3");
    assert_int_equal(c.server.port, CONF_DEFAULT_PORT);
    assert_int_equal(c.server.httpport, 0); /* off unless configured */
    assert_null(c.server.httpaddr);
    assert_int_equal(c.server.logsize, 0);
    assert_int_equal(c.server.logkeep, 2);
    assert_int_equal(c.server.logbudget, 0);
    assert_null(c.server.logship_tcp);
    assert_null(c.server.logship_file);
    conf_release(&c);
}

static void test_a_bad_peer_address_is_reported_at_its_line(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("console name=\"p\" dev=\"peer:127.0.0.1:65536\"\n"
             "console name=\"q\" dev=\"peer:[::1]:7890\"\n",
             &c, &r);
    assert_int_equal(c.nerrors, 1);
    assert_string_equal(r.msgs[0], "test.conf:1: console [p]: dev \"peer:127.0.0.1:65536\": "
                                   "'127.0.0.1:65536': expected HOST:PORT (a name, an IPv4 "
                                   "address or [IPv6]; PORT 1-65535)");
    assert_int_equal(c.nconsoles, 1);
    assert_string_equal(c.consoles[0].name, "q");
    conf_release(&c);
}

static void test_bad_operations_values_name_the_keyword(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("server httpport=65536\nserver httpaddr=localhost\nserver logsize=5MB\n"
             "server logkeep=1001\nserver logbudget=0\nserver logship=udp:h:1\n"
             "server logship=tcp:h\nserver logship=tcp::80\nserver logship=file:\n",
             &c, &r);
    assert_int_equal(c.nerrors, 9);
    assert_string_equal(r.msgs[0], "test.conf:1: invalid value '65536' for SERVER httpport");
    assert_string_equal(r.msgs[1],
                        "test.conf:2: invalid value 'localhost' for SERVER httpaddr: not an IP "
                        "address");
    assert_string_equal(r.msgs[2], "test.conf:3: invalid value '5MB' for SERVER logsize");
    assert_string_equal(r.msgs[3], "test.conf:4: invalid value '1001' for SERVER logkeep");
    assert_string_equal(r.msgs[4], "test.conf:5: invalid value '0' for SERVER logbudget");
    assert_string_equal(r.msgs[5], "test.conf:6: invalid value 'udp:h:1' for SERVER logship: "
                                   "want \"tcp:HOST:PORT\" or \"file:PATH\"");
    assert_null(c.server.logship_tcp);
    assert_null(c.server.logship_file);
    assert_int_equal(c.server.httpport, 0);
    conf_release(&c);
}

static void test_the_web_console_keywords(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("server httpjoin=ON httpcert=\"/etc/conman/web.crt\" httpkey=/etc/conman/web.key\n",
             &c, &r);
    assert_int_equal(c.nerrors, 0);
    assert_true(c.server.httpjoin);
    assert_string_equal(c.server.httpcert, "/etc/conman/web.crt");
    assert_string_equal(c.server.httpkey, "/etc/conman/web.key");
    conf_release(&c);
    parse_ok("server httpport=8080\n", &c, &r);
    assert_false(c.server.httpjoin); /* read-only unless configured */
    assert_null(c.server.httpcert);
    conf_release(&c);
    parse_ok("server httpjoin=maybe\nserver httpcert=/c.pem\n", &c, &r);
    assert_int_equal(c.nerrors, 2);
    assert_string_equal(r.msgs[0], "test.conf:1: invalid value 'maybe' for SERVER httpjoin");
    assert_string_equal(r.msgs[1], "test.conf:2: SERVER httpcert is set without httpkey: HTTPS "
                                   "needs both the certificate and the key");
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
             "console name=\"b\" dev=\"ssh:u@127.0.0.1\" sshopts=\"T:5\" log=\"b.log\"\n",
             &c, &r);
    struct conf_console copy = {0};
    assert_int_equal(conf_console_copy(&copy, &c.consoles[0]), 0);
    assert_true(conf_console_equal(&copy, &c.consoles[0]));
    assert_ptr_not_equal(copy.name, c.consoles[0].name);
    assert_int_equal(conf_console_copy(&copy, &c.consoles[1]), 0); /* old strings freed */
    assert_true(conf_console_equal(&copy, &c.consoles[1]));
    assert_string_equal(copy.name, "b");
    conf_release(&c);
    assert_string_equal(copy.opts, "T:5"); /* owns its strings */
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

/* Log names (issue 20, item 6): the format is configuration, kept as
 * written; one name for several consoles is refused as conman refuses it. */
static void test_log_names_are_kept_unexpanded_for_the_open(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("global log=\"%Y/%m/console.%N.%s\"\n"
             "console name=a dev=/bin/cat\n"
             "console name=b dev=/bin/cat log=\"b-%H%M.log\"\n",
             &c, &r);
    assert_int_equal(c.nerrors, 0);
    assert_string_equal(conf_find(&c, "a")->log, "%Y/%m/console.%N.%s");
    assert_string_equal(conf_find(&c, "b")->log, "b-%H%M.log");
    conf_release(&c);
}

static void test_global_log_without_name_or_dev_is_refused_naming_the_line(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("global log=\"console.%N\"\n"
             "global log=\"all-%Y.log\"\n"
             "console name=a dev=/bin/cat\n",
             &c, &r);
    assert_int_equal(c.nerrors, 1);
    assert_non_null(strstr(r.msgs[0], "test.conf:2:"));
    assert_non_null(strstr(r.msgs[0], "all-%Y.log"));
    assert_string_equal(conf_find(&c, "a")->log, "console.%N"); /* the earlier one stays */
    conf_release(&c);
}

static void test_one_log_name_for_two_consoles_is_refused_naming_both(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("console name=a dev=/bin/cat log=\"shared-%Y.log\"\n"
             "console name=b dev=/bin/cat log=\"own.log\"\n"
             "console name=c dev=/bin/cat log=\"shared-%Y.log\"\n"
             "console name=d dev=/dev/ttyS0 log=\"%D.log\"\n"
             "console name=e dev=/dev/ttyS1 log=\"%D.log\"\n"
             "console name=f dev=unix:/run/x/ttyS1 log=\"%D.log\"\n"
             "console name=g dev=/bin/cat log=\"own.log\"\n",
             &c, &r);
    assert_int_equal(c.nerrors, 3);
    assert_non_null(strstr(r.msgs[0], "test.conf:3:"));
    assert_non_null(strstr(r.msgs[0], "console [a] (line 1)"));
    assert_non_null(strstr(r.msgs[1], "test.conf:6:"));
    assert_non_null(strstr(r.msgs[1], "console [e] (line 5)"));
    assert_non_null(strstr(r.msgs[2], "test.conf:7:"));
    /* Kept, unlogged, as conman keeps them. */
    assert_int_equal(c.nconsoles, 7);
    assert_null(conf_find(&c, "c")->log);
    assert_null(conf_find(&c, "f")->log);
    assert_string_equal(conf_find(&c, "e")->log, "%D.log");
    conf_release(&c);
}

static void test_a_name_per_console_by_N_or_D_is_accepted_for_10000(void **state)
{
    (void)state;
    size_t len = 10000 * 64 + 64, o = 0;
    char *text = malloc(len);
    assert_non_null(text);
    o += (size_t)snprintf(text + o, len - o, "global log=\"%%Y/console.%%N\"\n");
    for (int i = 0; i < 10000; i++)
        o += (size_t)snprintf(text + o, len - o, "console name=n%d dev=unix:/run/%d.sock\n", i, i);
    struct conf c;
    struct reports r;
    parse_ok(text, &c, &r);
    free(text);
    assert_int_equal(c.nerrors, 0);
    assert_int_equal(c.nconsoles, 10000);
    conf_release(&c);
}

/* --- conman 0.3.1's keywords and values (issue 20) --- */

static void test_nofile_takes_zero_minus_one_and_a_count(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    static const struct {
        const char *val;
        int want;
    } ok[] = {{"0", 0}, {"-1", -1}, {"max", -1}, {"4096", 4096}, {"1073741824", 1073741824}};
    char text[128];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(text, sizeof(text), "server nofile=%s\n", ok[i].val);
        parse_ok(text, &c, &r);
        assert_int_equal(c.nerrors, 0);
        assert_int_equal(c.server.nofile, ok[i].want);
        conf_release(&c);
    }
    parse_ok("server nofile=-2\nserver nofile=1073741825\nserver nofile=many\n", &c, &r);
    assert_int_equal(c.nerrors, 3);
    assert_string_equal(r.msgs[0], "test.conf:1: invalid value '-2' for SERVER nofile");
    assert_string_equal(r.msgs[1], "test.conf:2: invalid value '1073741825' for SERVER nofile");
    assert_int_equal(c.server.nofile, 0);
    conf_release(&c);
}

static void test_loopback_is_on_unless_turned_off(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("server port=7890\n", &c, &r);
    assert_true(c.server.loopback);
    conf_release(&c);
    parse_ok("SERVER LOOPBACK=OFF\n", &c, &r);
    assert_false(c.server.loopback);
    conf_release(&c);
}

static void test_backslash_newline_continues_a_line(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("console name=\"a\" \\\n"
             "   dev=\"/bin/cat\" \\\r\n"
             "   log=\"a.log\"\n"
             "console name=\"b\"\\\n"
             "dev=\"/bin/cat\"\n"
             "# a comment \\\n"
             "server bogus=1\n"
             "console name=\"c\" \\ dev=\"/bin/cat\"\n"
             "console name=\"d\\\n"
             "\" dev=\"/bin/cat\"\n",
             &c, &r);
    assert_int_equal(c.nconsoles, 2);
    assert_string_equal(c.consoles[0].name, "a");
    assert_string_equal(c.consoles[0].dev, "/bin/cat");
    assert_non_null(c.consoles[0].log);
    assert_int_equal(c.consoles[0].line, 1);
    assert_string_equal(c.consoles[1].name, "b"); /* the newline reads as a blank */
    assert_int_equal(c.consoles[1].line, 4);
    /* A comment ends at its newline; later lines keep their numbers. */
    assert_string_equal(r.msgs[0], "test.conf:7: unrecognized SERVER keyword 'bogus'");
    /* Not right before the newline: no continuation (a stray token). */
    assert_non_null(strstr(r.msgs[1], "test.conf:8: "));
    /* Inside quotes: a string may not hold a newline. */
    assert_non_null(strstr(r.msgs[2], "test.conf:9: unmatched quote"));
    conf_release(&c);
}

static void test_a_logical_line_has_a_limit(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    char text[8300];
    const char *head = "console name=\"x\" dev=\"/bin/cat\" # ";
    for (size_t len = 8190; len <= 8191; len++) {
        size_t n = strlen(head);
        memcpy(text, head, n);
        memset(text + n, 'l', len - n);
        text[len] = '\n';
        text[len + 1] = '\0';
        parse_ok(text, &c, &r);
        assert_int_equal(c.nconsoles, len == 8190 ? 1 : 0);
        if (len == 8191)
            assert_string_equal(r.msgs[0], "test.conf:1: line longer than 8190 bytes");
        conf_release(&c);
    }
}

static void test_unknown_logopts_word_warns_and_keeps_the_console(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("global logopts=\"sanitize,frobnicate\"\n"
             "console name=\"a\" dev=\"/bin/cat\" logopts=\"timestamp.sparkle;nolock\"\n",
             &c, &r);
    assert_int_equal(c.nerrors, 0);
    assert_int_equal(c.nwarnings, 2);
    assert_true(r.warning[0] && r.warning[1]);
    assert_string_equal(r.msgs[0], "test.conf:1: ignoring unrecognized logopts word 'frobnicate'");
    assert_string_equal(r.msgs[1], "test.conf:2: ignoring unrecognized logopts word 'sparkle'");
    assert_int_equal(c.nconsoles, 1);
    const struct conf_logopts *o = &c.consoles[0].logopts;
    assert_true(o->sanitize && o->timestamp && !o->lock);
    conf_release(&c);
}

static void test_console_seropts_are_parsed_over_the_global_ones(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("global seropts=\"115200,7e2\"\n"
             "console name=\"a\" dev=\"/dev/ttyS0\" seropts=\"9600\"\n"
             "console name=\"b\" dev=\"/dev/ttyS1\" seropts=\"19200,8\"\n"
             "console name=\"c\" dev=\"/dev/ttyS2\"\n"
             "console name=\"d\" dev=\"/dev/ttyS3\" seropts=\"100000,8n1\"\n"
             "console name=\"e\" dev=\"/dev/ttyS4\" seropts=\"9600,9\"\n"
             "global seropts=\"fast\"\n"
             "console name=\"f\" dev=\"/dev/ttyS5\"\n"
             "console name=\"g\" dev=\"host:23\" seropts=\"slow\"\n",
             &c, &r);
    assert_string_equal(conf_find(&c, "a")->opts, "9600,7e2");
    assert_string_equal(conf_find(&c, "b")->opts, "19200,8e2");
    assert_string_equal(conf_find(&c, "c")->opts, "115200,7e2");
    assert_string_equal(conf_find(&c, "d")->opts, "57600,8n1"); /* rounded down */
    assert_null(conf_find(&c, "e"));
    assert_string_equal(conf_find(&c, "f")->opts, "115200,7e2"); /* bad GLOBAL ignored */
    assert_int_equal(c.nerrors, 2);
    assert_non_null(strstr(r.msgs[0], "test.conf:6: console [e]: seropts \"9600,9\""));
    assert_non_null(strstr(r.msgs[1], "test.conf:7: GLOBAL seropts \"fast\""));
    /* Not a serial console: conman does not read its seropts. */
    assert_non_null(conf_find(&c, "g"));
    assert_int_equal(c.nwarnings, 1);
    assert_true(r.warning[2]);
    assert_non_null(strstr(r.msgs[2], "test.conf:9: console [g]: seropts \"slow\""));
    conf_release(&c);
}

static void test_ipmiopts_layers_are_checked_with_their_line(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("global ipmiopts=\"U:admin,W:solpacketseq\"\n"
             "global ipmiopts=\"W:nosuch\"\n"
             "global ipmiopts=\"admin,topsecret\"\n"
             "console name=\"a\" dev=\"ipmi:10.0.0.1\" ipmiopts=\"W:serialalertsdeferred\"\n"
             "console name=\"b\" dev=\"ipmi:10.0.0.2\" ipmiopts=\"P:topsecret-topsecret-x\"\n"
             "console name=\"c\" dev=\"/bin/cat\" ipmiopts=\"W:nosuch\"\n"
             "console name=\"d\" dev=\"ipmi:10.0.0.4\" ipmiopts=\"\"\n",
             &c, &r);
    assert_string_equal(conf_find(&c, "a")->opts,
                        "U:admin,W:solpacketseq\nadmin,topsecret\nW:serialalertsdeferred");
    assert_null(conf_find(&c, "b"));
    assert_non_null(conf_find(&c, "c")); /* only an ipmi: console reads them */
    assert_non_null(conf_find(&c, "d"));
    assert_int_equal(c.nerrors, 2);
    assert_string_equal(r.msgs[0],
                        "test.conf:2: GLOBAL ipmiopts: W: unknown workaround \"nosuch\": ignored");
    assert_string_equal(r.msgs[1], "test.conf:5: console [b]: ipmiopts: P: longer than 20 bytes");
    for (int i = 0; i < r.n; i++)
        assert_null(strstr(r.msgs[i], "topsecret"));
    conf_release(&c);
}

static void test_percent_n_in_any_dev_is_the_name(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    parse_ok("console name=\"n1\" dev=\"ipmi:%N-bmc\"\n"
             "console name=\"n2\" dev=\"unix:/run/%N.sock\"\n"
             "console name=\"n3\" dev=\"/bin/echo %N '%N' %%N %D\"\n"
             "console name=\"n6\" dev='/bin/echo \"%N\"'\n"
             "console name=\"n 4\" dev=\"/bin/echo %N\"\n"
             "console name=\"n5\" dev=\"%N.example:23\"\n",
             &c, &r);
    assert_int_equal(c.nerrors, 0);
    assert_string_equal(conf_find(&c, "n1")->dev, "ipmi:n1-bmc");
    assert_string_equal(conf_find(&c, "n2")->dev, "unix:/run/n2.sock");
    assert_string_equal(conf_find(&c, "n3")->dev, "/bin/echo n3 '%N' %n3 %D");
    assert_string_equal(conf_find(&c, "n6")->dev, "/bin/echo \"n6\"");
    assert_string_equal(conf_find(&c, "n 4")->dev, "/bin/echo \"n 4\"");
    assert_string_equal(conf_find(&c, "n5")->dev, "n5.example:23");
    conf_release(&c);
}

static void test_a_long_path_truncates_the_message_never_overflows(void **state)
{
    (void)state;
    struct conf c;
    struct reports r;
    char path[2048];
    memset(path, 'p', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    memset(&r, 0, sizeof(r));
    assert_int_equal(conf_parse("server frobnicate=1\n", path, collect, &r, &c), 0);
    assert_int_equal(c.nerrors, 1);
    assert_int_equal(r.n, 1);
    assert_int_equal(strncmp(r.msgs[0], path, 100), 0);
    conf_release(&c);
}

/* Log names: conman 0.3.1's conversion specifiers (conf_format), with the
 * time passed in. TZ is UTC for these (set in main). */
static void expect_format(const char *fmt, time_t now, const char *want)
{
    char out[256];
    struct conf_fmt v = {.name = "n1", .devid = "ttyS0", .pid = 4242, .now = now};
    assert_int_equal(conf_format(fmt, &v, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void test_format_expands_every_specifier_of_0_3_1(void **state)
{
    (void)state;
    const time_t t = 1700000000; /* 2023-11-14 22:13:20 UTC, a Tuesday */
    expect_format("%N", t, "n1");
    expect_format("%D", t, "ttyS0");
    expect_format("%P", t, "4242");
    expect_format("%Y", t, "2023");
    expect_format("%y", t, "23");
    expect_format("%m", t, "11");
    expect_format("%d", t, "14");
    expect_format("%H", t, "22");
    expect_format("%M", t, "13");
    expect_format("%S", t, "20");
    expect_format("%s", t, "1700000000");
    expect_format("%g", t, "23");
    expect_format("%G", t, "2023");
    expect_format("%j", t, "318");
    expect_format("%u", t, "2");
    expect_format("%U", t, "46");
    expect_format("%V", t, "46");
    expect_format("%w", t, "2");
    expect_format("%W", t, "46");
    expect_format("%%", t, "%");
    expect_format("%Y/%m/%d/console.%N-%H%M%S", t, "2023/11/14/console.n1-221320");
}

static void test_format_iso_week_year_differs_from_the_calendar_year(void **state)
{
    (void)state;
    const time_t t = 1609459200; /* 2021-01-01, a Friday: ISO week 53 of 2020 */
    expect_format("%G-%g-W%V %Y %j %u %w %U %W", t, "2020-20-W53 2021 001 5 5 00 00");
}

static void test_format_keeps_unknown_specifiers_as_written(void **state)
{
    (void)state;
    /* %L is no specifier of 0.3.1 (nor %x, %e, ...): kept, like conman's. */
    expect_format("a%Lb%xc%e", 0, "a%Lb%xc%e");
    expect_format("tail%", 0, "tail%");
    expect_format("%%N is %N", 0, "%N is n1");
    expect_format("plain.log", 0, "plain.log");
}

static void test_format_sanitizes_name_and_dev_only(void **state)
{
    (void)state;
    char out[128];
    struct conf_fmt v = {.name = "rack1/n 1\t\x01\x7f\xc3\xa9", .devid = "a/b", .now = 0};
    assert_int_equal(conf_format("logs/%N.%D", &v, out, sizeof(out)), 0);
    assert_string_equal(out, "logs/rack1_n_1_____.a_b");
}

static void test_format_without_name_keeps_N_and_D_for_the_server_log(void **state)
{
    (void)state;
    char out[128];
    struct conf_fmt v = {.pid = 7, .now = 1700000000};
    assert_int_equal(conf_format("conmand-%N%D-%P-%Y.log", &v, out, sizeof(out)), 0);
    assert_string_equal(out, "conmand-%N%D-7-2023.log");
}

static void test_format_fits_exactly_and_one_byte_short_is_too_long(void **state)
{
    (void)state;
    char out[16];
    struct conf_fmt v = {.name = "abcdef", .now = 1700000000};
    /* "x-abcdef-2023" is 13 bytes: fits in 14 with its NUL, not in 13. */
    assert_int_equal(conf_format("x-%N-%Y", &v, out, 14), 0);
    assert_string_equal(out, "x-abcdef-2023");
    assert_int_equal(conf_format("x-%N-%Y", &v, out, 13), -ENAMETOOLONG);
    assert_int_equal(conf_format("x-%N-%Y", &v, out, 12), -ENAMETOOLONG);
    assert_int_equal(conf_format("x-%N-%Y", &v, out, 9), -ENAMETOOLONG);
    assert_int_equal(conf_format("%%", &v, out, 1), -ENAMETOOLONG);
    assert_int_equal(conf_format("", &v, out, 1), 0);
    assert_string_equal(out, "");
}

static void test_format_of_a_name_that_expands_too_long_fails(void **state)
{
    (void)state;
    char name[3000], out[4096];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    struct conf_fmt v = {.name = name, .now = 0};
    assert_int_equal(conf_format("%N", &v, out, sizeof(out)), 0);
    assert_int_equal(conf_format("%N/%N", &v, out, sizeof(out)), -ENAMETOOLONG);
}

static void test_dev_id_is_what_0_3_1_calls_the_device(void **state)
{
    (void)state;
    char out[128];
    conf_dev_id("/dev/ttyS0", &console_type_serial, out, sizeof(out));
    assert_string_equal(out, "ttyS0");
    conf_dev_id("unix:/run/vm/n1/console.sock", &console_type_unix, out, sizeof(out));
    assert_string_equal(out, "console.sock");
    conf_dev_id("bmc1:2001", &console_type_telnet, out, sizeof(out));
    assert_string_equal(out, "bmc1:2001");
    conf_dev_id("ssh:n3@bmc1:2222", &console_type_ssh, out, sizeof(out));
    assert_string_equal(out, "n3@bmc1:2222");
    conf_dev_id("/usr/bin/ipmiconsole -h x", &console_type_process, out, sizeof(out));
    assert_string_equal(out, "");
    conf_dev_id("ipmi:bmc1", &console_type_ipmi, out, sizeof(out));
    assert_string_equal(out, "");
    conf_dev_id("what", NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

static void test_sshopts_keyword_merges_global_then_console(void **state)
{
    (void)state;
    const char *text = "global sshopts=\"K:/etc/kh\"\n"
                       "console name=\"a\" dev=\"ssh:n0@127.0.0.1\" sshopts=\"I:/id\"\n"
                       "console name=\"b\" dev=\"ssh:n1@127.0.0.1\"\n";
    struct conf c;
    assert_int_equal(conf_parse(text, "t.conf", NULL, NULL, &c), 0);
    assert_int_equal(c.nerrors, 0);
    assert_string_equal(conf_find(&c, "a")->opts, "K:/etc/kh,I:/id");
    assert_string_equal(conf_find(&c, "b")->opts, "K:/etc/kh");
    struct conf_console changed = *conf_find(&c, "a");
    changed.opts = "K:/etc/kh,I:/other";
    assert_false(conf_console_equal(conf_find(&c, "a"), &changed));
    conf_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_server_keyword_is_parsed),
        cmocka_unit_test(test_defaults_without_server_lines),
        cmocka_unit_test(test_a_bad_peer_address_is_reported_at_its_line),
        cmocka_unit_test(test_bad_operations_values_name_the_keyword),
        cmocka_unit_test(test_global_settings_apply_to_later_consoles),
        cmocka_unit_test(test_comments_and_quotes_hold_special_characters),
        cmocka_unit_test(test_bad_lines_are_reported_with_file_line_and_token_and_skipped),
        cmocka_unit_test(test_the_web_console_keywords),
        cmocka_unit_test(test_missing_values_and_equals_are_reported),
        cmocka_unit_test(test_console_equality_drives_the_reload_diff),
        cmocka_unit_test(test_console_copy_is_deep_and_replaces_the_old_strings),
        cmocka_unit_test(test_split_args_honours_quotes),
        cmocka_unit_test(test_expand_replaces_name_dev_and_percent),
        cmocka_unit_test(test_log_names_are_kept_unexpanded_for_the_open),
        cmocka_unit_test(test_global_log_without_name_or_dev_is_refused_naming_the_line),
        cmocka_unit_test(test_one_log_name_for_two_consoles_is_refused_naming_both),
        cmocka_unit_test(test_a_name_per_console_by_N_or_D_is_accepted_for_10000),
        cmocka_unit_test(test_nofile_takes_zero_minus_one_and_a_count),
        cmocka_unit_test(test_loopback_is_on_unless_turned_off),
        cmocka_unit_test(test_backslash_newline_continues_a_line),
        cmocka_unit_test(test_a_logical_line_has_a_limit),
        cmocka_unit_test(test_unknown_logopts_word_warns_and_keeps_the_console),
        cmocka_unit_test(test_console_seropts_are_parsed_over_the_global_ones),
        cmocka_unit_test(test_ipmiopts_layers_are_checked_with_their_line),
        cmocka_unit_test(test_percent_n_in_any_dev_is_the_name),
        cmocka_unit_test(test_a_long_path_truncates_the_message_never_overflows),
        cmocka_unit_test(test_format_expands_every_specifier_of_0_3_1),
        cmocka_unit_test(test_format_iso_week_year_differs_from_the_calendar_year),
        cmocka_unit_test(test_format_keeps_unknown_specifiers_as_written),
        cmocka_unit_test(test_format_sanitizes_name_and_dev_only),
        cmocka_unit_test(test_format_without_name_keeps_N_and_D_for_the_server_log),
        cmocka_unit_test(test_format_fits_exactly_and_one_byte_short_is_too_long),
        cmocka_unit_test(test_format_of_a_name_that_expands_too_long_fails),
        cmocka_unit_test(test_dev_id_is_what_0_3_1_calls_the_device),
        cmocka_unit_test(test_sshopts_keyword_merges_global_then_console),
    };
    setenv("TZ", "UTC", 1); /* the log-name tests give times in UTC */
    tzset();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
