/* /metrics and /consoles, built a slice at a time on the loop thread. */
#include "conmand/http/scrape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/jsonbuf.h"
#include "common/textenc.h"
#include "conmand/clients/client.h"
#include "conmand/clients/webclient.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/registry.h"
#include "conmand/consoles/types.h"
#include "conmand/events/eventexec.h"
#include "conmand/events/eventhub.h"
#include "conmand/ship/shipper.h"

/* A per-console family of /metrics. */
struct family {
    const char *name, *type, *help;
    unsigned long long (*value)(const struct console *c, time_t now);
};

static unsigned long long v_up(const struct console *c, time_t now)
{
    (void)now;
    return c->state == CONSOLE_UP;
}
static unsigned long long v_connects(const struct console *c, time_t now)
{
    (void)now;
    return c->stats.connects;
}
static unsigned long long v_disconnects(const struct console *c, time_t now)
{
    (void)now;
    return c->stats.disconnects;
}
static unsigned long long v_attempts(const struct console *c, time_t now)
{
    (void)now;
    return c->stats.attempts;
}
static unsigned long long v_read(const struct console *c, time_t now)
{
    (void)now;
    return c->stats.bytes_read;
}
static unsigned long long v_logged(const struct console *c, time_t now)
{
    (void)now;
    return c->log.logged;
}
static unsigned long long v_dropped(const struct console *c, time_t now)
{
    (void)now;
    return c->log.lost;
}
/* Silence so far: since the last output, or since conmand started watching
 * a console that has printed nothing (a node that never talks is silent). */
static unsigned long long v_output_age(const struct console *c, time_t now)
{
    time_t last = c->stats.last_output ? c->stats.last_output : c->stats.created;
    return now > last ? (unsigned long long)(now - last) : 0;
}
static unsigned long long v_clients(const struct console *c, time_t now)
{
    (void)now;
    return c->nreaders;
}
static unsigned long long v_since(const struct console *c, time_t now)
{
    (void)now;
    return (unsigned long long)c->stats.since;
}

static const struct family families[] = {
    {"conman_console_up", "gauge", "1 while the console is connected to its device", v_up},
    {"conman_console_connects_total", "counter", "Times the console came up", v_connects},
    {"conman_console_disconnects_total", "counter", "Times the console went down after being up",
     v_disconnects},
    {"conman_console_connect_attempts_total", "counter",
     "Connection attempts, the first and every reconnect", v_attempts},
    {"conman_console_read_bytes_total", "counter", "Bytes read from the console's device", v_read},
    {"conman_console_logged_bytes_total", "counter", "Bytes written to the console's log files",
     v_logged},
    {"conman_console_dropped_bytes_total", "counter",
     "Bytes of the console's log lost because the file could not be written (disk full...)",
     v_dropped},
    {"conman_console_output_age_seconds", "gauge",
     "Seconds since the console's last output (since conmand started watching it, if none)",
     v_output_age},
    {"conman_console_clients", "gauge", "Clients attached to the console", v_clients},
    {"conman_console_state_since_timestamp_seconds", "gauge",
     "When the console last came up or went down (or was added), unix time", v_since},
};
#define NFAMILIES (sizeof(families) / sizeof(families[0]))

/* "remote": a peer: console, served (and reported) by another conmand. */
static const char *const state_names[] = {"down", "connecting", "up", "remote"};
#define NSTATES 4
#define STATE_REMOTE 3
#define NTYPES (CONSOLE_TYPES_MAX + 1) /* the last: no known type */

struct cursor {
    size_t part;  /* metrics: a family, then NFAMILIES for the process-wide part */
    char *after;  /* the last console written in this part; NULL: none yet */
    bool started; /* /consoles: "[" written */
    bool first;   /* /consoles: no object written yet */
    time_t now;   /* one clock for the whole page */
    size_t by_type_state[NTYPES][NSTATES]; /* counted during the first part */
};

/* `<base>console="<escaped>"} <value>` and a LF; `base` ends in "{" or ",". */
static void sample(struct strbuf *sb, const char *base, const char *console, const char *value)
{
    size_t blen = strlen(base), clen = strlen(console), vlen = strlen(value);
    char *q = strbuf_room(sb, blen + TEXTENC_PROM_MAX(clen) + vlen + 16);
    if (!q)
        return;
    char *o = q;
    memcpy(o, base, blen);
    o += blen;
    memcpy(o, "console=\"", 9);
    o = textenc_prom_label(o + 9, (const unsigned char *)console, clen);
    memcpy(o, "\"} ", 3);
    memcpy(o + 3, value, vlen);
    o += 3 + vlen;
    *o++ = '\n';
    strbuf_commit(sb, (size_t)(o - q));
}

void scrape_labelled_sample(struct strbuf *sb, const char *base, const char *console, double value)
{
    char v[40];
    snprintf(v, sizeof(v), "%.17g", value);
    sample(sb, base, console, v);
}

void scrape_console_sample(struct strbuf *sb, const char *name, const char *console,
                           unsigned long long value)
{
    char base[128], v[24];
    size_t n = strlen(name) < sizeof(base) - 2 ? strlen(name) : sizeof(base) - 2;
    memcpy(base, name, n); /* a family name: short, no snprintf per sample */
    base[n] = '{';
    base[n + 1] = '\0';
    snprintf(v, sizeof(v), "%llu", value);
    sample(sb, base, console, v);
}

static size_t state_of(const struct console *c)
{
    return console_is_remote(c) ? STATE_REMOTE : (size_t)c->state;
}

static size_t type_index(const struct console *c)
{
    for (size_t i = 0; console_types[i] && i < CONSOLE_TYPES_MAX; i++)
        if (console_types[i] == c->type)
            return i;
    return NTYPES - 1;
}

static struct cursor *cursor_of(struct httpd_job *job)
{
    if (!job->state) {
        struct cursor *k = calloc(1, sizeof(*k));
        if (!k)
            return NULL;
        k->now = time(NULL);
        k->first = true;
        job->state = k;
    }
    return job->state;
}

/* Remembers where a part stopped; false when out of memory. */
static bool remember(struct cursor *k, const char *name)
{
    char *copy = strdup(name);
    if (!copy)
        return false;
    free(k->after);
    k->after = copy;
    return true;
}

/* The consoles of a part from where it stopped, until done (true) or the
 * deadline; checks the clock every few consoles. */
static bool walk(const struct scrape_source *src, struct httpd_job *job, struct cursor *k,
                 uint64_t deadline_ns,
                 void (*one)(const struct scrape_source *, struct httpd_job *, struct cursor *,
                             const struct console *))
{
    const struct console_registry *r = src->consoles;
    size_t i = k->after ? registry_index_after(r, k->after) : 0;
    for (unsigned n = 0; i < r->n; i++, n++) {
        if ((n & 31) == 31 && uv_hrtime() >= deadline_ns) {
            if (!remember(k, r->v[i - 1]->cfg.name))
                job->body.failed = true;
            return job->body.failed;
        }
        one(src, job, k, r->v[i]);
    }
    free(k->after);
    k->after = NULL;
    return true;
}

static void metric_one(const struct scrape_source *src, struct httpd_job *job, struct cursor *k,
                       const struct console *c)
{
    (void)src;
    const struct family *f = &families[k->part];
    if (k->part == 0)
        k->by_type_state[type_index(c)][state_of(c)]++;
    if (console_is_remote(c))
        return; /* its owner exports its samples: one series per console */
    scrape_console_sample(&job->body, f->name, c->cfg.name, f->value(c, k->now));
}

static void header(struct strbuf *sb, const char *name, const char *type, const char *help)
{
    strbuf_addf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct strbuf *sb, const char *name, const char *help, unsigned long long value)
{
    header(sb, name, "counter", help);
    strbuf_addf(sb, "%s %llu\n", name, value);
}

static void gauge(struct strbuf *sb, const char *name, const char *help, double value)
{
    header(sb, name, "gauge", help);
    strbuf_addf(sb, "%s %.17g\n", name, value);
}

static void consoles_by_type(struct strbuf *sb, const struct cursor *k)
{
    header(sb, "conman_consoles", "gauge", "Consoles by type and state");
    for (size_t t = 0; t < NTYPES; t++) {
        bool unknown = t == NTYPES - 1;
        if (!unknown && !console_types[t]) {
            t = NTYPES - 2; /* the table ended: "unknown" is next */
            continue;
        }
        for (size_t st = 0; st < NSTATES; st++)
            strbuf_addf(sb, "conman_consoles{type=\"%s\",state=\"%s\"} %zu\n",
                        unknown ? "unknown" : console_types[t]->name, state_names[st],
                        k->by_type_state[t][st]);
    }
}

static void logs_part(struct strbuf *sb, const struct console_hub *hub)
{
    const struct logbudget_stats *b = &hub->logs.budget.stats;
    counter(sb, "conman_log_write_errors_total",
            "Failed console log opens and writes (the bytes are counted as dropped)",
            (unsigned long long)hub->logs.write_errors);
    counter(sb, "conman_log_rotations_total", "Console logs rotated by conmand (SERVER logsize)",
            (unsigned long long)b->rotations);
    counter(sb, "conman_log_budget_deletes_total",
            "Rotated console logs deleted to keep SERVER logbudget",
            (unsigned long long)b->budget_deletes);
    header(sb, "conman_log_bytes", "gauge", "Bytes of console logs on disk, live and rotated");
    strbuf_addf(sb,
                "conman_log_bytes{kind=\"live\"} %llu\nconman_log_bytes{kind=\"rotated\"} %llu\n",
                (unsigned long long)b->live_bytes, (unsigned long long)b->rotated_bytes);
}

static void ship_part(struct strbuf *sb, const struct shipper *ship)
{
    if (!ship)
        return;
    const struct shipper_stats *s = &ship->stats;
    header(sb, "conman_ship_lines_total", "counter", "Console lines shipped (SERVER logship)");
    strbuf_addf(sb,
                "conman_ship_lines_total{target=\"tcp\"} %llu\n"
                "conman_ship_lines_total{target=\"file\"} %llu\n",
                (unsigned long long)s->lines_shipped, (unsigned long long)s->file_lines);
    header(sb, "conman_ship_bytes_total", "counter", "JSON bytes shipped");
    strbuf_addf(sb,
                "conman_ship_bytes_total{target=\"tcp\"} %llu\n"
                "conman_ship_bytes_total{target=\"file\"} %llu\n",
                (unsigned long long)s->bytes_shipped, (unsigned long long)s->file_bytes);
    header(sb, "conman_ship_dropped_lines_total", "counter",
           "Console lines not shipped (collector away with the buffer full, failed writes)");
    strbuf_addf(sb,
                "conman_ship_dropped_lines_total{target=\"tcp\"} %llu\n"
                "conman_ship_dropped_lines_total{target=\"file\"} %llu\n",
                (unsigned long long)s->lines_dropped, (unsigned long long)s->file_write_errors);
    counter(sb, "conman_ship_reconnects_total", "Connections to the collector after the first",
            (unsigned long long)s->reconnects);
    gauge(sb, "conman_ship_connected", "1 while connected to the tcp collector",
          s->tcp_state == SHIPPER_TCP_UP);
}

static double rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (double)rss * (double)sysconf(_SC_PAGESIZE);
}

static void process_part(struct strbuf *sb, const struct scrape_source *src,
                         const struct httpd_job *job)
{
    struct rusage ru;
    struct rlimit rl;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
              ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    gauge(sb, "process_start_time_seconds", "Start time of the process, unix time",
          (double)src->counters->started);
    header(sb, "process_cpu_seconds_total", "counter", "User and system CPU time");
    strbuf_addf(sb, "process_cpu_seconds_total %.6f\n", cpu);
    gauge(sb, "process_resident_memory_bytes", "Resident memory", rss_bytes());
    if (job->open_fds >= 0)
        gauge(sb, "process_open_fds", "Open file descriptors", (double)job->open_fds);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        gauge(sb, "process_max_fds", "The open file limit", (double)rl.rlim_cur);
}

static void http_part(struct strbuf *sb, const struct httpd_stats *h)
{
    counter(sb, "conman_http_pages_total", "/metrics and /consoles pages built",
            (unsigned long long)h->pages);
    gauge(sb, "conman_http_slice_max_seconds",
          "Longest the event loop spent building pages in one turn", (double)h->slice_max_ns / 1e9);
    gauge(sb, "conman_http_last_build_seconds",
          "Wall time from the first slice of the latest page to its last",
          (double)h->last_build_ns / 1e9);
}

/* Console events (SERVER eventrules): per console and rule, only those that
 * happened (10,000 consoles x 17 rules of zeros would be most of the page),
 * and per rule the matches that hit a PCRE2 limit. */
/* One sample per console and rule that has had an event: the event count
 * (with the severity label), or the last event's time. */
static void console_rule_samples(struct strbuf *sb, const struct scrape_source *src,
                                 const char *family, bool counts)
{
    const struct rules *rules = src->hub->events->rules;
    size_t nrules = rules_count(rules);
    const struct console_registry *r = src->consoles;
    for (size_t i = 0; i < r->n; i++) {
        const struct console_events *e = r->v[i]->events;
        for (size_t k = 0; e && k < e->n && k < nrules; k++) {
            double v = counts ? (double)e->counts[k] : (double)e->last[k];
            if (!v)
                continue;
            char base[200];
            snprintf(base, sizeof(base), "%s{rule=\"%s\",%s%s%s", family, rules_name(rules, k),
                     counts ? "severity=\"" : "",
                     counts ? rules_severity_name(rules_severity(rules, k)) : "",
                     counts ? "\"," : "");
            scrape_labelled_sample(sb, base, r->v[i]->cfg.name, v);
        }
    }
}

/* SERVER eventexec: how the runs ended. */
static void eventexec_part(struct strbuf *sb, const struct scrape_source *src)
{
    const struct eventexec *x = src->eventexec;
    if (!x || !src->hub->settings->eventexec)
        return;
    header(sb, "conman_event_exec_total", "counter",
           "SERVER eventexec runs by how they ended (dropped: the queue was full)");
    strbuf_addf(sb,
                "conman_event_exec_total{result=\"ok\"} %llu\n"
                "conman_event_exec_total{result=\"failed\"} %llu\n"
                "conman_event_exec_total{result=\"timeout\"} %llu\n"
                "conman_event_exec_total{result=\"dropped\"} %llu\n",
                (unsigned long long)x->stats.ok, (unsigned long long)x->stats.failed,
                (unsigned long long)x->stats.timed_out, (unsigned long long)x->stats.dropped);
    gauge(sb, "conman_event_exec_running", "SERVER eventexec programs running now",
          (double)x->nrunning);
    gauge(sb, "conman_event_exec_waiting", "Events waiting for a free eventexec slot",
          (double)x->nqueued);
}

static void events_part(struct strbuf *sb, const struct scrape_source *src)
{
    const struct eventhub *h = src->hub->events;
    size_t nrules = h && h->rules ? rules_count(h->rules) : 0;
    gauge(sb, "conman_event_rules", "Console event rules in force (SERVER eventrules)",
          (double)nrules);
    if (!nrules)
        return;
    header(sb, "conman_console_events_total", "counter",
           "Console events by console, rule and severity (since the rules were loaded)");
    console_rule_samples(sb, src, "conman_console_events_total", true);
    header(sb, "conman_console_last_event_timestamp_seconds", "gauge",
           "When the console's last event of the rule began, unix time");
    console_rule_samples(sb, src, "conman_console_last_event_timestamp_seconds", false);
    header(sb, "conman_event_limit_hits_total", "counter",
           "Rule matches stopped by PCRE2's match limit (no event): a rule to fix");
    unsigned long long hits[RULES_MAX] = {0};
    const struct console_registry *r = src->consoles;
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; r->v[i]->events && k < r->v[i]->events->n && k < nrules; k++)
            hits[k] += matcher_limit_hits(&r->v[i]->events->m, k);
    for (size_t k = 0; k < nrules; k++)
        strbuf_addf(sb, "conman_event_limit_hits_total{rule=\"%s\"} %llu\n",
                    rules_name(h->rules, k), hits[k]);
}

/* Everything that is not per console: small, written in one go. */
static void server_part(const struct scrape_source *src, struct httpd_job *job,
                        const struct cursor *k)
{
    struct strbuf *sb = &job->body;
    consoles_by_type(sb, k);
    gauge(sb, "conman_clients", "Client connections open", (double)src->clients->stats.connected);
    counter(sb, "conman_client_connections_total", "Client connections accepted",
            (unsigned long long)src->clients->stats.accepted);
    counter(sb, "conman_client_dropped_bytes_total",
            "Console output dropped for clients too slow to read it",
            (unsigned long long)src->clients->stats.dropped_bytes);
    gauge(sb, "conman_web_viewers", "Web console viewers (WebSockets) open",
          (double)src->web->stats.viewers);
    counter(sb, "conman_web_viewers_total", "Web console viewers opened",
            (unsigned long long)src->web->stats.opened);
    counter(sb, "conman_web_viewers_dropped_total",
            "Web console viewers dropped for not reading their output",
            (unsigned long long)src->web->stats.dropped_slow);
    header(sb, "conman_reloads_total", "counter", "Configuration reloads (SIGHUP) by result");
    strbuf_addf(sb,
                "conman_reloads_total{result=\"applied\"} %llu\n"
                "conman_reloads_total{result=\"refused\"} %llu\n",
                (unsigned long long)src->counters->reloads_applied,
                (unsigned long long)src->counters->reloads_refused);
    logs_part(sb, src->hub);
    events_part(sb, src);
    eventexec_part(sb, src);
    ship_part(sb, src->hub->ship);
    http_part(sb, httpd_stats(*src->http));
    process_part(sb, src, job);
}

static bool metrics_step(const struct scrape_source *src, struct httpd_job *job, struct cursor *k,
                         uint64_t deadline_ns)
{
    while (k->part < NFAMILIES) {
        const struct family *f = &families[k->part];
        if (!k->after)
            header(&job->body, f->name, f->type, f->help);
        if (!walk(src, job, k, deadline_ns, metric_one))
            return false;
        k->part++;
        if (uv_hrtime() >= deadline_ns)
            return false;
    }
    server_part(src, job, k);
    return true;
}

/* /consoles: the console's last event (rule and time) and its last boot
 * (the rule named "boot", as in etc/conman-events.rules). */
static void console_events_fields(struct strbuf *sb, const struct scrape_source *src,
                                  const struct console *c)
{
    const struct eventhub *h = src->hub->events;
    const struct console_events *e = c->events;
    size_t last = SIZE_MAX, boot = SIZE_MAX;
    for (size_t k = 0; h && h->rules && e && k < e->n; k++) {
        if (e->last[k] && (last == SIZE_MAX || e->last[k] > e->last[last]))
            last = k;
        if (!strcmp(rules_name(h->rules, k), "boot"))
            boot = k;
    }
    strbuf_adds(sb, ",\"last_event\":");
    if (last == SIZE_MAX) {
        strbuf_adds(sb, "null");
    } else {
        strbuf_adds(sb, "{\"rule\":");
        json_add_string(sb, rules_name(h->rules, last));
        strbuf_adds(sb, ",\"time\":");
        json_add_time(sb, e->last[last]);
        strbuf_adds(sb, "}");
    }
    strbuf_adds(sb, ",\"last_boot\":");
    json_add_time(sb, boot == SIZE_MAX ? 0 : e->last[boot]);
}

static void console_object(const struct scrape_source *src, struct httpd_job *job, struct cursor *k,
                           const struct console *c)
{
    (void)src;
    struct strbuf *sb = &job->body;
    strbuf_adds(sb, k->first ? "\n{\"name\":" : ",\n{\"name\":");
    k->first = false;
    json_add_string(sb, c->cfg.name);
    strbuf_adds(sb, ",\"type\":");
    json_add_string(sb, c->type ? c->type->name : NULL);
    strbuf_addf(sb, ",\"state\":\"%s\",\"owner\":", state_names[state_of(c)]);
    json_add_string(sb, console_is_remote(c) ? c->type->dev_id(c->cfg.dev) : NULL);
    strbuf_adds(sb, ",\"since\":");
    json_add_time(sb, c->stats.since);
    strbuf_adds(sb, ",\"last_error\":");
    json_add_string(sb, c->stats.last_error[0] ? c->stats.last_error : NULL);
    strbuf_adds(sb, ",\"log\":");
    json_add_string(sb, c->log.path);
    strbuf_addf(sb, ",\"clients\":%zu,\"last_output\":", c->nreaders);
    json_add_time(sb, c->stats.last_output);
    strbuf_addf(sb, ",\"connects\":%llu,\"dropped_bytes\":%llu",
                (unsigned long long)c->stats.connects, (unsigned long long)c->log.lost);
    console_events_fields(sb, src, c);
    strbuf_adds(sb, "}");
}

static bool consoles_step(const struct scrape_source *src, struct httpd_job *job, struct cursor *k,
                          uint64_t deadline_ns)
{
    if (!k->started) {
        strbuf_adds(&job->body, "[");
        k->started = true;
    }
    if (!walk(src, job, k, deadline_ns, console_object))
        return false;
    strbuf_adds(&job->body, "\n]\n");
    return true;
}

/* Where an event's line is now: its log file, or the rotated file that
 * became of it (console.<name>.<k>, k rotations later); NULL when not
 * logged or rotated past logkeep (deleted). */
static bool event_file(const struct scrape_source *src, const struct event_record *r, char *out,
                       size_t outlen)
{
    if (!r->log)
        return false;
    const struct console *c = registry_find(src->consoles, r->console);
    uint64_t k =
        c && c->log.path && !strcmp(c->log.path, r->log) && c->log.generation > r->generation
            ? c->log.generation - r->generation
            : 0;
    if (k > (uint64_t)src->hub->settings->logkeep)
        return false;
    if (k)
        snprintf(out, outlen, "%s.%llu", r->log, (unsigned long long)k);
    else
        snprintf(out, outlen, "%s", r->log);
    return true;
}

static bool event_wanted(const struct httpd_filter *f, const struct event_record *r)
{
    return (!f->console[0] || !strcmp(f->console, r->console)) &&
           (!f->rule[0] || !strcmp(f->rule, r->rule)) && (long long)r->time >= f->since;
}

/* /events: the ring (EVENTS_RING at most, a few hundred KiB), oldest first,
 * in one go. */
static void events_page(const struct scrape_source *src, struct httpd_job *job)
{
    struct strbuf *sb = &job->body;
    const struct eventhub *h = src->hub->events;
    bool first = true;
    char file[4200];
    strbuf_adds(sb, "[");
    for (size_t k = 0; h; k++) {
        const struct event_record *r = eventhub_at(h, k);
        if (!r)
            break;
        if (!event_wanted(&job->filter, r))
            continue;
        strbuf_adds(sb, first ? "\n" : ",\n");
        first = false;
        event_record_json(sb, r, event_file(src, r, file, sizeof(file)) ? file : NULL);
    }
    strbuf_adds(sb, "\n]\n");
}

bool scrape_step(void *ctx, struct httpd_job *job, uint64_t deadline_ns)
{
    const struct scrape_source *src = ctx;
    struct cursor *k = cursor_of(job);
    if (!k) {
        job->body.failed = true;
        return true;
    }
    if (job->page == HTTPD_PAGE_EVENTS) {
        events_page(src, job);
        return true;
    }
    bool done = job->page == HTTPD_PAGE_METRICS ? metrics_step(src, job, k, deadline_ns)
                                                : consoles_step(src, job, k, deadline_ns);
    return done || job->body.failed;
}

void scrape_release(void *ctx, struct httpd_job *job)
{
    (void)ctx;
    struct cursor *k = job->state;
    if (k)
        free(k->after);
    free(k);
    job->state = NULL;
}
