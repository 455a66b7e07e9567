/* The console event matcher (events/matcher.c) with its own rules and with
 * the shipped etc/conman-events.rules on real-looking console output. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "conmand/events/matcher.h"

#define MAX_EVENTS 64

/* What the callback saw: the started events (with their final counts, from
 * the folds) and every call. */
struct seen {
    const struct rules *rules;
    int n, calls;
    struct {
        size_t rule;
        enum rules_severity severity;
        int64_t time_ms;
        uint64_t offset;
        uint32_t lines;
        char line[MATCHER_LINE_MAX + 1];
        size_t len;
    } ev[MAX_EVENTS];
    int open[RULES_MAX];
};

static void collect(void *arg, const struct matcher_event *e)
{
    struct seen *s = arg;
    s->calls++;
    if (e->kind == MATCHER_FOLD) {
        assert_int_equal(s->ev[s->open[e->rule]].lines + 1, e->lines);
        s->ev[s->open[e->rule]].lines = e->lines;
        return;
    }
    assert_int_equal(e->lines, 1);
    assert_true(s->n < MAX_EVENTS);
    assert_true(e->len <= MATCHER_LINE_MAX);
    s->open[e->rule] = s->n;
    s->ev[s->n].rule = e->rule;
    s->ev[s->n].severity = e->severity;
    s->ev[s->n].time_ms = e->time_ms;
    s->ev[s->n].offset = e->offset;
    s->ev[s->n].lines = 1;
    memcpy(s->ev[s->n].line, e->line, e->len);
    s->ev[s->n].line[e->len] = '\0';
    s->ev[s->n].len = e->len;
    s->n++;
}

static struct rules *parse(const char *text)
{
    struct rules *r = NULL;
    char msg[512];
    if (rules_parse("t.rules", text, strlen(text), &r, msg, sizeof(msg)) != 0)
        fail_msg("%s", msg);
    return r;
}

static struct rules *shipped(void)
{
    FILE *f = fopen("../../etc/conman-events.rules", "rb");
    assert_non_null(f);
    static char text[64 * 1024];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    return parse(text);
}

static void feed(struct matcher *m, const char *s, uint64_t off, int64_t now, struct seen *seen)
{
    matcher_feed(m, (const unsigned char *)s, strlen(s), off, now, collect, seen);
}

/* "rule:lines rule:lines ..." of what was seen, for exact comparisons. */
static const char *summary(const struct seen *s)
{
    static char out[4096];
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < s->n; i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s:%u", i ? " " : "",
                              rules_name(s->rules, s->ev[i].rule), (unsigned)s->ev[i].lines);
    return out;
}

/* Every line its own event, whatever it holds: tests assembly and stripping. */
static const char any_rule[] = "any info /.+/\n";

static void test_lines_are_the_same_at_every_split_of_three_lines(void **state)
{
    (void)state;
    /* CRLF, an escape and a tab, so splits fall inside each. */
    static const char in[] = "alpha\r\nbr\x1b[1;31mavo\x1b[0m\nch\tarlie\n";
    const size_t len = sizeof(in) - 1;
    struct rules *r = parse(any_rule);
    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j++) {
            struct matcher m;
            static struct seen s;
            memset(&s, 0, sizeof(s));
            s.rules = r;
            assert_int_equal(matcher_init(&m, r, -1), 0);
            const unsigned char *p = (const unsigned char *)in;
            matcher_feed(&m, p, i, 100, 1, collect, &s);
            matcher_feed(&m, p + i, j - i, 100 + i, 2, collect, &s);
            matcher_feed(&m, p + j, len - j, 100 + j, 3, collect, &s);
            assert_int_equal(s.n, 3);
            assert_string_equal(s.ev[0].line, "alpha");
            assert_string_equal(s.ev[1].line, "bravo");
            assert_string_equal(s.ev[2].line, "ch\tarlie");
            assert_int_equal(s.ev[0].offset, 100);
            assert_int_equal(s.ev[1].offset, 107);
            assert_int_equal(s.ev[2].offset, 100 + strchr(in, 'c') - in);
            matcher_release(&m);
        }
    }
    rules_free(r);
}

static void test_escapes_and_control_characters_are_stripped(void **state)
{
    (void)state;
    struct rules *r = parse(any_rule);
    struct matcher m;
    static struct seen s;
    s.rules = r;
    assert_int_equal(matcher_init(&m, r, -1), 0);
    feed(&m,
         "\x1b]0;title\x07one\n"        /* OSC ended by BEL */
         "\x1b]2;title\x1b\\two\n"      /* OSC ended by ST */
         "\x1b(Bth\x1b[?25hree\x1b[K\n" /* charset, private CSI, erase */
         "f\x08o\x01u\x7fr\x1b=\r\n"    /* controls, keypad mode */
         "caf\xc3\xa9\t\xff\n"          /* UTF-8, tab, any 8-bit byte */
         "\x1b]0;never ended\nsix\n"    /* an LF ends a broken OSC */
         "\x1b[31\x01seven\n"           /* a broken CSI */
         "\x1b[1m\x1b[0m\n",            /* nothing left: no line */
         0, 1, &s);
    assert_int_equal(s.n, 7);
    assert_string_equal(s.ev[0].line, "one");
    assert_string_equal(s.ev[1].line, "two");
    assert_string_equal(s.ev[2].line, "three");
    assert_string_equal(s.ev[3].line, "four");
    assert_string_equal(s.ev[4].line, "caf\xc3\xa9\t\xff");
    assert_string_equal(s.ev[5].line, "six");
    assert_string_equal(s.ev[6].line, "seven");
    matcher_release(&m);
    rules_free(r);
}

static void test_a_line_of_the_limit_is_matched_whole_at_its_end(void **state)
{
    (void)state;
    struct rules *r = parse("x info /^x+$/\n");
    struct matcher m;
    static struct seen s;
    s.rules = r;
    assert_int_equal(matcher_init(&m, r, -1), 0);
    static char line[MATCHER_LINE_MAX + 2];
    memset(line, 'x', MATCHER_LINE_MAX);
    feed(&m, line, 0, 1, &s);
    assert_int_equal(s.n, 0); /* no LF yet: not complete */
    feed(&m, "\n", MATCHER_LINE_MAX, 2, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ev[0].len, MATCHER_LINE_MAX);
    assert_int_equal(s.ev[0].time_ms, 2);
    matcher_release(&m);
    rules_free(r);
}

static void test_one_byte_past_the_limit_is_matched_once_on_the_first_bytes(void **state)
{
    (void)state;
    struct rules *r = parse("x info /^x+$/\nnext info /^next$/\n");
    struct matcher m;
    static struct seen s;
    s.rules = r;
    assert_int_equal(matcher_init(&m, r, -1), 0);
    static char line[3 * MATCHER_LINE_MAX + 1];
    memset(line, 'x', MATCHER_LINE_MAX);
    feed(&m, line, 0, 1, &s);
    assert_int_equal(s.n, 0);
    feed(&m, "y", MATCHER_LINE_MAX, 2, &s); /* one past: matched now */
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ev[0].len, MATCHER_LINE_MAX);
    assert_int_equal(s.ev[0].time_ms, 2);
    memset(line, 'x', sizeof(line) - 1);
    feed(&m, line, MATCHER_LINE_MAX + 1, 3, &s); /* the rest of it: skipped */
    feed(&m, "\nnext\n", 4 * MATCHER_LINE_MAX + 1, 4, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ev[1].line, "next");
    assert_int_equal(s.ev[1].offset, 4 * MATCHER_LINE_MAX + 2);
    matcher_release(&m);
    rules_free(r);
}

static void test_escapes_do_not_count_towards_the_limit(void **state)
{
    (void)state;
    struct rules *r = parse(any_rule);
    struct matcher m;
    static struct seen s;
    s.rules = r;
    assert_int_equal(matcher_init(&m, r, -1), 0);
    for (int i = 0; i < 2 * MATCHER_LINE_MAX; i++)
        feed(&m, "\x1b[1m", 0, 1, &s);
    feed(&m, "short\n", 0, 1, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ev[0].line, "short");
    matcher_release(&m);
    rules_free(r);
}

static void test_flush_matches_a_prompt_without_lf_once(void **state)
{
    (void)state;
    struct rules *r = shipped();
    struct matcher m;
    static struct seen s;
    s.rules = r;
    assert_int_equal(matcher_init(&m, r, MATCHER_QUIET_MS), 0);
    feed(&m, "\r\nn01 login: ", 0, 1000, &s);
    assert_int_equal(s.n, 0);
    matcher_flush(&m, 1000, collect, &s);
    assert_string_equal(summary(&s), "login_prompt:1");
    assert_int_equal(s.ev[0].offset, 2);
    matcher_flush(&m, 1000, collect, &s);
    feed(&m, "root\r\n", 13, 1000, &s);
    assert_string_equal(summary(&s), "login_prompt:1");
    matcher_release(&m);
    rules_free(r);
}

/* A node's life in its console log: boot, a login prompt, an oops with a
 * Call Trace, an OOM kill, hardware and filesystem errors, a daemon's
 * segfault, a hung task, lockups, and the final panic. */
static const char real_log[] =
    "2026-12-03 07:00:00 [    0.000000] Linux version 5.14.0-362.8.1.el9_3.x86_64 "
    "(mockbuild@iad1-prod-build001.bld.equ.rockylinux.org) (gcc (GCC) 11.4.1 20230605) #1 SMP "
    "PREEMPT_DYNAMIC Wed Nov 8 17:36:32 UTC 2023\r\n"
    "2026-12-03 07:00:00 [    0.000000] Command line: BOOT_IMAGE=(hd0,gpt2)/vmlinuz ro "
    "console=ttyS0,115200\r\n"
    "2026-12-03 07:00:30 \r\n"
    "2026-12-03 07:00:30 Rocky Linux 9.3 (Blue Onyx)\r\n"
    "2026-12-03 07:00:30 Kernel 5.14.0-362.8.1.el9_3.x86_64 on an x86_64\r\n"
    "2026-12-03 07:00:30 \r\n"
    "2026-12-03 07:00:31 \x1b[1mn01 login: \x1b[0mroot\r\n"
    "2026-12-03 07:10:00 [  600.123456] BUG: kernel NULL pointer dereference, address: "
    "0000000000000008\r\n"
    "2026-12-03 07:10:00 [  600.123460] #PF: supervisor read access in kernel mode\r\n"
    "2026-12-03 07:10:00 [  600.123470] Oops: 0000 [#1] PREEMPT SMP NOPTI\r\n"
    "2026-12-03 07:10:00 [  600.123480] CPU: 3 PID: 4242 Comm: kworker/3:1 Tainted: G OE "
    "5.14.0 #1\r\n"
    "2026-12-03 07:10:00 [  600.123490] RIP: 0010:mlx5_cmd_exec+0x1a/0x40 [mlx5_core]\r\n"
    "2026-12-03 07:10:00 [  600.123500] Call Trace:\r\n"
    "2026-12-03 07:10:00 [  600.123501]  <TASK>\r\n"
    "2026-12-03 07:10:00 [  600.123502]  ? __die+0x20/0x70\r\n"
    "2026-12-03 07:10:00 [  600.123503]  ? page_fault_oops+0x76/0x170\r\n"
    "2026-12-03 07:10:01 [  600.123504]  process_one_work+0x1e5/0x3c0\r\n"
    "2026-12-03 07:10:01 [  600.123505]  worker_thread+0x50/0x3b0\r\n"
    "2026-12-03 07:10:01 [  600.123506]  kthread+0xdd/0x100\r\n"
    "2026-12-03 07:10:01 [  600.123507]  ret_from_fork+0x29/0x50\r\n"
    "2026-12-03 07:10:01 [  600.123508]  </TASK>\r\n"
    "2026-12-03 07:20:00 [ 1200.000001] slurmstepd invoked oom-killer: gfp_mask=0x140cca, "
    "order=0, oom_score_adj=0\r\n"
    "2026-12-03 07:20:00 [ 1200.000100] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),"
    "task=a.out,pid=9999,uid=1000\r\n"
    "2026-12-03 07:20:00 [ 1200.000101] Out of memory: Killed process 9999 (a.out) "
    "total-vm:98765432kB, anon-rss:87654321kB\r\n"
    "2026-12-03 07:30:00 [ 1800.000000] mce: [Hardware Error]: Machine check events logged\r\n"
    "2026-12-03 07:30:00 [ 1800.000100] EDAC MC0: 1 CE memory read error on "
    "CPU_SrcID#0_MC#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x12345)\r\n"
    "2026-12-03 07:40:00 [ 2400.000000] EXT4-fs error (device sda2): ext4_lookup:1855: inode "
    "#2: comm ls: deleted inode referenced: 12\r\n"
    "2026-12-03 07:40:10 [ 2410.000000] XFS (nvme0n1p1): Metadata corruption detected at "
    "xfs_dinode_verify+0x9a/0x5d0 [xfs], inode 0x80 dinode\r\n"
    "2026-12-03 07:50:00 [ 3000.000000] sshd[2222]: segfault at 0 ip 00007f3c2a1b2c3d sp "
    "00007ffd1a2b3c40 error 4 in libc.so.6[7f3c2a000000+195000]\r\n"
    "2026-12-03 08:00:00 [ 3600.000000] INFO: task jbd2/sda2-8:412 blocked for more than 122 "
    "seconds.\r\n"
    "2026-12-03 08:10:00 [ 4200.000000] watchdog: BUG: soft lockup - CPU#7 stuck for 23s! "
    "[kworker/7:2:311]\r\n"
    "2026-12-03 08:20:00 [ 4800.000000] NMI watchdog: Watchdog detected hard LOCKUP on cpu 5\r\n"
    "2026-12-03 08:30:00 [ 5400.000000] Kernel panic - not syncing: Fatal exception\r\n";

/* Lines that look close and are no event. */
static const char near_misses[] =
    "[root@n01 ~]# echo Call Trace: Kernel panic - not syncing\r\n"
    "Call Trace: is what we grep for\r\n"
    "[root@n01 ~]# ./sim --panicked_flag=1 --no-panic\r\n"
    "panicked_flag=1 Kernel panic inside\r\n"
    "user@n01:~$ cat /proc/version\r\n"
    "Linux version 5.14.0-362.8.1.el9_3.x86_64 (mockbuild@build) (gcc 11.4.1) #1 SMP\r\n"
    "[  700.000000] a.out[31337]: segfault at 0 ip 0000000000401136 sp 00007ffc error 6 in "
    "a.out[401000+1000]\r\n"
    "[root@n01 ~]# grep 'Out of memory: Killed process' /var/log/messages\r\n"
    "my BUG: in the code\r\n"
    "EXT4-fs (sda2): mounted filesystem with ordered data mode. Quota mode: none.\r\n"
    "XFS (nvme0n1p1): Mounting V5 Filesystem\r\n"
    "EDAC MC0: Giving out device to skx_edac.c Skylake Socket#0 IMC#0: DEV 0000:3a:0a.0\r\n"
    "[    3.100000] mce: CPU supports 32 MCE banks\r\n"
    "Last login: Thu Dec  3 07:00:00 from 10.0.0.1\r\n"
    "[root@n01 ~]# echo n01 login: root\r\n"
    "ret_from_fork+0x29/0x50 typed at the start of a line\r\n";

static void scan(struct rules *r, const char *text, size_t step, struct seen *s)
{
    struct matcher m;
    memset(s, 0, sizeof(*s));
    s->rules = r;
    assert_int_equal(matcher_init(&m, r, MATCHER_QUIET_MS), 0);
    size_t len = strlen(text);
    int64_t now = 0;
    for (size_t i = 0; i < len; i += step) {
        size_t n = len - i < step ? len - i : step;
        now += 10; /* 10 ms a read: the whole log is well within 5 s */
        matcher_feed(&m, (const unsigned char *)text + i, n, i, now, collect, s);
    }
    matcher_flush(&m, now, collect, s);
    for (size_t i = 0; i < rules_count(r); i++)
        assert_int_equal(matcher_limit_hits(&m, i), 0);
    matcher_release(&m);
}

static void test_shipped_rules_find_each_event_of_a_real_log(void **state)
{
    (void)state;
    struct rules *r = shipped();
    static struct seen s;
    static const char want[] =
        "boot:1 login_prompt:1 kernel_oops:2 call_trace:9 oom_kill:3 machine_check:1 edac:1 "
        "ext4_error:1 xfs_error:1 daemon_segfault:1 hung_task:1 soft_lockup:1 hard_lockup:1 "
        "kernel_panic:1";
    /* Whole, and in reads of awkward sizes: the same events. */
    static const size_t steps[] = {sizeof(real_log), 1, 7, 64, 333};
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        scan(r, real_log, steps[k], &s);
        assert_string_equal(summary(&s), want);
    }
    assert_int_equal(s.ev[0].severity, RULES_INFO);
    assert_int_equal(s.ev[2].severity, RULES_CRITICAL);
    assert_int_equal(s.ev[13].severity, RULES_CRITICAL);
    /* The bytes at each offset are the matched line (these have no escape). */
    for (int i = 0; i < s.n; i++) {
        if (i == 1) /* the login line: an escape in it */
            continue;
        assert_memory_equal(real_log + s.ev[i].offset, s.ev[i].line, s.ev[i].len);
        assert_memory_equal(real_log + s.ev[i].offset + s.ev[i].len, "\r\n", 2);
    }
    /* The login line's offset is its first byte, the stamp before the escape. */
    const char *login = strstr(real_log, "2026-12-03 07:00:31 ");
    assert_int_equal(s.ev[1].offset, (uint64_t)(login - real_log));
    assert_string_equal(s.ev[1].line, "2026-12-03 07:00:31 n01 login: root");
    rules_free(r);
}

static void test_shipped_rules_ignore_benign_near_misses(void **state)
{
    (void)state;
    struct rules *r = shipped();
    static struct seen s;
    scan(r, near_misses, 5, &s);
    assert_string_equal(summary(&s), "");
    rules_free(r);
}

/* "Call Trace:" and n-1 frames, each line `gap` ms after the one before. */
static void call_trace(struct matcher *m, int n, int64_t *now, int64_t gap, struct seen *s)
{
    char line[128];
    feed(m, "[ 10.000000] Call Trace:\n", 0, *now, s);
    for (int i = 1; i < n; i++) {
        *now += gap;
        snprintf(line, sizeof(line), "[ 10.%06d]  func_%d+0x%x/0x200\n", i, i, i);
        feed(m, line, 0, *now, s);
    }
}

static void test_a_40_line_call_trace_is_one_event_of_40_lines(void **state)
{
    (void)state;
    struct rules *r = shipped();
    struct matcher m;
    static struct seen s;
    s.rules = r;
    assert_int_equal(matcher_init(&m, r, MATCHER_QUIET_MS), 0);
    /* 40 lines over 39 s: each is within 5 s of the last one folded. */
    int64_t now = 1000;
    call_trace(&m, 40, &now, 1000, &s);
    assert_string_equal(summary(&s), "call_trace:40");
    assert_int_equal(s.calls, 40);
    assert_int_equal(matcher_lines(&m, s.ev[0].rule), 40);
    assert_int_equal(s.ev[0].time_ms, 1000);
    matcher_release(&m);
    rules_free(r);
}

static void test_a_second_panic_after_the_quiet_period_is_a_second_event(void **state)
{
    (void)state;
    struct rules *r = shipped();
    struct matcher m;
    static struct seen s;
    s.rules = r;
    assert_int_equal(matcher_init(&m, r, MATCHER_QUIET_MS), 0);
    const char *panic = "[ 99.0] Kernel panic - not syncing: Fatal exception\n";
    feed(&m, panic, 0, 10000, &s);
    feed(&m, panic, 0, 15000, &s); /* exactly the quiet period: folded */
    assert_string_equal(summary(&s), "kernel_panic:2");
    feed(&m, panic, 0, 20001, &s); /* 5.001 s after the last folded line */
    assert_string_equal(summary(&s), "kernel_panic:2 kernel_panic:1");
    assert_int_equal(s.ev[1].time_ms, 20001);
    assert_int_equal(matcher_lines(&m, s.ev[1].rule), 1);
    /* A clock that went back folds, rather than making new events. */
    feed(&m, panic, 0, 19000, &s);
    assert_string_equal(summary(&s), "kernel_panic:2 kernel_panic:2");
    matcher_release(&m);
    rules_free(r);
}

static void test_folding_is_per_rule(void **state)
{
    (void)state;
    struct rules *r = parse("a info /^a/\nb info /^b/\n");
    struct matcher m;
    static struct seen s;
    s.rules = r;
    assert_int_equal(matcher_init(&m, r, 5000), 0);
    feed(&m, "a1\nb1\na2\nb2\nab\n", 0, 1, &s);
    assert_string_equal(summary(&s), "a:3 b:2");
    matcher_release(&m);
    rules_free(r);
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_catastrophic_regex_hits_the_limit_promptly_and_is_counted(void **state)
{
    (void)state;
    /* The same regex JIT-compiled and interpreted ((*NO_JIT)): both bounded. */
    struct rules *r = parse("fine info /^ok$/\nbad warning /(a+)+$/\n"
                            "interp warning /(*NO_JIT)(a+)+$/\n");
    struct matcher m;
    static struct seen s;
    s.rules = r;
    assert_int_equal(matcher_init(&m, r, -1), 0);
    static char line[MATCHER_LINE_MAX + 1];
    memset(line, 'a', MATCHER_LINE_MAX - 2);
    line[MATCHER_LINE_MAX - 2] = 'b';
    line[MATCHER_LINE_MAX - 1] = '\n';
    double t0 = seconds();
    for (int i = 0; i < 3; i++)
        feed(&m, line, 0, 1, &s);
    double took = seconds() - t0;
    assert_int_equal(s.n, 0);
    assert_int_equal(matcher_limit_hits(&m, 1), 3);
    assert_int_equal(matcher_limit_hits(&m, 2), 3);
    assert_int_equal(matcher_limit_hits(&m, 0), 0);
    assert_true(took < 1.0);
    /* The console goes on: the next line is matched as usual. */
    feed(&m, "ok\n", 0, 2, &s);
    assert_string_equal(summary(&s), "fine:1");
    matcher_release(&m);
    rules_free(r);
}

static void test_new_rules_start_afresh_and_keep_the_partial_line(void **state)
{
    (void)state;
    struct rules *a = parse("p info /^p/\n"), *b = parse("q info /^q/\np info /^p/\n");
    struct matcher m;
    static struct seen s;
    s.rules = a;
    assert_int_equal(matcher_init(&m, a, 5000), 0);
    feed(&m, "p1\np", 0, 1, &s);
    assert_int_equal(matcher_lines(&m, 0), 1);
    assert_int_equal(matcher_set_rules(&m, b), 0);
    s.rules = b;
    assert_int_equal(matcher_lines(&m, 1), 0);
    feed(&m, "2\n", 4, 2, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ev[1].line, "p2");
    assert_int_equal(s.ev[1].offset, 3);
    assert_int_equal(s.ev[1].rule, 1);
    matcher_release(&m);
    rules_free(a);
    rules_free(b);
}

static void test_no_rules_match_nothing(void **state)
{
    (void)state;
    struct matcher m;
    static struct seen s;
    assert_int_equal(matcher_init(&m, NULL, 5000), 0);
    feed(&m, "Kernel panic - not syncing\n", 0, 1, &s);
    matcher_flush(&m, 1, collect, &s);
    assert_int_equal(s.calls, 0);
    matcher_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_are_the_same_at_every_split_of_three_lines),
        cmocka_unit_test(test_escapes_and_control_characters_are_stripped),
        cmocka_unit_test(test_a_line_of_the_limit_is_matched_whole_at_its_end),
        cmocka_unit_test(test_one_byte_past_the_limit_is_matched_once_on_the_first_bytes),
        cmocka_unit_test(test_escapes_do_not_count_towards_the_limit),
        cmocka_unit_test(test_flush_matches_a_prompt_without_lf_once),
        cmocka_unit_test(test_shipped_rules_find_each_event_of_a_real_log),
        cmocka_unit_test(test_shipped_rules_ignore_benign_near_misses),
        cmocka_unit_test(test_a_40_line_call_trace_is_one_event_of_40_lines),
        cmocka_unit_test(test_a_second_panic_after_the_quiet_period_is_a_second_event),
        cmocka_unit_test(test_folding_is_per_rule),
        cmocka_unit_test(test_catastrophic_regex_hits_the_limit_promptly_and_is_counted),
        cmocka_unit_test(test_new_rules_start_afresh_and_keep_the_partial_line),
        cmocka_unit_test(test_no_rules_match_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
