/* Console log files on real descriptors: created 0600 with conman's header,
 * a failing write reported once and dropped, logging resumed afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conmand/logfile.h"

static void test_open_creates_0600_with_header_and_appends(void **state)
{
    (void)state;
    char dir[] = "/tmp/conmand-logfile-XXXXXX", path[128], err[256], buf[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/console.x", dir);
    struct logfile l;
    struct conf_logopts o = {.lock = true};
    assert_int_equal(logfile_init(&l, NULL, "x", path, &o), 0);
    assert_int_equal(logfile_open(&l, false, 0, err, sizeof(err)), 0);
    logfile_write_data(&l, "hello\n", 6, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    long n = logfile_tail(&l, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\r\n<ConMan> Console [x] log opened at "));
    assert_non_null(strstr(buf, ".\r\nhello\n"));
    assert_false(logfile_moved(&l));
    assert_int_equal(rename(path, "/tmp/conmand-logfile-moved"), 0);
    assert_true(logfile_moved(&l));
    unlink("/tmp/conmand-logfile-moved");
    logfile_release(&l);
    rmdir(dir);
}

static void test_open_failure_names_the_file_and_console(void **state)
{
    (void)state;
    struct logfile l;
    struct conf_logopts o = {0};
    char err[256];
    /* A regular file where a directory should be: not even root can. */
    assert_int_equal(logfile_init(&l, NULL, "y", "/dev/null/sub/console.y", &o), 0);
    assert_true(logfile_open(&l, false, 0, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "/dev/null/sub/console.y"));
    assert_non_null(strstr(err, "[y]"));
    logfile_release(&l);
}

static void test_failed_writes_are_dropped_then_logging_resumes(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    struct logfile l;
    struct conf_logopts o = {0};
    assert_int_equal(logfile_init(&l, NULL, "z", "pipe", &o), 0);
    l.fd = p[1]; /* a pipe nobody reads stands in for a full disk */
    char chunk[4096];
    memset(chunk, 'a', sizeof(chunk));
    for (int i = 0; i < 64 && !l.failing; i++)
        logfile_write_data(&l, chunk, sizeof(chunk), 0);
    assert_true(l.failing);
    logfile_write_data(&l, chunk, sizeof(chunk), 0);
    assert_true(l.dropped >= sizeof(chunk));
    char sink[65536];
    for (int i = 0; i < 64 && read(p[0], sink, sizeof(sink)) > 0; i++)
        ;
    logfile_write_data(&l, "back\n", 5, 0);
    assert_false(l.failing);
    assert_int_equal(l.dropped, 0);
    close(p[0]);
    logfile_release(&l);
}

static void test_open_creates_missing_parent_directories_0755(void **state)
{
    (void)state;
    char dir[] = "/tmp/conmand-logfile-XXXXXX", path[300], sub[160], err[256];
    mode_t um = umask(0);
    umask(um);
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    snprintf(path, sizeof(path), "%s/console.p", sub);
    struct logfile l;
    struct conf_logopts o = {0};
    assert_int_equal(logfile_init(&l, NULL, "p", path, &o), 0);
    assert_int_equal(logfile_open(&l, false, 0, err, sizeof(err)), 0);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0755 & ~um);
    assert_int_equal(stat(path, &st), 0);
    logfile_release(&l);
    unlink(path);
    rmdir(sub);
    snprintf(sub, sizeof(sub), "%s/a", dir);
    rmdir(sub);
    rmdir(dir);
}

static void test_parent_len_names_the_directory_part(void **state)
{
    (void)state;
    assert_int_equal(logfile_parent_len("a/b/c"), 3);
    assert_int_equal(logfile_parent_len("/x"), 0);
    assert_int_equal(logfile_parent_len("plain"), 0);
    assert_int_equal(logfile_parent_len("/var/log/conman/c1"), 15);
}

static void test_batched_output_reaches_the_file_on_flush_and_tail(void **state)
{
    (void)state;
    char dir[] = "/tmp/conmand-logfile-XXXXXX", path[128], err[256], buf[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/console.b", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct logcache lc;
    logcache_init(&lc, &loop);
    struct logfile l;
    struct conf_logopts o = {0};
    assert_int_equal(logfile_init(&l, &lc, "b", path, &o), 0);
    assert_int_equal(logfile_open(&l, false, 0, err, sizeof(err)), 0);
    logfile_write_data(&l, "batched\n", 8, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    off_t header = st.st_size;
    assert_true(l.dirty); /* pending until the batch goes out */
    long n = logfile_tail(&l, buf, sizeof(buf) - 1);
    assert_true(n > header);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "batched\n"));
    assert_false(l.dirty);
    logfile_release(&l);
    logcache_stop(&lc);
    uv_run(&loop, UV_RUN_DEFAULT);
    logcache_release(&lc);
    assert_int_equal(uv_loop_close(&loop), 0);
    unlink(path);
    rmdir(dir);
}

static void test_more_logs_than_cached_descriptors_all_get_their_output(void **state)
{
    (void)state;
    enum { N = LOGCACHE_FDS + 44 };
    char dir[] = "/tmp/conmand-logfile-XXXXXX", path[128], err[256], buf[256];
    assert_non_null(mkdtemp(dir));
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct logcache lc;
    logcache_init(&lc, &loop);
    struct logfile *logs = calloc(N, sizeof(*logs));
    assert_non_null(logs);
    struct conf_logopts o = {.lock = true};
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(path, sizeof(path), "%s/c%d", dir, i);
            if (round == 0) {
                assert_int_equal(logfile_init(&logs[i], &lc, "c", path, &o), 0);
                assert_int_equal(logfile_open(&logs[i], false, 0, err, sizeof(err)), 0);
            }
            snprintf(buf, sizeof(buf), "round-%d-of-%d\n", round, i);
            logfile_write_data(&logs[i], buf, strlen(buf), 0);
        }
        logcache_flush(&lc);
        assert_true(lc.nopen <= LOGCACHE_FDS);
    }
    for (int i = 0; i < N; i++) {
        long n = logfile_tail(&logs[i], buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = '\0';
        char want[64];
        snprintf(want, sizeof(want), "round-0-of-%d\nround-1-of-%d\n", i, i);
        assert_non_null(strstr(buf, want));
        logfile_release(&logs[i]);
        snprintf(path, sizeof(path), "%s/c%d", dir, i);
        unlink(path);
    }
    assert_int_equal(lc.nopen, 0);
    free(logs);
    logcache_stop(&lc);
    uv_run(&loop, UV_RUN_DEFAULT);
    logcache_release(&lc);
    assert_int_equal(uv_loop_close(&loop), 0);
    rmdir(dir);
}

/* Log names: conman 0.3.1's conversion specifiers (conf_format), with the
 * time passed in. TZ is UTC for these (set in main). */
static void expect_format(const char *fmt, time_t now, const char *want)
{
    char out[256];
    struct conf_fmt v = {.name = "n1", .devid = "ttyS0", .pid = 4242, .now = now};
    assert_int_equal(conf_format(fmt, &v, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void test_format_expands_every_specifier_of_0_3_1(void **state)
{
    (void)state;
    const time_t t = 1700000000; /* 2023-11-14 22:13:20 UTC, a Tuesday */
    expect_format("%N", t, "n1");
    expect_format("%D", t, "ttyS0");
    expect_format("%P", t, "4242");
    expect_format("%Y", t, "2023");
    expect_format("%y", t, "23");
    expect_format("%m", t, "11");
    expect_format("%d", t, "14");
    expect_format("%H", t, "22");
    expect_format("%M", t, "13");
    expect_format("%S", t, "20");
    expect_format("%s", t, "1700000000");
    expect_format("%g", t, "23");
    expect_format("%G", t, "2023");
    expect_format("%j", t, "318");
    expect_format("%u", t, "2");
    expect_format("%U", t, "46");
    expect_format("%V", t, "46");
    expect_format("%w", t, "2");
    expect_format("%W", t, "46");
    expect_format("%%", t, "%");
    expect_format("%Y/%m/%d/console.%N-%H%M%S", t, "2023/11/14/console.n1-221320");
}

static void test_format_iso_week_year_differs_from_the_calendar_year(void **state)
{
    (void)state;
    const time_t t = 1609459200; /* 2021-01-01, a Friday: ISO week 53 of 2020 */
    expect_format("%G-%g-W%V %Y %j %u %w %U %W", t, "2020-20-W53 2021 001 5 5 00 00");
}

static void test_format_keeps_unknown_specifiers_as_written(void **state)
{
    (void)state;
    /* %L is no specifier of 0.3.1 (nor %x, %e, ...): kept, like conman's. */
    expect_format("a%Lb%xc%e", 0, "a%Lb%xc%e");
    expect_format("tail%", 0, "tail%");
    expect_format("%%N is %N", 0, "%N is n1");
    expect_format("plain.log", 0, "plain.log");
}

static void test_format_sanitizes_name_and_dev_only(void **state)
{
    (void)state;
    char out[128];
    struct conf_fmt v = {.name = "rack1/n 1\t\x01\x7f\xc3\xa9", .devid = "a/b", .now = 0};
    assert_int_equal(conf_format("logs/%N.%D", &v, out, sizeof(out)), 0);
    assert_string_equal(out, "logs/rack1_n_1_____.a_b");
}

static void test_format_without_name_keeps_N_and_D_for_the_server_log(void **state)
{
    (void)state;
    char out[128];
    struct conf_fmt v = {.pid = 7, .now = 1700000000};
    assert_int_equal(conf_format("conmand-%N%D-%P-%Y.log", &v, out, sizeof(out)), 0);
    assert_string_equal(out, "conmand-%N%D-7-2023.log");
}

static void test_format_fits_exactly_and_one_byte_short_is_too_long(void **state)
{
    (void)state;
    char out[16];
    struct conf_fmt v = {.name = "abcdef", .now = 1700000000};
    /* "x-abcdef-2023" is 13 bytes: fits in 14 with its NUL, not in 13. */
    assert_int_equal(conf_format("x-%N-%Y", &v, out, 14), 0);
    assert_string_equal(out, "x-abcdef-2023");
    assert_int_equal(conf_format("x-%N-%Y", &v, out, 13), -ENAMETOOLONG);
    assert_int_equal(conf_format("x-%N-%Y", &v, out, 12), -ENAMETOOLONG);
    assert_int_equal(conf_format("x-%N-%Y", &v, out, 9), -ENAMETOOLONG);
    assert_int_equal(conf_format("%%", &v, out, 1), -ENAMETOOLONG);
    assert_int_equal(conf_format("", &v, out, 1), 0);
    assert_string_equal(out, "");
}

static void test_format_of_a_name_that_expands_too_long_fails(void **state)
{
    (void)state;
    char name[3000], out[4096];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    struct conf_fmt v = {.name = name, .now = 0};
    assert_int_equal(conf_format("%N", &v, out, sizeof(out)), 0);
    assert_int_equal(conf_format("%N/%N", &v, out, sizeof(out)), -ENAMETOOLONG);
}

static void test_dev_id_is_what_0_3_1_calls_the_device(void **state)
{
    (void)state;
    char out[128];
    conf_dev_id("/dev/ttyS0", "serial", out, sizeof(out));
    assert_string_equal(out, "ttyS0");
    conf_dev_id("unix:/run/vm/n1/console.sock", "unix", out, sizeof(out));
    assert_string_equal(out, "console.sock");
    conf_dev_id("bmc1:2001", "telnet", out, sizeof(out));
    assert_string_equal(out, "bmc1:2001");
    conf_dev_id("ssh:n3@bmc1:2222", "ssh", out, sizeof(out));
    assert_string_equal(out, "n3@bmc1:2222");
    conf_dev_id("/usr/bin/ipmiconsole -h x", "process", out, sizeof(out));
    assert_string_equal(out, "");
    conf_dev_id("ipmi:bmc1", "ipmi", out, sizeof(out));
    assert_string_equal(out, "");
    conf_dev_id("what", NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

static void test_set_path_moves_the_log_to_another_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/conmand-logfile-XXXXXX", a[128], b[128], err[256], buf[512];
    assert_non_null(mkdtemp(dir));
    snprintf(a, sizeof(a), "%s/x.1", dir);
    snprintf(b, sizeof(b), "%s/2023/11/x.2", dir);
    struct logfile l;
    struct conf_logopts o = {.lock = true};
    assert_int_equal(logfile_init(&l, NULL, "x", a, &o), 0);
    assert_int_equal(logfile_open(&l, false, 0, err, sizeof(err)), 0);
    logfile_write_data(&l, "first\n", 6, 0);
    assert_int_equal(logfile_set_path(&l, b), 0);
    assert_int_equal(logfile_open(&l, false, 0, err, sizeof(err)), 0);
    logfile_write_data(&l, "second\n", 7, 0);
    logfile_flush(&l);
    FILE *f = fopen(a, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "first"));
    assert_null(strstr(buf, "second"));
    f = fopen(b, "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "log opened"));
    assert_non_null(strstr(buf, "second"));
    logfile_release(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_0600_with_header_and_appends),
        cmocka_unit_test(test_format_expands_every_specifier_of_0_3_1),
        cmocka_unit_test(test_format_iso_week_year_differs_from_the_calendar_year),
        cmocka_unit_test(test_format_keeps_unknown_specifiers_as_written),
        cmocka_unit_test(test_format_sanitizes_name_and_dev_only),
        cmocka_unit_test(test_format_without_name_keeps_N_and_D_for_the_server_log),
        cmocka_unit_test(test_format_fits_exactly_and_one_byte_short_is_too_long),
        cmocka_unit_test(test_format_of_a_name_that_expands_too_long_fails),
        cmocka_unit_test(test_dev_id_is_what_0_3_1_calls_the_device),
        cmocka_unit_test(test_set_path_moves_the_log_to_another_file),
        cmocka_unit_test(test_open_failure_names_the_file_and_console),
        cmocka_unit_test(test_failed_writes_are_dropped_then_logging_resumes),
        cmocka_unit_test(test_open_creates_missing_parent_directories_0755),
        cmocka_unit_test(test_parent_len_names_the_directory_part),
        cmocka_unit_test(test_batched_output_reaches_the_file_on_flush_and_tail),
        cmocka_unit_test(test_more_logs_than_cached_descriptors_all_get_their_output),
    };
    setenv("TZ", "UTC", 1); /* the log-name tests give times in UTC */
    tzset();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
