"""Debian's conmand on ipmi: consoles of simulated BMCs (ipmi_sim + console-sim)
over IPMI 2.0 Serial-over-LAN on loopback: the log files fill with the
consoles' numbered lines, and `conman -j` input reaches the console."""
import os
import pty
import select
import subprocess
import time

from bmcsim import IPMI_WORKAROUNDS, BmcSim, seqs_by_console
from e2e_helpers import DEBIAN_CONMAND, free_port, read_text, wait_for


def start_debian_conmand(procs, tmp_path, sim):
    port = free_port()
    logdir = tmp_path / "conman-logs"
    logdir.mkdir()
    conf = tmp_path / "conman.conf"
    conf.write_text("\n".join([
        f'server logdir="{logdir}"',
        'server logfile="conmand.log"',
        f'server pidfile="{tmp_path}/conmand.pid"',
        f"server port={port}",
        "server keepalive=on",
        'global log="console.%N"',
        'global logopts="nolock,sanitize"',
        IPMI_WORKAROUNDS,
        *sim.console_lines(), ""]))
    os.chmod(conf, 0o600)
    out = tmp_path / "conmand.out"
    proc = procs.start([DEBIAN_CONMAND, "-F", "-v", "-c", str(conf)], log_path=str(out))
    return proc, port, logdir, out


def test_debian_conmand_logs_numbered_sol_lines_of_every_bmc(procs, tmp_path):
    sim = BmcSim.start(procs, tmp_path, count=2, rate=10)
    proc, _, logdir, out = start_debian_conmand(procs, tmp_path, sim)
    for bmc in sim.bmcs:
        wait_for(lambda b=bmc: f"Console [{b.name}] connected to <{b.address}>" in read_text(out),
                 timeout=30, what=f"conmand to connect to {bmc.name} over IPMI")
    for bmc in sim.bmcs:
        path = logdir / f"console.{bmc.name}"
        seqs = wait_for(lambda p=path, b=bmc: (
            (s := seqs_by_console(read_text(p)).get(b.name, [])) and len(s) >= 10 and s),
            timeout=30, what=f"10 numbered SOL lines in {path}")
        # Only this BMC's console lands in its file, in order, none lost once
        # the session is up (the very first may predate it).
        assert set(seqs_by_console(read_text(path))) == {bmc.name}
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert proc.poll() is None


def join_and_type(port, name, text, timeout=20):
    """Runs `conman -j NAME` on a pseudo-terminal (the client insists on
    one), types text and returns everything the client printed."""
    master, slave = pty.openpty()
    client = subprocess.Popen(["/usr/bin/conman", "-d", f"127.0.0.1:{port}", "-j", name],
                              stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + timeout
        # ipmi_sim may drop the first bytes of a new SOL session: a throwaway
        # carriage return goes first, then the text, retried until echoed.
        plan = [(0.5, b"\r"), (1.0, text.encode() + b"\r")]
        sent_at = time.monotonic()
        while time.monotonic() < deadline and text.encode() + b"\r\n" not in seen:
            if plan and time.monotonic() - sent_at >= plan[0][0]:
                os.write(master, plan.pop(0)[1])
                sent_at = time.monotonic()
            elif not plan and time.monotonic() - sent_at >= 3:
                os.write(master, text.encode() + b"\r")
                sent_at = time.monotonic()
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        os.write(master, b"&.")  # conman's escape to leave the session
        client.wait(timeout=5)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(timeout=5)
        os.close(master)
    return seen.decode(errors="replace")


def test_conman_join_input_reaches_the_console_and_is_echoed(procs, tmp_path):
    sim = BmcSim.start(procs, tmp_path, count=1, rate=2)
    bmc = sim.bmcs[0]
    _, port, logdir, out = start_debian_conmand(procs, tmp_path, sim)
    wait_for(lambda: f"Console [{bmc.name}] connected" in read_text(out), timeout=30,
             what=f"conmand to connect to {bmc.name}")
    seen = join_and_type(port, bmc.name, "typed-over-sol-4242")
    assert "typed-over-sol-4242\r\n" in seen, seen[-2000:]
    # The echo came back over SOL, so conmand logged it too.
    wait_for(lambda: "typed-over-sol-4242" in read_text(logdir / f"console.{bmc.name}"),
             timeout=10, what="the echoed input in the console log")
