"""hsm-sim itself, as configure_conman's tests rely on it: type filters,
generated clusters, inventory reloads, token check and admin paths."""
import subprocess
import urllib.error

import pytest

from e2e_helpers import binary, free_port
from hsmsim import COMPONENTS_PATH, RF_PATH, HsmSim, endpoint


def test_type_filters_endpoints_and_components(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, nodes=5)
    status, body = sim.get(RF_PATH)
    assert status == 200
    types = {e["Type"] for e in body["RedfishEndpoints"]}
    assert types == {"NodeBMC", "ChassisBMC"}
    _, bmcs = sim.get(RF_PATH + "?type=NodeBMC")
    assert {e["Type"] for e in bmcs["RedfishEndpoints"]} == {"NodeBMC"}
    _, nodes = sim.get(COMPONENTS_PATH + "?type=Node")
    comps = nodes["Components"]
    assert len(comps) == 5
    assert {c["Class"] for c in comps} == {"River", "Mountain"}
    for c in comps:  # a node's BMC is its xname without the trailing n<node>
        assert c["ID"].rsplit("n", 1)[0] in {e["ID"] for e in bmcs["RedfishEndpoints"]}
    for e in body["RedfishEndpoints"]:
        assert e["IPAddress"].startswith("127.")


def test_bmc_port_base_numbers_bmcs_in_id_order(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, nodes=6, bmc_port_base=9900)
    _, body = sim.get(RF_PATH + "?type=NodeBMC")
    eps = sorted(body["RedfishEndpoints"], key=lambda e: e["ID"])
    assert [e["IPAddress"] for e in eps] == [f"127.0.0.1:{9900 + i}" for i in range(len(eps))]


def test_inventory_file_is_reread_and_a_broken_edit_keeps_the_previous(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1")])
    sim.set_endpoints([endpoint("x3000c0s2b0", "127.0.0.2")])
    assert [e["ID"] for e in sim.get(RF_PATH)[1]["RedfishEndpoints"]] == ["x3000c0s2b0"]
    with open(sim.inventory_path, "w") as f:
        f.write('{"RedfishEndpoints": [')
    assert [e["ID"] for e in sim.get(RF_PATH)[1]["RedfishEndpoints"]] == ["x3000c0s2b0"]
    assert sim.inventory_path in sim.log() and "keeping the previous inventory" in sim.log()


def test_put_inventory_replaces_it(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, nodes=2)
    assert sim.put_inventory({"RedfishEndpoints": [endpoint("x9000c0s1b0", "127.0.0.9")]}) == "ok"
    assert [e["ID"] for e in sim.get(RF_PATH)[1]["RedfishEndpoints"]] == ["x9000c0s1b0"]


def test_token_is_required_when_configured(procs, tmp_path):
    token = tmp_path / "token"
    token.write_text("abc\n")
    sim = HsmSim.start(procs, tmp_path, nodes=1, token_file=token)
    assert sim.get(RF_PATH)[0] == 401
    assert sim.get(RF_PATH, token="wrong")[0] == 401
    assert sim.get(RF_PATH, token="abc")[0] == 200


def test_unknown_fault_is_refused(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, nodes=1)
    with pytest.raises(urllib.error.HTTPError) as e:
        sim.fault("meltdown")
    assert e.value.code == 400


@pytest.mark.parametrize("args,message", [
    (["--nodes", "2"], "need --port"),
    (["--port", "1", "--nodes", "x"], "--nodes x: not a valid number"),
    (["--port", "1", "--nodes", "2", "--inventory", "/nonexistent"], "exactly one of"),
    (["--port", "PORT", "--inventory", "/nonexistent/inv.json"], "/nonexistent/inv.json"),
    # Loopback only, IPv4 or IPv6: a test never serves beyond this machine.
    (["--port", "PORT", "--nodes", "1", "--listen", "0.0.0.0"], "--listen 0.0.0.0: expected a "
     "loopback address, 127.x.y.z or ::1"),
    (["--port", "PORT", "--nodes", "1", "--listen", "::"], "--listen ::: expected a loopback"),
    (["--port", "PORT", "--nodes", "1", "--listen", "localhost"], "--listen localhost:"),
])
def test_bad_command_lines_are_named(tmp_path, args, message):
    args = [a.replace("PORT", str(free_port())) for a in args]
    r = subprocess.run([binary("hsm-sim"), *args], capture_output=True, timeout=10)
    assert r.returncode != 0
    assert message in r.stderr.decode()
