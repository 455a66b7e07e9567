/* The conman protocol: greetings and requests parsed, console patterns
 * matched by glob, name or regex, responses formatted as conman sends them,
 * and session escapes decoded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/clients/proto.h"

static void test_hello_takes_user_and_tty(void **state)
{
    (void)state;
    struct proto_req r = {0};
    char msg[128];
    assert_int_equal(proto_parse_hello("HELLO USER='root' TTY='pts/0'", &r, msg, sizeof(msg)), 0);
    assert_string_equal(r.user, "root");
    assert_string_equal(r.tty, "pts/0");
    assert_int_equal(proto_parse_hello("hello user='x'", &r, msg, sizeof(msg)), 0);
    assert_string_equal(r.user, "x");
    assert_string_equal(r.tty, "");
    /* A user one past the field is cut to it, never written past it. */
    char line[600];
    snprintf(line, sizeof(line), "HELLO USER='%0*d'", PROTO_NAME_MAX, 7);
    assert_int_equal(proto_parse_hello(line, &r, msg, sizeof(msg)), 0);
    assert_int_equal(strlen(r.user), PROTO_NAME_MAX - 1);
}

static void test_greeting_without_user_is_a_bad_request(void **state)
{
    (void)state;
    struct proto_req r = {0};
    char msg[128];
    const char *bad[] = {"QUERY", "HELLO", "HELLO USER=''", "USER='x'", "\xff\xfe", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(proto_parse_hello(bad[i], &r, msg, sizeof(msg)), PROTO_ERR_BAD_REQUEST);
        assert_string_equal(msg, "Invalid greeting: no user specified");
    }
}

static void test_requests_set_command_options_and_patterns(void **state)
{
    (void)state;
    struct proto_req r = {0};
    assert_int_equal(
        proto_parse_request(
            "CONNECT OPTION=JOIN OPTION=BROADCAST CONSOLE='alpha' CONSOLE='b eta' CONSOLE=''", &r),
        0);
    assert_int_equal(r.cmd, PROTO_CMD_CONNECT);
    assert_true(r.join && r.broadcast && !r.force && !r.regex);
    assert_int_equal(r.npatterns, 2);
    assert_string_equal(r.patterns[0], "alpha");
    assert_string_equal(r.patterns[1], "b eta");
    proto_req_release(&r);
    memset(&r, 0, sizeof(r));
    assert_int_equal(proto_parse_request("query option=regex console='al.*'", &r), 0);
    assert_int_equal(r.cmd, PROTO_CMD_QUERY);
    assert_true(r.regex);
    proto_req_release(&r);
    memset(&r, 0, sizeof(r));
    assert_int_equal(proto_parse_request("GARBAGE CONSOLE='x'", &r), 0);
    assert_int_equal(r.cmd, PROTO_CMD_NONE);
    assert_int_equal(r.npatterns, 0);
    proto_req_release(&r);
}

static void set_patterns(struct proto_req *r, const char *const *pats, size_t n)
{
    proto_req_release(r);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(proto_req_add_pattern(r, pats[i], strlen(pats[i])), 0);
}

static void test_matching_by_glob_and_regex(void **state)
{
    (void)state;
    const char *names[] = {"alpha", "alphabet", "beta"};
    bool m[3];
    char msg[256];
    struct proto_req r = {.cmd = PROTO_CMD_QUERY};
    assert_int_equal(proto_match(&r, names, 3, m, msg, sizeof(msg)), 3);
    set_patterns(&r, (const char *[]){"al*"}, 1);
    assert_int_equal(proto_match(&r, names, 3, m, msg, sizeof(msg)), 2);
    assert_true(m[0] && m[1] && !m[2]);
    set_patterns(&r, (const char *[]){"beta", "alpha"}, 2); /* no wildcard: by name */
    assert_int_equal(proto_match(&r, names, 3, m, msg, sizeof(msg)), 2);
    assert_true(m[0] && !m[1] && m[2]);
    r.regex = true;
    set_patterns(&r, (const char *[]){"ALPHA"}, 1);
    assert_int_equal(proto_match(&r, names, 3, m, msg, sizeof(msg)), 1);
    assert_true(m[0] && !m[1]);
    set_patterns(&r, (const char *[]){"a", "alph|beta"}, 2); /* joined: a|alph|beta */
    assert_int_equal(proto_match(&r, names, 3, m, msg, sizeof(msg)), 1);
    assert_true(!m[0] && !m[1] && m[2]);
    set_patterns(&r, (const char *[]){"alpha|alphabet"}, 1); /* the whole name, any branch */
    assert_int_equal(proto_match(&r, names, 3, m, msg, sizeof(msg)), 2);
    set_patterns(&r, (const char *[]){"["}, 1);
    assert_int_equal(proto_match(&r, names, 3, m, msg, sizeof(msg)), -PROTO_ERR_BAD_REGEX);
    assert_string_equal(msg, "Invalid regular expression");
    proto_req_release(&r);
    struct proto_req mon = {.cmd = PROTO_CMD_MONITOR};
    assert_int_equal(proto_match(&mon, names, 3, m, msg, sizeof(msg)), 0);
    mon.regex = true; /* no pattern matches nothing but for QUERY, as in conman */
    assert_int_equal(proto_match(&mon, names, 3, m, msg, sizeof(msg)), 0);
    struct proto_req q = {.cmd = PROTO_CMD_QUERY, .regex = true};
    assert_int_equal(proto_match(&q, names, 3, m, msg, sizeof(msg)), 3);
}

static char *repeat(const char *head, char c, size_t n)
{
    size_t h = strlen(head);
    char *s = malloc(h + n + 1);
    assert_non_null(s);
    memcpy(s, head, h);
    memset(s + h, c, n);
    s[h + n] = '\0';
    return s;
}

static void test_every_pattern_of_a_long_line_is_kept(void **state)
{
    (void)state;
    /* 10,000 patterns (conman's old cap was 256) and one of 100 KiB. */
    size_t n = 10000, o = 0;
    char *line = malloc(PROTO_MAX_LINE);
    assert_non_null(line);
    /* Unquoted values, as a line of 128 KiB holds 10,000 of them. */
    o += (size_t)snprintf(line, PROTO_MAX_LINE, "CONNECT OPTION=BROADCAST");
    for (size_t i = 0; i < n && o < PROTO_MAX_LINE; i++)
        o += (size_t)snprintf(line + o, PROTO_MAX_LINE - o, " CONSOLE=%04zu", i);
    assert_true(o < PROTO_MAX_LINE);
    struct proto_req r = {0};
    assert_int_equal(proto_parse_request(line, &r), 0);
    assert_int_equal(r.npatterns, n);
    assert_string_equal(r.patterns[0], "0000");
    assert_string_equal(r.patterns[n - 1], "9999");
    proto_req_release(&r);
    free(line);
    char *big = repeat("QUERY CONSOLE=", 'x', 100 * 1024);
    assert_int_equal(proto_parse_request(big, &r), 0);
    assert_int_equal(r.npatterns, 1);
    assert_int_equal(strlen(r.patterns[0]), 100 * 1024);
    proto_req_release(&r);
    free(big);
}

static void test_regex_over_the_length_limit_is_refused_and_at_it_compiles(void **state)
{
    (void)state;
    const char *names[] = {"alpha"};
    bool m[1];
    char msg[256];
    struct proto_req r = {.cmd = PROTO_CMD_QUERY, .regex = true};
    char *at = repeat("", 'a', PROTO_REGEX_MAX_LEN);
    set_patterns(&r, (const char *[]){at}, 1);
    assert_int_equal(proto_match(&r, names, 1, m, msg, sizeof(msg)), 0);
    char *over = repeat("", 'a', PROTO_REGEX_MAX_LEN + 1);
    set_patterns(&r, (const char *[]){over}, 1);
    assert_int_equal(proto_match(&r, names, 1, m, msg, sizeof(msg)), -PROTO_ERR_BAD_REGEX);
    assert_non_null(strstr(msg, "Regular expression too long"));
    /* Two halves joined by '|' are one byte over as well. */
    char *half = repeat("", 'a', PROTO_REGEX_MAX_LEN / 2);
    set_patterns(&r, (const char *[]){half, half}, 2);
    assert_int_equal(proto_match(&r, names, 1, m, msg, sizeof(msg)), -PROTO_ERR_BAD_REGEX);
    proto_req_release(&r);
    free(at);
    free(over);
    free(half);
}

static void test_pathological_regexes_compile_fast_or_are_refused(void **state)
{
    (void)state;
    char *longname = repeat("", 'a', 300);
    const char *names[] = {"node1", longname};
    bool m[2];
    char msg[256];
    struct proto_req r = {.cmd = PROTO_CMD_QUERY, .regex = true};
    /* glibc's regcomp takes 18 s on the first; nested counted repeats
     * are too large to compile. */
    set_patterns(&r, (const char *[]){"a{0,32767}"}, 1);
    assert_int_equal(proto_match(&r, names, 2, m, msg, sizeof(msg)), 1);
    assert_true(m[1]);
    set_patterns(&r, (const char *[]){"((a{0,1000}){0,1000}){0,1000}"}, 1);
    assert_int_equal(proto_match(&r, names, 2, m, msg, sizeof(msg)), -PROTO_ERR_BAD_REGEX);
    assert_string_equal(msg, "Regular expression too large to compile");
    /* Exponential backtracking hits the match limit on the long name. */
    set_patterns(&r, (const char *[]){"(a|aa)*(b|c)"}, 1);
    assert_int_equal(proto_match(&r, names, 2, m, msg, sizeof(msg)), -PROTO_ERR_BAD_REGEX);
    assert_non_null(strstr(msg, "Regular expression too complex"));
    assert_non_null(strstr(msg, "aaaa"));
    set_patterns(&r, (const char *[]){"(a*)*b"}, 1);
    assert_int_equal(proto_match(&r, names, 2, m, msg, sizeof(msg)), 0);
    /* A pattern cannot switch itself to UTF mode or raise the limits. */
    set_patterns(&r, (const char *[]){"(*UTF)node1"}, 1);
    assert_int_equal(proto_match(&r, names, 2, m, msg, sizeof(msg)), -PROTO_ERR_BAD_REGEX);
    set_patterns(&r, (const char *[]){"(*LIMIT_MATCH=100000000)(a|aa)*(b|c)"}, 1);
    assert_int_equal(proto_match(&r, names, 2, m, msg, sizeof(msg)), -PROTO_ERR_BAD_REGEX);
    assert_non_null(strstr(msg, "too complex"));
    proto_req_release(&r);
    free(longname);
}

static void test_many_literal_names_match_by_lookup(void **state)
{
    (void)state;
    size_t n = 2000;
    char **names = calloc(n, sizeof(*names));
    bool *m = calloc(n, sizeof(*m));
    char msg[256];
    struct proto_req r = {.cmd = PROTO_CMD_CONNECT};
    for (size_t i = 0; i < n; i++) {
        names[i] = malloc(16);
        snprintf(names[i], 16, "c%zu", i);
        if (i % 2)
            assert_int_equal(proto_req_add_pattern(&r, names[i], strlen(names[i])), 0);
    }
    assert_int_equal(proto_req_add_pattern(&r, "c1?", 3), 0); /* c10 .. c19 */
    assert_int_equal(proto_match(&r, (const char *const *)names, n, m, msg, sizeof(msg)),
                     (int)(n / 2 + 5));
    assert_true(m[1] && !m[2] && m[10] && m[1999]);
    proto_req_release(&r);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(m);
}

static void test_responses_are_formatted_as_conman_sends_them(void **state)
{
    (void)state;
    char out[256];
    const char *names[] = {"alpha", "beta"};
    proto_format_ok(out, sizeof(out), names, 2, false);
    assert_string_equal(out, "OK CONSOLE='alpha' CONSOLE='beta'\n");
    proto_format_ok(out, sizeof(out), names, 0, false);
    assert_string_equal(out, "OK\n");
    proto_format_ok(out, sizeof(out), names, 1, true);
    assert_string_equal(out, "OK OPTION=RESET CONSOLE='alpha'\n");
    proto_format_error(out, sizeof(out), PROTO_ERR_NO_CONSOLES, "Found no matching consoles");
    assert_string_equal(out, "ERROR CODE=5 MESSAGE='Found no matching consoles'\n");
}

static void test_replies_are_read_back(void **state)
{
    (void)state;
    char msg[64], line[256];
    assert_int_equal(proto_parse_reply("OK", msg, sizeof(msg)), 0);
    assert_int_equal(proto_parse_reply("OK CONSOLE='alpha'\r", msg, sizeof(msg)), 0);
    proto_format_error(line, sizeof(line), PROTO_ERR_BUSY_CONSOLES, "Console [a] in use");
    line[strlen(line) - 1] = '\0'; /* the '\n' */
    assert_int_equal(proto_parse_reply(line, msg, sizeof(msg)), PROTO_ERR_BUSY_CONSOLES);
    assert_string_equal(msg, "Console [a] in use");
    assert_int_equal(proto_parse_reply("ERROR CODE=999 MESSAGE=''", msg, sizeof(msg)), 999);
    assert_string_equal(msg, "");
    /* A message longer than the buffer is cut, never overrun. */
    char small[8];
    assert_int_equal(proto_parse_reply("ERROR CODE=2 MESSAGE='0123456789'", small, sizeof(small)),
                     2);
    assert_string_equal(small, "0123456");
    /* Anything else is no reply: not OK, not an error. */
    const char *bad[] = {"",
                         "OKAY",
                         "ok",
                         "ERROR",
                         "ERROR CODE=",
                         "ERROR CODE=0 MESSAGE='x'",
                         "ERROR CODE=1000 MESSAGE='x'",
                         "ERROR CODE=-1 MESSAGE='x'",
                         "ERROR CODE=5 MESSAGE='unterminated",
                         "ERROR CODE=5 MESSAGE=",
                         "ERROR CODE=5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(proto_parse_reply(bad[i], msg, sizeof(msg)), -1);
}

static void test_ok_never_breaks_the_line_when_names_do_not_fit(void **state)
{
    (void)state;
    char out[40];
    const char *names[] = {"alpha", "beta", "gamma-is-long"};
    size_t n = proto_format_ok(out, sizeof(out), names, 3, false);
    assert_string_equal(out, "OK CONSOLE='alpha' CONSOLE='beta'\n");
    assert_int_equal(n, strlen(out));
    size_t fitted = 99;
    proto_format_ok_fit(out, sizeof(out), names, 3, false, &fitted);
    assert_int_equal(fitted, 2);
    proto_format_ok_fit(out, sizeof(out), names, 1, false, &fitted);
    assert_int_equal(fitted, 1);
    /* proto_ok_size() holds every name: nothing is left out. */
    char *all = malloc(proto_ok_size(names, 3, true));
    assert_non_null(all);
    size_t len = proto_format_ok_fit(all, proto_ok_size(names, 3, true), names, 3, true, &fitted);
    assert_int_equal(fitted, 3);
    assert_string_equal(all,
                        "OK OPTION=RESET CONSOLE='alpha' CONSOLE='beta' CONSOLE='gamma-is-long'\n");
    assert_int_equal(len, strlen(all));
    free(all);
}

static void test_who_names_the_user_host_and_tty(void **state)
{
    (void)state;
    char out[64];
    struct proto_req r = {.user = "root", .tty = "pts/3"};
    proto_who(&r, "localhost", out, sizeof(out));
    assert_string_equal(out, "<root@localhost> on pts/3");
    r.tty[0] = '\0';
    proto_who(&r, "localhost", out, sizeof(out));
    assert_string_equal(out, "<root@localhost>");
}

static void test_session_escapes_split_bytes_and_commands(void **state)
{
    (void)state;
    struct proto_unescape st = {0};
    unsigned char in[] = "ab\xff\xff"
                         "c\xff"
                         "Bd\xff";
    unsigned char out[sizeof(in)];
    size_t n;
    int cmd;
    /* Bytes before a command, with a doubled 0xFF collapsed, then the command. */
    size_t used = proto_unescape(&st, in, sizeof(in) - 1, out, &n, &cmd);
    assert_int_equal(used, 7);
    assert_int_equal(cmd, 'B');
    assert_int_equal(n, 4);
    assert_memory_equal(out,
                        "ab\xff"
                        "c",
                        4);
    /* The rest: one byte, and an escape left pending across the read. */
    used = proto_unescape(&st, in + 7, sizeof(in) - 1 - 7, out, &n, &cmd);
    assert_int_equal(used, 2);
    assert_int_equal(cmd, -1);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 'd');
    assert_true(st.got_esc);
    /* The next read completes it: a literal 0xFF, then a plain letter. */
    unsigned char next[] = "\xffL";
    used = proto_unescape(&st, next, 2, next, &n, &cmd);
    assert_int_equal(used, 2);
    assert_int_equal(n, 2);
    assert_memory_equal(next, "\xffL", 2);
    assert_int_equal(cmd, -1);
    assert_false(st.got_esc);
}

static void test_relay_carries_user_tty_options_and_names_to_the_owner(void **state)
{
    (void)state;
    struct proto_req r = {0};
    char msg[128], *out;
    size_t len;
    assert_int_equal(proto_parse_hello("HELLO USER='root' TTY='pts/1'", &r, msg, sizeof(msg)), 0);
    assert_int_equal(proto_parse_request("CONNECT OPTION=JOIN OPTION=BROADCAST CONSOLE='x*'", &r),
                     0);
    const char *names[] = {"x1", "x'2"};
    assert_int_equal(proto_format_relay(&r, "10.0.0.9", names, 2, &out, &len), 0);
    assert_string_equal(out, "HELLO USER='root' TTY='pts/1' VIA='10.0.0.9'\n"
                             "CONNECT OPTION=JOIN OPTION=BROADCAST CONSOLE='x1' CONSOLE=\"x'2\"\n");
    assert_int_equal(len, strlen(out));
    /* What the owner parses is what the client asked, for those names. */
    struct proto_req back = {0};
    const char *nl = strchr(out, '\n');
    char hello[256];
    memcpy(hello, out, (size_t)(nl - out));
    hello[nl - out] = '\0';
    assert_int_equal(proto_parse_hello(hello, &back, msg, sizeof(msg)), 0);
    assert_string_equal(back.user, "root");
    assert_string_equal(back.tty, "pts/1");
    assert_string_equal(back.via, "10.0.0.9");
    assert_int_equal(proto_parse_request(nl + 1, &back), 0);
    assert_int_equal(back.cmd, PROTO_CMD_CONNECT);
    assert_true(back.join && back.broadcast && !back.force && !back.quiet);
    assert_int_equal(back.npatterns, 2);
    assert_string_equal(back.patterns[1], "x'2");
    free(out);
    proto_req_release(&back);
    /* A name that no quote can hold is refused, not cut. */
    const char *unquotable[] = {"a'b\"c"};
    assert_int_equal(proto_format_relay(&r, "h", unquotable, 1, &out, &len), -EINVAL);
    const char *linebreak[] = {"a\nQUERY"};
    assert_int_equal(proto_format_relay(&r, "h", linebreak, 1, &out, &len), -EINVAL);
    /* A direct client has no VIA; monitor without options and no TTY. */
    struct proto_req m = {0};
    assert_int_equal(proto_parse_hello("HELLO USER='u'", &m, msg, sizeof(msg)), 0);
    assert_string_equal(m.via, "");
    assert_int_equal(proto_parse_request("MONITOR CONSOLE='n'", &m), 0);
    const char *one[] = {"n"};
    assert_int_equal(proto_format_relay(&m, "h", one, 1, &out, &len), 0);
    assert_string_equal(out, "HELLO USER='u' VIA='h'\nMONITOR CONSOLE='n'\n");
    free(out);
    proto_req_release(&m);
    proto_req_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_takes_user_and_tty),
        cmocka_unit_test(test_greeting_without_user_is_a_bad_request),
        cmocka_unit_test(test_requests_set_command_options_and_patterns),
        cmocka_unit_test(test_matching_by_glob_and_regex),
        cmocka_unit_test(test_every_pattern_of_a_long_line_is_kept),
        cmocka_unit_test(test_regex_over_the_length_limit_is_refused_and_at_it_compiles),
        cmocka_unit_test(test_pathological_regexes_compile_fast_or_are_refused),
        cmocka_unit_test(test_many_literal_names_match_by_lookup),
        cmocka_unit_test(test_responses_are_formatted_as_conman_sends_them),
        cmocka_unit_test(test_replies_are_read_back),
        cmocka_unit_test(test_ok_never_breaks_the_line_when_names_do_not_fit),
        cmocka_unit_test(test_who_names_the_user_host_and_tty),
        cmocka_unit_test(test_session_escapes_split_bytes_and_commands),
        cmocka_unit_test(test_relay_carries_user_tty_options_and_names_to_the_owner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
