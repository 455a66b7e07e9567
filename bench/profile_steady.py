#!/usr/bin/python3
"""Where our conmand's CPU goes per logged line: N unix-socket consoles at
--rate lines/s (the harness's steady scenario, its sources and conf), then
over one window: CPU seconds from /proc, system calls counted by
`strace -c -f`, and a `perf record -g` profile (perf report --stdio). The
two tracers run in separate windows, since strace itself costs CPU.
  bench/profile_steady.py --n 2000 --window 20
Prints us of CPU per logged line, syscalls per line by name, and perf's top
symbols; files go to bench/out/profile-<time>/."""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def cpu_window(pid, seconds):
    c0, w0 = harness.cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return harness.cpu_seconds(pid) - c0, time.monotonic() - w0


def measure_minlog(procs, sources, names, args, lines):
    """bench/minlog.c (one read, one append per wake-up, no timestamps) on
    the same sources for one window, then stopped: the floor, us per line."""
    logdir = os.path.join(args.out, "minlog-logs")
    os.makedirs(logdir, exist_ok=True)
    listing = os.path.join(args.out, "minlog.list")
    with open(listing, "w") as f:
        f.write("".join(f"{n} unix:{sources.path(n)}\n" for n in names))
    p = procs.start([args.minlog, logdir, listing], os.path.join(args.out, "minlog.out"))
    deadline = time.monotonic() + 60 + args.n / 50
    while sources.connected() < args.n and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3)
    cpu, wall = cpu_window(p.pid, args.window)
    p.terminate()
    p.wait(timeout=10)
    # The sources see the drop and wait for the next connection (conmand's).
    deadline = time.monotonic() + 30
    while sources.connected() > 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    return 1e6 * cpu / (wall * lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=1.0)
    ap.add_argument("--window", type=float, default=20)
    ap.add_argument("--line-len", type=int, default=64)
    ap.add_argument("--shard", type=int, default=2500)
    ap.add_argument("--logopts", default="timestamp")
    ap.add_argument("--ours", default=os.path.join(os.path.dirname(harness.HERE), "build", "bin",
                                                   "conmand"))
    ap.add_argument("--minlog", default=os.path.join(os.path.dirname(harness.HERE), "build", "bin",
                                                     "minlog"),
                    help="the floor: bench/minlog.c on the same sources, CPU only")
    ap.add_argument("--out", default=os.path.join(harness.HERE, "out",
                                                  "profile-" + time.strftime("%Y%m%d-%H%M%S")))
    args = ap.parse_args()
    procs = harness.Procs()
    names = harness.names_for(args.n)
    try:
        daemon, sources, _ = harness.setup(procs, "ours", args.ours, args.out, names, args)
        lines = args.n * args.rate
        floor = measure_minlog(procs, sources, names, args, lines)
        t0 = daemon.start()
        _, err = harness.wait_connected(daemon, sources, args.n, t0, 60 + args.n / 50)
        if err:
            sys.exit(f"profile: {err}")
        time.sleep(3)
        pid = daemon.p.pid
        cpu, wall = cpu_window(pid, args.window)
        print(f"{args.n} consoles x {args.rate} line/s, logopts={args.logopts}: "
              f"{100 * cpu / wall:.2f}% of a core, {1e6 * cpu / (wall * lines):.2f} us per line "
              f"(minlog on the same sources: {floor:.2f} us per line, "
              f"ours / minlog {cpu / (wall * lines) / (floor / 1e6):.2f})")
        strace_out = os.path.join(args.out, "strace.txt")
        st = subprocess.Popen(["strace", "-c", "-f", "-o", strace_out, "-p", str(pid)],
                              stderr=subprocess.DEVNULL)
        time.sleep(args.window)
        st.terminate()
        st.wait(timeout=30)
        print(f"system calls per logged line ({args.window:.0f} s, {lines * args.window:.0f} lines):")
        for row in open(strace_out).read().splitlines():
            parts = row.split()
            if len(parts) >= 5 and parts[3].isdigit():
                calls, name = int(parts[3]), parts[-1]
                print(f"  {name:16s} {calls / (lines * args.window):8.3f}")
        perf_data = os.path.join(args.out, "perf.data")
        subprocess.run(["perf", "record", "-q", "-g", "-F", "999", "-o", perf_data, "-p", str(pid),
                        "--", "sleep", str(args.window)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rep = subprocess.run(["perf", "report", "-i", perf_data, "--stdio", "--no-children",
                              "--sort", "symbol", "-g", "none", "--percent-limit", "1.5"],
                             capture_output=True, text=True).stdout
        open(os.path.join(args.out, "perf.txt"), "w").write(rep)
        print("perf, self time by symbol (>= 1.5%):")
        for row in rep.splitlines():
            if row.strip() and not row.startswith("#"):
                print("  " + row.strip())
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
