/* The client sessions (clients/client.c) on a real loop, as server_run()
 * wires them: a TCP listener on 127.0.0.1 whose connections client_accept()
 * takes, a registry of real consoles, and test clients on plain blocking
 * sockets speaking the conman protocol. Console "alpha" is a unix: socket
 * this test listens on, so the test is its device; "down1" and "down2"
 * point at a closed port and stay down. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "common/log.h"
#include "conmand/clients/client.h"
#include "conmand/clients/proto.h"
#include "conmand/conf/conf.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/registry.h"
#include "conmand/consoles/reset.h"
#include "running_consoles.h"

/* One end of a socket the test holds (a client's or the device's), and
 * every byte read from it so far. */
struct peer {
    int fd;
    char buf[8192];
    size_t len;
    bool eof; /* end of file or reset: the other side closed */
};

struct fixture {
    char dir[64];
    char sock[96];
    int devlisten; /* the unix socket console alpha connects to */
    uv_loop_t loop;
    struct conf conf;
    struct running_consoles run;
    struct reset_runner resets;
    uv_tcp_t listener;
    struct client_hub clients;
    int port;
    struct peer dev; /* the device side of alpha's connection */
};

/* Turns of the loop a wait may take, and its time: both bound it. */
#define TURNS_MAX 20000
#define WAIT_MS 3000

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what has arrived, without waiting. */
static void drain(struct peer *p)
{
    while (!p->eof && p->len < sizeof(p->buf)) {
        ssize_t n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, MSG_DONTWAIT);
        if (n > 0)
            p->len += (size_t)n;
        else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            p->eof = true;
        else
            return;
    }
}

static bool has(const struct peer *p, const char *needle)
{
    return memmem(p->buf, p->len, needle, strlen(needle)) != NULL;
}

enum wait_for { WAIT_TEXT, WAIT_EOF, WAIT_NOTHING };

/* Turns the loop until `p` has received `needle` (WAIT_TEXT) or was
 * closed (WAIT_EOF), within TURNS_MAX turns and WAIT_MS; WAIT_NOTHING
 * turns a fixed 50 times. Returns whether it happened. */
static bool turn_until(struct fixture *f, struct peer *p, enum wait_for what, const char *needle)
{
    long long deadline = now_ms() + WAIT_MS;
    for (int i = 0; i < TURNS_MAX && now_ms() < deadline; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        drain(p);
        if (what == WAIT_TEXT && has(p, needle))
            return true;
        if (what == WAIT_EOF && p->eof)
            return true;
        if (what == WAIT_NOTHING && i == 50)
            return true;
        struct pollfd pf = {.fd = p->fd, .events = POLLIN};
        if (poll(&pf, 1, 0) == 0)
            usleep(200);
    }
    return false;
}

static bool saw(struct fixture *f, struct peer *p, const char *needle)
{
    return turn_until(f, p, WAIT_TEXT, needle);
}

static bool closed(struct fixture *f, struct peer *p)
{
    return turn_until(f, p, WAIT_EOF, NULL);
}

static size_t count_clients(const struct fixture *f)
{
    size_t n = 0;
    for (const struct client *cl = f->clients.clients; cl; cl = cl->next)
        n++;
    return n;
}

/* Turns the loop until the hub holds `n` clients. */
static bool clients_are(struct fixture *f, size_t n)
{
    long long deadline = now_ms() + WAIT_MS;
    for (int i = 0; i < TURNS_MAX && now_ms() < deadline; i++) {
        if (count_clients(f) == n)
            return true;
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(200);
    }
    return count_clients(f) == n;
}

/* Sends all of buf from the test, turning the loop while the kernel's
 * buffers are full (the daemon reads them on its turns). */
static void send_all(struct fixture *f, struct peer *p, const void *buf, size_t len)
{
    const char *at = buf;
    long long deadline = now_ms() + WAIT_MS;
    while (len) {
        ssize_t n = send(p->fd, at, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            at += n;
            len -= (size_t)n;
            continue;
        }
        assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
        assert_true(now_ms() < deadline);
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(200);
    }
}

static void say(struct fixture *f, struct peer *p, const char *text)
{
    send_all(f, p, text, strlen(text));
}

/* A client connection to the daemon's port, as the stock client makes. */
static void dial(struct fixture *f, struct peer *p)
{
    memset(p, 0, sizeof(*p));
    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(p->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

/* Greeting and request in one write, as the stock client sends them;
 * the greeting's "OK" is awaited with the reply. */
static void request(struct fixture *f, struct peer *p, const char *user, const char *req)
{
    char text[1024];
    dial(f, p);
    snprintf(text, sizeof(text), "HELLO USER='%s' TTY='pts/1'\n%s\n", user, req);
    say(f, p, text);
}

static void hang_up(struct peer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

/* The reply line after the greeting's "OK\n" (with its '\n'), or "". */
static const char *reply_line(struct peer *p, char *out, size_t outlen)
{
    out[0] = '\0';
    if (p->len < 3 || memcmp(p->buf, "OK\n", 3) != 0)
        return out;
    const char *nl = memchr(p->buf + 3, '\n', p->len - 3);
    if (nl) {
        size_t n = (size_t)(nl + 1 - (p->buf + 3));
        snprintf(out, outlen, "%.*s", (int)n, p->buf + 3);
    }
    return out;
}

/* Sends a request whose answer ends the connection, and checks that
 * answer's line. */
static void assert_answer(struct fixture *f, struct peer *p, const char *user, const char *req,
                          const char *answer)
{
    char line[512];
    request(f, p, user, req);
    assert_true(closed(f, p));
    assert_string_equal(reply_line(p, line, sizeof(line)), answer);
}

/* Sends a request for a session on one console and waits for its OK. */
static void assert_session(struct fixture *f, struct peer *p, const char *user, const char *req,
                           const char *console)
{
    char ok[512];
    request(f, p, user, req);
    snprintf(ok, sizeof(ok), "OK\nOK CONSOLE='%s'\n", console);
    assert_true(saw(f, p, ok));
    assert_memory_equal(p->buf, ok, strlen(ok));
}

static void on_connection(uv_stream_t *st, int status)
{
    struct fixture *f = st->data;
    assert_int_equal(status, 0);
    client_accept(&f->clients, (uv_stream_t *)&f->listener);
}

static struct console *console_named(struct fixture *f, const char *name)
{
    struct console *c = registry_find(&f->run.consoles, name);
    assert_non_null(c);
    return c;
}

static void start_listener(struct fixture *f)
{
    struct sockaddr_in addr;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    assert_int_equal(uv_tcp_init(&f->loop, &f->listener), 0);
    f->listener.data = f;
    assert_int_equal(uv_tcp_bind(&f->listener, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&f->listener, 128, on_connection), 0);
    struct sockaddr_in bound;
    int len = sizeof(bound);
    assert_int_equal(uv_tcp_getsockname(&f->listener, (struct sockaddr *)&bound, &len), 0);
    f->port = ntohs(bound.sin_port);
    f->clients = (struct client_hub){.loop = &f->loop,
                                     .settings = &f->conf.server,
                                     .consoles = &f->run.consoles,
                                     .resets = &f->resets};
}

static void listen_device(struct fixture *f)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/client-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->sock, sizeof(f->sock), "%s/alpha.sock", f->dir);
    f->devlisten = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->devlisten >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
    assert_int_equal(bind(f->devlisten, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->devlisten, 4), 0);
}

/* Turns the loop until alpha is up, then takes the device's end. */
static void accept_device(struct fixture *f)
{
    struct console *alpha = console_named(f, "alpha");
    for (int i = 0; i < 2000 && alpha->state != CONSOLE_UP; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(alpha->state, CONSOLE_UP);
    struct pollfd p = {.fd = f->devlisten, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
    memset(&f->dev, 0, sizeof(f->dev));
    f->dev.fd = accept4(f->devlisten, NULL, NULL, SOCK_CLOEXEC);
    assert_true(f->dev.fd >= 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    listen_device(f);
    char text[512];
    snprintf(text, sizeof(text),
             "console name=alpha dev=\"unix:%s\"\n"
             "console name=down1 dev=127.0.0.1:1\n"
             "console name=down2 dev=127.0.0.1:1\n",
             f->sock);
    assert_int_equal(conf_parse(text, "t.conf", NULL, NULL, &f->conf), 0);
    assert_int_equal(f->conf.nerrors, 0);
    assert_int_equal(f->conf.nconsoles, 3);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    running_consoles_start(&f->run, &f->loop, &f->conf);
    reset_init(&f->resets, &f->loop, &f->conf.server);
    start_listener(f);
    accept_device(f);
    *state = f;
    return 0;
}

/* As stop_server() and server_run() end: clients, consoles, handles, and
 * the loop turned until every handle is closed. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    client_close_all(&f->clients);
    running_consoles_stop(&f->run);
    uv_close((uv_handle_t *)&f->listener, NULL);
    reset_close(&f->resets);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_null(f->clients.clients);
    running_consoles_release(&f->run);
    conf_release(&f->conf);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    hang_up(&f->dev);
    close(f->devlisten);
    unlink(f->sock);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Destroys a console as a reload that removes it does: out of the
 * registry first, then destroyed (freed on the next turn). */
static void remove_console(struct fixture *f, struct console *c)
{
    size_t i = 0;
    while (i < f->run.consoles.n && f->run.consoles.v[i] != c)
        i++;
    assert_true(i < f->run.consoles.n);
    memmove(&f->run.consoles.v[i], &f->run.consoles.v[i + 1],
            (f->run.consoles.n - i - 1) * sizeof(*f->run.consoles.v));
    f->run.consoles.n--;
    console_destroy(c);
}

static void test_query_lists_the_matching_consoles(void **state)
{
    struct fixture *f = *state;
    struct peer all, some;
    const char *everyone = "OK CONSOLE='alpha' CONSOLE='down1' CONSOLE='down2'\n";
    assert_answer(f, &all, "alice", "QUERY", everyone);
    assert_int_equal(all.len, 3 + strlen(everyone)); /* nothing but the reply */
    assert_answer(f, &some, "alice", "QUERY OPTION=REGEX CONSOLE='down.*'",
                  "OK CONSOLE='down1' CONSOLE='down2'\n");
    hang_up(&all);
    hang_up(&some);
    assert_true(clients_are(f, 0));
}

static void test_no_matching_console_is_error_5(void **state)
{
    struct fixture *f = *state;
    struct peer q, m;
    const char *none = "ERROR CODE=5 MESSAGE='Found no matching consoles'\n";
    assert_answer(f, &q, "alice", "QUERY CONSOLE='nosuch'", none);
    assert_answer(f, &m, "alice", "MONITOR CONSOLE='nosuch'", none);
    hang_up(&q);
    hang_up(&m);
    assert_true(clients_are(f, 0));
}

static void test_monitor_gets_the_device_output_and_writes_nothing(void **state)
{
    struct fixture *f = *state;
    struct peer cl;
    assert_session(f, &cl, "alice", "MONITOR CONSOLE='alpha'", "alpha");
    assert_int_equal(console_named(f, "alpha")->nreaders, 1);

    say(f, &f->dev, "boot: ok\r\nlogin: ");
    assert_true(saw(f, &cl, "boot: ok\r\nlogin: "));
    assert_memory_equal(cl.buf + cl.len - 17, "boot: ok\r\nlogin: ", 17);

    /* A monitor is read-only: its keystrokes never reach the device. */
    say(f, &cl, "root\r\n");
    assert_true(turn_until(f, &f->dev, WAIT_NOTHING, NULL));
    assert_int_equal(f->dev.len, 0);
    hang_up(&cl);
    assert_true(clients_are(f, 0));
    assert_int_equal(console_named(f, "alpha")->nreaders, 0);
}

static void test_connect_writes_to_the_device_with_ff_unescaped(void **state)
{
    struct fixture *f = *state;
    struct peer cl;
    assert_session(f, &cl, "alice", "CONNECT OPTION=JOIN CONSOLE='alpha'", "alpha");

    /* 0xFF 0xFF is one literal 0xFF byte for the console. */
    send_all(f, &cl, "ls\xff\xff-l\r", 8);
    assert_true(saw(f, &f->dev, "-l\r"));
    assert_int_equal(f->dev.len, 7);
    assert_memory_equal(f->dev.buf, "ls\xff-l\r", 7);

    /* And the writer still reads the console. */
    say(f, &f->dev, "total 0\r\n");
    assert_true(saw(f, &cl, "total 0\r\n"));
    hang_up(&cl);
    assert_true(clients_are(f, 0));
}

static void test_second_writer_is_refused_and_force_steals(void **state)
{
    struct fixture *f = *state;
    struct peer first, second, thief;
    assert_session(f, &first, "alice", "CONNECT CONSOLE='alpha'", "alpha");

    assert_answer(f, &second, "bob", "CONNECT CONSOLE='alpha'",
                  "ERROR CODE=7 MESSAGE='Found console already in use'\n");
    assert_true(has(&second, "\nConsole [alpha] open R/W by <alice@"));
    assert_int_equal(console_named(f, "alpha")->nreaders, 1);

    assert_session(f, &thief, "carol", "CONNECT OPTION=FORCE CONSOLE='alpha'", "alpha");
    assert_true(saw(f, &thief, "\r\n<ConMan> Console [alpha] stolen from <alice@"));
    assert_true(closed(f, &first));
    assert_true(has(&first, "\r\n<ConMan> Console [alpha] stolen by <carol@"));
    assert_true(clients_are(f, 1));
    assert_int_equal(console_named(f, "alpha")->nreaders, 1);

    /* The console is the thief's now. */
    say(f, &thief, "mine");
    assert_true(saw(f, &f->dev, "mine"));
    assert_int_equal(f->dev.len, 4);
    hang_up(&first);
    hang_up(&second);
    hang_up(&thief);
    assert_true(clients_are(f, 0));
}

static void test_destroyed_console_tells_and_closes_its_monitor(void **state)
{
    struct fixture *f = *state;
    struct peer cl;
    assert_session(f, &cl, "alice", "MONITOR CONSOLE='alpha'", "alpha");
    assert_true(clients_are(f, 1));

    remove_console(f, console_named(f, "alpha"));
    assert_true(closed(f, &cl));
    assert_true(has(&cl, "\r\n<ConMan> Console [alpha] removed from the configuration.\r\n"));
    assert_true(clients_are(f, 0));
    assert_true(closed(f, &f->dev)); /* the console let go of its device too */
    hang_up(&cl);
}

static void test_overlong_greeting_is_error_2_and_the_hub_serves_on(void **state)
{
    struct fixture *f = *state;
    struct peer big, after;
    char line[512];
    size_t len = PROTO_MAX_LINE + 4096;
    char *greeting = malloc(len);
    assert_non_null(greeting);
    memset(greeting, 'A', len);
    memcpy(greeting, "HELLO USER='", 12);
    greeting[len - 2] = '\'';
    greeting[len - 1] = '\n';
    dial(f, &big);
    send_all(f, &big, greeting, len);
    free(greeting);
    assert_true(closed(f, &big));
    snprintf(line, sizeof(line), "ERROR CODE=2 MESSAGE='Request line too long: over %d bytes'\n",
             PROTO_MAX_LINE);
    assert_int_equal(big.len, strlen(line));
    assert_memory_equal(big.buf, line, big.len);
    hang_up(&big);
    assert_true(clients_are(f, 0));

    assert_answer(f, &after, "alice", "QUERY CONSOLE='alpha'", "OK CONSOLE='alpha'\n");
    hang_up(&after);
}

static void test_close_all_closes_every_client(void **state)
{
    struct fixture *f = *state;
    struct peer silent, greeted, monitor, writer;
    dial(f, &silent); /* still to send its greeting */
    dial(f, &greeted);
    say(f, &greeted, "HELLO USER='bob'\n");
    assert_true(saw(f, &greeted, "OK\n"));
    assert_session(f, &monitor, "carol", "MONITOR CONSOLE='alpha'", "alpha");
    assert_session(f, &writer, "dave", "CONNECT CONSOLE='down1'", "down1");
    assert_true(clients_are(f, 4));

    client_close_all(&f->clients);
    assert_true(clients_are(f, 0));
    assert_true(closed(f, &silent));
    assert_true(closed(f, &greeted));
    assert_true(closed(f, &monitor));
    assert_true(closed(f, &writer));
    assert_int_equal(console_named(f, "alpha")->nreaders, 0);
    assert_int_equal(console_named(f, "down1")->nreaders, 0);
    hang_up(&silent);
    hang_up(&greeted);
    hang_up(&monitor);
    hang_up(&writer);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);       /* as the daemon: a closed peer fails the write */
    log_set_level(LOG_LEVEL_ERROR); /* the down consoles warn on each retry */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_query_lists_the_matching_consoles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_matching_console_is_error_5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor_gets_the_device_output_and_writes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_writes_to_the_device_with_ff_unescaped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_second_writer_is_refused_and_force_steals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_destroyed_console_tells_and_closes_its_monitor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_overlong_greeting_is_error_2_and_the_hub_serves_on,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_all_closes_every_client, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
