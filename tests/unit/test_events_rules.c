/* The rules file parser of console events (events/rules.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/events/rules.h"

static char msg[512];

static struct rules *parse_ok(const char *text)
{
    struct rules *r = NULL;
    msg[0] = '\0';
    int rc = rules_parse("t.rules", text, strlen(text), &r, msg, sizeof(msg));
    if (rc != 0)
        fail_msg("unexpected error: %s", msg);
    assert_non_null(r);
    return r;
}

/* Parses text that must fail; the set pointer stays as it was. */
static void parse_bad(const char *text, size_t len, const char *want)
{
    struct rules *sentinel = (struct rules *)&msg, *r = sentinel;
    msg[0] = '\0';
    int rc = rules_parse("t.rules", text, len, &r, msg, sizeof(msg));
    assert_int_equal(rc, -EINVAL);
    assert_ptr_equal(r, sentinel);
    if (!strstr(msg, want))
        fail_msg("message [%s] lacks [%s]", msg, want);
}

static bool matches(struct rules *r, size_t i, const char *line)
{
    return rules_match(r, i, (const unsigned char *)line, strlen(line)) == RULES_MATCH;
}

/* etc/conman-events.rules into text (up to cap bytes); its length. */
static size_t read_shipped(char *text, size_t cap)
{
    FILE *f = fopen("../../etc/conman-events.rules", "rb");
    assert_non_null(f);
    size_t n = fread(text, 1, cap, f);
    fclose(f);
    return n;
}

static void test_good_file_with_comments_blank_lines_and_crlf(void **state)
{
    (void)state;
    struct rules *r = parse_ok("# a comment\n"
                               "\n"
                               "   \t\n"
                               "  # indented comment\n"
                               "panic critical /^Kernel panic/\r\n"
                               "Mixed.Name-1_x\twarning\t/path \\/dev\\/sda/i  \n"
                               "last info /x$/");
    assert_int_equal(rules_count(r), 3);
    assert_string_equal(rules_name(r, 0), "panic");
    assert_int_equal(rules_severity(r, 0), RULES_CRITICAL);
    assert_string_equal(rules_name(r, 1), "Mixed.Name-1_x");
    assert_int_equal(rules_severity(r, 1), RULES_WARNING);
    assert_int_equal(rules_severity(r, 2), RULES_INFO);
    assert_true(matches(r, 0, "Kernel panic - not syncing"));
    assert_false(matches(r, 0, "a Kernel panic"));
    /* \/ is a slash; the i flag makes the rule caseless. */
    assert_true(matches(r, 1, "PATH /DEV/SDA"));
    assert_false(matches(r, 1, "path \\dev\\sda"));
    assert_true(matches(r, 2, "x"));
    rules_free(r);
}

static void test_each_severity_is_known(void **state)
{
    (void)state;
    struct rules *r = parse_ok("a critical /a/\nb error /b/\nc warning /c/\nd info /d/\n");
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(rules_severity(r, i), (enum rules_severity)i);
    assert_string_equal(rules_severity_name(RULES_CRITICAL), "critical");
    assert_string_equal(rules_severity_name(RULES_ERROR), "error");
    assert_string_equal(rules_severity_name(RULES_WARNING), "warning");
    assert_string_equal(rules_severity_name(RULES_INFO), "info");
    rules_free(r);
}

static void test_empty_file_is_an_empty_set(void **state)
{
    (void)state;
    struct rules *r = parse_ok("# nothing\n");
    assert_int_equal(rules_count(r), 0);
    rules_free(r);
}

static void test_bad_regex_names_file_line_and_pcre2_message(void **state)
{
    (void)state;
    const char *t = "# ok\nfine info /ok/\nbroken error /(unclosed/\n";
    parse_bad(t, strlen(t), "t.rules:3: rule broken: bad regex at offset 9: ");
    assert_non_null(strstr(msg, "missing closing parenthesis"));
    t = "x info /a{2,1}/\n";
    parse_bad(t, strlen(t), "t.rules:1: rule x: bad regex");
    assert_non_null(strstr(msg, "out of order"));
}

static void test_each_malformed_line_is_refused_with_its_line(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"bad/name info /x/\n", "t.rules:1: bad rule name 'bad/name'"},
        {"\n\nname\n", "t.rules:3: rule name: no severity"},
        {"name fatal /x/\n", "t.rules:1: rule name: unknown severity 'fatal'"},
        {"name Critical /x/\n", "unknown severity 'Critical'"},
        {"name info x\n", "t.rules:1: expected /REGEX/ after the severity"},
        {"name info\t/unterminated\n", "t.rules:1: regex has no closing '/'"},
        {"name info /escaped at end\\/\n", "regex has no closing '/'"},
        {"name info //\n", "t.rules:1: empty regex"},
        {"name info /x/g\n", "t.rules:1: unknown regex flag 'g'"},
        {"name info /x/ii\n", "unknown regex flag 'i'"},
        {"name info /x/i trailing\n", "t.rules:1: unexpected text after the regex"},
        {"a info /x/\nb info /y/\na error /z/\n", "t.rules:3: rule a defined twice"},
        {"  \n# c\n/x/ info /y/\n", "t.rules:3: bad rule name '/x/'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        parse_bad(cases[i].text, strlen(cases[i].text), cases[i].want);
}

static void test_nul_byte_is_refused(void **state)
{
    (void)state;
    static const char t[] = "a info /x/\nb info /y\0z/\n";
    parse_bad(t, sizeof(t) - 1, "t.rules:2: NUL byte in the line");
}

static void test_name_of_64_is_allowed_and_65_refused(void **state)
{
    (void)state;
    char t[200];
    char name[RULES_NAME_MAX + 2];
    memset(name, 'n', RULES_NAME_MAX);
    name[RULES_NAME_MAX] = '\0';
    snprintf(t, sizeof(t), "%s info /x/\n", name);
    struct rules *r = parse_ok(t);
    assert_string_equal(rules_name(r, 0), name);
    rules_free(r);
    strcat(name, "n");
    snprintf(t, sizeof(t), "%s info /x/\n", name);
    parse_bad(t, strlen(t), "t.rules:1: bad rule name");
}

/* n rules named r0..r(n-1), one a line. */
static char *many_rules(size_t n)
{
    char *t = malloc(n * 32 + 1), *o = t;
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, "r%zu warning /^x%zu$/\n", i, i);
    return t;
}

static void test_256_rules_are_allowed_and_257_refused(void **state)
{
    (void)state;
    char *t = many_rules(RULES_MAX);
    struct rules *r = parse_ok(t);
    assert_int_equal(rules_count(r), RULES_MAX);
    assert_true(matches(r, 255, "x255"));
    rules_free(r);
    free(t);
    t = many_rules(RULES_MAX + 1);
    parse_bad(t, strlen(t), "t.rules:257: more than 256 rules");
    free(t);
}

static char *rule_with_regex_of(size_t n)
{
    char *t = malloc(n + 32);
    assert_non_null(t);
    strcpy(t, "long info /");
    memset(t + 11, 'a', n);
    strcpy(t + 11 + n, "/\n");
    return t;
}

static void test_longest_regex_is_allowed_and_one_more_refused(void **state)
{
    (void)state;
    char *t = rule_with_regex_of(RULES_REGEX_MAX_LEN);
    struct rules *r = parse_ok(t);
    assert_int_equal(rules_count(r), 1);
    rules_free(r);
    free(t);
    t = rule_with_regex_of(RULES_REGEX_MAX_LEN + 1);
    parse_bad(t, strlen(t), "t.rules:1: regex of 1025 bytes, longer than 1024");
    free(t);
}

static void test_utf_mode_cannot_be_switched_on(void **state)
{
    (void)state;
    /* Console bytes are not always UTF-8; (*UTF) would fail those lines. */
    const char *t = "u info /(*UTF)x/\n";
    parse_bad(t, strlen(t), "t.rules:1: rule u: bad regex");
}

static void test_the_shipped_rules_file_parses(void **state)
{
    (void)state;
    static char text[64 * 1024];
    size_t n = read_shipped(text, sizeof(text) - 4096);
    struct rules *r = NULL;
    int rc = rules_parse("conman-events.rules", text, n, &r, msg, sizeof(msg));
    if (rc != 0)
        fail_msg("%s", msg);
    assert_true(rules_count(r) >= 14);
    rules_free(r);
}

/* Rules the screen must leave out (they mean something else as one of its
 * alternatives), and rules it takes. */
static void test_the_screen_takes_plain_rules_and_leaves_the_rest_out(void **state)
{
    (void)state;
    struct rules *r = parse_ok("plain error /^(?:\\d+ )?Kernel panic/\n"
                               "caseless warning /edac .*error/i\n"
                               "options info /(?i)login: $/\n"
                               "lookaround info /^(?<=)x(?!y)/\n"
                               "backref error /^(ab)\\1$/\n"
                               "named error /^(?<w>q)z/\n"
                               "verb error /(*COMMIT)nomore|zzz/\n"
                               "quoted error /\\Qa|b/\n"
                               "extended error /(?x) c # d/\n"
                               "recursion error /^(a|\\((?1)\\))$/\n");
    bool want[] = {true, true, true, true, false, false, false, false, false, false};
    assert_int_equal(rules_count(r), 10);
    for (size_t i = 0; i < 10; i++)
        if (rules_screened(r, i) != want[i])
            fail_msg("rule %s: screened %d", rules_name(r, i), rules_screened(r, i));
    rules_free(r);
}

/* On every line, the rules that run with the screen give exactly what
 * every rule alone gives: the screen only ever skips rules that cannot
 * match. */
static void test_the_screen_skips_only_rules_that_cannot_match(void **state)
{
    (void)state;
    static char text[64 * 1024];
    size_t n = read_shipped(text, sizeof(text) - 4096);
    const char *extra = "backref error /^(ab)\\1$/\nslow error /(a+)+$/\n";
    memcpy(text + n, extra, strlen(extra));
    n += strlen(extra);
    struct rules *r = NULL;
    assert_int_equal(rules_parse("t", text, n, &r, msg, sizeof(msg)), 0);
    static char aaa[3000];
    memset(aaa, 'a', sizeof(aaa) - 2);
    aaa[sizeof(aaa) - 2] = 'b';
    const char *lines[] = {
        "[  100.000001] Kernel panic - not syncing: Fatal exception",
        "2026-12-03 10:00:00 [   50.1] BUG: unable to handle page fault for address: 10",
        "[    0.000000] Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org)",
        "[  100.000003] Call Trace:",
        "[  100.000005]  dump_stack_lvl+0x44/0x5c",
        "EDAC MC0: 1 CE memory read error on CPU_SrcID#0",
        "node7 login: ",
        "abab",
        "user@node:~$ echo Call Trace: and Kernel panic - not syncing",
        "systemd[1]: Started Journal Service.",
        "",
        aaa,
    };
    for (size_t k = 0; k < sizeof(lines) / sizeof(lines[0]); k++) {
        const unsigned char *line = (const unsigned char *)lines[k];
        size_t len = strlen(lines[k]);
        bool maybe = rules_screen(r, line, len) != RULES_NOMATCH;
        for (size_t i = 0; i < rules_count(r); i++) {
            enum rules_result alone = rules_match(r, i, line, len);
            if (alone != RULES_NOMATCH && !maybe && rules_screened(r, i))
                fail_msg("line %zu: rule %s %s, but the screen skipped it", k, rules_name(r, i),
                         alone == RULES_MATCH ? "matches" : "hits the limit");
        }
        if (k == 0 || k == 8 || k == 9)
            assert_true(maybe == (k == 0)); /* a panic passes, the rest do not */
    }
    rules_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file_with_comments_blank_lines_and_crlf),
        cmocka_unit_test(test_each_severity_is_known),
        cmocka_unit_test(test_empty_file_is_an_empty_set),
        cmocka_unit_test(test_bad_regex_names_file_line_and_pcre2_message),
        cmocka_unit_test(test_each_malformed_line_is_refused_with_its_line),
        cmocka_unit_test(test_nul_byte_is_refused),
        cmocka_unit_test(test_name_of_64_is_allowed_and_65_refused),
        cmocka_unit_test(test_256_rules_are_allowed_and_257_refused),
        cmocka_unit_test(test_longest_regex_is_allowed_and_one_more_refused),
        cmocka_unit_test(test_utf_mode_cannot_be_switched_on),
        cmocka_unit_test(test_the_shipped_rules_file_parses),
        cmocka_unit_test(test_the_screen_takes_plain_rules_and_leaves_the_rest_out),
        cmocka_unit_test(test_the_screen_skips_only_rules_that_cannot_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
