#!/usr/bin/python3
"""Bench console source: one process serving many simulated consoles, each a
listening unix socket that a conmand connects to (conman.conf dev="unix:..."),
or with --tcp a TCP port on 127.0.0.1 (a telnet console, dev="127.0.0.1:PORT";
the daemon's telnet option requests are read and ignored, as by a terminal
server that negotiates nothing; the ports go to the --ports file).

Every console emits numbered lines "SEQ:<10 digits> <name> <padding>\\n" on a
wall clock (rate lines/s, phases spread evenly), whether or not a daemon is
connected, like a real serial port: what nobody reads is gone, so a gap in a
log file is loss. In flood mode each console instead sends flood_bytes as fast
as the daemon reads them (backpressure, no source-side drop), for throughput.

Control: SIGUSR2 starts a held flood; SIGUSR1 stops generating and writes the report (last sequence number
per console); SIGTERM writes it if not yet written and exits. A status file
(connected count) is rewritten every 0.5 s for the harness to poll.
"""
import argparse
import errno
import json
import os
import resource
import selectors
import signal
import socket
import struct
import sys
import time
import zlib

SLOTS = 100  # timing wheel slots per period: spreads the consoles' lines evenly

# What a kernel prints while it boots, one %-conversion each (filled from the
# sequence number), so lines vary in length and content like a real console.
KERNEL_MESSAGES = [
    b"Linux version 6.1.0-%d-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0)",
    b"Command line: BOOT_IMAGE=/vmlinuz root=UUID=%08x ro console=ttyS0,115200n8 quiet",
    b"BIOS-e820: [mem 0x%016x-0x000000000009fbff] usable",
    b"ACPI: SRAT 0x00000000BFFE%04X 0000C8 (v01 BOCHS  BXPC     00000001 BXPC 00000001)",
    b"pci 0000:00:%02x.0: [8086:2922] type 00 class 0x010601",
    b"pci 0000:00:1f.2: reg 0x20: [io  0x%04x-0xc05f]",
    b"Memory: %dK/16776692K available (14336K kernel code, 2341K rwdata, 8932K rodata)",
    b"smpboot: CPU%d: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz (family: 0x6, model: 0x6a)",
    b"e1000e 0000:00:19.0 eth%d: Intel(R) PRO/1000 Network Connection",
    b"sd %d:0:0:0: [sda] 1953525168 512-byte logical blocks: (1.00 TB/932 GiB)",
    b"EXT4-fs (sda%d): mounted filesystem with ordered data mode. Quota mode: none.",
    b"systemd[1]: Started systemd-udevd.service - Rule-based Manager for Device Events %d.",
    b"random: crng init done (%d bits)",
    b"usb 1-%d: new high-speed USB device number 2 using xhci_hcd",
    b"mlx5_core 0000:3b:00.%d: firmware version: 16.35.2000",
    b"NET: Registered PF_INET%d protocol family",
]


# Console events in the boot log (the shipped etc/conman-events.rules): line 1
# of every console is the kernel banner at uptime 0 (a boot event), and one
# console in CRASH_ONE_IN (by name) Oopses at lines CRASH_FIRST.. (a
# kernel_oops, a call_trace of three frames, a kernel_panic). The rules are
# anchored at the message, so these lines carry their SEQ tag after it.
BOOT_BANNER = (b"Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org) "
               b"(gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1")
CRASH_ONE_IN = 10
CRASH_FIRST = 40
CRASH_MESSAGES = [
    (b"BUG: kernel NULL pointer dereference, address: 0000000000000008", "kernel_oops"),
    (b" ? __die+0x23/0x70", "call_trace"),
    (b" page_fault_oops+0x171/0x4e0", "call_trace"),
    (b" exc_page_fault+0x77/0x170", "call_trace"),
    (b"Kernel panic - not syncing: Fatal exception", "kernel_panic"),
]


def crashes(name):
    """Whether console name's (bytes) boot log holds the crash."""
    return zlib.crc32(name) % CRASH_ONE_IN == 0


def expected_events(name, last_seq):
    """{rule: events} the shipped rules find in name's boot log of last_seq
    lines (the lines of one rule follow each other, so they fold into one)."""
    out = {"boot": 1}
    if crashes(name) and last_seq >= CRASH_FIRST + len(CRASH_MESSAGES) - 1:
        for _, rule in CRASH_MESSAGES:
            out[rule] = 1
    return out


def line_bytes(seq, name, length):
    head = b"SEQ:%010d %s " % (seq, name)
    pad = max(0, length - len(head) - 1)
    return head + b"x" * pad + b"\n"


def boot_line(seq, name):
    """Boot-log line number seq of console name (bytes): a kernel timestamp,
    the SEQ tag the checkers find, then a kernel message. The same every time,
    so a checker can tell a garbled line from a whole one."""
    usec = seq * 1237
    event = None
    if seq == 1:
        usec, event = 0, BOOT_BANNER
    elif 0 <= seq - CRASH_FIRST < len(CRASH_MESSAGES) and crashes(name):
        event = CRASH_MESSAGES[seq - CRASH_FIRST][0]
    if event:
        return b"[%5d.%06d] %s (SEQ:%010d %s )\n" % (usec // 1000000, usec % 1000000, event,
                                                       seq, name)
    msg = KERNEL_MESSAGES[seq % len(KERNEL_MESSAGES)] % (seq % 4096)
    return b"[%5d.%06d] SEQ:%010d %s %s\n" % (usec // 1000000, usec % 1000000, seq, name, msg)


def boot_log(name, nbytes):
    """(console name's boot log of whole lines, at least nbytes long, last seq)."""
    lines, size, seq = [], 0, 0
    while size < nbytes:
        seq += 1
        lines.append(boot_line(seq, name))
        size += len(lines[-1])
    return b"".join(lines), seq


class Console:
    __slots__ = ("name", "lsock", "conn", "seq", "pending", "connects", "src_drops",
                 "flood_sent", "t_first", "t_last", "t_accept", "payload")

    def __init__(self, name, lsock):
        self.name = name
        self.lsock = lsock
        self.conn = None
        self.seq = 0
        self.pending = b""
        self.connects = 0
        self.src_drops = 0
        self.flood_sent = 0
        self.t_first = None
        self.t_last = None
        self.t_accept = None
        self.payload = None  # --boot-log: the whole flood, sent from flood_sent on


class Source:
    def __init__(self, args):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.consoles = []
        self.generating = True
        self.flooding = not args.hold  # a held flood waits for SIGUSR2
        self.want_flood = False
        self.n_flood_done = 0
        self.report_written = False
        self.want_exit = False
        self.want_report = False
        self.n_connected = 0
        self.t_last_accept = None  # when the latest daemon connection came
        self.watch = []  # the consoles whose connections the status reports
        # A signal wakes the select at once (a storm starts on every console
        # together, not up to one select timeout later).
        self.wakeup_r, wakeup_w = socket.socketpair()
        self.wakeup_r.setblocking(False)
        wakeup_w.setblocking(False)
        signal.set_wakeup_fd(wakeup_w.fileno())
        self.wakeup_w = wakeup_w
        self.sel.register(self.wakeup_r, selectors.EVENT_READ, ("wakeup", None))

    def listen_socket(self, name):
        if self.args.tcp:
            # No SO_REUSEADDR: two shards binding port 0 at once could then
            # be given the same port.
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))  # loopback only; the kernel picks a free port
            return s
        path = os.path.join(self.args.sock_dir, name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        return s

    def listen_all(self, names):
        for name in names:
            s = self.listen_socket(name)
            s.setblocking(False)
            s.listen(4)
            c = Console(name.encode(), s)
            if self.args.boot_log:
                c.payload, c.seq = boot_log(c.name, self.args.flood_bytes)
            if name in self.args.watch:
                self.watch.append(c)
            self.consoles.append(c)
            self.sel.register(s, selectors.EVENT_READ, ("listen", c))
        if self.args.tcp:
            self.write_json(self.args.ports, {c.name.decode(): c.lsock.getsockname()[1]
                                              for c in self.consoles})

    def accept(self, c):
        try:
            conn, _ = c.lsock.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn.setblocking(False)
        if self.args.tcp:
            # Closed with a reset, so 10,000 connections of one run leave no
            # TIME_WAIT ports behind to crowd the next run's.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if c.payload is not None:
            # Room for the whole boot log (the kernel doubles this), so it
            # leaves in one send and the source is idle while a daemon drains
            # it, as a BMC's serial port costs the daemon's host nothing.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, len(c.payload))
        if c.conn is not None:  # a newer daemon connection replaces the old one
            self.drop(c)
        c.conn = conn
        c.pending = b""
        c.connects += 1
        self.n_connected += 1
        self.t_last_accept = time.monotonic()
        c.t_accept = self.t_last_accept
        events = selectors.EVENT_READ
        if self.args.flood_bytes and self.generating and self.flooding:
            events |= selectors.EVENT_WRITE
        self.sel.register(conn, events, ("conn", c))

    def start_flood(self):
        """SIGUSR2 on a held flood: every connected console starts at once."""
        self.flooding, self.want_flood = True, False
        for c in self.consoles:
            if c.conn is not None:
                self.sel.modify(c.conn, selectors.EVENT_READ | selectors.EVENT_WRITE, ("conn", c))

    def drop(self, c):
        self.sel.unregister(c.conn)
        c.conn.close()
        c.conn = None
        c.pending = b""
        self.n_connected -= 1

    def readable(self, c):
        try:
            data = c.conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.drop(c)

    def send(self, c, data):
        """Sends what the socket takes now; the rest waits for the next line."""
        if c.conn is None:
            return False
        data = c.pending + data
        try:
            n = c.conn.send(data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            self.drop(c)
            return False
        c.pending = data[n:]
        return True

    def emit(self, c):
        c.seq += 1
        if c.conn is None:
            return
        if len(c.pending) > (1 << 20):  # the daemon stopped reading: a real port drops
            c.src_drops += 1
            return
        self.send(c, line_bytes(c.seq, c.name, self.args.line_len))

    def flood_boot_log(self, c):
        if c.flood_sent >= len(c.payload):
            return
        try:
            n = c.conn.send(memoryview(c.payload)[c.flood_sent:])
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.drop(c)
            return
        c.flood_sent += n
        if c.flood_sent >= len(c.payload):
            c.t_last = time.monotonic()
            self.n_flood_done += 1
            self.sel.modify(c.conn, selectors.EVENT_READ, ("conn", c))

    def flood(self, c):
        now = time.monotonic()
        if c.t_first is None:
            c.t_first = now
        if c.payload is not None:
            self.flood_boot_log(c)
            return
        chunk = []
        size = len(c.pending)
        while size < 65536 and c.flood_sent < self.args.flood_bytes:
            c.seq += 1
            b = line_bytes(c.seq, c.name, self.args.line_len)
            chunk.append(b)
            size += len(b)
            c.flood_sent += len(b)
        if not self.send(c, b"".join(chunk)):
            return
        if c.flood_sent >= self.args.flood_bytes and not c.pending:
            c.t_last = time.monotonic()
            self.sel.modify(c.conn, selectors.EVENT_READ, ("conn", c))

    def write_json(self, path, obj):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(obj, f)
        os.rename(tmp, path)

    def write_status(self):
        self.write_json(self.args.status, {
            "pid": os.getpid(), "consoles": len(self.consoles), "connected": self.n_connected,
            "t_last_accept": self.t_last_accept, "generating": self.generating,
            "watch": {c.name.decode(): {"connected": c.conn is not None, "t_accept": c.t_accept}
                      for c in self.watch},
            "connects": sum(c.connects for c in self.consoles),
            "flooding": self.flooding, "flood_done": self.n_flood_done})

    def write_report(self):
        self.generating = False
        per = {}
        for c in self.consoles:
            per[c.name.decode()] = {"last": c.seq, "connects": c.connects,
                                    "src_drops": c.src_drops,
                                    "flood_sent": c.flood_sent,
                                    "t_first": c.t_first, "t_last": c.t_last}
        self.write_json(self.args.report, {"stopped": time.monotonic(), "consoles": per})
        self.report_written = True

    def run(self):
        period = 1.0 / self.args.rate if self.args.rate > 0 else 0
        slot_len = period / SLOTS if period else 0
        t0 = time.monotonic()
        next_slot = 0  # index of the next wheel slot due
        next_status = 0.0
        last_connected, last_write = -1, 0.0
        while not self.want_exit:
            now = time.monotonic()
            if self.want_report and not self.report_written:
                self.write_report()
            if self.want_flood and not self.flooding:
                self.start_flood()
            if self.generating and slot_len and not self.args.flood_bytes:
                due = int((now - t0) / slot_len)
                while next_slot <= due:  # catch up, so lines keep wall-clock pace
                    for c in self.consoles[next_slot % SLOTS::SLOTS]:
                        self.emit(c)
                    next_slot += 1
            changed = self.n_connected != last_connected
            if now >= next_status or (changed and now >= last_write + 0.05):
                self.write_status()
                last_connected, last_write = self.n_connected, now
                next_status = now + 0.5
            timeout = slot_len if slot_len and self.generating else 0.05
            for key, mask in self.sel.select(timeout=min(timeout, 0.05)):
                kind, c = key.data
                if kind == "wakeup":
                    self.wakeup_r.recv(64)
                    continue
                if kind == "listen":
                    self.accept(c)
                    continue
                if mask & selectors.EVENT_READ:
                    self.readable(c)
                if c.conn is not None and mask & selectors.EVENT_WRITE:
                    if self.generating:
                        self.flood(c)
        if not self.report_written:
            self.write_report()
        self.write_status()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sock-dir", required=True, help="directory for the console sockets")
    ap.add_argument("--names", required=True, help="file with one console name per line")
    ap.add_argument("--rate", type=float, default=1.0, help="lines per second per console")
    ap.add_argument("--line-len", type=int, default=64, help="bytes per line")
    ap.add_argument("--flood-bytes", type=int, default=0,
                    help="send this many bytes per console as fast as read, then stop")
    ap.add_argument("--boot-log", action="store_true",
                    help="the flood is kernel-like boot lines, generated before it starts")
    ap.add_argument("--hold", action="store_true", help="start the flood on SIGUSR2 only")
    ap.add_argument("--tcp", action="store_true",
                    help="TCP (telnet) consoles on 127.0.0.1 instead of unix sockets")
    ap.add_argument("--ports", help="with --tcp: file (JSON) that gets each console's port")
    ap.add_argument("--status", required=True, help="status file (JSON), rewritten often")
    ap.add_argument("--report", required=True, help="report file (JSON), written at stop")
    ap.add_argument("--watch", action="append", default=[],
                    help="a console whose connection the status file reports (repeatable)")
    args = ap.parse_args()
    if args.tcp and not args.ports:
        ap.error("--tcp needs --ports")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        with open(args.names) as f:
            names = [n.strip() for n in f if n.strip()]
    except OSError as e:
        sys.exit(f"consrc: cannot read names file {args.names}: {e.strerror}")
    src = Source(args)
    try:
        src.listen_all(names)
    except OSError as e:
        if e.errno == errno.EMFILE:
            sys.exit(f"consrc: out of descriptors after {len(src.consoles)} sockets "
                     f"(nofile hard limit {hard}); serve fewer consoles per process")
        sys.exit(f"consrc: cannot listen in {args.sock_dir}: {e}")

    def on_usr1(_s, _f):
        src.want_report = True

    def on_term(_s, _f):
        src.want_exit = True

    def on_usr2(_s, _f):
        src.want_flood = True

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGUSR2, on_usr2)
    signal.signal(signal.SIGINT, on_term)
    src.run()


if __name__ == "__main__":
    main()
