"""ct-tests/ct-tests.sh against a live service without a container engine:
configure_conman runs as PID 1 of its own PID namespace (unshare), with
Debian's conmand, hsm-sim and simulated IPMI BMCs on loopback, and the CT
tests run inside that namespace (nsenter) as an operator runs them in the
container. Needs root, like the container itself."""
import os
import re
import signal
import subprocess

import pytest

from e2e_helpers import SOURCE_DIR, binary, free_port, wait_for, conman_names, DEBIAN_CONMAND

CT_TESTS = os.path.join(SOURCE_DIR, "ct-tests", "ct-tests.sh")
BMC_SIM = os.path.join(SOURCE_DIR, "scripts", "bmc-sim.sh")
NODES = 2
CHECKS = ["pid1", "conmand", "port", "hsm", "logs_exist", "logs_grow",
          "cmdline_secrets", "environ_secrets"]


def ns_init_pid(unshare_pid):
    """Host PID of the namespace's PID 1: the child unshare forked."""
    try:
        with open(f"/proc/{unshare_pid}/task/{unshare_pid}/children") as f:
            kids = f.read().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def in_namespace(init_pid, argv, timeout=120):
    return subprocess.run(["nsenter", "--target", str(init_pid), "--pid", "--mount", *argv],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def service(tmp_path, procs):
    """configure_conman as PID 1 of a PID namespace, with 2 consoles up."""
    assert os.geteuid() == 0, "a PID namespace needs root (CI runs as root)"
    bmc = tmp_path / "bmc"
    procs.start(["bash", BMC_SIM, "--dir", str(bmc), "--count", str(NODES),
                 "--console-sim", binary("console-sim")], log_path=tmp_path / "bmc-sim.log")
    wait_for(lambda: (bmc / "ready").exists(), timeout=60, what="bmc-sim ready")

    token = tmp_path / "token"
    token.write_text(os.urandom(12).hex() + "\n")
    token.chmod(0o600)
    hsm_port = free_port()
    hsm_log = tmp_path / "hsm-sim.log"
    procs.start([binary("hsm-sim"), "--port", str(hsm_port), "--inventory",
                 str(bmc / "inventory.json"), "--token-file", str(token)], log_path=hsm_log)
    wait_for(lambda: "listening" in hsm_log.read_text(), what="hsm-sim listening")

    port = free_port()
    http_port = free_port()
    logdir = tmp_path / "log"
    (logdir / "conman").mkdir(parents=True)
    base = open(os.path.join(SOURCE_DIR, "etc", "conman_base.conf")).read()
    base = re.sub(r"^server port=.*$", f"server port={port}", base, flags=re.M)
    base = re.sub(r'^server logdir=.*$', f'server logdir="{logdir}"', base, flags=re.M)
    base = re.sub(r'^server pidfile=.*$', f'server pidfile="{tmp_path}/conmand.pid"', base,
                  flags=re.M)
    # ipmi_sim needs these workaround flags (reference/ipmi-sim.md).
    base += 'global ipmiopts="W:opensesspriv,W:solpayloadsize,W:0x08000000"\n'
    (tmp_path / "base.conf").write_text(base)

    # The test's environment passes on (the sanitizers' settings under make
    # test's ASan run); the service's settings override it.
    env = dict(os.environ)
    env.update({
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "API_GATEWAY": f"http://127.0.0.1:{hsm_port}",
        "HSM_TOKEN_FILE": str(token),
        "USER_FILE": str(bmc / "secrets" / "user"),
        "PWD_FILE": str(bmc / "secrets" / "password"),
        "CONMAN_BASE_CONF": str(tmp_path / "base.conf"),
        "CONMAN_CONF": str(tmp_path / "conman.conf"),
        "CONMAND": DEBIAN_CONMAND,
        "DISCOVERY_RETRY_SEC": "1",
        "HTTP_PORT": str(http_port),
        "HTTP_ADDR": "127.0.0.1",
    })
    u = procs.start(["unshare", "--pid", "--fork", "--mount-proc", binary("configure_conman")],
                    env=env, log_path=tmp_path / "configure_conman.log")
    init = wait_for(lambda: ns_init_pid(u.pid), what="the namespace's PID 1")

    def all_listed():
        names = conman_names(port) or []
        return names if len(names) == NODES else None

    names = wait_for(all_listed, timeout=60, what=f"{NODES} consoles listed")
    return {"init": init, "port": port, "names": names, "bmc": bmc, "tmp": tmp_path,
            "http_port": http_port}


def test_every_ct_check_passes_on_a_healthy_service(service):
    r = in_namespace(service["init"], ["bash", CT_TESTS])
    lines = r.stdout.splitlines()
    assert r.returncode == 0, r.stdout + r.stderr
    assert [ln.split()[1].rstrip(":") for ln in lines if ln.startswith("PASS ")] == CHECKS
    assert lines[-1] == f"ct-tests: {len(CHECKS)} passed, 0 failed"
    assert f"all {NODES} consoles of http://127.0.0.1:" in r.stdout


def test_http_checks_pass_on_a_healthy_service(service):
    # ct-tests reads HTTP_PORT and HTTP_ADDR from PID 1's environment.
    wait_for(lambda: in_namespace(service["init"], ["bash", CT_TESTS, "readyz"]).returncode == 0,
             timeout=30, what="readyz to pass")
    r = in_namespace(service["init"], ["bash", CT_TESTS, "healthz", "readyz", "metrics"])
    assert r.returncode == 0, r.stdout + r.stderr
    url = f"http://127.0.0.1:{service['http_port']}"
    assert f"PASS healthz: {url}/healthz answered 200" in r.stdout
    assert f"PASS metrics: {url}/metrics: conmand_up 1, consoles_discovered {NODES}" in r.stdout


def test_http_checks_fail_naming_the_answer_when_conmand_is_gone(service):
    # A frozen configuration that conmand cannot start on: /readyz is 503
    # and the check shows the endpoint's reason; /healthz stays 200.
    conf = service["tmp"] / "conman.conf"
    base = service["tmp"] / "base.conf"
    base.write_text("# UPDATE_CONFIG=FALSE\n" + base.read_text().split("\n", 1)[1])
    conf.write_text("server port=notaport\n")
    conmand = ns_init_pid(service["init"])
    os.kill(conmand, signal.SIGKILL)

    def readyz_fails():
        r = in_namespace(service["init"], ["bash", CT_TESTS, "readyz"])
        return r if r.returncode == 1 else None
    r = wait_for(readyz_fails, timeout=30, what="readyz to fail")
    assert r.stdout.startswith(f"FAIL readyz: GET http://127.0.0.1:{service['http_port']}"
                               "/readyz answered 503: ")
    assert in_namespace(service["init"], ["bash", CT_TESTS, "healthz"]).returncode == 0


def test_a_password_on_a_command_line_fails_the_secret_check(service):
    pwd = service["bmc"] / "secrets" / "password"
    # The process's argv[0] becomes the password, read inside the namespace
    # so that no command line of this test holds it.
    holder = subprocess.Popen(
        ["nsenter", "--target", str(service["init"]), "--pid", "--mount", "bash", "-c",
         f'exec -a "$(head -n 1 {pwd})" sleep 30'], start_new_session=True)
    try:
        r = in_namespace(service["init"], ["bash", CT_TESTS, "cmdline_secrets"])
    finally:
        holder.kill()
        holder.wait(timeout=5)
    assert r.returncode == 1
    assert r.stdout.startswith("FAIL cmdline_secrets: a secret is on the command line of /proc/")


def test_a_console_missing_from_conmand_fails_the_hsm_check(service):
    # Freeze a configuration without the first console (UPDATE_CONFIG=FALSE)
    # and kill conmand: configure_conman restarts it on the frozen file, so
    # conmand serves fewer consoles than HSM lists.
    tmp, first = service["tmp"], service["names"][0]
    conf = tmp / "conman.conf"
    kept = [ln for ln in conf.read_text().splitlines() if f'name="{first}"' not in ln]
    conf.write_text("\n".join(kept) + "\n")
    base = tmp / "base.conf"
    base.write_text("# UPDATE_CONFIG=FALSE\n" + base.read_text().split("\n", 1)[1])
    conmand = ns_init_pid(service["init"])
    assert conmand, "configure_conman has no conmand child"
    os.kill(conmand, signal.SIGKILL)
    wait_for(lambda: conman_names(service["port"]) == service["names"][1:], timeout=60,
             what="conmand serving the frozen configuration")
    r = in_namespace(service["init"], ["bash", CT_TESTS, "hsm"])
    assert r.returncode == 1
    assert r.stdout.startswith(f"FAIL hsm: 1 of {NODES} HSM consoles not listed, e.g. {first}")


def test_ct_tests_fail_where_configure_conman_is_not_pid_1():
    r = subprocess.run(["bash", CT_TESTS, "pid1"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stdout.startswith("FAIL pid1: PID 1 is ")
    assert r.stdout.splitlines()[-1] == "ct-tests: 0 passed, 1 failed"


def test_an_unknown_check_name_fails_naming_it():
    r = subprocess.run(["bash", CT_TESTS, "no_such_check"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1
    assert r.stdout.startswith("FAIL no_such_check: no such check (see --list)")
