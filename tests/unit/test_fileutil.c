/* Whole-file reads and atomic writes on real files in a fresh folder: what
 * they read and write, their size cap, and failures that name the file
 * (missing folders, directories where a file should be) without needing
 * permissions a root test run would ignore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "common/fileutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct folder {
    char dir[64];
    char path[128]; /* dir/file: the file most tests read or write */
};

static int make_folder(void **state)
{
    struct folder *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_fileutil.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/file", f->dir);
    *state = f;
    return 0;
}

/* Counts the entries of `dir` other than . and .. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Removes the folder and what the tests left in it: files, and the empty
 * directories some tests put there. */
static int remove_folder(void **state)
{
    struct folder *f = *state;
    DIR *d = opendir(f->dir);
    if (d) {
        char p[PATH_MAX];
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
            if (unlink(p) < 0)
                rmdir(p);
        }
        closedir(d);
    }
    int rc = rmdir(f->dir);
    free(f);
    return rc;
}

static void write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static char *pattern(size_t len)
{
    char *s = malloc(len);
    assert_non_null(s);
    for (size_t i = 0; i < len; i++)
        s[i] = (char)('a' + i % 26);
    return s;
}

static void test_read_all_gives_the_bytes_nul_terminated_and_their_length(void **state)
{
    struct folder *f = *state;
    /* Three times the first buffer (4096): the buffer grows, bytes stay. */
    size_t len = 3 * 4096 + 5;
    char *want = pattern(len);
    want[7] = '\0'; /* an embedded NUL is data, counted in the length */
    write_file(f->path, want, len);
    char *got = NULL, err[256] = "";
    size_t got_len = 0;
    assert_int_equal(file_read_all(f->path, len, &got, &got_len, err, sizeof(err)), 0);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, want, len);
    assert_int_equal(got[len], '\0');
    assert_string_equal(err, "");
    free(got);
    free(want);
}

static void test_read_all_of_an_empty_file_is_an_empty_string(void **state)
{
    struct folder *f = *state;
    write_file(f->path, "", 0);
    char *got = NULL, err[256];
    /* The length is optional. */
    assert_int_equal(file_read_all(f->path, 0, &got, NULL, err, sizeof(err)), 0);
    assert_string_equal(got, "");
    free(got);
}

static void test_read_all_over_the_cap_is_efbig_naming_file_and_cap(void **state)
{
    struct folder *f = *state;
    write_file(f->path, "0123456789", 10);
    char *got = NULL, err[256], want[256];
    size_t got_len = 0;
    assert_int_equal(file_read_all(f->path, 10, &got, &got_len, err, sizeof(err)), 0);
    assert_int_equal(got_len, 10);
    free(got);
    got = NULL;
    assert_int_equal(file_read_all(f->path, 9, &got, &got_len, err, sizeof(err)), -EFBIG);
    snprintf(want, sizeof(want), "%s: larger than 9 bytes", f->path);
    assert_string_equal(err, want);
    assert_null(got);
}

static void test_read_all_in_a_missing_folder_names_the_file(void **state)
{
    struct folder *f = *state;
    char path[256], err[256], want[300];
    snprintf(path, sizeof(path), "%s/no-such-folder/file", f->dir);
    char *got = NULL;
    assert_int_equal(file_read_all(path, 100, &got, NULL, err, sizeof(err)), -ENOENT);
    snprintf(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
    assert_string_equal(err, want);
    assert_null(got);
}

static void test_read_all_under_a_regular_file_is_enotdir(void **state)
{
    struct folder *f = *state;
    write_file(f->path, "x", 1);
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/sub", f->path);
    char *got = NULL;
    assert_int_equal(file_read_all(path, 100, &got, NULL, err, sizeof(err)), -ENOTDIR);
    assert_non_null(strstr(err, path));
    assert_null(got);
}

static void test_read_all_of_a_directory_fails_to_read_naming_it(void **state)
{
    struct folder *f = *state;
    char *got = NULL, err[256], want[256];
    assert_int_equal(file_read_all(f->dir, 100, &got, NULL, err, sizeof(err)), -EISDIR);
    snprintf(want, sizeof(want), "%s: cannot read: %s", f->dir, strerror(EISDIR));
    assert_string_equal(err, want);
    assert_null(got);
}

static void test_read_fd_reads_from_the_offset_and_leaves_it_open(void **state)
{
    struct folder *f = *state;
    write_file(f->path, "header:body", 11);
    int fd = open(f->path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, 7, SEEK_SET), 7);
    char *got = NULL, err[256];
    size_t got_len = 0;
    assert_int_equal(file_read_fd(fd, "named", 100, &got, &got_len, err, sizeof(err)), 0);
    assert_string_equal(got, "body");
    assert_int_equal(got_len, 4);
    free(got);
    assert_true(fcntl(fd, F_GETFD) >= 0);
    /* At the end now: nothing more, still not an error. */
    assert_int_equal(file_read_fd(fd, "named", 100, &got, &got_len, err, sizeof(err)), 0);
    assert_int_equal(got_len, 0);
    free(got);
    close(fd);
}

static void test_read_fd_takes_a_pipe_to_its_end(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "through ", 8), 8);
    assert_int_equal(write(p[1], "a pipe", 6), 6);
    close(p[1]);
    char *got = NULL, err[256];
    size_t got_len = 0;
    assert_int_equal(file_read_fd(p[0], "pipe", 100, &got, &got_len, err, sizeof(err)), 0);
    assert_string_equal(got, "through a pipe");
    assert_int_equal(got_len, 14);
    free(got);
    close(p[0]);
}

static void test_read_fd_of_a_write_only_descriptor_names_the_given_path(void **state)
{
    struct folder *f = *state;
    int fd = open(f->path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    char *got = NULL, err[256], want[256];
    assert_int_equal(file_read_fd(fd, "the-name", 100, &got, NULL, err, sizeof(err)), -EBADF);
    snprintf(want, sizeof(want), "the-name: cannot read: %s", strerror(EBADF));
    assert_string_equal(err, want);
    assert_null(got);
    close(fd);
}

static void test_write_atomic_creates_the_file_with_its_mode_and_no_temp_left(void **state)
{
    struct folder *f = *state;
    char err[256] = "";
    mode_t um = umask(077); /* the mode is set, not masked */
    int rc = file_write_atomic(f->path, "new\n", 4, 0644, err, sizeof(err));
    umask(um);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    char *got = NULL;
    assert_int_equal(file_read_all(f->path, 100, &got, NULL, err, sizeof(err)), 0);
    assert_string_equal(got, "new\n");
    free(got);
    assert_int_equal(entries(f->dir), 1);
}

static void test_write_atomic_replaces_by_rename_not_in_place(void **state)
{
    struct folder *f = *state;
    write_file(f->path, "old contents that are longer", 28);
    /* A reader that opened the old file keeps reading the old file. */
    int reader = open(f->path, O_RDONLY);
    assert_true(reader >= 0);
    char err[256];
    size_t len = 2 * 4096;
    char *data = pattern(len);
    assert_int_equal(file_write_atomic(f->path, data, len, 0600, err, sizeof(err)), 0);
    char *got = NULL;
    size_t got_len = 0;
    assert_int_equal(file_read_fd(reader, "old", 100, &got, &got_len, err, sizeof(err)), 0);
    assert_string_equal(got, "old contents that are longer");
    free(got);
    close(reader);
    assert_int_equal(file_read_all(f->path, len, &got, &got_len, err, sizeof(err)), 0);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, data, len);
    free(got);
    free(data);
    assert_int_equal(entries(f->dir), 1);
    /* Zero bytes are a valid file too. */
    assert_int_equal(file_write_atomic(f->path, "", 0, 0600, err, sizeof(err)), 0);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_size, 0);
}

static void test_write_atomic_in_a_missing_folder_creates_nothing(void **state)
{
    struct folder *f = *state;
    char path[256], err[256], want[400];
    snprintf(path, sizeof(path), "%s/no-such-folder/file", f->dir);
    assert_int_equal(file_write_atomic(path, "x", 1, 0600, err, sizeof(err)), -ENOENT);
    snprintf(want, sizeof(want), "%s: cannot create temp file in its directory: %s", path,
             strerror(ENOENT));
    assert_string_equal(err, want);
    assert_int_equal(entries(f->dir), 0);
}

static void test_write_atomic_over_a_directory_fails_and_removes_its_temp(void **state)
{
    struct folder *f = *state;
    assert_int_equal(mkdir(f->path, 0700), 0);
    char err[256], want[256];
    /* The temp file is written beside it; the rename over a directory fails. */
    assert_int_equal(file_write_atomic(f->path, "data", 4, 0600, err, sizeof(err)), -EISDIR);
    snprintf(want, sizeof(want), "%s: cannot write: %s", f->path, strerror(EISDIR));
    assert_string_equal(err, want);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(entries(f->dir), 1); /* the directory, no temp file */
    assert_int_equal(entries(f->path), 0);
}

static void test_write_atomic_of_a_path_too_long_for_its_temp_name(void **state)
{
    struct folder *f = *state;
    /* Fits PATH_MAX, but ".tmp.XXXXXX" after it does not. */
    char *path = malloc(PATH_MAX);
    assert_non_null(path);
    int n = snprintf(path, PATH_MAX, "%s/", f->dir);
    memset(path + n, 'p', PATH_MAX - 8 - (size_t)n);
    path[PATH_MAX - 8] = '\0';
    char err[PATH_MAX + 64];
    assert_int_equal(file_write_atomic(path, "x", 1, 0600, err, sizeof(err)), -ENAMETOOLONG);
    assert_non_null(strstr(err, ": path too long"));
    assert_true(strncmp(err, path, strlen(path)) == 0);
    assert_int_equal(entries(f->dir), 0);
    free(path);
}

int main(void)
{
#define IN_FOLDER(t) cmocka_unit_test_setup_teardown(t, make_folder, remove_folder)
    const struct CMUnitTest tests[] = {
        IN_FOLDER(test_read_all_gives_the_bytes_nul_terminated_and_their_length),
        IN_FOLDER(test_read_all_of_an_empty_file_is_an_empty_string),
        IN_FOLDER(test_read_all_over_the_cap_is_efbig_naming_file_and_cap),
        IN_FOLDER(test_read_all_in_a_missing_folder_names_the_file),
        IN_FOLDER(test_read_all_under_a_regular_file_is_enotdir),
        IN_FOLDER(test_read_all_of_a_directory_fails_to_read_naming_it),
        IN_FOLDER(test_read_fd_reads_from_the_offset_and_leaves_it_open),
        cmocka_unit_test(test_read_fd_takes_a_pipe_to_its_end),
        IN_FOLDER(test_read_fd_of_a_write_only_descriptor_names_the_given_path),
        IN_FOLDER(test_write_atomic_creates_the_file_with_its_mode_and_no_temp_left),
        IN_FOLDER(test_write_atomic_replaces_by_rename_not_in_place),
        IN_FOLDER(test_write_atomic_in_a_missing_folder_creates_nothing),
        IN_FOLDER(test_write_atomic_over_a_directory_fails_and_removes_its_temp),
        IN_FOLDER(test_write_atomic_of_a_path_too_long_for_its_temp_name),
    };
#undef IN_FOLDER
    return cmocka_run_group_tests(tests, NULL, NULL);
}
