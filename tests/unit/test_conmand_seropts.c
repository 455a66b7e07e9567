/* seropts as conman reads them: speed and framing, conman's rounding down to
 * a supported speed, and errors that name the value. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/conf/seropts.h"

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
    assert_int_equal(serial_parse_opts("12345", &o, err, sizeof(err)), 0);
    assert_int_equal(o.bps, 9600); /* rounded down to a supported speed, as conman */
    assert_int_equal(serial_parse_opts("49", &o, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "49"));
    assert_int_equal(serial_parse_opts("9600,9x1", &o, err, sizeof(err)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seropts_parse_speed_and_framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
