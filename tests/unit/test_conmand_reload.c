/* Reload by diff: which consoles are kept, changed, added and removed, and
 * which SERVER changes need a restart. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "conmand/conf/conf.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/registry.h"
#include "conmand/reload.h"
#include "conmand/server.h"
#include "running_consoles.h"

/* Allocation-failure injection: this test is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup
 * (tests/CMakeLists.txt), so every allocation of the code under test comes
 * here. While armed, allocation number `fail_at` (counted from arming)
 * fails. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);

static bool armed;
static long nallocs, fail_at;
static long failed_in_prepare, failed_in_act;

static bool injected(void)
{
    return armed && ++nallocs == fail_at;
}

void *__wrap_malloc(size_t n)
{
    return injected() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return injected() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return injected() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return injected() ? NULL : __real_strdup(s);
}

static void parse(const char *text, struct conf *c)
{
    assert_int_equal(conf_parse(text, "t.conf", NULL, NULL, c), 0);
    assert_int_equal(c->nerrors, 0);
}

static const struct reload_step *step(const struct reload_step *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].name, name))
            return &s[i];
    fail_msg("no step for %s", name);
    return NULL;
}

static void test_plan_keeps_changes_adds_and_removes_by_name(void **state)
{
    (void)state;
    struct conf a, b;
    parse("global log=\"c.%N\"\n"
          "console name=keep dev=/bin/cat\n"
          "console name=gone dev=/bin/cat\n"
          "console name=newdev dev=h:1\n"
          "console name=newlog dev=/bin/cat\n"
          "console name=newopts dev=ipmi:h ipmiopts=\"U:a\"\n",
          &a);
    parse("global log=\"c.%N\"\n"
          "console name=added dev=/bin/cat\n"
          "console name=newopts dev=ipmi:h ipmiopts=\"U:b\"\n"
          "console name=newlog dev=/bin/cat log=\"\"\n"
          "console name=newdev dev=h:2\n"
          "console name=keep dev=/bin/cat\n",
          &b);
    struct reload_step s[16];
    size_t n = reload_plan(&a, &b, s);
    assert_int_equal(n, 6);
    assert_int_equal(step(s, n, "keep")->action, RELOAD_KEEP);
    assert_int_equal(step(s, n, "gone")->action, RELOAD_REMOVE);
    assert_int_equal(step(s, n, "added")->action, RELOAD_ADD);
    assert_int_equal(step(s, n, "newdev")->action, RELOAD_CHANGE);
    assert_int_equal(step(s, n, "newlog")->action, RELOAD_CHANGE);
    assert_int_equal(step(s, n, "newopts")->action, RELOAD_CHANGE);
    assert_int_equal(step(s, n, "keep")->new_index, 4);
    assert_int_equal(step(s, n, "keep")->old_index, 0);
    conf_release(&a);
    conf_release(&b);
}

static void test_identical_files_keep_everything(void **state)
{
    (void)state;
    struct conf a, b;
    const char *text = "console name=x dev=/bin/cat\nconsole name=y dev=unix:/s\n";
    parse(text, &a);
    parse(text, &b);
    struct reload_step s[4];
    size_t n = reload_plan(&a, &b, s);
    assert_int_equal(n, 2);
    assert_int_equal(s[0].action, RELOAD_KEEP);
    assert_int_equal(s[1].action, RELOAD_KEEP);
    conf_release(&a);
    conf_release(&b);
}

static void test_server_changes_that_need_a_restart_are_named(void **state)
{
    (void)state;
    struct conf a, b;
    char out[128];
    parse("server port=7890 loopback=on timestamp=1m logdir=/a httpport=9100 logsize=1M\n"
          "server logship=tcp:127.0.0.1:9000\n",
          &a);
    parse("server port=7891 loopback=off timestamp=5m logdir=/b httpport=9101 logsize=2M\n"
          "server logship=file:/tmp/ship\n",
          &b);
    reload_restart_needed(&a.server, &b.server, out, sizeof(out));
    assert_string_equal(out, "port,loopback,httpport,logship");
    reload_restart_needed(&a.server, &a.server, out, sizeof(out));
    assert_string_equal(out, "");
    conf_release(&a);
    conf_release(&b);
}

static void test_timestamp_marks_align_to_the_interval(void **state)
{
    (void)state;
    /* 00:00:30 of the epoch: the next 1-minute mark is 30 s away, the next
     * hourly one 59.5 min away; exactly on a mark waits a whole period
     * (plus 20 ms, so the mark never reads the previous minute). */
    assert_int_equal(server_next_mark_ms(30000, 1), 30020);
    assert_int_equal(server_next_mark_ms(30500, 60), 3569520);
    assert_int_equal(server_next_mark_ms(120000, 1), 60020);
}

/* A date in a log name is runtime: the same format is the same console,
 * whatever it expands to now (SIGHUP only reopens that log); another
 * format is a changed console. */
static void test_log_name_format_not_its_expansion_decides_keep(void **state)
{
    (void)state;
    struct conf a, b;
    parse("global log=\"%Y/%m/%d/console.%N.%H%M%S\"\n"
          "console name=dated dev=/bin/cat\n"
          "console name=fmt dev=/bin/cat log=\"fmt-%s.log\"\n"
          "console name=plain dev=/bin/cat log=\"plain.log\"\n",
          &a);
    parse("global log=\"%Y/%m/%d/console.%N.%H%M%S\"\n"
          "console name=dated dev=/bin/cat\n"
          "console name=fmt dev=/bin/cat log=\"fmt-%M.log\"\n"
          "console name=plain dev=/bin/cat log=\"plain.log\"\n",
          &b);
    struct reload_step s[8];
    size_t n = reload_plan(&a, &b, s);
    assert_int_equal(n, 3);
    assert_int_equal(step(s, n, "dated")->action, RELOAD_KEEP);
    assert_int_equal(step(s, n, "fmt")->action, RELOAD_CHANGE);
    assert_int_equal(step(s, n, "plain")->action, RELOAD_KEEP);
    conf_release(&a);
    conf_release(&b);
}

/* -p and -P on the command line win over the file: a reload whose file
 * names another port or pidfile is then no change needing a restart. */
static void test_command_line_port_and_pidfile_are_no_change(void **state)
{
    (void)state;
    struct conf run, file;
    char out[128];
    parse("server port=7890 pidfile=/run/a.pid\n", &run);
    parse("server port=7999 pidfile=/run/b.pid keepalive=off\n", &file);
    struct conf_server cmp = reload_compared_server(&run.server, &file.server, false, false);
    reload_restart_needed(&run.server, &cmp, out, sizeof(out));
    assert_string_equal(out, "port,pidfile");
    cmp = reload_compared_server(&run.server, &file.server, true, false);
    reload_restart_needed(&run.server, &cmp, out, sizeof(out));
    assert_string_equal(out, "pidfile");
    cmp = reload_compared_server(&run.server, &file.server, true, true);
    reload_restart_needed(&run.server, &cmp, out, sizeof(out));
    assert_string_equal(out, "");
    assert_false(cmp.keepalive); /* the rest is the file's */
    conf_release(&run);
    conf_release(&file);
}

/* What a reload applies: the new file's live settings, the running port,
 * loopback and pidfile; each pidfile string keeps one owner. */
static void test_applied_server_keeps_what_needs_a_restart(void **state)
{
    (void)state;
    struct conf old, nc;
    parse("server port=7890 loopback=on pidfile=/run/a.pid logdir=/a httpport=9100\n"
          "server httpaddr=127.0.0.2 logship=tcp:127.0.0.1:9000 logsize=1M\n",
          &old);
    parse("server port=7999 loopback=off pidfile=/run/b.pid logdir=/b httpport=9200\n"
          "server httpaddr=127.0.0.3 logship=file:/tmp/ship logsize=2M\n",
          &nc);
    char *old_pid = old.server.pidfile, *new_pid = nc.server.pidfile;
    reload_keep_running_server(&nc.server, &old.server);
    assert_int_equal(nc.server.port, 7890);
    assert_true(nc.server.loopback);
    assert_ptr_equal(nc.server.pidfile, old_pid);
    assert_string_equal(nc.server.pidfile, "/run/a.pid");
    assert_ptr_equal(old.server.pidfile, new_pid);
    assert_string_equal(nc.server.logdir, "/b");
    assert_int_equal(nc.server.httpport, 9100);
    assert_string_equal(nc.server.httpaddr, "127.0.0.2");
    assert_string_equal(nc.server.logship_tcp, "127.0.0.1:9000");
    assert_null(nc.server.logship_file);
    assert_string_equal(old.server.logship_file, "/tmp/ship");
    assert_int_equal(nc.server.logsize, 2 << 20); /* live: the new file's */
    conf_release(&old); /* frees /run/b.pid, ASan would see a double free */
    conf_release(&nc);
}

/* A changed console keeps its log descriptor unless it has no log now or
 * its logopts changed. */
static void test_changed_console_reopens_its_log_only_when_needed(void **state)
{
    (void)state;
    struct conf c;
    parse("console name=same dev=/bin/cat log=a logopts=\"lock,nosanitize,notimestamp\"\n"
          "console name=stamp dev=/bin/cat log=stamp logopts=\"lock,timestamp\"\n"
          "console name=sane dev=/bin/cat log=sane logopts=\"lock,sanitize\"\n"
          "console name=nolock dev=/bin/cat log=nolock logopts=nolock\n"
          "console name=nolog dev=/bin/cat log=\"\"\n",
          &c);
    const struct conf_logopts running = {.lock = true, .sanitize = false, .timestamp = false};
    assert_false(reload_log_reinit(&running, &c.consoles[0]));
    assert_true(reload_log_reinit(&running, &c.consoles[1]));
    assert_true(reload_log_reinit(&running, &c.consoles[2]));
    assert_true(reload_log_reinit(&running, &c.consoles[3]));
    assert_true(reload_log_reinit(&running, &c.consoles[4]));
    conf_release(&c);
}

/* A running set of consoles on a real loop, as the server holds them. */
struct running {
    uv_loop_t loop;
    struct running_consoles run;
    struct conf conf;
};

static void start_running(struct running *r, const char *text)
{
    memset(r, 0, sizeof(*r));
    parse(text, &r->conf);
    assert_int_equal(uv_loop_init(&r->loop), 0);
    running_consoles_start(&r->run, &r->loop, &r->conf);
}

static void stop_running(struct running *r)
{
    running_consoles_stop(&r->run);
    uv_run(&r->loop, UV_RUN_DEFAULT); /* finishes closing every handle */
    running_consoles_release(&r->run);
    conf_release(&r->conf);
    assert_int_equal(uv_loop_close(&r->loop), 0);
}

/* Every console of `conf` is in the registry, with exactly its settings,
 * and there is no other. */
static void assert_consoles_are(const struct running *r, const struct conf *conf)
{
    assert_int_equal(r->run.consoles.n, conf->nconsoles);
    for (size_t i = 0; i < conf->nconsoles; i++) {
        struct console *c = registry_find(&r->run.consoles, conf->consoles[i].name);
        assert_non_null(c);
        assert_true(conf_console_equal(&c->cfg, &conf->consoles[i]));
    }
}

/* One reload with allocation `n` failing: either it is refused and every
 * console is the old one, untouched (the same object), or it is applied
 * and every console is the new one. Returns true while the injection was
 * reached. */
static bool reload_failing_at(long n, const char *dir)
{
    char old_text[1024], new_text[1024];
    snprintf(old_text, sizeof(old_text),
             "server logdir=\"%s\"\n"
             "console name=keep dev=127.0.0.1:1\n"
             "console name=change dev=127.0.0.1:1 log=change.log\n"
             "console name=newlog dev=127.0.0.1:1 log=newlog.log\n"
             "console name=remove dev=127.0.0.1:1 log=remove.log\n",
             dir);
    snprintf(new_text, sizeof(new_text),
             "server logdir=\"%s\"\n"
             "console name=keep dev=127.0.0.1:1\n"
             "console name=change dev=127.0.0.1:2 log=change.log\n"
             "console name=newlog dev=127.0.0.1:1 log=newlog.log logopts=timestamp\n"
             "console name=add dev=127.0.0.1:3 log=add.log\n"
             "console name=add2 dev=ipmi:127.0.0.1 ipmiopts=\"U:admin,P:secret\"\n",
             dir);
    struct running r;
    start_running(&r, old_text);
    struct console *before[16];
    for (size_t i = 0; i < r.run.consoles.n; i++)
        before[i] = r.run.consoles.v[i];
    size_t nbefore = r.run.consoles.n;
    struct conf next;
    parse(new_text, &next);

    struct reload_target t = {.conf = &r.conf, .consoles = &r.run.consoles, .hub = &r.run.hub};
    struct reload_prep prep;
    nallocs = 0;
    fail_at = n;
    armed = true;
    int rc = reload_prepare(&t, &next, &prep);
    if (rc < 0) {
        armed = false;
        failed_in_prepare++;
        assert_int_equal(rc, -ENOMEM);
        assert_int_equal(r.run.consoles.n, nbefore);
        for (size_t i = 0; i < nbefore; i++)
            assert_ptr_equal(r.run.consoles.v[i], before[i]);
        assert_consoles_are(&r, &r.conf);
        assert_null(prep.steps); /* nothing held */
        conf_release(&next);
    } else {
        reload_act(&t, &prep);
        armed = false;
        if (nallocs >= n)
            failed_in_act++;
        conf_release(&r.conf);
        r.conf = next; /* as the server does after acting */
        r.run.hub.settings = &r.conf.server;
        assert_consoles_are(&r, &r.conf);
    }
    uv_run(&r.loop, UV_RUN_NOWAIT); /* the reaper frees the removed console */
    stop_running(&r);
    return nallocs >= n;
}

static void test_reload_fails_each_allocation_in_turn_and_stays_whole(void **state)
{
    (void)state;
    char dir[] = "/tmp/reload-alloc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    long n = 1;
    while (reload_failing_at(n, dir) && n < 10000)
        n++;
    /* The last run reached no injection: every allocation was failed once. */
    print_message("reload: %ld allocations failed in turn (%ld refused in prepare, %ld in act)\n",
                  n - 1, failed_in_prepare, failed_in_act);
    assert_true(n - 1 >= 10);
    assert_int_equal(failed_in_prepare + failed_in_act, n - 1);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_keeps_changes_adds_and_removes_by_name),
        cmocka_unit_test(test_identical_files_keep_everything),
        cmocka_unit_test(test_log_name_format_not_its_expansion_decides_keep),
        cmocka_unit_test(test_server_changes_that_need_a_restart_are_named),
        cmocka_unit_test(test_timestamp_marks_align_to_the_interval),
        cmocka_unit_test(test_command_line_port_and_pidfile_are_no_change),
        cmocka_unit_test(test_applied_server_keeps_what_needs_a_restart),
        cmocka_unit_test(test_changed_console_reopens_its_log_only_when_needed),
        cmocka_unit_test(test_reload_fails_each_allocation_in_turn_and_stays_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
