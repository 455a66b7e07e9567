/* SRV answers to members (srvlookup_parse) on crafted DNS messages: good
 * answers, empty ones, error codes, truncated and malformed packets, and
 * targets no member may be named after. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "configure/srvlookup.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define QNAME "_conman._tcp.cray-conman-headless.services.svc.cluster.local"
#define SUFFIX "cray-conman-headless.services.svc.cluster.local"

/* A DNS message under construction. */
struct msg {
    unsigned char b[4096];
    size_t n;
};

static void put8(struct msg *m, unsigned v)
{
    m->b[m->n++] = (unsigned char)v;
}

static void put16(struct msg *m, unsigned v)
{
    put8(m, v >> 8);
    put8(m, v & 0xff);
}

/* A name in wire form, uncompressed, labels taken as they are (bytes a
 * real zone would not hold included). */
static void put_name(struct msg *m, const char *dotted)
{
    while (*dotted) {
        size_t len = strcspn(dotted, ".");
        put8(m, (unsigned)len);
        memcpy(m->b + m->n, dotted, len);
        m->n += len;
        dotted += len + (dotted[len] == '.');
    }
    put8(m, 0);
}

/* Header and the question for QNAME IN SRV; `ancount` records follow. */
static void begin(struct msg *m, unsigned rcode, unsigned ancount)
{
    m->n = 0;
    put16(m, 0x1234);
    put16(m, 0x8180 | rcode); /* QR, RD, RA */
    put16(m, 1);
    put16(m, ancount);
    put16(m, 0);
    put16(m, 0);
    put_name(m, QNAME);
    put16(m, 33); /* SRV */
    put16(m, 1);  /* IN */
}

/* An answer record owned by the question's name (a pointer to it). */
static void rr_head(struct msg *m, unsigned type, unsigned rdlen)
{
    put16(m, 0xc00c);
    put16(m, type);
    put16(m, 1);
    put16(m, 0);
    put16(m, 30); /* TTL */
    put16(m, rdlen);
}

static void srv(struct msg *m, unsigned port, const char *target)
{
    size_t at = m->n;
    rr_head(m, 33, 0);
    size_t rd = m->n;
    put16(m, 0);  /* priority */
    put16(m, 10); /* weight */
    put16(m, port);
    put_name(m, target);
    m->b[at + 10] = (unsigned char)((m->n - rd) >> 8);
    m->b[at + 11] = (unsigned char)((m->n - rd) & 0xff);
}

static int parse(const struct msg *m, struct shard_members *out, char *err, size_t errlen)
{
    return srvlookup_parse(m->b, m->n, out, err, errlen);
}

static void test_three_srv_records_give_three_sorted_members(void **state)
{
    (void)state;
    struct msg m;
    begin(&m, 0, 4);
    /* Servers rotate the order; one pod listed twice is one member. */
    srv(&m, 7890, "cray-conman-2." SUFFIX);
    srv(&m, 7890, "cray-conman-0." SUFFIX);
    srv(&m, 7891, "cray-conman-1." SUFFIX);
    srv(&m, 7890, "cray-conman-0." SUFFIX);
    struct shard_members out = SHARD_MEMBERS_INIT;
    char err[256] = "";
    assert_int_equal(parse(&m, &out, err, sizeof(err)), 0);
    assert_int_equal(out.n, 3);
    assert_string_equal(out.v[0].name, "cray-conman-0");
    assert_string_equal(out.v[0].host, "cray-conman-0." SUFFIX);
    assert_int_equal(out.v[0].port, 7890);
    assert_string_equal(out.v[1].name, "cray-conman-1");
    assert_int_equal(out.v[1].port, 7891);
    assert_string_equal(out.v[2].name, "cray-conman-2");
    shard_members_release(&out);
}

static void test_compressed_target_is_expanded(void **state)
{
    (void)state;
    struct msg m;
    begin(&m, 0, 1);
    size_t at = m.n;
    rr_head(&m, 33, 0);
    size_t rd = m.n;
    put16(&m, 0);
    put16(&m, 0);
    put16(&m, 7890);
    put8(&m, 13);
    memcpy(m.b + m.n, "cray-conman-0", 13);
    m.n += 13;
    put16(&m, 0xc000 | (12 + 1 + 7 + 1 + 4)); /* the question past "_conman._tcp." */
    m.b[at + 11] = (unsigned char)(m.n - rd);
    struct shard_members out = SHARD_MEMBERS_INIT;
    char err[256] = "";
    assert_int_equal(parse(&m, &out, err, sizeof(err)), 0);
    assert_int_equal(out.n, 1);
    assert_string_equal(out.v[0].host, "cray-conman-0." SUFFIX);
    shard_members_release(&out);
}

static void test_answer_without_srv_records_has_no_member(void **state)
{
    (void)state;
    struct msg m;
    begin(&m, 0, 0);
    struct shard_members out = SHARD_MEMBERS_INIT;
    char err[256] = "";
    assert_int_equal(parse(&m, &out, err, sizeof(err)), 0);
    assert_int_equal(out.n, 0);
    assert_null(out.v);
    /* A CNAME and a target "." (service decidedly not there) are no member. */
    begin(&m, 0, 2);
    rr_head(&m, 5, 3);
    put8(&m, 1);
    put8(&m, 'x');
    put8(&m, 0);
    srv(&m, 7890, "");
    assert_int_equal(parse(&m, &out, err, sizeof(err)), 0);
    assert_int_equal(out.n, 0);
    assert_null(out.v);
}

static void test_error_codes_are_told_apart(void **state)
{
    (void)state;
    struct msg m;
    struct shard_members out = SHARD_MEMBERS_INIT;
    char err[256] = "";
    begin(&m, 3, 0);
    assert_int_equal(parse(&m, &out, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "NXDOMAIN"));
    begin(&m, 2, 0);
    assert_int_equal(parse(&m, &out, err, sizeof(err)), -EAGAIN);
    assert_non_null(strstr(err, "SERVFAIL"));
    begin(&m, 5, 0);
    assert_int_equal(parse(&m, &out, err, sizeof(err)), -EIO);
    assert_non_null(strstr(err, "error code 5"));
    assert_null(out.v);
}

static void test_every_truncation_of_a_good_answer_is_refused(void **state)
{
    (void)state;
    struct msg m;
    begin(&m, 0, 2);
    srv(&m, 7890, "cray-conman-0." SUFFIX);
    srv(&m, 7890, "cray-conman-1." SUFFIX);
    struct shard_members out = SHARD_MEMBERS_INIT;
    char err[256];
    for (size_t len = 0; len < m.n; len++) {
        err[0] = '\0';
        if (srvlookup_parse(m.b, len, &out, err, sizeof(err)) != -EINVAL)
            fail_msg("a message cut to %zu of %zu bytes was not refused", len, m.n);
        assert_null(out.v);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(srvlookup_parse(m.b, 65536, &out, err, sizeof(err)), -EINVAL);
}

static void test_malformed_records_are_refused(void **state)
{
    (void)state;
    struct msg m;
    struct shard_members out = SHARD_MEMBERS_INIT;
    char err[256] = "";
    /* Too short for priority, weight, port and a name. */
    begin(&m, 0, 1);
    rr_head(&m, 33, 6);
    put16(&m, 0);
    put16(&m, 0);
    put16(&m, 7890);
    assert_int_equal(parse(&m, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "SRV record 1: its target does not fit"));
    /* A target pointing at itself. */
    begin(&m, 0, 1);
    rr_head(&m, 33, 8);
    put16(&m, 0);
    put16(&m, 0);
    put16(&m, 7890);
    put16(&m, 0xc000 | (unsigned)(m.n));
    assert_int_equal(parse(&m, &out, err, sizeof(err)), -EINVAL);
    /* A target shorter than the record's data. */
    begin(&m, 0, 1);
    rr_head(&m, 33, 10);
    put16(&m, 0);
    put16(&m, 0);
    put16(&m, 7890);
    put8(&m, 1);
    put8(&m, 'a');
    put8(&m, 0);
    put8(&m, 0);
    assert_int_equal(parse(&m, &out, err, sizeof(err)), -EINVAL);
    /* Port 0 is no place to reach a member. */
    begin(&m, 0, 1);
    srv(&m, 0, "cray-conman-0." SUFFIX);
    assert_int_equal(parse(&m, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "SRV target \"cray-conman-0." SUFFIX
                                "\" port 0: 'cray-conman-0." SUFFIX ":0': expected HOST:PORT"));
    assert_null(out.v);
}

static void test_target_label_past_a_member_name_is_refused(void **state)
{
    (void)state;
    char label[80], target[160];
    memset(label, 'a', 63);
    label[63] = '\0';
    snprintf(target, sizeof(target), "%s.svc", label);
    struct msg m;
    begin(&m, 0, 1);
    srv(&m, 7890, target);
    struct shard_members out = SHARD_MEMBERS_INIT;
    char err[256] = "";
    assert_int_equal(parse(&m, &out, err, sizeof(err)), 0); /* 63: the limit */
    assert_int_equal(out.n, 1);
    assert_string_equal(out.v[0].name, label);
    shard_members_release(&out);
    /* 63 bytes on the wire, but each blank is written "\032": 64 and more. */
    label[0] = ' ';
    snprintf(target, sizeof(target), "%s.svc", label);
    begin(&m, 0, 1);
    srv(&m, 7890, target);
    assert_int_equal(parse(&m, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "SRV target \"\\032aaa"));
    assert_non_null(strstr(err, "a member name has 1 to 63 characters"));
    /* A byte no host name has, within the length. */
    begin(&m, 0, 1);
    srv(&m, 7890, "pod_0.svc");
    assert_int_equal(parse(&m, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "SRV target \"pod_0.svc\""));
    assert_null(out.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_srv_records_give_three_sorted_members),
        cmocka_unit_test(test_compressed_target_is_expanded),
        cmocka_unit_test(test_answer_without_srv_records_has_no_member),
        cmocka_unit_test(test_error_codes_are_told_apart),
        cmocka_unit_test(test_every_truncation_of_a_good_answer_is_refused),
        cmocka_unit_test(test_malformed_records_are_refused),
        cmocka_unit_test(test_target_label_past_a_member_name_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
