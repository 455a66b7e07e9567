/* JSON strings and Prometheus label values from arbitrary bytes, and the
 * growable string the HTTP pages are built in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/jsonbuf.h"
#include "common/strbuf.h"
#include "common/textenc.h"
#include "conmand/http/scrape.h"

static char *prom(const char *s, size_t n, char *out)
{
    char *end = textenc_prom_label(out, (const unsigned char *)s, n);
    *end = '\0';
    return out;
}

static void test_prom_label_escapes_backslash_quote_and_newline(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(prom("a\\b\"c\nd", 7, out), "a\\\\b\\\"c\\nd");
    assert_string_equal(prom("{x=1,y}", 7, out), "{x=1,y}"); /* harmless inside quotes */
}

static void test_prom_label_keeps_utf8_and_writes_invalid_bytes_as_text(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(prom("caf\xc3\xa9", 5, out), "caf\xc3\xa9");
    /* 0xff and a cut sequence: \\xNN, read back as the text \xNN */
    assert_string_equal(prom("a\xff"
                             "b\xc3",
                             4, out),
                        "a\\\\xffb\\\\xc3");
    assert_string_equal(prom("a\0b", 3, out), "a\\\\x00b");
}

static void test_prom_label_worst_case_fits_its_bound(void **state)
{
    (void)state;
    unsigned char in[256];
    char out[TEXTENC_PROM_MAX(sizeof(in))];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(0x80 + i % 64); /* continuation bytes: all invalid */
    char *end = textenc_prom_label(out, in, sizeof(in));
    assert_int_equal(end - out, (long)TEXTENC_PROM_MAX(sizeof(in)));
}

static void test_json_escapes_controls_and_invalid_utf8(void **state)
{
    (void)state;
    char out[64];
    char *end = textenc_json(out, (const unsigned char *)"a\"\\\n\x01\xff\xc3\xa9", 8);
    *end = '\0';
    assert_string_equal(out, "\"a\\\"\\\\\\n\\u0001\\u00ff\xc3\xa9\"");
}

static void test_console_sample_escapes_the_name(void **state)
{
    (void)state;
    struct strbuf sb = {0};
    scrape_console_sample(&sb, "conman_console_up", "we\"ird}\\", 1);
    assert_string_equal(sb.p, "conman_console_up{console=\"we\\\"ird}\\\\\"} 1\n");
    strbuf_release(&sb);
}

static void test_json_time_is_utc_or_null(void **state)
{
    (void)state;
    struct strbuf sb = {0};
    json_add_time(&sb, 0);
    strbuf_adds(&sb, " ");
    json_add_time(&sb, 1796243429);
    assert_string_equal(sb.p, "null \"2026-12-02T20:30:29Z\"");
    strbuf_release(&sb);
}

static void test_json_string_escapes_any_bytes_or_is_null(void **state)
{
    (void)state;
    struct strbuf sb = {0};
    json_add_string(&sb, NULL);
    strbuf_adds(&sb, " ");
    json_add_string(&sb, "a\"\x01\xff");
    assert_string_equal(sb.p, "null \"a\\\"\\u0001\\u00ff\"");
    strbuf_release(&sb);
}

static void test_strbuf_grows_past_its_first_block_and_formats_long_text(void **state)
{
    (void)state;
    struct strbuf sb = {0};
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 100; i++)
        strbuf_addf(&sb, "%s%d", big, i);
    assert_false(sb.failed);
    assert_int_equal(sb.len, 100 * 999 + 10 + 90 * 2);
    assert_int_equal(sb.p[sb.len], '\0');
    size_t len;
    char *p = strbuf_detach(&sb, &len);
    assert_int_equal(len, 100 * 999 + 190);
    assert_null(sb.p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom_label_escapes_backslash_quote_and_newline),
        cmocka_unit_test(test_prom_label_keeps_utf8_and_writes_invalid_bytes_as_text),
        cmocka_unit_test(test_prom_label_worst_case_fits_its_bound),
        cmocka_unit_test(test_json_escapes_controls_and_invalid_utf8),
        cmocka_unit_test(test_console_sample_escapes_the_name),
        cmocka_unit_test(test_json_time_is_utc_or_null),
        cmocka_unit_test(test_json_string_escapes_any_bytes_or_is_null),
        cmocka_unit_test(test_strbuf_grows_past_its_first_block_and_formats_long_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
