/* The single-pass JSON reader: strict syntax, escapes, and extraction of
 * the wanted members of each list element. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "configure/jsonscan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct seen {
    size_t n;
    char got[8][3][64]; /* per element: ID, Name, "true"/"" for Enabled */
    bool object[8];
};

static int record(size_t index, const struct jscan_fields *f, void *ctx)
{
    struct seen *s = ctx;
    assert_int_equal(index, s->n);
    if (s->n < 8) {
        snprintf(s->got[s->n][0], 64, "%s", f->str[0] ? f->str[0] : "(null)");
        snprintf(s->got[s->n][1], 64, "%s", f->str[1] ? f->str[1] : "(null)");
        snprintf(s->got[s->n][2], 64, "%s", f->is_true[2] ? "true" : "");
        s->object[s->n] = f->is_object;
    }
    s->n++;
    return 0;
}

static int scan(const char *json, struct seen *s, char *err)
{
    struct jscan_fields f = {{"ID", "Name", "Enabled"}, 3, {0}, {0}, false};
    memset(s, 0, sizeof(*s));
    return jscan_list(json, strlen(json), "L", &f, record, s, err, 256);
}

static void test_wanted_members_are_extracted_and_others_skipped(void **state)
{
    (void)state;
    struct seen s;
    char err[256] = "";
    const char *json =
        " {\"x\":[1,{\"ID\":\"no\"}],\"L\":[{\"ID\":\"a\",\"Other\":{\"ID\":\"deep\","
        "\"l\":[true,null,-1.5e+3]},\"Name\":\"n\",\"Enabled\":true},"
        "{\"Enabled\":\"true\",\"ID\":\"b\",\"ID\":\"b2\"},7],\"y\":0}\n";
    assert_int_equal(scan(json, &s, err), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.got[0][0], "a");
    assert_string_equal(s.got[0][1], "n");
    assert_string_equal(s.got[0][2], "true");
    assert_string_equal(s.got[1][0], "b2"); /* the last of repeated members */
    assert_string_equal(s.got[1][1], "(null)");
    assert_string_equal(s.got[1][2], ""); /* the string "true" is not true */
    assert_false(s.object[2]);
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
    expect_malformed("{\"L\":[]}\n x", "line 2 column 2: data after the JSON document");
    expect_malformed("{\"L\":[01]}", "expected ',' or ']'");
    expect_malformed("{\"L\":[1.]}", "invalid number");
    expect_malformed("{\"L\":[tru]}", "invalid literal");
    expect_malformed("{\"L\":[\"a\x01\"]}", "control character");
    expect_malformed("{\"L\":[\"\\x\"]}", "invalid escape");
    expect_malformed("{\"L\":[{\"ID\":\"a\\u0000b\"}]}", "\\u0000 is not allowed");
    expect_malformed("{\"L\":[\"\\ud83d\"]}", "surrogate");
    expect_malformed("{\"L\":[\"\\ude00\"]}", "surrogate");
    expect_malformed("{\"L\" [1]}", "expected ':'");
    expect_malformed("{\"L\":[1,]}", "unexpected character");
    expect_malformed("{L:[]}", "expected a member name");
}

static void test_deep_nesting_is_refused_without_recursion_blowup(void **state)
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
    free(json);
}

static void test_missing_or_wrong_list_is_reported(void **state)
{
    (void)state;
    struct seen s;
    char err[256] = "";
    assert_int_equal(scan("{\"M\":[]}", &s, err), -EINVAL);
    assert_string_equal(err, "JSON has no \"L\" list");
    assert_int_equal(scan("{\"L\":{}}", &s, err), -EINVAL);
    assert_int_equal(scan("[{\"L\":[]}]", &s, err), -EINVAL);
    assert_string_equal(err, "JSON has no \"L\" list");
    assert_int_equal(scan("  \n", &s, err), -EINVAL);
    assert_non_null(strstr(err, "empty response body"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wanted_members_are_extracted_and_others_skipped),
        cmocka_unit_test(test_escapes_are_decoded),
        cmocka_unit_test(test_malformed_documents_are_rejected_with_position),
        cmocka_unit_test(test_deep_nesting_is_refused_without_recursion_blowup),
        cmocka_unit_test(test_missing_or_wrong_list_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
