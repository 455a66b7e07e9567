"""configure_conman end to end: discovery from hsm-sim, the generated file,
Debian's conmand and the stock conman client, restart and signals."""
import os
import signal
import stat
import time

import pytest

from bmcsim import BmcSim, seqs_by_console
from e2e_helpers import alive, processes, read_text, wait_for
from configure_env import Configure, bmc_sim_configure, password_hex
from hsmsim import HsmSim, endpoint


def three_bmcs():
    return [
        endpoint("x3000c0s1b0", "127.0.0.1:9101"),
        endpoint("x3000c0s2b0", "127.0.0.1:9102"),
        endpoint("x1000c0s0b0", "127.0.0.1:9103"),
        endpoint("x3000c0s3b0", "127.0.0.1:9104", enabled=False),
        endpoint("x1000c0b0", "127.0.0.1:9105", type_="ChassisBMC"),
    ]


@pytest.fixture
def running(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=three_bmcs())
    cc = Configure(procs, tmp_path, sim)
    cc.start()
    cc.wait_names(["x1000c0s0b0", "x3000c0s1b0", "x3000c0s2b0"])
    return sim, cc


def test_discovered_consoles_are_listed_and_get_log_files(running):
    sim, cc = running
    for name in ("x1000c0s0b0", "x3000c0s1b0", "x3000c0s2b0"):
        path = os.path.join(cc.logdir, "conman", f"console.{name}")
        wait_for(lambda: os.path.exists(path), timeout=10, what=path)
    assert not os.path.exists(os.path.join(cc.logdir, "conman", "console.x3000c0s3b0"))
    cc.assert_no_secret()


def test_each_discovered_console_logs_its_own_lines_and_no_others(procs, tmp_path):
    # Real SOL output (bmc-sim: every line names its console and carries a
    # sequence number) through discovery into one file per console.
    bmcs = BmcSim.start(procs, tmp_path, count=3, rate=10)
    sim = HsmSim.start(procs, tmp_path, endpoints=bmcs.endpoints())
    cc = bmc_sim_configure(procs, tmp_path / "cc", sim, bmcs)
    cc.start()
    names = sorted(b.name for b in bmcs.bmcs)
    cc.wait_names(names)
    logs = {n: os.path.join(cc.logdir, "conman", f"console.{n}") for n in names}
    for name, log in logs.items():
        cc.wait(lambda: len(seqs_by_console(read_text(log)).get(name, [])) >= 3, 30,
                f"three lines of {name} in {log}")
    for name, log in logs.items():
        seqs = seqs_by_console(read_text(log))
        assert list(seqs) == [name], f"{log} holds lines of {sorted(seqs)}"
        assert seqs[name] == sorted(set(seqs[name])), f"{log}: {seqs[name]}"


def test_generated_file_is_0600_with_hex_password_after_the_base(running):
    sim, cc = running
    assert stat.S_IMODE(os.stat(cc.conf).st_mode) == 0o600
    text = cc.conf_text()
    with open(cc.base_file) as f:
        assert text.startswith(f.read())
    assert cc.password not in text
    line = (f'console name="x3000c0s1b0" dev="ipmi:127.0.0.1:9101" '
            f'ipmiopts="U:root,P:0x{password_hex()}"')
    assert line in text.splitlines()
    consoles = [l for l in text.splitlines() if l.startswith("console ")]
    assert [l.split('"')[1] for l in consoles] == ["x1000c0s0b0", "x3000c0s1b0", "x3000c0s2b0"]


def test_generated_cluster_from_hsm_sim_is_discovered(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, nodes=7, bmc_port_base=9200)
    status, body = sim.get("/apis/smd/hsm/v2/Inventory/RedfishEndpoints?type=NodeBMC")
    assert status == 200
    ids = sorted(e["ID"] for e in body["RedfishEndpoints"])
    assert any(i.startswith("x3000") for i in ids) and any(i.startswith("x1000") for i in ids)
    cc = Configure(procs, tmp_path, sim)
    cc.start()
    cc.wait_names(ids)
    assert 'dev="ipmi:127.0.0.1:9200"' in cc.conf_text()


def test_killed_conmand_is_restarted_quickly_with_hardware_added_in_hsm(running):
    sim, cc = running
    old = cc.conmand_pid()
    sim.set_endpoints(three_bmcs() + [endpoint("x3000c0s4b0", "127.0.0.1:9106")])
    killed_at = time.monotonic()
    os.kill(old, signal.SIGKILL)
    cc.wait_names(["x1000c0s0b0", "x3000c0s1b0", "x3000c0s2b0", "x3000c0s4b0"], timeout=5)
    assert time.monotonic() - killed_at < 5
    new = cc.conmand_pid()
    assert new != old
    assert "killed by signal 9" in cc.output()
    cc.assert_no_secret()


def test_sighup_applies_a_changed_inventory_and_leaves_an_unchanged_one(running):
    sim, cc = running
    first = cc.conmand_pid()
    cc.sighup()
    cc.wait_log("configuration unchanged")
    assert cc.conmand_pids() == [first]
    sim.set_endpoints([e for e in three_bmcs() if e["ID"] != "x1000c0s0b0"])
    cc.sighup()
    cc.wait_names(["x3000c0s1b0", "x3000c0s2b0"], timeout=20)
    # Ours applies the change in place (SIGHUP); another conmand restarts.
    assert (cc.conmand_pid() == first) == (cc.daemon == "ours")
    assert "x1000c0s0b0" not in cc.conf_text()


def test_sigterm_stops_conmand_and_exits_zero(running):
    sim, cc = running
    child = cc.conmand_pid()
    os.kill(cc.proc.pid, signal.SIGTERM)
    assert cc.proc.wait(timeout=20) == 0
    assert not alive(child)
    assert "exiting" in cc.output()
    cc.assert_no_secret()


def test_bearer_token_is_sent_and_never_logged(procs, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("tok-SECRET-123\n")
    sim = HsmSim.start(procs, tmp_path, endpoints=three_bmcs(), token_file=token_file)
    assert sim.get("/apis/smd/hsm/v2/Inventory/RedfishEndpoints")[0] == 401
    cc = Configure(procs, tmp_path, sim, env={"HSM_TOKEN_FILE": str(token_file)})
    cc.start()
    cc.wait_names(["x1000c0s0b0", "x3000c0s1b0", "x3000c0s2b0"])
    assert "tok-SECRET-123" not in cc.output()
    cc.assert_no_secret()


def test_missing_token_gets_401_logged_with_url_and_no_conmand(procs, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("tok-SECRET-123\n")
    sim = HsmSim.start(procs, tmp_path, endpoints=three_bmcs(), token_file=token_file)
    cc = Configure(procs, tmp_path, sim)
    cc.start()
    cc.wait_log(f"HSM discovery failed: {sim.endpoints_url}: HTTP status 401", count=2)
    assert cc.conmand_pids() == []


def orphans_of(ppid):
    """PIDs of `sleep 3` processes (the orphan below) whose parent is ppid."""
    return [p.pid for p in processes()
            if p.cmdline.startswith(b"sleep\x003\x00") and p.ppid == ppid]


@pytest.mark.parametrize("daemon", ["debian", "ours"])
def test_orphans_of_process_consoles_are_reaped(procs, tmp_path, daemon):
    # A process console whose script leaves a background sleep behind. Under
    # Debian's conmand the orphan comes to configure_conman (a subreaper, or
    # PID 1 in the container); ours is a subreaper itself, so its consoles'
    # orphans come to it. Either must reap it.
    script = tmp_path / "orphan-maker.sh"
    script.write_text("#!/bin/sh\n( sleep 3 & )\nexec sleep 1\n")
    script.chmod(0o755)
    sim = HsmSim.start(procs, tmp_path, endpoints=three_bmcs())
    cc = Configure(procs, tmp_path, sim, base_extra=[f'console name="orphans" dev="{script}"'],
                   daemon=daemon)
    cc.start()
    reaper = cc.pid if daemon == "debian" else cc.conmand_pid()
    orphan = cc.wait(lambda: (orphans_of(reaper) or [None])[0], 10,
                     f"an orphaned sleep to be reparented to pid {reaper} ({daemon})")
    cc.wait(lambda: not os.path.exists(f"/proc/{orphan}"), 10,
            f"orphan {orphan} to exit and be reaped (not left a zombie)")
