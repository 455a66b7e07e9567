/* conman-events: scans existing console logs with conmand's event rules and
 * matcher and prints each event as one JSON object a line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fileutil.h"
#include "common/textenc.h"
#include "conmand/events/matcher.h"
#include "conmand/events/rules.h"

#define RULES_FILE_MAX (1024 * 1024)
/* "YYYY-MM-DD HH:MM:SS ": the stamp conmand's logfile puts before a line. */
#define STAMP_LEN 20

static const char *prog = "conman-events";

/* One event of the file being scanned, kept until the file is done so its
 * final count of folded lines is known when it is printed. */
struct found {
    size_t rule;
    uint64_t offset;
    uint32_t lines;
    char stamp[STAMP_LEN]; /* "" when the line has none */
    unsigned char *line;   /* owned */
    size_t len;
};

struct scan {
    struct found *ev;
    size_t n, cap;
    size_t open[RULES_MAX]; /* per rule: index in ev of its open event */
    int oom;
};

/* Whether s starts with our log stamp; its seconds (read as UTC: only
 * differences matter, for folding) in *ms. */
static bool parse_stamp(const unsigned char *s, size_t n, int64_t *ms)
{
    static const char shape[] = "dddd-dd-dd dd:dd:dd ";
    if (n < STAMP_LEN)
        return false;
    for (size_t i = 0; i < STAMP_LEN; i++) {
        bool digit = s[i] >= '0' && s[i] <= '9';
        if (shape[i] == 'd' ? !digit : s[i] != (unsigned char)shape[i])
            return false;
    }
    int v[6];
    static const int at[6] = {0, 5, 8, 11, 14, 17}, width[6] = {4, 2, 2, 2, 2, 2};
    for (int k = 0; k < 6; k++) {
        v[k] = 0;
        for (int j = 0; j < width[k]; j++)
            v[k] = v[k] * 10 + (s[at[k] + j] - '0');
    }
    struct tm tm = {.tm_year = v[0] - 1900,
                    .tm_mon = v[1] - 1,
                    .tm_mday = v[2],
                    .tm_hour = v[3],
                    .tm_min = v[4],
                    .tm_sec = v[5]};
    *ms = (int64_t)timegm(&tm) * 1000;
    return true;
}

static void on_event(void *arg, const struct matcher_event *ev)
{
    struct scan *s = arg;
    if (s->oom)
        return; /* the file's events are incomplete already; it is reported */
    if (ev->kind == MATCHER_FOLD) {
        s->ev[s->open[ev->rule]].lines = ev->lines;
        return;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct found *p = realloc(s->ev, cap * sizeof(*p));
        if (!p) {
            s->oom = 1;
            return;
        }
        s->ev = p, s->cap = cap;
    }
    struct found *f = &s->ev[s->n];
    *f = (struct found){.rule = ev->rule, .offset = ev->offset, .lines = 1, .len = ev->len};
    f->line = malloc(ev->len ? ev->len : 1);
    if (!f->line) {
        s->oom = 1;
        return;
    }
    memcpy(f->line, ev->line, ev->len);
    int64_t ignored;
    if (parse_stamp(ev->line, ev->len, &ignored)) {
        memcpy(f->stamp, ev->line, STAMP_LEN - 1);
        f->stamp[STAMP_LEN - 1] = '\0';
    }
    s->open[ev->rule] = s->n++;
}

/* The console a log file belongs to: its base name without a rotation
 * suffix ".N" and without conman's "console." prefix or a ".log" suffix. */
static size_t console_name(const char *path, const char **name)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    size_t d = n;
    while (d > 0 && base[d - 1] >= '0' && base[d - 1] <= '9')
        d--;
    if (d < n && d > 1 && base[d - 1] == '.')
        n = d - 1;
    if (n > 8 && strncmp(base, "console.", 8) == 0)
        base += 8, n -= 8;
    else if (n > 4 && strncmp(base + n - 4, ".log", 4) == 0)
        n -= 4;
    *name = base;
    return n;
}

static void put_json(FILE *out, const char *s, size_t n)
{
    char *buf = malloc(TEXTENC_JSON_MAX(n) + 1);
    if (!buf) {
        fputs("null", out);
        return;
    }
    char *end = textenc_json(buf, (const unsigned char *)s, n);
    fwrite(buf, 1, (size_t)(end - buf), out);
    free(buf);
}

static void print_event(const struct rules *r, const char *path, const struct found *f)
{
    const char *name;
    size_t namelen = console_name(path, &name);
    fputs("{\"console\":", stdout);
    put_json(stdout, name, namelen);
    fputs(",\"rule\":", stdout);
    put_json(stdout, rules_name(r, f->rule), strlen(rules_name(r, f->rule)));
    printf(",\"severity\":\"%s\",\"time\":", rules_severity_name(rules_severity(r, f->rule)));
    if (f->stamp[0])
        printf("\"%s\"", f->stamp);
    else
        fputs("null", stdout);
    fputs(",\"file\":", stdout);
    put_json(stdout, path, strlen(path));
    printf(",\"offset\":%llu,\"line\":", (unsigned long long)f->offset);
    put_json(stdout, (const char *)f->line, f->len);
    printf(",\"lines\":%u}\n", (unsigned)f->lines);
}

/* Feeds one file line by line, each at the time of its own stamp (or of the
 * last stamp seen: lines without one fold as if at that time). */
static int scan_file(struct rules *r, const char *path, int64_t quiet_ms)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    struct matcher m;
    struct scan s = {0};
    if (matcher_init(&m, r, quiet_ms) < 0) {
        fclose(fp);
        fprintf(stderr, "%s: %s: out of memory\n", prog, path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    uint64_t off = 0;
    int64_t now = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
        parse_stamp((const unsigned char *)line, (size_t)n, &now);
        matcher_feed(&m, (const unsigned char *)line, (size_t)n, off, now, on_event, &s);
        off += (uint64_t)n;
    }
    matcher_flush(&m, now, on_event, &s);
    int rc = ferror(fp) ? -1 : 0;
    if (rc < 0)
        fprintf(stderr, "%s: %s: read error: %s\n", prog, path, strerror(errno));
    if (s.oom) {
        fprintf(stderr, "%s: %s: out of memory, events lost\n", prog, path);
        rc = -1;
    }
    for (size_t i = 0; i < s.n; i++) {
        print_event(r, path, &s.ev[i]);
        free(s.ev[i].line);
    }
    free(s.ev);
    free(line);
    fclose(fp);
    matcher_release(&m);
    return rc;
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: %s [-q SECONDS] RULES FILE...\n"
            "Prints the console events in each log FILE (console.NAME, console.NAME.N) as\n"
            "JSON lines; -q: the quiet period that folds a rule's lines into one event (5).\n",
            prog);
}

int main(int argc, char **argv)
{
    int64_t quiet_ms = MATCHER_QUIET_MS;
    int a = 1;
    if (a < argc && (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (a + 1 < argc && strcmp(argv[a], "-q") == 0) {
        char *end;
        double q = strtod(argv[a + 1], &end);
        if (*end || end == argv[a + 1] || !(q >= 0 && q <= 86400)) {
            fprintf(stderr, "%s: -q %s: not a number of seconds (0..86400)\n", prog, argv[a + 1]);
            return 2;
        }
        quiet_ms = (int64_t)(q * 1000);
        a += 2;
    }
    if (argc - a < 2) {
        usage(stderr);
        return 2;
    }
    char err[512], *text;
    size_t len;
    if (file_read_all(argv[a], RULES_FILE_MAX, &text, &len, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 2;
    }
    struct rules *r;
    int rc = rules_parse(argv[a], text, len, &r, err, sizeof(err));
    free(text);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 2;
    }
    int status = 0;
    for (int i = a + 1; i < argc; i++) {
        if (scan_file(r, argv[i], quiet_ms) < 0)
            status = 1;
        fflush(stdout);
    }
    rules_free(r);
    return status;
}
