#!/usr/bin/python3
"""Operations benchmark: what built-in rotation, log shipping and /metrics
scrapes cost our conmand, as ratios to the same steady run without them.

Each variant is bench/harness.py's steady scenario (N unix-socket consoles
at --rate lines/s, timestamps on, CPU over --window seconds, every line
checked in the logs afterwards), with more SERVER lines:
  base:      nothing more;
  rotate:    logsize=--logsize logkeep=--logkeep logbudget=100G (a rotation
             every few seconds per console: the worst case, not a real one);
  ship-tcp:  logship to a TCP collector (a separate process counting lines);
  ship-file: logship to a file;
  scrape:    httpport, /metrics fetched every --scrape-every seconds during
             the window (latency and size reported);
  events:    eventrules= the shipped etc/conman-events.rules (console events:
             every logged line matched against every rule).
Every process it starts runs in its own session and is stopped by PID.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.request

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"

# A collector that counts newline-terminated records and writes the count to
# a file when stopped (SIGTERM); one connection at a time, like Vector's
# socket source would take it.
SINK = r"""
import os, signal, socket, sys
port, out = int(sys.argv[1]), sys.argv[2]
lines = 0
def stop(*_):
    open(out, "w").write(str(lines))
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(1)
while True:
    c, _ = srv.accept()
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        lines += b.count(b"\n")
"""


class Scraper(threading.Thread):
    """GETs /metrics and /consoles in turn, one every `every` seconds, until
    stopped; then reads what conmand measured of its own page building."""

    def __init__(self, port, every):
        super().__init__(daemon=True)
        self.base, self.every = f"http://127.0.0.1:{port}", every
        self.latencies = {"/metrics": [], "/consoles": []}
        self.sizes, self.errors = {}, 0
        self.stopping = threading.Event()

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            return r.read()

    def run(self):
        paths = list(self.latencies)
        n = 0
        while not self.stopping.wait(self.every):
            path = paths[n % len(paths)]
            n += 1
            t0 = time.monotonic()
            try:
                self.sizes[path] = len(self.get(path))
                self.latencies[path].append(time.monotonic() - t0)
            except OSError:
                # Refused before the port first answers is start-up, not failure.
                if any(self.latencies.values()):
                    self.errors += 1

    def loop_figures(self):
        """conman_http_* gauges of one last scrape: the longest turn the
        loop spent building pages, and the latest page's build time.
        Scraping stops first, so the figures cover the window's pages."""
        self.stopping.set()
        self.join(15)
        out = {}
        for line in self.get("/metrics").decode().splitlines():
            name, _, value = line.partition(" ")
            if name in ("conman_http_slice_max_seconds", "conman_http_last_build_seconds",
                        "conman_http_pages_total"):
                out[name] = float(value)
        return out


def variant_args(args, name, procs, run_dir):
    """The SERVER lines of a variant, and what must run beside it."""
    v = argparse.Namespace(**vars(args))
    v.server, extra = [], {}
    if name == "rotate":
        v.server = [f"server logsize={args.logsize} logkeep={args.logkeep} logbudget=100G"]
    elif name == "ship-tcp":
        port = harness.free_port()
        out = os.path.join(run_dir + "-sink.count")
        p = procs.start([PYTHON, "-c", SINK, str(port), out],
                        os.path.join(args.out, f"{name}-sink.log"))
        v.server = [f'server logship="tcp:127.0.0.1:{port}"']
        extra = {"sink": p, "sink_count": out}
    elif name == "ship-file":
        path = run_dir + "-ship.jsonl"
        v.server = [f'server logship="file:{path}"']
        extra = {"ship_file": path}
    elif name == "events":
        rules = os.path.join(os.path.dirname(HERE), "etc", "conman-events.rules")
        v.server = [f'server eventrules="{rules}"']
    elif name == "scrape":
        port = harness.free_port()
        v.server = [f"server httpport={port}"]
        extra = {"scraper": Scraper(port, args.scrape_every)}
    return v, extra


def run_variant(procs, name, args):
    run_dir = os.path.join(args.out, name)
    v, extra = variant_args(args, name, procs, run_dir)
    scraper = extra.get("scraper")
    if scraper:
        scraper.start()
    try:
        m = harness.scenario_steady(procs, "ours", args.ours, args.consoles, run_dir, v,
                                    after_window=scraper and scraper.loop_figures)
    finally:
        if scraper:
            scraper.stopping.set()
            scraper.join(15)
    if scraper:
        for path, lat in scraper.latencies.items():
            key = path.strip("/")
            if lat:
                m[f"{key}_ms_median"] = 1000 * statistics.median(lat)
                m[f"{key}_ms_max"] = 1000 * max(lat)
                m[f"{key}_kb"] = scraper.sizes[path] / 1024
                m[f"{key}_pages"] = len(lat)
        m["scrape_errors"] = scraper.errors
        loop = m.pop("after_window", None) or {}
        if loop:
            m["slice_max_ms"] = 1000 * loop["conman_http_slice_max_seconds"]
            m["last_build_ms"] = 1000 * loop["conman_http_last_build_seconds"]
    if "sink" in extra:
        harness.Procs.stop(extra["sink"])
        with open(extra["sink_count"]) as f:
            m["shipped_lines"] = int(f.read() or 0)
    if "ship_file" in extra:
        m["shipped_lines"] = 0  # stays 0 when the file was never written
        if os.path.exists(extra["ship_file"]):
            with open(extra["ship_file"], "rb") as f:
                m["shipped_lines"] = sum(c.count(b"\n") for c in iter(lambda: f.read(1 << 20), b""))
    if name == "rotate":
        logs = os.path.join(run_dir, "logs")
        m["rotated_files"] = sum(1 for e in os.scandir(logs) if e.name.rsplit(".", 1)[-1].isdigit())
    return m


def table(results, args):
    base = results.get("base", {}).get("cpu_pct")
    rows = [f"{'variant':10} {'CPU %':>7} {'x base':>7} {'lost':>6} {'extra'}"]
    for name, m in results.items():
        ratio = f"{m['cpu_pct'] / base:.2f}" if base else "-"
        extra = ", ".join(f"{k}={m[k]:.1f}" if isinstance(m[k], float) else f"{k}={m[k]}"
                          for k in ("metrics_ms_median", "metrics_ms_max", "metrics_kb",
                                    "metrics_pages", "consoles_ms_median", "consoles_ms_max",
                                    "consoles_kb", "consoles_pages", "scrape_errors",
                                    "slice_max_ms", "last_build_ms", "shipped_lines",
                                    "rotated_files") if k in m)
        rows.append(f"{name:10} {m['cpu_pct']:7.2f} {ratio:>7} {m['lines_lost']:6d} {extra}")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--consoles", type=int, default=10000)
    ap.add_argument("--variants", default="base,rotate,ship-tcp,ship-file,scrape,events")
    ap.add_argument("--window", type=float, default=10, help="CPU window (s)")
    ap.add_argument("--rate", type=float, default=1.0, help="lines/s per console")
    ap.add_argument("--line-len", type=int, default=64)
    ap.add_argument("--shard", type=int, default=2500, help="consoles per source process")
    ap.add_argument("--logopts", default="timestamp")
    ap.add_argument("--logsize", default="1K", help="rotate variant's logsize")
    ap.add_argument("--logkeep", type=int, default=1000, help="rotate variant's logkeep")
    ap.add_argument("--scrape-every", type=float, default=1.0)
    ap.add_argument("--ours", default=os.path.join(os.path.dirname(HERE), "build", "bin",
                                                   "conmand"))
    ap.add_argument("--out", default=os.path.join(HERE, "out", "ops-" + time.strftime("%Y%m%d-%H%M%S")))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    harness.raise_nofile()
    procs = harness.Procs()
    results = {}
    try:
        for name in [v for v in args.variants.split(",") if v]:
            harness.log(f"ops: {name} at {args.consoles} consoles")
            results[name] = run_variant(procs, name, args)
    finally:
        procs.stop_all()
    text = (f"bench/ops.py --consoles {args.consoles} --window {args.window} "
            f"--rate {args.rate}\n{harness.machine()}\n" + table(results, args))
    print(text)
    with open(os.path.join(args.out, "ops.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
