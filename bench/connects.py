#!/usr/bin/python3
"""Start-up connect time: N telnet consoles served by console-sim on
127.0.0.1, and each daemon (ours, Debian's conmand) started on them in
turn; the time from the daemon's start until all N connections are
established (`ss`, polled every 10 ms). Each run gets a fresh log folder
(--warm-logs: the files from the run before are kept, so only the
connects are timed). Every process runs in its own session and is stopped
by PID, also on failure; everything is on loopback.

    /usr/bin/python3 bench/connects.py --consoles 1000 --reps 2
    /usr/bin/python3 bench/connects.py --consoles 1000 --reps 2 --warm-logs
"""
import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time

from harness import Procs

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_BIN = os.path.join(os.path.dirname(HERE), "build", "bin")


def free_base(n):
    """A first port of n free consecutive TCP ports on 127.0.0.1, below 32768."""
    for base in range(20000, 32768 - n, n):
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise SystemExit(f"no {n} free consecutive ports below 32768")


def established(base, n):
    out = subprocess.run(["ss", "-Htn", "state", "established",
                          f"( sport >= :{base} and sport < :{base + n} )"],
                         capture_output=True, text=True, timeout=10).stdout
    return len(out.splitlines())


def one_run(procs, daemon, work, base, n, warm, timeout):
    logdir = os.path.join(work, "log")
    if not warm:
        shutil.rmtree(logdir, ignore_errors=True)
    os.makedirs(logdir, exist_ok=True)
    conf = os.path.join(work, "conman.conf")
    with open(conf, "w") as f:
        f.write(f'SERVER logdir="{logdir}"\nSERVER port={free_base(1)}\nSERVER loopback=ON\n'
                'global log="%N"\n')
        f.writelines(f'console name="c{i}" dev="127.0.0.1:{base + i}"\n' for i in range(n))
    t0 = time.monotonic()
    d = procs.start([daemon, "-F", "-c", conf], os.path.join(work, "daemon.out"))
    try:
        while time.monotonic() - t0 < timeout:
            if established(base, n) >= n:
                return time.monotonic() - t0
            if d.poll() is not None:
                raise SystemExit(f"{daemon} exited with {d.returncode}")
            time.sleep(0.01)
        return None
    finally:
        Procs.stop(d)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--consoles", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--warm-logs", action="store_true", help="keep the log files between runs")
    ap.add_argument("--ours", default=os.path.join(BUILD_BIN, "conmand"))
    ap.add_argument("--debian", default="/usr/sbin/conmand")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="connects-")
    base = free_base(a.consoles)
    procs = Procs()
    try:
        sim_out = os.path.join(work, "console-sim.out")
        procs.start([os.path.join(BUILD_BIN, "console-sim"), "--rate", "0.1", "--range",
                     f"c:{a.consoles}:tcp:{base}"], sim_out)
        deadline = time.monotonic() + 30
        while "ready" not in open(sim_out).read():
            if time.monotonic() > deadline:
                raise SystemExit("console-sim did not get ready in 30 s")
            time.sleep(0.05)
        results = {"ours": [], "debian": []}
        for _ in range(a.reps):
            for kind, path in (("ours", a.ours), ("debian", a.debian)):
                results[kind].append(one_run(procs, path, work, base, a.consoles, a.warm_logs,
                                             a.timeout))
        logs = "kept between runs" if a.warm_logs else "a fresh log folder each run"
        print(f"{a.consoles} telnet consoles, {logs}: seconds until all connected")
        for kind, times in results.items():
            print(f"  {kind:7s} " + " ".join("timeout" if t is None else f"{t:.3f}" for t in times))
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
