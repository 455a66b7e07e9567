/* Is io_uring worth it for conmand's log writes? The steady load is one
 * small append per console per batch: this times N appends of one line to
 * N files, R rounds, done as N write(2) calls, and as one io_uring
 * submission of N writes per round (liburing), and prints the CPU per
 * append of each (getrusage, user+sys). The files are O_APPEND in a fresh
 * folder under $TMPDIR, removed at the end.
 *   build/bin/uring_bench [N files, default 2000] [R rounds, default 200] */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static const char LINE[] = "2026-12-02 07:05:00 [   12.345678] SEQ:0000000001 c00001 a console line\r\n";

static int by_write(const int *fds, int n, int rounds)
{
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++)
            if (write(fds[i], LINE, sizeof(LINE) - 1) != (ssize_t)(sizeof(LINE) - 1)) {
                perror("write");
                return -1;
            }
    return 0;
}

static int by_uring(struct io_uring *ring, const int *fds, int n, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
            if (!sqe) {
                fprintf(stderr, "uring_bench: submission queue full\n");
                return -1;
            }
            io_uring_prep_write(sqe, fds[i], LINE, sizeof(LINE) - 1, (__u64)-1);
        }
        int rc = io_uring_submit_and_wait(ring, (unsigned)n);
        if (rc < 0) {
            fprintf(stderr, "uring_bench: submit: %s\n", strerror(-rc));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            struct io_uring_cqe *cqe;
            if ((rc = io_uring_wait_cqe(ring, &cqe)) < 0 ||
                cqe->res != (int)(sizeof(LINE) - 1)) {
                fprintf(stderr, "uring_bench: write: %s\n", strerror(rc < 0 ? -rc : -cqe->res));
                return -1;
            }
            io_uring_cqe_seen(ring, cqe);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000, rounds = argc > 2 ? atoi(argv[2]) : 200;
    if (n < 1 || n > 8192 || rounds < 1) {
        fprintf(stderr, "usage: uring_bench [files 1..8192] [rounds]\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[4096], path[4200];
    snprintf(dir, sizeof(dir), "%s/uring-bench-XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int *fds = calloc((size_t)n, sizeof(*fds));
    struct io_uring ring;
    int rc = fds ? io_uring_queue_init((unsigned)n, &ring, 0) : -ENOMEM;
    if (rc < 0) {
        fprintf(stderr, "uring_bench: io_uring_queue_init: %s\n", strerror(-rc));
        return 1;
    }
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/c%05d", dir, i);
        fds[i] = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fds[i] < 0) {
            perror(path);
            return 1;
        }
    }
    int status = 0;
    for (int pass = 0; pass < 2 && !status; pass++) { /* the first pass warms up */
        double t0 = cpu_seconds();
        status |= by_write(fds, n, rounds);
        double t1 = cpu_seconds();
        status |= by_uring(&ring, fds, n, rounds);
        double t2 = cpu_seconds();
        if (pass == 1 && !status) {
            double w = 1e6 * (t1 - t0) / ((double)n * rounds);
            double u = 1e6 * (t2 - t1) / ((double)n * rounds);
            printf("%d files x %d rounds, %zu-byte appends: write(2) %.2f us, io_uring %.2f us "
                   "of CPU per append (io_uring / write %.2f)\n",
                   n, rounds, sizeof(LINE) - 1, w, u, u / w);
        }
    }
    for (int i = 0; i < n; i++) {
        close(fds[i]);
        snprintf(path, sizeof(path), "%s/c%05d", dir, i);
        unlink(path);
    }
    rmdir(dir);
    io_uring_queue_exit(&ring);
    free(fds);
    return status ? 1 : 0;
}
