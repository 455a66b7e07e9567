/* console-sim's telnet filter: negotiation stripped from what a peer sends,
 * also when a command is split across reads, and an escaped 0xFF kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sim/console/telnet.h"

static void test_telnet_negotiation_is_stripped(void **state)
{
    (void)state;
    /* What ipmi_sim sends when it connects: DO BINARY, WILL BINARY,
     * DONT ECHO, WONT ECHO; then data. */
    unsigned char in[] = {255, 253, 0, 255, 251, 0, 255, 254, 1, 255, 252, 1, 'h', 'i', '\r'};
    struct telnet_filter f = TELNET_FILTER_INIT;
    size_t n = telnet_filter_apply(&f, in, sizeof(in));
    assert_int_equal(n, 3);
    assert_memory_equal(in, "hi\r", 3);
}

static void test_telnet_command_split_across_reads_is_stripped(void **state)
{
    (void)state;
    struct telnet_filter f = TELNET_FILTER_INIT;
    unsigned char a[] = {'a', 255}, b[] = {253, 3, 'b'};
    assert_int_equal(telnet_filter_apply(&f, a, sizeof(a)), 1);
    assert_int_equal(telnet_filter_apply(&f, b, sizeof(b)), 1);
    assert_int_equal(b[0], 'b');
}

static void test_telnet_escaped_iac_and_subnegotiation(void **state)
{
    (void)state;
    struct telnet_filter f = TELNET_FILTER_INIT;
    unsigned char in[] = {'x', 255, 255, 255, 250, 24, 0, 'v', 't', 255, 240, 'y'};
    size_t n = telnet_filter_apply(&f, in, sizeof(in));
    assert_int_equal(n, 3);
    assert_memory_equal(in, "x\xffy", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_telnet_negotiation_is_stripped),
        cmocka_unit_test(test_telnet_command_split_across_reads_is_stripped),
        cmocka_unit_test(test_telnet_escaped_iac_and_subnegotiation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
