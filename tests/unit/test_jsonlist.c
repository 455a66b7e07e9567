/* The yajl-driven list extractor: strict syntax with a position, the wanted
 * members of each list element and nothing else, bounded values, pieces of
 * input fed in any split. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "configure/jsonlist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct seen {
    size_t n;
    char got[8][3][64]; /* per element: ID, Name, "true"/"" for Enabled */
    bool object[8];
    bool id_too_long[8];
    size_t id_len[8];
};

static int record(size_t index, const struct jlist_fields *f, void *ctx)
{
    struct seen *s = ctx;
    assert_int_equal(index, s->n);
    if (s->n < 8) {
        snprintf(s->got[s->n][0], 64, "%s", f->str[0] ? f->str[0] : "(null)");
        snprintf(s->got[s->n][1], 64, "%s", f->str[1] ? f->str[1] : "(null)");
        snprintf(s->got[s->n][2], 64, "%s", f->is_true[2] ? "true" : "");
        s->object[s->n] = f->is_object;
        s->id_too_long[s->n] = f->too_long[0];
        s->id_len[s->n] = f->str[0] ? strlen(f->str[0]) : 0;
    }
    s->n++;
    return 0;
}

static void fields(struct jlist_fields *f)
{
    memset(f, 0, sizeof(*f));
    f->keys[0] = "ID";
    f->keys[1] = "Name";
    f->keys[2] = "Enabled";
    f->nkeys = 3;
}

static int scan(const char *json, struct seen *s, char *err)
{
    struct jlist_fields f;
    fields(&f);
    memset(s, 0, sizeof(*s));
    return jlist_parse(json, strlen(json), "L", &f, record, s, err, 256);
}

/* The same document fed in pieces of `step` bytes. */
static int scan_pieces(const char *json, size_t step, struct seen *s, char *err)
{
    struct jlist_fields f;
    struct jlist *j = NULL;
    fields(&f);
    memset(s, 0, sizeof(*s));
    assert_int_equal(jlist_open(&j, "L", &f, record, s), 0);
    int rc = 0;
    size_t len = strlen(json);
    for (size_t off = 0; rc == 0 && off < len; off += step)
        rc = jlist_feed(j, json + off, len - off < step ? len - off : step, err, 256);
    if (rc == 0)
        rc = jlist_finish(j, err, 256);
    jlist_close(j);
    return rc;
}

static const char *const mixed =
    " {\"x\":[1,{\"ID\":\"no\"}],\"L\":[{\"ID\":\"a\",\"Other\":{\"ID\":\"deep\","
    "\"l\":[true,null,-1.5e+3]},\"Name\":\"n\",\"Enabled\":true},"
    "{\"Enabled\":\"true\",\"ID\":\"b\",\"ID\":\"b2\",\"Name\":{\"x\":1}},7,[{\"ID\":\"c\"}]],"
    "\"y\":0}\n";

static void check_mixed(const struct seen *s)
{
    assert_int_equal(s->n, 4);
    assert_string_equal(s->got[0][0], "a"); /* not the nested "deep" */
    assert_string_equal(s->got[0][1], "n");
    assert_string_equal(s->got[0][2], "true");
    assert_true(s->object[0]);
    assert_string_equal(s->got[1][0], "b2");     /* the last of repeated members */
    assert_string_equal(s->got[1][1], "(null)"); /* an object is not a string */
    assert_string_equal(s->got[1][2], "");       /* the string "true" is not true */
    assert_false(s->object[2]);
    assert_false(s->object[3]);
    assert_string_equal(s->got[3][0], "(null)"); /* members of a nested array's object */
}

static void test_wanted_members_are_extracted_and_others_skipped(void **state)
{
    (void)state;
    struct seen s;
    char err[256] = "";
    assert_int_equal(scan(mixed, &s, err), 0);
    check_mixed(&s);
}

static void test_any_split_of_the_input_gives_the_same_elements(void **state)
{
    (void)state;
    struct seen s;
    char err[256] = "";
    for (size_t step = 1; step <= 17; step++) {
        assert_int_equal(scan_pieces(mixed, step, &s, err), 0);
        check_mixed(&s);
    }
}

static void test_escapes_are_decoded(void **state)
{
    (void)state;
    struct seen s;
    char err[256] = "";
    const char *json = "{\"L\":[{\"\\u0049D\":\"q\\\"s\\\\l\\/n\\n\\u00e9\\ud83d\\ude00\"}]}";
    assert_int_equal(scan(json, &s, err), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.got[0][0], "q\"s\\l/n\n\xc3\xa9\xf0\x9f\x98\x80");
}

static void test_huge_strings_are_cut_and_flagged(void **state)
{
    (void)state;
    size_t big = 1 << 20;
    char *json = malloc(big + 64);
    int n = sprintf(json, "{\"L\":[{\"ID\":\"");
    memset(json + n, 'A', big);
    strcpy(json + n + big, "\",\"Name\":\"ok\"}]}");
    struct seen s;
    char err[256] = "";
    assert_int_equal(scan(json, &s, err), 0);
    assert_int_equal(s.n, 1);
    assert_true(s.id_too_long[0]);
    assert_string_equal(s.got[0][1], "ok");
    free(json);
}

static void expect_malformed(const char *json, const char *why)
{
    struct seen s;
    char err[256] = "";
    assert_int_equal(scan(json, &s, err), -EINVAL);
    if (!strstr(err, why))
        fail_msg("for %s: got \"%s\", expected \"%s\"", json, err, why);
}

static void test_malformed_documents_are_rejected_with_position(void **state)
{
    (void)state;
    expect_malformed("{\"L\":[{\"ID\":",
                     "malformed JSON at line 1 column 13: unexpected end of input");
    expect_malformed("{\"L\":[]}\n x", "malformed JSON at line 2 column");
    expect_malformed("{\"L\":[]}\n x", "trailing garbage");
    expect_malformed("{\"L\":[01]}", "expect ',' or ']'");
    expect_malformed("{\"L\":[1.]}", "malformed number");
    expect_malformed("{\"L\":[tru]}", "malformed JSON");
    expect_malformed("{\"L\":[\"a\x01\"]}", "invalid character inside string");
    expect_malformed("{\"L\":[\"\\x\"]}", "malformed JSON");
    expect_malformed("{\"L\":[\"\xff\"]}", "malformed JSON");
    expect_malformed("{\"L\":[{\"ID\":\"a\\u0000b\"}]}", "member \"ID\" holds \\u0000");
    expect_malformed("{\"L\" [1]}", "colon");
    expect_malformed("{\"L\":[1,]}", "unallowed token");
    expect_malformed("{L:[]}", "malformed JSON at line 1 column 2");
    expect_malformed("{\"L\":[]} /* comment */", "malformed JSON");
}

static void test_deep_nesting_is_refused(void **state)
{
    (void)state;
    size_t depth = 100000;
    char *json = malloc(depth * 2 + 16);
    size_t n = 0;
    n += (size_t)sprintf(json, "{\"L\":[");
    for (size_t i = 0; i < depth; i++)
        json[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        json[n++] = ']';
    strcpy(json + n, "]}");
    struct seen s;
    char err[256] = "";
    assert_int_equal(scan(json, &s, err), -EINVAL);
    assert_non_null(strstr(err, "nested too deeply"));
    assert_int_equal(s.n, 0);
    free(json);
}

static void test_missing_or_wrong_list_is_reported(void **state)
{
    (void)state;
    struct seen s;
    char err[256] = "";
    assert_int_equal(scan("{\"M\":[{\"L\":[]}]}", &s, err), -EINVAL);
    assert_string_equal(err, "JSON has no \"L\" list");
    assert_int_equal(scan("{\"L\":{}}", &s, err), -EINVAL);
    assert_string_equal(err, "JSON has no \"L\" list");
    assert_int_equal(scan("[{\"L\":[]}]", &s, err), -EINVAL);
    assert_string_equal(err, "JSON has no \"L\" list");
    assert_int_equal(scan("\"L\"", &s, err), -EINVAL);
    assert_int_equal(scan("  \n", &s, err), -EINVAL);
    assert_non_null(strstr(err, "empty response body"));
    assert_int_equal(scan("{\"L\":[]}", &s, err), 0);
    assert_int_equal(s.n, 0);
}

static int stop_at_second(size_t index, const struct jlist_fields *f, void *ctx)
{
    (void)f;
    (void)ctx;
    return index == 1 ? -ENOMEM : 0;
}

static void test_a_callback_error_stops_the_parse(void **state)
{
    (void)state;
    struct jlist_fields f;
    fields(&f);
    char err[256] = "";
    const char *json = "{\"L\":[1,2,3]}";
    assert_int_equal(jlist_parse(json, strlen(json), "L", &f, stop_at_second, NULL, err, 256),
                     -ENOMEM);
    assert_string_equal(err, "out of memory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wanted_members_are_extracted_and_others_skipped),
        cmocka_unit_test(test_any_split_of_the_input_gives_the_same_elements),
        cmocka_unit_test(test_escapes_are_decoded),
        cmocka_unit_test(test_huge_strings_are_cut_and_flagged),
        cmocka_unit_test(test_malformed_documents_are_rejected_with_position),
        cmocka_unit_test(test_deep_nesting_is_refused),
        cmocka_unit_test(test_missing_or_wrong_list_is_reported),
        cmocka_unit_test(test_a_callback_error_stops_the_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
