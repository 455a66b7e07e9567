/* HOST:PORT and its IPv6 forms (common/hostport.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/hostport.h"

static void parses(const char *text, enum hostport_port mode, const char *host, const char *port,
                   bool v6)
{
    struct hostport hp;
    char err[256] = "";
    assert_int_equal(hostport_parse(text, mode, &hp, err, sizeof(err)), 0);
    assert_string_equal(hp.host, host);
    assert_string_equal(hp.port, port);
    assert_int_equal(hp.v6, v6);
    char back[300];
    hostport_format(&hp, back, sizeof(back));
    struct hostport again;
    assert_int_equal(hostport_parse(back, mode, &again, err, sizeof(err)), 0);
    assert_string_equal(again.host, host);
    assert_string_equal(again.port, port);
}

static void refused(const char *text, enum hostport_port mode, const char *why)
{
    struct hostport hp;
    char err[256] = "";
    assert_int_equal(hostport_parse(text, mode, &hp, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, why));
    char quoted[300];
    snprintf(quoted, sizeof(quoted), "'%.200s'", text);
    assert_non_null(strstr(err, quoted)); /* the error names the text */
}

static void test_every_form_with_a_port(void **state)
{
    (void)state;
    parses("127.0.0.1:7890", HOSTPORT_PORT_REQUIRED, "127.0.0.1", "7890", false);
    parses("bmc-x1000c0s0b0.local:623", HOSTPORT_PORT_REQUIRED, "bmc-x1000c0s0b0.local", "623",
           false);
    parses("[::1]:7890", HOSTPORT_PORT_REQUIRED, "::1", "7890", true);
    parses("[fd00::1]:1", HOSTPORT_PORT_REQUIRED, "fd00::1", "1", true);
    parses("[fe80::1%eth0]:65535", HOSTPORT_PORT_REQUIRED, "fe80::1%eth0", "65535", true);
    parses("[::ffff:127.0.0.1]:22", HOSTPORT_PORT_REQUIRED, "::ffff:127.0.0.1", "22", true);
}

static void test_a_port_where_one_may_follow(void **state)
{
    (void)state;
    parses("node7", HOSTPORT_PORT_OPTIONAL, "node7", "", false);
    parses("node7:2222", HOSTPORT_PORT_OPTIONAL, "node7", "2222", false);
    parses("fd00::1", HOSTPORT_PORT_OPTIONAL, "fd00::1", "", true); /* bare: no port */
    parses("[fd00::1]", HOSTPORT_PORT_OPTIONAL, "fd00::1", "", true);
    parses("[fd00::1]:2222", HOSTPORT_PORT_OPTIONAL, "fd00::1", "2222", true);
}

static void test_no_port_bare_or_bracketed_v6(void **state)
{
    (void)state;
    parses("fd00::1", HOSTPORT_PORT_NONE, "fd00::1", "", true);
    parses("[fd00::1]", HOSTPORT_PORT_NONE, "fd00::1", "", true);
    parses("fe80::1%2", HOSTPORT_PORT_NONE, "fe80::1%2", "", true);
    parses("10.0.0.1", HOSTPORT_PORT_NONE, "10.0.0.1", "", false);
    refused("[fd00::1]:623", HOSTPORT_PORT_NONE, "without a port");
    refused("10.0.0.1:623", HOSTPORT_PORT_NONE, "without a port");
}

static void test_anything_else_is_refused_with_the_reason(void **state)
{
    (void)state;
    refused("::1:7890", HOSTPORT_PORT_REQUIRED, "written [ADDRESS]:PORT");
    refused("[::1]", HOSTPORT_PORT_REQUIRED, "expected HOST:PORT");
    refused("[::1]7890", HOSTPORT_PORT_REQUIRED, "expected HOST:PORT");
    refused("[::1:7890", HOSTPORT_PORT_REQUIRED, "between the brackets");
    refused("[node]:7890", HOSTPORT_PORT_REQUIRED, "between the brackets");
    refused("[]:7890", HOSTPORT_PORT_REQUIRED, "between the brackets");
    refused("[fe80::1%]:1", HOSTPORT_PORT_REQUIRED, "between the brackets");
    refused("[fe80::1%e th]:1", HOSTPORT_PORT_REQUIRED, "between the brackets");
    refused("host", HOSTPORT_PORT_REQUIRED, "expected HOST:PORT");
    refused("host:", HOSTPORT_PORT_REQUIRED, "expected HOST:PORT");
    refused(":7890", HOSTPORT_PORT_REQUIRED, "not a host name");
    refused("host:0", HOSTPORT_PORT_REQUIRED, "expected HOST:PORT");
    refused("host:65536", HOSTPORT_PORT_REQUIRED, "expected HOST:PORT"); /* one past */
    refused("host:80x", HOSTPORT_PORT_REQUIRED, "expected HOST:PORT");
    refused("host:000001", HOSTPORT_PORT_REQUIRED, "expected HOST:PORT"); /* six digits */
    refused("ho st:80", HOSTPORT_PORT_REQUIRED, "not a host name");
    refused("a..b:80", HOSTPORT_PORT_REQUIRED, "not a host name");
    refused("-a:80", HOSTPORT_PORT_REQUIRED, "not a host name");
    refused("fd00::zz", HOSTPORT_PORT_OPTIONAL, "not an IPv6 address");
}

static void formats(const char *text, unsigned default_port, const char *want)
{
    struct hostport hp;
    char err[256], out[300];
    assert_int_equal(hostport_parse(text, HOSTPORT_PORT_OPTIONAL, &hp, err, sizeof(err)), 0);
    hostport_default_port(&hp, default_port);
    assert_int_equal(hostport_format(&hp, out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);
}

static void test_format_brackets_every_v6_and_fills_a_default_port(void **state)
{
    (void)state;
    formats("fd00::1", 0, "[fd00::1]"); /* nothing after it can join it */
    formats("[fd00::1]", 0, "[fd00::1]");
    formats("fd00::1", 623, "[fd00::1]:623");
    formats("[fd00::1]:7", 623, "[fd00::1]:7"); /* its own port stays */
    formats("fe80::1%eth0", 22, "[fe80::1%eth0]:22");
    formats("bmc1", 22, "bmc1:22");
    formats("10.1.0.1:2222", 22, "10.1.0.1:2222");
    formats("bmc1", 0, "bmc1");
    formats("bmc1", 65536, "bmc1"); /* no such port: none given */
}

static void test_the_longest_name_and_one_past(void **state)
{
    (void)state;
    char name[260];
    memset(name, 'a', 253);
    strcpy(name + 253, ":1");
    struct hostport hp;
    char err[400];
    assert_int_equal(hostport_parse(name, HOSTPORT_PORT_REQUIRED, &hp, err, sizeof(err)), 0);
    assert_int_equal(strlen(hp.host), 253);
    memset(name, 'a', 254);
    strcpy(name + 254, ":1");
    assert_int_equal(hostport_parse(name, HOSTPORT_PORT_REQUIRED, &hp, err, sizeof(err)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_form_with_a_port),
        cmocka_unit_test(test_a_port_where_one_may_follow),
        cmocka_unit_test(test_no_port_bare_or_bracketed_v6),
        cmocka_unit_test(test_anything_else_is_refused_with_the_reason),
        cmocka_unit_test(test_format_brackets_every_v6_and_fills_a_default_port),
        cmocka_unit_test(test_the_longest_name_and_one_past),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
