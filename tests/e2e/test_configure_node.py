"""CONSOLE_MODE=node end to end: hsm-sim lists nodes (State/Components) and
their BMCs (RedfishEndpoints); River nodes go over IPMI SOL to ipmi_sim BMCs,
Mountain nodes over SSH to ssh-bmc-sim (a blade BMC, user n<N> per node),
both through our conmand, and the stock client joins an SSH console."""
import os
import re
import subprocess

from bmcsim import BmcSim, seqs_by_console
from e2e_helpers import DEBIAN_CONMAND, binary, free_port, keygen, read_text
from conmand_util import Client
from configure_env import Configure, bmc_sim_configure
from hsmsim import HsmSim, endpoint
from test_ssh_consoles import Sim

BLADE = "x1000c0s0b0"  # ssh-bmc-sim's --prefix: console names are BLADE + "n<N>"


def node(xname, cls, enabled=True):
    rec = {"ID": xname, "Type": "Node", "State": "Ready", "Flag": "OK", "Enabled": enabled,
           "Role": "Compute", "NetType": "Sling", "Arch": "X86"}
    if cls is not None:
        rec["Class"] = cls
    return rec


def boot_seqs(text, xname):
    return [int(s) for s in re.findall(rf"{xname} #(\d+) ", text)]


def node_env(conmand, env=None):
    return {"CONSOLE_MODE": "node", "CONMAND": conmand, **(env or {})}


def node_configure(procs, tmp_path, sim, password, conmand, env=None):
    return Configure(procs, tmp_path / "cc", sim, password=password, env=node_env(conmand, env))


def test_river_over_ipmi_and_mountain_over_ssh_log_and_join_with_our_conmand(procs, tmp_path):
    key = keygen(tmp_path / "id_blade")
    key_body = [l for l in read_text(key).splitlines() if not l.startswith("-----")]
    ssh = Sim(procs, tmp_path, consoles=2, password=False, keys=[key])
    bmcs = BmcSim.start(procs, tmp_path, count=1)
    river = bmcs.bmcs[0].name + "n0"
    mountain = [BLADE + "n0", BLADE + "n1"]
    endpoints = bmcs.endpoints() + [endpoint(BLADE, f"127.0.0.1:{ssh.port}")]
    components = [node(river, "River"), node(mountain[0], "Mountain"), node(mountain[1], "Hill"),
                  node(BLADE + "n2", "Lake"), node(BLADE + "n3", "Mountain", enabled=False)]
    hsm = HsmSim.start(procs, tmp_path, endpoints=endpoints, components=components)
    cc = bmc_sim_configure(procs, tmp_path / "cc", hsm, bmcs,
                           env=node_env(binary("conmand"), {"SSH_KEY_FILE": key}))
    # Our conmand (unlike Debian's) does not create the log subdirectory.
    os.makedirs(os.path.join(cc.logdir, "conman"), exist_ok=True)
    cc.start()
    cc.wait_names([river] + mountain)
    conf = cc.conf_text()
    assert f'console name="{mountain[1]}" dev="ssh:n1@127.0.0.1:{ssh.port}" sshopts="I:{key}"' \
        in conf
    assert f'console name="{river}" dev="ipmi:{bmcs.bmcs[0].address}"' in conf
    assert f'node {BLADE}n2: unknown Class "Lake"' in cc.output()
    assert f"{BLADE}n3" not in conf  # disabled

    logs = os.path.join(cc.logdir, "conman")
    bmc = bmcs.bmcs[0].name  # console-sim behind the BMC prints the BMC's name
    cc.wait(lambda: len(seqs_by_console(read_text(f"{logs}/console.{river}")).get(bmc, [])) >= 2,
            30, f"SOL output of {river}")
    for x in mountain:
        cc.wait(lambda: len(boot_seqs(read_text(f"{logs}/console.{x}"), x)) >= 2, 30,
                f"SSH console output of {x}")
    # No known_hosts given: conmand trusts the blade's host key on first use and logs it.
    conmand_log = read_text(os.path.join(cc.logdir, "conman.log"))
    assert re.search(rf"Console \[{mountain[0]}\]: trusting host key SHA256:\S+ of "
                     rf"127.0.0.1:{ssh.port} on first use", conmand_log), conmand_log

    c = Client(cc.conman_port, "-j", mountain[1])
    try:
        c.expect(f"Connection to console [{mountain[1]}] opened")
        c.expect(f"{mountain[1]} #")
        c.send("typed-into-mountain-7\r")
        c.expect("typed-into-mountain-7")  # ssh-bmc-sim echoes what the node console gets
        c.send("&.")
        assert c.wait() == 0
    finally:
        c.close()

    ps = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True).stdout
    password = cc.password
    hexpw = password.encode().hex()
    texts = {"configure_conman output": cc.output(), "ps": ps,
             "conmand log": read_text(os.path.join(cc.logdir, "conman.log")),
             "console logs": "".join(read_text(f"{logs}/console.{x}") for x in [river] + mountain)}
    for where, text in texts.items():
        assert password not in text and hexpw not in text, f"password in {where}"
        assert not any(line in text for line in key_body), f"key material in {where}"
    assert not any(line in conf for line in key_body)  # the key is passed by path
    assert password not in conf
    assert oct(os.stat(cc.conf).st_mode & 0o777) == "0o600"


def test_debians_conmand_gets_the_river_nodes_and_a_line_on_the_skipped_ssh_ones(procs, tmp_path):
    endpoints = [endpoint("x3000c0s1b0", f"127.0.0.1:{free_port()}"),
                 endpoint(BLADE, f"127.0.0.1:{free_port()}")]
    components = [node("x3000c0s1b0n0", "River"), node(BLADE + "n0", "Mountain"),
                  node(BLADE + "n1", "Paradise")]
    hsm = HsmSim.start(procs, tmp_path, endpoints=endpoints, components=components)
    cc = node_configure(procs, tmp_path, hsm, "secret-pw", DEBIAN_CONMAND,
                        env={"SSH_KEY_FILE": str(tmp_path / "key")})
    cc.start()
    cc.wait_names(["x3000c0s1b0n0"])
    assert "SSH_KNOWN_HOSTS is unset: conmand trusts each SSH BMC's host key on first use" \
        in cc.output()
    cc.wait_log("CONMAND is not ours and has no ssh: console type (Mountain, Hill and Paradise "
                f"nodes need it): skipping 2 SSH consoles (first: {BLADE}n0)")
    assert "ssh:" not in cc.conf_text()
    cc.assert_no_secret()


def test_without_ssh_key_file_mountain_nodes_are_skipped_and_paradise_uses_the_password(
        procs, tmp_path):
    paradise_port = free_port()
    endpoints = [endpoint("x3000c0s1b0", f"127.0.0.1:{free_port()}"),
                 endpoint("x3000c0s2b0", "127.0.0.2"), endpoint(BLADE, "127.0.0.1")]
    components = [node("x3000c0s1b0n0", "River"), node("x3000c0s2b0n0", "Paradise"),
                  node(BLADE + "n0", "Mountain"), {"ID": "x3000c0s3b0n0", "Type": "Node", "Enabled": True}]
    hsm = HsmSim.start(procs, tmp_path, endpoints=endpoints, components=components)
    cc = node_configure(procs, tmp_path, hsm, "secret-pw", binary("conmand"),
                        env={"PARADISE_PORT": str(paradise_port),
                             "SSH_KNOWN_HOSTS": str(tmp_path / "known_hosts")})
    cc.start()
    cc.wait_names(["x3000c0s1b0n0", "x3000c0s2b0n0"])
    assert (f"SSH_KEY_FILE is unset (Mountain and Hill nodes need it): skipping 1 SSH console "
            f"(first: {BLADE}n0)") in cc.output()
    assert 'node x3000c0s3b0n0: unknown Class ""' in cc.output()
    # known_hosts is read by conmand; configure_conman names a missing one at start.
    assert f"SSH_KNOWN_HOSTS {tmp_path}/known_hosts: No such file or directory" in cc.output()
    hexpw = "secret-pw".encode().hex()
    assert (f'console name="x3000c0s2b0n0" dev="ssh:root@127.0.0.2:{paradise_port}" '
            f'sshopts="P:0x{hexpw},K:{tmp_path}/known_hosts"') in cc.conf_text()
    cc.assert_no_secret()


def test_components_that_do_not_parse_keep_conmand_unstarted_and_name_the_url(procs, tmp_path):
    hsm = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9")])
    cc = node_configure(procs, tmp_path, hsm, "secret-pw", binary("conmand"),
                        env={"COMPONENTS_ENDPOINT": "apis/smd/hsm/v2/State/Nope"})
    cc.start()
    cc.wait_log(f"HSM discovery failed: {hsm.base_url}/apis/smd/hsm/v2/State/Nope: "
                "HTTP status 404", count=2)
    assert cc.conmand_pids() == []


def test_generated_cluster_with_mountain_bmcs_on_ssh_bmc_sim_reaches_every_mountain_node(
        procs, tmp_path):
    # hsm-sim --nodes 8: 4 River nodes (one per BMC) and 4 Mountain nodes, two on each
    # of x1000c0s0b0 and x1000c0s0b1; --mountain-bmc points both blades at one
    # ssh-bmc-sim, where user n0/n1 picks the node's console.
    key = keygen(tmp_path / "id_blade")
    ssh = Sim(procs, tmp_path, consoles=2, password=False, keys=[key])
    hsm = HsmSim.start(procs, tmp_path, nodes=8, mountain_bmc=f"127.0.0.1:{ssh.port}")
    status, comps = hsm.get("/apis/smd/hsm/v2/State/Components?type=Node")
    assert status == 200
    mountain = sorted(c["ID"] for c in comps["Components"] if c["Class"] == "Mountain")
    river = sorted(c["ID"] for c in comps["Components"] if c["Class"] == "River")
    assert len(mountain) == 4 and len(river) == 4
    cc = node_configure(procs, tmp_path, hsm, "secret-pw", binary("conmand"),
                        env={"SSH_KEY_FILE": key})
    os.makedirs(os.path.join(cc.logdir, "conman"), exist_ok=True)
    cc.start()
    cc.wait_names(river + mountain)
    logs = os.path.join(cc.logdir, "conman")
    for x in mountain:
        node_number = x[-1]
        cc.wait(lambda: len(boot_seqs(read_text(f"{logs}/console.{x}"), BLADE + "n" + node_number))
                >= 2, 30, f"SSH console output of {x}")
    assert f'dev="ssh:n1@127.0.0.1:{ssh.port}"' in cc.conf_text()
    assert "ssh:" not in "".join(l for l in cc.conf_text().splitlines() if "x3000" in l)


def test_hsm_sim_refuses_a_mountain_bmc_off_loopback(tmp_path):
    r = subprocess.run([binary("hsm-sim"), "--port", str(free_port()), "--nodes", "4",
                        "--mountain-bmc", "10.1.2.3:22"], capture_output=True, timeout=10)
    assert r.returncode == 2
    assert b"--mountain-bmc 10.1.2.3:22: expected a loopback" in r.stderr


def test_paradise_node_logs_over_ssh_with_the_password_on_paradise_port(procs, tmp_path):
    """A Paradise node's console is SSH on PARADISE_PORT of its BMC, as the
    USER_FILE user with the PWD_FILE password (no key)."""
    xname, password = "x3000c0s2b0n0", "paradise-pw,'\""
    simdir = tmp_path / "paradise"
    simdir.mkdir()
    (simdir / "password").write_text(password + "\n")
    port = free_port()
    out = simdir / "sim.out"
    procs.start([binary("ssh-bmc-sim"), "--port", str(port), "--host-key", str(simdir / "hk"),
                 "--password-file", str(simdir / "password"), "--node-user", "root",
                 "--prefix", xname, "--rate", "10"], log_path=str(out))
    hsm = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s2b0", "127.0.0.1")],
                       components=[node(xname, "Paradise")])
    cc = node_configure(procs, tmp_path, hsm, password, binary("conmand"),
                        env={"PARADISE_PORT": str(port)})
    cc.write(cc.user_file, "root\n")
    os.makedirs(os.path.join(cc.logdir, "conman"), exist_ok=True)
    cc.start()
    cc.wait_names([xname])
    assert f'dev="ssh:root@127.0.0.1:{port}" sshopts="P:0x{password.encode().hex()}"' \
        in cc.conf_text()
    log = os.path.join(cc.logdir, "conman", f"console.{xname}")
    cc.wait(lambda: len(boot_seqs(read_text(log), xname)) >= 2, 30,
            f"SSH console output of Paradise node {xname}")
    assert "password refused" not in out.read_text()
    cc.assert_no_secret()
