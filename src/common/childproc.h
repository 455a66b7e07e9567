/* What a forked child of the daemon does before exec, shared by process
 * consoles, resetcmd and eventexec: nothing of the daemon's (descriptors,
 * ignored or blocked signals) reaches the program it runs. Only
 * async-signal-safe calls: the daemon has threads. */
#ifndef COMMON_CHILDPROC_H
#define COMMON_CHILDPROC_H

#include <stdbool.h>
#include <sys/stat.h>

/* Every descriptor above stdio is closed on exec, whoever opened it (a
 * library's socket, one inherited from our own parent). */
void childproc_close_inherited(void);

/* SIGPIPE and SIGHUP back to their defaults, no signal blocked. */
void childproc_default_signals(void);

/* A session (and process group) of its own, so a timeout can kill all of
 * it; stdin from in_fd (or /dev/null when -1), stdout on /dev/null, stderr
 * the daemon's when keep_stderr, else /dev/null; then the two above. */
void childproc_detach(int in_fd, bool keep_stderr);

/* An executable regular file? Returns 0 or -errno (-EACCES for a folder). */
int childproc_runnable(const char *path);

#endif
