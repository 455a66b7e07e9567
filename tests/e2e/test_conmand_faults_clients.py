"""Hostile and broken clients (issue 21, item 4): clients that connect and
never read a chatty console, idle connections that never greet, a 1 MB
request line, binary junk, and 10,000 connect-and-close in a row. The
daemon lives through each, its memory and descriptors stay bounded, and
the console and every other client are unaffected."""
import random
import socket
import time

import pytest

from bmcsim import ConsoleSim, contiguous, seqs_by_console
from e2e_helpers import cpu_seconds, fd_count, wait_for
from conmand_util import Daemon

CLIENT_CAP = 64 * 1024          # unsent output ours keeps per client
NEVER_READERS = 200
RSS_BUDGET = 16 * 1024 * 1024   # 200 never-readers cost less than this above baseline
IDLE_TIMEOUT = 30               # ours closes a connection that has not sent its request


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def sanitized(pid):
    """ASan keeps freed memory in quarantine: RSS bounds mean nothing there."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def chatty_daemon(kind, procs, tmp_path, rate):
    sim = ConsoleSim.start(procs, tmp_path, ["chatty=tcp:0", "calm=tcp:0"], rate=rate)
    consoles = [f'console name="chatty" dev="127.0.0.1:{sim.port("chatty")}"',
                f'console name="calm" dev="127.0.0.1:{sim.port("calm")}"']
    d = Daemon(kind, procs, tmp_path, consoles, global_extra='global log="console.%N"').start()
    wait_for(lambda: b"#0000" in d.log_so_far("chatty") and b"#0000" in d.log_so_far("calm"),
             timeout=20, what="both consoles to log lines")
    return d, sim


def never_reader(port, console):
    """A monitor that reads its OK line and then never reads again; its
    receive buffer is made small so the daemon's queue fills soon."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(b"HELLO USER='slow'\nMONITOR CONSOLE='" + console.encode() + b"'\n")
    got = b""
    while b"\n" not in got or not got.startswith(b"OK"):
        chunk = s.recv(64)
        assert chunk, f"closed before OK: {got!r}"
        got += chunk
        assert len(got) < 4096 and not got.startswith(b"ERROR"), got
    return s


def settle_rss(pid, seconds):
    """The highest RSS seen over `seconds` (queues fill, then hold)."""
    peak, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak = max(peak, rss_bytes(pid))
        time.sleep(0.25)
    return peak


def measure_never_readers(kind, procs, tmp_path, rate, hold=15):
    d, _ = chatty_daemon(kind, procs, tmp_path, rate)
    pid = d.proc.pid
    watcher = d.client("-m", "chatty")
    watcher.expect("opened")
    base = rss_bytes(pid)
    slow = [never_reader(d.port, "chatty") for _ in range(NEVER_READERS)]
    try:
        # The stock client on a pty keeps reading the whole time.
        deadline = time.monotonic() + hold
        peak = base
        while time.monotonic() < deadline:
            watcher.pump(0.05)
            peak = max(peak, rss_bytes(pid))
        watcher.settle(1.0)
        return d, watcher, slow, base, peak
    except BaseException:
        for s in slow:
            s.close()
        watcher.close()
        raise


def test_200_never_reading_monitors_cost_under_16_mb_and_every_other_client_gets_every_line(
        procs, tmp_path):
    # 10,000 lines a second (800 KB/s): the kernel's send buffer of each
    # never-reader (autotuned up to 4 MiB) fills within 5 s, then ours.
    d, watcher, slow, base, peak = measure_never_readers("ours", procs, tmp_path, rate=10000)
    try:
        print(f"\nours: baseline {base / 1e6:.1f} MB, peak with {NEVER_READERS} never-readers "
              f"{peak / 1e6:.1f} MB, above baseline {(peak - base) / 1e6:.1f} MB")
        if sanitized(d.proc.pid):
            print("ASan build: the RSS bound is checked in the plain build only")
        else:
            assert peak - base < RSS_BUDGET
        seqs = seqs_by_console(watcher.buf.decode(errors="replace")).get("chatty", [])
        assert contiguous(seqs, 10), f"the reading client lost lines: {seqs[:5]}...{seqs[-5:]}"
        assert len(seqs) > 2000
        # The console's log has every line too, and the calm console kept going.
        logged = seqs_by_console(d.log("chatty").decode(errors="replace"))["chatty"]
        assert contiguous(logged, 10)
        assert contiguous(seqs_by_console(d.log("calm").decode(errors="replace"))["calm"], 10)
        # A never-reader that reads again is told how much it lost.
        s = slow[0]
        s.settimeout(5)
        got = b""
        deadline = time.monotonic() + 15
        # Until the whole notice is in: a read may end inside it.
        while b"bytes of output: client too slow" not in got and time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            assert chunk, "the slow client was closed instead of lagged"
            got += chunk
        assert b"bytes of output: client too slow" in got
        assert d.proc.poll() is None
        assert "too slow" in d.output()  # and the server log says so once
    finally:
        for s in slow:
            s.close()
        watcher.close()
    if not sanitized(d.proc.pid):
        wait_for(lambda: rss_bytes(d.proc.pid) - base < RSS_BUDGET / 2, timeout=10,
                 what="RSS to come back near its baseline")


@pytest.mark.measure
@pytest.mark.parametrize("which", ["ours", "debian"])
def test_measure_never_reading_monitors_side_by_side(which, procs, tmp_path):
    # A measurement for the report, not a timed assertion: Debian's keeps
    # no per-client queue of its own, ours keeps at most CLIENT_CAP. At
    # 10,000 lines a second (1 MB/s) as in issue 21; the reading client may
    # lose lines at that rate with either daemon.
    d, watcher, slow, base, peak = measure_never_readers(which, procs, tmp_path, rate=10000)
    try:
        print(f"\n{which}: baseline {base / 1e6:.1f} MB, peak with {NEVER_READERS} "
              f"never-readers {peak / 1e6:.1f} MB, above baseline {(peak - base) / 1e6:.1f} MB")
        seqs = seqs_by_console(watcher.buf.decode(errors="replace")).get("chatty", [])
        print(f"{which}: the reading client got {len(seqs)} lines, "
              f"contiguous: {contiguous(seqs, 10)}")
        assert d.proc.poll() is None
        assert peak >= base
    finally:
        for s in slow:
            s.close()
        watcher.close()


def timed_query(port):
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(b"HELLO USER='q'\nQUERY CONSOLE='calm'\n")
        got = b""
        while got.count(b"\n") < 2:
            chunk = s.recv(4096)
            assert chunk, got
            got += chunk
        return time.monotonic() - start, got
    finally:
        s.close()


@pytest.mark.slow
def test_1000_idle_connections_are_served_around_and_closed_after_the_request_timeout(
        procs, tmp_path):
    # Upstream never times a silent connection out: each holds a descriptor
    # for ever. Ours closes one that has not sent its request in 30 s.
    d, _ = chatty_daemon("ours", procs, tmp_path, rate=50)
    idle = []
    try:
        for _ in range(1000):
            idle.append(socket.create_connection(("127.0.0.1", d.port), timeout=10))
        took, got = timed_query(d.port)
        assert got == b"OK\nOK CONSOLE='calm'\n" and took < 1, (took, got)
        start = time.monotonic()
        for s in idle:
            s.settimeout(max(0.1, start + IDLE_TIMEOUT + 15 - time.monotonic()))
            try:
                assert s.recv(4096) == b""
            except ConnectionResetError:
                pass
        waited = time.monotonic() - start
        print(f"\n1000 idle connections closed {waited:.1f} s after the last connect")
        assert waited < IDLE_TIMEOUT + 15
    finally:
        for s in idle:
            s.close()
    assert d.proc.poll() is None
    assert "request not sent within" in d.output()


def test_debian_keeps_idle_connections_open(procs, tmp_path):
    # The difference, shown: 0.2.7 still holds a silent connection later.
    d, _ = chatty_daemon("debian", procs, tmp_path, rate=50)
    s = socket.create_connection(("127.0.0.1", d.port), timeout=3)
    try:
        with pytest.raises(socket.timeout):
            s.recv(4096)
    finally:
        s.close()


def test_a_1_mb_request_line_is_refused_and_the_daemon_serves_on(procs, tmp_path):
    # Ours only: 0.2.7 cuts the line at its buffer and answers what is left
    # (here a QUERY of every console).
    kind = "ours"
    d, _ = chatty_daemon(kind, procs, tmp_path, rate=50)
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    try:
        s.sendall(b"HELLO USER='big'\n")
        assert s.recv(16) == b"OK\n"
        sent = 0
        try:
            s.sendall(b"QUERY CONSOLE='" + b"x" * (1024 * 1024) + b"'\n")
            sent = 1
        except OSError:
            pass  # dropped mid-send: refused too
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        print(f"\n{kind}: 1 MB line sent whole: {bool(sent)}, reply {got[:100]!r}")
        assert not got.startswith(b"OK")
    finally:
        s.close()
    assert d.proc.poll() is None
    took, got = timed_query(d.port)
    assert got == b"OK\nOK CONSOLE='calm'\n"


def test_binary_junk_from_200_clients_leaves_the_daemon_serving(kind, procs, tmp_path):
    d, _ = chatty_daemon(kind, procs, tmp_path, rate=50)
    rng = random.Random(21)
    for i in range(200):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4096)))
        if i % 4 == 0:
            junk = b"\0" * len(junk)
        elif i % 4 == 1:
            junk = b"HELLO USER='j'\n" + junk
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        try:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(2)
            s.recv(4096)
        except (OSError, socket.timeout):
            pass
        finally:
            s.close()
    assert d.proc.poll() is None
    took, got = timed_query(d.port)
    assert got == b"OK\nOK CONSOLE='calm'\n" and took < 1


@pytest.mark.slow
@pytest.mark.parametrize("kind,reset,count", [("ours", False, 10000), ("ours", True, 10000),
                                              ("debian", False, 2000)])
def test_10000_connect_and_close_leak_no_descriptor_and_no_memory(kind, reset, count, procs,
                                                                 tmp_path):
    # With resets, ours only: 0.2.7 exits ("Unable to get address of remote
    # peer") when a connection is reset before it served it. 0.2.7 takes
    # 13 ms a connection (135 s for 10,000), so it gets 2,000.
    d, _ = chatty_daemon(kind, procs, tmp_path, rate=50)
    pid = d.proc.pid
    time.sleep(0.5)
    fds, rss, cpu = fd_count(pid), rss_bytes(pid), cpu_seconds(pid)
    start = time.monotonic()
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        if reset and i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # RST
        s.close()
    took = time.monotonic() - start
    wait_for(lambda: fd_count(pid) <= fds, timeout=20,
             what=f"descriptors back to {fds} (now {fd_count(pid)})")
    after = rss_bytes(pid)
    print(f"\n{kind} (resets: {reset}): {count} connect+close in {took:.1f} s; "
          f"fds {fds} -> {fd_count(pid)}; RSS {rss / 1e6:.1f} -> {after / 1e6:.1f} MB; "
          f"CPU {cpu_seconds(pid) - cpu:.2f} s")
    assert sanitized(pid) or after - rss < 4 * 1024 * 1024
    assert d.proc.poll() is None
    took, got = timed_query(d.port)
    assert got == b"OK\nOK CONSOLE='calm'\n"
