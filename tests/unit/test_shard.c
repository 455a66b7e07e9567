/* Member parsing, rendezvous assignment (balance, movement, order
 * independence, takeover) and the settle timer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "configure/shard.h"
#include "configure/shardsettle.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONSOLES 10000

static void console_name(size_t i, char *out, size_t outlen)
{
    /* xname-like, as HSM names them. */
    snprintf(out, outlen, "x%zuc0s%zub%zun0", 1000 + i / 256, (i / 4) % 64, i % 4);
}

static void members_of(struct shard_members *m, size_t n, size_t skip)
{
    char list[4096] = "", err[256];
    for (size_t i = 0; i < n; i++) {
        if (i == skip)
            continue;
        size_t len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%sconman-%zu", len ? "," : "", i);
    }
    *m = (struct shard_members)SHARD_MEMBERS_INIT;
    assert_int_equal(shard_parse_list(list, m, err, sizeof(err)), 0);
}

static void expect_member(const char *text, const char *name, const char *host, unsigned port)
{
    struct shard_member m;
    char err[256] = "";
    assert_int_equal(shard_parse_member(text, &m, err, sizeof(err)), 0);
    assert_string_equal(m.name, name);
    assert_string_equal(m.host, host);
    assert_int_equal(m.port, port);
}

static void expect_bad_member(const char *text, const char *why)
{
    struct shard_member m;
    char err[256] = "";
    assert_int_equal(shard_parse_member(text, &m, err, sizeof(err)), -EINVAL);
    if (!strstr(err, why))
        fail_msg("%s: got \"%s\", wanted \"%s\"", text, err, why);
}

static void test_member_forms_parse(void **state)
{
    (void)state;
    expect_member("conman-0", "conman-0", "conman-0", 0);
    expect_member("a.b_c-d", "a.b_c-d", "a.b_c-d", 0);
    expect_member("c1=conman-1.conman.svc:7891", "c1", "conman-1.conman.svc", 7891);
    expect_member("c1=127.0.0.2:1", "c1", "127.0.0.2", 1);
    expect_member("c1=127.0.0.2", "c1", "127.0.0.2", 0);
    expect_member("c1=[::1]:65535", "c1", "::1", 65535);
    expect_member("c1=[fe80::1]", "c1", "fe80::1", 0);
    char name63[64];
    memset(name63, 'n', 63);
    name63[63] = '\0';
    expect_member(name63, name63, name63, 0);
}

static void test_bad_members_say_why(void **state)
{
    (void)state;
    char name64[65];
    memset(name64, 'n', 64);
    name64[64] = '\0';
    expect_bad_member(name64, "1 to 63 characters");
    expect_bad_member("", "1 to 63 characters");
    expect_bad_member("=h:1", "1 to 63 characters");
    expect_bad_member("a b", "only letters");
    expect_bad_member("a/b", "only letters");
    expect_bad_member("a=h:65536", "PORT 1-65535");
    expect_bad_member("a=h:0", "PORT 1-65535");
    expect_bad_member("a=h:", "PORT 1-65535");
    expect_bad_member("a=h:7x", "PORT 1-65535");
    expect_bad_member("a=::1:7890", "brackets");
    expect_bad_member("a=[::1", "'[::1': expected [IPv6 address] between the brackets");
    expect_bad_member("a=[::1]7890", "'[::1]7890': expected HOST:PORT");
    expect_bad_member("a=[nothost]:1", "IPv6");
    expect_bad_member("a=", "host");
    expect_bad_member("a=-h:1", "host");
    expect_bad_member("a=h..x:1", "host");
    expect_bad_member("a=h_x:1", "host");
    expect_bad_member("a=\"h\":1", "host");
}

static void test_list_is_sorted_and_trimmed(void **state)
{
    (void)state;
    struct shard_members m = SHARD_MEMBERS_INIT;
    char err[256];
    assert_int_equal(shard_parse_list(" c , a=h:1,b ", &m, err, sizeof(err)), 0);
    assert_int_equal(m.n, 3);
    assert_string_equal(m.v[0].name, "a");
    assert_string_equal(m.v[1].name, "b");
    assert_string_equal(m.v[2].name, "c");
    char text[256];
    shard_members_describe(&m, text, sizeof(text));
    assert_string_equal(text, "a=h:1,b,c");
    shard_members_release(&m);
}

static void test_list_errors_name_the_entry(void **state)
{
    (void)state;
    struct shard_members m = SHARD_MEMBERS_INIT;
    char err[256];
    assert_int_equal(shard_parse_list("a,b,a=h:2", &m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "entry \"a=h:2\": member a is listed twice"));
    assert_int_equal(m.n, 0);
    assert_int_equal(shard_parse_list("a,b=h:99999", &m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "entry \"b=h:99999\""));
    assert_int_equal(shard_parse_list("a,,b", &m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "empty entry"));
    assert_int_equal(shard_parse_list("a,", &m, err, sizeof(err)), -EINVAL);
    assert_int_equal(shard_parse_list("", &m, err, sizeof(err)), -EINVAL);
}

static void test_file_skips_comments_and_names_line(void **state)
{
    (void)state;
    struct shard_members m = SHARD_MEMBERS_INIT;
    char err[256];
    const char *good = "# members\n\nconman-1   # second\r\n  conman-0=127.0.0.1:7001\n\n";
    assert_int_equal(shard_parse_file(good, "/etc/m", &m, err, sizeof(err)), 0);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.v[0].name, "conman-0");
    assert_int_equal(m.v[0].port, 7001);
    shard_members_release(&m);
    assert_int_equal(shard_parse_file("a\n# x\nb c\n", "/etc/m", &m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "/etc/m:3: "));
    assert_int_equal(shard_parse_file("a\nb\n\na\n", "/etc/m", &m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "/etc/m:4: member a is listed twice"));
    assert_int_equal(shard_parse_file("# none\n\n", "/etc/m", &m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "/etc/m: lists no member"));
    assert_int_equal(m.n, 0);
}

static void test_peer_dev_brackets_ipv6_and_defaults_port(void **state)
{
    (void)state;
    struct shard_member m;
    char err[128], dev[300];
    assert_int_equal(shard_parse_member("a=[::1]:7001", &m, err, sizeof(err)), 0);
    shard_peer_dev(&m, 7890, dev, sizeof(dev));
    assert_string_equal(dev, "peer:[::1]:7001");
    assert_int_equal(shard_parse_member("conman-2", &m, err, sizeof(err)), 0);
    shard_peer_dev(&m, 7999, dev, sizeof(dev));
    assert_string_equal(dev, "peer:conman-2:7999");
}

static void test_ipv6_members_parse_by_the_common_parser(void **state)
{
    (void)state;
    expect_member("a=[::1]:7890", "a", "::1", 7890);
    expect_member("a=[::1]", "a", "::1", 0);
    expect_member("a=[fe80::1%eth0]:7890", "a", "fe80::1%eth0", 7890);
    expect_bad_member("a=fd00::1", "'fd00::1': an IPv6 address needs brackets");
    expect_bad_member("a=[::1]:", "'[::1]:': expected HOST:PORT");
    expect_bad_member("a=[::1]:70000", "PORT 1-65535");
    expect_bad_member("a=[::1::2]:1", "'[::1::2]:1': expected [IPv6 address] between the brackets");
    expect_bad_member("a=h:1:2", "'h:1:2'");
    struct shard_member m;
    char err[128], dev[300];
    assert_int_equal(shard_parse_member("a=[::1]", &m, err, sizeof(err)), 0);
    shard_peer_dev(&m, 7890, dev, sizeof(dev));
    assert_string_equal(dev, "peer:[::1]:7890");
    struct shard_members list = SHARD_MEMBERS_INIT;
    assert_int_equal(shard_parse_list("a=[::1],b=[fd00::2]:7001,c", &list, err, sizeof(err)), 0);
    shard_members_describe(&list, dev, sizeof(dev));
    assert_string_equal(dev, "a=[::1],b=[fd00::2]:7001,c");
    shard_members_release(&list);
}

/* Pinned values: the e2e test and any other implementation must agree. */
static void test_weight_is_stable(void **state)
{
    (void)state;
    assert_true(shard_weight("a", "bc") != shard_weight("ab", "c"));
    assert_true(shard_weight("conman-0", "x") != shard_weight("conman-1", "x"));
    assert_true(shard_weight("conman-0", "x3000c0s1b0") == 0x76043b8683cf8294ULL);
    assert_true(shard_weight("conman-1", "x3000c0s1b0") == 0x159a411c58e646dfULL);
    assert_true(shard_weight("a", "") == 0xd0137a57d0ef408fULL);
}

/* Each member's count over `consoles` names for 2..16 members: within
 * `rel` of the mean, or (rel 0) within 4 binomial standard deviations,
 * which is what a fair random assignment can promise. */
static void check_balance(size_t consoles, double rel)
{
    for (size_t n = 2; n <= 16; n++) {
        struct shard_members m;
        members_of(&m, n, (size_t)-1);
        size_t count[16] = {0};
        char name[64];
        for (size_t i = 0; i < consoles; i++) {
            console_name(i, name, sizeof(name));
            count[shard_owner(&m, name)]++;
        }
        double mean = (double)consoles / (double)n;
        double tol = rel > 0 ? rel * mean : 4 * sqrt(mean * (1 - 1.0 / (double)n));
        for (size_t k = 0; k < n; k++)
            if (fabs((double)count[k] - mean) > tol)
                fail_msg("%zu members over %zu: member %zu owns %zu, mean %.0f, tolerance %.0f", n,
                         consoles, k, count[k], mean, tol);
        shard_members_release(&m);
    }
}

/* At 10,000 names and 16 members one standard deviation is already 3.9%
 * of the mean, so no fair hash keeps every member within 5% there: the
 * 10,000-name check is the binomial bound, the 5% check uses 100,000. */
static void test_balance_over_10000_names_is_binomial(void **state)
{
    (void)state;
    check_balance(CONSOLES, 0);
}

static void test_balance_within_five_percent_over_100000_names(void **state)
{
    (void)state;
    check_balance(10 * CONSOLES, 0.05);
}

/* From `before` to `after`: how many consoles moved, and none between two
 * members both in before and after. */
static size_t moved(const struct shard_members *before, const struct shard_members *after)
{
    size_t n = 0;
    char name[64];
    for (size_t i = 0; i < CONSOLES; i++) {
        console_name(i, name, sizeof(name));
        const char *a = before->v[shard_owner(before, name)].name;
        const char *b = after->v[shard_owner(after, name)].name;
        if (strcmp(a, b) == 0)
            continue;
        n++;
        if (shard_find(before, b) >= 0 && shard_find(after, a) >= 0)
            fail_msg("%s moved from %s to %s, both still members", name, a, b);
    }
    return n;
}

static void test_join_and_leave_move_about_one_nth(void **state)
{
    (void)state;
    for (size_t n = 2; n <= 16; n++) {
        struct shard_members small, big;
        members_of(&small, n, (size_t)-1);
        members_of(&big, n + 1, (size_t)-1);
        double limit = 1.3 * CONSOLES / (double)(n + 1);
        size_t join = moved(&small, &big), leave = moved(&big, &small);
        if ((double)join > limit || (double)leave > limit)
            fail_msg("%zu -> %zu members: %zu joined, %zu left, limit %.0f", n, n + 1, join, leave,
                     limit);
        shard_members_release(&small);
        shard_members_release(&big);
    }
}

static void test_owner_does_not_depend_on_member_order(void **state)
{
    (void)state;
    struct shard_members a = SHARD_MEMBERS_INIT, b = SHARD_MEMBERS_INIT;
    char err[128], name[64];
    assert_int_equal(shard_parse_list("m0,m1,m2,m3,m4", &a, err, sizeof(err)), 0);
    assert_int_equal(shard_parse_list("m0,m1,m2,m3,m4", &b, err, sizeof(err)), 0);
    /* Parsing sorts, so reverse by hand to check the owner function itself. */
    for (size_t i = 0; i < b.n / 2; i++) {
        struct shard_member t = b.v[i];
        b.v[i] = b.v[b.n - 1 - i];
        b.v[b.n - 1 - i] = t;
    }
    for (size_t i = 0; i < CONSOLES; i++) {
        console_name(i, name, sizeof(name));
        assert_string_equal(a.v[shard_owner(&a, name)].name, b.v[shard_owner(&b, name)].name);
    }
    shard_members_release(&a);
    shard_members_release(&b);
}

static void test_dead_member_spreads_over_all_survivors(void **state)
{
    (void)state;
    const size_t n = 8, dead = 3;
    struct shard_members all, alive;
    members_of(&all, n, (size_t)-1);
    members_of(&alive, n, dead);
    size_t got[8] = {0}, orphans = 0;
    char name[64];
    for (size_t i = 0; i < CONSOLES; i++) {
        console_name(i, name, sizeof(name));
        if ((size_t)shard_owner(&all, name) != dead)
            continue;
        orphans++;
        const char *heir = alive.v[shard_owner(&alive, name)].name;
        got[shard_find(&all, heir)]++;
    }
    double share = (double)orphans / (double)(n - 1);
    for (size_t k = 0; k < n; k++)
        if (k != dead && (got[k] < share * 0.7 || got[k] > share * 1.3))
            fail_msg("survivor %zu got %zu of %zu orphans (fair: %.0f)", k, got[k], orphans, share);
    assert_int_equal(got[dead], 0);
    shard_members_release(&all);
    shard_members_release(&alive);
}

static void see(struct shard_settle *s, const char *list, double now, int want)
{
    struct shard_members m = SHARD_MEMBERS_INIT;
    char err[128];
    assert_int_equal(shard_parse_list(list, &m, err, sizeof(err)), 0);
    assert_int_equal(shard_settle_see(s, &m, now), want);
    assert_int_equal(m.n, 0);
}

static void test_settle_acts_only_after_stable_period(void **state)
{
    (void)state;
    struct shard_settle s = SHARD_SETTLE_INIT;
    struct shard_members prev = SHARD_MEMBERS_INIT;
    see(&s, "a,b", 0, 1); /* the first is acted on at once */
    assert_int_equal(s.active.n, 2);
    see(&s, "a,b,c", 1, 0);
    assert_int_equal(shard_settle_due(&s, 5, 10, &prev), 0);
    see(&s, "a,b,c,d", 6, 0); /* changed again: the clock restarts */
    assert_int_equal(shard_settle_due(&s, 12, 10, &prev), 0);
    assert_true(shard_settle_next(&s, 10) == 16);
    see(&s, "a,b,c,d", 15, 0);
    assert_int_equal(shard_settle_due(&s, 16, 10, &prev), 1);
    assert_int_equal(prev.n, 2);
    assert_int_equal(s.active.n, 4);
    assert_true(shard_settle_next(&s, 10) < 0);
    shard_members_release(&prev);
    see(&s, "a", 20, 0);
    see(&s, "a,b,c,d", 21, 0); /* back to the active set: nothing pending */
    assert_int_equal(shard_settle_due(&s, 100, 10, &prev), 0);
    see(&s, "a,b", 101, 0);
    shard_settle_forget(&s); /* the source went bad: not acted on */
    assert_int_equal(shard_settle_due(&s, 200, 10, &prev), 0);
    assert_int_equal(s.active.n, 4);
    shard_settle_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_forms_parse),
        cmocka_unit_test(test_bad_members_say_why),
        cmocka_unit_test(test_list_is_sorted_and_trimmed),
        cmocka_unit_test(test_list_errors_name_the_entry),
        cmocka_unit_test(test_ipv6_members_parse_by_the_common_parser),
        cmocka_unit_test(test_file_skips_comments_and_names_line),
        cmocka_unit_test(test_peer_dev_brackets_ipv6_and_defaults_port),
        cmocka_unit_test(test_weight_is_stable),
        cmocka_unit_test(test_balance_over_10000_names_is_binomial),
        cmocka_unit_test(test_balance_within_five_percent_over_100000_names),
        cmocka_unit_test(test_join_and_leave_move_about_one_nth),
        cmocka_unit_test(test_owner_does_not_depend_on_member_order),
        cmocka_unit_test(test_dead_member_spreads_over_all_survivors),
        cmocka_unit_test(test_settle_acts_only_after_stable_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
