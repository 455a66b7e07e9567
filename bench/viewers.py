#!/usr/bin/python3
"""What watching a chatty console costs the daemon (issue 18 item 5): N
viewers of one console that prints --rate lines a second, as N stock
`conman -m` clients of Debian's conmand, N of ours, and N web viewers
(WebSockets on our HTTP port: the log's tail, then live). Measures the
daemon's CPU over --window seconds once every viewer receives, its RSS,
and the lines each viewer missed. One table, ratios against Debian's.

  /usr/bin/python3 bench/viewers.py [--viewers 100] [--rate 2000] [--window 10]
      [--runs debian,ours,ours-web]

Every process it starts is stopped by PID; nothing is asserted."""
import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (SEQ_RE, BenchError, Clients, Daemon, Procs, Sources,  # noqa: E402
                     cpu_seconds, free_port, log, rss_kb, write_conf)

OURS = os.path.join(os.path.dirname(harness.HERE), "build", "bin", "conmand")
DEBIAN = "/usr/sbin/conmand"
NAME = "c0000"


class WebViewers:
    """N WebSockets reading one console, on one asyncio loop in a thread."""

    def __init__(self, port, n):
        import websockets
        self.data = [bytearray() for _ in range(n)]
        self.stopping = False
        self.loop = asyncio.new_event_loop()
        url = f"ws://127.0.0.1:{port}/consoles/{NAME}/ws"

        async def one(i):
            async with websockets.connect(url, max_size=None, open_timeout=30) as ws:
                while not self.stopping:
                    try:
                        self.data[i] += await asyncio.wait_for(ws.recv(), timeout=0.5)
                    except asyncio.TimeoutError:
                        pass

        async def every():
            await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(every(),),
                                       daemon=True)
        self.thread.start()

    def receiving(self):
        return sum(1 for d in self.data if SEQ_RE.search(bytes(d)))

    def stream_loss(self):
        lost = 0
        for d in self.data:
            seqs = sorted({int(s) for s, _ in SEQ_RE.findall(bytes(d))})
            if seqs:
                lost += (seqs[-1] - seqs[0] + 1) - len(seqs)
        return lost

    def close(self):
        self.stopping = True
        self.thread.join(timeout=10)


def run(kind, args, work):
    binary = DEBIAN if kind == "debian" else OURS
    run_dir = os.path.join(work, kind)
    os.makedirs(os.path.join(run_dir, "logs"))
    procs = Procs()
    try:
        src = Sources(procs, run_dir, [NAME], args)
        port, http = free_port(), free_port()
        conf = os.path.join(run_dir, "conman.conf")
        server = [f"server httpport={http}"] if kind != "debian" else []
        write_conf(conf, port, os.path.join(run_dir, "logs"), "nolock", [(NAME, src.dev(NAME))],
                   server)
        d = Daemon(procs, kind, binary, run_dir, port, conf)
        d.start()
        deadline = time.monotonic() + 30
        while src.connected() < 1:
            d.check_alive("before its console connected")
            if time.monotonic() > deadline:
                raise BenchError(f"{kind}: the console did not connect in 30 s")
            time.sleep(0.1)
        time.sleep(1)  # the log is there: web viewers get its tail
        viewers = (WebViewers(http, args.viewers) if kind == "ours-web"
                   else Clients(procs, port, [NAME] * args.viewers, run_dir))
        deadline = time.monotonic() + 60
        while viewers.receiving() < args.viewers:
            d.check_alive("while its viewers connected")
            if time.monotonic() > deadline:
                raise BenchError(f"{kind}: {viewers.receiving()} of {args.viewers} viewers "
                                 "receiving after 60 s")
            time.sleep(0.2)
        cpu0, t0 = cpu_seconds(d.p.pid), time.monotonic()
        time.sleep(args.window)
        cpu = (cpu_seconds(d.p.pid) - cpu0) / (time.monotonic() - t0)
        rss = rss_kb(d.p.pid)
        d.check_alive("during the window")
        dropped = "-"
        if kind == "ours-web":
            import urllib.request
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=10) as r:
                m = re.search(rb"^conman_web_viewers_dropped_total (\d+)", r.read(), re.M)
            dropped = int(m.group(1)) if m else "?"
        viewers.close()
        return {"cpu": cpu, "rss_mb": rss / 1024, "lost": viewers.stream_loss(),
                "dropped": dropped}
    finally:
        procs.stop_all()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--rate", type=float, default=2000, help="console lines a second")
    ap.add_argument("--line-len", type=int, default=100)
    ap.add_argument("--window", type=float, default=10)
    ap.add_argument("--runs", default="debian,ours,ours-web")
    args = ap.parse_args()
    args.shard = 1
    work = tempfile.mkdtemp(prefix="viewers-")
    results = {}
    try:
        for kind in args.runs.split(","):
            log(f"{kind}: {args.viewers} viewers of one console at {args.rate:g} lines/s")
            results[kind] = run(kind, args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = results.get("debian")
    print(f"| {args.viewers} viewers, {args.rate:g} lines/s of {args.line_len} B | daemon CPU "
          "(cores) | x Debian | RSS (MB) | lines missed | viewers dropped |")
    print("|---|---|---|---|---|---|")
    names = {"debian": "Debian's conmand, conman -m", "ours": "ours, conman -m",
             "ours-web": "ours, WebSocket viewers"}
    for kind, r in results.items():
        ratio = f"{r['cpu'] / base['cpu']:.2f}x" if base and base["cpu"] else "-"
        print(f"| {names.get(kind, kind)} | {r['cpu']:.3f} | {ratio} | {r['rss_mb']:.1f} | "
              f"{r['lost']} | {r['dropped']} |")


if __name__ == "__main__":
    main()
