"""Helpers for the conmand end-to-end tests: start a daemon (ours or
Debian's) on a free port with a config in a temp dir, and drive the real
/usr/bin/conman client through a pty (it needs a terminal for -j/-m), or
speak the protocol on a plain socket."""
import os
import pty
import select
import signal
import socket
import subprocess
import time

from e2e_helpers import (BIN_DIR, CONMAN_CLIENT, DEBIAN_CONMAND, free_port, read_bytes, wait_for,
                         write_lines)

# A process console that echoes its input. Debian's conmand hands the child
# a non-blocking stdin (cat then dies with EAGAIN), so this script clears
# O_NONBLOCK first; it runs the same under both daemons.
ECHO_SCRIPT = """import fcntl, os
fcntl.fcntl(0, fcntl.F_SETFL, fcntl.fcntl(0, fcntl.F_GETFL) & ~os.O_NONBLOCK)
os.execv("/bin/cat", ["cat"])
"""


def echo_dev(tmp_path):
    """dev= value of a process console that echoes what it is sent."""
    path = os.path.join(str(tmp_path), "echo.py")
    with open(path, "w") as f:
        f.write(ECHO_SCRIPT)
    return f"/usr/bin/python3 {path}"


def daemon_path(kind):
    if kind == "ours":
        path = os.path.join(BIN_DIR, "conmand")
        assert os.access(path, os.X_OK), f"{path} is not built"
        return path
    return DEBIAN_CONMAND


class Daemon:
    """One conmand (ours or Debian's) on 127.0.0.1:port, config in tmp_path."""

    def __init__(self, kind, procs, tmp_path, consoles, server_extra="", global_extra=""):
        self.kind = kind
        self.procs = procs
        self.dir = str(tmp_path)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "conman.conf")
        self.pidfile = os.path.join(self.dir, "conmand.pid")
        self.out = os.path.join(self.dir, "conmand.out")
        lines = [f'server logdir="{self.dir}"', f'server pidfile="{self.pidfile}"',
                 "server loopback=on", "server keepalive=on"]
        lines += [l for l in server_extra.splitlines() if l.strip()]
        lines += [l for l in global_extra.splitlines() if l.strip()]
        lines += consoles
        write_lines(self.conf, lines)
        self.proc = None

    def start(self, wait=True, env=None):
        argv = [daemon_path(self.kind), "-F", "-v", "-c", self.conf, "-p", str(self.port)]
        self.proc = self.procs.start(argv, log_path=self.out, env=env)
        if wait:
            wait_for(self.ready, timeout=10, what=f"{self.kind} conmand to answer -q")
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"conmand exited with {self.proc.returncode}: {self.output()}")
        try:
            r = subprocess.run([CONMAN_CLIENT, "-d", f"127.0.0.1:{self.port}", "-q"],
                               capture_output=True, timeout=5)
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0

    def output(self):
        try:
            with open(self.out, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log(self, name):
        with open(os.path.join(self.dir, f"console.{name}"), "rb") as f:
            return f.read()

    def log_so_far(self, name):
        """console.NAME's bytes, b"" until the daemon has created it."""
        return read_bytes(os.path.join(self.dir, f"console.{name}"))

    def client(self, *args):
        return Client(self.port, *args)

    def run(self, *args, timeout=10):
        return subprocess.run([CONMAN_CLIENT, "-d", f"127.0.0.1:{self.port}", *args],
                              capture_output=True, timeout=timeout)


class Client:
    """The stock conman client on a pty; collects everything it prints."""

    def __init__(self, port, *args):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([CONMAN_CLIENT, "-d", f"127.0.0.1:{port}", *args],
                                     stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True)
        os.close(slave)
        self.buf = b""

    def pump(self, timeout=0.1):
        r, _, _ = select.select([self.master], [], [], timeout)
        if r:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                data = b""
            self.buf += data
            return len(data)
        return 0

    def expect(self, needle, timeout=10):
        if isinstance(needle, str):
            needle = needle.encode()
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out waiting for {needle!r}; got {self.buf!r}")
            self.pump(0.1)
        return self.buf

    def settle(self, seconds=0.5):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.pump(0.05)
        return self.buf

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        os.write(self.master, data)

    def wait(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.pump(0.05)
        self.settle(0.2)
        return self.proc.poll()

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)
        try:
            os.close(self.master)
        except OSError:
            pass


class RawClient:
    """One conman protocol connection on a plain socket, so the test controls
    every byte (the stock client would stuff 0xFF for us)."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self, timeout=10):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if time.monotonic() >= deadline:
                raise AssertionError(f"no reply line; got {self.buf[:200]!r}")
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"closed before a line; got {self.buf[:200]!r}")
            self.buf += chunk
        ln, _, self.buf = self.buf.partition(b"\n")
        return ln + b"\n"

    def expect(self, needle, timeout=10):
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out waiting for {needle!r}; got {self.buf[-300:]!r}")
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError(f"closed waiting for {needle!r}; got {self.buf[-300:]!r}")
            self.buf += chunk
        return self.buf

    def closed(self, timeout=10):
        """True once the daemon closed the connection (EOF or reset)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def close(self):
        self.sock.close()
