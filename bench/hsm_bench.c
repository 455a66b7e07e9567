/* HSM side of the benchmark: how long configure_conman's own code takes to
 * parse a RedfishEndpoints answer of N records and render conman.conf from
 * it (records_from_json + confgen_render), for several N, to show growth. */
#include "configure/confgen.h"
#include "configure/records.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SIZES 16

struct growbuf {
    char *p;
    size_t len, cap;
};

static int gb_printf(struct growbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int gb_printf(struct growbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -EINVAL;
        if (b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 0;
        }
        size_t cap = (b->cap + (size_t)n) * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -ENOMEM;
        b->p = p;
        b->cap = cap;
    }
}

/* One endpoint shaped like a real HSM record. Every 10th is a ChassisBMC and
 * every 50th disabled (both filtered out), so the filter does real work.
 * Addresses are loopback: no generated inventory points off this machine. */
static int add_endpoint(struct growbuf *b, size_t i)
{
    const char *type = i % 10 == 9 ? "ChassisBMC" : "NodeBMC";
    const char *enabled = i % 50 == 49 ? "false" : "true";
    size_t cab = 1000 + i / 256, slot = i % 256;
    return gb_printf(b,
                     "%s{\"ID\":\"x%zuc0s%zub0\",\"Type\":\"%s\",\"Name\":\"\","
                     "\"Hostname\":\"x%zuc0s%zub0\",\"Domain\":\"\",\"FQDN\":\"x%zuc0s%zub0\","
                     "\"Enabled\":%s,\"UUID\":\"8b1a4b5c-0000-4000-8000-%012zu\","
                     "\"User\":\"root\",\"Password\":\"\",\"UseSSDP\":false,"
                     "\"MACRequired\":false,\"MACAddr\":\"b42e99%06zx\","
                     "\"IPAddress\":\"127.%zu.%zu.%zu\",\"RediscoverOnUpdate\":true,"
                     "\"TemplateID\":\"\",\"DiscoveryInfo\":{\"LastDiscoveryAttempt\":"
                     "\"2026-11-24T18:31:07.113Z\",\"LastDiscoveryStatus\":\"DiscoverOK\","
                     "\"RedfishVersion\":\"1.7.0\"}}",
                     i ? "," : "", cab, slot, type, cab, slot, cab, slot, enabled, i, i,
                     1 + (i >> 16) % 254, (i >> 8) & 255, 1 + (i & 255) % 254);
}

/* The whole answer for n endpoints into *out (caller frees). */
static int make_answer(size_t n, struct growbuf *out)
{
    int rc = gb_printf(out, "{\"RedfishEndpoints\":[");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = add_endpoint(out, i);
    return rc ? rc : gb_printf(out, "]}\n");
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct sample {
    double parse_ms, render_ms;
    size_t consoles;
};

/* One parse + render of the answer; the rendered text is dropped. */
static int measure_once(const struct growbuf *answer, struct sample *s, char *err, size_t errlen)
{
    static const char base[] = "# UPDATE_CONFIG=TRUE\nserver port=7890\n";
    struct records recs = RECORDS_INIT;
    double t0 = now_ms();
    int rc = records_from_json(answer->p, answer->len, "Hostname", &recs, err, errlen);
    double t1 = now_ms();
    if (rc < 0)
        return rc;
    char *text = NULL;
    size_t len = 0;
    rc = confgen_render(base, &recs, "admin", "736563726574", &text, &len);
    double t2 = now_ms();
    if (rc < 0)
        snprintf(err, errlen, "confgen_render: out of memory");
    s->parse_ms = t1 - t0;
    s->render_ms = t2 - t1;
    s->consoles = recs.n;
    free(text);
    records_release(&recs);
    return rc;
}

static int bench_size(size_t n, int reps)
{
    struct growbuf answer = {0};
    char err[256] = "";
    int rc = make_answer(n, &answer);
    if (rc < 0) {
        fprintf(stderr, "hsm_bench: cannot build an answer of %zu endpoints: %s\n", n,
                strerror(-rc));
        free(answer.p);
        return rc;
    }
    double parse[64], render[64], total[64];
    struct sample s = {0};
    for (int r = 0; r < reps && rc == 0; r++) {
        rc = measure_once(&answer, &s, err, sizeof(err));
        parse[r] = s.parse_ms;
        render[r] = s.render_ms;
        total[r] = s.parse_ms + s.render_ms;
    }
    if (rc < 0) {
        fprintf(stderr, "hsm_bench: %zu endpoints: %s\n", n, err);
    } else {
        qsort(parse, (size_t)reps, sizeof(double), cmp_double);
        qsort(render, (size_t)reps, sizeof(double), cmp_double);
        qsort(total, (size_t)reps, sizeof(double), cmp_double);
        printf("| %zu | %.1f | %zu | %.1f | %.1f | %.1f | %.2f |\n", n, answer.len / 1e6,
               s.consoles, parse[reps / 2], render[reps / 2], total[reps / 2],
               1e3 * total[reps / 2] / (double)n);
    }
    free(answer.p);
    return rc;
}

static int parse_sizes(const char *arg, size_t *sizes, size_t *count)
{
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return -ENOMEM;
    *count = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        unsigned long long v = strtoull(t, &end, 10);
        if (*end || v == 0 || v > 1000000 || *count == MAX_SIZES) {
            free(copy);
            return -EINVAL;
        }
        sizes[(*count)++] = (size_t)v;
    }
    free(copy);
    return *count ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
    const char *size_arg = argc > 1 ? argv[1] : "1000,3000,10000,30000,100000";
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    size_t sizes[MAX_SIZES], count = 0;
    if (argc > 3 || parse_sizes(size_arg, sizes, &count) < 0 || reps < 1 || reps > 64) {
        if (argc <= 3)
            fprintf(stderr, "hsm_bench: bad SIZES '%s' or REPS '%s'\n", size_arg,
                    argc > 2 ? argv[2] : "5");
        fprintf(stderr, "usage: hsm_bench [SIZES] [REPS]\n"
                        "  SIZES: endpoint counts, comma-separated, 1..1000000 (default "
                        "1000,3000,10000,30000,100000)\n"
                        "  REPS: 1..64 repetitions per size, the median is shown (default 5)\n");
        return 2;
    }
    printf("| endpoints | answer (MB) | consoles | parse (ms) | render (ms) | total (ms) | "
           "us per endpoint |\n|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < count; i++)
        if (bench_size(sizes[i], reps) < 0)
            return 1;
    return 0;
}
