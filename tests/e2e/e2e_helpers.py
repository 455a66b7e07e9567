"""What every end-to-end test file shares: the binaries under test, free
loopback ports, bounded waits, file and script helpers, the process table
(/proc) and stopping processes by PID. The pytest fixtures are in
conftest.py; the drivers of one program each in conmand_util.py,
configure_env.py, bmcsim.py and hsmsim.py."""
import collections
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

SOURCE_DIR = os.environ.get(
    "SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BIN_DIR = os.environ.get("BIN_DIR", os.path.join(SOURCE_DIR, "build", "bin"))
CONMAN_CLIENT = "/usr/bin/conman"
DEBIAN_CONMAND = "/usr/sbin/conmand"


def binary(name):
    """Path of one of our programs in the build under test."""
    path = os.path.join(BIN_DIR, name)
    assert os.access(path, os.X_OK), f"{path} is not built"
    return path


# Ports handed out by free_port: below the kernel's ephemeral range
# (32768 and up), which every outgoing connection draws its local port
# from, so a port chosen now and listened on later (an HSM that comes up
# late) cannot be taken meanwhile by some connection's local end; above the
# ranges free_port_range() draws from. Each pytest-xdist worker has a slice
# of its own, so two workers never hand out the same port.
FREE_PORT_LOW, FREE_PORT_HIGH = 30000, 32768
_next_port = {}


def _port_slice():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    size = (FREE_PORT_HIGH - FREE_PORT_LOW) // max(count, 1)
    low = FREE_PORT_LOW + (index % max(count, 1)) * size
    return low, low + size


def free_port(kind=socket.SOCK_STREAM):
    """A port on 127.0.0.1 that was free a moment ago (TCP by default),
    from this worker's slice, never the same twice in a row."""
    low, high = _port_slice()
    port = _next_port.get(kind, low + os.getpid() % (high - low))
    for _ in range(high - low):
        port = low if port + 1 >= high else port + 1
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))  # no SO_REUSEADDR: TIME_WAIT counts as taken
            except OSError:
                continue
        _next_port[kind] = port
        return port
    raise AssertionError(f"no free port in {low}..{high - 1}")


def have_ipv6_loopback():
    """This machine can bind ::1 (tests on IPv6 skip, saying so, if not)."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class LoopbackServer:
    """A test server on a thread: listens on `address` of `family` (TCP on
    127.0.0.1 or ::1, or a unix socket path) and runs serve(conn) for each
    connection on a thread of its own; close() stops every one. A TCP
    listener on ::1 takes IPv6 only, so the same port on 127.0.0.1 may be
    another server's. Subclasses write serve(); self.stop is set on close."""

    def __init__(self, family, address):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        elif family == socket.AF_INET6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.sock.bind(address)
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1] if family != socket.AF_UNIX else None
        self.conns = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(0.2)
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self.serve(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def serve(self, conn):
        raise NotImplementedError

    def close(self):
        self.stop.set()
        for c in self.conns:
            c.close()
        self.sock.close()
        self.thread.join(timeout=5)


def wait_for(predicate, timeout=10.0, interval=0.1, what="condition"):
    """Polls predicate() until it returns a true value; bounded in time.
    Returns that value, or fails the test naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def differs_from_debian(request, kind, reason):
    """Marks the Debian run of a test as an expected, strict failure: the
    behaviour is one where we deliberately do better than conman 0.2.7."""
    if kind == "debian":
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def conman(port, *args, timeout=10, input_bytes=None):
    """Runs Debian's stock conman client against 127.0.0.1:port."""
    return subprocess.run([CONMAN_CLIENT, "-d", f"127.0.0.1:{port}", *args],
                          input=input_bytes, capture_output=True, timeout=timeout)


def conman_names(port):
    """Console names listed by `conman -q`, or None when the query fails."""
    try:
        r = conman(port, "-q", timeout=5)
    except subprocess.TimeoutExpired:
        return None
    if r.returncode != 0:
        return None
    return r.stdout.decode().split()


# --- files ---------------------------------------------------------------

def read_bytes(path):
    """The file's bytes, or b"" while it does not exist (yet)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def read_text(path):
    """The file as text (undecodable bytes replaced), or "" while it does
    not exist (yet)."""
    return read_bytes(path).decode(errors="replace")


def write_lines(path, lines):
    """Writes `lines` one a line (a configuration file)."""
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_script(folder, name, text):
    """An executable script `name` in `folder` (a pathlib.Path); its path."""
    path = folder / name
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def keygen(path):
    """A new ed25519 key pair without passphrase at `path` (and .pub)."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True, timeout=30)
    return str(path)


# --- the process table ---------------------------------------------------

# One process as /proc shows it: state "Z" is a zombie; cmdline is the raw
# NUL-separated command line (b"" for a kernel thread or a zombie).
Proc = collections.namedtuple("Proc", "pid ppid sid state comm cmdline")


def process(pid):
    """The Proc of `pid`, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except (OSError, ValueError):
        return None
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    return Proc(int(pid), int(fields[1]), int(fields[3]), fields[0], comm, cmdline)


def processes():
    """The Proc of every process now."""
    found = (process(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return [p for p in found if p is not None]


def argv_of(proc):
    """The command line of a Proc as a list of bytes arguments."""
    return proc.cmdline.split(b"\0")[:-1]


def alive(pid):
    """The process exists and has not exited (a zombie is not alive)."""
    p = process(pid)
    return p is not None and p.state != "Z"


def cpu_seconds(pid):
    """User plus system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fd_count(pid):
    """How many descriptors the process has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def stop_marked(marker, pids=(), grace=5.0):
    """Stops by PID what a test left running outside `procs` (a detached
    daemon, children in sessions of their own): the processes among `pids`,
    and any other, whose command line mentions `marker`. SIGTERM, up to
    `grace` seconds, then SIGKILL. A PID that now names a process without
    the marker (reused) is left alone."""
    def marked():
        return {p.pid for p in processes() if p.state != "Z" and marker.encode() in p.cmdline}
    targets = set(pids) | marked()
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        for pid in targets & marked():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while targets & marked() and time.monotonic() < deadline:
            time.sleep(0.05)


def finalize_daemons(request, marker, pidfiles=(), grace=5.0):
    """Registers a finalizer that stops by PID, whatever point the test
    reached, the processes the `pidfiles` name (read then) and any process
    whose command line mentions `marker` (a daemon's configuration file, a
    console's script), as stop_marked does."""
    def stop():
        pids = []
        for pidfile in pidfiles:
            try:
                pids.append(int(open(pidfile).read().strip()))
            except (OSError, ValueError):
                pass
        stop_marked(marker, pids, grace)
    request.addfinalizer(stop)


class Processes:
    """Starts processes in their own session and stops every one by PID."""

    def __init__(self):
        self.started = []

    def start(self, argv, log_path=None, env=None, **kw):
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
                             env=env, start_new_session=True, **kw)
        if log_path:
            out.close()
        self.started.append(p)
        return p

    @staticmethod
    def stop(p, grace=5.0):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # The whole session goes, so nothing a test started outlives it
        # (e.g. conmand's process-console children).
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p.poll() is None:
            p.wait(timeout=5)

    def stop_all(self):
        for p in reversed(self.started):
            self.stop(p)


def run_bench(procs, script, args, log_path, timeout):
    """Runs bench/<script> with `args` to its end; fails the test when it
    outlives `timeout` seconds (it is asked to stop: benchmarks stop their
    own processes) or exits non-zero. Returns what it printed."""
    argv = ["/usr/bin/python3", os.path.join(SOURCE_DIR, "bench", script), *args]
    p = procs.start(argv, log_path=str(log_path))
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        pytest.fail(f"bench/{script} did not finish in {timeout} s; log: {log_path}")
    log = open(log_path, errors="replace").read()
    assert p.returncode == 0, f"bench/{script} exited with {p.returncode}:\n{log[-3000:]}"
    return log
