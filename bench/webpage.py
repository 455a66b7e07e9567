#!/usr/bin/python3
"""The console list page at 10,000 consoles (issue 18 item 1): how long
after the navigation begins the first screen of the list is on screen in
Debian's chromium (headless), how long a filter takes, and what /consoles
costs. Our conmand with N unix-socket consoles from console-sim (a few
processes of --shard consoles: two descriptors each), on loopback.

  /usr/bin/python3 bench/webpage.py [--consoles 10000] [--loads 5] [--screenshot PNG]

Prints one line per page load and a summary; nothing is asserted."""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(os.path.dirname(HERE), "build", "bin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    sys.exit(f"webpage.py: timed out waiting for {what}")


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return r.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--consoles", type=int, default=10000)
    ap.add_argument("--shard", type=int, default=2500)
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--screenshot", help="save the first load's unfiltered list here (PNG)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="webpage-")
    procs = []
    try:
        lines, n, k = [], args.consoles, 0
        while n > 0:
            m = min(n, args.shard)
            d = os.path.join(work, f"s{k}")
            os.mkdir(d)
            procs.append(subprocess.Popen(
                [os.path.join(BIN, "console-sim"), "--rate", "0.2", "--range", f"s{k}n:{m}:unix:{d}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            lines += [f'console name="s{k}n{i}" dev="unix:{d}/s{k}n{i}.sock"' for i in range(1, m + 1)]
            n -= m
            k += 1
        until(lambda: sum(len(os.listdir(os.path.join(work, f"s{j}"))) for j in range(k))
              >= args.consoles, 60, "the console sockets")
        http = free_port()
        conf = os.path.join(work, "conman.conf")
        with open(conf, "w") as f:
            f.write(f"server port={free_port()}\nserver httpport={http}\n"
                    f'server logdir="{work}/logs"\nglobal log="%N"\n' + "\n".join(lines) + "\n")
        procs.append(subprocess.Popen([os.path.join(BIN, "conmand"), "-F", "-c", conf],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        def up():
            try:
                return get(http, "/consoles").count(b'"state":"up"') >= args.consoles
            except OSError:
                return False
        until(up, 120, "every console up")
        t = time.monotonic()
        body = get(http, "/consoles")
        fetch_s = time.monotonic() - t

        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1200,800", f"--user-data-dir={work}/chromium"):
            opts.add_argument(a)
        drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        firsts, filters = [], []
        try:
            for load in range(args.loads):
                drv.get(f"http://127.0.0.1:{http}/")
                first = until(lambda: drv.execute_script(
                    "return document.documentElement.dataset.firstListMs"), 30, "the first list")
                rows = drv.execute_script("return document.querySelectorAll('#rows .row').length")
                if args.screenshot and load == 0:
                    drv.save_screenshot(args.screenshot)
                box = drv.find_element("id", "filter")
                box.send_keys("s1n1234")
                until(lambda: drv.execute_script(
                    "return document.querySelectorAll('#rows .row').length") < rows, 10, "filtered")
                filt = float(drv.execute_script("return document.documentElement.dataset.refilterMs"))
                firsts.append(float(first))
                filters.append(filt)
                print(f"load {load + 1}: first screen of the list {float(first):.0f} ms after the "
                      f"navigation began ({rows} rows in the page), filter {filt:.1f} ms")
        finally:
            drv.quit()
        firsts.sort()
        filters.sort()
        print(f"{args.consoles} consoles: /consoles {len(body) / 1e6:.1f} MB in {fetch_s * 1000:.0f} ms "
              f"(urllib); first screen median {firsts[len(firsts) // 2]:.0f} ms "
              f"(min {firsts[0]:.0f}, max {firsts[-1]:.0f}); filter median "
              f"{filters[len(filters) // 2]:.1f} ms")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
