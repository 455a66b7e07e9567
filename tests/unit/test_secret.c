/* Secrets: first-line reading, limits, and hex encoding. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_line_strips_crlf),
        cmocka_unit_test(test_empty_file_is_an_error_naming_the_file),
        cmocka_unit_test(test_missing_file_is_an_error_naming_the_file),
        cmocka_unit_test(test_too_long_is_rejected_without_echoing_it),
        cmocka_unit_test(test_hex_encodes_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
