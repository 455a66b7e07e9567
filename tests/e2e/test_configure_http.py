"""configure_conman's own HTTP endpoints (issue 15, part 2): /healthz while
the loop turns, /readyz once conmand runs and answers, /metrics parsed by
prometheus_client and checked against what the HSM simulator and the
test did. Real processes on loopback; every one is stopped by PID."""
import http.client
import os
import signal
import socket
import time

from prometheus_client.parser import text_string_to_metric_families

from configure_env import Configure
from e2e_helpers import free_port, write_script
from hsmsim import HsmSim, endpoint

BMCS = [endpoint(f"x3000c0s{i}b0", f"127.0.0.1:{9810 + i}") for i in range(1, 4)]
PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def request(port, path, method="GET"):
    """(status, body text, Content-Type) of one request, or None when refused."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.read().decode(), r.getheader("Content-Type")
    except OSError:
        return None
    finally:
        c.close()


def status(port, path):
    r = request(port, path)
    return r and r[0]


def metrics(port):
    """{(sample name, frozen labels): value} of one scrape."""
    code, body, ctype = request(port, "/metrics")
    assert code == 200 and ctype == PROM_TYPE
    out = {}
    for fam in text_string_to_metric_families(body):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def metric(port, name, **labels):
    return metrics(port).get((name, tuple(sorted(labels.items()))))


def http_configure(procs, tmp_path, sim=None, env=None):
    port = free_port()
    cc = Configure(procs, tmp_path, sim, env={"HTTP_PORT": str(port), "HTTP_ADDR": "127.0.0.1",
                                              **(env or {})})
    return cc, port


def test_health_ready_and_metrics_follow_discovery(procs, tmp_path):
    # HSM fails first: alive (200) but not ready (503 with a reason), and
    # every failed request is counted; then HSM recovers and the consoles
    # come up.
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    assert sim.fault("500") == "ok"
    cc, port = http_configure(procs, tmp_path, sim)
    cc.start()
    cc.wait(lambda: status(port, "/healthz") == 200, 10, "/healthz 200")
    cc.wait(lambda: (metric(port, "conman_configure_discoveries_total", result="error") or 0)
            >= 2, 15, "two failed discoveries counted")
    code, body, _ = request(port, "/readyz")
    assert code == 503 and "no usable configuration" in body
    assert status(port, "/healthz") == 200
    m = metrics(port)
    assert m[("conman_configure_hsm_errors_total", ())] >= 2
    assert m[("conman_configure_last_discovery_success", ())] == 0
    assert m[("conman_configure_conmand_up", ())] == 0
    assert m[("conman_configure_hsm_request_duration_seconds_count", ())] >= 2

    assert sim.fault("none") == "ok"
    cc.wait(lambda: status(port, "/readyz") == 200, 20, "/readyz 200 once conmand answers")
    m = metrics(port)
    assert m[("conman_configure_discoveries_total", (("result", "ok"),))] >= 1
    assert m[("conman_configure_last_discovery_success", ())] == 1
    assert m[("conman_configure_consoles_discovered", ())] == len(BMCS)
    assert m[("conman_configure_conmand_up", ())] == 1
    assert m[("conman_configure_conmand_starts_total", ())] == 1
    assert m[("conman_configure_last_successful_discovery_timestamp_seconds", ())] > 1.7e9
    assert m[("conman_configure_conmand_start_timestamp_seconds", ())] > 1.7e9
    assert status(port, "/healthz") == 200
    cc.assert_no_secret()


def test_hanging_hsm_keeps_healthz_200_for_the_bounded_request(procs, tmp_path):
    # Discovery blocks the loop for up to HSM_TIMEOUT_SEC (curl is
    # synchronous there); that is the loop working as designed, not a hung
    # process, so /healthz stays 200 past its usual 5 s heartbeat limit,
    # and the timed-out request is counted as an HSM error.
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    assert sim.fault("slow", seconds=60) == "ok"
    cc, port = http_configure(procs, tmp_path, sim, env={"HSM_TIMEOUT_SEC": "9"})
    cc.start()
    cc.wait(lambda: status(port, "/healthz") == 200, 10, "/healthz 200")
    codes = []
    deadline = time.monotonic() + 8  # most of one hanging request
    while time.monotonic() < deadline:
        codes.append(status(port, "/healthz"))
        time.sleep(0.5)
    assert codes and set(codes) == {200}, codes
    cc.wait(lambda: (metric(port, "conman_configure_hsm_errors_total") or 0) >= 1, 15,
            "the timed-out HSM request counted")
    assert status(port, "/readyz") == 503
    cc.wait_log("HSM discovery failed:")
    assert sim.fault("none") == "ok"
    cc.wait(lambda: status(port, "/readyz") == 200, 30, "/readyz 200 once HSM answers")


def test_readyz_needs_conmands_port_to_accept(procs, tmp_path):
    # A CONMAND that runs but never listens: configuration and process are
    # there, the client port is not, so /readyz says which port refuses.
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    mute = write_script(tmp_path, "mute-conmand", "#!/bin/sh\nexec sleep 600\n")
    cc, port = http_configure(procs, tmp_path, sim, env={"CONMAND": mute})
    cc.start()
    cc.wait_log("started " + mute)
    cc.wait(lambda: metric(port, "conman_configure_conmand_up") == 1, 10, "conmand_up 1")
    code, body, _ = request(port, "/readyz")
    assert code == 503
    assert f"conmand's client port 127.0.0.1:{cc.conman_port} does not accept" in body
    assert status(port, "/healthz") == 200


def test_conmand_restarts_and_exit_causes_are_counted(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    cc, port = http_configure(procs, tmp_path, sim)
    cc.start()
    first = cc.conmand_pid()
    cc.wait(lambda: metric(port, "conman_configure_conmand_up") == 1, 10, "conmand_up 1")
    assert metric(port, "conman_configure_conmand_restarts_total") == 0
    os.kill(first, signal.SIGKILL)
    cc.wait(lambda: (cc.conmand_pids() or [first])[0] != first, 15, "a new conmand")
    cc.wait(lambda: metric(port, "conman_configure_conmand_restarts_total") == 1, 10,
            "restarts_total 1")
    m = metrics(port)
    assert m[("conman_configure_conmand_exits_total", (("cause", "signal_SIGKILL"),))] == 1
    assert m[("conman_configure_conmand_starts_total", ())] == 2
    second = cc.conmand_pids()[0]
    os.kill(second, signal.SIGTERM)  # our conmand exits 0 on SIGTERM
    cc.wait(lambda: metric(port, "conman_configure_conmand_restarts_total") == 2, 15,
            "restarts_total 2")
    m = metrics(port)
    causes = {dict(k[1])["cause"]: v for k, v in m.items()
              if k[0] == "conman_configure_conmand_exits_total"}
    assert causes == {"signal_SIGKILL": 1, "exit_0": 1}


def test_taken_http_port_is_logged_and_retried_not_fatal(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=BMCS)
    cc, port = http_configure(procs, tmp_path, sim)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        cc.start()
        cc.wait_log(f"HTTP_PORT {port} on HTTP_ADDR 127.0.0.1: cannot listen: "
                    "Address already in use; retrying every 5 s")
        cc.wait_names([b["ID"] for b in BMCS])  # conmand runs regardless
        assert cc.proc.poll() is None
    finally:
        blocker.close()
    cc.wait(lambda: status(port, "/healthz") == 200, 15, "/healthz once the port is free")
    assert f"HTTP_PORT: serving /healthz /readyz /metrics on 127.0.0.1:{port}" in cc.output()


def test_unknown_paths_and_methods_are_refused(procs, tmp_path):
    cc, port = http_configure(procs, tmp_path)  # no HSM: alive, never ready
    cc.start()
    cc.wait(lambda: status(port, "/healthz") == 200, 10, "/healthz 200")
    assert status(port, "/") == 404
    assert status(port, "/metrics/x") == 404
    r = request(port, "/metrics", method="POST")
    assert r[0] == 405
    head = request(port, "/healthz", method="HEAD")
    assert head[0] == 200 and head[1] == ""


def test_bad_http_settings_are_errors_naming_the_variable(procs, tmp_path):
    for name, value in (("HTTP_PORT", "80a"), ("HTTP_PORT", "0"), ("HTTP_ADDR", "localhost"),
                        ("CONMAND_HTTP_ADDR", "1.2.3")):
        root = tmp_path / f"{name}-{value}"
        root.mkdir()
        cc = Configure(procs, root, env={"HTTP_PORT": "8080", name: value})
        cc.start()
        assert cc.proc.wait(timeout=10) == 2
        assert f"bad setting: {name}={value}:" in cc.output()


def test_http_is_off_without_http_port(procs, tmp_path):
    port = free_port()
    cc = Configure(procs, tmp_path, env={"HTTP_ADDR": "127.0.0.1"})
    cc.start()
    cc.wait_log("HSM discovery failed:")
    assert request(port, "/healthz") is None
    assert "HTTP_PORT" not in cc.output()
