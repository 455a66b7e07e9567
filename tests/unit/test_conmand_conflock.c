/* The configuration lock survives rereads of the file (closing any other
 * descriptor of it would drop an fcntl lock), follows a file replaced by
 * rename, and names its holder to other processes. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conmand/conf/conflock.h"

/* The pid another process sees holding `path` (0: none), found in a child:
 * F_GETLK ignores the caller's own locks. */
static pid_t holder_seen_by_another_process(const char *path)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        pid_t got = -1;
        int fd = open(path, O_RDONLY);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0)
            got = fl.l_type == F_UNLCK ? 0 : fl.l_pid;
        (void)!write(fds[1], &got, sizeof(got));
        _exit(0);
    }
    pid_t got = -1;
    close(fds[1]);
    assert_int_equal(read(fds[0], &got, sizeof(got)), (ssize_t)sizeof(got));
    close(fds[0]);
    waitpid(child, NULL, 0);
    return got;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_lock_survives_rereads_and_follows_a_replaced_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/conflock-XXXXXX", path[64], next[64], old_copy[64], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/conman.conf", dir);
    snprintf(next, sizeof(next), "%s/conman.conf.new", dir);
    snprintf(old_copy, sizeof(old_copy), "%s/old", dir);
    write_file(path, "server port=1\n");
    assert_int_equal(conflock_open(path, err, sizeof(err)), 0);
    assert_int_equal(conflock_take(err, sizeof(err)), 0);
    assert_int_equal(holder_seen_by_another_process(path), getpid());
    /* Rewritten in place (by another process: this one closing a
     * descriptor of the file would drop its own lock) and reread twice. */
    pid_t editor = fork();
    assert_true(editor >= 0);
    if (editor == 0) {
        write_file(path, "server port=2\n");
        _exit(0);
    }
    waitpid(editor, NULL, 0);
    for (int i = 0; i < 2; i++) {
        char *text;
        size_t len;
        assert_int_equal(conflock_read(path, 1024, &text, &len, err, sizeof(err)), 0);
        assert_string_equal(text, "server port=2\n");
        free(text);
    }
    assert_int_equal(holder_seen_by_another_process(path), getpid());
    /* Replaced by rename: the new file is read and locked, the old let go. */
    assert_int_equal(link(path, old_copy), 0);
    write_file(next, "server port=3\n");
    assert_int_equal(rename(next, path), 0);
    char *text;
    assert_int_equal(conflock_read(path, 1024, &text, NULL, err, sizeof(err)), 0);
    assert_string_equal(text, "server port=3\n");
    free(text);
    assert_int_equal(holder_seen_by_another_process(path), getpid());
    assert_int_equal(holder_seen_by_another_process(old_copy), 0);
    /* One past the size limit. */
    assert_int_equal(conflock_read(path, 13, &text, NULL, err, sizeof(err)), -EFBIG);
    assert_int_equal(conflock_read(path, 14, &text, NULL, err, sizeof(err)), 0);
    free(text);
    conflock_close();
    assert_int_equal(holder_seen_by_another_process(path), 0);
    unlink(old_copy);
    unlink(path);
    rmdir(dir);
}

static void test_a_second_holder_is_named_with_the_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/conflock-XXXXXX", path[64], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/conman.conf", dir);
    write_file(path, "\n");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) { /* another conmand holding the file */
        int fd = open(path, O_RDONLY);
        struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
        if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
            _exit(1);
        (void)!write(fds[1], "x", 1);
        pause();
        _exit(0);
    }
    char b;
    close(fds[1]);
    assert_int_equal(read(fds[0], &b, 1), 1);
    close(fds[0]);
    assert_int_equal(conflock_open(path, err, sizeof(err)), 0);
    assert_int_equal(conflock_holder(), child);
    assert_int_equal(conflock_take(err, sizeof(err)), -EBUSY);
    char want[128];
    snprintf(want, sizeof(want), "Configuration \"%s\" in use by pid %d", path, (int)child);
    assert_string_equal(err, want);
    conflock_close();
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock_survives_rereads_and_follows_a_replaced_file),
        cmocka_unit_test(test_a_second_holder_is_named_with_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
