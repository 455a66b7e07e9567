/* Bounded base-10 integer parsing shared by conmand, configure and the sims. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/numparse.h"

#include <errno.h>
#include <limits.h>

/* Parses `text` in [min, max] with `fn`; on failure checks that `out` was
 * left alone. */
static int parse_with(int (*fn)(const char *, long, long, long *), const char *text, long min,
                      long max, long *out)
{
    long v = 12345;
    int rc = fn(text, min, max, &v);
    if (rc < 0)
        assert_int_equal(v, 12345);
    *out = v;
    return rc;
}

static int parse(const char *text, long min, long max, long *out)
{
    return parse_with(numparse_long, text, min, max, out);
}

static void test_whole_number_in_range_is_accepted(void **state)
{
    (void)state;
    long v;
    assert_int_equal(parse("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(parse("-7", -10, 10, &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(parse("007", 0, 10, &v), 0);
    assert_int_equal(v, 7);
}

static void test_empty_or_missing_text_is_rejected(void **state)
{
    (void)state;
    long v;
    assert_int_equal(parse("", 0, 10, &v), -EINVAL);
    assert_int_equal(parse(NULL, 0, 10, &v), -EINVAL);
    assert_int_equal(parse("   ", 0, 10, &v), -EINVAL);
    assert_int_equal(parse("-", -10, 10, &v), -EINVAL);
    assert_int_equal(parse("+", 0, 10, &v), -EINVAL);
}

/* The copies this replaced all took strtol's prefix: blanks, then a sign. */
static void test_leading_blanks_and_sign_are_accepted(void **state)
{
    (void)state;
    long v;
    assert_int_equal(parse(" 5", 0, 10, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(parse("\t5", 0, 10, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(parse("+5", 0, 10, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(parse("-0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
}

static void test_trailing_text_is_rejected(void **state)
{
    (void)state;
    long v;
    assert_int_equal(parse("5 ", 0, 10, &v), -EINVAL);
    assert_int_equal(parse("5\n", 0, 10, &v), -EINVAL);
    assert_int_equal(parse("5x", 0, 10, &v), -EINVAL);
    assert_int_equal(parse("5.0", 0, 10, &v), -EINVAL);
    assert_int_equal(parse("1 2", 0, 10, &v), -EINVAL);
    assert_int_equal(parse("--5", -10, 10, &v), -EINVAL);
    assert_int_equal(parse("+-5", -10, 10, &v), -EINVAL);
}

static void test_hex_and_octal_are_not_special(void **state)
{
    (void)state;
    long v;
    assert_int_equal(parse("0x10", 0, 100, &v), -EINVAL);
    assert_int_equal(parse("ff", 0, 1000, &v), -EINVAL);
    assert_int_equal(parse("010", 0, 100, &v), 0);
    assert_int_equal(v, 10); /* decimal, not octal 8 */
}

static void test_range_edges_are_inclusive(void **state)
{
    (void)state;
    long v;
    assert_int_equal(parse("1", 1, 65535, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(parse("65535", 1, 65535, &v), 0);
    assert_int_equal(v, 65535);
    assert_int_equal(parse("0", 1, 65535, &v), -EINVAL);
    assert_int_equal(parse("65536", 1, 65535, &v), -EINVAL);
    assert_int_equal(parse("-1", 0, 10, &v), -EINVAL);
}

static void test_long_limits_and_overflow(void **state)
{
    (void)state;
    long v;
    assert_int_equal(parse("9223372036854775807", LONG_MIN, LONG_MAX, &v), 0);
    assert_true(v == LONG_MAX);
    assert_int_equal(parse("-9223372036854775808", LONG_MIN, LONG_MAX, &v), 0);
    assert_true(v == LONG_MIN);
    /* strtol clamps these to LONG_MAX / LONG_MIN; they must not pass as that. */
    assert_int_equal(parse("9223372036854775808", LONG_MIN, LONG_MAX, &v), -EINVAL);
    assert_int_equal(parse("-9223372036854775809", LONG_MIN, LONG_MAX, &v), -EINVAL);
    assert_int_equal(parse("99999999999999999999999", 0, 10, &v), -EINVAL);
}

static void test_int_variant_bounds_before_narrowing(void **state)
{
    (void)state;
    int v = 99;
    assert_int_equal(numparse_int("17", 0, 17, &v), 0);
    assert_int_equal(v, 17);
    assert_int_equal(numparse_int("2147483647", 0, INT_MAX, &v), 0);
    assert_int_equal(v, INT_MAX);
    assert_int_equal(numparse_int("-2147483648", INT_MIN, 0, &v), 0);
    assert_int_equal(v, INT_MIN);
    v = 99;
    /* 2^32 wraps to 0 when cast to int; it must be out of range instead. */
    assert_int_equal(numparse_int("4294967296", 0, 17, &v), -EINVAL);
    assert_int_equal(numparse_int("2147483648", 0, INT_MAX, &v), -EINVAL);
    assert_int_equal(numparse_int("18", 0, 17, &v), -EINVAL);
    assert_int_equal(numparse_int(NULL, 0, 17, &v), -EINVAL);
    assert_int_equal(v, 99);
}

static int parse_digits(const char *text, long min, long max, long *out)
{
    return parse_with(numparse_digits, text, min, max, out);
}

static void test_digits_form_takes_only_digits(void **state)
{
    (void)state;
    long v;
    assert_int_equal(parse_digits("22", 1, 65535, &v), 0);
    assert_int_equal(v, 22);
    assert_int_equal(parse_digits("00022", 1, 65535, &v), 0);
    assert_int_equal(v, 22);
    assert_int_equal(parse_digits("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    /* What numparse_long() takes before the digits is refused here. */
    assert_int_equal(parse_digits(" 22", 1, 65535, &v), -EINVAL);
    assert_int_equal(parse_digits("+22", 1, 65535, &v), -EINVAL);
    assert_int_equal(parse_digits("-1", -10, 10, &v), -EINVAL);
    assert_int_equal(parse_digits("", 0, 10, &v), -EINVAL);
    assert_int_equal(parse_digits(NULL, 0, 10, &v), -EINVAL);
    assert_int_equal(parse_digits("5s", 0, 10, &v), -EINVAL);
    assert_int_equal(parse_digits("0x10", 0, 100, &v), -EINVAL);
}

static void test_digits_form_keeps_the_range(void **state)
{
    (void)state;
    long v;
    assert_int_equal(parse_digits("65535", 1, 65535, &v), 0);
    assert_int_equal(v, 65535);
    assert_int_equal(parse_digits("65536", 1, 65535, &v), -EINVAL);
    assert_int_equal(parse_digits("0", 1, 65535, &v), -EINVAL);
    assert_int_equal(parse_digits("99999999999999999999999", 1, LONG_MAX, &v), -EINVAL);
}

static void test_bytes_take_a_binary_suffix(void **state)
{
    (void)state;
    unsigned long long v = 0;
    assert_int_equal(numparse_bytes("512", ULLONG_MAX, &v), 0);
    assert_int_equal(v, 512);
    assert_int_equal(numparse_bytes("5M", ULLONG_MAX, &v), 0);
    assert_int_equal(v, 5ULL << 20);
    assert_int_equal(numparse_bytes("2g", ULLONG_MAX, &v), 0);
    assert_int_equal(v, 2ULL << 30);
    assert_int_equal(numparse_bytes("1T", ULLONG_MAX, &v), 0);
    assert_int_equal(v, 1ULL << 40);
    assert_int_equal(numparse_bytes("4K", 4096, &v), 0); /* max is inclusive */
    v = 7;
    const char *bad[] = {"", "0", "0K", "K", "-1", "+1", " 1", "1 ", "1KB", "1X", "1.5M",
                         "4097", "16777216T", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(numparse_bytes(bad[i], 4096, &v), -EINVAL);
    assert_int_equal(numparse_bytes(NULL, 4096, &v), -EINVAL);
    assert_int_equal(v, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_number_in_range_is_accepted),
        cmocka_unit_test(test_empty_or_missing_text_is_rejected),
        cmocka_unit_test(test_leading_blanks_and_sign_are_accepted),
        cmocka_unit_test(test_trailing_text_is_rejected),
        cmocka_unit_test(test_hex_and_octal_are_not_special),
        cmocka_unit_test(test_range_edges_are_inclusive),
        cmocka_unit_test(test_long_limits_and_overflow),
        cmocka_unit_test(test_int_variant_bounds_before_narrowing),
        cmocka_unit_test(test_digits_form_takes_only_digits),
        cmocka_unit_test(test_digits_form_keeps_the_range),
        cmocka_unit_test(test_bytes_take_a_binary_suffix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
