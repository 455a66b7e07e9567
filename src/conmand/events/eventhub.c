/* Console events of a server: rules in force, per-console state, ring. */
#include "conmand/events/eventhub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileutil.h"
#include "common/jsonbuf.h"
#include "common/log.h"

int eventhub_read_rules(const char *path, struct rules **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(path, EVENTS_RULES_MAX_BYTES, &text, &len, err, errlen);
    if (rc == 0)
        rc = rules_parse(path, text, len, out, err, errlen);
    free(text);
    return rc;
}

void eventhub_adopt(struct eventhub *h, struct rules *rules, const char *path)
{
    rules_free(h->rules);
    h->rules = rules;
    free(h->path);
    h->path = rules && path ? strdup(path) : NULL;
}

static void record_release(struct event_record *r)
{
    free(r->console);
    free(r->log);
    memset(r, 0, sizeof(*r));
}

void eventhub_release(struct eventhub *h)
{
    if (h->ring)
        for (size_t i = 0; i < EVENTS_RING; i++)
            record_release(&h->ring[i]);
    free(h->ring);
    eventhub_adopt(h, NULL, NULL);
    memset(h, 0, sizeof(*h));
}

int console_events_create(struct rules *rules, struct console_events **out)
{
    *out = NULL;
    if (!rules)
        return 0;
    struct console_events *e = calloc(1, sizeof(*e));
    size_t n = rules_count(rules);
    if (!e)
        return -ENOMEM;
    e->n = n;
    e->counts = calloc(n ? n : 1, sizeof(*e->counts));
    e->last = calloc(n ? n : 1, sizeof(*e->last));
    e->open_seq = calloc(n ? n : 1, sizeof(*e->open_seq));
    if (!e->counts || !e->last || !e->open_seq ||
        matcher_init(&e->m, rules, MATCHER_QUIET_MS) < 0) {
        console_events_free(e);
        return -ENOMEM;
    }
    *out = e;
    return 0;
}

void console_events_free(struct console_events *e)
{
    if (!e)
        return;
    matcher_release(&e->m);
    free(e->counts);
    free(e->last);
    free(e->open_seq);
    free(e);
}

const struct event_record *eventhub_at(const struct eventhub *h, size_t k)
{
    size_t held = h->seq < EVENTS_RING ? (size_t)h->seq : EVENTS_RING;
    if (!h->ring || k >= held)
        return NULL;
    size_t oldest = h->seq < EVENTS_RING ? 0 : h->next;
    return &h->ring[(oldest + k) % EVENTS_RING];
}

/* The ring slot of event `seq`, or NULL once it has been overwritten. */
static struct event_record *slot_of(struct eventhub *h, uint64_t seq)
{
    if (!h->ring || !seq || seq > h->seq || h->seq - seq >= EVENTS_RING)
        return NULL;
    struct event_record *r = &h->ring[(seq - 1) % EVENTS_RING];
    return r->seq == seq ? r : NULL;
}

static void start_event(const struct eventhub_feed *f, const struct matcher_event *ev)
{
    struct eventhub *h = f->hub;
    if (!h->ring && !(h->ring = calloc(EVENTS_RING, sizeof(*h->ring)))) {
        log_error("Console [%s]: out of memory keeping an event", f->console);
        return;
    }
    char *console = strdup(f->console), *log = f->log ? strdup(f->log) : NULL;
    if (!console || (f->log && !log)) {
        free(console);
        free(log);
        log_error("Console [%s]: out of memory keeping an event", f->console);
        return;
    }
    struct event_record *r = &h->ring[h->next];
    record_release(r);
    r->seq = ++h->seq;
    h->next = (h->next + 1) % EVENTS_RING;
    r->console = console;
    r->log = log;
    snprintf(r->rule, sizeof(r->rule), "%s", rules_name(h->rules, ev->rule));
    r->severity = ev->severity;
    r->time = (time_t)(ev->time_ms / 1000);
    r->generation = f->generation;
    r->offset = ev->offset;
    r->lines = ev->lines;
    r->len = ev->len < MATCHER_LINE_MAX ? ev->len : MATCHER_LINE_MAX;
    memcpy(r->line, ev->line, r->len);
    r->line[r->len] = '\0';
    f->ev->open_seq[ev->rule] = r->seq;
    /* The line was stripped of control characters: safe in one log line. */
    log_info("Console [%s] event %s (%s) in %s at offset %llu: %.200s", f->console, r->rule,
             rules_severity_name(r->severity), f->log ? f->log : "(not logged)",
             (unsigned long long)r->offset, r->line);
    if (h->listener)
        h->listener(h->listener_arg, r);
}

void event_record_json(struct strbuf *sb, const struct event_record *r, const char *file)
{
    strbuf_addf(sb, "{\"kind\":\"event\",\"seq\":%llu,\"console\":", (unsigned long long)r->seq);
    json_add_string(sb, r->console);
    strbuf_adds(sb, ",\"rule\":");
    json_add_string(sb, r->rule);
    strbuf_addf(sb, ",\"severity\":\"%s\",\"time\":", rules_severity_name(r->severity));
    json_add_time(sb, r->time);
    strbuf_adds(sb, ",\"log\":");
    json_add_string(sb, file);
    strbuf_addf(sb, ",\"offset\":%llu,\"lines\":%u,\"line\":", (unsigned long long)r->offset,
                r->lines);
    json_add_string(sb, r->line);
    strbuf_adds(sb, "}");
}

static void on_match(void *arg, const struct matcher_event *ev)
{
    const struct eventhub_feed *f = arg;
    struct console_events *e = f->ev;
    if (ev->rule >= e->n)
        return;
    e->last[ev->rule] = (time_t)(ev->time_ms / 1000);
    if (ev->kind == MATCHER_START) {
        e->counts[ev->rule]++;
        start_event(f, ev);
        return;
    }
    struct event_record *r = slot_of(f->hub, e->open_seq[ev->rule]);
    if (r)
        r->lines = ev->lines;
}

void eventhub_feed(const struct eventhub_feed *f, const char *buf, size_t len, uint64_t offset)
{
    if (!f->ev || !f->hub->rules)
        return;
    matcher_feed(&f->ev->m, (const unsigned char *)buf, len, offset, f->now_ms, on_match,
                 (void *)f);
}
