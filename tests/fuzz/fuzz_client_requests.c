/* libFuzzer harness for conmand's request handling below the socket: the
 * greeting and request parsers, the matcher over 2,000 console names and
 * the reply formatters, with the invariants client.c relies on checked.
 * Input: lines as a client sends them (greeting, request); the first byte
 * also picks a reply buffer size. Build: cmake -DFUZZ=ON with CC=clang-14. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conmand/clients/proto.h"
#include "conmand/consoles/notice.h"

#define NNAMES 2000

static char *names[NNAMES];

static void make_names(void)
{
    for (int i = 0; i < NNAMES; i++) {
        char buf[128];
        switch (i % 5) {
        case 0:
            snprintf(buf, sizeof(buf), "node%04d", i);
            break;
        case 1:
            snprintf(buf, sizeof(buf), "Rack%d-Node%d", i / 40, i % 40);
            break;
        case 2:
            snprintf(buf, sizeof(buf), "a%d%.*s", i, 60,
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
            break;
        case 3:
            snprintf(buf, sizeof(buf), "x.%d_[y]*?", i);
            break;
        default:
            snprintf(buf, sizeof(buf), "%d", i);
        }
        names[i] = strdup(buf);
        if (!names[i])
            abort();
    }
}

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

/* The OK line never breaks a name and always ends in "\n" within outlen. */
static void check_ok(const char *const *matched, size_t n, size_t outlen, bool reset)
{
    char *out = malloc(outlen);
    check(out != NULL, "malloc");
    size_t fitted = 0;
    size_t len = proto_format_ok_fit(out, outlen, matched, n, reset, &fitted);
    check(len < outlen && len == strlen(out), "OK length");
    if (len == 0) { /* only when even "OK\n" does not fit */
        check(outlen < strlen(reset ? "OK OPTION=RESET\n" : "OK\n") + 1, "an OK line fits");
        free(out);
        return;
    }
    check(out[len - 1] == '\n', "OK ends in a newline");
    check(fitted <= n, "fitted <= n");
    size_t quotes = 0;
    for (const char *p = out; (p = strstr(p, " CONSOLE='")); p++)
        quotes++;
    check(quotes >= fitted, "every fitted name is in the line");
    if (outlen >= proto_ok_size(matched, n, reset))
        check(fitted == n, "proto_ok_size() holds every name");
    free(out);
}

static void run_request(const char *greeting, const char *request, uint8_t knobs)
{
    struct proto_req r = {0};
    char msg[512], line[2048];
    if (proto_parse_hello(greeting, &r, msg, sizeof(msg)) != 0) {
        proto_format_error(line, sizeof(line), PROTO_ERR_BAD_REQUEST, msg);
        return;
    }
    check(strlen(r.user) < PROTO_NAME_MAX && strlen(r.tty) < PROTO_NAME_MAX, "user/tty bounded");
    if (proto_parse_request(request, &r) < 0)
        return;
    if (knobs & 1)
        r.regex = !r.regex; /* both matchers on every request */
    static bool match[NNAMES];
    int count = proto_match(&r, (const char *const *)names, NNAMES, match, msg, sizeof(msg));
    if (count < 0) {
        check(count >= -PROTO_ERR_NO_RESOURCES, "error code range");
        proto_format_error(line, sizeof(line), -count, msg);
    } else {
        const char *matched[NNAMES];
        size_t n = 0;
        for (size_t i = 0; i < NNAMES; i++)
            if (match[i])
                matched[n++] = names[i];
        check(n == (size_t)count, "count equals the matches");
        check_ok(matched, n, PROTO_CLIENT_LINE_MAX + 1, knobs & 2);
        check_ok(matched, n, 16 + (size_t)(knobs >> 2) * 8, knobs & 2);
        proto_who(&r, "host.example", line, sizeof(line));
        notice_format(line, sizeof(line), line);
    }
    proto_req_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!names[0])
        make_names();
    if (size < 1 || size > PROTO_MAX_LINE)
        return 0;
    uint8_t knobs = data[0];
    char *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    /* As client.c frames them: the first line greets, the second asks. */
    char *greeting = buf, *request = strchr(buf, '\n');
    if (request)
        *request++ = '\0';
    else
        request = "";
    char *end = strchr(request, '\n');
    if (end)
        *end = '\0';
    run_request(greeting, request, knobs);
    free(buf);
    return 0;
}
