/* The console core's pure choices: which console type a dev string selects,
 * and the reconnect backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include "conmand/consoles/console.h"

static void test_console_type_follows_the_dev_string(void **state)
{
    (void)state;
    assert_ptr_equal(console_type_for("ipmi:127.0.0.1", false), &console_ipmi_ops);
    assert_ptr_equal(console_type_for("unix:/run/x.sock", false), &console_unix_ops);
    assert_ptr_equal(console_type_for("/bin/cat -u", false), &console_process_ops);
    assert_ptr_equal(console_type_for("/dev/ttyS0", true), &console_serial_ops);
    assert_ptr_equal(console_type_for("127.0.0.1:7001", false), &console_telnet_ops);
    /* No '/' first: a process found through SERVER execpath or the start
     * directory, as conman's. */
    assert_ptr_equal(console_type_for("relative/path", false), &console_process_ops);
    assert_ptr_equal(console_type_for("cat %N", false), &console_process_ops);
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

static void test_ssh_dev_selects_the_ssh_console_type(void **state)
{
    (void)state;
    assert_ptr_equal(console_type_for("ssh:n0@127.0.0.1:22", false), &console_ssh_ops);
    assert_ptr_equal(console_type_for("SSH:n0@bmc", false), &console_ssh_ops);
    assert_ptr_equal(console_type_for("127.0.0.1:22", false), &console_telnet_ops);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_console_type_follows_the_dev_string),
        cmocka_unit_test(test_backoff_doubles_to_a_cap_with_bounded_jitter),
        cmocka_unit_test(test_ssh_dev_selects_the_ssh_console_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
