/* The daemon's hold on its configuration file, as conman's: an fcntl read
 * lock on the whole file for as long as the daemon runs. A second conmand
 * on the same file sees it and refuses to start; -k, -q and -r find the
 * running daemon's pid through it (F_GETLK names the holder).
 *
 * fcntl locks belong to the process, and closing ANY descriptor of the file
 * drops them, so the file must never be opened a second time while locked:
 * conflock_read() reads it through the locked descriptor while the path
 * still names that file, and moves the lock to a new file when an editor
 * or ConfigMap update replaced it. The holder is process-wide state because
 * the lock is: there is one per process. */
#ifndef CONMAND_CONF_CONFLOCK_H
#define CONMAND_CONF_CONFLOCK_H

#include <stddef.h>
#include <sys/types.h>

/* Opens `path` for reading (kept open, close-on-exec, not yet locked).
 * Returns 0 or -errno with a message naming the file. */
int conflock_open(const char *path, char *err, size_t errlen);

/* The pid holding a lock on the open file (not this process), 0 if none,
 * or -errno. */
pid_t conflock_holder(void);

/* Takes the lock (in the process that will run: locks do not survive a
 * fork). Returns 0; -EBUSY when another process holds the file, with
 * "Configuration "FILE" in use by pid N" in err; or -errno. */
int conflock_take(char *err, size_t errlen);

/* Reads all of `path` (at most `max` bytes) into a malloc'd NUL-terminated
 * buffer without dropping the lock (see above). Same contract as
 * file_read_all(). */
int conflock_read(const char *path, size_t max, char **out, size_t *out_len, char *err,
                  size_t errlen);

/* Closes the file, dropping the lock. */
void conflock_close(void);

#endif
