"""Helpers for end-to-end tests: simulated consoles (console-sim) and
simulated IPMI SOL BMCs (scripts/bmc-sim.sh: console-sim + one ipmi_sim per
BMC) on loopback, every process started through the `procs` fixture.

    cons = ConsoleSim.start(procs, tmp_path, ["a=tcp:0", "b=unix:/tmp/x/b.sock"], rate=5)
    cons.port("a"), cons.path("b")

    sim = BmcSim.start(procs, tmp_path, count=2)
    sim.bmcs                 # [Bmc(name, address "127.0.0.1:PORT", console_port)]
    sim.console_lines()      # conman.conf console lines (U and hex P)
    sim.endpoints()          # HSM RedfishEndpoints records, for hsm-sim
    sim.inventory_path       # the same as a hsm-sim --inventory file

Lines printed by console-sim look like
    [   12.345678] x3000c0s1b0 #00000042 systemd[1]: Started Journal Service.
and seqs_by_console() reads them back from any text (a conmand log file).
"""
import collections
import json
import os
import re

from e2e_helpers import SOURCE_DIR, binary, read_text, wait_for

LINE_RE = re.compile(r"\[\s*\d+\.\d{6}\] (\S+) #(\d{8,}) ")
BMC_SIM = os.path.join(SOURCE_DIR, "scripts", "bmc-sim.sh")
# Workarounds FreeIPMI needs for ipmi_sim (reference/ipmi-sim.md); conman
# 0.2.7 knows no name for 0x08000000 (skip channel payload support).
IPMI_WORKAROUNDS = 'global ipmiopts="W:opensesspriv,W:solpayloadsize,W:0x08000000"'

Bmc = collections.namedtuple("Bmc", "name address console_port")


def seqs_by_console(text):
    """{console name: [sequence numbers in order of appearance]}."""
    out = collections.defaultdict(list)
    for m in LINE_RE.finditer(text):
        out[m.group(1)].append(int(m.group(2)))
    return dict(out)


def contiguous(seqs, at_least):
    """More than `at_least` sequence numbers, without a gap."""
    return len(seqs) > at_least and seqs == list(range(seqs[0], seqs[0] + len(seqs)))


class ConsoleSim:
    """One console-sim process; `addresses` maps name -> ("tcp", port) or ("unix", path)."""

    def __init__(self, proc, out_path, log_path):
        self.proc = proc
        self.out_path = out_path
        self.log_path = log_path
        self.addresses = {}

    @classmethod
    def start(cls, procs, tmp_path, specs, rate=None, burst=False, echo=True, lines=None,
              extra=()):
        argv = [binary("console-sim")]
        if rate is not None:
            argv += ["--rate", str(rate)]
        if burst:
            argv.append("--burst")
        if not echo:
            argv.append("--no-echo")
        if lines is not None:
            argv += ["--lines", str(lines)]
        argv += list(extra) + list(specs)
        n = len(list(os.scandir(str(tmp_path))))
        out_path = os.path.join(str(tmp_path), f"console-sim-{n}.out")
        log_path = os.path.join(str(tmp_path), f"console-sim-{n}.log")
        # procs.start mixes stdout and stderr in one file; the address
        # announcements must stay apart from log lines, so a shell redirects.
        proc = procs.start(["/bin/sh", "-c", 'o=$0 e=$1; shift; exec "$@" >"$o" 2>"$e"',
                            out_path, log_path] + argv)
        sim = cls(proc, out_path, log_path)
        wait_for(lambda: proc.poll() is not None or "ready " in read_text(out_path),
                 timeout=20, what="console-sim to get ready")
        assert proc.poll() is None, f"console-sim exited: {read_text(log_path)}"
        for line in read_text(out_path).splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0] == "console":
                value = int(parts[3].rsplit(":", 1)[1]) if parts[2] == "tcp" else parts[3]
                sim.addresses[parts[1]] = (parts[2], value)
        return sim

    def port(self, name):
        kind, value = self.addresses[name]
        assert kind == "tcp", f"console {name} is not on TCP"
        return value

    def path(self, name):
        kind, value = self.addresses[name]
        assert kind == "unix", f"console {name} is not a unix socket"
        return value

    def log(self):
        return read_text(self.log_path)


class BmcSim:
    """scripts/bmc-sim.sh running `count` ipmi_sim BMCs and their consoles."""

    def __init__(self, proc, directory):
        self.proc = proc
        self.dir = directory
        self.bmcs = []

    @classmethod
    def start(cls, procs, tmp_path, count=2, rate=5, ipv6=False):
        """ipv6: the BMCs listen on ::1 (addresses "[::1]:PORT")."""
        directory = os.path.join(str(tmp_path), "bmc-sim")
        env = dict(os.environ, CONSOLE_SIM=binary("console-sim"))
        proc = procs.start(["bash", BMC_SIM, "--dir", directory, "--count", str(count),
                            "--rate", str(rate)] + (["--ipv6"] if ipv6 else []),
                           log_path=os.path.join(str(tmp_path), "bmc-sim.log"), env=env)
        sim = cls(proc, directory)
        wait_for(lambda: proc.poll() is not None or os.path.exists(os.path.join(directory, "ready")),
                 timeout=30, what=f"{count} simulated BMCs to get ready")
        assert proc.poll() is None, "bmc-sim.sh exited: " + read_text(
            os.path.join(str(tmp_path), "bmc-sim.log"))
        for line in read_text(os.path.join(directory, "bmcs.tsv")).splitlines():
            name, address, console_port = line.split("\t")
            sim.bmcs.append(Bmc(name, address, int(console_port)))
        assert len(sim.bmcs) == count
        return sim

    @property
    def user_file(self):
        return os.path.join(self.dir, "secrets", "user")

    @property
    def password_file(self):
        return os.path.join(self.dir, "secrets", "password")

    @property
    def inventory_path(self):
        return os.path.join(self.dir, "inventory.json")

    def _first_line(self, path):
        return read_text(path).splitlines()[0]

    def password(self):
        """The BMCs' password (every one has the same)."""
        return self._first_line(self.password_file)

    def console_lines(self):
        """conman.conf console lines as configure_conman writes them."""
        user = self._first_line(self.user_file)
        hexpw = self.password().encode().hex()
        return [f'console name="{b.name}" dev="ipmi:{b.address}" ipmiopts="U:{user},P:0x{hexpw}"'
                for b in self.bmcs]

    def endpoints(self):
        with open(self.inventory_path) as f:
            return json.load(f)["RedfishEndpoints"]

    def console_sim_log(self):
        return read_text(os.path.join(self.dir, "console-sim.log"))
