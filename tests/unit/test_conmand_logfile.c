/* Console log files on real descriptors: created 0600 with conman's header,
 * a failing write reported once and dropped, logging resumed afterwards; and
 * the line processing (CRLF, sanitize, timestamps) of what they write. */
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

#include "conmand/consoles/logfile.h"

/* A libuv loop and the log cache on it, for the batching tests. */
struct cache {
    uv_loop_t loop;
    struct logcache lc;
};

static void cache_start(struct cache *c)
{
    uv_loop_init(&c->loop);
    logcache_init(&c->lc, &c->loop);
}

/* Stops the cache and runs the loop until its handles are closed. */
static void cache_stop(struct cache *c)
{
    logcache_stop(&c->lc);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    logcache_release(&c->lc);
    assert_int_equal(uv_loop_close(&c->loop), 0);
}

/* Reads the start of `path` into `buf` as a string; its length. */
static size_t read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    assert_true(n >= 0);
    buf[n] = '\0';
    return (size_t)n;
}

/* A pipe nobody reads stands in for a full disk once it is full. */
static void nonblocking_pipe(int p[2])
{
    assert_int_equal(pipe(p), 0);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
}

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
    nonblocking_pipe(p);
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
    struct cache c;
    cache_start(&c);
    struct logfile l;
    struct conf_logopts o = {0};
    assert_int_equal(logfile_init(&l, &c.lc, "b", path, &o), 0);
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
    cache_stop(&c);
    unlink(path);
    rmdir(dir);
}

static void test_more_logs_than_cached_descriptors_all_get_their_output(void **state)
{
    (void)state;
    enum { N = LOGCACHE_FDS + 44 };
    char dir[] = "/tmp/conmand-logfile-XXXXXX", path[128], err[256], buf[256];
    assert_non_null(mkdtemp(dir));
    struct cache c;
    cache_start(&c);
    struct logfile *logs = calloc(N, sizeof(*logs));
    assert_non_null(logs);
    struct conf_logopts o = {.lock = true};
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(path, sizeof(path), "%s/c%d", dir, i);
            if (round == 0) {
                assert_int_equal(logfile_init(&logs[i], &c.lc, "c", path, &o), 0);
                assert_int_equal(logfile_open(&logs[i], false, 0, err, sizeof(err)), 0);
            }
            snprintf(buf, sizeof(buf), "round-%d-of-%d\n", round, i);
            logfile_write_data(&logs[i], buf, strlen(buf), 0);
        }
        logcache_flush(&c.lc);
        assert_true(c.lc.nopen <= LOGCACHE_FDS);
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
    assert_int_equal(c.lc.nopen, 0);
    free(logs);
    cache_stop(&c);
    rmdir(dir);
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
    read_file(a, buf, sizeof(buf));
    assert_non_null(strstr(buf, "first"));
    assert_null(strstr(buf, "second"));
    read_file(b, buf, sizeof(buf));
    assert_non_null(strstr(buf, "log opened"));
    assert_non_null(strstr(buf, "second"));
    logfile_release(&l);
}

static void test_resume_marker_names_the_console_the_bytes_lost_and_why(void **state)
{
    (void)state;
    char msg[800];
    size_t n = logfile_resume_msg("c7", 12345, ENOSPC, msg, sizeof(msg));
    assert_int_equal(n, strlen(msg));
    assert_string_equal(msg, "\r\n<ConMan> Console [c7] log resumed: 12345 bytes lost while it "
                             "could not be written (No space left on device).\r\n");
    logfile_resume_msg("c7", 1, ELOOP, msg, sizeof(msg));
    assert_non_null(strstr(msg, "symbolic link"));
    /* Cut, never overflowed, in a small buffer. */
    char small[24];
    n = logfile_resume_msg("c7", 1, ENOSPC, small, sizeof(small));
    assert_true(n < sizeof(small));
}

static void test_lost_bytes_are_counted_and_marked_once_before_output_resumes(void **state)
{
    (void)state;
    int p[2];
    nonblocking_pipe(p);
    struct logfile l;
    struct conf_logopts o = {0};
    assert_int_equal(logfile_init(&l, NULL, "m", "pipe", &o), 0);
    l.fd = p[1]; /* a pipe nobody reads stands in for a full disk */
    char chunk[4096], sink[1 << 17];
    memset(chunk, 'a', sizeof(chunk));
    size_t sent = 0;
    for (int i = 0; i < 64 && !l.failing; i++, sent += sizeof(chunk))
        logfile_write_data(&l, chunk, sizeof(chunk), 0);
    for (int i = 0; i < 3; i++, sent += sizeof(chunk))
        logfile_write_data(&l, chunk, sizeof(chunk), 0);
    uint64_t lost = l.dropped;
    ssize_t got = read(p[0], sink, sizeof(sink)); /* what made it, then room */
    assert_true(got > 0);
    assert_int_equal((uint64_t)got + lost, sent);
    logfile_write_data(&l, "back\n", 5, 0);
    assert_false(l.failing);
    char want[800], tail[1024];
    size_t wn = logfile_resume_msg("m", lost, EAGAIN, want, sizeof(want));
    memcpy(want + wn, "back\n", 6);
    ssize_t t = read(p[0], tail, sizeof(tail) - 1);
    assert_true(t > 0);
    tail[t] = '\0';
    assert_string_equal(tail, want); /* one marker, then the output */
    logfile_write_data(&l, "more\n", 5, 0);
    t = read(p[0], tail, sizeof(tail) - 1);
    assert_int_equal(t, 5); /* no second marker */
    close(p[0]);
    logfile_release(&l);
}

static void test_symlink_planted_at_the_log_path_is_refused_not_followed(void **state)
{
    (void)state;
    char dir[] = "/tmp/conmand-logfile-XXXXXX", path[128], target[128], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/console.s", dir);
    snprintf(target, sizeof(target), "%s/victim", dir);
    int fd = open(target, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(symlink(target, path), 0);
    struct logfile l;
    struct conf_logopts o = {0};
    assert_int_equal(logfile_init(&l, NULL, "s", path, &o), 0);
    assert_int_equal(logfile_open(&l, false, 0, err, sizeof(err)), -ELOOP);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "symbolic link"));
    logfile_write_data(&l, "secret\n", 7, 0);
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_true(l.dropped >= 7); /* counted as lost, not written through */
    /* The same failure again (SIGHUP) is not reported a second time. */
    assert_int_equal(logfile_open(&l, false, 0, err, sizeof(err)), -ELOOP);
    assert_string_equal(err, "");
    logfile_release(&l);
    unlink(path);
    unlink(target);
    rmdir(dir);
}

static void test_log_that_cannot_open_is_retried_and_marks_what_it_lost(void **state)
{
    (void)state;
    char dir[] = "/tmp/conmand-logfile-XXXXXX", block[128], path[160], err[256], buf[2048];
    assert_non_null(mkdtemp(dir));
    snprintf(block, sizeof(block), "%s/blocked", dir);
    snprintf(path, sizeof(path), "%s/sub/console.r", block);
    int fd = open(block, O_CREAT | O_WRONLY, 0644); /* a file where a folder must go */
    assert_true(fd >= 0);
    close(fd);
    struct logfile l;
    struct conf_logopts o = {0};
    assert_int_equal(logfile_init(&l, NULL, "r", path, &o), 0);
    assert_true(logfile_open(&l, false, 0, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, path));
    logfile_write_data(&l, "lost-1\n", 7, 0);
    assert_true(l.failing);
    assert_int_equal(l.dropped, 7);
    unlink(block);
    logfile_write_data(&l, "lost-2\n", 7, 0); /* within the retry interval */
    assert_int_equal(l.dropped, 14);
    l.retry_at = 0; /* as if LOGFILE_RETRY_SEC had passed */
    logfile_write_data(&l, "kept\n", 5, 0);
    assert_false(l.failing);
    assert_true(read_file(path, buf, sizeof(buf)) > 0);
    const char *hdr = strstr(buf, "log opened at");
    const char *mark = strstr(buf, "log resumed: 14 bytes lost");
    const char *kept = strstr(buf, "kept\n");
    assert_true(hdr && mark && kept && hdr < mark && mark < kept);
    logfile_release(&l);
    unlink(path);
    snprintf(path, sizeof(path), "%s/sub", block);
    rmdir(path);
    rmdir(block);
    rmdir(dir);
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void test_check_recreates_a_deleted_log_and_its_folder_cheaply(void **state)
{
    (void)state;
    char dir[] = "/tmp/conmand-logfile-XXXXXX", sub[128], path[192], err[256], buf[4096];
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/logs", dir);
    struct cache c;
    cache_start(&c);
    enum { N = LOGCACHE_FDS };
    struct logfile *logs = calloc(N, sizeof(*logs));
    assert_non_null(logs);
    struct conf_logopts o = {0};
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "%s/c%d", sub, i);
        assert_int_equal(logfile_init(&logs[i], &c.lc, "c", path, &o), 0);
        assert_int_equal(logfile_open(&logs[i], false, 0, err, sizeof(err)), 0);
    }
    long long t0 = now_us();
    assert_int_equal(logcache_check(&c.lc), 0); /* nothing deleted: nothing done */
    long long idle_us = now_us() - t0;
    print_message("logcache_check of %d open logs: %lld us\n", N, idle_us);
    assert_true(idle_us < 50000);
    snprintf(path, sizeof(path), "%s/c0", sub);
    unlink(path); /* as rm -rf of the folder does */
    rmdir(sub);   /* fails (not empty): only c0 is gone */
    assert_int_equal(logcache_check(&c.lc), 1);
    logfile_write_data(&logs[0], "after\n", 6, 0);
    long n = logfile_tail(&logs[0], buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "log opened at"));
    assert_non_null(strstr(buf, "after\n"));
    for (int i = 0; i < N; i++) {
        logfile_release(&logs[i]);
        snprintf(path, sizeof(path), "%s/c%d", sub, i);
        unlink(path);
    }
    free(logs);
    cache_stop(&c);
    rmdir(sub);
    rmdir(dir);
}

static void test_recreated_folder_gets_a_header_before_the_output(void **state)
{
    (void)state;
    char dir[] = "/tmp/conmand-logfile-XXXXXX", sub[128], path[192], err[256], buf[2048];
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/gone", dir);
    snprintf(path, sizeof(path), "%s/console.g", sub);
    struct cache c;
    cache_start(&c);
    struct logfile l;
    struct conf_logopts o = {0};
    assert_int_equal(logfile_init(&l, &c.lc, "g", path, &o), 0);
    assert_int_equal(logfile_open(&l, false, 0, err, sizeof(err)), 0);
    unlink(path);
    assert_int_equal(rmdir(sub), 0);
    logcache_check(&c.lc); /* notices the deleted file: folder and file again */
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    logfile_write_data(&l, "next\n", 5, 0);
    logcache_flush(&c.lc);
    assert_true(read_file(path, buf, sizeof(buf)) > 0);
    const char *hdr = strstr(buf, "log opened at"), *next = strstr(buf, "next\n");
    assert_true(hdr && next && hdr < next);
    logfile_release(&l);
    cache_stop(&c);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
}

static size_t fmt(enum logfile_line *st, struct conf_logopts o, const char *in, char *out)
{
    size_t n = logfile_format(st, &o, (const unsigned char *)in, strlen(in), out, 0);
    out[n] = '\0';
    return n;
}

static void test_log_lines_are_normalised_as_conman_writes_them(void **state)
{
    (void)state;
    char out[4096];
    enum logfile_line st = LOGFILE_LINE_INIT;
    struct conf_logopts plain = {0};
    fmt(&st, plain, "a\nb\r\n\r\nc\rd", out);
    assert_string_equal(out, "a\r\nb\r\n\r\nc\r\nd");
    st = LOGFILE_LINE_INIT;
    struct conf_logopts san = {.sanitize = true};
    fmt(&st, san, "x\x01\x7f\xe9", out);
    assert_string_equal(out, "x^A^?`i");
}

static void test_timestamps_start_every_line(void **state)
{
    (void)state;
    char out[4096], stamp[32];
    enum logfile_line st = LOGFILE_LINE_INIT;
    struct conf_logopts ts = {.timestamp = true};
    logfile_stamp(0, stamp, sizeof(stamp));
    assert_int_equal(strlen(stamp), 20);
    fmt(&st, ts, "one\ntwo\n", out);
    char want[256];
    snprintf(want, sizeof(want), "%sone\r\n%stwo\r\n", stamp, stamp);
    assert_string_equal(out, want);
}

/* A read bigger than a log's buffer (a boot storm) goes out in one write
 * after what was pending, every line whole, stamped and in order; a slow
 * console's lines wait for the batch. */
static void test_a_burst_bigger_than_the_buffer_is_written_whole_and_in_order(void **state)
{
    (void)state;
    char dir[] = "/tmp/conmand-logfile-XXXXXX", path[128], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/burst", dir);
    struct cache c;
    cache_start(&c);
    struct logfile l;
    struct conf_logopts o = {.timestamp = true};
    assert_int_equal(logfile_init(&l, &c.lc, "burst", path, &o), 0);
    assert_int_equal(logfile_open(&l, false, 0, err, sizeof(err)), 0);
    logfile_write_data(&l, "first\n", 6, 0);
    assert_true(l.buflen > 0); /* a small write waits for the batch */
    enum { LINES = 3000 };     /* about 60 KiB: more than LOGFILE_BUF */
    static char burst[LINES * 24];
    size_t n = 0;
    for (int i = 0; i < LINES; i++)
        n += (size_t)snprintf(burst + n, sizeof(burst) - n, "boot line %06d\r\n", i);
    assert_true(n > LOGFILE_BUF);
    logfile_write_data(&l, burst, n, 0);
    assert_int_equal(l.buflen, 0); /* written at once, the pending line first */
    char stamp[32];
    logfile_stamp(0, stamp, sizeof(stamp));
    static char want[LINES * 48], got[LINES * 48];
    size_t w = (size_t)snprintf(want, sizeof(want), "%sfirst\r\n", stamp);
    for (int i = 0; i < LINES; i++)
        w += (size_t)snprintf(want + w, sizeof(want) - w, "%sboot line %06d\r\n", stamp, i);
    read_file(path, got, sizeof(got));
    assert_non_null(strstr(got, want)); /* after the "log opened" header */
    logfile_release(&l);
    cache_stop(&c);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_0600_with_header_and_appends),
        cmocka_unit_test(test_set_path_moves_the_log_to_another_file),
        cmocka_unit_test(test_open_failure_names_the_file_and_console),
        cmocka_unit_test(test_failed_writes_are_dropped_then_logging_resumes),
        cmocka_unit_test(test_open_creates_missing_parent_directories_0755),
        cmocka_unit_test(test_parent_len_names_the_directory_part),
        cmocka_unit_test(test_batched_output_reaches_the_file_on_flush_and_tail),
        cmocka_unit_test(test_more_logs_than_cached_descriptors_all_get_their_output),
        cmocka_unit_test(test_a_burst_bigger_than_the_buffer_is_written_whole_and_in_order),
        cmocka_unit_test(test_resume_marker_names_the_console_the_bytes_lost_and_why),
        cmocka_unit_test(test_lost_bytes_are_counted_and_marked_once_before_output_resumes),
        cmocka_unit_test(test_symlink_planted_at_the_log_path_is_refused_not_followed),
        cmocka_unit_test(test_log_that_cannot_open_is_retried_and_marks_what_it_lost),
        cmocka_unit_test(test_check_recreates_a_deleted_log_and_its_folder_cheaply),
        cmocka_unit_test(test_recreated_folder_gets_a_header_before_the_output),
        cmocka_unit_test(test_log_lines_are_normalised_as_conman_writes_them),
        cmocka_unit_test(test_timestamps_start_every_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
