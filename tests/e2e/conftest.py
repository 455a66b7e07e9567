"""Shared fixtures for the end-to-end tests: real binaries, loopback only,
free ports, temp dirs, and every started process stopped by PID at teardown.
The helpers themselves are in e2e_helpers.py."""
import os

import pytest

from e2e_helpers import Processes


def pytest_configure(config):
    # Measurements for the notes and bench/RESULTS.md, not checks: make test
    # leaves them out (-m "not measure"); run them with -m measure -s.
    config.addinivalue_line("markers", "measure: prints numbers side by side; not run by make test")
    config.addinivalue_line("markers", "slow: waits half a minute or more; started first")


def runs_only_debians_conmand(item):
    """A conmand test's Debian run: nothing of ours is under test but the
    simulators feeding it."""
    params = getattr(item, "callspec", None)
    return (os.path.basename(str(item.fspath)).startswith("test_conmand_") and params is not None
            and "debian" in params.params.values())


def pytest_collection_modifyitems(config, items):
    """The slow tests first: on the xdist workers they then run beside the
    rest instead of being the last ones left (the suite's tail). Under the
    sanitizers (SANITIZER_REPORT_DIR set by make test), a conmand test's
    Debian run is left out: the sanitizers watch our binaries, and Debian's
    conmand ran the same test in the normal pass just before."""
    if os.environ.get("SANITIZER_REPORT_DIR"):
        dropped = [i for i in items if runs_only_debians_conmand(i)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [i for i in items if not runs_only_debians_conmand(i)]
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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


@pytest.fixture(params=["ours", "debian"])
def kind(request):
    """Runs a test on our conmand and on Debian's, so a difference fails."""
    return request.param


@pytest.fixture
def procs():
    group = Processes()
    yield group
    group.stop_all()


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path):
    """Debian's chromium, headless, through chromedriver (selenium)."""
    for tool in (CHROMIUM, CHROMEDRIVER):
        assert os.access(tool, os.X_OK), f"{tool} missing: scripts/deps.sh installs it"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1200,800", f"--user-data-dir={tmp_path / 'chromium'}"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(tmp_path / "driver.log")),
                           options=opts)
    drv.set_page_load_timeout(20)
    yield drv
    drv.quit()
