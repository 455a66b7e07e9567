"""console-sim on its own: numbered boot-log lines per console over TCP and
unix sockets, echo, pacing, burst mode without loss, clients coming and
going, many consoles in one process, clear errors, clean exit."""
import os
import signal
import socket
import subprocess
import time

from bmcsim import ConsoleSim, seqs_by_console
from e2e_helpers import binary, wait_for


class Reader:
    """A client of one console that collects everything it is sent."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(0.2)
        self.data = b""

    @classmethod
    def tcp(cls, port):
        return cls(socket.create_connection(("127.0.0.1", port), timeout=5))

    @classmethod
    def unix(cls, path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        return cls(s)

    def pump(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return
        if chunk:
            self.data += chunk

    def read_until(self, predicate, timeout=10, what="console output"):
        def done():
            self.pump()
            return predicate(self.text())
        wait_for(done, timeout=timeout, interval=0.01, what=what)

    def text(self):
        return self.data.decode(errors="replace")

    def seqs(self, name):
        return seqs_by_console(self.text()).get(name, [])

    def close(self):
        self.sock.close()


def test_each_console_prints_numbered_boot_lines_with_its_own_name(procs, tmp_path):
    sim = ConsoleSim.start(procs, tmp_path, ["n1=tcp:0", "n2=tcp:0"], rate=20)
    r1, r2 = Reader.tcp(sim.port("n1")), Reader.tcp(sim.port("n2"))
    r1.read_until(lambda t: len(seqs_by_console(t).get("n1", [])) >= 5)
    r2.read_until(lambda t: len(seqs_by_console(t).get("n2", [])) >= 5)
    assert r1.seqs("n1")[:5] == [1, 2, 3, 4, 5]
    assert r2.seqs("n2")[:5] == [1, 2, 3, 4, 5]
    assert "n2" not in seqs_by_console(r1.text())
    assert "Linux version" in r1.text().splitlines()[0]
    assert all(line.endswith("\r") for line in r1.text().split("\n")[:-1])


def test_unix_socket_console_talks_and_its_socket_is_removed_on_exit(procs, tmp_path):
    path = str(tmp_path / "u1.sock")
    sim = ConsoleSim.start(procs, tmp_path, [f"u1=unix:{path}"], rate=20)
    r = Reader.unix(sim.path("u1"))
    r.read_until(lambda t: len(seqs_by_console(t).get("u1", [])) >= 3)
    assert r.seqs("u1")[:3] == [1, 2, 3]
    r.close()
    sim.proc.send_signal(signal.SIGTERM)
    # The shell exec'd console-sim, so this is console-sim's own exit status.
    assert sim.proc.wait(timeout=10) == 0
    assert not os.path.exists(path)


def test_input_is_echoed_back_with_telnet_negotiation_stripped(procs, tmp_path):
    sim = ConsoleSim.start(procs, tmp_path, ["e1=tcp:0"], rate=1)
    r = Reader.tcp(sim.port("e1"))
    # What ipmi_sim's telnet SOL backend sends first, then typed text.
    r.sock.sendall(b"\xff\xfd\x00\xff\xfb\x00\xff\xfe\x01\xff\xfc\x01" + b"echo-me-7\r")
    r.read_until(lambda t: "echo-me-7\r\n" in t, what="the echo")
    assert b"\xff" not in r.data


def test_no_echo_option_keeps_input_to_itself(procs, tmp_path):
    sim = ConsoleSim.start(procs, tmp_path, ["q1=tcp:0"], rate=20, echo=False)
    r = Reader.tcp(sim.port("q1"))
    r.sock.sendall(b"secret-input\r")
    r.read_until(lambda t: len(seqs_by_console(t).get("q1", [])) >= 10)
    assert "secret-input" not in r.text()


def test_paced_console_keeps_to_its_rate(procs, tmp_path):
    sim = ConsoleSim.start(procs, tmp_path, ["p1=tcp:0"], rate=4)
    r = Reader.tcp(sim.port("p1"))
    start = time.monotonic()
    r.read_until(lambda t: len(seqs_by_console(t).get("p1", [])) >= 3)
    deadline = start + 2.0
    while time.monotonic() < deadline:
        r.pump()
    elapsed = time.monotonic() - start
    # One line at once, then 4 per second: never a flood.
    assert len(r.seqs("p1")) <= 4 * elapsed + 2


def test_sequence_continues_across_reconnects_and_is_gapless_within_one(procs, tmp_path):
    sim = ConsoleSim.start(procs, tmp_path, ["r1=tcp:0"], rate=50)
    first = Reader.tcp(sim.port("r1"))
    first.read_until(lambda t: len(seqs_by_console(t).get("r1", [])) >= 10)
    first.close()
    last = first.seqs("r1")[-1]
    second = Reader.tcp(sim.port("r1"))
    second.read_until(lambda t: len(seqs_by_console(t).get("r1", [])) >= 10)
    seqs = second.seqs("r1")
    assert seqs[0] > last
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_clients_coming_and_going_do_not_disturb_the_others(procs, tmp_path):
    sim = ConsoleSim.start(procs, tmp_path, ["m1=tcp:0"], rate=50)
    stay = Reader.tcp(sim.port("m1"))
    stay.read_until(lambda t: len(seqs_by_console(t).get("m1", [])) >= 3)
    for _ in range(20):
        visitor = Reader.tcp(sim.port("m1"))
        visitor.pump()
        visitor.close()
    n = len(stay.seqs("m1"))
    stay.read_until(lambda t: len(seqs_by_console(t).get("m1", [])) >= n + 10)
    seqs = stay.seqs("m1")
    assert seqs == list(range(1, len(seqs) + 1))
    assert sim.proc.poll() is None


def test_burst_mode_delivers_every_line_in_order(procs, tmp_path):
    sim = ConsoleSim.start(procs, tmp_path, ["b1=tcp:0"], burst=True, lines=20000)
    r = Reader.tcp(sim.port("b1"))
    r.read_until(lambda t: t.endswith("\r\n") and f"#{20000:08d} " in t, timeout=60,
                 what="20000 burst lines")
    assert r.seqs("b1") == list(range(1, 20001))


def test_many_consoles_are_served_by_one_process(procs, tmp_path):
    sock_dir = tmp_path / "socks"
    sock_dir.mkdir()
    sim = ConsoleSim.start(procs, tmp_path, [], rate=10,
                           extra=["--range", f"c:500:unix:{sock_dir}"])
    assert len(sim.addresses) == 500
    readers = {name: Reader.unix(sim.path(name)) for name in ("c1", "c250", "c500")}
    for name, r in readers.items():
        r.read_until(lambda t, n=name: len(seqs_by_console(t).get(n, [])) >= 2)
        assert r.seqs(name)[:2] == [1, 2]


def test_bad_console_spec_is_an_error_naming_it(tmp_path):
    r = subprocess.run([binary("console-sim"), "ok=tcp:0", "bad name=tcp:0"],
                       capture_output=True, timeout=10)
    assert r.returncode == 2
    assert b"'bad name=tcp:0'" in r.stderr
    r = subprocess.run([binary("console-sim"), "x=unix:" + str(tmp_path)],
                       capture_output=True, timeout=10)
    assert r.returncode == 1
    assert str(tmp_path).encode() in r.stderr and b"not a socket" in r.stderr
