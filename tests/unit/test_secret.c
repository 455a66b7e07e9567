/* Secrets: first-line reading, limits, hex encoding and decoding, option
 * strings walked in a wiped copy, wiping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/secret.h"

#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *write_temp(const char *content)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/test_secret.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

static void test_first_line_strips_crlf(void **state)
{
    (void)state;
    char *path = write_temp("s3cret\r\nsecond line\n");
    struct secret s = SECRET_INIT;
    char err[256] = "";
    assert_int_equal(secret_read_first_line(path, 20, &s, err, sizeof(err)), 0);
    assert_string_equal(s.bytes, "s3cret");
    assert_int_equal(s.len, 6);
    secret_release(&s);
    assert_null(s.bytes);
    unlink(path);
}

static void test_empty_file_is_an_error_naming_the_file(void **state)
{
    (void)state;
    char *path = write_temp("\n");
    struct secret s = SECRET_INIT;
    char err[256] = "";
    assert_true(secret_read_first_line(path, 20, &s, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "empty"));
    unlink(path);
}

static void test_missing_file_is_an_error_naming_the_file(void **state)
{
    (void)state;
    struct secret s = SECRET_INIT;
    char err[256] = "";
    assert_true(secret_read_first_line("/nonexistent/pw", 20, &s, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "/nonexistent/pw"));
}

static void test_too_long_is_rejected_without_echoing_it(void **state)
{
    (void)state;
    char *path = write_temp("abcdefghijklmnopqrstuvwxyz\n");
    struct secret s = SECRET_INIT;
    char err[256] = "";
    assert_true(secret_read_first_line(path, 20, &s, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, path));
    assert_null(strstr(err, "abcdef"));
    unlink(path);
}

static void test_hex_encodes_every_byte(void **state)
{
    (void)state;
    struct secret s = SECRET_INIT;
    assert_int_equal(secret_set(&s, "a,\"'", 4), 0);
    char hex[16];
    assert_int_equal(secret_hex(&s, hex, sizeof(hex)), 0);
    assert_string_equal(hex, "612c2227");
    assert_int_equal(secret_hex(&s, hex, 8), -ENOSPC);
    secret_release(&s);
}

static void test_hex_decode_reverses_hex_for_every_byte(void **state)
{
    (void)state;
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    struct secret s = SECRET_INIT;
    assert_int_equal(secret_set(&s, all, sizeof(all)), 0);
    char hex[2 * sizeof(all) + 1];
    assert_int_equal(secret_hex(&s, hex, sizeof(hex)), 0);
    unsigned char back[sizeof(all)];
    size_t n = 0;
    assert_int_equal(secret_hex_decode(hex, back, sizeof(back), &n), 0);
    assert_int_equal(n, sizeof(all));
    assert_memory_equal(back, all, sizeof(all));
    secret_release(&s);
}

static void test_hex_decode_takes_either_case(void **state)
{
    (void)state;
    unsigned char out[4];
    size_t n = 0;
    assert_int_equal(secret_hex_decode("aBcD0f", out, sizeof(out), &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\xab\xcd\x0f", 3);
}

static void test_hex_decode_odd_last_digit_is_a_high_nibble(void **state)
{
    (void)state;
    unsigned char out[4] = {0xff, 0xff, 0xff, 0xff};
    size_t n = 0;
    assert_int_equal(secret_hex_decode("abc", out, sizeof(out), &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "\xab\xc0", 2);
    assert_int_equal(out[2], 0xff);
}

static void test_hex_decode_of_nothing_is_no_bytes(void **state)
{
    (void)state;
    unsigned char out[1] = {0x55};
    size_t n = 99;
    assert_int_equal(secret_hex_decode("", out, sizeof(out), &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(out[0], 0x55);
}

static void test_hex_decode_rejects_non_hex_and_leaves_out_alone(void **state)
{
    (void)state;
    unsigned char out[8] = {0x55, 0x55};
    size_t n = 99;
    assert_int_equal(secret_hex_decode("12zz", out, sizeof(out), &n), -EINVAL);
    /* The caller strips conman's "0x" first: the decoder takes digits only. */
    assert_int_equal(secret_hex_decode("0x12", out, sizeof(out), &n), -EINVAL);
    assert_int_equal(secret_hex_decode("12 ", out, sizeof(out), &n), -EINVAL);
    assert_int_equal(n, 99);
    assert_int_equal(out[0], 0x55);
    assert_int_equal(out[1], 0x55);
}

static void test_hex_decode_beyond_the_buffer_is_e2big(void **state)
{
    (void)state;
    unsigned char out[3] = {0x55, 0x55, 0x55};
    size_t n = 99;
    assert_int_equal(secret_hex_decode("0102030", out, 3, &n), -E2BIG);
    assert_int_equal(secret_hex_decode("01020304", out, 3, &n), -E2BIG);
    assert_int_equal(n, 99);
    assert_int_equal(out[0], 0x55);
    assert_int_equal(secret_hex_decode("010203", out, 3, &n), 0);
    assert_int_equal(n, 3);
}

/* Collects the pieces secret_each_piece hands out; fails on "stop". */
struct pieces {
    char seen[8][16];
    int n;
};

static int collect_piece(char *piece, void *ctx)
{
    struct pieces *p = ctx;
    if (!strcmp(piece, "stop"))
        return -EINVAL;
    assert_true(p->n < 8);
    snprintf(p->seen[p->n++], sizeof(p->seen[0]), "%s", piece);
    piece[0] = 'X'; /* the copy is the callback's to change */
    return 0;
}

static void test_each_piece_skips_empty_pieces_in_order(void **state)
{
    (void)state;
    struct pieces p = {.n = 0};
    const char *opts = ",U:admin,,P:0x7365,";
    assert_int_equal(secret_each_piece(opts, ",", collect_piece, &p), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.seen[0], "U:admin");
    assert_string_equal(p.seen[1], "P:0x7365");
    assert_string_equal(opts, ",U:admin,,P:0x7365,");
}

static void test_each_piece_stops_at_the_first_failure(void **state)
{
    (void)state;
    struct pieces p = {.n = 0};
    assert_int_equal(secret_each_piece("a\nstop\nb", "\n", collect_piece, &p), -EINVAL);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.seen[0], "a");
    p.n = 0;
    assert_int_equal(secret_each_piece("", ",", collect_piece, &p), 0);
    assert_int_equal(p.n, 0);
}

static void test_wipe_zeroes_every_byte(void **state)
{
    (void)state;
    char buf[32];
    memset(buf, 'x', sizeof(buf));
    secret_wipe(buf, sizeof(buf) - 1);
    for (size_t i = 0; i + 1 < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);
    assert_int_equal(buf[sizeof(buf) - 1], 'x');
}

static void test_equal_needs_every_byte_and_the_length(void **state)
{
    (void)state;
    struct secret t = SECRET_INIT;
    assert_int_equal(secret_set(&t, "tok;en", 6), 0);
    assert_true(secret_equal(&t, "tok;en", 6));
    assert_false(secret_equal(&t, "tok;e", 5));   /* a prefix */
    assert_false(secret_equal(&t, "tok;enX", 7)); /* longer */
    assert_false(secret_equal(&t,
                              "tok;en"
                              "tok;en",
                              12)); /* the secret twice */
    assert_false(secret_equal(&t, "Tok;en", 6));
    assert_false(secret_equal(&t, NULL, 0));
    secret_release(&t);
    assert_false(secret_equal(&t, "", 0)); /* no secret: nothing matches */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_line_strips_crlf),
        cmocka_unit_test(test_empty_file_is_an_error_naming_the_file),
        cmocka_unit_test(test_missing_file_is_an_error_naming_the_file),
        cmocka_unit_test(test_too_long_is_rejected_without_echoing_it),
        cmocka_unit_test(test_hex_encodes_every_byte),
        cmocka_unit_test(test_hex_decode_reverses_hex_for_every_byte),
        cmocka_unit_test(test_hex_decode_takes_either_case),
        cmocka_unit_test(test_hex_decode_odd_last_digit_is_a_high_nibble),
        cmocka_unit_test(test_hex_decode_of_nothing_is_no_bytes),
        cmocka_unit_test(test_hex_decode_rejects_non_hex_and_leaves_out_alone),
        cmocka_unit_test(test_hex_decode_beyond_the_buffer_is_e2big),
        cmocka_unit_test(test_each_piece_skips_empty_pieces_in_order),
        cmocka_unit_test(test_each_piece_stops_at_the_first_failure),
        cmocka_unit_test(test_wipe_zeroes_every_byte),
        cmocka_unit_test(test_equal_needs_every_byte_and_the_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
