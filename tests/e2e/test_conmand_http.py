"""conmand's HTTP port (SERVER httpport): /healthz follows the event loop,
/readyz the client listener, /metrics parses as Prometheus text and counts
what a scripted console did, /consoles lists every console as JSON, no
console name breaks either, and a port in use is retried, never fatal."""
import ctypes
import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from e2e_helpers import free_port, wait_for, write_script
from conmand_util import Daemon

# Prints LINES lines of known length, then idles.
LINES = 20
SCRIPT = r"""#!/usr/bin/python3
import sys, time
for i in range({n}):
    sys.stdout.write("line %04d\n" % i)
    sys.stdout.flush()
time.sleep(3600)
"""
LINE_BYTES = len("line 0000\n")  # the pty is raw: LF stays LF


def get(port, path, method="GET"):
    """(status, body) of one request to 127.0.0.1:port."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def samples(port):
    """{(name, frozenset(labels)): value} of /metrics, parsed by the client library."""
    status, text = get(port, "/metrics")
    assert status == 200, text
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"duplicate sample {key}"
            out[key] = s.value
    return out


def per_console(m, name, console):
    return m[(name, frozenset({("console", console)}))]


def refused_port():
    """A loopback port nothing listens on: a telnet console there stays down."""
    return free_port()


def start(procs, tmp_path, consoles, extra="", wait=True):
    http = free_port()
    d = Daemon("ours", procs, tmp_path, consoles,
               server_extra=f"server httpport={http}\n{extra}",
               global_extra='global log="console.%N"')
    d.http = http
    d.start(wait=wait)
    return d


def test_metrics_count_what_a_scripted_console_did(procs, tmp_path):
    script = write_script(tmp_path, "lines.py", SCRIPT.format(n=LINES))
    down = refused_port()
    d = start(procs, tmp_path, [f'console name="talk" dev="{script}"',
                                f'console name="dead" dev="127.0.0.1:{down}"'])
    wait_for(lambda: per_console(samples(d.http), "conman_console_read_bytes_total", "talk")
             >= LINES * LINE_BYTES, timeout=10, what="the script's output counted")
    watcher = d.client("-m", "talk")
    try:
        watcher.expect(b"Connection to console [talk] opened")
        wait_for(lambda: per_console(samples(d.http), "conman_console_clients", "talk") == 1,
                 timeout=5, what="one attached client")
        m = samples(d.http)
        assert per_console(m, "conman_console_up", "talk") == 1
        assert per_console(m, "conman_console_up", "dead") == 0
        assert per_console(m, "conman_console_read_bytes_total", "talk") == LINES * LINE_BYTES
        assert per_console(m, "conman_console_connects_total", "talk") == 1
        assert per_console(m, "conman_console_connects_total", "dead") == 0
        assert per_console(m, "conman_console_connect_attempts_total", "dead") >= 1
        # On disk within a batch (LOGCACHE_FLUSH_MS): the output, its header and notices.
        wait_for(lambda: per_console(samples(d.http), "conman_console_logged_bytes_total", "talk")
                 == os.path.getsize(tmp_path / "console.talk") > LINES * LINE_BYTES,
                 timeout=5, what="logged bytes equal to the log's size")
        assert per_console(m, "conman_console_dropped_bytes_total", "talk") == 0
        assert per_console(m, "conman_console_output_age_seconds", "talk") < 60
        assert m[("conman_consoles", frozenset({("type", "process"), ("state", "up")}))] == 1
        assert m[("conman_consoles", frozenset({("type", "telnet"), ("state", "down")}))] == 1
        assert m[("conman_clients", frozenset())] >= 1
        assert m[("process_open_fds", frozenset())] > 5
        assert m[("conman_reloads_total", frozenset({("result", "applied")}))] == 0
    finally:
        watcher.close()
    os.kill(d.proc.pid, signal.SIGHUP)
    wait_for(lambda: samples(d.http)[("conman_reloads_total",
                                      frozenset({("result", "applied")}))] == 1,
             timeout=5, what="the reload counted")
    with open(d.conf, "a") as f:
        f.write("console name=\"broken\" dev=\n")  # a bad line refuses the reload
    os.kill(d.proc.pid, signal.SIGHUP)
    wait_for(lambda: samples(d.http)[("conman_reloads_total",
                                      frozenset({("result", "refused")}))] == 1,
             timeout=5, what="the refused reload counted")


def test_consoles_lists_every_console_with_state_error_and_log(procs, tmp_path):
    script = write_script(tmp_path, "lines.py", SCRIPT.format(n=3))
    down = refused_port()
    d = start(procs, tmp_path, [f'console name="talk" dev="{script}"',
                                f'console name="dead" dev="127.0.0.1:{down}"'])
    # Up comes when the process starts; its first line a moment later.
    wait_for(lambda: (lambda t: t["state"] == "up" and t["last_output"] is not None)(
        json.loads(get(d.http, "/consoles")[1])[1]), timeout=10,
        what="talk up in /consoles, with output")
    status, body = get(d.http, "/consoles")
    assert status == 200
    by_name = {c["name"]: c for c in json.loads(body)}
    assert list(by_name) == ["dead", "talk"]
    talk, dead = by_name["talk"], by_name["dead"]
    assert talk["type"] == "process" and talk["state"] == "up"
    assert talk["log"] == os.path.join(str(tmp_path), "console.talk")
    assert talk["last_output"] is not None and talk["connects"] == 1
    assert dead["type"] == "telnet" and dead["state"] == "down"
    assert dead["last_error"] == "Connection refused"
    assert dead["since"].endswith("Z")


def test_no_console_name_breaks_metrics_or_json(procs, tmp_path):
    down = refused_port()
    names = ['we"ird{x}\\y=,z', "sp ace", "caf\u00e9", "a}b{c=\"d\""]
    lines = []
    for n in names:
        q = "'" if '"' in n else '"'
        lines.append(f"console name={q}{n}{q} dev=\"127.0.0.1:{down}\"")
    d = start(procs, tmp_path, lines)
    m = samples(d.http)
    for n in names:
        assert per_console(m, "conman_console_up", n) == 0, n
    listed = [c["name"] for c in json.loads(get(d.http, "/consoles")[1])]
    assert sorted(listed) == sorted(names)


def test_unknown_paths_and_methods_are_refused(procs, tmp_path):
    d = start(procs, tmp_path, [f'console name="dead" dev="127.0.0.1:{refused_port()}"'])
    assert get(d.http, "/nope")[0] == 404
    assert get(d.http, "/metrics", method="POST")[0] == 405
    assert get(d.http, "/healthz") == (200, "ok\n")
    assert get(d.http, "/readyz") == (200, "ready\n")


def test_readyz_is_503_while_the_client_port_is_taken(procs, tmp_path):
    script = write_script(tmp_path, "lines.py", SCRIPT.format(n=3))
    d = Daemon("ours", procs, tmp_path, [f'console name="talk" dev="{script}"'],
               global_extra='global log="console.%N"')
    d.http = free_port()
    with open(d.conf, "a") as f:
        f.write(f"server httpport={d.http}\n")
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", d.port))
    holder.listen(1)
    try:
        d.start(wait=False)
        wait_for(lambda: get_or_none(d.http, "/readyz") is not None, timeout=10,
                 what="the HTTP port")
        status, body = get(d.http, "/readyz")
        assert status == 503 and f"client port {d.port}" in body, body
        assert get(d.http, "/healthz")[0] == 200  # alive: only not ready
        # The consoles are logged meanwhile.
        wait_for(lambda: b"line 0002" in d.log_so_far("talk"), timeout=10, what="talk logged")
    finally:
        holder.close()
    wait_for(lambda: get(d.http, "/readyz")[0] == 200, timeout=10, what="ready once the port is free")
    wait_for(d.ready, timeout=10, what="conman -q against the freed port")


def get_or_none(port, path):
    try:
        return get(port, path)
    except (ConnectionError, urllib.error.URLError):
        return None


def test_an_http_port_in_use_is_retried_and_never_fatal(procs, tmp_path):
    held = free_port()
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", held))
    holder.listen(1)
    d = Daemon("ours", procs, tmp_path, [f'console name="dead" dev="127.0.0.1:{refused_port()}"'],
               server_extra=f"server httpport={held}")
    try:
        d.start()  # clients are served although the HTTP port is taken
        wait_for(lambda: f"cannot serve HTTP on 127.0.0.1:{held}" in d.output(), timeout=5,
                 what="the bind error in the log")
    finally:
        holder.close()
    wait_for(lambda: get_or_none(held, "/healthz") == (200, "ok\n"), timeout=10,
             what="HTTP served once the port is free")


PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_DETACH = 0x4206, 0x4207, 17


def test_healthz_is_503_when_the_event_loop_stops_turning(procs, tmp_path):
    """Only the loop's thread is stopped (ptrace), the HTTP thread runs on."""
    d = start(procs, tmp_path, [f'console name="dead" dev="127.0.0.1:{refused_port()}"'])
    assert get(d.http, "/healthz")[0] == 200
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    tid = d.proc.pid  # the main thread runs the loop
    assert libc.ptrace(PTRACE_SEIZE, tid, None, None) == 0, os.strerror(ctypes.get_errno())
    try:
        assert libc.ptrace(PTRACE_INTERRUPT, tid, None, None) == 0
        os.waitpid(tid, 0x40000000)  # __WALL: the interrupt stop
        wait_for(lambda: get(d.http, "/healthz")[0] == 503, timeout=15, interval=0.5,
                 what="/healthz 503 with the loop stopped")
        assert "event loop stalled" in get(d.http, "/healthz")[1]
    finally:
        libc.ptrace(PTRACE_DETACH, tid, None, None)
    wait_for(lambda: get(d.http, "/healthz")[0] == 200, timeout=10, what="/healthz 200 again")


def test_scrapes_of_many_consoles_complete_and_stop_is_clean(procs, tmp_path):
    """1,000 consoles take several slices a page; concurrent scrapes each get
    every console once, and SIGTERM with pages pending exits cleanly."""
    down = refused_port()
    names = [f"n{i:04d}" for i in range(1000)]
    d = start(procs, tmp_path, [f'console name="{n}" dev="127.0.0.1:{down}"' for n in names],
              extra="server nofile=-1")
    results, errors = [], []

    def scrape():
        try:
            m = samples(d.http)
            results.append(sorted(dict(k[1])["console"] for k in m
                                  if k[0] == "conman_console_up"))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=scrape) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == 6 and all(r == names for r in results)
    m = samples(d.http)
    assert m[("conman_http_pages_total", frozenset())] >= 6
    # Pages still pending at SIGTERM are answered or dropped; conmand exits 0.
    threads = [threading.Thread(target=lambda: get_or_none(d.http, "/metrics")) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=20) == 0, d.output()
    for t in threads:
        t.join(timeout=20)
