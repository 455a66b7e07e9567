"""Shared fixtures for the end-to-end tests: real binaries, loopback only,
free ports, temp dirs, and every started process stopped by PID at teardown."""
import os
import signal
import socket
import subprocess
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


def free_port(kind=socket.SOCK_STREAM):
    """A port on 127.0.0.1 that was free a moment ago (TCP by default)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def pytest_configure(config):
    # Measurements for the notes and bench/RESULTS.md, not checks: make test
    # leaves them out (-m "not measure"); run them with -m measure -s.
    config.addinivalue_line("markers", "measure: prints numbers side by side; not run by make test")


@pytest.fixture(scope="session", autouse=True)
def no_sanitizer_reports():
    """Under ASan/UBSan (make test sets SANITIZER_REPORT_DIR and points the
    sanitizers' log_path there), a report from any of our processes fails the
    run, even when the process that wrote it was only a background daemon."""
    report_dir = os.environ.get("SANITIZER_REPORT_DIR")
    if report_dir:
        os.makedirs(report_dir, exist_ok=True)
    yield
    if report_dir:
        # An empty file is no report: a process killed (SIGKILL at teardown)
        # after the runtime opened its log file but before it wrote a line.
        reports = sorted(r for r in os.listdir(report_dir)
                         if os.path.getsize(os.path.join(report_dir, r)) > 0)
        details = "".join(open(os.path.join(report_dir, r), errors="replace").read()[:3000]
                          for r in reports[:3])
        assert not reports, f"sanitizer reports in {report_dir}: {reports}\n{details}"


@pytest.fixture
def procs():
    group = Processes()
    yield group
    group.stop_all()
