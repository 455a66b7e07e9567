"""BMCs and console servers that fail under a running conmand (issue 21,
item 4): one that resets or drops its connection mid-session, one that
stops answering (SIGSTOP), and 2,000 that go away and come back at once.
The console is found down in a bounded time and reconnects with backoff
and jitter; no other console is disturbed; a mass return is spread out
and costs bounded CPU."""
import os
import random
import re
import signal
import socket
import struct
import threading
import time

import pytest

from bmcsim import BmcSim, ConsoleSim, IPMI_WORKAROUNDS, contiguous, seqs_by_console
from e2e_helpers import argv_of, binary, cpu_seconds, processes, wait_for
from conmand_util import Daemon

LOG = 'global log="console.%N"'
UPTIME_RE = re.compile(rb"\[\s*(\d+)\.(\d{6})\] (\S+) #(\d{8,}) ")


def seqs(d, name):
    """Sequence numbers in console `name`'s log (whatever name the
    simulator prints in its lines: ssh-bmc-sim prints its own)."""
    found = seqs_by_console(d.log_so_far(name).decode(errors="replace"))
    return found.get(name) or (next(iter(found.values())) if len(found) == 1 else [])


def two_sims(procs, tmp_path, rate=20):
    """The console that will fail and a steady one, each from its own
    console-sim, so one can be killed or stopped alone."""
    victim = ConsoleSim.start(procs, tmp_path, ["victim=tcp:0"], rate=rate)
    steady = ConsoleSim.start(procs, tmp_path, ["steady=tcp:0"], rate=rate)
    return victim, steady


def test_a_console_server_that_resets_is_found_down_at_once_and_back_without_a_gap_elsewhere(
        kind, procs, tmp_path):
    victim, steady = two_sims(procs, tmp_path)
    port = victim.port("victim")
    d = Daemon(kind, procs, tmp_path,
               [f'console name="victim" dev="127.0.0.1:{port}"',
                f'console name="steady" dev="127.0.0.1:{steady.port("steady")}"'],
               global_extra=LOG).start()
    wait_for(lambda: len(seqs(d, "victim")) > 5 and len(seqs(d, "steady")) > 5, timeout=20,
             what="both consoles logging")
    steady_before = len(seqs(d, "steady"))
    out0 = d.output()
    killed = time.monotonic()
    os.killpg(victim.proc.pid, signal.SIGKILL)  # the kernel closes its sockets
    victim.proc.wait(timeout=5)
    # Found down: the daemon's log says so, and a client is told.
    wait_for(lambda: len(d.output()) > len(out0) and "victim" in d.output()[len(out0):],
             timeout=5, interval=0.02, what="the daemon to notice the reset")
    detected = time.monotonic() - killed
    time.sleep(3)
    # The console server is back on the same port: the console reconnects.
    again = ConsoleSim.start(procs, tmp_path, [f"victim=tcp:{port}"], rate=20)
    restarted = time.monotonic()
    wait_for(lambda: seqs(d, "victim").count(1) >= 2, timeout=30, interval=0.1,
             what="the console to reconnect and log its new first line")
    back = time.monotonic() - restarted
    print(f"\n{kind}: reset found in {detected * 1000:.0f} ms; back {back:.1f} s after the "
          f"server returned")
    assert detected < 2
    assert back < (10 if kind == "ours" else 30)  # 0.2.7 retries on its own timer
    steady_seqs = seqs(d, "steady")
    assert contiguous(steady_seqs, 3), "the other console lost lines"
    assert len(steady_seqs) > steady_before + 3 * 20 * 0.8  # it kept flowing meanwhile
    assert d.proc.poll() is None and again.proc.poll() is None


class ResettingServer:
    """A console server on loopback that prints console-sim style lines and
    resets (RST, SO_LINGER 0) each connection after `lines` lines; it
    refuses nothing, so a reconnect is served at once."""

    def __init__(self, name="victim", lines=20, rate=20):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(4)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.name, self.lines, self.rate = name, lines, rate
        self.resets = []
        self.accepts = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        start = time.monotonic()
        while not self.stop.is_set():
            try:
                conn, _ = self.ls.accept()
            except socket.timeout:
                continue
            self.accepts.append(time.monotonic())
            for seq in range(1, self.lines + 1):
                up = time.monotonic() - start
                try:
                    conn.sendall(b"[%5d.%06d] %s #%08d line\r\n" % (
                        int(up), int(up * 1e6) % 1000000, self.name.encode(), seq))
                except OSError:
                    break
                if self.stop.wait(1 / self.rate):
                    break
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            self.resets.append(time.monotonic())

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.ls.close()


@pytest.fixture
def resetting():
    made = []
    yield lambda: made.append(ResettingServer()) or made[-1]
    for r in made:
        r.close()


def test_a_bmc_that_resets_the_connection_is_down_at_once_and_reconnects_on_the_backoff(
        kind, procs, tmp_path, resetting):
    srv = resetting()
    steady = ConsoleSim.start(procs, tmp_path, ["steady=tcp:0"], rate=20)
    d = Daemon(kind, procs, tmp_path,
               [f'console name="victim" dev="127.0.0.1:{srv.port}"',
                f'console name="steady" dev="127.0.0.1:{steady.port("steady")}"'],
               global_extra=LOG).start()
    want = 3 if kind == "ours" else 2  # 0.2.7 waits 15 s, then 30 s
    wait_for(lambda: len(srv.resets) >= want, timeout=40, what=f"{want} resets and reconnects")
    gaps = [b - a for a, b in zip(srv.resets, srv.accepts[1:])]
    print(f"\n{kind}: reset to reconnect: " + ", ".join(f"{g:.2f} s" for g in gaps))
    # Found at once (before, ours missed a reset: libuv's POLLERR stopped the
    # poll and the console stayed "up" for ever). A connection that ran
    # under 30 s does not start the backoff over: 1-1.25 s, then 2-2.5 s
    # (plus scheduling; minus up to a few ms, since the timer counts from
    # the loop's cached time, taken before the turn that saw the reset: CI
    # measured 0.9998 s). 0.2.7 retries on its own timer (15 s, then 30 s).
    assert "victim] disconnected" in d.output() or kind == "debian"
    if kind == "ours":
        assert 0.95 <= gaps[0] <= 1.6 and 1.95 <= gaps[1] <= 2.9, gaps
    assert contiguous(seqs(d, "steady"), 3)
    assert d.proc.poll() is None


@pytest.mark.parametrize("sim_kind", ["telnet", "ssh"])
def test_a_stopped_bmc_leaves_other_consoles_flowing_and_goes_on_when_continued(
        sim_kind, procs, tmp_path):
    # SIGSTOP a console server: its host's kernel still acknowledges every
    # packet and TCP keepalive probe, so TCP cannot tell it from a quiet
    # one: measured, not found down (telnet and ssh alike). A host that
    # stops answering at all (no ACKs) is down within 50 s by keepalive
    # (30 s idle, 4 probes 5 s apart): measured by hand over a veth pair.
    steady = ConsoleSim.start(procs, tmp_path, ["steady=tcp:0"], rate=20)
    lines = [f'console name="steady" dev="127.0.0.1:{steady.port("steady")}"']
    if sim_kind == "telnet":
        victim = ConsoleSim.start(procs, tmp_path, ["victim=tcp:0"], rate=20)
        lines.append(f'console name="victim" dev="127.0.0.1:{victim.port("victim")}"')
        stop_pid = victim.proc.pid
    else:
        sim, line = ssh_sim(procs, tmp_path, rate=20)
        lines.append(line)
        stop_pid = sim.pid
    d = Daemon("ours", procs, tmp_path, lines, global_extra=LOG)
    os.chmod(d.conf, 0o600)  # it holds a password
    d.start()
    wait_for(lambda: len(seqs(d, "victim")) > 5 and len(seqs(d, "steady")) > 5, timeout=30,
             what="both consoles logging")
    window = 8
    out0 = len(d.output())
    steady_at = len(seqs(d, "steady"))
    stopped = time.monotonic()
    os.killpg(stop_pid, signal.SIGSTOP)
    try:
        while time.monotonic() - stopped < window and "victim]" not in d.output()[out0:]:
            time.sleep(0.1)
        detected = time.monotonic() - stopped
        noticed = "victim]" in d.output()[out0:]
        grew = len(seqs(d, "steady")) - steady_at
    finally:
        os.killpg(stop_pid, signal.SIGCONT)
    said = d.output()[out0:].strip().splitlines()
    print(f"\n{sim_kind}: stopped BMC found down: {noticed}"
          + (f" after {detected:.1f} s: {said[0]}" if noticed else f" within {window} s")
          + f"; the other console logged {grew} lines meanwhile")
    assert not noticed
    assert grew > detected * 20 * 0.7
    assert contiguous(seqs(d, "steady"), 3)
    victim_at = len(seqs(d, "victim"))
    wait_for(lambda: len(seqs(d, "victim")) > victim_at + 5, timeout=30,
             what="the continued console to go on")
    assert d.proc.poll() is None


def ssh_sim(procs, tmp_path, rate):
    """ssh-bmc-sim serving console "victim" (user n0); its conf line."""
    ssh_port = _free_port()
    (tmp_path / "pw").write_text("pw\n")
    sim = procs.start([binary("ssh-bmc-sim"), "--port", str(ssh_port), "--host-key",
                       str(tmp_path / "hostkey"), "--password-file", str(tmp_path / "pw"),
                       "--consoles", "1", "--prefix", "victim", "--rate", str(rate)],
                      log_path=str(tmp_path / "ssh-sim.log"))
    wait_for(lambda: "serving" in (tmp_path / "ssh-sim.log").read_text(), timeout=10,
             what="ssh-bmc-sim to listen")
    pub = (tmp_path / "hostkey.pub").read_text().split()[:2]
    (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{ssh_port} {pub[0]} {pub[1]}\n")
    return sim, (f'console name="victim" dev="ssh:n0@127.0.0.1:{ssh_port}" '
                 f'sshopts="P:0x{b"pw".hex()},K:{tmp_path}/known_hosts"')


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("which", ["ours", "debian"])
def test_a_stopped_ipmi_bmc_is_found_down_by_the_session_timeout_and_reconnects(
        which, procs, tmp_path):
    # libipmiconsole keeps its own session alive (keepalive packets,
    # retransmits) and gives up after its session timeout (60 s by default;
    # both daemons keep it). Seen, with both daemons alike and so not
    # asserted: the other simulated BMC's SOL output stops about 30 s into
    # the stop (half its lines arrive), in libipmiconsole or ipmi_sim; the
    # TCP console is unaffected.
    sim = BmcSim.start(procs, tmp_path, count=2)
    steady = ConsoleSim.start(procs, tmp_path, ["steady=tcp:0"], rate=20)
    lines = sim.console_lines() + [f'console name="steady" dev="127.0.0.1:{steady.port("steady")}"']
    d = Daemon(which, procs, tmp_path, lines, global_extra=IPMI_WORKAROUNDS + "\n" + LOG)
    os.chmod(d.conf, 0o600)
    d.start()
    victim, other = sim.bmcs[0].name, sim.bmcs[1].name
    wait_for(lambda: len(seqs(d, victim)) > 3 and len(seqs(d, other)) > 3, timeout=60,
             what="both IPMI consoles logging")
    pid = _ipmi_sim_pid(sim, victim)
    out0 = len(d.output())
    other_at, steady_at = len(seqs(d, other)), len(seqs(d, "steady"))
    stopped = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: f"[{victim}]" in d.output()[out0:], timeout=120, interval=0.2,
                 what="the stopped BMC to be found down")
        detected = time.monotonic() - stopped
        other_grew = len(seqs(d, other)) - other_at
        steady_grew = len(seqs(d, "steady")) - steady_at
    finally:
        os.kill(pid, signal.SIGCONT)
    said = [ln for ln in d.output()[out0:].splitlines() if f"[{victim}]" in ln]
    print(f"\n{which} ipmi: stopped BMC found down in {detected:.1f} s: {said[0]}; meanwhile "
          f"the other BMC logged {other_grew} lines (at 5/s: {detected * 5:.0f} expected), the "
          f"TCP console {steady_grew} (at 20/s)")
    assert detected < 90
    assert contiguous(seqs(d, "steady"), 3) and steady_grew > detected * 20 * 0.7
    wait_for(lambda: f"[{victim}] connected" in d.output()[out0:]
             or f"Console [{victim}] connected" in d.output()[out0:], timeout=40,
             what="the BMC's console reconnected")
    assert d.proc.poll() is None


def _ipmi_sim_pid(sim, name):
    """The ipmi_sim serving BMC `name` (its config names the BMC's dir)."""
    for p in processes():
        argv = argv_of(p)
        if argv and argv[0].endswith(b"ipmi_sim") and sim.dir.encode() in b" ".join(argv) \
                and name.encode() in b" ".join(argv):
            return p.pid
    raise AssertionError(f"no ipmi_sim for {name}")


def free_port_range(n):
    """A base port with n free ports after it (below the ephemeral range)."""
    rng = random.Random()
    for _ in range(50):
        base = rng.randrange(12000, 30000 - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError(f"no {n} free ports in a row")


def first_line_uptimes(d, names):
    """For each console, the console-sim uptime (s) of the first line of its
    second connection: when the restarted server accepted it."""
    out = {}
    for nm in names:
        ones = [m for m in UPTIME_RE.finditer(d.log_so_far(nm)) if int(m.group(4)) == 1]
        if len(ones) >= 2:
            out[nm] = int(ones[-1].group(1)) + int(ones[-1].group(2)) / 1e6
    return out


def test_2000_consoles_whose_server_goes_away_and_returns_reconnect_spread_out(procs, tmp_path):
    n = 2000
    base = free_port_range(n)
    spec = ["--range", f"c:{n}:tcp:{base}"]
    sim = ConsoleSim.start(procs, tmp_path, [], rate=0.2, extra=spec)
    names = [f"c{i}" for i in range(n)] if "c0" in sim.addresses else sorted(sim.addresses)
    lines = [f'console name="{nm}" dev="127.0.0.1:{sim.port(nm)}"' for nm in names]
    d = Daemon("ours", procs, tmp_path, lines, global_extra=LOG).start()
    wait_for(lambda: sum(1 for nm in names if b"#00000001" in d.log_so_far(nm)) == n,
             timeout=60, interval=0.5, what=f"{n} consoles logging")
    pid = d.proc.pid
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    os.killpg(sim.proc.pid, signal.SIGKILL)
    sim.proc.wait(timeout=5)
    time.sleep(5)
    cpu_outage = cpu_seconds(pid) - cpu0
    again = ConsoleSim.start(procs, tmp_path, [], rate=0.2, extra=spec)
    back = {}
    deadline = time.monotonic() + 120
    while len(back) < n and time.monotonic() < deadline:
        time.sleep(1)
        back = first_line_uptimes(d, names)
    took = time.monotonic() - t0
    cpu_all = cpu_seconds(pid) - cpu0
    assert len(back) == n, f"only {len(back)} of {n} consoles back"
    times = sorted(back.values())
    per_100ms = {}
    for t in times:
        per_100ms[int(t * 10)] = per_100ms.get(int(t * 10), 0) + 1
    peak = max(per_100ms.values())
    spread = times[-1] - times[0]
    print(f"\nours: {n} consoles back {times[0]:.2f}..{times[-1]:.2f} s after the server "
          f"restarted (spread {spread:.2f} s), at most {peak} per 100 ms; conmand CPU "
          f"{cpu_outage:.2f} s in the 5 s outage, {cpu_all:.2f} s from the kill until all were "
          f"back ({took:.1f} s)")
    assert peak <= n // 4, "the reconnects came as one storm"
    assert spread >= 0.5
    assert cpu_all < 20
    assert d.proc.poll() is None and again.proc.poll() is None
    assert d.run("-q", timeout=20).stdout.decode().split() == sorted(names)
