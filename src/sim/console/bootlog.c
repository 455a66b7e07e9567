/* Boot-log-like console lines. The messages imitate a Debian node booting:
 * the kernel first, then systemd units, then the odd message of a running
 * system, cycling forever so a console can talk for as long as needed. */
#include "sim/console/bootlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const boot_messages[] = {
    "Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian "
    "12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)",
    "Command line: BOOT_IMAGE=/vmlinuz-6.1.0-13-amd64 root=/dev/sda1 ro console=ttyS0,115200n8",
    "BIOS-provided physical RAM map:",
    "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
    "NX (Execute Disable) protection: active",
    "SMBIOS 3.2.0 present.",
    "DMI: Simulated Node/Simulated Board, BIOS 1.2.3 01/01/2023",
    "tsc: Detected 2400.000 MHz processor",
    "ACPI: Early table checksum verification disabled",
    "Memory: 65536000K/67108864K available (14336K kernel code)",
    "smpboot: CPU0: AMD EPYC 7763 64-Core Processor (family: 0x19, model: 0x1, stepping: 0x1)",
    "smp: Brought up 1 node, 128 CPUs",
    "devtmpfs: initialized",
    "PCI: Using configuration type 1 for base access",
    "serial8250: ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A",
    "printk: console [ttyS0] enabled",
    "ahci 0000:00:1f.2: AHCI 0001.0300 32 slots 6 ports 6 Gbps 0x3f impl SATA mode",
    "sd 0:0:0:0: [sda] 937703088 512-byte logical blocks: (480 GB/447 GiB)",
    "EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none.",
    "Run /sbin/init as init process",
    "systemd[1]: systemd 252.17-1~deb12u1 running in system mode",
    "systemd[1]: Detected architecture x86-64.",
    "systemd[1]: Hostname set to <node>.",
    "systemd[1]: Started Journal Service.",
    "systemd[1]: Starting Load Kernel Modules...",
    "systemd[1]: Finished Load Kernel Modules.",
    "systemd[1]: Mounted Huge Pages File System.",
    "systemd[1]: Starting Create Static Device Nodes in /dev...",
    "systemd[1]: Started Rule-based Manager for Device Events and Files.",
    "mlx5_core 0000:41:00.0: firmware version: 22.36.1010",
    "mlx5_core 0000:41:00.0 hsn0: Link up",
    "systemd[1]: Reached target Network.",
    "systemd[1]: Starting OpenBSD Secure Shell server...",
    "systemd[1]: Started OpenBSD Secure Shell server.",
    "systemd[1]: Started Slurm node daemon.",
    "systemd[1]: Reached target Multi-User System.",
    "systemd[1]: Startup finished in 4.210s (kernel) + 9.876s (userspace) = 14.086s.",
};

static const char *const running_messages[] = {
    "CRON[2231]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "slurmd[1402]: launch task StepId=4242.0 request from UID:1001",
    "sshd[2304]: Accepted publickey for admin from 127.0.0.1 port 52144 ssh2",
    "systemd[1]: Starting Cleanup of Temporary Directories...",
    "systemd[1]: Finished Cleanup of Temporary Directories.",
    "EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0",
    "slurmd[1402]: done with job 4242",
    "kernel: hsn0: NIC Link is Up 200 Gbps Full Duplex",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *message_for(uint64_t seq)
{
    uint64_t i = seq - 1;
    if (i < COUNT(boot_messages))
        return boot_messages[i];
    return running_messages[(i - COUNT(boot_messages)) % COUNT(running_messages)];
}

size_t bootlog_format(char *buf, size_t size, const char *name, uint64_t seq, uint64_t uptime_us)
{
    if (seq == 0 || size == 0)
        return 0;
    int n = snprintf(buf, size, "[%5" PRIu64 ".%06" PRIu64 "] %s #%08" PRIu64 " %s\r\n",
                     uptime_us / 1000000, uptime_us % 1000000, name, seq, message_for(seq));
    if (n < 0 || (size_t)n >= size) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

int bootlog_parse(const char *line, char *name, size_t name_size, uint64_t *seq)
{
    const char *p = strchr(line, ']');
    if (line[0] != '[' || !p || p[1] != ' ')
        return -EINVAL;
    p += 2;
    const char *end = strchr(p, ' ');
    if (!end || end == p || (size_t)(end - p) >= name_size || end[1] != '#')
        return -EINVAL;
    uint64_t v = 0;
    const char *d = end + 2;
    if (*d < '0' || *d > '9')
        return -EINVAL;
    for (; *d >= '0' && *d <= '9'; d++)
        v = v * 10 + (uint64_t)(*d - '0');
    if (*d != ' ' || v == 0)
        return -EINVAL;
    memcpy(name, p, (size_t)(end - p));
    name[end - p] = '\0';
    *seq = v;
    return 0;
}
