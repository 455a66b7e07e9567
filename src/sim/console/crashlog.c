/* Kernel crash blocks as a Debian 6.1 kernel prints them on ttyS0 with
 * panic=10 and softlockup_panic=1: the report, the panic, "Rebooting in 10
 * seconds..", then the next boot's first lines at uptime 0. */
#include "sim/console/crashlog.h"

#include <inttypes.h>
#include <stdio.h>

/* printk on a 115200 baud console waits for a ~100-byte line to go out. */
#define LINE_STEP_US 8680
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define KERNEL "6.1.0-13-amd64 #1  Debian 6.1.55-1"
#define HARDWARE "Hardware name: Simulated Node/Simulated Board, BIOS 1.2.3 01/01/2023"
#define MODULES                                                                                    \
    "Modules linked in: mlx5_ib ib_uverbs ib_core mlx5_core mlxfw lustre lnet xfs ext4 mbcache "   \
    "jbd2 sd_mod ahci libahci"

static const char *const oops_lines[] = {
    "BUG: kernel NULL pointer dereference, address: 0000000000000008",
    "#PF: supervisor read access in kernel mode",
    "#PF: error_code(0x0000) - not-present page",
    "PGD 0 P4D 0",
    "Oops: 0000 [#1] PREEMPT SMP NOPTI",
    "CPU: 17 PID: 4242 Comm: slurmstepd Not tainted " KERNEL,
    HARDWARE,
    "RIP: 0010:mlx5e_xmit+0x2a4/0xe70 [mlx5_core]",
    "RSP: 0018:ffffb1a4c1f3fb98 EFLAGS: 00010246",
    "RAX: 0000000000000000 RBX: ffff9a3f4c2e1000 RCX: 0000000000000000",
    "Call Trace:",
    " <TASK>",
    " ? __die+0x23/0x70",
    " ? page_fault_oops+0x171/0x4e0",
    " ? exc_page_fault+0x77/0x170",
    " ? asm_exc_page_fault+0x26/0x30",
    " ? mlx5e_xmit+0x2a4/0xe70 [mlx5_core]",
    " dev_hard_start_xmit+0x63/0x1d0",
    " sch_direct_xmit+0xa0/0x370",
    " __dev_queue_xmit+0x7ac/0xd50",
    " ip_finish_output2+0x297/0x560",
    " tcp_sendmsg_locked+0x67a/0xc50",
    " tcp_sendmsg+0x28/0x40",
    " sock_sendmsg+0x5e/0x70",
    " __sys_sendto+0x113/0x190",
    " __x64_sys_sendto+0x24/0x30",
    " do_syscall_64+0x5b/0xc0",
    " entry_SYSCALL_64_after_hwframe+0x64/0xce",
    "RIP: 0033:0x7f3a1c2e1b6a",
    " </TASK>",
    MODULES,
    "CR2: 0000000000000008",
    "---[ end trace 0000000000000000 ]---",
    "Kernel panic - not syncing: Fatal exception",
};

static const char *const gpf_lines[] = {
    "general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] "
    "PREEMPT SMP NOPTI",
    "CPU: 5 PID: 1402 Comm: slurmd Not tainted " KERNEL,
    HARDWARE,
    "RIP: 0010:__list_del_entry_valid+0x2f/0x90",
    "RSP: 0018:ffffb1a4c0e27d40 EFLAGS: 00010246",
    "Call Trace:",
    " <TASK>",
    " ? die_addr+0x36/0x90",
    " ? exc_general_protection+0x1c5/0x430",
    " ? asm_exc_general_protection+0x26/0x30",
    " ? __list_del_entry_valid+0x2f/0x90",
    " list_lru_del+0x6d/0x160",
    " d_lru_del+0x45/0x60",
    " __dentry_kill+0x11b/0x1a0",
    " dput+0x16b/0x330",
    " __fput+0x10b/0x280",
    " task_work_run+0x5a/0x90",
    " exit_to_user_mode_prepare+0x1e6/0x1f0",
    " syscall_exit_to_user_mode+0x1b/0x40",
    " do_syscall_64+0x67/0xc0",
    " entry_SYSCALL_64_after_hwframe+0x64/0xce",
    " </TASK>",
    MODULES,
    "---[ end trace 0000000000000000 ]---",
    "Kernel panic - not syncing: Fatal exception",
};

/* No panic: the OOM killer kills the job, then the node is rebooted. */
static const char *const oom_lines[] = {
    "slurmstepd invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, "
    "oom_score_adj=0",
    "CPU: 42 PID: 5120 Comm: slurmstepd Not tainted " KERNEL,
    HARDWARE,
    "Call Trace:",
    " <TASK>",
    " dump_stack_lvl+0x44/0x5c",
    " dump_header+0x4a/0x211",
    " oom_kill_process.cold+0xb/0x10",
    " out_of_memory+0x1fd/0x4c0",
    " __alloc_pages_slowpath.constprop.0+0xc8e/0xe00",
    " __alloc_pages+0x305/0x330",
    " folio_alloc+0x17/0x50",
    " __filemap_get_folio+0x155/0x340",
    " filemap_fault+0x139/0x910",
    " __do_fault+0x30/0x130",
    " do_fault+0x1c4/0x450",
    " __handle_mm_fault+0x62f/0xc90",
    " handle_mm_fault+0xdb/0x2d0",
    " do_user_addr_fault+0x19c/0x570",
    " exc_page_fault+0x70/0x170",
    " asm_exc_page_fault+0x26/0x30",
    "RIP: 0033:0x55d0c1a2b3c4",
    " </TASK>",
    "Mem-Info:",
    "active_anon:16102400 inactive_anon:120 isolated_anon:0",
    "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0-1,global_oom,"
    "task_memcg=/system.slice/slurmstepd.scope/job_4242,task=a.out,pid=4242,uid=1001",
    "Out of memory: Killed process 4242 (a.out) total-vm:66000000kB, anon-rss:64400000kB, "
    "file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:126172kB oom_score_adj:0",
    "systemd-shutdown[1]: Syncing filesystems and block devices.",
    "reboot: Restarting system",
};

static const char *const mce_lines[] = {
    "EDAC MC0: 1 UE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 "
    "page:0x1f2a3b offset:0x4c0 grain:32 - err_code:0x00a0:0x0091)",
    "mce: [Hardware Error]: CPU 3: Machine Check Exception: 5 Bank 4: be00000000800400",
    "mce: [Hardware Error]: RIP !INEXACT! 10:<ffffffff8104a1b2> {native_safe_halt+0xe/0x10}",
    "mce: [Hardware Error]: TSC 0 ADDR 1f2a3b4c0 MISC 9001000400000086",
    "mce: [Hardware Error]: PROCESSOR 2:a00f11 TIME 1701590400 SOCKET 0 APIC 6 microcode a0011d1",
    "mce: [Hardware Error]: Run the above through 'mcelog --ascii'",
    "mce: [Hardware Error]: Machine check: Processor context corrupt",
    "Kernel panic - not syncing: Fatal machine check",
};

static const char *const soft_lockup_lines[] = {
    "watchdog: BUG: soft lockup - CPU#12 stuck for 22s! [kworker/12:1:4242]",
    MODULES,
    "CPU: 12 PID: 4242 Comm: kworker/12:1 Not tainted " KERNEL,
    HARDWARE,
    "Workqueue: events_unbound lnet_peer_discovery [lnet]",
    "RIP: 0010:native_queued_spin_lock_slowpath+0x65/0x2f0",
    "RSP: 0018:ffffb1a4c3a5fd08 EFLAGS: 00000202",
    "Call Trace:",
    " <TASK>",
    " _raw_spin_lock+0x29/0x30",
    " lnet_peer_discovery+0x4c1/0x1030 [lnet]",
    " process_one_work+0x1c7/0x380",
    " worker_thread+0x4d/0x380",
    " kthread+0xd7/0x100",
    " ret_from_fork+0x1f/0x30",
    " </TASK>",
    "Kernel panic - not syncing: softlockup: hung tasks",
};

static const char *const panic_tail[] = {
    "Kernel Offset: 0x1a000000 from 0xffffffff81000000 (relocation range: "
    "0xffffffff80000000-0xffffffffbfffffff)",
    "Rebooting in 10 seconds..",
};

static const char *const reboot_lines[] = {
    "Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian "
    "12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)",
    "Command line: BOOT_IMAGE=/vmlinuz-6.1.0-13-amd64 root=/dev/sda1 ro console=ttyS0,115200n8 "
    "panic=10 softlockup_panic=1",
};

struct block {
    const char *const *lines;
    size_t count;
    int panics;
};

static struct block block_of(enum crashlog_kind kind)
{
    switch (kind) {
    case CRASHLOG_GPF:
        return (struct block){gpf_lines, COUNT(gpf_lines), 1};
    case CRASHLOG_OOM:
        return (struct block){oom_lines, COUNT(oom_lines), 0};
    case CRASHLOG_MCE:
        return (struct block){mce_lines, COUNT(mce_lines), 1};
    case CRASHLOG_SOFT_LOCKUP:
        return (struct block){soft_lockup_lines, COUNT(soft_lockup_lines), 1};
    case CRASHLOG_OOPS:
    default:
        return (struct block){oops_lines, COUNT(oops_lines), 1};
    }
}

/* Half the crashes are Oopses or GPFs, the rest spread over the others. */
static const enum crashlog_kind cycle[] = {
    CRASHLOG_OOPS, CRASHLOG_OOM, CRASHLOG_GPF, CRASHLOG_MCE, CRASHLOG_OOPS, CRASHLOG_SOFT_LOCKUP,
};

enum crashlog_kind crashlog_kind_for(const char *name, uint64_t nth)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: stable across runs and hosts */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return cycle[(h + nth) % COUNT(cycle)];
}

const char *crashlog_kind_name(enum crashlog_kind kind)
{
    static const char *const names[] = {"oops", "gpf", "oom", "mce", "soft_lockup"};
    return (size_t)kind < COUNT(names) ? names[kind] : "?";
}

/* Appends lines with printk stamps from up_us on, step_us apart. */
static int put_lines(char *buf, size_t size, size_t *len, const char *const *lines, size_t n,
                     uint64_t up_us, uint64_t step_us)
{
    for (size_t i = 0; i < n; i++, up_us += step_us) {
        int w = snprintf(buf + *len, size - *len, "[%5" PRIu64 ".%06" PRIu64 "] %s\r\n",
                         up_us / 1000000, up_us % 1000000, lines[i]);
        if (w < 0 || (size_t)w >= size - *len)
            return -1;
        *len += (size_t)w;
    }
    return 0;
}

size_t crashlog_format(char *buf, size_t size, enum crashlog_kind kind, uint64_t uptime_us)
{
    if (size == 0)
        return 0;
    struct block b = block_of(kind);
    size_t len = 0;
    uint64_t tail_us = uptime_us + LINE_STEP_US * b.count;
    if (put_lines(buf, size, &len, b.lines, b.count, uptime_us, LINE_STEP_US) < 0 ||
        (b.panics &&
         put_lines(buf, size, &len, panic_tail, COUNT(panic_tail), tail_us, LINE_STEP_US) < 0) ||
        put_lines(buf, size, &len, reboot_lines, COUNT(reboot_lines), 0, 0) < 0) {
        buf[0] = '\0';
        return 0;
    }
    return len;
}
