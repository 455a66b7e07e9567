/* The reconnect deadline heap: earliest first, removal from the middle,
 * re-queueing, and many nodes in random order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "conmand/consoles/timerheap.h"

static void test_earliest_deadline_comes_first(void **state)
{
    (void)state;
    struct timerheap h = {0};
    struct timerheap_node a, b, c;
    timerheap_node_init(&a);
    timerheap_node_init(&b);
    timerheap_node_init(&c);
    assert_null(timerheap_peek(&h));
    assert_int_equal(timerheap_push(&h, &a, 300), 0);
    assert_int_equal(timerheap_push(&h, &b, 100), 0);
    assert_int_equal(timerheap_push(&h, &c, 200), 0);
    assert_ptr_equal(timerheap_peek(&h), &b);
    timerheap_remove(&h, &b);
    assert_int_equal(b.idx, TIMERHEAP_NONE);
    assert_ptr_equal(timerheap_peek(&h), &c);
    assert_int_equal(timerheap_push(&h, &a, 50), 0); /* re-queued earlier */
    assert_ptr_equal(timerheap_peek(&h), &a);
    assert_int_equal(h.n, 2);
    timerheap_remove(&h, &b); /* not queued: no effect */
    assert_int_equal(h.n, 2);
    timerheap_release(&h);
    assert_int_equal(c.idx, TIMERHEAP_NONE);
}

static void test_ten_thousand_nodes_come_out_sorted_after_removals(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct timerheap h = {0};
    struct timerheap_node *v = calloc(N, sizeof(*v));
    assert_non_null(v);
    unsigned seed = 7;
    for (int i = 0; i < N; i++) {
        timerheap_node_init(&v[i]);
        assert_int_equal(timerheap_push(&h, &v[i], (uint64_t)(rand_r(&seed) % 100000)), 0);
    }
    for (int i = 0; i < N; i += 3)
        timerheap_remove(&h, &v[i]);
    uint64_t last = 0;
    size_t count = 0;
    struct timerheap_node *top;
    while ((top = timerheap_peek(&h))) {
        assert_true(top->due >= last);
        last = top->due;
        timerheap_remove(&h, top);
        count++;
    }
    assert_int_equal(count, N - (N + 2) / 3);
    timerheap_release(&h);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_earliest_deadline_comes_first),
        cmocka_unit_test(test_ten_thousand_nodes_come_out_sorted_after_removals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
