/* Log shipping's pure part: line assembly and JSON encoding (ship/logship.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/ship/logship.h"

struct lines {
    int n;
    char text[8][LOGSHIP_LINE_MAX + 1];
    size_t len[8];
};

static void collect(void *arg, const unsigned char *line, size_t len)
{
    struct lines *ls = arg;
    assert_true(ls->n < 8);
    memcpy(ls->text[ls->n], line, len);
    ls->text[ls->n][len] = '\0';
    ls->len[ls->n++] = len;
}

static void feed(struct logship_line *l, const char *s, struct lines *ls)
{
    logship_line_feed(l, (const unsigned char *)s, strlen(s), collect, ls);
}

static void test_lines_split_over_reads_are_assembled(void **state)
{
    (void)state;
    static struct logship_line l;
    static struct lines ls;
    feed(&l, "boo", &ls);
    assert_int_equal(ls.n, 0);
    feed(&l, "t ok\r", &ls);
    assert_int_equal(ls.n, 0);
    feed(&l, "\nsecond\nthi", &ls);
    assert_int_equal(ls.n, 2);
    assert_string_equal(ls.text[0], "boot ok");
    assert_string_equal(ls.text[1], "second");
    assert_int_equal(l.len, 3);
    feed(&l, "\n\n", &ls);
    assert_int_equal(ls.n, 4);
    assert_string_equal(ls.text[2], "thi");
    assert_int_equal(ls.len[3], 0);
}

static void test_a_long_line_is_cut_into_pieces(void **state)
{
    (void)state;
    static struct logship_line l;
    static struct lines ls;
    static char big[LOGSHIP_LINE_MAX + 11];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 2] = '\n';
    feed(&l, big, &ls);
    assert_int_equal(ls.n, 2);
    assert_int_equal(ls.len[0], LOGSHIP_LINE_MAX);
    assert_int_equal(ls.len[1], 9);
}

static void test_a_line_is_one_json_object_with_nanoseconds(void **state)
{
    (void)state;
    char out[512];
    struct timespec t = {.tv_sec = 1796214896, .tv_nsec = 123456789};
    const char *line = "login: \"root\" \\ ok";
    size_t n = logship_encode(out, sizeof(out), "node-1", 6, &t, (const unsigned char *)line,
                              strlen(line));
    assert_string_equal(out, "{\"console\":\"node-1\",\"time\":\"2026-12-02T12:34:56.123456789Z\","
                             "\"line\":\"login: \\\"root\\\" \\\\ ok\"}\n");
    assert_int_equal(n, strlen(out));
}

static void test_control_characters_and_invalid_utf8_are_escaped(void **state)
{
    (void)state;
    char out[512];
    struct timespec t = {0};
    /* tab, ESC, DEL, valid e-acute and euro, lone 0xff, overlong C0 AF,
     * surrogate ED A0 80, truncated E2 82 at the end. */
    const unsigned char line[] =
        "\t\x1b[0m\x7f\xc3\xa9\xe2\x82\xac\xff\xc0\xaf\xed\xa0\x80\xe2\x82";
    size_t n = logship_encode(out, sizeof(out), "c", 1, &t, line, sizeof(line) - 1);
    assert_true(n > 0);
    assert_string_equal(out, "{\"console\":\"c\",\"time\":\"1970-01-01T00:00:00.000000000Z\","
                             "\"line\":\"\\t\\u001b[0m\\u007f\xc3\xa9\xe2\x82\xac\\u00ff\\u00c0"
                             "\\u00af\\u00ed\\u00a0\\u0080\\u00e2\\u0082\"}\n");
}

static void test_a_too_small_buffer_writes_nothing(void **state)
{
    (void)state;
    char out[64];
    struct timespec t = {0};
    assert_int_equal(logship_encode(out, sizeof(out), "c", 1, &t, (const unsigned char *)"x", 1),
                     0);
    size_t need = logship_encoded_max(1, 1);
    char *big = malloc(need);
    assert_non_null(big);
    assert_true(logship_encode(big, need, "c", 1, &t, (const unsigned char *)"x", 1) > 0);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_split_over_reads_are_assembled),
        cmocka_unit_test(test_a_long_line_is_cut_into_pieces),
        cmocka_unit_test(test_a_line_is_one_json_object_with_nanoseconds),
        cmocka_unit_test(test_control_characters_and_invalid_utf8_are_escaped),
        cmocka_unit_test(test_a_too_small_buffer_writes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
