"""HSM over HTTPS: the certificate is checked against HSM_CA_FILE."""
import subprocess

from configure_env import Configure
from hsmsim import HsmSim, endpoint


def self_signed(tmp_path):
    """A certificate for 127.0.0.1 that is its own CA, made by openssl."""
    cert, key = tmp_path / "hsm-cert.pem", tmp_path / "hsm-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_https_hsm_is_trusted_through_hsm_ca_file(procs, tmp_path):
    cert, key = self_signed(tmp_path)
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9701")],
                       tls=(cert, key))
    assert sim.api_gateway.startswith("https://")
    assert sim.fault("none") == "ok"  # the admin path answers over TLS too
    cc = Configure(procs, tmp_path, sim, env={"HSM_CA_FILE": str(cert)})
    cc.start()
    cc.wait_names(["x3000c0s1b0"])


def test_https_hsm_with_an_unknown_ca_is_refused(procs, tmp_path):
    cert, key = self_signed(tmp_path)
    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9701")],
                       tls=(cert, key))
    cc = Configure(procs, tmp_path, sim)
    cc.start()
    cc.wait_log(f"HSM discovery failed: {sim.endpoints_url}: SSL certificate problem", count=2)
    assert cc.conmand_pids() == []
