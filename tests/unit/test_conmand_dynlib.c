/* Loading a library on first use: a real library fills the table with
 * callable functions; a missing library or symbol gives an error naming it,
 * and the outcome is remembered. Real dlopen(), no mocks. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/consoles/dynlib.h"

struct m_lib {
    __typeof__(&cos) cos;
    __typeof__(&floor) floor;
};

static const struct dynlib_sym m_syms[] = {
    {"cos", offsetof(struct m_lib, cos)},
    {"floor", offsetof(struct m_lib, floor)},
};

static void test_existing_library_fills_a_callable_table(void **state)
{
    (void)state;
    struct m_lib t = {0};
    struct dynlib d = {
        .soname = "libm.so.6", .purpose = "tests", .syms = m_syms, .nsyms = 2, .table = &t};
    assert_int_equal(dynlib_load(&d), 0);
    assert_non_null(t.cos);
    assert_non_null(t.floor);
    volatile double x = 2.5; /* computed at run time, through the pointers */
    assert_true(t.cos(0.0) == 1.0);
    assert_true(t.floor(x) == 2.0);
    assert_int_equal(dynlib_load(&d), 0); /* loaded once, stays loaded */
}

static void test_missing_library_is_named_and_remembered(void **state)
{
    (void)state;
    struct m_lib t = {0};
    struct dynlib d = {.soname = "libno-such-conman-test.so.9",
                       .purpose = "ssh: consoles",
                       .syms = m_syms,
                       .nsyms = 2,
                       .table = &t};
    assert_int_equal(dynlib_load(&d), -ELIBACC);
    assert_non_null(strstr(d.error, "cannot load libno-such-conman-test.so.9"));
    assert_non_null(strstr(d.error, "(needed for ssh: consoles)"));
    assert_non_null(strstr(d.error, "No such file")); /* dlerror()'s text */
    assert_null(t.cos);
    assert_int_equal(dynlib_load(&d), -ELIBACC); /* not retried, same answer */
}

static void test_missing_symbol_is_named(void **state)
{
    (void)state;
    struct {
        __typeof__(&cos) cos;
        void (*nosuch)(void);
    } t = {0};
    const struct dynlib_sym syms[] = {
        {"cos", offsetof(__typeof__(t), cos)},
        {"conman_test_no_such_function", offsetof(__typeof__(t), nosuch)},
    };
    struct dynlib d = {
        .soname = "libm.so.6", .purpose = "tests", .syms = syms, .nsyms = 2, .table = &t};
    assert_int_equal(dynlib_load(&d), -ELIBBAD);
    assert_non_null(strstr(d.error, "libm.so.6"));
    assert_non_null(strstr(d.error, "no symbol conman_test_no_such_function"));
    assert_int_equal(dynlib_load(&d), -ELIBBAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_existing_library_fills_a_callable_table),
        cmocka_unit_test(test_missing_library_is_named_and_remembered),
        cmocka_unit_test(test_missing_symbol_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
