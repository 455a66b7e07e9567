#!/usr/bin/python3
"""Boot storm benchmark (issue 22 item 4): N telnet consoles on 127.0.0.1
(bench/consrc.py --tcp) each send B bytes of kernel-like boot log at the
same moment, timestamps on, and one logger logs them: our conmand, Debian's
conmand or bench/minlog.c (the reference: one read and one append per
wake-up, no parsing, no timestamps), one after the other. "ours+rules" is
our conmand with the shipped console event rules on (SERVER eventrules=):
every boot log starts with a kernel banner and one console in ten Oopses and
panics in it, and the events conmand counts (/metrics) are compared with
those expected.

Per run: drain time (from the burst until every log file holds its last
line, or for a logger that loses lines until the logs stop growing), the
logger's CPU seconds over the drain (utime+stime from /proc), its peak RSS
(VmHWM), and what its logs hold against what was sent: lines lost, lines out
of order, consoles with a garbled line. Before each run, `dd conv=fsync` of
--dd-mb MB into the same log directory gives the disk's speed then.
Reuses bench/harness.py's process table, sources and daemon helpers; every
process runs in its own session and is stopped by PID, also on failure.
"""
import argparse
import collections
import glob
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import traceback
import urllib.request

import consrc
import harness
from harness import BenchError, log

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_BIN = os.path.join(os.path.dirname(HERE), "build", "bin")
# A conmand log timestamp at a line start (logopts="timestamp"), e.g.
# "2026-12-02 06:30:01 " (both ours and Debian's 0.2.7).
TIMESTAMP_RE = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", re.M)
# What conmand itself writes into a log: "<ConMan> Console [c00001] log
# opened at ..." after an empty line. Not console output, so not checked.
NOTICE_RE = re.compile(rb"^(<ConMan> .*)?$")
SEQ_TAG_RE = re.compile(rb"SEQ:(\d{10}) (\S+) ")
RULES = os.path.join(os.path.dirname(HERE), "etc", "conman-events.rules")
# conmand's count of one console's events of one rule, on /metrics.
EVENTS_RE = re.compile(r'^conman_console_events_total\{(.*)\} (\d+)$', re.M)
LABEL_RE = re.compile(r'(\w+)="([^"]*)"')
# conmand's log line for an event (-v): "Console [c00011] event boot (info) in ...".
EVENT_LOG_RE = re.compile(rb"Console \[(\S+)\] event (\S+) \(")


class MinLog(harness.Daemon):
    """bench/minlog.c as a harness.Daemon; conf is its console list."""

    def start(self):
        logdir = os.path.join(self.run_dir, "logs")
        self.p = self.procs.start([self.binary, logdir, self.conf], self.log)
        return time.monotonic()


def write_minlog_list(path, devs):
    with open(path, "w") as f:
        f.write("".join(f"{name} {dev}\n" for name, dev in devs))


def disk_mb_s(logdir, mb):
    """The disk's write speed now: `dd conv=fsync` of mb MB into logdir (MB/s)."""
    target = os.path.join(logdir, "dd")
    argv = ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={mb}", "conv=fsync"]
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{shlex.join(argv)} took over 300 s")
    finally:
        if os.path.exists(target):
            os.unlink(target)
    if r.returncode != 0:
        raise BenchError(f"{shlex.join(argv)}: {r.stderr.decode(errors='replace').strip()}")
    return mb * 1048576 / 1e6 / (time.monotonic() - t0)


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise BenchError(f"no VmHWM in /proc/{pid}/status")


class BootLogs:
    """The boot logs of the consoles: the same but for the name within each
    class (crashing or not, consrc.crashes), all names being as long. Holds
    one log per class, so 10,000 consoles cost two."""

    def __init__(self, names, nbytes):
        self.by_class = {}
        for name in names:
            raw = name.encode()
            cls = consrc.crashes(raw)
            if cls not in self.by_class:
                payload, last = consrc.boot_log(raw, nbytes)
                self.by_class[cls] = (raw, payload, last)

    def of(self, name):
        """(name's boot log, its last seq); name is bytes."""
        raw0, payload, last = self.by_class[consrc.crashes(name)]
        return payload.replace(b" %s " % raw0, b" %s " % name), last

    def size_and_last(self, name):
        _, payload, last = self.by_class[consrc.crashes(name.encode())]
        return len(payload), last


def wait_drained(daemon, sources, paths, logs, t0, timeout, quiet):
    """(Monotonic time the storm was drained, None) when every log holds its
    last line (checked once its size reaches the payload's: timestamps only
    add); or (when the logs last grew, why not complete) once every source
    has sent all and for quiet seconds the logs did not grow and the logger
    was idle (under 2% of a core: one that has read everything may still be
    busy writing it out). The poll interval is the resolution: 0.25 s while
    10,000 logs are pending (stat()ing them all costs the machine's second
    core about 30 ms), 20 ms for the last ones."""
    pending = dict(paths)  # name -> log path, for logs without their last line yet
    sizes = {name: 0 for name in paths}
    t_grew = t0
    cpu_seen = collections.deque()  # (time, logger CPU seconds) over the last quiet s
    deadline = t0 + timeout
    while True:
        daemon.check_alive("during the storm")
        now = time.monotonic()
        for name, path in list(pending.items()):
            try:
                size = os.stat(path).st_size
            except FileNotFoundError:
                continue
            if size != sizes[name]:
                sizes[name], t_grew = size, now
            payload_len, last_seq = logs.size_and_last(name)
            if size >= payload_len:
                with open(path, "rb") as f:
                    f.seek(size - min(size, 512))
                    if b"SEQ:%010d %s " % (last_seq, name.encode()) in f.read():
                        del pending[name]
        if not pending:
            return now, None
        cpu_seen.append((now, harness.cpu_seconds(daemon.p.pid)))
        while cpu_seen[0][0] < now - quiet:
            cpu_seen.popleft()
        idle = (now - t_grew >= quiet and cpu_seen[-1][1] - cpu_seen[0][1] < 0.02 * quiet)
        if idle and all(s["flood_done"] == n for s, (_, _, _, n) in
                        zip(sources.statuses(), sources.shards)):
            return t_grew, f"{len(pending)} logs lack their last line"
        if now > deadline:
            raise BenchError(f"not drained after {timeout:.0f} s: {len(pending)} logs lack "
                             f"their last line")
        # Every 0.25 s while thousands are pending, down to 20 ms for the last few.
        time.sleep(min(0.25, 0.02 + 25e-6 * len(pending)))


def check_log(data, name, payload, last_seq):
    """What one console's log holds against the payload it was sent:
    (lines lost, lines out of order, garbled lines). Out of order: a line
    whose number is not above every one logged before it (a repeat counts).
    Garbled: a line that is not one of the lines sent, whole."""
    # conmand logs a line end as CR LF; the sources send LF.
    body = TIMESTAMP_RE.sub(b"", data.replace(b"\r\n", b"\n"))
    lines = body.split(b"\n")
    tail = lines.pop()  # after the last newline: b"" unless a line was cut
    lines = [ln for ln in lines if not NOTICE_RE.match(ln)]
    if not tail and b"\n".join(lines) + b"\n" == payload:
        return 0, 0, 0  # the fast path: all of it, in order
    if tail:
        lines.append(tail)
    seen, top, out_of_order, garbled = set(), 0, 0, 0
    for line in lines:
        m = SEQ_TAG_RE.search(line)
        seq = int(m.group(1)) if m else 0
        if not m or m.group(2) != name or line + b"\n" != consrc.boot_line(seq, name):
            garbled += 1
            continue
        if seq <= top:
            out_of_order += 1
        top = max(top, seq)
        seen.add(seq)
    lost = last_seq - len([s for s in seen if 1 <= s <= last_seq])
    return lost, out_of_order, garbled


def check_logs(logdir, names, logs):
    """Totals over every console's log (see check_log)."""
    out = {"lines_lost": 0, "lines_out_of_order": 0, "lines_garbled": 0,
           "consoles_with_loss": 0, "consoles_garbled": 0, "consoles_silent": 0}
    for name in names:
        raw = name.encode()
        payload, last_seq = logs.of(raw)
        try:
            with open(os.path.join(logdir, f"console.{name}"), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = b""
        lost, disorder, garbled = check_log(data, raw, payload, last_seq)
        out["lines_lost"] += lost
        out["lines_out_of_order"] += disorder
        out["lines_garbled"] += garbled
        out["consoles_with_loss"] += lost > 0
        out["consoles_garbled"] += garbled > 0
        out["consoles_silent"] += lost == last_seq
    return out


def expected_events(names, logs):
    """{rule: events} over every console (consrc.expected_events)."""
    out = collections.Counter()
    for name in names:
        out.update(consrc.expected_events(name.encode(), logs.size_and_last(name)[1]))
    return dict(out)


def events_counted(port):
    """{rule: events} from conmand's /metrics (conman_console_events_total)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
        text = r.read().decode()
    out = collections.Counter()
    for labels, value in EVENTS_RE.findall(text):
        out[dict(LABEL_RE.findall(labels))["rule"]] += int(value)
    return dict(out)


def events_logged(path):
    """{rule: events} from conmand's own log (one line an event)."""
    with open(path, "rb") as f:
        return dict(collections.Counter(m.group(2).decode()
                                        for m in EVENT_LOG_RE.finditer(f.read())))


def scenario_storm(procs, kind, binary, n, run_dir, args):
    names = harness.names_for(n)
    if os.path.exists(run_dir):
        subprocess.run(["rm", "-rf", run_dir], check=True)
    logdir = os.path.join(run_dir, "logs")
    os.makedirs(logdir)
    m = {"consoles": n, "bytes_per_console": args.bytes}
    m["dd_mb_s"] = disk_mb_s(logdir, args.dd_mb) if args.dd_mb > 0 else None
    sources = harness.Sources(procs, run_dir, names, args, flood_bytes=args.bytes, tcp=True,
                              extra_argv=["--boot-log", "--hold"])
    conf = os.path.join(run_dir, "conman.conf" if kind != "minlog" else "consoles.list")
    devs = [(name, sources.dev(name)) for name in names]
    port = harness.free_port()
    http_port = harness.free_port() if kind == "ours+rules" else None
    if kind == "minlog":
        write_minlog_list(conf, devs)
        daemon = MinLog(procs, kind, binary, run_dir, port, conf)
    else:
        server = []
        if http_port:
            server = [f'server eventrules="{RULES}"', f"server httpport={http_port}"]
        harness.write_conf(conf, port, logdir, args.logopts, devs, server)
        daemon = harness.Daemon(procs, kind, binary, run_dir, port, conf)
    t_start = daemon.start()
    connected, err = harness.wait_connected(daemon, sources, n, t_start, 60 + n / 50)
    if err:
        raise BenchError(f"{kind}: {err}")
    m["connected_s"] = connected
    time.sleep(1)  # start-up work (log files opened, telnet options) settles
    logs = BootLogs(names, args.bytes)
    total_bytes = sum(logs.size_and_last(name)[0] for name in names)
    paths = {name: os.path.join(logdir, f"console.{name}") for name in names}
    pid = daemon.p.pid
    cpu0, source_cpu0 = harness.cpu_seconds(pid), sources.cpu_seconds()
    t0 = time.monotonic()
    sources.signal_all(signal.SIGUSR2)
    t_end, m["drain_note"] = wait_drained(daemon, sources, paths, logs, t0, args.timeout,
                                          args.quiet)
    cpu1 = harness.cpu_seconds(pid)  # after the quiet time for a lossy one: it idles then
    m["peak_rss_mb"] = vm_hwm_kb(pid) / 1024
    m["drain_s"] = t_end - t0
    m["drain_mb_s"] = total_bytes / 1e6 / m["drain_s"]
    m["cpu_s"] = cpu1 - cpu0
    m["source_cpu_s"] = sources.cpu_seconds() - source_cpu0
    m["reconnects"] = sources.connects() - n  # a console that connected more than once
    if http_port:
        # After the CPU figure: the scrape is not the storm's cost.
        m["events_expected"] = expected_events(names, logs)
        m["events_counted"] = events_counted(http_port)
    report = sources.stop_and_report()
    unsent = sum(1 for name, c in report.items()
                 if c["flood_sent"] < logs.size_and_last(name)[0])
    if unsent:
        raise BenchError(f"{unsent} consoles did not send their whole boot log")
    procs.stop_all()  # the logger too: nothing more may reach the logs
    t_check = time.monotonic()
    m.update(check_logs(logdir, names, logs))
    log(f"{kind}: logs checked in {time.monotonic() - t_check:.1f} s")
    m["lines_sent"] = sum(logs.size_and_last(name)[1] for name in names)
    if http_port:
        m["events_logged"] = events_logged(daemon.log)
    return m


# ---------------------------------------------------------------- reporting

def fmt(v, f):
    return "-" if v is None else f.format(v)


def table(results, args):
    floor = next((r for k, r in results if k == "minlog" and "cpu_s" in r), None)
    command = os.environ.get("BENCH_COMMAND") or shlex.join(sys.argv)
    out = [f"Command: `{command}`  ",
           f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ",
           f"Machine: {args.machine}  ",
           f"Each console sends {args.bytes} bytes of boot log at once; "
           f"logopts=\"{args.logopts}\" for the conmands.", "",
           "| logger | consoles | drain (s) | drain (MB/s) | dd conv=fsync (MB/s) "
           "| drain / dd | CPU (s) | CPU per byte / minlog's | peak RSS (MB) "
           "| lines lost (of sent) | lines out of order | consoles with loss "
           "| consoles garbled |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for kind, r in results:
        if "error" in r:
            out.append(f"| {kind} | {r.get('consoles', '-')} | failed (see notes) |"
                       + " |" * 10)
            notes.append(f"- {kind}: {r['error']}")
            continue
        vs_dd = r["drain_mb_s"] / r["dd_mb_s"] if r["dd_mb_s"] else None
        vs_floor = None
        if floor and floor["cpu_s"] > 0:
            vs_floor = (r["cpu_s"] / r["lines_sent"]) / (floor["cpu_s"] / floor["lines_sent"])
        out.append(
            f"| {kind} | {r['consoles']} | {r['drain_s']:.2f} | {r['drain_mb_s']:.1f} "
            f"| {fmt(r['dd_mb_s'], '{:.0f}')} | {fmt(vs_dd, '{:.2f}')} | {r['cpu_s']:.2f} "
            f"| {fmt(vs_floor, '{:.2f}')} | {r['peak_rss_mb']:.1f} "
            f"| {r['lines_lost']} (of {r['lines_sent']}) | {r['lines_out_of_order']} "
            f"| {r['consoles_with_loss']} | {r['consoles_garbled']} |")
        if r.get("drain_note"):
            notes.append(f"- {kind}: drained = logs stopped growing ({r['drain_note']})")
        if "events_expected" in r:
            notes.append(f"- {kind}: console events expected {events_text(r['events_expected'])}; "
                         f"counted on /metrics {events_text(r['events_counted'])}; in the "
                         f"server log {events_text(r['events_logged'])}")
    return "\n".join(out + [""] + notes) + "\n"


def events_text(by_rule):
    total = sum(by_rule.values())
    return f"{total} ({', '.join(f'{k} {v}' for k, v in sorted(by_rule.items()))})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default="minlog:10000,ours:10000,debian:1000",
                    help="logger:consoles, in order (loggers: ours, ours+rules, debian, "
                    "minlog)")
    ap.add_argument("--bytes", type=int, default=65536, help="boot log bytes per console")
    ap.add_argument("--dd-mb", type=int, default=512, help="dd size per run; 0: no dd")
    ap.add_argument("--logopts", default="timestamp")
    ap.add_argument("--shard", type=int, default=2500, help="consoles per source process")
    ap.add_argument("--timeout", type=float, default=180, help="longest drain (s)")
    ap.add_argument("--quiet", type=float, default=3,
                    help="logs unchanged this long (s) after all was sent: drained")
    ap.add_argument("--ours", default=os.path.join(BUILD_BIN, "conmand"))
    ap.add_argument("--debian", default="/usr/sbin/conmand")
    ap.add_argument("--minlog", default=os.path.join(BUILD_BIN, "minlog"))
    ap.add_argument("--out", default=os.path.join(HERE, "out",
                                                  "storm-" + time.strftime("%Y%m%d-%H%M%S")))
    ap.add_argument("--keep-logs", action="store_true", help="keep console logs of each run")
    args = ap.parse_args()
    args.rate, args.line_len = 1.0, 64  # harness.Sources' flags; unused by a boot log flood
    binaries = {"ours": args.ours, "ours+rules": args.ours, "debian": args.debian,
                "minlog": args.minlog}
    plan = []
    for item in args.runs.split(","):
        kind, _, n = item.partition(":")
        if kind not in binaries or not n.isdigit():
            sys.exit(f"storm: bad --runs item {item!r} (want ours|ours+rules|debian|minlog:N)")
        if not os.access(binaries[kind], os.X_OK):
            sys.exit(f"storm: {kind} {binaries[kind]} is not an executable file")
        plan.append((kind, int(n)))
    os.makedirs(args.out, exist_ok=True)
    args.machine = harness.machine()
    procs = harness.Procs()

    def on_term(signum, _frame):
        raise SystemExit(f"storm: stopped by signal {signum}")  # finally stops every process

    signal.signal(signal.SIGTERM, on_term)
    results = []
    t_start = time.monotonic()
    try:
        for i, (kind, n) in enumerate(plan):
            run_dir = os.path.join(args.out, f"{kind}-{n}-{i + 1}")
            log(f"{kind} {n} consoles: {run_dir}")
            try:
                r = scenario_storm(procs, kind, binaries[kind], n, run_dir, args)
            except BenchError as e:
                log(f"{kind} {n} FAILED: {e}")
                r = {"consoles": n, "error": str(e)}
            except Exception as e:  # a bench bug must not lose the other runs
                log(f"{kind} {n} BENCH ERROR: {traceback.format_exc()}")
                r = {"consoles": n, "error": f"bench error: {type(e).__name__}: {e}"}
            finally:
                procs.stop_all()
            log(f"{kind} {n}: {json.dumps(r)}")
            results.append((kind, r))
            with open(os.path.join(args.out, "results.json"), "w") as f:
                json.dump({"args": vars(args), "results": results}, f, indent=1)
    finally:
        procs.stop_all()
        if not args.keep_logs:
            for d in glob.glob(os.path.join(args.out, "*-*-*")):
                subprocess.run(["rm", "-rf", os.path.join(d, "logs")])
    harness.report(table(results, args), args.out, t_start)


if __name__ == "__main__":
    main()
