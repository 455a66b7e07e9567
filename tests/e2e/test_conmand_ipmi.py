"""conmand's ipmi: consoles against simulated BMCs (OpenIPMI's ipmi_sim on
loopback via tests/e2e/bmcsim.py), for our daemon and Debian's."""
import re
import signal

from bmcsim import IPMI_WORKAROUNDS, BmcSim, seqs_by_console
from e2e_helpers import read_text, wait_for
from conmand_util import Daemon
from test_ipmi_sol import join_and_type


def logs_sol_and_takes_input(d, bmc, text):
    """Daemon d connects to `bmc`, logs its numbered SOL lines without a
    gap, and carries `text` typed with the stock client (echoed)."""
    wait_for(lambda: f"Console [{bmc.name}] connected to <{bmc.address}>"
             in read_text(f"{d.dir}/console.{bmc.name}"),
             timeout=30, what=f"{d.kind} conmand to connect to {bmc.name} over IPMI")
    seqs = wait_for(lambda: (s := seqs_by_console(read_text(f"{d.dir}/console.{bmc.name}"))
                             .get(bmc.name, [])) and len(s) >= 5 and s,
                    timeout=30, what="numbered SOL lines in the log")
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    seen = join_and_type(d.port, bmc.name, text)
    assert text + "\r\n" in seen, seen[-2000:]


def test_ipmi_console_logs_sol_output_and_carries_input(kind, procs, tmp_path):
    sim = BmcSim.start(procs, tmp_path, count=1, rate=5)
    bmc = sim.bmcs[0]
    d = Daemon(kind, procs, tmp_path, sim.console_lines(),
               global_extra='global log="console.%N"\n' + IPMI_WORKAROUNDS).start()
    logs_sol_and_takes_input(d, bmc, "ipmi-input-777")


def test_ipmi_password_never_reaches_the_daemon_output(procs, tmp_path):
    sim = BmcSim.start(procs, tmp_path, count=1, rate=5)
    bmc = sim.bmcs[0]
    d = Daemon("ours", procs, tmp_path, sim.console_lines(),
               global_extra='global log="console.%N"\n' + IPMI_WORKAROUNDS).start()
    wait_for(lambda: "connected to" in d.output(), timeout=30, what="IPMI session")
    password = read_text(sim.password_file).splitlines()[0]
    out = d.output()
    assert password not in out and password.encode().hex() not in out
    assert re.search(rf"Console \[{bmc.name}\] connected to <{re.escape(bmc.address)}>", out)


def test_wrong_ipmi_password_is_reported_retried_and_fixed_by_reload(procs, tmp_path):
    sim = BmcSim.start(procs, tmp_path, count=1, rate=5)
    bmc = sim.bmcs[0]
    user = read_text(sim.user_file).splitlines()[0]
    wrong = f'console name="{bmc.name}" dev="ipmi:{bmc.address}" ipmiopts="U:{user},P:not-it"'
    d = Daemon("ours", procs, tmp_path, [wrong],
               global_extra='global log="console.%N"\n' + IPMI_WORKAROUNDS).start()
    wait_for(lambda: f"Console [{bmc.name}] cannot connect to <{bmc.address}>" in d.output(),
             timeout=30, what="the IPMI failure in the daemon's output")
    assert "not-it" not in d.output()
    assert d.run("-q").stdout.decode().split() == [bmc.name]
    with open(d.conf) as f:
        text = f.read()
    with open(d.conf, "w") as f:
        f.write(text.replace(wrong, sim.console_lines()[0]))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: f"Console [{bmc.name}] connected to <{bmc.address}>"
             in read_text(f"{d.dir}/console.{bmc.name}"),
             timeout=30, what="the corrected console to connect after reload")
