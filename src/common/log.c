/* The process logger. Lines are built whole, then written with one call so
 * concurrent writers (parent and child on a shared stderr) do not interleave. */
#include "common/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

static struct {
    const char *program;
    FILE *out;
    enum log_level min_level;
} logger = {"", NULL, LOG_LEVEL_INFO};

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_init(const char *program, FILE *out, enum log_level min_level)
{
    logger.program = program ? program : "";
    logger.out = out;
    logger.min_level = min_level;
}

void log_set_output(FILE *out)
{
    logger.out = out;
}

void log_set_level(enum log_level min_level)
{
    logger.min_level = min_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < logger.min_level)
        return;
    FILE *out = logger.out ? logger.out : stderr;

    char line[2048];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, " %s %s: ", level_names[level],
                  logger.program);

    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (body < 0)
        body = 0;
    n += body;
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    /* A message never spans lines: newlines inside it would forge log lines. */
    for (int i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, out);
    fflush(out);
}
