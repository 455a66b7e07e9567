"""Helper for configure_conman end-to-end tests: a temp directory with
credentials, a base file whose SERVER settings point into it, and the
environment that runs the real configure_conman with our conmand (the
default everywhere) or, with daemon="debian", Debian's."""
import os
import signal
import time

import pytest

from bmcsim import IPMI_WORKAROUNDS
from e2e_helpers import (DEBIAN_CONMAND, binary, conman_names, free_port, processes, read_text,
                         wait_for)

PASSWORD = 'pa,ss"w0rd\'x'  # commas and quotes: must reach the file only as hex
USER = "root"


def password_hex(password=PASSWORD):
    return password.encode().hex()


def conmand_for(daemon):
    """The CONMAND a test runs: "ours" (the default) or "debian"."""
    return binary("conmand") if daemon == "ours" else DEBIAN_CONMAND


class Configure:
    """One configure_conman under test, its files and its conmand."""

    def __init__(self, procs, root, sim=None, first_line="# UPDATE_CONFIG=TRUE",
                 password=PASSWORD, env=None, base_extra=(), daemon="ours"):
        self.procs = procs
        self.daemon = daemon
        self.root = str(root)
        self.sim = sim
        self.password = password
        self.conman_port = free_port()
        self.logdir = os.path.join(self.root, "log")
        self.etc = os.path.join(self.root, "etc")
        self.secrets = os.path.join(self.root, "secrets")
        for d in (self.logdir, self.etc, self.secrets):
            os.makedirs(d, exist_ok=True)
        self.user_file = os.path.join(self.secrets, "user")
        self.pwd_file = os.path.join(self.secrets, "password")
        self.base_file = os.path.join(self.root, "conman_base.conf")
        self.conf = os.path.join(self.etc, "conman.conf")
        self.log_path = os.path.join(self.root, "configure_conman.log")
        self.write(self.user_file, USER + "\n")
        self.write(self.pwd_file, password + "\n")
        self.base_extra = list(base_extra)
        self.write_base(first_line)
        self.extra_env = env or {}
        self.proc = None
        self.pid = None  # configure_conman's PID (differs from proc.pid under a wrapper)

    @staticmethod
    def write(path, text):
        with open(path, "w") as f:
            f.write(text)

    def write_base(self, first_line):
        self.write(self.base_file, "\n".join([
            first_line,
            "server keepalive=on",
            "server loopback=on",  # Debian's 0.2.7 would listen on every address
            f'server logdir="{self.logdir}"',
            'server logfile="conman.log"',
            f'server pidfile="{self.root}/conmand.pid"',
            f"server port={self.conman_port}",
            'global log="conman/console.%N"',
            'global logopts="nolock,sanitize,timestamp"',
            *self.base_extra,
            ""]))

    def env(self):
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "API_GATEWAY": self.sim.api_gateway if self.sim else "http://127.0.0.1:1",
            "USER_FILE": self.user_file,
            "PWD_FILE": self.pwd_file,
            "CONMAN_BASE_CONF": self.base_file,
            "CONMAN_CONF": self.conf,
            "CONMAND": conmand_for(self.daemon),
            "DISCOVERY_RETRY_SEC": "1",
            "HSM_TIMEOUT_SEC": "2",
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(self.extra_env)
        return env

    def start(self, argv_prefix=()):
        self.proc = self.procs.start([*argv_prefix, binary("configure_conman")],
                                     log_path=self.log_path, env=self.env(), cwd=self.root)
        self.pid = self.proc.pid
        return self.proc

    def output(self):
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def count(self, needle):
        return self.output().count(needle)

    def wait(self, predicate, timeout, what):
        """wait_for, with configure_conman's output at the time of failure."""
        try:
            return wait_for(predicate, timeout=timeout, what=what)
        except pytest.fail.Exception:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; "
                        f"configure_conman output:\n{self.output()}")

    def wait_log(self, needle, count=1, timeout=15):
        self.wait(lambda: self.count(needle) >= count, timeout, f"{count} log line(s) with {needle!r}")

    def conmand_pids(self):
        """PIDs of conmand processes whose parent is our configure_conman."""
        return [pid for pid, comm, state in self.children() if comm == "conmand" and state != "Z"]

    def children(self):
        """(pid, comm, state) of every process whose parent is configure_conman."""
        return [(p.pid, p.comm, p.state) for p in processes() if p.ppid == self.pid]

    def conmand_pid(self, timeout=15):
        return self.wait(lambda: (self.conmand_pids() or [None])[0], timeout,
                         "configure_conman to start conmand")

    def names(self):
        return conman_names(self.conman_port)

    def wait_names(self, expected, timeout=20):
        expected = sorted(expected)
        self.wait(lambda: self.names() == expected, timeout, f"conman -q to list {expected}")

    def conf_text(self):
        with open(self.conf) as f:
            return f.read()

    def sighup(self):
        os.kill(self.pid, signal.SIGHUP)

    def assert_no_secret(self):
        out = self.output()
        assert self.password not in out
        hexpw = password_hex(self.password)
        assert hexpw not in out and hexpw.upper() not in out

    def settle(self, seconds):
        """A deliberate pause to show that something does NOT happen."""
        time.sleep(seconds)


def bmc_sim_configure(procs, root, sim, bmcs, env=None):
    """A Configure that logs in to bmc-sim's BMCs: their user and password,
    and the workarounds ipmi_sim needs."""
    cc = Configure(procs, root, sim, password=bmcs.password(), env=env,
                   base_extra=[IPMI_WORKAROUNDS])
    cc.write(cc.user_file, read_text(bmcs.user_file))
    return cc
