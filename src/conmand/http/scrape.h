/* The loop's pages: /metrics (Prometheus text format 0.0.4) and /consoles
 * (a JSON array), built from the running consoles, clients, logs and log
 * shipping, a slice at a time (http/httpd.h). The consoles are walked by
 * name, so a page continued after a reload neither repeats nor skips a
 * console that stayed; one added or removed meanwhile may or may not be in
 * it. */
#ifndef CONMAND_HTTP_SCRAPE_H
#define CONMAND_HTTP_SCRAPE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "conmand/http/httpd.h"

struct console_hub;
struct console_registry;
struct client_hub;
struct eventexec;

/* The daemon's own counters. */
struct scrape_counters {
    uint64_t reloads_applied, reloads_refused;
    time_t started; /* process start, wall clock */
};

/* Where the pages read from; all owned by the daemon and read on the loop
 * thread only. */
struct web_hub;

struct scrape_source {
    const struct console_registry *consoles;
    const struct console_hub *hub; /* logs (rotation, budget) and shipping */
    const struct client_hub *clients;
    const struct scrape_counters *counters;
    struct httpd *const *http;         /* its page-building counters */
    const struct eventexec *eventexec; /* SERVER eventexec runs */
    struct web_hub *web;               /* web viewers (its hub takes new ones) */
};

/* The httpd_builder functions; ctx is a struct scrape_source. */
bool scrape_step(void *ctx, struct httpd_job *job, uint64_t deadline_ns);
void scrape_release(void *ctx, struct httpd_job *job);

/* Pure: appends `<base>console="<escaped>"} value` and a LF, `base` being
 * the name and the other labels: `name{rule="r",`. */
void scrape_labelled_sample(struct strbuf *sb, const char *base, const char *console, double value);

/* Pure: appends one sample `name{console="<escaped>"} value` and a LF. */
void scrape_console_sample(struct strbuf *sb, const char *name, const char *console,
                           unsigned long long value);

#endif
