#!/usr/bin/python3
"""Benchmark harness: runs Debian's conmand and ours on the same generated
configuration and the same console sources (bench/consrc.py, unix-socket
consoles) in one run, and prints one table with both and their ratio.

Scenarios, each repeated --reps times (the table shows medians):
  steady:     N consoles at --rate lines/s: time from start to all consoles
              listed by `conman -q`, to all connected, RSS, CPU over --window
              seconds, descriptors, and lines lost in every log file.
  throughput: one console sending --throughput-mb as fast as the daemon reads.
  change:     N consoles with --clients `conman -m` clients; one console added
              and one removed (ours: SIGHUP; Debian's: restart): time to
              applied, clients severed, lines lost on unchanged consoles.
Every process it starts runs in its own session and is stopped by PID.
"""
import argparse
import glob
import json
import os
import pty
import re
import resource
import selectors
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
CONSRC = os.path.join(HERE, "consrc.py")
PYTHON = "/usr/bin/python3"
CONMAN = "/usr/bin/conman"
SEQ_RE = re.compile(rb"SEQ:(\d{10}) (\S+)")
CLK_TCK = os.sysconf("SC_CLK_TCK")
NOFILE_HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]


class BenchError(Exception):
    """A step that could not be completed; the message says which and why."""


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile():
    # Daemons and sources get the whole hard limit (20,000 here): 10,000
    # consoles cannot fit in the default soft limit of 1,024.
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE_HARD, NOFILE_HARD))


class Procs:
    """Every process the harness starts; all stopped by PID (whole session)."""

    def __init__(self):
        self.started = []

    def start(self, argv, out_path, **kw):
        with open(out_path, "ab") as out:
            p = subprocess.Popen(argv, stdin=kw.pop("stdin", subprocess.DEVNULL),
                                 stdout=kw.pop("stdout", out), stderr=kw.pop("stderr", out),
                                 start_new_session=True, preexec_fn=raise_nofile, **kw)
        self.started.append(p)
        return p

    @staticmethod
    def stop(p, grace=10.0):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p.poll() is None:
            p.wait(timeout=5)

    def stop_all(self):
        for p in reversed(self.started):
            self.stop(p, grace=3.0)
        self.started = []


# ---------------------------------------------------------------- /proc

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS in /proc/{pid}/status")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


# ---------------------------------------------------------------- sources

class Sources:
    """consrc.py processes, --shard consoles each (a source needs 2 fds per
    console, so one process cannot serve 10,000 under the 20,000 limit)."""

    def __init__(self, procs, run_dir, names, args, flood_bytes=0, watch=(), tcp=False,
                 extra_argv=()):
        """tcp: telnet consoles on 127.0.0.1 ports instead of unix sockets;
        extra_argv: more consrc.py flags (e.g. --boot-log --hold)."""
        self.dir = os.path.join(run_dir, "src")
        self.sock_dir = os.path.join(run_dir, "sock")
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(self.sock_dir, exist_ok=True)
        self.shards = []
        self.ports = {}
        port_files = []
        for i in range(0, len(names), args.shard):
            k = len(self.shards)
            names_file = os.path.join(self.dir, f"names.{k}")
            with open(names_file, "w") as f:
                f.write("\n".join(names[i:i + args.shard]) + "\n")
            status = os.path.join(self.dir, f"status.{k}.json")
            report = os.path.join(self.dir, f"report.{k}.json")
            ports = os.path.join(self.dir, f"ports.{k}.json")
            for stale in (status, report, ports):
                if os.path.exists(stale):
                    os.unlink(stale)
            argv = [PYTHON, CONSRC, "--sock-dir", self.sock_dir, "--names", names_file,
                    "--rate", str(args.rate), "--line-len", str(args.line_len),
                    "--flood-bytes", str(flood_bytes), "--status", status, "--report", report]
            if tcp:
                argv += ["--tcp", "--ports", ports]
                port_files.append(ports)
            argv += list(extra_argv)
            for w in watch:
                argv += ["--watch", w]
            p = procs.start(argv, os.path.join(self.dir, f"consrc.{k}.out"))
            self.shards.append((p, status, report, min(args.shard, len(names) - i)))
        self.wait_listening()
        for ports in port_files:  # written before the first status
            with open(ports) as f:
                self.ports.update(json.load(f))

    def path(self, name):
        return os.path.join(self.sock_dir, name)

    def dev(self, name):
        """The console's conman.conf dev= value."""
        if self.ports:
            return f"127.0.0.1:{self.ports[name]}"
        return f"unix:{self.path(name)}"

    def signal_all(self, signum):
        for p, _, _, _ in self.shards:
            p.send_signal(signum)

    def statuses(self):
        out = []
        for p, status, _, _ in self.shards:
            if p.poll() is not None:
                raise BenchError(f"console source pid {p.pid} exited with {p.returncode} "
                                 f"(see {os.path.dirname(status)}/consrc.*.out)")
            try:
                with open(status) as f:
                    st = json.load(f)
            except (FileNotFoundError, json.JSONDecodeError):
                st = None
            out.append(st if st and st["pid"] == p.pid else None)
        return out

    def wait_listening(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(s is not None for s in self.statuses()):
                return
            time.sleep(0.1)
        raise BenchError(f"console sources not listening after {timeout}s")

    def connected(self):
        return sum(s["connected"] for s in self.statuses() if s)

    def t_all_connected(self):
        """When the last console of every shard connected (monotonic)."""
        # A shard may hold only consoles not configured yet (the one a change adds).
        return max(s["t_last_accept"] for s in self.statuses()
                   if s and s["t_last_accept"] is not None)

    def watched(self):
        """{name: {connected, t_accept (monotonic)}} of the --watch consoles."""
        out = {}
        for st in self.statuses():
            out.update(st["watch"] if st else {})
        return out

    def connects(self):
        return sum(s["connects"] for s in self.statuses() if s)

    def cpu_seconds(self):
        return sum(cpu_seconds(p.pid) for p, _, _, _ in self.shards)

    def stop_and_report(self, timeout=30):
        """Stops generating (connections stay open) and returns per-console
        {last, connects, ...} merged from every shard."""
        for p, _, report, _ in self.shards:
            try:
                os.unlink(report)
            except FileNotFoundError:
                pass
            p.send_signal(signal.SIGUSR1)
        merged = {}
        deadline = time.monotonic() + timeout
        for p, _, report, _ in self.shards:
            while not os.path.exists(report):
                if time.monotonic() > deadline:
                    raise BenchError(f"console source pid {p.pid} wrote no report in {timeout}s")
                time.sleep(0.05)
            with open(report) as f:
                merged.update(json.load(f)["consoles"])
        return merged


# ---------------------------------------------------------------- daemons

def write_conf(path, port, logdir, logopts, consoles, server=()):
    """consoles: list of (name, dev) (Sources.dev()); server: more SERVER
    lines (bench/ops.py: rotation, shipping, HTTP)."""
    lines = ["# generated by bench/harness.py",
             "server loopback=on", "server keepalive=on", f"server port={port}",
             f'server logdir="{logdir}"', *server,
             'global log="console.%N"', f'global logopts="{logopts}"']
    lines += [f'console name="{n}" dev="{d}"' for n, d in consoles]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(tmp, path)


class Daemon:
    def __init__(self, procs, kind, binary, run_dir, port, conf):
        self.procs, self.kind, self.binary = procs, kind, binary
        self.run_dir, self.port, self.conf = run_dir, port, conf
        self.log = os.path.join(run_dir, "daemon.log")
        self.p = None

    def start(self):
        self.p = self.procs.start([self.binary, "-F", "-v", "-c", self.conf], self.log)
        return time.monotonic()

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def check_alive(self, what):
        if not self.alive():
            raise BenchError(f"{self.kind} conmand exited with {self.p.returncode} {what} "
                             f"(log: {self.log}: {self.log_tail()})")

    def stop(self):
        if self.p is not None:
            Procs.stop(self.p)

    def why_clients_failed(self):
        """The daemon's last complaint about a client request, if any."""
        try:
            with open(self.log, errors="replace") as f:
                said = [ln.strip() for ln in f if "Client" in ln and
                        ("terminated" in ln or "overrun" in ln or "rror" in ln)]
        except OSError:
            return ""
        return f" (daemon log, {len(said)} such lines: {said[-1]})" if said else ""

    def log_tail(self, n=3):
        try:
            with open(self.log, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-n:])
        except OSError:
            return "no log"


def conman_query(port, args, timeout=10):
    """Names listed by `conman -q ARGS`, or (None, error text). "Found no
    matching consoles" is an empty list, not an error."""
    try:
        r = subprocess.run([CONMAN, "-d", f"127.0.0.1:{port}", "-q", *args],
                           capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, f"conman -q timed out after {timeout}s"
    text = (r.stderr or r.stdout).decode(errors="replace").strip()
    if r.returncode != 0:
        return ([], None) if "Found no matching consoles" in text else (None, text[:200])
    return r.stdout.decode().split(), None


def chunk_queries(names):
    """`conman -q -r 'c05.*'` per block of at most 1,000 names: the stock
    client reads at most 32 KB of query answer (1,927 names of 6 characters;
    the rest is silently cut), and Debian's conmand drops the request
    ("buffer overrun") somewhat below that, so one plain `conman -q` cannot
    list thousands of consoles with either daemon."""
    return [["-r", f"{p}.*"] for p in sorted({n[:3] for n in names})]


def query_union(port, queries):
    got = set()
    for q in queries:
        names, err = conman_query(port, q)
        if names is None:
            return None, err
        got.update(names)
    return got, None


def wait_port(daemon, deadline):
    """Until the daemon's port accepts a TCP connection (checked every
    0.5 ms): cheaper than running `conman` before anything listens, so the
    polling costs the daemons next to nothing while they start."""
    while time.monotonic() < deadline:
        daemon.check_alive("before listening")
        try:
            socket.create_connection(("127.0.0.1", daemon.port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.0005)


def wait_listed(daemon, sources, want, t0, timeout, queries, exclude=()):
    """Seconds from t0 until the `conman -q` queries list every name of want
    (a set) and none of exclude; (None, reason) when they never do. Gives up
    early when no more names get listed for 20 s. Queries (one takes about
    1.3 ms here) run every tenth of the time elapsed, between 2 and 20 ms:
    a 10 ms start-up is measured to 2 ms, and a slow one is not slowed
    further by a `conman` process every 2 ms competing for the two cores."""
    deadline = t0 + timeout
    wait_port(daemon, deadline)
    stuck_since, last_err, best = None, None, -1
    while True:
        daemon.check_alive("while waiting for `conman -q`")
        got, err = query_union(daemon.port, queries)
        now = time.monotonic()
        if got is not None:
            if want <= got and not (got & set(exclude)):
                return now - t0, None
            err = f"`conman -q` listed {len(got & want)} of {len(want)}"
            if exclude and got & set(exclude):
                err += f" and still {sorted(got & set(exclude))}"
        # Progress is more names listed than ever before: a daemon short of
        # descriptors may answer one query in many, which is not progress.
        if got is not None and len(got & want) > best:
            stuck_since, best = None, len(got & want)
        last_err = err
        stuck_since = stuck_since or now
        if now - stuck_since > 20:
            return None, f"unchanged for 20s: {last_err}"
        if now > deadline:
            return None, f"after {timeout:.0f}s: {last_err}"
        time.sleep(min(0.02, max(0.002, (now - t0) / 10)))


def wait_connected(daemon, sources, n, t0, timeout):
    """(seconds from t0 until n consoles were connected, None) or, when the
    count stops growing for 20 s, (None, why) so the caller can still
    measure what did connect."""
    deadline = t0 + timeout
    best, since = -1, time.monotonic()
    while True:
        daemon.check_alive("while consoles connect")
        c = sources.connected()
        if c >= n:
            return sources.t_all_connected() - t0, None
        now = time.monotonic()
        if c > best:
            best, since = c, now
        if now > deadline or now - since > 20:
            return None, (f"only {c} of {n} consoles connected after {now - t0:.0f}s (no "
                          f"progress for {now - since:.0f}s; daemon log: {daemon.log_tail(2)})")
        time.sleep(0.05)


def log_dir_size(logdir):
    total = 0
    for e in os.scandir(logdir):
        try:
            total += e.stat().st_size if e.is_file() else 0
        except FileNotFoundError:
            pass  # rotated or deleted by the daemon meanwhile
    return total


def wait_logs_stable(logdir, quiet=1.5, timeout=30):
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        size = log_dir_size(logdir)
        if size != last:
            last, since = size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.25)


def count_loss(logdir, report, names, line_len):
    """Per console: lines from the first seen sequence number to the last one
    sent that are missing from its log file (and its rotated files)."""
    lost = silent = with_loss = foreign = 0
    for name in names:
        data = b""
        # The live file and, with built-in rotation, its rotated ones.
        for path in glob.glob(os.path.join(logdir, f"console.{glob.escape(name)}*")):
            suffix = path[len(os.path.join(logdir, f"console.{name}")):]
            if suffix == "" or (suffix[:1] == "." and suffix[1:].isdigit()):
                with open(path, "rb") as f:
                    data += f.read()
        seen = set()
        for seq, who in SEQ_RE.findall(data):
            if who.decode(errors="replace") != name:
                foreign += 1
            else:
                seen.add(int(seq))
        last = report[name]["last"]
        if not seen:
            silent += 1
            continue
        missing = (last - min(seen) + 1) - len([s for s in seen if s <= last])
        if missing:
            with_loss += 1
            lost += missing
    return {"lines_lost": lost, "bytes_lost": lost * line_len,
            "consoles_with_loss": with_loss, "consoles_silent": silent,
            "foreign_lines": foreign}


def names_for(n, prefix="c"):
    return [f"{prefix}{i:05d}" for i in range(1, n + 1)]


# ---------------------------------------------------------------- scenarios

def setup(procs, kind, binary, run_dir, names, args, flood_bytes=0, extra=(), watch=()):
    if os.path.exists(run_dir):  # a fresh directory: no stale status, socket or log
        subprocess.run(["rm", "-rf", run_dir], check=True)
    os.makedirs(run_dir)
    logdir = os.path.join(run_dir, "logs")
    os.makedirs(logdir, exist_ok=True)
    sources = Sources(procs, run_dir, list(names) + list(extra), args, flood_bytes, watch)
    conf = os.path.join(run_dir, "conman.conf")
    port = free_port()
    write_conf(conf, port, logdir, args.logopts, [(n, sources.dev(n)) for n in names],
               getattr(args, "server", ()))
    return Daemon(procs, kind, binary, run_dir, port, conf), sources, logdir


def scenario_steady(procs, kind, binary, n, run_dir, args, after_window=None):
    """`after_window`, when given, is called once the CPU window closes with
    the daemon still running; what it returns is m["after_window"]."""
    names = names_for(n)
    daemon, sources, logdir = setup(procs, kind, binary, run_dir, names, args)
    t0 = daemon.start()
    listed, list_err = wait_listed(daemon, sources, set(names), t0, 30 + n / 50,
                                   chunk_queries(names))
    if list_err:
        list_err += daemon.why_clients_failed()
    connected, conn_err = wait_connected(daemon, sources, n, t0, 60 + n / 50)
    time.sleep(2)  # let start-up work settle before the window
    pid = daemon.p.pid
    c0, s0, w0 = cpu_seconds(pid), sources.cpu_seconds(), time.monotonic()
    time.sleep(args.window)
    daemon.check_alive("during the CPU window")
    c1, s1, w1 = cpu_seconds(pid), sources.cpu_seconds(), time.monotonic()
    rss, fds = rss_kb(pid), fd_count(pid)
    extra = after_window() if after_window else None
    reconnects = sources.connects() - n
    report = sources.stop_and_report()
    wait_logs_stable(logdir)
    loss = count_loss(logdir, report, names, args.line_len)
    cpu = (c1 - c0) / (w1 - w0)
    m = {"listed_s": listed, "listed_error": list_err, "connected_s": connected,
         "connected_error": conn_err,
         "rss_mb": rss / 1024, "rss_per_console_kb": rss / n,
         "cpu_pct": 100 * cpu, "cpu_per_console_us": 1e6 * cpu / n,
         "fds_per_console": fds / n, "source_cpu_pct": 100 * (s1 - s0) / (w1 - w0),
         "reconnects": reconnects}
    if after_window:
        m["after_window"] = extra
    m.update(loss)
    return m


def scenario_throughput(procs, kind, binary, run_dir, args):
    names = ["tput"]
    flood = int(args.throughput_mb * 1e6)
    daemon, sources, logdir = setup(procs, kind, binary, run_dir, names, args, flood)
    t0 = daemon.start()
    wait_connected(daemon, sources, 1, t0, 30)
    last = -(-flood // args.line_len)
    tail = b"SEQ:%010d " % last
    path = os.path.join(logdir, "console.tput")
    deadline = time.monotonic() + 30 + args.throughput_mb  # 1 MB/s at worst
    while True:
        daemon.check_alive("during the throughput run")
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 4 * args.line_len))
            if tail in f.read():
                t_end = time.monotonic()
                break
        if time.monotonic() > deadline:
            raise BenchError(f"{path} lacks line {last} after {deadline - t0:.0f}s")
        time.sleep(0.01)
    report = sources.stop_and_report()
    wait_logs_stable(logdir)
    t_first = report["tput"]["t_first"]
    loss = count_loss(logdir, report, names, args.line_len)
    logged = flood - loss["bytes_lost"]  # a daemon that drops data is not faster for it
    return {"tput_mb_s": logged / 1e6 / (t_end - t_first),
            "tput_lines_lost": loss["lines_lost"]}


class Clients:
    """`conman -m` clients, each on its own pty (the client insists on a
    terminal); a thread drains every pty master so no client ever blocks."""

    def __init__(self, procs, port, names, out_dir):
        self.names, self.masters, self.procs_ = names, [], []
        self.data = [bytearray() for _ in names]
        self.sel = selectors.DefaultSelector()
        for i, name in enumerate(names):
            m, s = pty.openpty()
            p = procs.start([CONMAN, "-d", f"127.0.0.1:{port}", "-m", name],
                            os.path.join(out_dir, "clients.out"), stdin=s, stdout=s, stderr=s)
            os.close(s)
            os.set_blocking(m, False)
            self.masters.append(m)
            self.procs_.append(p)
            self.sel.register(m, selectors.EVENT_READ, i)
        self.stopping = False
        self.thread = threading.Thread(target=self.drain, daemon=True)
        self.thread.start()

    def drain(self):
        while not self.stopping:
            for key, _ in self.sel.select(timeout=0.1):
                try:
                    chunk = os.read(key.fd, 65536)
                except OSError:  # EIO once the client has exited
                    chunk = b""
                if chunk:
                    self.data[key.data].extend(chunk)
                else:
                    self.sel.unregister(key.fd)

    def receiving(self):
        """How many clients have received at least one console line."""
        return sum(1 for d in self.data if SEQ_RE.search(bytes(d)))

    def severed(self):
        """Clients whose connection the server ended (the client then exits)."""
        return sum(1 for p, d in zip(self.procs_, self.data)
                   if p.poll() is not None or b"terminated by server" in d)

    def stream_loss(self):
        """Lines missing in what the surviving clients received."""
        lost = 0
        for p, d, name in zip(self.procs_, self.data, self.names):
            seqs = sorted({int(s) for s, who in SEQ_RE.findall(bytes(d)) if who == name.encode()})
            if seqs:
                lost += (seqs[-1] - seqs[0] + 1) - len(seqs)
        return lost

    def close(self):
        self.stopping = True
        self.thread.join(timeout=2)
        for m in self.masters:
            os.close(m)


def apply_change(daemon, kind):
    if kind == "ours":
        daemon.p.send_signal(signal.SIGHUP)
    else:  # Debian's conmand cannot reload its console list: restart it
        Procs.stop(daemon.p)
        daemon.start()


def scenario_change(procs, kind, binary, n, run_dir, args):
    names = names_for(n)
    added, removed = "c99999", names[-1]
    daemon, sources, logdir = setup(procs, kind, binary, run_dir, names, args, extra=[added],
                                    watch=[added, removed])
    t0 = daemon.start()
    _, conn_err = wait_connected(daemon, sources, n, t0, 60 + n / 50)
    # When not every console could connect (e.g. out of descriptors), the
    # change is still measured on those that did.
    n_up = sources.connected()
    removed_was_up = sources.watched()[removed]["connected"]
    k = min(args.clients, n - 1)
    watched = [names[i * (n - 1) // k] for i in range(k)]
    clients = Clients(procs, daemon.port, watched, run_dir)
    try:
        deadline = time.monotonic() + 30
        while clients.receiving() < k:
            if time.monotonic() > deadline:
                exited = sum(1 for p in clients.procs_ if p.poll() is not None)
                raise BenchError(f"{kind}: only {clients.receiving()} of {k} `conman -m` clients "
                                 f"received a line in 30s ({exited} exited; daemon log: "
                                 f"{daemon.log_tail(2)})")
            time.sleep(0.2)
        time.sleep(1)
        new = [m for m in names if m != removed] + [added]
        write_conf(daemon.conf, daemon.port, logdir, args.logopts,
                   [(m, sources.dev(m)) for m in new])
        t_change = time.monotonic()
        apply_change(daemon, kind)
        applied, err = wait_listed(daemon, sources, {added}, t_change, 60 + n / 50,
                                   [[added, removed]], exclude=[removed])
        if applied is None:
            raise BenchError(f"{kind}: change not applied: {err}")
        # Applied = listed as changed, the added console connected, and every
        # unchanged one connected again (a restart had dropped them all).
        t_listed = t_change + applied
        want_up = n_up - removed_was_up + 1
        while True:
            daemon.check_alive("while the change is applied")
            w = sources.watched()[added]
            if w["connected"] and sources.connected() >= want_up:
                break
            if time.monotonic() - t_change > 60 + n / 50:
                raise BenchError(f"{kind}: after the change {sources.connected()} of {want_up} "
                                 f"consoles connected, {added} "
                                 f"{'' if w['connected'] else 'not '}among them")
            time.sleep(0.02)
        applied = max(t_listed, w["t_accept"], sources.t_all_connected()) - t_change
        time.sleep(3)  # lines after the change reach the clients that stayed
        severed = clients.severed()
        client_loss = clients.stream_loss()
    finally:
        clients.close()
    report = sources.stop_and_report()
    wait_logs_stable(logdir)
    unchanged = [m for m in names if m != removed]
    loss = count_loss(logdir, report, unchanged, args.line_len)
    if count_loss(logdir, report, [added], args.line_len)["consoles_silent"]:
        raise BenchError(f"{kind}: the added console {added} logged nothing")
    return {"connected_error": conn_err,
            "change_applied_s": applied, "clients": k, "clients_severed": severed,
            "client_lines_lost": client_loss, "unchanged_lines_lost": loss["lines_lost"],
            "unchanged_bytes_lost": loss["bytes_lost"]}


# ---------------------------------------------------------------- reporting

ROWS = [  # (scenario, key, label, format)
    ("steady", "listed_s", "start to all listed by conman -q (s) *", "{:.3f}"),
    ("steady", "connected_s", "start to all consoles connected (s)", "{:.3f}"),
    ("steady", "rss_mb", "RSS total (MB)", "{:.1f}"),
    ("steady", "rss_per_console_kb", "RSS per console (KB)", "{:.1f}"),
    ("steady", "cpu_pct", "CPU total (% of one core)", "{:.2f}"),
    ("steady", "cpu_per_console_us", "CPU per console (us/s)", "{:.2f}"),
    ("steady", "fds_per_console", "descriptors per console", "{:.2f}"),
    ("steady", "lines_lost", "lines lost (all logs)", "{:.0f}"),
    ("steady", "consoles_silent", "consoles that logged nothing", "{:.0f}"),
    ("steady", "source_cpu_pct", "console sources' CPU (% of one core)", "{:.2f}"),
    ("change", "change_applied_s", "change applied: +1 -1 console (s)", "{:.3f}"),
    ("change", "clients_severed", "clients severed (of those on unchanged consoles)", "{:.0f}"),
    ("change", "unchanged_lines_lost", "lines lost on unchanged consoles", "{:.0f}"),
    ("change", "unchanged_bytes_lost", "bytes lost on unchanged consoles", "{:.0f}"),
    ("change", "client_lines_lost", "lines lost in surviving clients' streams", "{:.0f}"),
    ("throughput", "tput_mb_s", "single-console throughput, logged (MB/s)", "{:.1f}"),
    ("throughput", "tput_lines_lost", "single-console lines lost", "{:.0f}"),
]


def median_of(runs, key):
    vals = [r[key] for r in runs if isinstance(r, dict) and r.get(key) is not None]
    return statistics.median(vals) if vals else None


def cell(results, daemon, scen, size, key, fmt):
    entry = results.get(daemon, {}).get(f"{scen}:{size}")
    if entry is None:
        return "not run", None
    if "skipped" in entry:
        return "skipped", None
    v = median_of(entry["runs"], key)
    if v is None:
        return "failed (see notes)", None
    n_ok = len([r for r in entry["runs"] if r.get(key) is not None])
    suffix = "" if n_ok == len(entry["runs"]) else f" ({n_ok}/{len(entry['runs'])} runs)"
    return fmt.format(v) + suffix, v


def machine():
    """One line on the machine: cores, memory, load, open-file limit."""
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return (f"{os.cpu_count()} x {model}, {mem_kb / 1048576:.1f} GiB RAM, kernel "
            f"{os.uname().release}, load average at start {os.getloadavg()[0]:.2f}, "
            f"nofile hard limit {NOFILE_HARD}")


def table(results, args):
    command = os.environ.get("BENCH_COMMAND") or shlex.join(sys.argv)
    out = [f"Command: `{command}`  ",
           f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ",
           f"Machine: {args.machine}  ",
           f"Each cell is the median of {args.reps} run(s); console lines are "
           f"{args.line_len} bytes, logopts=\"{args.logopts}\", {args.rate:g} line/s per "
           f"console, CPU window {args.window:g} s.", "",
           "| scenario | size | metric | Debian conmand 0.2.7 | ours | ours / Debian |",
           "|---|---|---|---|---|---|"]
    plan = [("steady", s) for s in args.sizes] + [("change", s) for s in args.change_sizes]
    if args.throughput_mb > 0:
        plan.append(("throughput", 1))
    for scen, size in plan:
        for s, key, label, fmt in ROWS:
            if s != scen:
                continue
            d_txt, d = cell(results, "debian", scen, size, key, fmt)
            o_txt, o = cell(results, "ours", scen, size, key, fmt)
            ratio = f"{o / d:.2f}" if d and o is not None else "-"
            out.append(f"| {scen} | {size} | {label} | {d_txt} | {o_txt} | {ratio} |")
    notes = []
    for daemon in ("debian", "ours"):
        for k, entry in sorted(results.get(daemon, {}).items()):
            if "skipped" in entry:
                notes.append(f"- {daemon} {k}: skipped: {entry['skipped']}")
            for i, r in enumerate(entry.get("runs", [])):
                if r.get("error"):
                    notes.append(f"- {daemon} {k} run {i + 1}: {r['error']}")
                if r.get("listed_error"):
                    notes.append(f"- {daemon} {k} run {i + 1}: `conman -q`: {r['listed_error']}")
                if r.get("connected_error"):
                    notes.append(f"- {daemon} {k} run {i + 1}: {r['connected_error']}")
    if args.sizes:
        notes.insert(0, "- *: listed in blocks of at most 1,000 names (`conman -q -r 'c05.*'`"
                     ", ...): the stock client cuts a query answer at 32 KB (1,927 such names).")
    return "\n".join(out + [""] + notes) + "\n"


# ---------------------------------------------------------------- main

def skip_reason(daemon, n, died_at):
    """Why this daemon is not run at n consoles: it already died at a size
    not larger (e.g. out of descriptors), so another try would only repeat it."""
    if daemon in died_at and died_at[daemon][0] <= n:
        size, why = died_at[daemon]
        return f"the daemon exited at {size} consoles: {why}"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100,1000,5000,10000", help="steady scenario sizes")
    ap.add_argument("--change-sizes", default="1000,10000",
                    help="change scenario sizes ('' for none)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--window", type=float, default=10, help="CPU window (s)")
    ap.add_argument("--rate", type=float, default=1.0, help="lines/s per console")
    ap.add_argument("--line-len", type=int, default=64)
    ap.add_argument("--throughput-mb", type=float, default=64, help="0: no throughput run")
    ap.add_argument("--clients", type=int, default=100, help="`conman -m` clients (change)")
    ap.add_argument("--shard", type=int, default=2500, help="consoles per source process")
    ap.add_argument("--logopts", default="timestamp")
    ap.add_argument("--daemons", default="debian,ours")
    ap.add_argument("--debian", default="/usr/sbin/conmand")
    ap.add_argument("--ours", default=os.path.join(os.path.dirname(HERE), "build", "bin",
                                                   "conmand"))
    ap.add_argument("--out", default=os.path.join(HERE, "out", time.strftime("%Y%m%d-%H%M%S")))
    ap.add_argument("--keep-logs", action="store_true", help="keep console logs of each run")
    args = ap.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.change_sizes = [int(s) for s in args.change_sizes.split(",") if s]
    daemons = {"debian": args.debian, "ours": args.ours}
    chosen = [d for d in args.daemons.split(",") if d]
    for d in chosen:
        if d not in daemons:
            sys.exit(f"harness: unknown daemon {d!r} in --daemons (debian, ours)")
        if not os.access(daemons[d], os.X_OK):
            sys.exit(f"harness: {d} conmand {daemons[d]} is not an executable file")
    os.makedirs(args.out, exist_ok=True)
    args.machine = machine()
    procs = Procs()

    def on_term(signum, _frame):
        raise SystemExit(f"harness: stopped by signal {signum}")  # finally stops every process

    signal.signal(signal.SIGTERM, on_term)
    results = {d: {} for d in chosen}
    died_at = {}  # daemon -> (size, why) when it exited on its own
    t_start = time.monotonic()

    def record(daemon, key, run):
        results[daemon].setdefault(key, {"runs": []})["runs"].append(run)
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)

    def run(daemon, rep, key, fn):
        run_dir = os.path.join(args.out, f"{daemon}-{key.replace(':', '-')}-r{rep}")
        log(f"{daemon} {key} rep {rep}: {run_dir}")
        try:
            r = fn(procs, daemon, daemons[daemon], run_dir, args)
        except BenchError as e:
            log(f"{daemon} {key} rep {rep} FAILED: {e}")
            r = {"error": str(e)}
        except Exception as e:  # a harness bug must not lose the whole run
            log(f"{daemon} {key} rep {rep} HARNESS ERROR: {traceback.format_exc()}")
            r = {"error": f"harness error: {type(e).__name__}: {e}"}
        finally:
            procs.stop_all()
        log(f"{daemon} {key} rep {rep}: {json.dumps(r)}")
        record(daemon, key, r)
        return r

    def each_rep(key, n, fn):
        """Repetitions in turn, both daemons in each (debian r1, ours r1,
        debian r2, ...): slow drifts of a shared machine hit both alike."""
        for rep in range(1, args.reps + 1):
            for daemon in chosen:
                reason = skip_reason(daemon, n, died_at)
                if reason:
                    # Once per size, and not over the runs of the size it died at.
                    if f"{key}:{n}" not in results[daemon]:
                        log(f"{daemon} {key}:{n}: skipped: {reason}")
                        results[daemon][f"{key}:{n}"] = {"skipped": reason}
                    continue
                r = run(daemon, rep, f"{key}:{n}", fn)
                if "exited with" in r.get("error", ""):
                    died_at[daemon] = (n, r["error"])

    try:
        for n in args.sizes:
            each_rep("steady", n, lambda p, k, b, d, a, n=n: scenario_steady(p, k, b, n, d, a))
        for n in args.change_sizes:
            each_rep("change", n, lambda p, k, b, d, a, n=n: scenario_change(p, k, b, n, d, a))
        if args.throughput_mb > 0:
            each_rep("throughput", 1, scenario_throughput)
    finally:
        procs.stop_all()
        # Logs go only now: deleting thousands of files between runs left
        # ext4 slow to create the next run's (it checks recently freed
        # inodes), which showed as a 0.2 s slower start-up for whichever
        # daemon came next.
        if not args.keep_logs:
            for d in glob.glob(os.path.join(args.out, "*-r*")):
                subprocess.run(["rm", "-rf", os.path.join(d, "logs"), os.path.join(d, "sock")])
    report(table(results, args), args.out, t_start)


def report(text, out, t_start):
    """The results table: printed, and kept as results.md beside results.json."""
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    print(text)
    log(f"done in {time.monotonic() - t_start:.0f}s; results in {out}")


if __name__ == "__main__":
    main()
