/* Children of the daemon (process consoles, resetcmd, eventexec): nothing
 * of the daemon's (descriptors, ignored or blocked signals) reaches the
 * program they run. The first two are for a forked child and make only
 * async-signal-safe calls (the daemon has threads). */
#ifndef COMMON_CHILDPROC_H
#define COMMON_CHILDPROC_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Every descriptor above stdio is closed on exec, whoever opened it (a
 * library's socket, one inherited from our own parent). */
void childproc_close_inherited(void);

/* SIGPIPE and SIGHUP back to their defaults, no signal blocked. */
void childproc_default_signals(void);

/* Starts path with argv and env without forking the daemon's memory
 * (posix_spawn: a large daemon's fork copies its page tables): a session
 * (and process group) of its own, so a timeout can kill all of it; stdin
 * from in_fd (or /dev/null when -1), stdout on /dev/null, stderr the
 * daemon's when keep_stderr, else /dev/null; no other descriptor; default
 * signals, none blocked. Returns 0 with the pid, or an errno value (also
 * when the program could not be executed). */
int childproc_spawn(const char *path, char *const argv[], char *const env[], int in_fd,
                    bool keep_stderr, pid_t *pid);

/* An executable regular file? Returns 0 or -errno (-EACCES for a folder). */
int childproc_runnable(const char *path);

#endif
