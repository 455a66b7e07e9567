/* Rotation naming, the budget's choice of files to delete, and rotation and
 * scanning on real files (consoles/logbudget.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>

#include "conmand/consoles/logbudget.h"

static void test_rotated_names_are_path_dot_k(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(logbudget_name("/var/log/conman/console.n1", 3, out, sizeof(out)), 0);
    assert_string_equal(out, "/var/log/conman/console.n1.3");
    assert_int_equal(logbudget_name("console.a", 12, out, sizeof(out)), 0);
    assert_string_equal(out, "console.a.12");
    char small[8];
    assert_int_equal(logbudget_name("console.a", 1, small, sizeof(small)), -ENAMETOOLONG);
}

static struct logbudget_file file(uint64_t size, long sec, long nsec)
{
    return (struct logbudget_file){.size = size, .mtime = {.tv_sec = sec, .tv_nsec = nsec}};
}

static void test_the_oldest_go_first_until_within_budget(void **state)
{
    (void)state;
    struct logbudget_file f[] = {file(100, 50, 0), file(100, 10, 0), file(100, 30, 0),
                                 file(100, 10, 5)};
    size_t out[4];
    /* 1000 in use, budget 850: two oldest (10.0 then 10.000000005). */
    assert_int_equal(logbudget_pick(f, 4, 1000, 850, out), 2);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 3);
    /* Exactly at the budget: nothing. */
    assert_int_equal(logbudget_pick(f, 4, 850, 850, out), 0);
    /* One byte over: one file. */
    assert_int_equal(logbudget_pick(f, 4, 851, 850, out), 1);
    assert_int_equal(out[0], 1);
    /* No budget: nothing, however much is used. */
    assert_int_equal(logbudget_pick(f, 4, 1u << 30, 0, out), 0);
}

static void test_live_bytes_alone_over_budget_delete_every_rotated_file_and_stop(void **state)
{
    (void)state;
    struct logbudget_file f[] = {file(10, 3, 0), file(20, 1, 0), file(30, 2, 0)};
    size_t out[3];
    /* 1060 in use of which 1000 live: all three go, oldest first, no more. */
    assert_int_equal(logbudget_pick(f, 3, 1060, 500, out), 3);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 2);
    assert_int_equal(out[2], 0);
    assert_int_equal(logbudget_pick(f, 0, 1060, 500, out), 0);
}

static void put_file(const char *path, size_t size)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (size_t i = 0; i < size; i++)
        fputc('x', fp);
    fclose(fp);
}

static off_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) < 0 ? -1 : st.st_size;
}

static void test_rotation_shifts_the_files_and_keeps_logkeep(void **state)
{
    (void)state;
    char dir[] = "/tmp/logbudget-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char live[128], name[140];
    snprintf(live, sizeof(live), "%s/console.a", dir);
    struct logbudget b = {0};
    for (size_t round = 1; round <= 4; round++) {
        put_file(live, round * 10);
        assert_int_equal(logbudget_rotate(&b, live, 2), 0);
        assert_int_equal(size_of(live), -1); /* moved away: the caller reopens */
    }
    /* Kept: .1 (the last, 40 bytes) and .2 (30 bytes); .3 never made. */
    snprintf(name, sizeof(name), "%s.1", live);
    assert_int_equal(size_of(name), 40);
    snprintf(name, sizeof(name), "%s.2", live);
    assert_int_equal(size_of(name), 30);
    snprintf(name, sizeof(name), "%s.3", live);
    assert_int_equal(size_of(name), -1);
    assert_int_equal(b.stats.rotations, 4);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.stats.rotated_bytes, 70);
    /* logkeep lowered to 0: the live file is deleted, and the old .1 .2
     * beyond it too. */
    put_file(live, 5);
    assert_int_equal(logbudget_rotate(&b, live, 0), 0);
    assert_int_equal(size_of(live), -1);
    snprintf(name, sizeof(name), "%s.1", live);
    assert_int_equal(size_of(name), -1);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.stats.rotated_bytes, 0);
    logbudget_release(&b);
    rmdir(dir);
}

static void test_a_scan_learns_earlier_files_and_enforce_deletes_oldest(void **state)
{
    (void)state;
    char dir[] = "/tmp/logbudget-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char live[128], name[140];
    snprintf(live, sizeof(live), "%s/console.b", dir);
    struct logbudget b = {0};
    for (int k = 1; k <= 3; k++) {
        snprintf(name, sizeof(name), "%s.%d", live, k);
        put_file(name, 100);
        struct timespec t[2] = {{.tv_sec = 1000 - k * 10}, {.tv_sec = 1000 - k * 10}};
        assert_int_equal(utimensat(AT_FDCWD, name, t, 0), 0);
    }
    snprintf(name, sizeof(name), "%s/console.bx.1", dir); /* another console's: not ours */
    put_file(name, 100);
    assert_int_equal(logbudget_scan(&b, live, 1000), 0);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.stats.rotated_bytes, 300);
    b.stats.live_bytes = 50;
    /* 350 in use, budget 200: .3 (oldest) and .2 go, .1 stays. */
    assert_int_equal(logbudget_enforce(&b, 200), 2);
    assert_int_equal(b.stats.budget_deletes, 2);
    assert_int_equal(logbudget_in_use(&b), 150);
    snprintf(name, sizeof(name), "%s.3", live);
    assert_int_equal(size_of(name), -1);
    snprintf(name, sizeof(name), "%s.2", live);
    assert_int_equal(size_of(name), -1);
    snprintf(name, sizeof(name), "%s.1", live);
    assert_int_equal(size_of(name), 100);
    assert_int_equal(logbudget_enforce(&b, 200), 0);
    unlink(name);
    snprintf(name, sizeof(name), "%s/console.bx.1", dir);
    assert_int_equal(size_of(name), 100);
    unlink(name);
    logbudget_release(&b);
    rmdir(dir);
}

static void test_another_consoles_live_log_is_never_renamed_counted_or_deleted(void **state)
{
    (void)state;
    char dir[] = "/tmp/logbudget-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[128], a1[140];
    snprintf(a, sizeof(a), "%s/console.a", dir); /* console "a" */
    snprintf(a1, sizeof(a1), "%s.1", a);         /* console "a.1": live too */
    put_file(a, 10);
    put_file(a1, 20);
    struct logbudget b = {0};
    assert_int_equal(logbudget_live_add(&b, a), 0);
    assert_int_equal(logbudget_live_add(&b, a1), 0);
    assert_int_equal(logbudget_scan(&b, a, 1000), 0);
    assert_int_equal(b.n, 0); /* console.a.1 is not a rotated file */
    assert_int_equal(logbudget_rotate(&b, a, 2), -EEXIST);
    assert_int_equal(size_of(a), 10);
    assert_int_equal(size_of(a1), 20);
    assert_int_equal(b.stats.rotations, 0);
    b.stats.live_bytes = 30;
    assert_int_equal(logbudget_enforce(&b, 1), 0);
    assert_int_equal(size_of(a1), 20);
    logbudget_live_remove(&b, a1);
    logbudget_live_remove(&b, a);
    assert_int_equal(b.nlive, 0);
    unlink(a);
    unlink(a1);
    logbudget_release(&b);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotated_names_are_path_dot_k),
        cmocka_unit_test(test_the_oldest_go_first_until_within_budget),
        cmocka_unit_test(test_live_bytes_alone_over_budget_delete_every_rotated_file_and_stop),
        cmocka_unit_test(test_rotation_shifts_the_files_and_keeps_logkeep),
        cmocka_unit_test(test_a_scan_learns_earlier_files_and_enforce_deletes_oldest),
        cmocka_unit_test(test_another_consoles_live_log_is_never_renamed_counted_or_deleted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
