/* hsm_fetch against a real HTTP server on 127.0.0.1 (libmicrohttpd, in this
 * process): bodies streamed to the feed in pieces, the size cap with and
 * without a Content-Length, slow answers inside and past the timeout, error
 * statuses, cut-off bodies, refused connections and schemes, the bearer
 * token; every error names the endpoint and never the token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "configure/hsm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BIG_LEN (100 * 1024)
#define TOKEN "tok-SECRET-123"

/* The server: one daemon for the whole group, routes by path. */
struct server {
    struct MHD_Daemon *daemon;
    unsigned port;
    char big[BIG_LEN]; /* the body of /big and /big-chunked */
    pthread_mutex_t lock;
    char authorization[128]; /* of the last request, "" when none */
};

static struct server srv;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* /trickle: five pieces 100 ms apart, chunked (no Content-Length). */
static ssize_t trickle_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls, (void)max;
    if (pos >= 5)
        return MHD_CONTENT_READER_END_OF_STREAM;
    sleep_ms(100);
    buf[0] = (char)('1' + pos);
    return 1;
}

/* /big-chunked: the big body without a Content-Length. */
static ssize_t big_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= BIG_LEN)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = BIG_LEN - (size_t)pos < max ? BIG_LEN - (size_t)pos : max;
    memcpy(buf, srv.big + pos, n);
    return (ssize_t)n;
}

/* /truncated: a Content-Length of 1000, then 500 bytes and the connection
 * closes, as an HSM (or proxy) that dies mid-body. */
static ssize_t cut_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= 500)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = 500 - (size_t)pos < max ? 500 - (size_t)pos : max;
    memset(buf, 'c', n);
    return (ssize_t)n;
}

static enum MHD_Result reply_by_callback(struct MHD_Connection *c, uint64_t size,
                                         MHD_ContentReaderCallback reader)
{
    struct MHD_Response *r = MHD_create_response_from_callback(size, 4096, reader, NULL, NULL);
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_redirect(struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Location", "/ok");
    enum MHD_Result ret = MHD_queue_response(c, 302, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)cls, (void)method, (void)version, (void)upload_data, (void)upload_data_size;
    (void)con_cls;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    pthread_mutex_lock(&srv.lock);
    snprintf(srv.authorization, sizeof(srv.authorization), "%s", auth ? auth : "");
    pthread_mutex_unlock(&srv.lock);
    static const char ok[] = "{\"RedfishEndpoints\":[]}";
    static const char oops[] = "<html>internal error page</html>";
    if (!strcmp(url, "/ok"))
        return reply(c, 200, ok, strlen(ok));
    if (!strcmp(url, "/big"))
        return reply(c, 200, srv.big, BIG_LEN);
    if (!strcmp(url, "/big-chunked"))
        return reply_by_callback(c, MHD_SIZE_UNKNOWN, big_reader);
    if (!strcmp(url, "/trickle"))
        return reply_by_callback(c, MHD_SIZE_UNKNOWN, trickle_reader);
    if (!strcmp(url, "/truncated"))
        return reply_by_callback(c, 1000, cut_reader);
    if (!strcmp(url, "/slow")) {
        sleep_ms(1500); /* past a timeout of 1 s */
        return reply(c, 200, ok, strlen(ok));
    }
    if (!strcmp(url, "/500"))
        return reply(c, 500, oops, strlen(oops));
    if (!strcmp(url, "/redirect"))
        return reply_redirect(c);
    if (!strcmp(url, "/auth")) {
        if (auth && !strcmp(auth, "Bearer " TOKEN))
            return reply(c, 200, ok, strlen(ok));
        return reply(c, 401, oops, strlen(oops));
    }
    if (!strcmp(url, "/hangup"))
        return MHD_NO; /* closes the connection without an answer */
    return reply(c, 404, oops, strlen(oops));
}

static int start_server(void **state)
{
    (void)state;
    for (size_t i = 0; i < BIG_LEN; i++)
        srv.big[i] = (char)('a' + i % 26);
    pthread_mutex_init(&srv.lock, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv.daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                                  0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
                                  (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!srv.daemon)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv.daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || !info->port)
        return -1;
    srv.port = info->port;
    return hsm_global_init();
}

static int stop_server(void **state)
{
    (void)state;
    MHD_stop_daemon(srv.daemon);
    pthread_mutex_destroy(&srv.lock);
    hsm_global_cleanup();
    return 0;
}

/* What the feed was given, and an optional failure to return. */
struct collected {
    char *data;
    size_t len, pieces;
    size_t fail_after; /* fail once this many bytes came; 0: never */
};

static int collect(void *ctx, const char *data, size_t len, char *err, size_t errlen)
{
    struct collected *c = ctx;
    char *n = realloc(c->data, c->len + len + 1);
    assert_non_null(n);
    c->data = n;
    memcpy(c->data + c->len, data, len);
    c->len += len;
    c->data[c->len] = '\0';
    c->pieces++;
    if (c->fail_after && c->len >= c->fail_after) {
        snprintf(err, errlen, "unexpected token at byte %zu", c->fail_after);
        return -EBADMSG;
    }
    return 0;
}

/* GETs `url` into `got` (the caller frees got->data). */
static int get(const char *url, long timeout_sec, const char *token_file, size_t max_bytes,
               struct collected *got, char *err, size_t errlen)
{
    struct hsm_request rq = {
        .url = url, .timeout_sec = timeout_sec, .token_file = token_file, .max_bytes = max_bytes};
    err[0] = '\0';
    return hsm_fetch(&rq, collect, got, err, errlen);
}

/* `err` is "<url>: <reason>" with `reason` in it, and never the token. */
static void assert_names_url(const char *err, const char *url, const char *reason)
{
    size_t n = strlen(url);
    if (strncmp(err, url, n) != 0 || strncmp(err + n, ": ", 2) != 0 || !err[n + 2])
        fail_msg("error \"%s\" does not start with \"%s: \" and a reason", err, url);
    if (!strstr(err + n, reason))
        fail_msg("error \"%s\" does not say \"%s\"", err, reason);
    assert_null(strstr(err, "SECRET"));
}

/* GETs `path` of the test server and expects `rc`: an error that names the
 * URL and says `reason`, or none. What the feed got is left in `got` (the
 * caller frees got->data). */
static void expect_fetch(const char *path, long timeout_sec, const char *token_file,
                         size_t max_bytes, int rc, const char *reason, struct collected *got)
{
    char url[128], err[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", srv.port, path);
    assert_int_equal(get(url, timeout_sec, token_file, max_bytes, got, err, sizeof(err)), rc);
    if (rc == 0)
        assert_string_equal(err, "");
    else
        assert_names_url(err, url, reason);
}

static void test_body_of_a_2xx_answer_reaches_the_feed(void **state)
{
    (void)state;
    struct collected got = {0};
    expect_fetch("/ok", 5, NULL, 1 << 20, 0, NULL, &got);
    assert_string_equal(got.data, "{\"RedfishEndpoints\":[]}");
    free(got.data);
    pthread_mutex_lock(&srv.lock);
    assert_string_equal(srv.authorization, ""); /* no token file: no header */
    pthread_mutex_unlock(&srv.lock);
}

static void test_large_body_is_streamed_in_pieces_up_to_the_cap(void **state)
{
    (void)state;
    const char *paths[] = {"/big", "/big-chunked"};
    for (size_t i = 0; i < 2; i++) {
        struct collected got = {0};
        expect_fetch(paths[i], 5, NULL, BIG_LEN, 0, NULL, &got);
        assert_int_equal(got.len, BIG_LEN);
        assert_memory_equal(got.data, srv.big, BIG_LEN);
        assert_true(got.pieces > 1); /* never held whole by hsm_fetch */
        free(got.data);
    }
}

static void test_body_over_the_cap_is_efbig_with_or_without_a_length(void **state)
{
    (void)state;
    const char *paths[] = {"/big", "/big-chunked"};
    char reason[64];
    snprintf(reason, sizeof(reason), "response larger than %d bytes", BIG_LEN - 1);
    for (size_t i = 0; i < 2; i++) {
        struct collected got = {0};
        expect_fetch(paths[i], 5, NULL, BIG_LEN - 1, -EFBIG, reason, &got);
        assert_true(got.len < BIG_LEN);
        free(got.data);
    }
}

static void test_slow_trickle_within_the_timeout_arrives_whole(void **state)
{
    (void)state;
    struct collected got = {0};
    expect_fetch("/trickle", 5, NULL, 1024, 0, NULL, &got);
    assert_string_equal(got.data, "12345");
    free(got.data);
}

static void test_answer_slower_than_the_timeout_is_etimedout(void **state)
{
    (void)state;
    struct collected got = {0};
    /* libcurl's "Operation timed out after ..." */
    expect_fetch("/slow", 1, NULL, 1024, -ETIMEDOUT, "timed out", &got);
    assert_int_equal(got.len, 0);
    free(got.data);
}

static void test_error_status_is_eproto_and_its_page_is_not_fed(void **state)
{
    (void)state;
    const char *paths[] = {"/500", "/no-such-path", "/auth", "/redirect"};
    const char *reasons[] = {"HTTP status 500", "HTTP status 404", "HTTP status 401",
                             "HTTP status 302"}; /* a redirect is not followed */
    for (size_t i = 0; i < 4; i++) {
        struct collected got = {0};
        expect_fetch(paths[i], 5, NULL, 1024, -EPROTO, reasons[i], &got);
        assert_int_equal(got.pieces, 0);
        free(got.data);
    }
}

static void test_body_cut_short_is_eio_after_what_came_was_fed(void **state)
{
    (void)state;
    struct collected got = {0};
    /* libcurl's CURLE_PARTIAL_FILE */
    expect_fetch("/truncated", 5, NULL, 4096, -EIO, "500 bytes remaining", &got);
    assert_true(got.len <= 500); /* the caller discards it, as hsm.h says */
    free(got.data);
}

static void test_connection_closed_without_answer_is_eio(void **state)
{
    (void)state;
    struct collected got = {0};
    expect_fetch("/hangup", 5, NULL, 1024, -EIO, "", &got);
    free(got.data);
}

static void test_refused_connection_is_eio_naming_the_url(void **state)
{
    (void)state;
    /* A port that was free a moment ago: nothing listens there. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    close(s);
    char url[128], err[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/ok", ntohs(sa.sin_port));
    struct collected got = {0};
    assert_int_equal(get(url, 5, NULL, 1024, &got, err, sizeof(err)), -EIO);
    assert_names_url(err, url, "onnect");
    assert_int_equal(got.pieces, 0);
}

static void test_schemes_other_than_http_and_https_are_refused(void **state)
{
    (void)state;
    const char *urls[] = {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"};
    for (size_t i = 0; i < 3; i++) {
        struct collected got = {0};
        char err[512];
        assert_int_equal(get(urls[i], 5, NULL, 1024, &got, err, sizeof(err)), -EIO);
        assert_names_url(err, urls[i], "");
        assert_int_equal(got.pieces, 0);
    }
}

static void test_feed_error_aborts_and_is_the_reason(void **state)
{
    (void)state;
    struct collected got = {.fail_after = 1};
    expect_fetch("/big", 5, NULL, BIG_LEN, -EBADMSG, "unexpected token at byte 1", &got);
    assert_int_equal(got.pieces, 1); /* nothing fed after the failure */
    free(got.data);
}

static void write_token_file(char *path, size_t pathlen, const char *content)
{
    snprintf(path, pathlen, "/tmp/test_hsm_token.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

static void test_token_file_first_line_is_the_bearer_token(void **state)
{
    (void)state;
    char token_file[64];
    write_token_file(token_file, sizeof(token_file), TOKEN "\nsecond line\n");
    struct collected got = {0};
    expect_fetch("/auth", 5, token_file, 1024, 0, NULL, &got);
    pthread_mutex_lock(&srv.lock);
    assert_string_equal(srv.authorization, "Bearer " TOKEN);
    pthread_mutex_unlock(&srv.lock);
    free(got.data);
    /* A rotated token is read again on the next call; the wrong one is
     * refused, and the error does not show it (expect_fetch checks). */
    unlink(token_file);
    write_token_file(token_file, sizeof(token_file), "tok-SECRET-old\n");
    got = (struct collected){0};
    expect_fetch("/auth", 5, token_file, 1024, -EPROTO, "HTTP status 401", &got);
    free(got.data);
    unlink(token_file);
}

static void test_unreadable_token_file_names_the_url_and_the_file(void **state)
{
    (void)state;
    struct collected got = {0};
    expect_fetch("/auth", 5, "/nonexistent/hsm-token", 1024, -ENOENT,
                 "HSM_TOKEN_FILE /nonexistent/hsm-token", &got);
    assert_int_equal(got.pieces, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_of_a_2xx_answer_reaches_the_feed),
        cmocka_unit_test(test_large_body_is_streamed_in_pieces_up_to_the_cap),
        cmocka_unit_test(test_body_over_the_cap_is_efbig_with_or_without_a_length),
        cmocka_unit_test(test_slow_trickle_within_the_timeout_arrives_whole),
        cmocka_unit_test(test_answer_slower_than_the_timeout_is_etimedout),
        cmocka_unit_test(test_error_status_is_eproto_and_its_page_is_not_fed),
        cmocka_unit_test(test_body_cut_short_is_eio_after_what_came_was_fed),
        cmocka_unit_test(test_connection_closed_without_answer_is_eio),
        cmocka_unit_test(test_refused_connection_is_eio_naming_the_url),
        cmocka_unit_test(test_schemes_other_than_http_and_https_are_refused),
        cmocka_unit_test(test_feed_error_aborts_and_is_the_reason),
        cmocka_unit_test(test_token_file_first_line_is_the_bearer_token),
        cmocka_unit_test(test_unreadable_token_file_names_the_url_and_the_file),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
