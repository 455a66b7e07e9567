/* The WebSocket handshake's pure parts (http/websocket.c): the accept key,
 * the Origin check and the console a path names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/http/websocket.h"

static void test_the_accept_key_is_rfc_6455s_example(void **state)
{
    (void)state;
    char out[29];
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_a_key_that_is_not_16_bytes_in_base64_is_refused(void **state)
{
    (void)state;
    char out[29];
    assert_int_equal(ws_accept_key("", out), -EINVAL);
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", out), -EINVAL);   /* one short */
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ===", out), -EINVAL); /* one past */
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQAA", out), -EINVAL);  /* no padding */
    assert_int_equal(ws_accept_key("dGhlIHNhbXBs ZSBub25jZQ==", out), -EINVAL);
    assert_int_equal(ws_accept_key("dGhlIHNhbXBs\nSBub25jZQ==", out), -EINVAL);
}

static void test_only_the_pages_own_origin_may_open_it(void **state)
{
    (void)state;
    assert_true(ws_origin_ok("http://127.0.0.1:8080", "127.0.0.1:8080", false));
    assert_true(ws_origin_ok("HTTP://Conman.Example:80", "conman.example:80", false));
    assert_true(ws_origin_ok("https://h:443", "h:443", true));
    assert_true(ws_origin_ok(NULL, "h:1", false)); /* not a page: no Origin */
    assert_false(ws_origin_ok("http://evil.example", "127.0.0.1:8080", false));
    assert_false(ws_origin_ok("http://127.0.0.1:8081", "127.0.0.1:8080", false));
    assert_false(ws_origin_ok("http://127.0.0.1:8080.evil", "127.0.0.1:8080", false));
    assert_false(ws_origin_ok("http://h:1", "h:1", true)); /* http page, https port */
    assert_false(ws_origin_ok("https://h:1", "h:1", false));
    assert_false(ws_origin_ok("null", "h:1", false)); /* a sandboxed or file: page */
    assert_false(ws_origin_ok("http://h:1", NULL, false));
}

static void test_the_path_names_one_console(void **state)
{
    (void)state;
    char name[16];
    assert_int_equal(ws_console_path("/consoles/x1000c0s0b0n0/ws", name, sizeof(name)), 0);
    assert_string_equal(name, "x1000c0s0b0n0");
    assert_int_equal(ws_console_path("/consoles/a b/ws", name, sizeof(name)), 0);
    assert_string_equal(name, "a b");
    assert_int_equal(ws_console_path("/consoles//ws", name, sizeof(name)), -EINVAL);
    assert_int_equal(ws_console_path("/consoles/ws", name, sizeof(name)), -EINVAL);
    assert_int_equal(ws_console_path("/consoles/a/w", name, sizeof(name)), -EINVAL);
    assert_int_equal(ws_console_path("/console/a/ws", name, sizeof(name)), -EINVAL);
    assert_int_equal(ws_console_path("/consoles/a/ws/", name, sizeof(name)), -EINVAL);
    /* The longest name that fits, and one past it. */
    assert_int_equal(ws_console_path("/consoles/123456789012345/ws", name, sizeof(name)), 0);
    assert_string_equal(name, "123456789012345");
    assert_int_equal(ws_console_path("/consoles/1234567890123456/ws", name, sizeof(name)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_accept_key_is_rfc_6455s_example),
        cmocka_unit_test(test_a_key_that_is_not_16_bytes_in_base64_is_refused),
        cmocka_unit_test(test_only_the_pages_own_origin_may_open_it),
        cmocka_unit_test(test_the_path_names_one_console),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
