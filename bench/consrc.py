#!/usr/bin/python3
"""Bench console source: one process serving many simulated consoles, each a
listening unix socket that a conmand connects to (conman.conf dev="unix:...").

Every console emits numbered lines "SEQ:<10 digits> <name> <padding>\\n" on a
wall clock (rate lines/s, phases spread evenly), whether or not a daemon is
connected, like a real serial port: what nobody reads is gone, so a gap in a
log file is loss. In flood mode each console instead sends flood_bytes as fast
as the daemon reads them (backpressure, no source-side drop), for throughput.

Control: SIGUSR1 stops generating and writes the report (last sequence number
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
import sys
import time

SLOTS = 100  # timing wheel slots per period: spreads the consoles' lines evenly


def line_bytes(seq, name, length):
    head = b"SEQ:%010d %s " % (seq, name)
    pad = max(0, length - len(head) - 1)
    return head + b"x" * pad + b"\n"


class Console:
    __slots__ = ("name", "lsock", "conn", "seq", "pending", "connects", "src_drops",
                 "flood_sent", "t_first", "t_last", "t_accept")

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


class Source:
    def __init__(self, args):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.consoles = []
        self.generating = True
        self.report_written = False
        self.want_exit = False
        self.want_report = False
        self.n_connected = 0
        self.t_last_accept = None  # when the latest daemon connection came
        self.watch = []  # the consoles whose connections the status reports

    def listen_all(self, names):
        for name in names:
            path = os.path.join(self.args.sock_dir, name)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            s.bind(path)
            s.listen(4)
            c = Console(name.encode(), s)
            if name in self.args.watch:
                self.watch.append(c)
            self.consoles.append(c)
            self.sel.register(s, selectors.EVENT_READ, ("listen", c))

    def accept(self, c):
        try:
            conn, _ = c.lsock.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn.setblocking(False)
        if c.conn is not None:  # a newer daemon connection replaces the old one
            self.drop(c)
        c.conn = conn
        c.pending = b""
        c.connects += 1
        self.n_connected += 1
        self.t_last_accept = time.monotonic()
        c.t_accept = self.t_last_accept
        events = selectors.EVENT_READ
        if self.args.flood_bytes and self.generating:
            events |= selectors.EVENT_WRITE
        self.sel.register(conn, events, ("conn", c))

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

    def flood(self, c):
        now = time.monotonic()
        if c.t_first is None:
            c.t_first = now
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
            "connects": sum(c.connects for c in self.consoles)})

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
    ap.add_argument("--status", required=True, help="status file (JSON), rewritten often")
    ap.add_argument("--report", required=True, help="report file (JSON), written at stop")
    ap.add_argument("--watch", action="append", default=[],
                    help="a console whose connection the status file reports (repeatable)")
    args = ap.parse_args()
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

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    src.run()


if __name__ == "__main__":
    main()
