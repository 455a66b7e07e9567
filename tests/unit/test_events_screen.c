/* The screen's pattern of console events (events/screen.c): how rules are
 * cut into items and their common beginnings shared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/events/screen.h"

static void check(const char *const *res, const int *caseless, size_t n, const char *want)
{
    struct screen_rule r[8];
    for (size_t i = 0; i < n; i++)
        r[i] = (struct screen_rule){res[i], strlen(res[i]), caseless && caseless[i]};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(screen_pattern(r, n, &out, &len), 0);
    assert_int_equal(len, strlen(out));
    assert_string_equal(out, want);
    free(out);
}

static void test_common_beginnings_are_shared(void **state)
{
    (void)state;
    const char *a[] = {"^A?BC", "^A?BD"};
    check(a, NULL, 2, "^A?B(?:C|D)");
    const char *b[] = {"^x", "^xy", "z"};
    check(b, NULL, 3, "(?:^x(?:|y)|z)");
    const char *one[] = {"^(?:a|b)+c"};
    check(one, NULL, 1, "^(?:a|b)+c");
}

static void test_an_item_keeps_its_quantifier(void **state)
{
    (void)state;
    const char *q[] = {"ab*", "ab", "ab{2,3}?", "ab{x"};
    check(q, NULL, 4, "a(?:b*|b(?:|{x)|b{2,3}?)");
    const char *e[] = {"\\x41B", "\\x41C", "\\d+\\.\\d", "\\d+x"};
    check(e, NULL, 4, "(?:\\x41(?:B|C)|\\d+(?:\\.\\d|x))");
}

static void test_classes_and_groups_are_one_item(void **state)
{
    (void)state;
    const char *c[] = {"[]a)]+x", "[]a)]+y", "[[:digit:]]z", "(a(b)[)])?w", "(a(b)[)])?v"};
    check(c, NULL, 5, "(?:[]a)]+(?:x|y)|[[:digit:]]z|(a(b)[)])?(?:w|v))");
}

static void test_alternation_options_and_caseless_rules(void **state)
{
    (void)state;
    /* A top-level '|' or an option setting keeps the rule whole. */
    const char *w[] = {"a|b", "(?i)ab", "ac"};
    check(w, NULL, 3, "(?:(?:a|b)|(?:(?i)ab)|ac)");
    /* Caseless: letters wrapped, \d shared with a rule that is not. */
    const char *ci[] = {"^\\d EDAC", "^\\d Ed"};
    const int flags[] = {1, 0};
    check(ci, flags, 2, "^\\d (?:(?i:E)(?i:D)(?i:A)(?i:C)|Ed)");
}

static void test_item_lengths(void **state)
{
    (void)state;
    assert_int_equal(screen_item_len("|a", 2, 0), 0);
    assert_int_equal(screen_item_len(")", 1, 0), 0);
    assert_int_equal(screen_item_len("*a", 2, 0), 0);
    assert_int_equal(screen_item_len("{2}a", 4, 0), 0); /* a quantifier of nothing */
    assert_int_equal(screen_item_len("{x", 2, 0), 1);   /* a literal brace */
    assert_int_equal(screen_item_len("(ab", 3, 0), 0);  /* not closed */
    assert_int_equal(screen_item_len("[ab", 3, 0), 0);  /* not closed */
    assert_int_equal(screen_item_len("\\", 1, 0), 0);   /* a lone backslash */
    assert_int_equal(screen_item_len("\\p{Lu}x", 7, 0), 6);
    assert_int_equal(screen_item_len("a++b", 4, 0), 3); /* possessive */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_common_beginnings_are_shared),
        cmocka_unit_test(test_an_item_keeps_its_quantifier),
        cmocka_unit_test(test_classes_and_groups_are_one_item),
        cmocka_unit_test(test_alternation_options_and_caseless_rules),
        cmocka_unit_test(test_item_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
