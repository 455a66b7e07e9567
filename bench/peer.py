#!/usr/bin/python3
"""Peer-hop benchmark (issue 16): what a session costs when it reaches its
console through another instance (a peer: console) instead of the owner,
as ratios to a direct connection, in one run.

Two of our conmands on loopback: A owns two process consoles, "flood" and
"echo"; B lists both as dev="peer:127.0.0.1:<A>". For each round, in turn
direct (to A) and through B:
  join:       connect, HELLO, CONNECT OPTION=JOIN CONSOLE='echo', the OK
              line, then a line typed and its echo back (ms, median of
              --joins rounds);
  throughput: a MONITOR of "flood" while it writes --flood-mb MB of
              numbered 64-byte lines as fast as it can; MB/s from the
              trigger to the last line, and the bytes the client missed
              (a client that is too slow loses output, by design).
Every process it starts runs in its own session and is stopped by PID.
"""
import argparse
import json
import os
import socket
import statistics
import sys
import time

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
LINE = 64

# Waits for its trigger file, removes it, writes `mb` MB of numbered lines
# and an end line; again for the next trigger.
FLOOD = r"""
import os, sys, time
trigger, mb = sys.argv[1], float(sys.argv[2])
n = int(mb * 1e6) // 64
chunk = 1000
while True:
    while not os.path.exists(trigger):
        time.sleep(0.005)
    os.unlink(trigger)
    for i in range(0, n, chunk):
        os.write(1, b"".join(b"SEQ:%010d %s\n" % (j, b"x" * 48) for j in range(i, min(n, i + chunk))))
    os.write(1, b"END-OF-FLOOD\n")
"""

# Echoes what it reads (a blocking stdin: conmand hands a non-blocking one).
ECHO = r"""
import fcntl, os
fcntl.fcntl(0, fcntl.F_SETFL, fcntl.fcntl(0, fcntl.F_GETFL) & ~os.O_NONBLOCK)
os.execv("/bin/cat", ["cat"])
"""


class Session:
    """One conman protocol connection on a plain socket."""

    def __init__(self, port, request, timeout=20):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.sendall(b"HELLO USER='bench' TTY='none'\n" + request + b"\n")
        self.buf = b""
        self.expect_line(b"OK\n")          # the greeting's answer
        self.expect_line(b"OK CONSOLE=")  # the request's

    def read_more(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise harness.BenchError(f"closed; got {self.buf[-200:]!r}")
        self.buf += chunk

    def expect_line(self, prefix):
        while b"\n" not in self.buf:
            self.read_more()
        line, _, self.buf = self.buf.partition(b"\n")
        if not (line + b"\n").startswith(prefix):
            raise harness.BenchError(f"expected {prefix!r}, got {line[:200]!r}")

    def wait_for(self, needle):
        while needle not in self.buf:
            keep = self.buf[-len(needle):]
            self.read_more()
            if needle not in self.buf and len(self.buf) > (1 << 22):
                self.buf = keep + self.buf[-(1 << 20):]

    def close(self):
        self.s.close()


def join_ms(port, k):
    t0 = time.monotonic()
    s = Session(port, b"CONNECT OPTION=JOIN CONSOLE='echo'")
    s.s.sendall(b"ping-%d\r" % k)
    s.wait_for(b"ping-%d" % k)
    dt = time.monotonic() - t0
    s.close()
    return 1000 * dt


def flood(port, trigger, mb, pids):
    """MB/s, bytes missed, and CPU seconds per MB of each of `pids`."""
    s = Session(port, b"MONITOR CONSOLE='flood'")
    time.sleep(0.2)  # the session is up on the owner before the flood
    got = 0
    cpu0 = {k: harness.cpu_seconds(p) for k, p in pids.items()}
    t0 = time.monotonic()
    open(trigger, "w").close()
    tail = b""
    while True:
        chunk = s.s.recv(1 << 20)
        if not chunk:
            raise harness.BenchError("monitor closed during the flood")
        got += len(chunk)
        tail = (tail + chunk)[-64:]
        if b"END-OF-FLOOD" in tail:
            break
    dt = time.monotonic() - t0
    cpu = {f"cpu_s_per_mb_{k}": (harness.cpu_seconds(p) - cpu0[k]) / (got / 1e6)
           for k, p in pids.items()}
    s.close()
    want = (int(mb * 1e6) // LINE) * LINE + len(b"END-OF-FLOOD\n")
    return {"mb_s": got / 1e6 / dt, "missed_bytes": max(0, want - got), **cpu}


def start_pair(procs, args, run_dir):
    ports = {"A": harness.free_port(), "B": harness.free_port()}
    flood_py = os.path.join(run_dir, "flood.py")
    echo_py = os.path.join(run_dir, "echo.py")
    trigger = os.path.join(run_dir, "flood.trigger")
    with open(flood_py, "w") as f:
        f.write(FLOOD)
    with open(echo_py, "w") as f:
        f.write(ECHO)
    daemons = {}
    for me, other in (("A", "B"), ("B", "A")):
        d_dir = os.path.join(run_dir, me)
        os.makedirs(d_dir, exist_ok=True)
        if me == "A":
            consoles = [("flood", f"{PYTHON} {flood_py} {trigger} {args.flood_mb}"),
                        ("echo", f"{PYTHON} {echo_py}")]
        else:
            consoles = [(n, f"peer:127.0.0.1:{ports['A']}") for n in ("flood", "echo")]
        conf = os.path.join(d_dir, "conman.conf")
        harness.write_conf(conf, ports[me], d_dir, "notimestamp", consoles)
        d = harness.Daemon(procs, "ours", args.ours, d_dir, ports[me], conf)
        d.start()
        daemons[me] = d
    for d in daemons.values():
        harness.wait_port(d, time.monotonic() + 15)
    return daemons["A"], daemons["B"], trigger


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--joins", type=int, default=50)
    ap.add_argument("--floods", type=int, default=3)
    ap.add_argument("--flood-mb", type=float, default=50)
    ap.add_argument("--ours", default=os.path.join(os.path.dirname(HERE), "build", "bin",
                                                   "conmand"))
    ap.add_argument("--out", default=os.path.join(HERE, "out",
                                                  "peer-" + time.strftime("%Y%m%d-%H%M%S")))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    procs = harness.Procs()
    res = {"direct": {"join_ms": [], "flood": []}, "peer": {"join_ms": [], "flood": []}}
    try:
        a, b, trigger = start_pair(procs, args, args.out)
        time.sleep(1)  # both consoles up
        for k in range(args.joins):
            for how, d in (("direct", a), ("peer", b)):
                res[how]["join_ms"].append(join_ms(d.port, k))
        for k in range(args.floods):
            for how, d in (("direct", a), ("peer", b)):
                harness.log(f"peer: flood {k + 1}/{args.floods} {how}")
                res[how]["flood"].append(flood(d.port, trigger, args.flood_mb,
                                               {"owner": a.p.pid, "relay": b.p.pid}))
        for d in (a, b):
            d.check_alive("after the benchmark")
    finally:
        procs.stop_all()
    summary = {}
    for how, r in res.items():
        summary[how] = {"join_ms_median": statistics.median(r["join_ms"]),
                        "join_ms_max": max(r["join_ms"]),
                        "mb_s_median": statistics.median(f["mb_s"] for f in r["flood"]),
                        "missed_bytes_max": max(f["missed_bytes"] for f in r["flood"]),
                        "owner_cpu_ms_per_mb": 1000 * statistics.median(
                            f["cpu_s_per_mb_owner"] for f in r["flood"]),
                        "relay_cpu_ms_per_mb": 1000 * statistics.median(
                            f["cpu_s_per_mb_relay"] for f in r["flood"])}
    d, p = summary["direct"], summary["peer"]
    text = "\n".join([
        f"bench/peer.py --joins {args.joins} --floods {args.floods} --flood-mb {args.flood_mb}",
        harness.machine(),
        f"{'path':8} {'join ms median':>15} {'max':>8} {'MB/s median':>12} {'missed bytes max':>17}"
        f" {'owner CPU ms/MB':>16} {'relay CPU ms/MB':>16}",
        *(f"{how:8} {s['join_ms_median']:15.2f} {s['join_ms_max']:8.2f} {s['mb_s_median']:12.1f} "
          f"{s['missed_bytes_max']:17d} {s['owner_cpu_ms_per_mb']:16.2f} "
          f"{s['relay_cpu_ms_per_mb']:16.2f}" for how, s in summary.items()),
        f"peer / direct: join latency x{p['join_ms_median'] / d['join_ms_median']:.2f}, "
        f"throughput x{p['mb_s_median'] / d['mb_s_median']:.2f}"])
    print(text)
    with open(os.path.join(args.out, "peer.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"runs": res, "summary": summary}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
