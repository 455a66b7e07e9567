/* The console core (consoles/console.c) on a real loop: a unix: console
 * connected to a socket this test listens on, its output delivered to an
 * attached reader, keystrokes reaching the device, notices, the drop and
 * the scheduled reconnect, and destruction telling the reader. Also the
 * type table's choice of type and the backoff. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "conmand/conf/conf.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/types.h"

struct test_reader {
    struct console_reader r;
    char out[4096];
    size_t outlen;
    int notices;
    char last_notice[512];
    int gone;
};

static void reader_output(struct console_reader *r, const unsigned char *buf, size_t len)
{
    struct test_reader *t = (struct test_reader *)r;
    assert_true(t->outlen + len <= sizeof(t->out));
    memcpy(t->out + t->outlen, buf, len);
    t->outlen += len;
}

static void reader_notice(struct console_reader *r, const char *text)
{
    struct test_reader *t = (struct test_reader *)r;
    t->notices++;
    snprintf(t->last_notice, sizeof(t->last_notice), "%s", text);
}

static void reader_gone(struct console_reader *r, struct console *c)
{
    struct test_reader *t = (struct test_reader *)r;
    t->gone++;
    console_detach(c, r);
}

static const struct console_reader_ops test_reader_ops = {reader_output, reader_notice,
                                                          reader_gone};

struct fixture {
    char dir[64];
    char sock[96];
    int listener;
    uv_loop_t loop;
    struct console_hub hub;
    struct conf conf;
    struct console *c;
    struct test_reader rd;
};

/* Turns the loop until `done` holds, at most two seconds. */
static bool run_until(struct fixture *f, bool (*done)(struct fixture *))
{
    for (int i = 0; i < 2000 && !done(f); i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    return done(f);
}

static bool is_up(struct fixture *f)
{
    return f->c->state == CONSOLE_UP;
}

static bool is_down(struct fixture *f)
{
    return f->c->state == CONSOLE_DOWN;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/console-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->sock, sizeof(f->sock), "%s/dev.sock", f->dir);
    f->listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
    assert_int_equal(bind(f->listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->listener, 4), 0);
    char text[256];
    snprintf(text, sizeof(text), "console name=u dev=\"unix:%s\"\n", f->sock);
    assert_int_equal(conf_parse(text, "t.conf", NULL, NULL, &f->conf), 0);
    assert_int_equal(f->conf.nconsoles, 1);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    console_hub_init(&f->hub, &f->loop);
    f->hub.settings = &f->conf.server;
    f->hub.conf_path = "t.conf";
    f->hub.cwd = "/";
    f->c = console_create(&f->hub, &f->conf.consoles[0]);
    assert_non_null(f->c);
    assert_ptr_equal(f->c->type, &console_type_unix);
    f->rd.r.ops = &test_reader_ops;
    assert_int_equal(console_attach(f->c, &f->rd.r), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->c)
        console_destroy(f->c);
    console_hub_close(&f->hub);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    console_hub_release(&f->hub);
    conf_release(&f->conf);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    close(f->listener);
    unlink(f->sock);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The device side of the connection the console made. */
static int accept_device(struct fixture *f)
{
    struct pollfd p = {.fd = f->listener, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
    int fd = accept4(f->listener, NULL, NULL, SOCK_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static bool got_hello(struct fixture *f)
{
    return f->rd.outlen >= 7;
}

static void test_output_reaches_the_reader_and_keystrokes_the_device(void **state)
{
    struct fixture *f = *state;
    console_start(f->c, false);
    assert_true(run_until(f, is_up));
    int dev = accept_device(f);
    assert_int_equal(f->rd.notices, 1); /* "connected to" */
    assert_non_null(strstr(f->rd.last_notice, "Console [u] connected to"));

    assert_int_equal(write(dev, "hello\r\n", 7), 7);
    assert_true(run_until(f, got_hello));
    assert_memory_equal(f->rd.out, "hello\r\n", 7);

    console_write(f->c, "typed", 5);
    for (int i = 0; i < 10; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT); /* the queued bytes are written */
    char buf[16];
    struct pollfd p = {.fd = dev, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
    assert_int_equal(read(dev, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "typed", 5);

    /* A notice goes to every reader but the one it is about. */
    console_notify(f->c, "to the others", &f->rd.r);
    assert_int_equal(f->rd.notices, 1);
    console_notify(f->c, "to all", NULL);
    assert_int_equal(f->rd.notices, 2);
    close(dev);
}

static void test_a_dropped_device_is_told_and_retried(void **state)
{
    struct fixture *f = *state;
    console_start(f->c, false);
    assert_true(run_until(f, is_up));
    close(accept_device(f));
    assert_true(run_until(f, is_down));
    assert_non_null(strstr(f->rd.last_notice, "Console [u] disconnected from"));
    assert_int_not_equal(f->c->retry.idx, TIMERHEAP_NONE); /* a reconnect is scheduled */
    assert_int_equal(f->c->failures, 1);
    /* The backoff brings it back once the device answers again. */
    assert_true(run_until(f, is_up));
    close(accept_device(f));
}

static void test_destroy_tells_each_reader_once(void **state)
{
    struct fixture *f = *state;
    struct test_reader second = {.r.ops = &test_reader_ops};
    assert_int_equal(console_attach(f->c, &second.r), 0);
    console_start(f->c, false);
    assert_true(run_until(f, is_up));
    int dev = accept_device(f);
    console_destroy(f->c);
    assert_int_equal(f->rd.gone, 1);
    assert_int_equal(second.gone, 1);
    assert_int_equal(f->c->nreaders, 0);
    f->c = NULL; /* freed by the reaper on the next turn */
    uv_run(&f->loop, UV_RUN_NOWAIT);
    close(dev);
}

static void test_console_type_follows_the_dev_string(void **state)
{
    (void)state;
    assert_ptr_equal(console_type_for("ipmi:127.0.0.1", false), &console_type_ipmi);
    assert_ptr_equal(console_type_for("IPMI:bmc", false), &console_type_ipmi);
    assert_ptr_equal(console_type_for("unix:/run/x.sock", false), &console_type_unix);
    assert_ptr_equal(console_type_for("ssh:n0@127.0.0.1:22", false), &console_type_ssh);
    assert_ptr_equal(console_type_for("/bin/cat -u", false), &console_type_process);
    assert_ptr_equal(console_type_for("/dev/ttyS0", true), &console_type_serial);
    assert_ptr_equal(console_type_for("/srv/x:23", false), &console_type_process);
    assert_ptr_equal(console_type_for("127.0.0.1:7001", false), &console_type_telnet);
    assert_ptr_equal(console_type_for("SSH:n0@bmc", false), &console_type_ssh);
    assert_ptr_equal(console_type_for("127.0.0.1:22", false), &console_type_telnet);
    /* No '/' first: a process found through SERVER execpath or the start
     * directory, as conman's. */
    assert_ptr_equal(console_type_for("relative/path", false), &console_type_process);
    assert_ptr_equal(console_type_for("cat %N", false), &console_type_process);
    assert_null(console_type_for("host:notaport", false));
    /* Every peer: dev is a peer console; its address is checked apart. */
    char err[256];
    assert_ptr_equal(console_type_for("peer:127.0.0.1:7890", false), &console_type_peer);
    assert_ptr_equal(console_type_for("peer:conman-1.conman:7890", false), &console_type_peer);
    assert_ptr_equal(console_type_for("peer:[::1]:7890", false), &console_type_peer);
    assert_ptr_equal(console_type_for("peer:127.0.0.1:99999", false), &console_type_peer);
    assert_int_equal(console_type_peer.check_dev("peer:127.0.0.1:7890", err, sizeof(err)), 0);
    assert_int_equal(console_type_peer.check_dev("peer:[::1]:65535", err, sizeof(err)), 0);
    assert_int_equal(console_type_peer.check_dev("peer:h:1", err, sizeof(err)), 0);
    const char *bad[] = {"peer:127.0.0.1:65536", "peer:127.0.0.1:0", "peer:127.0.0.1", "peer::7890",
                         "peer:::1:7890",        "peer:[]:7890",     "peer:h:",        "peer:h:12a",
                         "peer:h:000001"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(console_type_peer.check_dev(bad[i], err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, bad[i]));
    }
    assert_true(console_type_peer.remote);
    assert_string_equal(console_type_peer.dev_id("peer:[::1]:7890"), "[::1]:7890");
    /* The options keywords are the types'. */
    assert_ptr_equal(console_types[console_type_with_opts("IPMIOPTS")], &console_type_ipmi);
    assert_ptr_equal(console_types[console_type_with_opts("seropts")], &console_type_serial);
    assert_ptr_equal(console_types[console_type_with_opts("sshopts")], &console_type_ssh);
    assert_int_equal(console_type_with_opts("logopts"), -1);
}

static void test_backoff_doubles_to_a_cap_with_bounded_jitter(void **state)
{
    (void)state;
    assert_int_equal(console_backoff_ms(1, 0.0), 1000);
    assert_int_equal(console_backoff_ms(2, 0.0), 2000);
    assert_int_equal(console_backoff_ms(4, 0.0), 8000);
    assert_int_equal(console_backoff_ms(40, 0.0), 60000);
    assert_int_equal(console_backoff_ms(1, 0.999), 1249);
    assert_true(console_backoff_ms(40, 0.999) <= 75000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_output_reaches_the_reader_and_keystrokes_the_device,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_dropped_device_is_told_and_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_tells_each_reader_once, setup, teardown),
        cmocka_unit_test(test_console_type_follows_the_dev_string),
        cmocka_unit_test(test_backoff_doubles_to_a_cap_with_bounded_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
