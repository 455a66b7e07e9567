"""conmand limits: one request matching any number of consoles, a FORCE over
many writers, long request lines and costly regexes are all answered (or
refused with a clear error) without a crash and without stalling the one
event loop that serves every other client and console."""
import os
import re
import selectors
import shutil
import socket
import tempfile
import threading
import time

import pytest

from e2e_helpers import wait_for
from conmand_util import Daemon, RawClient, echo_dev

MAX_LINE = 128 * 1024  # conman 0.3.x's request line, its newline included
CLIENT_LINE = 32767    # what the stock 0.2.7 client reads of a reply


class SocketFarm:
    """Unix-socket "devices" in one short directory (sun_path is 108 bytes
    at most); a thread accepts the daemon's connections and keeps what each
    console is sent. Stopped (and the directory removed) at teardown."""

    def __init__(self, names):
        self.dir = tempfile.mkdtemp(prefix="cmlim", dir="/tmp")
        self.got = {nm: b"" for nm in names}
        self.accepted = set()
        self.lock = threading.Lock()
        self.sel = selectors.DefaultSelector()
        self.stop = threading.Event()
        for nm in names:
            ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            ls.bind(self.path(nm))
            ls.listen(4)
            ls.setblocking(False)
            self.sel.register(ls, selectors.EVENT_READ, ("listen", nm))
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self):
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.1):
                what, nm = key.data
                if what == "listen":
                    try:
                        conn, _ = key.fileobj.accept()
                    except OSError:
                        continue
                    conn.setblocking(False)
                    with self.lock:
                        self.accepted.add(nm)
                    self.sel.register(conn, selectors.EVENT_READ, ("conn", nm))
                    continue
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self.sel.unregister(key.fileobj)
                    key.fileobj.close()
                    continue
                with self.lock:
                    self.got[nm] += data

    def connected(self):
        with self.lock:
            return len(self.accepted)

    def received(self, name):
        with self.lock:
            return self.got[name]

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def farms():
    made = []

    def make(names):
        made.append(SocketFarm(names))
        return made[-1]
    yield make
    for f in made:
        f.close()


def node_names(n):
    return [f"node{i:05d}" for i in range(n)]


def farm_daemon(kind, procs, tmp_path, farms, names, live=None, **kw):
    """A daemon whose consoles are unix sockets: those in `live` (all by
    default) served by a SocketFarm, the others pointing at a socket that
    never exists (down, and cheap)."""
    live = names if live is None else live
    farm = farms(live)
    dead = os.path.join(farm.dir, "never")
    live_set = set(live)
    consoles = [f'console name="{nm}" dev="unix:{farm.path(nm) if nm in live_set else dead}"'
                for nm in names]
    d = Daemon(kind, procs, tmp_path, consoles, **kw).start()
    return d, farm


def wait_connected(d, farm, names, timeout=60):
    # A console passes input on only once connected to its socket.
    wait_for(lambda: farm.connected() >= len(names), timeout=timeout, interval=0.2,
             what=f"{len(names)} consoles to connect")
    time.sleep(0.3)  # the daemon's side of the last connects


def hello(port, request, timeout=10):
    r = RawClient(port, timeout)
    r.send(b"HELLO USER='lim'\n")
    assert r.line() == b"OK\n"
    r.send(request)
    return r


def ok_names(line):
    assert line.startswith(b"OK"), line[:200]
    return re.findall(rb"CONSOLE='([^']*)'", line)


def test_broadcast_join_by_regex_to_300_consoles_reaches_every_console(kind, procs, tmp_path,
                                                                      farms):
    names = node_names(300)
    d, farm = farm_daemon(kind, procs, tmp_path, farms, names)
    wait_connected(d, farm, names)
    c = d.client("-b", "-j", "-r", "node.*")
    try:
        c.expect("Broadcast to 300 consoles opened", timeout=20)
        c.send("hello-every-node\r")
        wait_for(lambda: all(b"hello-every-node" in farm.received(nm) for nm in names),
                 timeout=20, what="the line on all 300 consoles")
    finally:
        c.close()
    assert d.proc.poll() is None
    assert d.run("-q").stdout.decode().split() == names


@pytest.mark.parametrize("request_line", [
    b"CONNECT OPTION=JOIN OPTION=BROADCAST OPTION=REGEX CONSOLE='node.*'\n",
    b"CONNECT OPTION=BROADCAST CONSOLE='*'\n",
])
def test_raw_broadcast_to_300_consoles_lists_all_and_writes_all(kind, procs, tmp_path, farms,
                                                                request_line):
    names = node_names(300)
    d, farm = farm_daemon(kind, procs, tmp_path, farms, names)
    wait_connected(d, farm, names)
    r = hello(d.port, request_line)
    try:
        assert ok_names(r.line()) == [nm.encode() for nm in names]
        r.send(b"raw-to-all\n")
        wait_for(lambda: all(b"raw-to-all" in farm.received(nm) for nm in names),
                 timeout=20, what="the bytes on all 300 consoles")
    finally:
        r.close()
    assert d.proc.poll() is None


def test_paste_into_a_broadcast_reaches_every_console_whole(procs, tmp_path, farms):
    # Ours only: 0.2.7 keeps 8 KiB per console and overwrites under load.
    # Ours copies at most 4 MiB per read of a broadcast, so the loop stays
    # responsive while TCP holds the rest of the paste back.
    names = node_names(300)
    d, farm = farm_daemon("ours", procs, tmp_path, farms, names)
    wait_connected(d, farm, names)
    r = hello(d.port, b"CONNECT OPTION=BROADCAST CONSOLE='node*'\n")
    paste = b"".join(b"line %05d of the paste\n" % i for i in range(5000))  # 120 KiB
    try:
        assert len(ok_names(r.line())) == 300
        r.send(paste)
        wait_for(lambda: all(farm.received(nm) == paste for nm in names), timeout=30,
                 interval=0.2, what="the whole paste on all 300 consoles")
        took, line = timed_query(d.port)
        assert line.startswith(b"ERROR CODE=5") and took < 1
    finally:
        r.close()
    assert d.proc.poll() is None


def test_regex_or_broadcast_without_a_console_pattern_matches_nothing(kind, procs, tmp_path,
                                                                     farms):
    # conman matches an empty pattern list against every console for QUERY only.
    d, _ = farm_daemon(kind, procs, tmp_path, farms, node_names(5))
    for req in (b"CONNECT OPTION=JOIN OPTION=BROADCAST OPTION=REGEX\n",
                b"CONNECT OPTION=BROADCAST\n", b"MONITOR OPTION=REGEX\n"):
        r = hello(d.port, req)
        assert r.line() == b"ERROR CODE=5 MESSAGE='Found no matching consoles'\n"
        r.close()
    r = hello(d.port, b"QUERY OPTION=REGEX\n")
    assert len(ok_names(r.line())) == 5
    r.close()
    assert d.proc.poll() is None


def many_daemon(procs, tmp_path, farms, n=10000):
    """n consoles, a few of them live (first, last, and spread past what
    one 32 KiB reply line can name), the rest down."""
    names = node_names(n)
    live = [names[i] for i in range(0, n, n // 40)] + [names[-1]]
    d, farm = farm_daemon("ours", procs, tmp_path, farms, names, live=live)
    wait_connected(d, farm, live, timeout=120)
    return d, farm, names, live


def test_stock_client_broadcast_to_10000_consoles_joins_all_of_them(procs, tmp_path, farms):
    # Debian's 0.2.7 drops this request: its reply overruns its 32 KiB buffer.
    d, farm, names, live = many_daemon(procs, tmp_path, farms)
    c = d.client("-b", "-j", "-r", "node.*")
    try:
        c.expect("Broadcast to all 10000 matching consoles", timeout=30)
        c.send("hello-ten-thousand\r")
        wait_for(lambda: all(b"hello-ten-thousand" in farm.received(nm) for nm in live),
                 timeout=30, what=f"the line on the {len(live)} live consoles")
    finally:
        c.close()
    assert d.proc.poll() is None
    q = d.run("-q", "-r", "node0999.")
    assert q.stdout.decode().split() == [f"node0999{i}" for i in range(10)]


def test_raw_broadcast_to_10000_consoles_names_what_fits_and_says_so(procs, tmp_path, farms):
    d, farm, names, live = many_daemon(procs, tmp_path, farms)
    r = hello(d.port, b"CONNECT OPTION=JOIN OPTION=BROADCAST OPTION=REGEX CONSOLE='node.*'\n")
    try:
        line = r.line(timeout=30)
        assert len(line) <= CLIENT_LINE
        listed = ok_names(line)
        assert 1000 < len(listed) < len(names)
        assert listed == [nm.encode() for nm in names[:len(listed)]]  # whole names, in order
        r.expect(f"Broadcast to all 10000 matching consoles: the reply names only the first "
                 f"{len(listed)}".encode())
        r.send(b"raw-ten-thousand\n")
        wait_for(lambda: all(b"raw-ten-thousand" in farm.received(nm) for nm in live),
                 timeout=30, what=f"the bytes on the {len(live)} live consoles")
    finally:
        r.close()
    assert d.proc.poll() is None


def test_257_patterns_from_the_stock_client_are_all_matched(kind, procs, tmp_path, farms):
    names = node_names(300)
    d, _ = farm_daemon(kind, procs, tmp_path, farms, names)
    asked = names[:257]
    r = d.run("-q", *asked)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split() == asked


def test_10000_patterns_in_one_line_are_all_matched(procs, tmp_path, farms):
    # Short names, bare values: 10,000 patterns fit in 128 KiB (not in 0.2.7's 32 KiB).
    names = [f"{i:04d}" for i in range(10000)]
    d, _ = farm_daemon("ours", procs, tmp_path, farms, names, live=[])
    req = b"MONITOR" + b"".join(b" CONSOLE=" + nm.encode() for nm in names) + b"\n"
    assert len(req) <= MAX_LINE
    r = hello(d.port, req)
    assert r.line(timeout=30) == b"ERROR CODE=6 MESSAGE='Found 10000 matching consoles'\n"
    assert r.closed(timeout=30)
    assert r.buf.decode().split() == names
    assert d.proc.poll() is None


def test_force_steals_from_70_joined_writers_and_tells_each(kind, procs, tmp_path):
    d = Daemon(kind, procs, tmp_path, [f'console name="alpha" dev="{echo_dev(tmp_path)}"']).start()
    writers = []
    try:
        for _ in range(70):
            w = hello(d.port, b"CONNECT OPTION=JOIN CONSOLE='alpha'\n")
            assert w.line().startswith(b"OK")
            writers.append(w)
        c = d.client("-f", "alpha")
        try:
            c.expect("opened")
            for i, w in enumerate(writers):
                w.expect(b"Console [alpha] stolen by <", timeout=20)
                assert w.closed(timeout=20), f"writer {i} still connected"
            c.expect(b"stolen from", timeout=20)
            # Input now reaches the console from the thief only: it echoes once.
            c.send("after-the-steal\r")
            c.expect("after-the-steal", timeout=10)
        finally:
            c.close()
    finally:
        for w in writers:
            w.close()
    assert d.proc.poll() is None


def timed_query(port):
    """Seconds a raw QUERY takes to be answered, and the reply."""
    r = RawClient(port, timeout=10)
    try:
        start = time.monotonic()
        r.send(b"HELLO USER='other'\n")
        assert r.line() == b"OK\n"
        r.send(b"QUERY CONSOLE='alpha'\n")
        line = r.line()
        return time.monotonic() - start, line
    finally:
        r.close()


@pytest.mark.parametrize("pattern,reply", [
    (b"a{0,32767}", b"OK CONSOLE='" + b"a" * 60 + b"'\n"),
    (b"(a|aa)*(b|c)", b"ERROR CODE=3 MESSAGE='Regular expression too complex"),
    (b"(a*)*b", b"ERROR CODE=5 MESSAGE='Found no matching consoles'\n"),
    (b"((a{0,1000}){0,1000}){0,1000}",
     b"ERROR CODE=3 MESSAGE='Regular expression too large to compile'\n"),
    (b"a" * 20000, b"ERROR CODE=3 MESSAGE='Regular expression too long: 20000 bytes"),
])
def test_costly_regex_is_bounded_and_others_are_served_meanwhile(procs, tmp_path, farms, pattern,
                                                                 reply):
    names = ["alpha", "beta", "a" * 60] + [f"a{i}" + "a" * 50 for i in range(2000)]
    d, _ = farm_daemon("ours", procs, tmp_path, farms, names, live=[])
    slow = []
    for _ in range(5):  # several at once, as a hostile client would
        slow.append(hello(d.port, b"QUERY OPTION=REGEX CONSOLE='" + pattern + b"'\n"))
    try:
        took, line = timed_query(d.port)
        assert line == b"OK CONSOLE='alpha'\n"
        assert took < 0.1, f"another client waited {took * 1000:.0f} ms"
        for s in slow:
            start = time.monotonic()
            assert s.line(timeout=5).startswith(reply)
            assert time.monotonic() - start < 1
    finally:
        for s in slow:
            s.close()
    assert d.proc.poll() is None


def test_request_of_100_kib_is_accepted(procs, tmp_path, farms):
    d, _ = farm_daemon("ours", procs, tmp_path, farms, ["alpha", "beta"], live=[])
    pad = b" CONSOLE='" + b"x" * (100 * 1024) + b"'"
    r = hello(d.port, b"QUERY CONSOLE='alpha'" + pad + b" CONSOLE='beta'\n")
    assert r.line() == b"OK CONSOLE='alpha' CONSOLE='beta'\n"
    r.close()


def test_request_line_at_the_limit_is_read_and_one_byte_over_is_refused(procs, tmp_path, farms):
    d, _ = farm_daemon("ours", procs, tmp_path, farms, ["alpha", "beta"], live=[])
    head = b"QUERY CONSOLE='alpha' CONSOLE='"
    at = head + b"x" * (MAX_LINE - len(head) - 2) + b"'\n"
    assert len(at) == MAX_LINE
    r = hello(d.port, at)
    assert r.line() == b"OK CONSOLE='alpha'\n"
    r.close()
    over = head + b"x" * (MAX_LINE - len(head) - 1) + b"'\n"
    r = hello(d.port, over)
    assert r.line() == b"ERROR CODE=2 MESSAGE='Request line too long: over 131072 bytes'\n"
    assert r.closed()
    r.close()
    # A line that never ends gets the error at once, and is dropped after a
    # bounded amount more (the daemon skips a little, so the error is read).
    r = hello(d.port, b"QUERY " + b"y" * (MAX_LINE + 1000))
    assert r.line().startswith(b"ERROR CODE=2 MESSAGE='Request line too long")
    sent = 0
    try:
        while sent < 8 * MAX_LINE:
            r.send(b"y" * 65536)
            sent += 65536
    except OSError:
        pass
    assert r.closed()
    r.close()
    assert d.proc.poll() is None
    assert d.run("-q").stdout.decode().split() == ["alpha", "beta"]


def test_a_greeting_over_the_limit_is_refused_too(procs, tmp_path, farms):
    d, _ = farm_daemon("ours", procs, tmp_path, farms, ["alpha"], live=[])
    r = RawClient(d.port)
    r.send(b"HELLO USER='" + b"u" * MAX_LINE + b"'\n")
    assert r.line() == b"ERROR CODE=2 MESSAGE='Request line too long: over 131072 bytes'\n"
    assert r.closed()
    r.close()
    assert d.proc.poll() is None


def test_reset_of_a_broadcast_past_the_bound_is_refused_and_below_it_runs(procs, tmp_path, farms):
    names = node_names(200)
    marks = tmp_path / "marks"
    marks.mkdir()
    d, farm = farm_daemon("ours", procs, tmp_path, farms, names,
                          server_extra=f'server resetcmd="touch {marks}/%N"')
    wait_connected(d, farm, names)
    c = d.client("-b", "-j", "-r", "node.*")
    try:
        c.expect("Broadcast to 200 consoles opened", timeout=20)
        c.send("&R")
        c.expect("Reset refused: this session writes to 200 consoles, more than the 128")
        time.sleep(0.5)
        assert os.listdir(marks) == []
    finally:
        c.close()
    c = d.client("-b", "-j", "-r", "node0000.")
    try:
        c.expect("Broadcast to 10 consoles opened", timeout=20)
        c.send("&R")
        wait_for(lambda: len(os.listdir(marks)) == 10, what="10 resetcmds")
    finally:
        c.close()
    assert d.proc.poll() is None


SEED_REQUESTS = [
    b"QUERY", b"QUERY OPTION=REGEX CONSOLE='node0.*'", b"QUERY CONSOLE='node*'",
    b"CONNECT OPTION=JOIN CONSOLE='node00001'", b"CONNECT OPTION=FORCE CONSOLE='node00002'",
    b"CONNECT OPTION=JOIN OPTION=BROADCAST OPTION=REGEX CONSOLE='node.*'",
    b"CONNECT OPTION=BROADCAST CONSOLE='*'", b"MONITOR CONSOLE='node00003'",
    b"MONITOR CONSOLE='node0000?'", b"CONNECT CONSOLE='node00004'",
    b"QUERY OPTION=REGEX CONSOLE='(a|aa)*(b|c)'", b"QUERY OPTION=REGEX CONSOLE='['",
    b"CONNECT OPTION=QUIET OPTION=JOIN CONSOLE='node0001[0-9]'",
]
TOKENS = [b" OPTION=JOIN", b" OPTION=FORCE", b" OPTION=BROADCAST", b" OPTION=REGEX",
          b" OPTION=QUIET", b" CONSOLE='*'", b" CONSOLE='node0*'", b" CONSOLE=''", b" CONSOLE='",
          b" CONSOLE=\"x", b"'", b"=", b" QUERY", b" \xff\xfe", b"\x00", b" CONSOLE='.*{0,999}'"]


def mutate(rng, line):
    line = bytearray(line)
    for _ in range(rng.randrange(4)):
        op = rng.randrange(5)
        pos = rng.randrange(len(line) + 1)
        if op == 0 and line:
            line[min(pos, len(line) - 1)] = rng.randrange(256)
        elif op == 1:
            line[pos:pos] = rng.choice(TOKENS)
        elif op == 2:
            del line[pos:pos + rng.randrange(1, 8)]
        elif op == 3:
            line[pos:pos] = rng.choice(TOKENS) * rng.randrange(1, 300)
        else:
            line[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    return bytes(line).replace(b"\n", b" ")


def one_fuzzed_client(port, rng):
    greeting = b"HELLO USER='fz'" if rng.random() < 0.9 else mutate(rng, b"HELLO USER='fz'")
    req = mutate(rng, rng.choice(SEED_REQUESTS))
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    try:
        s.sendall(greeting + b"\n" + req + b"\n")
        got = s.recv(4096)  # the greeting's answer, often the request's too
        if b"OK CONSOLE" in got or rng.random() < 0.3:
            # A session (or a late reply): escapes, stuffed 0xFF, raw bytes.
            s.sendall(bytes(rng.choice([0xFF, ord(rng.choice("BDFJLMQRZ?x")), 0x41, 0x0D])
                            for _ in range(rng.randrange(1, 64))))
        if rng.random() < 0.5:
            s.shutdown(socket.SHUT_WR)
            s.recv(4096)
    except OSError:
        pass  # the daemon may close on us: that is an answer too
    finally:
        s.close()


def test_fuzzed_requests_from_many_clients_over_2000_consoles_keep_the_daemon_serving(
        procs, tmp_path, farms):
    import random
    names = node_names(2000)
    live = names[:20]
    d, farm = farm_daemon("ours", procs, tmp_path, farms, names, live=live,
                          server_extra='server resetcmd="true"')
    wait_connected(d, farm, live)
    errors = []

    def worker(seed, count):
        rng = random.Random(seed)
        for _ in range(count):
            try:
                one_fuzzed_client(d.port, rng)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
                return
    deadline = time.monotonic() + 120
    for round_ in range(6):
        threads = [threading.Thread(target=worker, args=(round_ * 100 + i, 40)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in threads), "fuzzing clients hung"
        assert d.proc.poll() is None, d.output()[-2000:]
        took, line = timed_query(d.port)
        assert took < 1 and line.startswith(b"ERROR CODE=5"), (took, line)  # no 'alpha' here
    assert not errors, errors[:5]
    out = d.output()  # both sessions and refusals were reached, many times
    assert out.count("issued connect command") > 100 and out.count("request failed") > 100
    r = hello(d.port, b"QUERY CONSOLE='node0000?'\n")
    assert ok_names(r.line()) == [nm.encode() for nm in names[:10]]
    r.close()
