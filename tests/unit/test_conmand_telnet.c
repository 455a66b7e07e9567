/* The telnet byte stream of telnet consoles (telnet.h): IAC commands
 * stripped and answered, escaped 0xFF collapsed on receive and doubled on
 * send, state carried across reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "conmand/consoles/telnet.h"

struct sink {
    unsigned char buf[256];
    size_t len;
};

static void put(void *ctx, const unsigned char *buf, size_t len)
{
    struct sink *s = ctx;
    assert_true(s->len + len <= sizeof(s->buf));
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
}

static void test_escaped_iac_is_one_data_byte(void **state)
{
    (void)state;
    struct telnet_rx rx = {0};
    struct sink replies = {0};
    unsigned char in[] = {'a', 0xFF, 0xFF, 'b', 0xFF, 0xFF, 0xFF, 0xFF};
    size_t n = telnet_rx_filter(&rx, in, sizeof(in), put, &replies);
    assert_int_equal(n, 5);
    assert_memory_equal(in, ((unsigned char[]){'a', 0xFF, 'b', 0xFF, 0xFF}), 5);
    assert_int_equal(replies.len, 0);
}

static void test_options_are_answered_once(void **state)
{
    (void)state;
    struct telnet_rx rx = {0};
    struct sink replies = {0};
    unsigned char in[] = {0xFF, TELNET_WILL, TELNET_OPT_ECHO, 0xFF, TELNET_DO,   24,
                          0xFF, TELNET_DO,   TELNET_OPT_SGA,  0xFF, TELNET_WILL, TELNET_OPT_ECHO,
                          'x'};
    size_t n = telnet_rx_filter(&rx, in, sizeof(in), put, &replies);
    assert_int_equal(n, 1);
    assert_int_equal(in[0], 'x');
    unsigned char want[] = {0xFF, TELNET_DO, TELNET_OPT_ECHO, 0xFF,          TELNET_WONT,
                            24,   0xFF,      TELNET_WILL,     TELNET_OPT_SGA};
    assert_int_equal(replies.len, sizeof(want));
    assert_memory_equal(replies.buf, want, sizeof(want));
}

static void test_subnegotiation_is_skipped_across_reads(void **state)
{
    (void)state;
    struct telnet_rx rx = {0};
    struct sink replies = {0};
    unsigned char a[] = {'1', 0xFF, TELNET_SB, 24, 0xFF}, b[] = {0xFF, 'z', 0xFF, TELNET_SE, '2'};
    assert_int_equal(telnet_rx_filter(&rx, a, sizeof(a), put, &replies), 1);
    assert_int_equal(telnet_rx_filter(&rx, b, sizeof(b), put, &replies), 1);
    assert_int_equal(b[0], '2');
    assert_int_equal(rx.state, 0);
}

static void test_sent_iac_is_doubled(void **state)
{
    (void)state;
    struct sink out = {0};
    const unsigned char data[] = {0xFF, 'a', 0xFF, 0xFF};
    telnet_tx_escape(data, sizeof(data), put, &out);
    unsigned char want[] = {0xFF, 0xFF, 'a', 0xFF, 0xFF, 0xFF, 0xFF};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.buf, want, sizeof(want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaped_iac_is_one_data_byte),
        cmocka_unit_test(test_options_are_answered_once),
        cmocka_unit_test(test_subnegotiation_is_skipped_across_reads),
        cmocka_unit_test(test_sent_iac_is_doubled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
