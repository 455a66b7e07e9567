/* ssh: console settings: the dev string, sshopts items, hex passwords, later
 * items overriding earlier ones (GLOBAL then CONSOLE), and errors that name
 * the item but never show a secret. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/conf/sshopts.h"

static void test_dev_gives_user_host_and_port(void **state)
{
    (void)state;
    struct ssh_target t;
    char err[256];
    assert_int_equal(sshopts_parse_dev("ssh:n3@127.0.0.1:2222", &t, err, sizeof(err)), 0);
    assert_string_equal(t.user, "n3");
    assert_string_equal(t.host, "127.0.0.1");
    assert_int_equal(t.port, 2222);
    assert_int_equal(sshopts_parse_dev("SSH:root@bmc-x1000c0s0b0", &t, err, sizeof(err)), 0);
    assert_string_equal(t.host, "bmc-x1000c0s0b0");
    assert_int_equal(t.port, 22);
    assert_int_equal(sshopts_parse_dev("ssh:admin@[::1]:2200", &t, err, sizeof(err)), 0);
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 2200);
    /* A bare IPv6 address: no port can follow it, so the default. */
    assert_int_equal(sshopts_parse_dev("ssh:admin@fd00::1", &t, err, sizeof(err)), 0);
    assert_string_equal(t.host, "fd00::1");
    assert_int_equal(t.port, 22);
    assert_int_equal(sshopts_parse_dev("ssh:admin@[fe80::1%eth0]", &t, err, sizeof(err)), 0);
    assert_string_equal(t.host, "fe80::1%eth0");
    assert_int_equal(t.port, 22);
}

static void test_bad_dev_strings_are_refused_naming_the_dev(void **state)
{
    (void)state;
    const char *bad[] = {
        "ssh:127.0.0.1:22",  "ssh:@127.0.0.1",  "ssh:n0@",         "ssh:n0@host:0",
        "ssh:n0@host:65536", "ssh:n0@host:22x", "ssh:n0@[::1",     "telnet:x@y",
        "ssh:n0@host:",      "ssh:a b@host",    "ssh:n0@fd00::zz", "ssh:n0@[node]:22"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ssh_target t;
        char err[256] = "";
        assert_int_equal(sshopts_parse_dev(bad[i], &t, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, bad[i]));
    }
}

static void test_items_fill_key_known_hosts_and_password(void **state)
{
    (void)state;
    struct sshopts o;
    char err[256];
    assert_int_equal(sshopts_parse("I:/k/id,K:/k/known,P:plain", &o, err, sizeof(err)), 0);
    assert_string_equal(o.identity, "/k/id");
    assert_string_equal(o.known_hosts, "/k/known");
    assert_int_equal(o.password.len, 5);
    assert_memory_equal(o.password.bytes, "plain", 5);
    sshopts_release(&o);
    assert_int_equal(o.timeout, SSHOPTS_DEFAULT_TIMEOUT);
    assert_int_equal(sshopts_parse("T:5", &o, err, sizeof(err)), 0);
    assert_int_equal(o.timeout, 5);
    sshopts_release(&o);
    assert_int_equal(sshopts_parse(NULL, &o, err, sizeof(err)), 0);
    assert_string_equal(o.identity, "");
    assert_int_equal(o.password.len, 0);
    sshopts_release(&o);
}

static void test_hex_password_keeps_commas_and_later_items_win(void **state)
{
    (void)state;
    struct sshopts o;
    char err[256];
    /* "a,b" in hex; the CONSOLE-level P: (last) overrides the GLOBAL one. */
    assert_int_equal(sshopts_parse("P:global,I:/g,P:0x612C62,I:/c", &o, err, sizeof(err)), 0);
    assert_int_equal(o.password.len, 3);
    assert_memory_equal(o.password.bytes, "a,b", 3);
    assert_string_equal(o.identity, "/c");
    sshopts_release(&o);
}

static void test_errors_name_the_item_but_never_the_secret(void **state)
{
    (void)state;
    struct {
        const char *in, *expect;
    } cases[] = {
        {"Z:x", "unknown item 'Z:'"},
        {"P:0x6", "bad P: value"},
        {"P:0xZZsecretZZ", "bad P: value"},
        {"P:0x6100", "bad P: value"}, /* a NUL cannot pass libssh's API */
        {"I:", "bad I: value"},
        {"K:", "bad K: value"},
        {"T:0", "bad T: value (seconds, 1 to 3600)"},
        {"T:3601", "bad T: value"},
        {"T:5s", "bad T: value"},
        {"hunter2secret", "item 1 is not X:value"},
        {"I:/k,topsecret", "item 2 is not X:value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sshopts o;
        char err[256] = "";
        assert_int_equal(sshopts_parse(cases[i].in, &o, err, sizeof(err)), -EINVAL);
        sshopts_release(&o);
        assert_non_null(strstr(err, cases[i].expect));
        assert_null(strstr(err, "secret"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dev_gives_user_host_and_port),
        cmocka_unit_test(test_bad_dev_strings_are_refused_naming_the_dev),
        cmocka_unit_test(test_items_fill_key_known_hosts_and_password),
        cmocka_unit_test(test_hex_password_keeps_commas_and_later_items_win),
        cmocka_unit_test(test_errors_name_the_item_but_never_the_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
