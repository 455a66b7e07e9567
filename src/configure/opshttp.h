/* configure_conman's /healthz, /readyz and /metrics, served by
 * libmicrohttpd's own thread from a copy of the main loop's opsstats. */
#ifndef CONFIGURE_OPSHTTP_H
#define CONFIGURE_OPSHTTP_H

#include "configure/opsstats.h"

struct opshttp;

/* Creates the server for `addr` (IPv4) and `port` and tries to listen at
 * once; a failure is logged and retried by opshttp_tick(), never fatal.
 * Returns NULL only when out of memory. Freed by opshttp_close(). */
struct opshttp *opshttp_open(const char *addr, long port);

/* Main loop, every turn: copies `s` for the HTTP thread and retries a
 * failed listen every few seconds. `now_mono` is CLOCK_MONOTONIC seconds. */
void opshttp_tick(struct opshttp *h, const struct opsstats *s, double now_mono);

/* Stops the thread and frees `h` (NULL is fine). */
void opshttp_close(struct opshttp *h);

#endif
