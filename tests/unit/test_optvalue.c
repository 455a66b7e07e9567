/* The rule for values configure_conman writes into ipmiopts/sshopts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/optvalue.h"

static void test_user_names_and_paths_are_plain(void **state)
{
    (void)state;
    assert_true(optvalue_is_plain("root"));
    assert_true(optvalue_is_plain("admin-1_x"));
    assert_true(optvalue_is_plain("/secrets/ssh/id_ed25519"));
    assert_true(optvalue_is_plain("/etc/ssh/known_hosts.d/bmc:22@x~"));
}

static void test_empty_value_is_not_plain(void **state)
{
    (void)state;
    assert_false(optvalue_is_plain(""));
}

/* A comma starts the next option item: "I:/a,K:/b" would set two. */
static void test_comma_would_start_another_item(void **state)
{
    (void)state;
    assert_false(optvalue_is_plain("/a,K:/b"));
    assert_false(optvalue_is_plain("a,b"));
}

static void test_quotes_and_backslash_would_break_the_quoted_string(void **state)
{
    (void)state;
    assert_false(optvalue_is_plain("a\"b"));
    assert_false(optvalue_is_plain("a'b"));
    assert_false(optvalue_is_plain("a\\b"));
}

static void test_blanks_controls_and_non_ascii_are_refused(void **state)
{
    (void)state;
    assert_false(optvalue_is_plain("a b"));
    assert_false(optvalue_is_plain("a\tb"));
    assert_false(optvalue_is_plain("a\nb"));
    assert_false(optvalue_is_plain("\x7f"));
    assert_false(optvalue_is_plain("caf\xc3\xa9"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_names_and_paths_are_plain),
        cmocka_unit_test(test_empty_value_is_not_plain),
        cmocka_unit_test(test_comma_would_start_another_item),
        cmocka_unit_test(test_quotes_and_backslash_would_break_the_quoted_string),
        cmocka_unit_test(test_blanks_controls_and_non_ascii_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
