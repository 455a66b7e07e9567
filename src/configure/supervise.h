/* Child processes for a PID 1: signals taken synchronously (blocked, then
 * waited for), spawning with a clean signal state, reaping, bounded stop. */
#ifndef CONFIGURE_SUPERVISE_H
#define CONFIGURE_SUPERVISE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Blocks SIGCHLD, SIGTERM, SIGINT and SIGHUP so they queue until
 * supervise_wait_signal() takes them; saves the old mask for children. */
int supervise_init(void);

/* Waits up to `timeout_ms` for one of the blocked signals. Returns its
 * number, or 0 on timeout. */
int supervise_wait_signal(long timeout_ms);

/* Starts argv[0] (PATH searched) with the signal mask and dispositions a
 * fresh process expects. Returns the pid, or -errno with `err` naming it. */
pid_t supervise_spawn(char *const argv[], char *err, size_t errlen);

/* Reaps one exited child without blocking: returns its pid and status, 0
 * when none is left to reap. */
pid_t supervise_reap(int *status);

/* SIGTERM to `pid`, up to `grace_sec` for it to exit (reaping any other
 * child meanwhile), then SIGKILL. Stores its wait status. Returns 0, or 1
 * when SIGKILL was needed. */
int supervise_stop(pid_t pid, int grace_sec, int *status);

/* Runs argv with stdout+stderr captured into `out` (NUL terminated, cut to
 * outlen-1), at most `timeout_sec`. Returns 0 or -errno. */
int supervise_capture(char *const argv[], int timeout_sec, char *out, size_t outlen);

/* "exited with code N" / "killed by signal N (name)". */
void supervise_describe(int status, char *buf, size_t buflen);

/* The restart decision, pure: given how long the child ran and the current
 * backoff, returns the seconds to wait before the next start and updates
 * *backoff_sec (1 s doubling to 30 s for runs under 10 s; reset by 60 s). */
unsigned supervise_restart_delay(double ran_sec, unsigned *backoff_sec);

#endif
