/* libFuzzer harness for conmand's request handling below the socket: the
 * greeting and request parsers, the matcher over 2,000 console names and
 * the reply formatters, with the invariants client.c relies on checked.
 * Input: lines as a client sends them (greeting, request); the first byte
 * also picks a reply buffer size. Build: cmake -DFUZZ=ON with CC=clang-14. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conmand/clients/proto.h"
#include "conmand/consoles/notice.h"
#include "fuzz_common.h"

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

/* The OK line never breaks a name and always ends in "\n" within outlen. */
static void check_ok(const char *const *matched, size_t n, size_t outlen, bool reset)
{
    char *out = malloc(outlen);
    FUZZ_CHECK(out != NULL);
    size_t fitted = 0;
    size_t len = proto_format_ok_fit(out, outlen, matched, n, reset, &fitted);
    FUZZ_CHECK(len < outlen && len == strlen(out));
    if (len == 0) { /* only when even "OK\n" does not fit */
        FUZZ_CHECK(outlen < strlen(reset ? "OK OPTION=RESET\n" : "OK\n") + 1);
        free(out);
        return;
    }
    FUZZ_CHECK(out[len - 1] == '\n');
    FUZZ_CHECK(fitted <= n);
    size_t quotes = 0;
    for (const char *p = out; (p = strstr(p, " CONSOLE='")); p++)
        quotes++;
    FUZZ_CHECK(quotes >= fitted);
    if (outlen >= proto_ok_size(matched, n, reset))
        FUZZ_CHECK(fitted == n);
    free(out);
}

/* What a conmand relays to a console's owner parses back, on the owner,
 * into the same user, tty, command, options and names (peer: consoles). */
static void check_relay(const struct proto_req *r, const char *const *matched, size_t n)
{
    if (r->cmd != PROTO_CMD_MONITOR && r->cmd != PROTO_CMD_CONNECT)
        return;
    n = n > 64 ? 64 : n;
    char *out, msg[256];
    size_t len;
    int rc = proto_format_relay(r, "client.example", matched, n, &out, &len);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc != 0)
        return;
    FUZZ_CHECK(len == strlen(out) && len && out[len - 1] == '\n');
    char *request = strchr(out, '\n');
    FUZZ_CHECK(request != NULL);
    *request++ = '\0';
    FUZZ_CHECK(strchr(request, '\n') == out + len - 1);
    out[len - 1] = '\0';
    struct proto_req back = {0};
    FUZZ_CHECK(proto_parse_hello(out, &back, msg, sizeof(msg)) == 0);
    FUZZ_CHECK(!strcmp(back.user, r->user) && !strcmp(back.tty, r->tty));
    FUZZ_CHECK(!strcmp(back.via, "client.example"));
    FUZZ_CHECK(proto_parse_request(request, &back) == 0);
    FUZZ_CHECK(back.cmd == r->cmd && back.join == r->join && back.force == r->force &&
               back.broadcast == r->broadcast && back.quiet == r->quiet && !back.regex);
    FUZZ_CHECK(back.npatterns == n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(!strcmp(back.patterns[i], matched[i]));
    proto_req_release(&back);
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
    FUZZ_CHECK(strlen(r.user) < PROTO_NAME_MAX && strlen(r.tty) < PROTO_NAME_MAX);
    if (proto_parse_request(request, &r) < 0)
        return;
    if (knobs & 1)
        r.regex = !r.regex; /* both matchers on every request */
    static bool match[NNAMES];
    int count = proto_match(&r, (const char *const *)names, NNAMES, match, msg, sizeof(msg));
    if (count < 0) {
        FUZZ_CHECK(count >= -PROTO_ERR_NO_RESOURCES);
        proto_format_error(line, sizeof(line), -count, msg);
    } else {
        const char *matched[NNAMES];
        size_t n = 0;
        for (size_t i = 0; i < NNAMES; i++)
            if (match[i])
                matched[n++] = names[i];
        FUZZ_CHECK(n == (size_t)count);
        check_ok(matched, n, PROTO_CLIENT_LINE_MAX + 1, knobs & 2);
        check_ok(matched, n, 16 + (size_t)(knobs >> 2) * 8, knobs & 2);
        check_relay(&r, matched, n);
        proto_who(&r, "host.example", line, sizeof(line));
        notice_format(line, sizeof(line), line);
    }
    proto_req_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!names[0])
        make_names();
    struct fuzz_knobbed in;
    if (!fuzz_knob_and_text(data, size, PROTO_MAX_LINE, &in))
        return 0;
    /* As client.c frames them: the first line greets, the second asks. */
    char *greeting = in.text, *request = fuzz_split_line(in.text);
    if (!request)
        request = "";
    else
        fuzz_split_line(request);
    run_request(greeting, request, in.knob);
    /* The same lines read back as a server's reply (web viewers do). */
    char msg[64] = "";
    int code = proto_parse_reply(greeting, msg, (size_t)in.knob % sizeof(msg));
    if (code > 999 || code < -1 || strlen(msg) >= sizeof(msg))
        abort();
    free(in.text);
    return 0;
}
