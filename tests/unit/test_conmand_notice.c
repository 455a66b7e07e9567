/* The <ConMan> notices of consoles and the times in them (consoles/notice.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/consoles/notice.h"

static void test_a_notice_is_framed_as_conman_sends_it(void **state)
{
    (void)state;
    char out[256];
    size_t n = notice_format(out, sizeof(out), "Console [a] joined by <u@h> at 11-25 03:45");
    assert_string_equal(out, "\r\n<ConMan> Console [a] joined by <u@h> at 11-25 03:45.\r\n");
    assert_int_equal(n, strlen(out));
    /* Too long for the buffer: cut, still terminated, length what it holds. */
    char small[16];
    n = notice_format(small, sizeof(small), "a long notice that does not fit");
    assert_int_equal(n, sizeof(small) - 1);
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void test_deltas_as_conman_prints_them(void **state)
{
    (void)state;
    char out[64];
    notice_delta(5, out, sizeof(out));
    assert_string_equal(out, "5s");
    notice_delta(125, out, sizeof(out));
    assert_string_equal(out, "2m5s");
    notice_delta(3723, out, sizeof(out));
    assert_string_equal(out, "1h2m3s");
    notice_delta(90061, out, sizeof(out));
    assert_string_equal(out, "1d1h1m1s");
}

static void test_times_short_and_long_in_local_time(void **state)
{
    (void)state;
    char out[64];
    setenv("TZ", "UTC", 1);
    notice_short_time(1764042300, out, sizeof(out)); /* 2025-11-25 03:45:00 UTC */
    assert_string_equal(out, "11-25 03:45");
    notice_long_time(1764042300, out, sizeof(out));
    assert_string_equal(out, "2025-11-25 03:45:00 UTC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_notice_is_framed_as_conman_sends_it),
        cmocka_unit_test(test_deltas_as_conman_prints_them),
        cmocka_unit_test(test_times_short_and_long_in_local_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
