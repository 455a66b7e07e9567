/* The order a host's addresses are tried in (common/addrorder.c): RFC
 * 8305's interleaving of families, duplicates dropped, ADDRORDER_MAX kept. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/addrorder.h"

#define LIST_MAX 40

/* A getaddrinfo answer built by hand from "v4addr" and "v6addr" texts. */
struct answer {
    struct addrinfo ai[LIST_MAX];
    struct sockaddr_storage sa[LIST_MAX];
};

static struct addrinfo *answer(struct answer *a, const char *const *addrs, size_t n)
{
    memset(a, 0, sizeof(*a));
    for (size_t i = 0; i < n; i++) {
        struct addrinfo *ai = &a->ai[i];
        if (strchr(addrs[i], ':')) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->sa[i];
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons(7);
            assert_int_equal(inet_pton(AF_INET6, addrs[i], &s6->sin6_addr), 1);
            ai->ai_family = AF_INET6;
            ai->ai_addrlen = sizeof(*s6);
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&a->sa[i];
            s4->sin_family = AF_INET;
            s4->sin_port = htons(7);
            assert_int_equal(inet_pton(AF_INET, addrs[i], &s4->sin_addr), 1);
            ai->ai_family = AF_INET;
            ai->ai_addrlen = sizeof(*s4);
        }
        ai->ai_addr = (struct sockaddr *)&a->sa[i];
        ai->ai_next = i + 1 < n ? &a->ai[i + 1] : NULL;
    }
    return n ? &a->ai[0] : NULL;
}

/* The order as "addr:port" texts joined by spaces. */
static void expect_order(const char *const *addrs, size_t n, const char *want)
{
    struct answer a;
    struct addrorder o;
    addrorder_fill(&o, answer(&a, addrs, n));
    char got[2048] = "", one[64];
    for (size_t i = 0; i < o.n; i++) {
        addrorder_format(&o.addr[i].sa, one, sizeof(one));
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "", one);
    }
    assert_string_equal(got, want);
}

static void families_interleave_from_the_first(void **state)
{
    (void)state;
    const char *v6first[] = {"2001:db8::1", "2001:db8::2", "2001:db8::3", "192.0.2.1", "192.0.2.2"};
    expect_order(v6first, 5,
                 "[2001:db8::1]:7 192.0.2.1:7 [2001:db8::2]:7 192.0.2.2:7 [2001:db8::3]:7");
    const char *v4first[] = {"192.0.2.1", "192.0.2.2", "::1"};
    expect_order(v4first, 3, "192.0.2.1:7 [::1]:7 192.0.2.2:7");
}

static void one_family_keeps_its_order(void **state)
{
    (void)state;
    const char *v4[] = {"192.0.2.3", "192.0.2.1", "192.0.2.2"};
    expect_order(v4, 3, "192.0.2.3:7 192.0.2.1:7 192.0.2.2:7");
    const char *one[] = {"::1"};
    expect_order(one, 1, "[::1]:7");
    expect_order(NULL, 0, "");
}

static void duplicates_are_tried_once(void **state)
{
    (void)state;
    /* /etc/hosts and DNS may both answer, with the same address. */
    const char *dup[] = {"127.0.0.1", "::1", "127.0.0.1", "::1", "127.0.0.2"};
    expect_order(dup, 5, "127.0.0.1:7 [::1]:7 127.0.0.2:7");
}

static void other_families_are_skipped(void **state)
{
    (void)state;
    struct answer a;
    const char *addrs[] = {"192.0.2.1", "::1"};
    struct addrinfo *ai = answer(&a, addrs, 2);
    struct addrinfo unix_entry = {.ai_family = AF_UNIX, .ai_next = ai};
    struct addrorder o;
    assert_int_equal(addrorder_fill(&o, &unix_entry), 2);
    assert_int_equal(o.addr[0].sa.sa_family, AF_INET);
    assert_int_equal(o.addr[1].sa.sa_family, AF_INET6);
}

static void at_most_the_limit_and_one_past_is_dropped(void **state)
{
    (void)state;
    static char texts[ADDRORDER_MAX + 1][32];
    const char *addrs[ADDRORDER_MAX + 1];
    for (int i = 0; i <= ADDRORDER_MAX; i++) {
        snprintf(texts[i], sizeof(texts[i]), "192.0.2.%d", i + 1);
        addrs[i] = texts[i];
    }
    struct answer a;
    struct addrorder o;
    assert_int_equal(addrorder_fill(&o, answer(&a, addrs, ADDRORDER_MAX)), ADDRORDER_MAX);
    assert_int_equal(addrorder_fill(&o, answer(&a, addrs, ADDRORDER_MAX + 1)), ADDRORDER_MAX);
    char last[64];
    addrorder_format(&o.addr[ADDRORDER_MAX - 1].sa, last, sizeof(last));
    assert_string_equal(last, "192.0.2.16:7");
}

static void format_cuts_to_the_buffer(void **state)
{
    (void)state;
    struct answer a;
    const char *addrs[] = {"2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"};
    struct addrorder o;
    addrorder_fill(&o, answer(&a, addrs, 1));
    char out[64], small[8];
    addrorder_format(&o.addr[0].sa, out, sizeof(out));
    assert_string_equal(out, "[2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:7");
    addrorder_format(&o.addr[0].sa, small, sizeof(small));
    assert_string_equal(small, "[2001:d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(families_interleave_from_the_first),
        cmocka_unit_test(one_family_keeps_its_order),
        cmocka_unit_test(duplicates_are_tried_once),
        cmocka_unit_test(other_families_are_skipped),
        cmocka_unit_test(at_most_the_limit_and_one_past_is_dropped),
        cmocka_unit_test(format_cuts_to_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
