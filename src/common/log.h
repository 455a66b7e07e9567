/* The process logger: one line per event, with UTC timestamp and level.
 * The only global state allowed in the project. Never pass a secret. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdio.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Where lines go (default stderr) and the lowest level written (default INFO).
 * The logger does not own `out`. */
void log_init(const char *program, FILE *out, enum log_level min_level);
void log_set_output(FILE *out);
void log_set_level(enum log_level min_level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
