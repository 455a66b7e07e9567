"""The whole chain on real IPMI SOL: ipmi_sim BMCs (bmc-sim) listed in
hsm-sim, configure_conman, Debian's conmand, console output in the log
files. Debian's conmand takes over a minute to exit with live IPMI
sessions; test_configure_supervision proves the 10 s limit with a conmand
that cannot answer at all."""
import os
import signal

from bmcsim import BmcSim, seqs_by_console
from configure_env import bmc_sim_configure
from e2e_helpers import read_text
from hsmsim import HsmSim


def test_sol_output_reaches_log_files_and_sigterm_stops_within_the_limit(procs, tmp_path):
    bmcs = BmcSim.start(procs, tmp_path, count=2)
    sim = HsmSim.start(procs, tmp_path, endpoints=bmcs.endpoints())
    cc = bmc_sim_configure(procs, tmp_path / "cc", sim, bmcs)
    cc.start()
    names = sorted(b.name for b in bmcs.bmcs)
    cc.wait_names(names)
    for name in names:
        log = os.path.join(cc.logdir, "conman", f"console.{name}")
        cc.wait(lambda: len(seqs_by_console(read_text(log)).get(name, [])) >= 2, 30,
                f"SOL output of {name} in {log}")
    cc.assert_no_secret()

    conmand = cc.conmand_pid()
    os.kill(cc.pid, signal.SIGTERM)
    # configure_conman gives conmand at most 10 s, then SIGKILL.
    assert cc.proc.wait(timeout=20) == 0
    assert not os.path.exists(f"/proc/{conmand}")
    assert "exiting" in cc.output()
