"""IPv6 in configure_conman (issue 19): an HSM at http://[::1]:PORT serving
ipmi_sim BMCs on ::1, written as dev="ipmi:[::1]:PORT" and read back by our
conmand, which logs their SOL output; a bare IPv6 IPAddress written in
brackets, one that is no address skipped with a warning; and the two HTTP
ports (configure_conman's HTTP_ADDR, conmand's CONMAND_HTTP_ADDR) on ::1.
Skipped, with the reason, only where this machine has no IPv6 loopback."""
import http.client
import os
import re

import pytest

from bmcsim import BmcSim, seqs_by_console
from configure_env import Configure, bmc_sim_configure
from e2e_helpers import free_port, have_ipv6_loopback, read_text
from hsmsim import HsmSim, endpoint


pytestmark = pytest.mark.skipif(not have_ipv6_loopback(), reason="no IPv6 loopback (::1) here")


def get(host, port, path):
    """(status, body) of one GET, or None when nothing answers."""
    c = http.client.HTTPConnection(host, port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    except OSError:
        return None
    finally:
        c.close()


def test_bmcs_on_ipv6_loopback_through_an_hsm_on_ipv6_reach_the_logs(procs, tmp_path):
    bmcs = BmcSim.start(procs, tmp_path, count=2, ipv6=True)
    assert all(b.address.startswith("[::1]:") for b in bmcs.bmcs), bmcs.bmcs
    extra = [endpoint("x3000c0s8b0", "::1"),          # bare: IPMI's port 623
             endpoint("x3000c0s9b0", "fd00::1::x")]   # no address at all
    sim = HsmSim.start(procs, tmp_path, endpoints=bmcs.endpoints() + extra, listen="::1")
    assert sim.api_gateway.startswith("http://[::1]:")
    cc = bmc_sim_configure(procs, tmp_path / "cc", sim, bmcs)
    cc.start()
    names = sorted(b.name for b in bmcs.bmcs)
    cc.wait_names(names + ["x3000c0s8b0"])
    conf = cc.conf_text()
    for b in bmcs.bmcs:
        assert re.search(rf'^console name="{b.name}" dev="ipmi:\[::1\]:{b.address.rsplit(":", 1)[1]}" ',
                         conf, re.M), conf
    assert 'console name="x3000c0s8b0" dev="ipmi:[::1]" ' in conf, conf
    assert "x3000c0s9b0" not in conf
    cc.wait_log('endpoint x3000c0s9b0: address "fd00::1::x" is not a valid host or IP, skipped')
    for name in names:
        log = os.path.join(cc.logdir, "conman", f"console.{name}")
        seqs = cc.wait(lambda: (s := seqs_by_console(read_text(log)).get(name, [])) and
                       len(s) >= 3 and s, 30, f"numbered SOL lines of {name} in {log}")
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    cc.assert_no_secret()


def test_both_http_ports_answer_on_ipv6_loopback(procs, tmp_path):
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9811")],
                       listen="::1")
    ops, conmand_http = free_port(), free_port()
    cc = Configure(procs, tmp_path, sim, env={
        "HTTP_PORT": str(ops), "HTTP_ADDR": "::1",
        "CONMAND_HTTP_PORT": str(conmand_http), "CONMAND_HTTP_ADDR": "::1"})
    cc.start()
    cc.wait_names(["x3000c0s1b0"])
    assert f"server httpport={conmand_http} httpaddr=::1\n" in cc.conf_text()
    cc.wait_log(f"HTTP_PORT: serving /healthz /readyz /metrics on [::1]:{ops}")
    cc.wait(lambda: get("::1", conmand_http, "/healthz") is not None, 15,
            f"conmand's HTTP on [::1]:{conmand_http}")
    assert get("::1", conmand_http, "/healthz")[0] == 200
    status, body = get("::1", conmand_http, "/metrics")
    assert status == 200 and "conman_" in body
    cc.wait(lambda: (get("::1", ops, "/healthz") or (0,))[0] == 200, 15,
            f"configure_conman's /healthz on [::1]:{ops}")
    assert get("::1", ops, "/metrics")[0] == 200
    # Only where they were told: nothing on IPv4 loopback.
    assert get("127.0.0.1", ops, "/healthz") is None
    assert get("127.0.0.1", conmand_http, "/healthz") is None


def test_a_bad_ipv6_http_addr_is_an_error_naming_the_variable(procs, tmp_path):
    for name in ("HTTP_ADDR", "CONMAND_HTTP_ADDR"):
        root = tmp_path / name
        root.mkdir()
        cc = Configure(procs, root, env={"HTTP_PORT": str(free_port()), name: "::1::x"})
        cc.start()
        assert cc.proc.wait(timeout=10) == 2
        assert (f"bad setting: {name}=::1::x: expected an IP address like 127.0.0.1, 0.0.0.0, "
                "::1 or ::") in cc.output()
