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
    assert_int_equal(logfile_init(&l, "x", path, &o), 0);
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
    assert_int_equal(logfile_init(&l, "y", "/nonexistent-dir/console.y", &o), 0);
    assert_true(logfile_open(&l, false, 0, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "/nonexistent-dir/console.y"));
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
    assert_int_equal(logfile_init(&l, "z", "pipe", &o), 0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_0600_with_header_and_appends),
        cmocka_unit_test(test_open_failure_names_the_file_and_console),
        cmocka_unit_test(test_failed_writes_are_dropped_then_logging_resumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
