/* Reload by diff: which consoles are kept, changed, added and removed, and
 * which SERVER changes need a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "conmand/conf/conf.h"
#include "conmand/reload.h"
#include "conmand/server.h"

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
    parse("server port=7890 loopback=on timestamp=1m logdir=/a\n", &a);
    parse("server port=7891 loopback=off timestamp=5m logdir=/b\n", &b);
    reload_restart_needed(&a.server, &b.server, out, sizeof(out));
    assert_string_equal(out, "port,loopback");
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
    parse("server port=7890 loopback=on pidfile=/run/a.pid logdir=/a\n", &old);
    parse("server port=7999 loopback=off pidfile=/run/b.pid logdir=/b\n", &nc);
    char *old_pid = old.server.pidfile, *new_pid = nc.server.pidfile;
    reload_keep_running_server(&nc.server, &old.server);
    assert_int_equal(nc.server.port, 7890);
    assert_true(nc.server.loopback);
    assert_ptr_equal(nc.server.pidfile, old_pid);
    assert_string_equal(nc.server.pidfile, "/run/a.pid");
    assert_ptr_equal(old.server.pidfile, new_pid);
    assert_string_equal(nc.server.logdir, "/b");
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
