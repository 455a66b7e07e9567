#!/usr/bin/python3
"""SSH consoles: N ssh: consoles inside our conmand versus N `ssh` client
processes the old way (Debian's conmand running one process console per
node), both against one ssh-bmc-sim serving N consoles on loopback.

Measures, after every console has logged its first line: the resident
memory (RSS and PSS) and CPU time over a window of the daemon plus, in the
old way, all its ssh children. Prints one Markdown table row per mode.

  /usr/bin/python3 bench/ssh_bench.py --consoles 1000 --window 30
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("BIN_DIR", os.path.join(SRC, "build", "bin"))
TICK = os.sysconf("SC_CLK_TCK")
BOOT_LINE = re.compile(rb"\] n\d+ #\d{8} ")  # a line from ssh-bmc-sim


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def mem_kib(pid):
    """(RSS, PSS) in KiB from smaps_rollup."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def children(pid):
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def tree(pid):
    return [pid] + children(pid)


def sample(pids):
    cpu = rss = pss = 0
    for p in pids:
        try:
            cpu += cpu_seconds(p)
            r, s = mem_kib(p)
            rss += r
            pss += s
        except (FileNotFoundError, ProcessLookupError):
            pass
    return cpu, rss, pss


def logged_consoles(logdir, n):
    count = 0
    for i in range(n):
        try:
            with open(os.path.join(logdir, f"console.c{i}"), "rb") as f:
                if BOOT_LINE.search(f.read()):
                    count += 1
        except FileNotFoundError:
            pass
    return count


def write_conf(path, logdir, lines):
    with open(path, "w") as f:
        f.write(f'server logdir="{logdir}"\nserver loopback=on\nglobal log="console.%N"\n')
        f.write("".join(lines))
    os.chmod(path, 0o600)


def ssh_argv(key, port, user):
    return (f"/usr/bin/ssh -tt -o BatchMode=yes -o StrictHostKeyChecking=no "
            f"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i {key} -p {port} "
            f"{user}@127.0.0.1")


def run_mode(mode, args, sim_port, key, work):
    logdir = os.path.join(work, mode)
    os.makedirs(logdir)
    conf = os.path.join(logdir, "conman.conf")
    n = args.consoles
    if mode == "ours-ssh":
        lines = [f'console name="c{i}" dev="ssh:n{i}@127.0.0.1:{sim_port}" sshopts="I:{key}"\n'
                 for i in range(n)]
        daemon = os.path.join(BIN, "conmand")
    else:
        lines = [f'console name="c{i}" dev="{ssh_argv(key, sim_port, f"n{i}")}"\n'
                 for i in range(n)]
        daemon = os.path.join(BIN, "conmand") if mode == "ours-ssh-procs" else "/usr/sbin/conmand"
    write_conf(conf, logdir, lines)
    out = open(os.path.join(logdir, "daemon.out"), "wb")
    start = time.monotonic()
    p = subprocess.Popen([daemon, "-F", "-c", conf, "-p", str(free_port())], stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = start + args.connect_timeout
        up = 0
        while time.monotonic() < deadline and p.poll() is None:
            up = logged_consoles(logdir, n)
            if up == n:
                break
            time.sleep(1)
        connect_s = time.monotonic() - start
        if p.poll() is not None:
            raise SystemExit(f"{mode}: {daemon} exited {p.returncode}; see {logdir}/daemon.out")
        time.sleep(2)  # let the connection storm settle
        pids = tree(p.pid)
        cpu0, _, _ = sample(pids)
        t0 = time.monotonic()
        time.sleep(args.window)
        cpu1, rss, pss = sample(pids)
        busy = (cpu1 - cpu0) / (time.monotonic() - t0) * 100
        return {"mode": mode, "up": up, "n": n, "connect_s": connect_s, "procs": len(pids),
                "rss_mib": rss / 1024, "pss_mib": pss / 1024, "cpu_pct": busy}
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        out.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--consoles", type=int, default=1000)
    ap.add_argument("--window", type=float, default=30, help="CPU measuring window, seconds")
    ap.add_argument("--rate", type=float, default=1, help="lines/s per console from the sim")
    ap.add_argument("--connect-timeout", type=float, default=300)
    ap.add_argument("--modes", default="ours-ssh,debian-ssh-procs")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ssh-bench-")
    key = os.path.join(work, "id")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    ak = os.path.join(work, "authorized_keys")
    with open(key + ".pub") as src, open(ak, "w") as dst:
        dst.write(src.read())
    sim_port = free_port()
    sim_out = open(os.path.join(work, "sim.out"), "wb")
    sim = subprocess.Popen([os.path.join(BIN, "ssh-bmc-sim"), "--port", str(sim_port),
                            "--host-key", os.path.join(work, "host_key"), "--consoles",
                            str(args.consoles), "--rate", str(args.rate), "--authorized-keys", ak],
                           stdout=sim_out, stderr=subprocess.STDOUT, start_new_session=True)
    rows = []
    try:
        time.sleep(1)
        for mode in args.modes.split(","):
            rows.append(run_mode(mode, args, sim_port, key, work))
            print(f"# {rows[-1]}", file=sys.stderr, flush=True)
    finally:
        os.killpg(sim.pid, signal.SIGTERM)
        sim.wait(timeout=20)
    print("| mode | consoles logging | processes | RSS MiB | PSS MiB | CPU % (window) | "
          "all connected after s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['up']}/{r['n']} | {r['procs']} | {r['rss_mib']:.1f} | "
              f"{r['pss_mib']:.1f} | {r['cpu_pct']:.1f} | {r['connect_s']:.0f} |")
    print(f"(work dir {work})")


if __name__ == "__main__":
    main()
