/* Supervision decisions: restart backoff and exit descriptions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "configure/supervise.h"

#include <string.h>
#include <sys/wait.h>

static void test_quick_deaths_back_off_doubling_to_30s(void **state)
{
    (void)state;
    unsigned b = 1;
    unsigned want[] = {1, 2, 4, 8, 16, 30, 30};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(supervise_restart_delay(0.5, &b), want[i]);
}

static void test_a_60s_run_resets_the_backoff(void **state)
{
    (void)state;
    unsigned b = 16;
    assert_int_equal(supervise_restart_delay(30, &b), 0);
    assert_int_equal(b, 16);
    assert_int_equal(supervise_restart_delay(61, &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(supervise_restart_delay(9.9, &b), 1);
}

static void test_exit_status_is_described(void **state)
{
    (void)state;
    char buf[128];
    supervise_describe(3 << 8, buf, sizeof(buf));
    assert_string_equal(buf, "exited with code 3");
    supervise_describe(9, buf, sizeof(buf));
    assert_non_null(strstr(buf, "killed by signal 9"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_deaths_back_off_doubling_to_30s),
        cmocka_unit_test(test_a_60s_run_resets_the_backoff),
        cmocka_unit_test(test_exit_status_is_described),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
