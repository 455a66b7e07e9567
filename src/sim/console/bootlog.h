/* Boot-log-like console lines: kernel messages, then systemd, then a quiet
 * running system. Every line carries the console name and a sequence number
 * so a reader can tell which console it came from and whether any were lost. */
#ifndef SIM_CONSOLE_BOOTLOG_H
#define SIM_CONSOLE_BOOTLOG_H

#include <stddef.h>
#include <stdint.h>

/* Longest line bootlog_format writes, terminator included. */
#define BOOTLOG_LINE_MAX 512

/* Writes line number `seq` (1-based) of console `name` into buf, as
 *   "[    1.234567] NAME #00000042 systemd[1]: Started Journal Service.\r\n"
 * where the bracket holds `uptime_us` as seconds. The message depends only on
 * seq, so a reader can recompute it. Returns the length written (without the
 * NUL), or 0 when buf is too small or seq is 0. Pure. */
size_t bootlog_format(char *buf, size_t size, const char *name, uint64_t seq, uint64_t uptime_us);

/* Parses a line written by bootlog_format: fills name (up to name_size-1
 * bytes) and seq. Returns 0, or -EINVAL when the line is not one of ours. */
int bootlog_parse(const char *line, char *name, size_t name_size, uint64_t *seq);

#endif
