/* Console log files on real descriptors: created 0600 with conman's header,
 * a failing write reported once and dropped, logging resumed afterwards. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_0600_with_header_and_appends),
        cmocka_unit_test(test_open_failure_names_the_file_and_console),
        cmocka_unit_test(test_failed_writes_are_dropped_then_logging_resumes),
        cmocka_unit_test(test_open_creates_missing_parent_directories_0755),
        cmocka_unit_test(test_parent_len_names_the_directory_part),
        cmocka_unit_test(test_batched_output_reaches_the_file_on_flush_and_tail),
        cmocka_unit_test(test_more_logs_than_cached_descriptors_all_get_their_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
