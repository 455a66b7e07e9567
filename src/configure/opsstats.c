/* configure_conman's operational state as decisions and Prometheus text;
 * pure, so the unit tests call it directly. */
#include "configure/opsstats.h"

#include "common/numparse.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

/* Upper bounds of the HSM request buckets; the last is +Inf. A healthy
 * HSM answers in well under a second, HSM_TIMEOUT_SEC defaults to 10. */
static const double BOUNDS[OPSSTATS_BUCKETS - 1] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

void opsstats_hsm_request(struct opsstats *s, double seconds, bool failed)
{
    size_t i = 0;
    while (i < OPSSTATS_BUCKETS - 1 && seconds > BOUNDS[i])
        i++;
    s->hsm_buckets[i]++;
    s->hsm_seconds_sum += seconds;
    s->hsm_requests++;
    if (failed)
        s->hsm_errors++;
}

void opsstats_cause_name(int status, char *buf, size_t buflen)
{
    if (WIFEXITED(status)) {
        snprintf(buf, buflen, "exit_%d", WEXITSTATUS(status));
        return;
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    const char *abbrev = sig ? sigabbrev_np(sig) : NULL;
    if (abbrev)
        snprintf(buf, buflen, "signal_SIG%s", abbrev);
    else
        snprintf(buf, buflen, "signal_%d", sig);
}

void opsstats_conmand_exit(struct opsstats *s, int status)
{
    char name[sizeof(s->causes[0].name)];
    opsstats_cause_name(status, name, sizeof(name));
    for (size_t i = 0; i < OPSSTATS_CAUSES; i++) {
        struct opsstats_cause *c = &s->causes[i];
        if (!c->name[0])
            snprintf(c->name, sizeof(c->name), "%s", name);
        if (strcmp(c->name, name) == 0) {
            c->n++;
            return;
        }
    }
    s->causes_other++;
}

bool opsstats_healthy(const struct opsstats *s, double now_mono, char *why, size_t whylen)
{
    double age = now_mono - s->heartbeat_mono;
    if (age <= OPSSTATS_STALE_SEC || now_mono <= s->busy_until_mono)
        return true;
    snprintf(why, whylen, "main loop last turned %.1f s ago", age);
    return false;
}

bool opsstats_ready(const struct opsstats *s, char *why, size_t whylen)
{
    if (!s->have_config)
        snprintf(why, whylen, "no usable configuration yet (HSM discovery has not succeeded)");
    else if (!s->conmand_up)
        snprintf(why, whylen, "conmand is not running");
    else
        return true;
    return false;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP conman_configure_%s %s\n# TYPE conman_configure_%s %s\n", name, help, name,
            type);
}

static void gauge(FILE *f, const char *name, const char *help, double v)
{
    family(f, name, "gauge", help);
    fprintf(f, "conman_configure_%s %.17g\n", name, v);
}

static void counter(FILE *f, const char *name, const char *help, unsigned long long v)
{
    family(f, name, "counter", help);
    fprintf(f, "conman_configure_%s %llu\n", name, v);
}

static void discovery(FILE *f, const struct opsstats *s)
{
    family(f, "discoveries_total", "counter", "HSM discoveries by result");
    fprintf(f, "conman_configure_discoveries_total{result=\"ok\"} %llu\n", s->discoveries_ok);
    fprintf(f, "conman_configure_discoveries_total{result=\"error\"} %llu\n", s->discoveries_error);
    gauge(f, "last_discovery_timestamp_seconds",
          "Unix time of the last HSM discovery, 0 before the first", s->last_discovery_unix);
    gauge(f, "last_discovery_success", "1 when the last HSM discovery succeeded, else 0",
          s->last_discovery_ok ? 1 : 0);
    gauge(f, "last_successful_discovery_timestamp_seconds",
          "Unix time of the last successful HSM discovery, 0 before the first",
          s->last_success_unix);
    gauge(f, "consoles_discovered", "Consoles the last successful discovery found",
          (double)s->consoles);
    gauge(f, "configuration_usable", "1 when a usable CONMAN_CONF exists (written or frozen)",
          s->have_config ? 1 : 0);
}

static void hsm(FILE *f, const struct opsstats *s)
{
    family(f, "hsm_request_duration_seconds", "histogram",
           "Duration of each HSM request, failed ones included");
    unsigned long long cum = 0;
    for (size_t i = 0; i < OPSSTATS_BUCKETS; i++) {
        cum += s->hsm_buckets[i];
        if (i < OPSSTATS_BUCKETS - 1)
            fprintf(f, "conman_configure_hsm_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                    BOUNDS[i], cum);
        else
            fprintf(f, "conman_configure_hsm_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                    cum);
    }
    fprintf(f, "conman_configure_hsm_request_duration_seconds_sum %.6f\n", s->hsm_seconds_sum);
    fprintf(f, "conman_configure_hsm_request_duration_seconds_count %llu\n", s->hsm_requests);
    counter(f, "hsm_errors_total",
            "HSM requests that failed: unreachable, timeout, non-2xx, or an unusable answer",
            s->hsm_errors);
}

static void conmand(FILE *f, const struct opsstats *s)
{
    counter(f, "conmand_starts_total", "Times conmand was started", s->conmand_starts);
    counter(f, "conmand_restarts_total", "Starts of conmand after the first", s->conmand_restarts);
    family(f, "conmand_exits_total", "counter",
           "conmand exits by cause: exit_<code> or signal_<name>");
    for (size_t i = 0; i < OPSSTATS_CAUSES && s->causes[i].name[0]; i++)
        fprintf(f, "conman_configure_conmand_exits_total{cause=\"%s\"} %llu\n", s->causes[i].name,
                s->causes[i].n);
    if (s->causes_other)
        fprintf(f, "conman_configure_conmand_exits_total{cause=\"other\"} %llu\n", s->causes_other);
    gauge(f, "conmand_up", "1 while conmand runs, else 0", s->conmand_up ? 1 : 0);
    gauge(f, "conmand_start_timestamp_seconds", "Unix time conmand was last started, 0 before",
          s->conmand_start_unix);
}

static void shard(FILE *f, const struct opsstats *s)
{
    if (!s->sharded)
        return;
    gauge(f, "shard_members", "Members of the shard membership acted on", (double)s->shard_members);
    gauge(f, "shard_owned_consoles", "Consoles this instance owns (the rest are peer: lines)",
          (double)s->shard_owned);
    counter(f, "shard_changes_total", "Shard membership changes acted on", s->shard_changes);
}

int opsstats_metrics(const struct opsstats *s, char **out, size_t *len)
{
    FILE *f = open_memstream(out, len);
    if (!f)
        return -ENOMEM;
    discovery(f, s);
    hsm(f, s);
    conmand(f, s);
    shard(f, s);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        free(*out);
        *out = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* One "port=N" token of a SERVER line, quotes optional. */
static void port_token(const char *tok, long *port)
{
    if (strncasecmp(tok, "port=", 5) != 0)
        return;
    char v[16];
    snprintf(v, sizeof(v), "%s", tok + 5 + (tok[5] == '"'));
    size_t n = strlen(v);
    if (n && v[n - 1] == '"')
        v[n - 1] = '\0';
    long p;
    if (numparse_digits(v, 1, 65535, &p) == 0)
        *port = p;
}

long opsstats_conf_port(const char *conf)
{
    long port = 7890;
    const char *line = conf;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        char buf[512];
        if (n < sizeof(buf)) {
            memcpy(buf, line, n);
            buf[n] = '\0';
            char *hash = strchr(buf, '#');
            if (hash)
                *hash = '\0';
            char *save = NULL, *tok = strtok_r(buf, " \t\r", &save);
            if (tok && strcasecmp(tok, "server") == 0)
                while ((tok = strtok_r(NULL, " \t\r", &save)))
                    port_token(tok, &port);
        }
        line = end ? end + 1 : NULL;
    }
    return port;
}
