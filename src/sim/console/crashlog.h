/* Unnumbered kernel crash blocks for console-sim's --panic-every: what a
 * Linux kernel prints on a serial console when a node dies, then the first
 * lines of the reboot, so console event rules have something real to find. */
#ifndef SIM_CONSOLE_CRASHLOG_H
#define SIM_CONSOLE_CRASHLOG_H

#include <stddef.h>
#include <stdint.h>

/* Longest block crashlog_format writes, terminator included. */
#define CRASHLOG_BLOCK_MAX 4096

enum crashlog_kind {
    CRASHLOG_OOPS,        /* NULL dereference Oops, Call Trace, Kernel panic */
    CRASHLOG_GPF,         /* general protection fault, Call Trace, Kernel panic */
    CRASHLOG_OOM,         /* OOM killer kills a process; the node is rebooted */
    CRASHLOG_MCE,         /* EDAC uncorrected error, machine check, Kernel panic */
    CRASHLOG_SOFT_LOCKUP, /* soft lockup with softlockup_panic: Kernel panic */
};

/* The kind of console `name`'s `nth` crash (1-based): mostly panics, now and
 * then the others, varied by console and by count. Deterministic. */
enum crashlog_kind crashlog_kind_for(const char *name, uint64_t nth);

/* "oops", "gpf", "oom", "mce", "soft_lockup". */
const char *crashlog_kind_name(enum crashlog_kind kind);

/* Writes the block of `kind` into buf: lines "[ uptime] message\r\n" from
 * `uptime_us` on, unnumbered, ending with the reboot's kernel banner at
 * "[    0.000000] Linux version ...". Returns the length (without the NUL),
 * or 0 when buf is too small. Pure. */
size_t crashlog_format(char *buf, size_t size, enum crashlog_kind kind, uint64_t uptime_us);

#endif
