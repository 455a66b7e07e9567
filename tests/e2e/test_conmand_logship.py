"""conmand's log shipping (SERVER logship): every console line goes to a TCP
collector and/or a file as one JSON object per line, in order, with the
console's name and a UTC time with nanoseconds; invalid UTF-8 comes out
escaped; a collector that restarts mid-stream gets the lines again and the
console keeps being logged meanwhile."""
import datetime
import json
import re
import signal
import socket
import threading
import time

from e2e_helpers import free_port, read_text, wait_for, write_script
from conmand_util import Daemon

# Numbered lines, a few with invalid UTF-8 and control bytes, then it idles.
NUMBERED = r"""#!/usr/bin/python3
import sys, time
for i in range(1, {n} + 1):
    tail = b" \xff\xc0\x1b[0m\xc3\xa9" if i % 10 == 0 else b""
    sys.stdout.buffer.write(b"line %d" % i + tail + b"\r\n")
    sys.stdout.flush()
    time.sleep({pause})
time.sleep(3600)
"""

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


class Collector:
    """A TCP collector on 127.0.0.1:port: keeps every byte it was sent."""

    def __init__(self, port):
        self.port = port
        self.data = bytearray()
        self.lock = threading.Lock()
        self.sock = None
        self.thread = None
        self.conns = []

    def listen(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(4)
        s.settimeout(0.2)
        self.sock = s
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(0.2)
            self.conns.append(c)
            while self.running:
                try:
                    b = c.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not b:
                    break
                with self.lock:
                    self.data += b

    def stop(self):
        self.running = False
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.conns = []
        self.sock.close()

    def objects(self):
        with self.lock:
            text = bytes(self.data)
        text.decode("utf-8")  # valid UTF-8 throughout, or this raises
        return [json.loads(l) for l in text.split(b"\n")[:-1]]


def numbers(objs, name="c"):
    out = []
    for o in objs:
        assert set(o) == {"console", "time", "line"}, o
        assert o["console"] == name
        assert TIME_RE.match(o["time"]), o["time"]
        datetime.datetime.strptime(o["time"][:26], "%Y-%m-%dT%H:%M:%S.%f")
        m = re.match(r"line (\d+)", o["line"])
        assert m, o
        out.append(int(m.group(1)))
    return out


def check_line_text(o):
    n = int(o["line"].split()[1])
    want = f"line {n}" + (" \u00ff\u00c0\u001b[0m\u00e9" if n % 10 == 0 else "")
    assert o["line"] == want, o


def start(procs, tmp_path, n, pause, extra):
    script = write_script(tmp_path, "numbered.py", NUMBERED.format(n=n, pause=pause))
    return Daemon("ours", procs, tmp_path, [f'console name="c" dev="{script}"'],
                  server_extra=extra, global_extra='global log="console.%N"').start()


def test_every_line_reaches_the_collector_and_the_file_once_in_order(procs, tmp_path):
    col = Collector(free_port())
    col.listen()
    try:
        ship = tmp_path / "ship.json"
        start(procs, tmp_path, 200, 0.005,
              f'server logship="tcp:127.0.0.1:{col.port}"\nserver logship="file:{ship}"')
        wait_for(lambda: len(col.objects()) >= 200, timeout=20, what="200 lines at the collector")
        objs = col.objects()
        assert numbers(objs) == list(range(1, 201))
        for o in objs:
            check_line_text(o)
        wait_for(lambda: read_text(ship).count("\n") >= 200, timeout=10, what="200 lines in file")
        fobjs = [json.loads(l) for l in ship.read_bytes().decode("utf-8").splitlines()]
        assert [o["line"] for o in fobjs] == [o["line"] for o in objs]
        assert oct(ship.stat().st_mode & 0o777) == "0o600"
    finally:
        col.stop()


def test_a_collector_restart_resumes_shipping_without_stalling_the_console(procs, tmp_path):
    col = Collector(free_port())
    col.listen()
    try:
        d = start(procs, tmp_path, 400, 0.02, f'server logship="tcp:127.0.0.1:{col.port}"')
        wait_for(lambda: len(col.objects()) >= 50, timeout=20, what="50 lines at the collector")
        col.stop()
        down_at = len(d.log_so_far("c"))
        time.sleep(2.0)
        assert len(d.log_so_far("c")) > down_at, "the console log stopped growing"
        col.data = bytearray()
        col.listen()
        wait_for(lambda: 400 in numbers(col.objects()), timeout=40, what="the last line")
        nums = numbers(col.objects())
        assert nums == sorted(set(nums)), "lines duplicated or out of order"
        assert nums[-1] == 400
        out = d.output()
        assert "went away" in out and "is back" in out, out
        # Lines written while it was down were buffered, not lost: the new
        # connection starts from the first line it did not take.
        assert len(nums) >= 400 - 50 - 30, nums[:20]
    finally:
        col.stop()


def test_the_file_target_is_reopened_on_sighup_for_rotation(procs, tmp_path):
    ship = tmp_path / "ship.json"
    d = start(procs, tmp_path, 300, 0.02, f'server logship="file:{ship}"')
    wait_for(lambda: read_text(ship).count("\n") >= 20, timeout=20, what="20 lines in file")
    rotated = tmp_path / "ship.json.1"
    ship.rename(rotated)
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: 300 in numbers(json.loads(l) for l in read_text(ship).splitlines()),
             timeout=30, what="the last line in the reopened file")
    old = numbers(json.loads(l) for l in rotated.read_text().splitlines())
    new = numbers(json.loads(l) for l in ship.read_text().splitlines())
    assert old + new == list(range(1, 301)), "a line lost or duplicated across rotation"
