"""configure_conman against bad input: a failing HSM, hostile inventory
values, missing files. Each keeps the last good state and says why, naming
the URL, endpoint or file."""
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from e2e_helpers import binary, free_port
from configure_env import Configure
from hsmsim import HsmSim, endpoint

GOOD = ["x3000c0s1b0", "x3000c0s2b0"]


def good_endpoints():
    return [endpoint("x3000c0s1b0", "127.0.0.1:9301"), endpoint("x3000c0s2b0", "127.0.0.1:9302")]


@pytest.fixture
def running(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=good_endpoints())
    cc = Configure(procs, tmp_path, sim)
    cc.start()
    cc.wait_names(GOOD)
    return sim, cc


def test_hsm_down_at_start_keeps_retrying_without_conmand_then_starts(procs, tmp_path):
    port = free_port()
    cc = Configure(procs, tmp_path)
    cc.extra_env["API_GATEWAY"] = f"http://127.0.0.1:{port}"
    cc.start()
    url = f"http://127.0.0.1:{port}/apis/smd/hsm/v2/Inventory/RedfishEndpoints"
    cc.wait_log(f"HSM discovery failed: {url}: ", count=3)
    assert "Failed to connect to 127.0.0.1 port" in cc.output()
    assert cc.conmand_pids() == []
    assert not os.path.exists(cc.conf)
    HsmSim.start(procs, tmp_path, endpoints=good_endpoints(), port=port)
    cc.wait_names(GOOD)
    cc.assert_no_secret()


FAULTS = {
    "500": "HTTP status 500",
    "malformed": "malformed JSON",
    "wrongshape": 'JSON has no "RedfishEndpoints" list',
    "empty": "empty response body",
    "down": "Empty reply from server",
    "slow": "Operation timed out",
    "redirect": "HTTP status 302",  # redirects are never followed
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_hsm_failure_keeps_the_last_good_configuration(running, fault):
    sim, cc = running
    before = cc.conf_text()
    pid = cc.conmand_pid()
    # A change that a working HSM would apply: the fault must hide it.
    sim.set_endpoints(good_endpoints() + [endpoint("x3000c0s3b0", "127.0.0.1:9303")])
    assert sim.fault(fault, seconds=5 if fault == "slow" else None) == "ok"
    cc.sighup()
    line = f"HSM discovery failed: {sim.endpoints_url}: {FAULTS[fault]}"
    cc.wait_log(line, timeout=15)
    cc.wait_log("SIGHUP: rediscovering")
    assert cc.count("HSM discovery failed") == 1
    assert cc.conf_text() == before
    assert cc.conmand_pids() == [pid]
    assert cc.names() == GOOD
    # Once HSM recovers, the next rediscovery applies the change.
    sim.fault("none")
    cc.sighup()
    cc.wait_names(GOOD + ["x3000c0s3b0"])


def test_hsm_error_at_start_means_no_conmand(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=good_endpoints())
    sim.fault("500")
    cc = Configure(procs, tmp_path, sim)
    cc.start()
    cc.wait_log(f"HSM discovery failed: {sim.endpoints_url}: HTTP status 500", count=2)
    assert cc.conmand_pids() == []
    sim.fault("none")
    cc.wait_names(GOOD)


def test_empty_inventory_means_no_conmand(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x1000c0b0", "127.0.0.1", type_="ChassisBMC")])
    cc = Configure(procs, tmp_path, sim)
    cc.start()
    cc.wait_log("lists no usable enabled NodeBMC endpoint", count=2)
    assert cc.conmand_pids() == []
    assert not os.path.exists(cc.conf)


HOSTILE = {
    "e-quote": 'bad"name',
    "e-space": "two words",
    "e-newline": "line\nbreak",
    "e-slash": "../../etc/passwd",
    "e-long": "A" * 300,
}


def test_hostile_hostnames_never_reach_the_file(procs, tmp_path):
    eps = good_endpoints() + [endpoint(i, "127.0.0.1:9310", hostname=h) for i, h in HOSTILE.items()]
    eps.append(endpoint("e-addr", '127.0.0.1" x', hostname="fine"))
    sim = HsmSim.start(procs, tmp_path, endpoints=eps)
    cc = Configure(procs, tmp_path, sim)
    cc.start()
    cc.wait_names(GOOD)
    text = cc.conf_text()
    for ident, hostname in HOSTILE.items():
        assert f"endpoint {ident}: Hostname" in cc.output()
        assert hostname not in text
    assert "endpoint e-addr: address" in cc.output()
    assert "fine" not in text
    assert len([l for l in text.splitlines() if l.startswith("console ")]) == 2
    # One warning is one line: the newline in a Hostname cannot forge another.
    assert not any(l.startswith("break") for l in cc.output().splitlines())


def test_duplicate_names_keep_the_first(procs, tmp_path):
    eps = good_endpoints() + [endpoint("x3000c0s9b0", "127.0.0.1:9399", hostname="x3000c0s1b0")]
    sim = HsmSim.start(procs, tmp_path, endpoints=eps)
    cc = Configure(procs, tmp_path, sim)
    cc.start()
    cc.wait_names(GOOD)
    assert '"x3000c0s1b0" is used by more than one endpoint' in cc.output()
    assert "127.0.0.1:9399" not in cc.conf_text()
    assert "127.0.0.1:9301" in cc.conf_text()


@pytest.mark.parametrize("which,content,reason", [
    ("user", None, "cannot open"),
    ("password", None, "cannot open"),
    ("user", "", "empty"),
    ("password", "\n", "empty"),
    ("password", "x" * 21 + "\n", "first line is 21 bytes, longer than the limit of 20"),
])
def test_bad_credential_file_is_named_and_retried(procs, tmp_path, which, content, reason):
    sim = HsmSim.start(procs, tmp_path, endpoints=good_endpoints())
    cc = Configure(procs, tmp_path, sim)
    path = cc.user_file if which == "user" else cc.pwd_file
    os.unlink(path)
    if content is not None:
        cc.write(path, content)
    cc.start()
    cc.wait_log(f"credentials: {path}: {reason}", count=2)
    assert cc.conmand_pids() == []
    cc.write(path, "root\n" if which == "user" else cc.password + "\n")
    cc.wait_names(GOOD)
    cc.assert_no_secret()


def test_missing_base_file_is_named_and_no_conmand(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=good_endpoints())
    cc = Configure(procs, tmp_path, sim)
    os.unlink(cc.base_file)
    cc.start()
    cc.wait_log(f"base configuration (CONMAN_BASE_CONF): {cc.base_file}: cannot open", count=2)
    assert cc.conmand_pids() == []


@pytest.mark.parametrize("name,value", [
    ("HSM_TIMEOUT_SEC", "ten"),
    ("DISCOVERY_RETRY_SEC", "0"),
    ("CONSOLE_MODE", "serial"),
    ("API_GATEWAY", "ftp://127.0.0.1"),
])
def test_bad_setting_exits_2_naming_the_variable(procs, tmp_path, name, value):
    cc = Configure(procs, tmp_path, env={name: value})
    cc.start()
    assert cc.proc.wait(timeout=10) == 2
    assert f"bad setting: {name}={value}" in cc.output()


def test_bad_node_mode_settings_are_named_and_refused(procs, tmp_path):
    for name, value in (("PARADISE_PORT", "70000"), ("SSH_KEY_FILE", "/keys/a,b"),
                        ("COMPONENTS_ENDPOINT", "ftp://127.0.0.1/x")):
        cc = Configure(procs, tmp_path, env={"CONSOLE_MODE": "node", name: value})
        cc.start()
        assert cc.proc.wait(timeout=10) == 2
        assert f"bad setting: {name}={value}" in cc.output()


def test_missing_conmand_binary_is_named_and_retried(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=good_endpoints())
    cc = Configure(procs, tmp_path, sim, env={"CONMAND": str(tmp_path / "no-such-conmand")})
    cc.start()
    cc.wait_log(f"CONMAND {tmp_path}/no-such-conmand: cannot start", count=2)


def test_unwritable_conf_directory_is_named_and_conmand_keeps_the_old_file(procs):
    # Root ignores directory permissions, so this one runs configure_conman
    # (and its conmand) as nobody in a directory nobody may enter.
    root = tempfile.mkdtemp(prefix="cc-unwritable-")
    try:
        os.chmod(root, 0o755)
        sim = HsmSim.start(procs, root, endpoints=good_endpoints())
        # A copy nobody may run: the build tree can sit in a folder only
        # root may enter (a fresh clone under mktemp -d).
        conmand = os.path.join(root, "conmand")
        shutil.copy(binary("conmand"), conmand)
        os.chmod(conmand, 0o755)
        cc = Configure(procs, root, sim, env={"CONMAND": conmand})
        for dirpath, dirnames, filenames in os.walk(root):
            for n in dirnames + filenames:
                os.chown(os.path.join(dirpath, n), 65534, 65534)
        os.chown(root, 65534, 65534)
        cc.start(argv_prefix=("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"))
        cc.wait_names(GOOD)
        pid = cc.conmand_pid()
        before = cc.conf_text()
        os.chmod(cc.etc, 0o555)
        sim.set_endpoints(good_endpoints() + [endpoint("x3000c0s3b0", "127.0.0.1:9303")])
        cc.sighup()
        cc.wait_log(f"cannot write the configuration (directory {cc.etc})")
        assert "Permission denied" in cc.output()
        assert cc.conf_text() == before
        assert cc.conmand_pids() == [pid]
        assert cc.names() == GOOD
        cc.assert_no_secret()
    finally:
        procs.stop_all()
        shutil.rmtree(root, ignore_errors=True)
