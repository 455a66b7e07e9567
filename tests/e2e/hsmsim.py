"""Helper for end-to-end tests: start hsm-sim on a free loopback port and
drive it (inventory file, fault switches) through its admin paths.

    sim = HsmSim.start(procs, tmp_path, endpoints=[endpoint("x3000c0s1b0", "127.0.0.1:9001")])
    sim.api_gateway          # value for API_GATEWAY
    sim.set_endpoints([...]) # rewrites the inventory file; hsm-sim re-reads it
    sim.fault("500")         # none | down | 500 | malformed | slow | empty | wrongshape | redirect | truncated
"""
import json
import os
import ssl
import urllib.request

from e2e_helpers import binary, free_port, wait_for

RF_PATH = "/apis/smd/hsm/v2/Inventory/RedfishEndpoints"
COMPONENTS_PATH = "/apis/smd/hsm/v2/State/Components"


def endpoint(xname, address, hostname=None, enabled=True, type_="NodeBMC", **extra):
    """One RedfishEndpoints record as HSM returns it (address must be loopback)."""
    rec = {"ID": xname, "Type": type_, "Name": "", "Hostname": xname if hostname is None else hostname,
           "Domain": "", "FQDN": "", "Enabled": enabled, "User": "root", "Password": "",
           "IPAddress": address}
    rec.update(extra)
    return rec


class HsmSim:
    def __init__(self, proc, port, inventory_path, log_path, scheme="http", listen="127.0.0.1"):
        self.scheme = scheme
        self.listen = listen
        self.proc = proc
        self.port = port
        self.inventory_path = inventory_path
        self.log_path = log_path

    @classmethod
    def start(cls, procs, tmp_path, endpoints=None, components=None, nodes=None,
              bmc_port_base=None, token_file=None, port=None, tls=None, mountain_bmc=None,
              listen="127.0.0.1"):
        """Starts hsm-sim with an inventory file (endpoints/components) or a
        generated cluster (nodes); waits until it listens. tls=(cert, key)
        PEM paths serves HTTPS (admin paths too). listen: a loopback
        address, "::1" for IPv6 (base_url is then http://[::1]:PORT)."""
        port = port or free_port()
        log_path = os.path.join(str(tmp_path), f"hsm-sim-{port}.log")
        argv = [binary("hsm-sim"), "--port", str(port), "--listen", listen]
        inventory_path = None
        if nodes is not None:
            argv += ["--nodes", str(nodes)]
            if bmc_port_base:
                argv += ["--bmc-port-base", str(bmc_port_base)]
            if mountain_bmc:
                argv += ["--mountain-bmc", mountain_bmc]
        else:
            inventory_path = os.path.join(str(tmp_path), f"inventory-{port}.json")
            write_inventory(inventory_path, endpoints or [], components or [])
            argv += ["--inventory", inventory_path]
        if token_file:
            argv += ["--token-file", str(token_file)]
        if tls:
            argv += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        proc = procs.start(argv, log_path=log_path)
        sim = cls(proc, port, inventory_path, log_path, "https" if tls else "http", listen)
        wait_for(lambda: proc.poll() is not None or "listening on" in sim.log(), timeout=10,
                 what="hsm-sim to listen")
        assert proc.poll() is None, f"hsm-sim exited: {sim.log()}"
        return sim

    @property
    def base_url(self):
        host = f"[{self.listen}]" if ":" in self.listen else self.listen
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def api_gateway(self):
        return self.base_url

    @property
    def endpoints_url(self):
        return self.base_url + RF_PATH

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def set_endpoints(self, endpoints, components=None):
        """Replaces the inventory file atomically; hsm-sim re-reads it on the
        next request because its inode, size or mtime changed."""
        write_inventory(self.inventory_path, endpoints, components or [])

    def fault(self, name, seconds=None):
        path = f"/sim/fault/{name}" + (f"?seconds={seconds}" if seconds else "")
        return self._request("PUT", path).strip()

    def put_inventory(self, inventory):
        return self._request("PUT", "/sim/inventory", json.dumps(inventory).encode()).strip()

    def requests_served(self):
        """How many API (not admin) requests hsm-sim has received."""
        return int(self._request("GET", "/sim/requests"))

    def get(self, path, token=None):
        """GETs an API path; returns (status, parsed JSON or raw text)."""
        req = urllib.request.Request(self.base_url + path)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10, context=self._tls()) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def _request(self, method, path, data=None):
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=10, context=self._tls()) as r:
            return r.read().decode()

    def _tls(self):
        # The test drives its own simulator: its self-signed certificate is
        # what configure_conman must check, not this helper.
        return ssl._create_unverified_context() if self.scheme == "https" else None


def write_inventory(path, endpoints, components):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"RedfishEndpoints": endpoints, "Components": components}, f)
    os.replace(tmp, path)
